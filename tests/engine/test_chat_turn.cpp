// tests/engine/test_chat_turn.cpp — the one turn-encoding rule both front ends use (the terminal's
// adapter is covered in tests/app/test_chat_turns.cpp): a template model asked for plain text (the
// workbench's "base model" switch) continues a document, and system entries in the history never
// reach the template twice.
#include <gtest/gtest.h>

#include "engine/chat_turn.h"
#include "engine/tokenizer/tokenizer.h"
#include "support/data_paths.h"

using namespace mlascope;

TEST(ChatTurn, PlainOverrideOnATemplateModelContinuesADocument) {
  const Tokenizer tok = Tokenizer::from_dir(test::data_path("tokenizers/deepseek-v3"));
  ASSERT_EQ(tok.chat_template(), ChatTemplateKind::DeepSeekV3);
  std::vector<int32_t> expect = {tok.bos_id()};
  for (int32_t id : tok.encode("Notes: def f():")) expect.push_back(id);
  const ChatTurn t = encode_chat_turn(tok, {}, "Notes: ", {}, "def f():", ChatTemplateKind::Plain);
  EXPECT_EQ(t.keep, 0);
  EXPECT_EQ(t.ids, expect);
  const std::vector<int32_t> history = t.ids;
  const ChatTurn t2 = encode_chat_turn(tok, history, "Notes: ", {}, " return 1", ChatTemplateKind::Plain);
  EXPECT_EQ(t2.keep, static_cast<int>(history.size()));
  EXPECT_EQ(t2.ids, tok.encode(" return 1"));
}

TEST(ChatTurn, SystemEntriesInTheHistoryAreNotRenderedTwice) {
  const Tokenizer tok = Tokenizer::from_dir(test::data_path("tokenizers/deepseek-v3"));
  const std::vector<ChatMessage> previous = {{"system", "old system"}, {"user", "Hi"}, {"assistant", "Hello"}};
  const ChatTurn t = encode_chat_turn(tok, {}, "Be brief.", previous, "Why?");
  const std::vector<ChatMessage> all = {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello"}, {"user", "Why?"}};
  EXPECT_EQ(t.ids, tok.apply_chat_template(all, true));
}
