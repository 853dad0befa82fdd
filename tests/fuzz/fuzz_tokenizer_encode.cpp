// tests/fuzz/fuzz_tokenizer_encode.cpp — encoding arbitrary bytes with the real DeepSeek-V3
// tokenizer (tests/data/tokenizers/deepseek-v3, loaded once). Its normalizer is empty, so the
// documented promise decode(encode(x)) == x must hold for any bytes, with and without special
// tokens parsed; streaming decode must give valid UTF-8; every id must display.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/error.h"
#include "engine/tokenizer/tokenizer.h"
#include "fuzz_util.h"

using namespace mlascope;

namespace {
const Tokenizer& tok() {
  static const Tokenizer t = Tokenizer::from_dir(std::string(MLASCOPE_TEST_DATA) + "/tokenizers/deepseek-v3");
  return t;
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = detail::utf8_char_len(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

[[noreturn]] void finding(const char* what, std::string_view in) {
  std::fprintf(stderr, "fuzz: %s (input of %zu bytes)\n", what, in.size());
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const Tokenizer& t = tok();
  for (bool special : {false, true}) {
    const std::vector<int32_t> ids = t.encode(in, special);
    if (t.decode(ids) != in) finding(special ? "decode(encode(x, special)) != x" : "decode(encode(x)) != x", in);
    StreamDecoder sd(t);
    std::string streamed;
    for (int32_t id : ids) {
      streamed += sd.push(id);
      (void)t.token_display(id);
    }
    streamed += sd.flush();
    if (!valid_utf8(streamed)) finding("StreamDecoder returned bytes that are not UTF-8", in);
    if (valid_utf8(in) && streamed != in) finding("StreamDecoder changed valid UTF-8 text", in);
    size_t total = 0;
    for (const std::string& p : t.pre_tokenize(in, special)) total += p.size();
    (void)total;
  }
  return 0;
}
