// engine/weights/gguf_tokenizer_parts.cpp — GgufTokenizer → TokenizerParts, the tokenizer
// engineer's type (engine/tokenizer/tokenizer.h). Kept apart so the GGUF reader builds before
// that header exists; once it has landed everywhere the __has_include guard can go.
#include "gguf.h"

#include "../error.h"

#if __has_include("engine/tokenizer/tokenizer.h")
#include "engine/tokenizer/tokenizer.h"
#define MLASCOPE_HAVE_TOKENIZER_PARTS 1
#endif

namespace mlascope {

void fill_tokenizer_parts(const GgufTokenizer& from, TokenizerParts* to) {
  if (!to) return;
#ifdef MLASCOPE_HAVE_TOKENIZER_PARTS
  to->tokens = from.tokens;
  // GGUF stores merges as "left right"; TokenizerParts holds the pair (a token never contains a
  // space in the byte-level alphabet, so the one space is the separator).
  to->merges.clear();
  to->merges.reserve(from.merges.size());
  for (size_t i = 0; i < from.merges.size(); ++i) {
    const std::string& m = from.merges[i];
    const size_t sp = m.find(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 == m.size() || m.find(' ', sp + 1) != std::string::npos)
      fail("gguf", "", "tokenizer.ggml.merges[" + std::to_string(i) + "]: '" + m + "' is not two tokens separated by one space");
    to->merges.emplace_back(m.substr(0, sp), m.substr(sp + 1));
  }
  to->token_types = from.token_types;
  to->pre = from.pre;
  to->bos_id = from.bos_id;
  to->eos_id = from.eos_id;
  to->add_bos = from.add_bos;
  to->chat_template = from.chat_template;
#else
  (void)from;
  fail("gguf", "", "this build has no tokenizer (engine/tokenizer/tokenizer.h is missing)");
#endif
}

}  // namespace mlascope
