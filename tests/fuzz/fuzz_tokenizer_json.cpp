// tests/fuzz/fuzz_tokenizer_json.cpp — tokenizer.json (and optionally tokenizer_config.json) as
// loaded from a model folder, then used: encode with and without special tokens, decode, display,
// the chat template. Input: tokenizer.json, optionally followed by "\n@@config@@\n" and
// tokenizer_config.json. Seeds: tests/fuzz/seeds/tokenizer_json (a small DeepSeek-V3-like file).
#include <cstdint>
#include <string>

#include "engine/error.h"
#include "engine/tokenizer/tokenizer.h"
#include "fuzz_util.h"

using namespace mlascope;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto [tok_json, config_json] = fuzz::split_at(in, "\n@@config@@\n");
  try {
    const Tokenizer t = Tokenizer::from_json_text(tok_json, config_json, "tokenizer.json", "tokenizer_config.json");
    for (bool special : {false, true}) {
      const std::string text = "Hello, world! 1234 \xe4\xbd\xa0\xe5\xa5\xbd <\xef\xbd\x9cUser\xef\xbd\x9c> \xff\xfe\n\tend";
      const std::vector<int32_t> ids = t.encode(text, special);
      (void)t.decode(ids);
      for (int32_t id : ids) (void)t.token_display(id);
    }
    (void)t.token_display(-1);
    (void)t.token_display(t.vocab_size());
    const std::vector<ChatMessage> msgs = {{"system", "be brief"}, {"user", "hi"}, {"assistant", "hello"}, {"user", "2+2?"}};
    for (ChatTemplateKind k : {ChatTemplateKind::Plain, ChatTemplateKind::DeepSeekV2, ChatTemplateKind::DeepSeekV3}) {
      try {
        (void)t.apply_chat_template(msgs, true, k);
      } catch (const Error& e) {
        fuzz::check_error(e);  // a template marker missing from this vocab
      }
    }
  } catch (const Error& e) {
    fuzz::check_error(e);
  }
  return 0;
}
