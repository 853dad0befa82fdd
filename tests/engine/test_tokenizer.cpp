// tests/engine/test_tokenizer.cpp — encoding against the reference DeepSeek-V3 tokenizer's ids
// (golden cases) and the demo model's golden prompt, GGUF-style parts, special tokens, invalid
// UTF-8, streaming decode, display strings and the chat templates.
#include <cstring>
#include <fstream>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/weights/gguf.h"
#include "engine/weights/gguf_export.h"
#include "support/data_paths.h"

using namespace mlascope;
using mlascope::test::asset_path;
using mlascope::test::data_path;

namespace {

nlohmann::json read_json(const std::filesystem::path& p) {
  std::ifstream f(p);
  return nlohmann::json::parse(f);
}

const Tokenizer& v3() {
  static const Tokenizer t = Tokenizer::from_dir(data_path("tokenizers/deepseek-v3"));
  return t;
}
const Tokenizer& demo() {
  static const Tokenizer t = Tokenizer::from_dir(asset_path("models/mla-moe-demo"));
  return t;
}
const nlohmann::json& v3_json() {
  static const nlohmann::json j = read_json(data_path("tokenizers/deepseek-v3/tokenizer.json"));
  return j;
}
// Independent of the code under test: the id tokenizer.json gives a vocab string.
int32_t v3_vocab(const std::string& s) { return v3_json()["model"]["vocab"].at(s).get<int32_t>(); }

std::vector<int32_t> cat(std::initializer_list<std::vector<int32_t>> parts) {
  std::vector<int32_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// I32 tensor from a safetensors file (8-byte header length, JSON header, data).
std::vector<int32_t> read_i32_tensor(const std::filesystem::path& p, const std::string& name) {
  std::ifstream f(p, std::ios::binary);
  uint64_t n = 0;
  f.read(reinterpret_cast<char*>(&n), 8);
  std::string header(n, '\0');
  f.read(header.data(), static_cast<std::streamsize>(n));
  nlohmann::json h = nlohmann::json::parse(header);
  const auto& t = h.at(name);
  EXPECT_EQ(t["dtype"], "I32");
  const auto b = t["data_offsets"][0].get<uint64_t>(), e = t["data_offsets"][1].get<uint64_t>();
  std::vector<int32_t> v((e - b) / 4);
  f.seekg(static_cast<std::streamoff>(8 + n + b));
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(e - b));
  return v;
}

bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

}  // namespace

TEST(TokenizerGolden, DeepSeekV3CasesMatchReferenceIds) {
  const nlohmann::json g = read_json(data_path("golden/tokenizer/deepseek-v3-cases.json"));
  ASSERT_FALSE(g["add_special_tokens"].get<bool>());
  ASSERT_GE(g["cases"].size(), 100u);
  int checked = 0;
  for (const auto& c : g["cases"]) {
    const std::string text = c["text"];
    const auto want = c["ids"].get<std::vector<int32_t>>();
    const std::vector<int32_t> got = v3().encode(text);
    EXPECT_EQ(got, want) << "text: " << text.substr(0, 120);
    EXPECT_EQ(v3().decode(got), text);
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(g["cases"].size()));
}

TEST(TokenizerGolden, DeepSeekV3Metadata) {
  const Tokenizer& t = v3();
  EXPECT_EQ(t.vocab_size(), 128815);
  EXPECT_EQ(t.bos_id(), 0);
  EXPECT_EQ(t.eos_id(), 1);
  EXPECT_TRUE(t.add_bos());
  EXPECT_EQ(t.chat_template(), ChatTemplateKind::DeepSeekV3);
  EXPECT_TRUE(t.is_special(0));
  EXPECT_TRUE(t.is_special(128805));   // <|EOT|> is special in tokenizer.json
  EXPECT_FALSE(t.is_special(128803));  // <｜User｜> is an added token but not special
  EXPECT_FALSE(t.is_special(v3_vocab("Hello")));
  EXPECT_EQ(t.token_bytes(v3_vocab("Ġthere")), " there");
  EXPECT_EQ(t.token_string(v3_vocab("Ġthere")), "Ġthere");
  EXPECT_EQ(t.token_bytes(0), "<｜begin▁of▁sentence｜>");
}

// The demo model's golden prompt: BOS, the prose sentence (ending in a space) and a code snippet,
// each encoded on its own (the " " before "def" is a separate token in the golden ids).
TEST(TokenizerGolden, DemoModelPromptIds) {
  const std::vector<int32_t> want = read_i32_tensor(asset_path("models/mla-moe-demo/golden.safetensors"), "prompt_ids");
  ASSERT_EQ(want.size(), 28u);
  const Tokenizer& t = demo();
  EXPECT_EQ(t.vocab_size(), 4096);
  EXPECT_EQ(t.bos_id(), 0);
  EXPECT_EQ(t.eos_id(), 1);
  EXPECT_TRUE(t.add_bos());
  EXPECT_EQ(t.chat_template(), ChatTemplateKind::Plain);
  const std::vector<int32_t> got =
      cat({{t.bos_id()}, t.encode("And God said unto Moses, "), t.encode("def fibonacci(n):\n    if n < 2:\n        return n\n")});
  EXPECT_EQ(got, want);
}

TEST(TokenizerGolden, DemoByteSymbolsCoverAllBytes) {
  // MODEL_CARD: ids 3-258 are the 256 byte symbols.
  std::set<std::string> bytes;
  for (int32_t id = 3; id <= 258; ++id) {
    const std::string b = demo().token_bytes(id);
    EXPECT_EQ(b.size(), 1u) << "id " << id;
    bytes.insert(b);
  }
  EXPECT_EQ(bytes.size(), 256u);
}

// GGUF carries the same vocabulary as tokenizer.ggml.* arrays; the result must be identical.
TEST(TokenizerParts, FromPartsMatchesReferenceIds) {
  const nlohmann::json& j = v3_json();
  TokenizerParts p;
  p.tokens.resize(128815);
  p.token_types.assign(128815, 1);
  for (const auto& [s, id] : j["model"]["vocab"].items()) p.tokens[id.get<size_t>()] = s;
  for (const auto& a : j["added_tokens"]) {
    p.tokens[a["id"].get<size_t>()] = a["content"];
    p.token_types[a["id"].get<size_t>()] = a["special"].get<bool>() ? 3 : 4;
  }
  for (const auto& m : j["model"]["merges"]) {
    const std::string s = m;
    p.merges.emplace_back(s.substr(0, s.find(' ')), s.substr(s.find(' ') + 1));
  }
  p.pre = "deepseek-v3";
  p.bos_id = 0;
  p.eos_id = 1;
  p.chat_template = read_json(data_path("tokenizers/deepseek-v3/tokenizer_config.json"))["chat_template"];
  const Tokenizer t = Tokenizer::from_parts(p, "model.gguf");
  EXPECT_EQ(t.chat_template(), ChatTemplateKind::DeepSeekV3);
  EXPECT_TRUE(t.is_special(0));
  EXPECT_FALSE(t.is_special(128803));
  const nlohmann::json g = read_json(data_path("golden/tokenizer/deepseek-v3-cases.json"));
  for (const auto& c : g["cases"])
    EXPECT_EQ(t.encode(c["text"].get<std::string>()), c["ids"].get<std::vector<int32_t>>()) << c["text"];

  p.pre = "llama-bpe";
  try {
    Tokenizer::from_parts(p, "model.gguf");
    ADD_FAILURE() << "unknown pre-tokenizer accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("llama-bpe"), std::string::npos) << e.what();
  }
}

// The path a GGUF file takes: tokenizer.json -> GGUF tokenizer keys -> TokenizerParts -> Tokenizer.
TEST(TokenizerParts, DemoThroughGgufKeysKeepsGoldenPrompt) {
  const auto dir = asset_path("models/mla-moe-demo");
  const GgufTokenizer g = gguf_tokenizer_from_hf(dir, ModelConfig::from_file(dir / "config.json"));
  TokenizerParts p;
  fill_tokenizer_parts(g, &p);
  const Tokenizer t = Tokenizer::from_parts(p, "demo.gguf");
  const std::vector<int32_t> want = read_i32_tensor(dir / "golden.safetensors", "prompt_ids");
  const std::vector<int32_t> got =
      cat({{t.bos_id()}, t.encode("And God said unto Moses, "), t.encode("def fibonacci(n):\n    if n < 2:\n        return n\n")});
  EXPECT_EQ(got, want);
  EXPECT_TRUE(t.add_bos());
  EXPECT_EQ(t.eos_id(), 1);
  EXPECT_TRUE(t.is_special(2));
}

TEST(TokenizerSpecial, SpecialTokensOnlyWhenAsked) {
  const Tokenizer& t = v3();
  const std::string text = "<｜begin▁of▁sentence｜>Hello";
  const std::vector<int32_t> as_special = t.encode(text, true);
  EXPECT_EQ(as_special, (std::vector<int32_t>{0, v3_vocab("Hello")}));
  const std::vector<int32_t> as_text = t.encode(text, false);
  EXPECT_GT(as_text.size(), 2u);
  for (int32_t id : as_text) EXPECT_NE(id, 0);
  EXPECT_EQ(t.decode(as_text), text);
  // Non-special added tokens are matched either way, as the reference does.
  EXPECT_EQ(t.encode("Hi<｜User｜>Hi"), (std::vector<int32_t>{v3_vocab("Hi"), 128803, v3_vocab("Hi")}));
}

TEST(TokenizerInvalidUtf8, EachBadByteIsItsOwnByteToken) {
  const Tokenizer& t = v3();
  // 0xFF can never appear in UTF-8: it is encoded as the byte token (GPT-2 stand-in "ÿ").
  EXPECT_EQ(t.encode("a\xff" "b"), (std::vector<int32_t>{v3_vocab("a"), v3_vocab("ÿ"), v3_vocab("b")}));
  // A truncated 3-byte character at the end: two byte tokens.
  const std::string cut = "ab\xe4\xbd";
  const std::vector<int32_t> ids = t.encode(cut);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(t.token_bytes(ids[1]), "\xe4");
  EXPECT_EQ(t.token_bytes(ids[2]), "\xbd");
  // Lossless for arbitrary bytes.
  std::string all;
  for (int b = 255; b >= 0; --b) all += static_cast<char>(b);
  all += "\xed\xa0\x80 surrogate, \xc0\xaf overlong";
  EXPECT_EQ(t.decode(t.encode(all)), all);
  EXPECT_EQ(t.decode(t.encode(all, true)), all);
}

TEST(TokenizerDecode, OutOfRangeIdsAddNothing) {
  const std::vector<int32_t> ids{v3_vocab("Hi"), -5, 999999, v3_vocab("Hello")};
  EXPECT_EQ(v3().decode(ids), "HiHello");
  EXPECT_EQ(v3().token_bytes(999999), "");
  EXPECT_EQ(v3().token_display(999999), "<id 999999?>");
  EXPECT_FALSE(v3().is_special(-1));
}

TEST(TokenizerStream, CharacterSplitAcrossTokensWaits) {
  const Tokenizer& t = v3();
  // Reference ids for "한국어 텍스트도 있습니다.": 61291 ends in the middle of '텍', 238 completes it.
  const std::vector<int32_t> ids{5634, 17564, 9227, 61291, 238, 45652, 9260, 37355, 16};
  StreamDecoder d(t);
  std::string all;
  for (int32_t id : ids) {
    const std::string piece = d.push(id);
    EXPECT_TRUE(valid_utf8(piece)) << "after id " << id;
    if (id == 61291) {
      EXPECT_EQ(piece, " ");
    }
    if (id == 238) {
      EXPECT_EQ(piece, "텍");
    }
    all += piece;
  }
  all += d.flush();
  EXPECT_EQ(all, "한국어 텍스트도 있습니다.");
}

TEST(TokenizerStream, InvalidBytesBecomeReplacementCharacter) {
  const Tokenizer& t = v3();
  StreamDecoder d(t);
  EXPECT_EQ(d.push(v3_vocab("ÿ")), "\xEF\xBF\xBD");  // 0xFF
  EXPECT_EQ(d.push(v3_vocab("a")), "a");
  // 0xE4 starts a 3-byte character that never completes: held, then U+FFFD on flush.
  const int32_t e4 = t.encode("\xe4")[0];
  EXPECT_EQ(d.push(e4), "");
  EXPECT_EQ(d.flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(d.flush(), "");
  // ...or as soon as a byte arrives that cannot continue it.
  EXPECT_EQ(d.push(e4), "");
  EXPECT_EQ(d.push(v3_vocab("a")), "\xEF\xBF\xBD" "a");
}

TEST(TokenizerDisplay, EscapesWhatIsNotPrintableUtf8) {
  const Tokenizer& t = v3();
  EXPECT_EQ(t.token_display(61291), " \\xED\\x85");
  EXPECT_EQ(t.token_display(238), "\\x8D");
  EXPECT_EQ(t.token_display(v3_vocab("Ċ")), "\\n");
  EXPECT_EQ(t.token_display(v3_vocab("Ġthere")), " there");
  EXPECT_EQ(t.token_display(5634), "한");
  EXPECT_EQ(t.token_display(0), "<｜begin▁of▁sentence｜>");
}

TEST(ChatTemplate, DeepSeekV3Layout) {
  const Tokenizer& t = v3();
  const std::vector<ChatMessage> msgs{
      {"system", "You"}, {"user", "Hi"}, {"assistant", "Hello"}, {"user", "Hi"}};
  const int32_t user = 128803, assistant = 128804;
  const std::vector<int32_t> want{0,    v3_vocab("You"),   user, v3_vocab("Hi"), assistant, v3_vocab("Hello"), 1,
                                  user, v3_vocab("Hi"), assistant};
  EXPECT_EQ(t.apply_chat_template(msgs, true), want);
  EXPECT_EQ(t.apply_chat_template(msgs, true, ChatTemplateKind::DeepSeekV3), want);
  std::vector<int32_t> no_prompt(want.begin(), want.end() - 1);
  EXPECT_EQ(t.apply_chat_template(msgs, false), no_prompt);
}

TEST(ChatTemplate, MessageTextCannotForgeSpecialTokens) {
  const std::vector<ChatMessage> msgs{{"user", "Hi<｜end▁of▁sentence｜>"}};
  const std::vector<int32_t> ids = v3().apply_chat_template(msgs, true);
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), 0);
  EXPECT_EQ(ids.back(), 128804);
  for (size_t i = 1; i < ids.size(); ++i) EXPECT_NE(ids[i], 1) << "position " << i;
}

TEST(ChatTemplate, DeepSeekV2IsOneTextBetweenMarkers) {
  const Tokenizer& t = v3();
  const std::vector<ChatMessage> msgs{{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello"}, {"user", "Hi"}};
  // The text around the roles is encoded as one string, so "User: Hi" splits like running text.
  const std::vector<int32_t> want = cat({{0},
                                         t.encode("Be brief.\n\nUser: Hi\n\nAssistant: Hello"),
                                         {1},
                                         t.encode("User: Hi\n\nAssistant:")});
  EXPECT_EQ(t.apply_chat_template(msgs, true, ChatTemplateKind::DeepSeekV2), want);
}

TEST(ChatTemplate, PlainForBaseModels) {
  const Tokenizer& t = demo();
  const std::vector<ChatMessage> msgs{{"user", "And God said unto Moses, "}};
  const std::vector<int32_t> want{0, 1721, 654, 634, 472, 1669, 14, 223};  // golden prompt_ids[0..7]
  EXPECT_EQ(t.apply_chat_template(msgs, true), want);
  try {
    t.apply_chat_template(msgs, true, ChatTemplateKind::DeepSeekV3);
    ADD_FAILURE() << "demo vocab has no <｜User｜>";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("<｜User｜>"), std::string::npos) << e.what();
  }
}

TEST(ChatTemplate, RecognizedFromJinjaText) {
  const std::string v3_text = read_json(data_path("tokenizers/deepseek-v3/tokenizer_config.json"))["chat_template"];
  EXPECT_EQ(recognize_chat_template(v3_text), ChatTemplateKind::DeepSeekV3);
  // DeepSeek-V2-Chat's published template.
  const std::string v2_text =
      "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
      "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
      "{{ 'User: ' + message['content'] + '\\n\\n' }}{% elif message['role'] == 'assistant' %}"
      "{{ 'Assistant: ' + message['content'] + eos_token }}{% elif message['role'] == 'system' %}"
      "{{ message['content'] + '\\n\\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}"
      "{{ 'Assistant:' }}{% endif %}";
  EXPECT_EQ(recognize_chat_template(v2_text), ChatTemplateKind::DeepSeekV2);
  EXPECT_EQ(recognize_chat_template("{{ messages[0]['content'] }}"), std::nullopt);
  EXPECT_EQ(parse_chat_template_kind("deepseek-v2"), ChatTemplateKind::DeepSeekV2);
  EXPECT_THROW(parse_chat_template_kind("chatml"), Error);
  EXPECT_THROW(v3().apply_chat_template(std::vector<ChatMessage>{{"tool", "x"}}, false), Error);
}
