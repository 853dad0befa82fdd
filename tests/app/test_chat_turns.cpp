// tests/app/test_chat_turns.cpp — how chat lines become token ids: plain continuation on the demo
// model's tokenizer, DeepSeek-V3's chat template on the real V3 tokenizer. The expected ids are
// built from the tokenizer's own encode/apply_chat_template of the whole conversation: the turn
// must be exactly what the cache lacks.
#include <gtest/gtest.h>

#include "app/terminal_engine.h"
#include "engine/tokenizer/tokenizer.h"
#include "support/data_paths.h"

using namespace mlascope;
using namespace mlascope::app;

namespace {
std::vector<int32_t> cat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
}  // namespace

TEST(ChatTurns, PlainContinuesTheDocument) {
  const Tokenizer tok = Tokenizer::from_dir(test::asset_path("models/mla-moe-demo"));
  ASSERT_EQ(tok.chat_template(), ChatTemplateKind::Plain);
  ASSERT_EQ(tok.bos_id(), 0);
  ASSERT_EQ(tok.eos_id(), 1);
  // First line: BOS, then the text (the system text, if any, opens the document).
  ChatEngine::Turn t = encode_chat_turn(tok, {}, "", {}, "And God said unto Moses,");
  EXPECT_EQ(t.keep, 0);
  EXPECT_EQ(t.ids, cat({0}, tok.encode("And God said unto Moses,")));
  t = encode_chat_turn(tok, {}, "# notes\n", {}, "x = 1");
  EXPECT_EQ(t.ids, cat({0}, tok.encode("# notes\nx = 1")));
  // Later lines continue what is cached; no BOS, nothing dropped.
  const std::vector<int32_t> history = cat({0}, tok.encode("The secret of a happy life is"));
  t = encode_chat_turn(tok, history, "ignored later", {}, " love");
  EXPECT_EQ(t.keep, static_cast<int>(history.size()));
  EXPECT_EQ(t.ids, tok.encode(" love"));
  // After an end-of-text the next line starts a new document.
  t = encode_chat_turn(tok, cat(history, {1}), "", {}, "Next");
  EXPECT_EQ(t.keep, static_cast<int>(history.size() + 1));
  EXPECT_EQ(t.ids, cat({0}, tok.encode("Next")));
}

TEST(ChatTurns, DeepSeekV3TemplateFeedsOnlyWhatTheCacheLacks) {
  const Tokenizer tok = Tokenizer::from_dir(test::data_path("tokenizers/deepseek-v3"));
  ASSERT_EQ(tok.chat_template(), ChatTemplateKind::DeepSeekV3);
  const int32_t user = *tok.token_id("<｜User｜>");
  const int32_t assistant = *tok.token_id("<｜Assistant｜>");
  const int32_t eos = tok.eos_id();

  // Turn 1: BOS, system, <User> text, <Assistant>.
  ChatEngine::Turn t1 = encode_chat_turn(tok, {}, "Be brief.", {}, "Hello");
  EXPECT_EQ(t1.keep, 0);
  EXPECT_EQ(t1.ids, cat(cat(cat({tok.bos_id()}, tok.encode("Be brief.")), cat({user}, tok.encode("Hello"))), {assistant}));

  // The model answered "Hi there" and stopped at EOS: turn 2 keeps everything.
  const std::vector<int32_t> reply = tok.encode("Hi there");
  std::vector<int32_t> history = cat(cat(t1.ids, reply), {eos});
  const std::vector<Message> previous = {{"user", "Hello", 0, 0}, {"assistant", "Hi there", 0, 0}};
  ChatEngine::Turn t2 = encode_chat_turn(tok, history, "Be brief.", previous, "Why?");
  EXPECT_EQ(t2.keep, static_cast<int>(history.size()));
  EXPECT_EQ(t2.ids, cat(cat({user}, tok.encode("Why?")), {assistant}));
  // Together they are exactly the template's rendering of the whole conversation.
  const std::vector<ChatMessage> all = {{"system", "Be brief."}, {"user", "Hello"}, {"assistant", "Hi there"}, {"user", "Why?"}};
  EXPECT_EQ(cat(history, t2.ids), tok.apply_chat_template(all, true));

  // Interrupted before EOS: the template closes the reply with EOS, which the cache lacks.
  history = cat(t1.ids, reply);
  t2 = encode_chat_turn(tok, history, "Be brief.", previous, "Why?");
  EXPECT_EQ(t2.keep, static_cast<int>(history.size()));
  EXPECT_EQ(t2.ids, cat(cat({eos, user}, tok.encode("Why?")), {assistant}));

  // A cache that disagrees with the reply's text (sampled ids that re-encode differently) is cut
  // back to where they part.
  history = cat(t1.ids, {tok.encode("Hi")[0] + 1});
  t2 = encode_chat_turn(tok, history, "Be brief.", previous, "Why?");
  EXPECT_EQ(t2.keep, static_cast<int>(t1.ids.size()));
  EXPECT_EQ(t2.ids, cat(cat(cat(reply, {eos}), cat({user}, tok.encode("Why?"))), {assistant}));
}
