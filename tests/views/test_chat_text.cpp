// tests/views/test_chat_text.cpp — chat text as the chat panel reads it: segments (text, fenced
// code, special-token chips), tab stops, the byte prefix of a message's first N tokens; and the
// message text the GUI's chat controller stores, which must be the real text (newlines, tabs)
// exactly as the tokenizer decodes the message's tokens, not the token display form ("\n" as two
// characters) — checked on the real demo model and after a round trip through a session database.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "app/gui/chat_controller.h"
#include "engine/tokenizer/tokenizer.h"
#include "sessions/reader.h"
#include "support/data_paths.h"
#include "views/chat_text.h"
#include "views/kv_figures.h"

using namespace mlascope;
using namespace mlascope::views;

namespace {
const std::string kBos = "<\xEF\xBD\x9C" "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>";
const std::string kEos = "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>";
}  // namespace

TEST(ChatText, SegmentsCodeAndSpecialTokens) {
  const auto s = segment_chat_text(kBos + "Parse it:\n```python\ndef f(x):\n\treturn [int(v) for v in x]\n```\nDone." + kEos);
  ASSERT_EQ(s.size(), 5u);
  EXPECT_EQ(s[0].kind, ChatSegment::Special);
  EXPECT_EQ(s[0].text, "begin of sentence");
  EXPECT_EQ(s[1].kind, ChatSegment::Text);
  EXPECT_EQ(s[1].text, "Parse it:");
  EXPECT_EQ(s[2].kind, ChatSegment::Code);
  EXPECT_EQ(s[2].language, "python");
  EXPECT_FALSE(s[2].open);
  EXPECT_EQ(s[2].text, "def f(x):\n    return [int(v) for v in x]");  // the tab at a 4-column stop
  EXPECT_EQ(s[3].kind, ChatSegment::Text);
  EXPECT_EQ(s[3].text, "Done.");
  EXPECT_EQ(s[4].kind, ChatSegment::Special);
  EXPECT_EQ(s[4].text, "end of sentence");
}

TEST(ChatText, StreamingFenceAndLookalikes) {
  // The closing fence has not arrived yet: the block runs to the end and says so.
  const auto s = segment_chat_text("text\n```\nx = 1\ny");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1].kind, ChatSegment::Code);
  EXPECT_TRUE(s[1].open);
  EXPECT_EQ(s[1].text, "x = 1\ny");
  // ``` inside a line is not a fence; "a <| b |> c" (spaces) and "<｜｜>" are not special tokens.
  const auto t = segment_chat_text("use ``` here\nif a <| b |> c: <\xEF\xBD\x9C\xEF\xBD\x9C>");
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].kind, ChatSegment::Text);
  // ASCII special tokens as other models write them.
  const auto u = segment_chat_text("<|im_start|>user\nhi");
  ASSERT_EQ(u.size(), 2u);
  EXPECT_EQ(u[0].kind, ChatSegment::Special);
  EXPECT_EQ(u[0].text, "im_start");
  EXPECT_EQ(u[1].text, "user\nhi");
}

TEST(ChatText, TabStopsCountCharacters) {
  EXPECT_EQ(expand_tabs("a\tb"), "a   b");
  EXPECT_EQ(expand_tabs("abcd\te"), "abcd    e");
  EXPECT_EQ(expand_tabs("x\n\ty"), "x\n    y");
  EXPECT_EQ(expand_tabs("\xE6\x9D\xB1\tx"), "\xE6\x9D\xB1   x");  // one character, three bytes
}

TEST(ChatText, PrefixOfTheFirstTokens) {
  // Real message text and the tokens' display forms (as Tokenizer::token_display writes them):
  // newline and tab escaped, the three bytes of 東 split over two tokens as \xNN.
  const std::string text = "def f():\n\treturn \xE6\x9D\xB1";
  const std::vector<std::string_view> toks{"def", " f", "():", "\\n", "\\t", "return", " \\xE6\\x9D", "\\xB1"};
  EXPECT_EQ(message_prefix_bytes(text, toks, 0), 0u);
  EXPECT_EQ(text.substr(0, message_prefix_bytes(text, toks, 5)), "def f():\n\t");
  EXPECT_EQ(message_prefix_bytes(text, toks, 7), text.size() - 1);  // half a character so far
  EXPECT_EQ(message_prefix_bytes(text, toks, 8), text.size());
  EXPECT_EQ(message_prefix_bytes(text, toks, 99), text.size());
  // Sessions stored before message text was real hold the display form: it matches as is.
  const std::string old = "a\\nb";
  EXPECT_EQ(message_prefix_bytes(old, {"a", "\\n", "b"}, 2), 3u);
  // A token whose bytes are a backslash and an n (code) displays as \n too; the real text decides.
  const std::string code = "print('\\n')";
  EXPECT_EQ(message_prefix_bytes(code, {"print", "('", "\\n", "')"}, 3), 9u);
  EXPECT_EQ(unescape_token_display("a\\tb\\x41\\xZZ"), "a\tbA\\xZZ");
}

#ifdef MLASCOPE_HAVE_GUI
// The chat controller stores the real text: a prompt with a newline and a tab comes back with them,
// the answer equals the tokenizer's decoding of its tokens, and so does the recorded session.
TEST(ChatMessageText, IsTheRealTextNotTheDisplayForm) {
  const std::filesystem::path dir = test::temp_dir("chat-message-text");
  const std::filesystem::path db = dir / "sessions.db";
  app::gui::ChatController chat;
  app::gui::EngineOptions o;
  o.backend.device = DeviceKind::Cpu;
  o.backend.n_threads = 2;
  chat.load_model(test::asset_path("models/mla-moe-demo"), o);
  chat.wait_idle();
  ASSERT_TRUE(chat.take_errors().empty());
  auto meta = chat.take_loaded();
  ASSERT_TRUE(meta.has_value());
  ASSERT_GT(views::kv_dtype_size(meta->kv_dtype), 0) << "the session names the dtype of the engine's cache: '" << meta->kv_dtype << "'";
  TraceModel tm;
  tm.reset(*meta);
  chat.set_session_db(db);
  views::ChatState c;
  c.base_model = true;
  c.max_new_tokens = 12;
  ASSERT_TRUE(chat.send(tm, "def parse(text):\n\treturn text", c));
  chat.wait_idle();
  chat.drain(tm);
  ASSERT_TRUE(chat.take_errors().empty());
  const int64_t sid = chat.live_session_id();
  chat.set_session_db({});  // commits and closes the recording

  const Tokenizer tok = Tokenizer::from_dir(test::asset_path("models/mla-moe-demo"));
  ASSERT_EQ(tm.messages().size(), 2u);
  for (const Message& m : tm.messages()) {
    std::vector<int32_t> ids;
    for (int32_t t = m.first_token; t < m.end_token; ++t) ids.push_back(tm.token(static_cast<size_t>(t)).id);
    EXPECT_EQ(m.text, tok.decode(ids)) << m.role;
  }
  const std::string& user = tm.messages()[0].text;
  EXPECT_NE(user.find("def parse(text):\n\treturn text"), std::string::npos) << user;
  EXPECT_EQ(user.find("\\n"), std::string::npos) << "the display form leaked into the message text";
  // Replay from the database shows the same real text.
  TraceModel back;
  sessions::SessionReader(db).load(sid, back);
  ASSERT_EQ(back.messages().size(), 2u);
  EXPECT_EQ(back.messages()[0].text, user);
  EXPECT_EQ(back.messages()[1].text, tm.messages()[1].text);
  // The named dtype is the one the engine's real cache holds: its measured bytes are exactly
  // tokens x layers x (kv_lora_rank + qk_rope_head_dim) x that dtype's size.
  EXPECT_EQ(back.meta().kv_dtype, meta->kv_dtype);
  const uint64_t values = tm.size() * static_cast<uint64_t>(tm.config().num_hidden_layers) * static_cast<uint64_t>(tm.config().latent_cache_dim());
  EXPECT_EQ(tm.token(tm.size() - 1).kv_bytes, values * static_cast<uint64_t>(views::kv_dtype_size(meta->kv_dtype)));
  const views::KvShown k = views::kv_shown(tm, tm.size());
  EXPECT_TRUE(k.measured);
  EXPECT_FALSE(k.dtype_inferred);
  EXPECT_EQ(k.dtype, meta->kv_dtype);
  std::filesystem::remove_all(dir);
}
#endif

// The token strip showed "<｜begin▁of▁sentence｜>" as "< | begin of sentence | >": a whole special token
// has a chip label; anything else (text around it, an unclosed marker, plain text) has none.
TEST(ChatText, SpecialTokenLabelOnlyForAWholeMarker) {
  EXPECT_EQ(special_token_label("<\xEF\xBD\x9C" "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"), "begin of sentence");
  EXPECT_EQ(special_token_label("<|im_end|>"), "im_end");
  EXPECT_EQ(special_token_label(" <|im_end|>"), "");
  EXPECT_EQ(special_token_label("<|im_end|> x"), "");
  EXPECT_EQ(special_token_label("<\xEF\xBD\x9C" "User"), "");
  EXPECT_EQ(special_token_label("<|a b|>"), "");
  EXPECT_EQ(special_token_label("def"), "");
  EXPECT_EQ(special_token_label(""), "");
}
