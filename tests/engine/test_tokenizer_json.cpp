// tests/engine/test_tokenizer_json.cpp — tokenizer.json features on small hand-made files: split
// behaviors (expected pieces from the HF documentation's "the-final--countdown" example), BPE merge
// order worked out by hand, and every refusal/error naming the file and the entry.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/tokenizer/tokenizer.h"
#include "support/data_paths.h"

using namespace mlascope;
using nlohmann::json;
using Pieces = std::vector<std::string>;

namespace {

// Vocab: every byte's GPT-2 stand-in for the bytes used here, plus `extra` tokens.
json make_tokenizer(const json& pre_tokenizer, const json& merges = json::array(), const json& extra = json::array()) {
  json vocab = json::object();
  int id = 0;
  for (const char* s : {"a", "b", "c", "d", "e", "f", "h", "i", "l", "n", "o", "r", "t", "u", "w", "-", "1", "2",
                        "3", "Ġ"})
    vocab[s] = id++;
  for (const auto& e : extra) vocab[e.get<std::string>()] = id++;
  return json{{"version", "1.0"},
              {"added_tokens", json::array()},
              {"normalizer", nullptr},
              {"pre_tokenizer", pre_tokenizer},
              {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
              {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
}

json seq(json split) {
  return json{{"type", "Sequence"},
              {"pretokenizers",
               json::array({split, {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}};
}

json split(const std::string& behavior, bool invert = false, const std::string& pattern = "-") {
  return json{{"type", "Split"}, {"pattern", {{"String", pattern}}}, {"behavior", behavior}, {"invert", invert}};
}

Tokenizer load(const json& j) { return Tokenizer::from_json_text(j.dump(), {}, "t.json"); }

std::string error_of(const std::string& tokenizer_json, const std::string& config = {}) {
  try {
    Tokenizer::from_json_text(tokenizer_json, config, "bad/tokenizer.json", "bad/tokenizer_config.json");
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.find('\n'), std::string::npos) << "one line: " << m;
    return m;
  }
  return "(no error)";
}

}  // namespace

TEST(TokenizerSplit, BehaviorsMatchTheDocumentedExample) {
  const std::string text = "the-final--countdown";
  EXPECT_EQ(load(make_tokenizer(seq(split("Removed")))).pre_tokenize(text), (Pieces{"the", "final", "countdown"}));
  EXPECT_EQ(load(make_tokenizer(seq(split("Isolated")))).pre_tokenize(text),
            (Pieces{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(load(make_tokenizer(seq(split("MergedWithPrevious")))).pre_tokenize(text),
            (Pieces{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(load(make_tokenizer(seq(split("MergedWithNext")))).pre_tokenize(text),
            (Pieces{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(load(make_tokenizer(seq(split("Contiguous")))).pre_tokenize(text),
            (Pieces{"the", "-", "final", "--", "countdown"}));
  // invert: what the pattern matches is kept as content and the rest is the delimiter, so a
  // pattern for the words, inverted, behaves like the pattern "-".
  json words = {{"type", "Split"}, {"pattern", {{"Regex", "[a-z]+"}}}, {"behavior", "Removed"}, {"invert", true}};
  EXPECT_EQ(load(make_tokenizer(seq(words))).pre_tokenize(text), (Pieces{"the", "final", "countdown"}));
  // ...except that "--" is one gap between two words, not two matches.
  words["behavior"] = "MergedWithPrevious";
  EXPECT_EQ(load(make_tokenizer(seq(words))).pre_tokenize(text), (Pieces{"the-", "final--", "countdown"}));
}

TEST(TokenizerSplit, RegexSeesOnlyItsPiece) {
  // After digits are isolated, `\s+(?!\S)` in the next step must treat the end of each piece as
  // the end of the text: "a  1" -> "a", "  " stays one piece (no following non-space inside it).
  json pre = {{"type", "Sequence"},
              {"pretokenizers",
               json::array({{{"type", "Digits"}, {"individual_digits", true}},
                            {{"type", "Split"}, {"pattern", {{"Regex", "\\s+(?!\\S)|\\s+|\\S+"}}}, {"behavior", "Isolated"}},
                            {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}};
  EXPECT_EQ(load(make_tokenizer(pre)).pre_tokenize("a  12"), (Pieces{"a", "  ", "1", "2"}));
  // Without the digit split, the lookahead sees the "b" and leaves the last space on its own.
  EXPECT_EQ(load(make_tokenizer(pre)).pre_tokenize("a  b"), (Pieces{"a", " ", " ", "b"}));
}

TEST(TokenizerSplit, ByteLevelRegexAndPrefixSpace) {
  json pre = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", true}};
  // GPT-2 pattern: contractions, words with their leading space, digit runs.
  EXPECT_EQ(load(make_tokenizer(pre)).pre_tokenize("Hello world's 123"),
            (Pieces{" Hello", " world", "'s", " 123"}));
}

TEST(TokenizerBpe, LowestRankFirstThenLeftmost) {
  json pre = seq(split("Isolated", false, " "));
  // "a a" only: "aaa" -> leftmost pair merges first -> [aa, a].
  Tokenizer t1 = load(make_tokenizer(pre, json::array({"a a"}), json::array({"aa"})));
  EXPECT_EQ(t1.encode("aaa"), (std::vector<int32_t>{*t1.token_id("aa"), *t1.token_id("a")}));
  // "b c" outranks "a b": "abc" -> [a, bc]; with the order swapped -> [ab, c].
  Tokenizer t2 = load(make_tokenizer(pre, json::array({"b c", "a b"}), json::array({"ab", "bc"})));
  EXPECT_EQ(t2.encode("abc"), (std::vector<int32_t>{*t2.token_id("a"), *t2.token_id("bc")}));
  Tokenizer t3 = load(make_tokenizer(pre, json::array({json::array({"a", "b"}), json::array({"b", "c"})}),
                                     json::array({"ab", "bc"})));
  EXPECT_EQ(t3.encode("abc"), (std::vector<int32_t>{*t3.token_id("ab"), *t3.token_id("c")}));
  // Chained merges: a b -> ab, ab c -> abc.
  Tokenizer t4 = load(make_tokenizer(pre, json::array({"a b", "ab c"}), json::array({"ab", "abc"})));
  EXPECT_EQ(t4.encode("abcab"), (std::vector<int32_t>{*t4.token_id("abc"), *t4.token_id("ab")}));
  // A space is the byte stand-in Ġ.
  EXPECT_EQ(t4.encode("a b"), (std::vector<int32_t>{*t4.token_id("a"), *t4.token_id("Ġ"), *t4.token_id("b")}));
}

TEST(TokenizerErrors, MalformedJson) {
  const std::string m = error_of("{\"model\": {\"vocab\": {\"a\": 0,}}");
  EXPECT_NE(m.find("bad/tokenizer.json"), std::string::npos) << m;
  EXPECT_NE(m.find("malformed JSON"), std::string::npos) << m;
}

TEST(TokenizerErrors, MergeNamesUnknownToken) {
  json j = make_tokenizer(seq(split("Isolated")), json::array({"a b", "a zz"}), json::array({"ab"}));
  const std::string m = error_of(j.dump());
  EXPECT_NE(m.find("bad/tokenizer.json"), std::string::npos) << m;
  EXPECT_NE(m.find("model.merges[1]"), std::string::npos) << m;
  EXPECT_NE(m.find("'zz' is not in the vocab"), std::string::npos) << m;
}

TEST(TokenizerErrors, MergeResultMissingFromVocab) {
  json j = make_tokenizer(seq(split("Isolated")), json::array({"a b"}));
  const std::string m = error_of(j.dump());
  EXPECT_NE(m.find("model.merges[0]"), std::string::npos) << m;
  EXPECT_NE(m.find("'ab', which is not in the vocab"), std::string::npos) << m;
}

TEST(TokenizerErrors, MalformedMergeEntry) {
  EXPECT_NE(error_of(make_tokenizer(seq(split("Isolated")), json::array({"abc"})).dump()).find("model.merges[0]"),
            std::string::npos);
  EXPECT_NE(error_of(make_tokenizer(seq(split("Isolated")), json::array({json::array({"a"})})).dump())
                .find("model.merges[0]"),
            std::string::npos);
}

TEST(TokenizerErrors, DuplicateIds) {
  json j = make_tokenizer(seq(split("Isolated")));
  j["model"]["vocab"]["zz"] = 1;  // id 1 is "b"
  const std::string m = error_of(j.dump());
  EXPECT_NE(m.find("id 1 is given to both"), std::string::npos) << m;

  json k = make_tokenizer(seq(split("Isolated")));
  k["added_tokens"] = json::array({{{"id", 0}, {"content", "<s>"}, {"special", true}}});  // 0 is "a"
  const std::string m2 = error_of(k.dump());
  EXPECT_NE(m2.find("added_tokens[0]"), std::string::npos) << m2;
}

TEST(TokenizerErrors, VocabIdNotAnInteger) {
  json j = make_tokenizer(seq(split("Isolated")));
  j["model"]["vocab"]["zz"] = "7";
  EXPECT_NE(error_of(j.dump()).find("model.vocab['zz']"), std::string::npos);
  j["model"]["vocab"]["zz"] = -3;
  EXPECT_NE(error_of(j.dump()).find("out of range"), std::string::npos);
}

TEST(TokenizerErrors, UnsupportedPartsAreRefusedByName) {
  json j = make_tokenizer(seq(split("Isolated")));
  j["normalizer"] = {{"type", "Sequence"}, {"normalizers", json::array({{{"type", "NFKC"}}, {{"type", "NFD"}}})}};
  const std::string nm = error_of(j.dump());
  EXPECT_NE(nm.find("normalizer.normalizers[1]: normalizer 'NFD' is not supported"), std::string::npos) << nm;

  json p = make_tokenizer({{"type", "Metaspace"}, {"replacement", "▁"}});
  EXPECT_NE(error_of(p.dump()).find("pre-tokenizer type 'Metaspace' is not supported"), std::string::npos);

  json m = make_tokenizer(seq(split("Isolated")));
  m["model"]["type"] = "WordPiece";
  EXPECT_NE(error_of(m.dump()).find("model type 'WordPiece'"), std::string::npos);

  json d = make_tokenizer(seq(split("Isolated")));
  d["decoder"] = {{"type", "Metaspace"}};
  EXPECT_NE(error_of(d.dump()).find("decoder 'Metaspace'"), std::string::npos);

  json b = make_tokenizer(seq(split("Sideways")));
  EXPECT_NE(error_of(b.dump()).find("'Sideways' is not a split behavior"), std::string::npos);

  json r = make_tokenizer(seq(json{{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}}));
  const std::string rm = error_of(r.dump());
  EXPECT_NE(rm.find("pre_tokenizer.pretokenizers[0].pattern"), std::string::npos) << rm;
  EXPECT_NE(rm.find("regex does not compile"), std::string::npos) << rm;

  json s = make_tokenizer(seq(split("Isolated")));
  s["added_tokens"] = json::array({{{"id", 40}, {"content", "<x>"}, {"single_word", true}}});
  EXPECT_NE(error_of(s.dump()).find("single_word"), std::string::npos);
}

TEST(TokenizerErrors, ConfigTokenNotInVocab) {
  json j = make_tokenizer(seq(split("Isolated")));
  const std::string m = error_of(j.dump(), R"({"bos_token": "<s>", "add_bos_token": true})");
  EXPECT_NE(m.find("bad/tokenizer_config.json"), std::string::npos) << m;
  EXPECT_NE(m.find("bos_token"), std::string::npos) << m;
  const std::string m2 = error_of(j.dump(), "{nope");
  EXPECT_NE(m2.find("bad/tokenizer_config.json: malformed JSON"), std::string::npos) << m2;
}

TEST(TokenizerErrors, MissingFolder) {
  try {
    Tokenizer::from_dir(mlascope::test::temp_dir("tok-empty"));
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no tokenizer.json"), std::string::npos) << e.what();
  }
}

TEST(TokenizerConfig, BosEosAndTemplateFromConfig) {
  json j = make_tokenizer(seq(split("Isolated")));
  j["added_tokens"] = json::array({{{"id", 50}, {"content", "<s>"}, {"special", true}},
                                   {{"id", 51}, {"content", "</s>"}, {"special", true}}});
  Tokenizer t = Tokenizer::from_json_text(
      j.dump(), R"({"bos_token": {"content": "<s>"}, "eos_token": "</s>", "add_bos_token": false, "chat_template": "{{ x }}"})");
  EXPECT_EQ(t.bos_id(), 50);
  EXPECT_EQ(t.eos_id(), 51);
  EXPECT_FALSE(t.add_bos());
  EXPECT_EQ(t.chat_template(), ChatTemplateKind::Plain);
  EXPECT_FALSE(t.chat_template_recognized());
  EXPECT_EQ(t.vocab_size(), 52);
  EXPECT_EQ(t.encode("ab</s>", true), (std::vector<int32_t>{0, 1, 51}));
}
