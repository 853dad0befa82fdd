// tests/engine/test_regex_budget.cpp — a tokenizer.json's regexes run under a step budget linear in
// the length of each piece: a catastrophically backtracking pattern (issue 16: 5-22 ms per input
// character, over 20 s for 4,000) ends in a clear Error naming the step, while the real DeepSeek-V3
// patterns keep encoding long and adversarial-looking text exactly (lossless round trip).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/tokenizer/tokenizer.h"
#include "support/data_paths.h"

using namespace mlascope;
using nlohmann::json;

namespace {

json demo_tokenizer() {
  std::ifstream f(test::asset_path("models/mla-moe-demo/tokenizer.json"));
  return json::parse(f);
}

Tokenizer with_first_split(const std::string& regex) {
  json j = demo_tokenizer();
  j["pre_tokenizer"]["pretokenizers"][0] = {
      {"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"}, {"invert", false}};
  return Tokenizer::from_json_text(j.dump(), {}, "evil/tokenizer.json");
}

}  // namespace

TEST(RegexBudget, CatastrophicBacktrackingIsStoppedWithAClearError) {
  const Tokenizer tok = with_first_split("(?:(?:a|a){1,20}b)?.");
  try {
    tok.encode(std::string(4000, 'a'));
    FAIL() << "encoded without hitting the budget";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("[tokenizer] pre-tokenizer Split /(?:(?:a|a){1,20}b)?./ Isolated"), std::string::npos) << m;
    EXPECT_NE(m.find("backtracks catastrophically"), std::string::npos) << m;
    EXPECT_NE(m.find("a piece of 4000 bytes"), std::string::npos) << m;
  }
  // The same pattern on text it handles in a few steps per character still works.
  EXPECT_EQ(tok.decode(tok.encode("ab ab xyz")), "ab ab xyz");
}

TEST(RegexBudget, NestedQuantifiersOnLongRunsAreStopped) {
  const Tokenizer tok = with_first_split("(a+)+$");
  EXPECT_THROW(tok.encode(std::string(5000, 'a') + "!"), Error);
}

TEST(RegexBudget, RealDeepSeekV3PatternsStayWithinBudgetOnLongText) {
  const Tokenizer tok = Tokenizer::from_dir(test::data_path("tokenizers/deepseek-v3"));
  // Long runs are the pieces where backtracking is longest (\s*[\r\n]+ scans a whole space run).
  const std::vector<std::string> texts = {
      std::string(1 << 18, ' '),
      std::string(100000, ' ') + "x" + std::string(100000, '\n'),
      std::string(100000, 'a'),
      std::string(100000, '!') + "word",
      [] {
        std::string s;
        for (int i = 0; i < 10000; ++i) s += " \t\r\n9a!\xe4\xb8\xad";
        return s;
      }(),
  };
  for (const std::string& t : texts) {
    std::vector<int32_t> ids;
    ASSERT_NO_THROW(ids = tok.encode(t)) << t.size();
    EXPECT_EQ(tok.decode(ids), t);
  }
}
