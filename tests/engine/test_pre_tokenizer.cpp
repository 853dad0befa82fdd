// tests/engine/test_pre_tokenizer.cpp — the pre-tokenizers named by GGUF's tokenizer.ggml.pre.
// "deepseek-llm" (every DeepSeek-V2 / V2-Lite GGUF) did not compile once: six range ends of its
// letter class had been replaced by their Unicode-normalized forms in the source, putting ranges
// out of order. Expected pieces are worked out by hand from llama.cpp's six regexes, applied one
// after another, each splitting the previous pieces with its matches isolated.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/error.h"
#include "engine/tokenizer/pre_tokenizer.h"

using namespace mlascope;

namespace {
std::vector<std::string> pieces(const tok::PreTokenizer& p, const std::string& text) {
  tok::PreTokenizer::Scratch s;
  std::vector<std::string> out;
  p.run(text, s, [&](std::string_view piece) { out.emplace_back(piece); });
  return out;
}
}  // namespace

TEST(PreTokenizer, DeepSeekLlmCompilesAndSplitsAsLlamaCpp) {
  const tok::PreTokenizer p = tok::PreTokenizer::from_gguf_name("deepseek-llm", "test.gguf");
  // Letters keep the space before them (second rule), digits split off by the last rule (\p{N}+),
  // punctuation by the third. U+1F7D (omega with oxia) and U+2126 (ohm sign), two of the range ends
  // that normalization changes, are letters of the class but also inside the fifth rule's range
  // U+0800..U+4E00, which isolates them from their space; U+03AC (alpha with tonos) is not.
  const std::string omega = "\xE1\xBD\xBD", ohm = "\xE2\x84\xA6", alpha = "\xCE\xAC";
  const std::vector<std::string> want = {"Hello", " world", "\n", omega, " ", omega, " ", ohm, " " + alpha, " ", "123", " ab", "!"};
  EXPECT_EQ(pieces(p, "Hello world\n" + omega + " " + omega + " " + ohm + " " + alpha + " 123 ab!"), want);
  // CJK runs are their own pieces (the fifth rule).
  const std::vector<std::string> cjk = {"\xE4\xBD\xA0\xE5\xA5\xBD", " x"};  // 你好
  EXPECT_EQ(pieces(p, "\xE4\xBD\xA0\xE5\xA5\xBD x"), cjk);
}

TEST(PreTokenizer, EveryNamedPreTokenizerCompilesAndAnUnknownOneNamesItself) {
  for (const char* name : {"deepseek-v3", "deepseek-llm", "gpt2"}) EXPECT_NO_THROW(tok::PreTokenizer::from_gguf_name(name, "m.gguf")) << name;
  try {
    tok::PreTokenizer::from_gguf_name("qwen2", "m.gguf");
    FAIL() << "qwen2 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("m.gguf"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'qwen2'"), std::string::npos) << e.what();
  }
}
