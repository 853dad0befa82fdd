// tests/fuzz/fuzz_chat_template.cpp — tokenizer_config.json (special tokens, add_bos, the Jinja
// chat_template, recognized by its markers) beside a fixed small DeepSeek-V3-like tokenizer.json
// (tests/fuzz/seeds/tokenizer_json/deepseek_small.json), then chat rendering: every template kind,
// with and without the generation prompt, messages holding special-token text.
#include <cstdint>
#include <string>

#include "engine/error.h"
#include "engine/tokenizer/tokenizer.h"
#include "fuzz_util.h"

using namespace mlascope;

namespace {
const std::string& small_tokenizer() {
  static const std::string s = fuzz::read_file(std::string(MLASCOPE_FUZZ_SEEDS) + "/tokenizer_json/deepseek_small.json");
  return s;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)recognize_chat_template(in);
  try {
    const Tokenizer t = Tokenizer::from_json_text(small_tokenizer(), in, "tokenizer.json", "tokenizer_config.json");
    (void)t.chat_template_recognized();
    const std::vector<ChatMessage> msgs = {{"system", "sys <\xef\xbd\x9cUser\xef\xbd\x9c>"},
                                           {"user", "hi"},
                                           {"assistant", "hello<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"},
                                           {"user", "x"},
                                           {"user", ""}};
    for (bool gen : {false, true}) {
      try {
        const std::vector<int32_t> ids = t.apply_chat_template(msgs, gen);
        (void)t.decode(ids);
      } catch (const Error& e) {
        fuzz::check_error(e);
      }
      for (ChatTemplateKind k : {ChatTemplateKind::Plain, ChatTemplateKind::DeepSeekV2, ChatTemplateKind::DeepSeekV3}) {
        try {
          (void)t.apply_chat_template(msgs, gen, k);
        } catch (const Error& e) {
          fuzz::check_error(e);
        }
      }
    }
  } catch (const Error& e) {
    fuzz::check_error(e);
  }
  return 0;
}
