// tests/engine/test_tokenizer_normalizer.cpp — NFC / NFKC normalizers. Expected strings are worked
// out by hand from the Unicode Character Database (UnicodeData.txt decomposition fields):
//   U+0065 U+0301 (e + combining acute)  --NFC-->  U+00E9 "é"        (canonical composition)
//   U+212B ANGSTROM SIGN                 --NFC-->  U+00C5 "Å"        (canonical singleton)
//   U+1100 U+1161 (Hangul jamo L+V)      --NFC-->  U+AC00 "가"        (Hangul composition)
//   U+FB01 LATIN SMALL LIGATURE FI       --NFKC--> "fi"               (<compat>, NFC leaves it)
//   U+FF21 FULLWIDTH LATIN CAPITAL A     --NFKC--> "A"                (<wide>)
//   U+2460 CIRCLED DIGIT ONE             --NFKC--> "1"                (<circle>)
//   U+1E9B U+0323 (long s with dot above, dot below) --NFKC--> U+1E69 "ṩ" (UAX #15's example)
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/tokenizer/normalizer.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode_util.h"

using namespace mlascope;
using nlohmann::json;
using Ids = std::vector<int32_t>;

namespace {

std::string norm(const json& spec, std::string_view text) {
  tok::Normalizer n = tok::Normalizer::from_json(spec, "t.json");
  std::string buf;
  return std::string(n.apply(text, buf));
}

const json kNfc = {{"type", "NFC"}};
const json kNfkc = {{"type", "NFKC"}};

// Byte-level BPE whose vocab is the 256 byte stand-ins plus "fi" (merge "f i"); the pre-tokenizer
// keeps each run whole, so the ids show exactly which bytes the normalizer produced.
json make_tokenizer(const json& normalizer) {
  json vocab = json::object();
  const tok::ByteLevelAlphabet& alpha = tok::byte_level_alphabet();
  for (int b = 0; b < 256; ++b) vocab[alpha.encode(std::string(1, static_cast<char>(b)))] = b;
  vocab["fi"] = 256;
  return json{{"version", "1.0"},
              {"added_tokens", json::array()},
              {"normalizer", normalizer},
              {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}},
              {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}},
              {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array({"f i"})}}}};
}

Tokenizer load(const json& normalizer) { return Tokenizer::from_json_text(make_tokenizer(normalizer).dump(), {}, "t.json"); }

Ids bytes(std::string_view s) {
  Ids out;
  for (char c : s) out.push_back(static_cast<unsigned char>(c));
  return out;
}

}  // namespace

TEST(TokenizerNormalizer, NfcComposesCanonicalOnly) {
  EXPECT_EQ(norm(kNfc, "e\xCC\x81"), "\xC3\xA9");
  EXPECT_EQ(norm(kNfc, "\xE2\x84\xAB"), "\xC3\x85");
  EXPECT_EQ(norm(kNfc, "\xE1\x84\x80\xE1\x85\xA1"), "\xEA\xB0\x80");
  // Compatibility characters are not canonical equivalents: NFC keeps them.
  EXPECT_EQ(norm(kNfc, "\xEF\xAC\x81"), "\xEF\xAC\x81");
  EXPECT_EQ(norm(kNfc, "\xEF\xBC\xA1"), "\xEF\xBC\xA1");
  EXPECT_EQ(norm(kNfc, "plain ascii"), "plain ascii");
}

TEST(TokenizerNormalizer, NfkcFoldsCompatibilityCharacters) {
  EXPECT_EQ(norm(kNfkc, "\xEF\xAC\x81"), "fi");
  EXPECT_EQ(norm(kNfkc, "\xEF\xBC\xA1"), "A");
  EXPECT_EQ(norm(kNfkc, "\xE2\x91\xA0"), "1");
  EXPECT_EQ(norm(kNfkc, "\xE1\xBA\x9B\xCC\xA3"), "\xE1\xB9\xA9");
  EXPECT_EQ(norm(kNfkc, "e\xCC\x81"), "\xC3\xA9");  // NFKC composes too
  EXPECT_EQ(norm(kNfkc, "x \xEF\xAC\x81le \xC3\xA9"), "x file \xC3\xA9");
}

TEST(TokenizerNormalizer, SequenceAndIdentity) {
  json s = {{"type", "Sequence"}, {"normalizers", json::array({kNfc, kNfkc})}};
  EXPECT_EQ(norm(s, "\xEF\xAC\x81" "e\xCC\x81"), "fi\xC3\xA9");
  EXPECT_TRUE(tok::Normalizer::from_json(nullptr, "t.json").identity());
  EXPECT_TRUE(tok::Normalizer::from_json({{"type", "Sequence"}, {"normalizers", json::array()}}, "t.json").identity());
  EXPECT_EQ(norm(nullptr, "\xEF\xAC\x81"), "\xEF\xAC\x81");
}

TEST(TokenizerNormalizer, NfkcTokenizerEncodesLigatureLikeLetters) {
  const Tokenizer t = load(kNfkc);
  EXPECT_EQ(t.encode("fi"), (Ids{256}));
  EXPECT_EQ(t.encode("\xEF\xAC\x81"), (Ids{256}));
  EXPECT_EQ(t.encode("\xEF\xBC\xA1"), (Ids{'A'}));
  EXPECT_EQ(t.decode(t.encode("\xEF\xAC\x81" "\xEF\xBC\xA1")), "fiA");
  // Without a normalizer the ligature stays its three UTF-8 bytes.
  EXPECT_EQ(load(nullptr).encode("\xEF\xAC\x81"), (Ids{0xEF, 0xAC, 0x81}));
  // Inside a Sequence, as DeepSeek-style tokenizer.json files write it.
  const Tokenizer ts = load({{"type", "Sequence"}, {"normalizers", json::array({kNfkc})}});
  EXPECT_EQ(ts.encode("\xEF\xAC\x81"), (Ids{256}));
}

TEST(TokenizerNormalizer, NfcTokenizerComposes) {
  const Tokenizer t = load(kNfc);
  EXPECT_EQ(t.encode("e\xCC\x81"), bytes("\xC3\xA9"));
  EXPECT_EQ(t.pre_tokenize("e\xCC\x81"), (std::vector<std::string>{"\xC3\xA9"}));
  EXPECT_EQ(t.encode("\xEF\xAC\x81"), bytes("\xEF\xAC\x81"));
}

TEST(TokenizerNormalizer, InvalidBytesSplitRunsThatAreNormalizedAlone) {
  const Tokenizer t = load(kNfc);
  // The stray 0xFF separates "e" from the combining accent: each valid run is normalized on its
  // own (a lone U+0301 stays itself), and the byte passes through untouched.
  EXPECT_EQ(t.encode("e\xFF\xCC\x81"), bytes("e\xFF\xCC\x81"));
  EXPECT_EQ(t.decode(t.encode("e\xCC\x81\xFF" "e\xCC\x81")), "\xC3\xA9\xFF\xC3\xA9");
  const Tokenizer k = load(kNfkc);
  EXPECT_EQ(k.encode("\xEF\xAC\x81\x80\xEF\xBC\xA1"), (Ids{256, 0x80, 'A'}));
  // A truncated ligature (its first two bytes) is invalid UTF-8, not a character to fold.
  EXPECT_EQ(k.encode("\xEF\xAC"), (Ids{0xEF, 0xAC}));
}

TEST(TokenizerNormalizer, UnsupportedNormalizersAreRefusedByName) {
  auto error_of = [](const json& n) -> std::string {
    try {
      Tokenizer::from_json_text(make_tokenizer(n).dump(), {}, "bad/tokenizer.json");
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  const std::string lower = error_of({{"type", "Lowercase"}});
  EXPECT_NE(lower.find("bad/tokenizer.json"), std::string::npos) << lower;
  EXPECT_NE(lower.find("normalizer: normalizer 'Lowercase' is not supported"), std::string::npos) << lower;
  const std::string nested = error_of({{"type", "Sequence"}, {"normalizers", json::array({kNfc, {{"type", "NFKD"}}})}});
  EXPECT_NE(nested.find("normalizer.normalizers[1]: normalizer 'NFKD' is not supported"), std::string::npos) << nested;
  EXPECT_NE(error_of({{"type", "Sequence"}}).find("normalizer.normalizers: expected an array"), std::string::npos);
  EXPECT_NE(error_of(json::array()).find("normalizer: expected an object"), std::string::npos);
}
