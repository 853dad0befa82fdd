// tests/engine/test_untrusted_json.cpp — JSON files are untrusted input: nesting is bounded before
// parsing, every nlohmann exception becomes the one-line Error naming the file (never "internal
// error"), and the line quoting a file's token stays short and printable. Each case reproduces a
// finding of issue 16 (a stack overflow or an escaped nlohmann exception before the fix).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/json_limits.h"
#include "engine/tokenizer/tokenizer.h"
#include "support/data_paths.h"

using namespace mlascope;

namespace {

std::string read_all(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::string demo_tokenizer() { return read_all(test::asset_path("models/mla-moe-demo/tokenizer.json")); }

std::string nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// The message of the Error `f` throws; fails the test for any other exception or none.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    EXPECT_LE(m.size(), kMaxErrorChars + 40) << m.substr(0, 200);
    return m;
  }
  ADD_FAILURE() << "no mlascope::Error thrown";
  return {};
}

}  // namespace

TEST(JsonDepth, CountsOnlyBracketsOutsideStrings) {
  EXPECT_EQ(json_depth_exceeded_at(nested(128)), std::string_view::npos);
  EXPECT_EQ(json_depth_exceeded_at(nested(129)), 128u);
  EXPECT_EQ(json_depth_exceeded_at(R"({"a": "[[[[[[[[", "b": [{"c": "]\"[[["}]})", 3), std::string_view::npos);
  EXPECT_EQ(json_depth_exceeded_at(R"({"a": [[["x"]]]})", 3), 8u);
}

TEST(UntrustedJson, DeeplyNestedConfigIsRefusedBeforeParsing) {
  const std::string m = error_of([&] {
    ModelConfig::from_json_text(R"({"model_type": "deepseek_v3", "x": )" + nested(200000) + "}", "deep/config.json");
  });
  EXPECT_NE(m.find("[config] deep/config.json: JSON nested deeper than 128 levels"), std::string::npos) << m;
}

TEST(UntrustedJson, TokenizerNormalizerNested200000DeepIsAnError) {
  // Before: SIGSEGV (the normalizer Sequence recursion and the value's recursive copy).
  std::string j = demo_tokenizer();
  const std::string key = "\"normalizer\":";
  const size_t at = j.find(key);
  ASSERT_NE(at, std::string::npos);
  std::string deep;
  for (int i = 0; i < 200000; ++i) deep += R"({"type":"Sequence","normalizers":[)";
  deep += R"({"type":"NFC"})";
  for (int i = 0; i < 200000; ++i) deep += "]}";
  j.insert(at + key.size(), deep + ", \"unused\":");
  const std::string m = error_of([&] { Tokenizer::from_json_text(j, {}, "deep/tokenizer.json"); });
  EXPECT_NE(m.find("[tokenizer] deep/tokenizer.json: JSON nested deeper than 128 levels"), std::string::npos) << m;
}

TEST(UntrustedJson, NumberOverflowInTokenizerConfigNamesTheFile) {
  // Before: nlohmann out_of_range.406 escaped as "internal error".
  const std::string m = error_of([&] {
    Tokenizer::from_json_text(demo_tokenizer(), R"({"add_bos_token": 1e999})", "t/tokenizer.json", "t/tokenizer_config.json");
  });
  EXPECT_NE(m.find("[tokenizer] t/tokenizer_config.json: malformed JSON"), std::string::npos) << m;
  EXPECT_NE(m.find("1e999"), std::string::npos) << m;
}

TEST(UntrustedJson, ChatTemplateEntryNameOfTheWrongTypeIsNamed) {
  // Before: nlohmann type_error.302 escaped as "internal error".
  for (const char* name : {"[]", "null", "3"}) {
    const std::string cfg = std::string(R"({"chat_template": [{"name": "tool_use", "template": "x"}, {"name": )") + name +
                            R"(, "template": "y"}]})";
    const std::string m = error_of([&] { Tokenizer::from_json_text(demo_tokenizer(), cfg, "t/tokenizer.json", "t/tokenizer_config.json"); });
    EXPECT_EQ(m, "[tokenizer] t/tokenizer_config.json: chat_template[1].name: expected a string") << name;
  }
  // Well-formed lists (a name may be absent) keep loading.
  EXPECT_NO_THROW(Tokenizer::from_json_text(
      demo_tokenizer(), R"({"chat_template": [{"template": "x"}, {"name": "default", "template": "y"}]})"));
}

TEST(UntrustedJson, AHundredKilobyteKeyGivesAShortPrintableLine) {
  // Before: the parse error quoted the whole token, a 100,301-character line with raw control bytes.
  std::string j = demo_tokenizer();
  j.replace(j.find("\"normalizer\""), 12, "\"normalizer" + std::string(100000, 'k') + "\n\x1b[31m");
  const std::string m = error_of([&] { Tokenizer::from_json_text(j, {}, "big/tokenizer.json"); });
  EXPECT_NE(m.find("[tokenizer] big/tokenizer.json: malformed JSON"), std::string::npos) << m.substr(0, 200);
  EXPECT_NE(m.find("more bytes)"), std::string::npos);
  EXPECT_EQ(m.find('\x1b'), std::string::npos);
}
