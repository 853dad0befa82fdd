// tests/app/test_terminal_chat_pty.cpp — the chat loop under a real pseudo-terminal, on the scripted
// engine of chat_harness_main.cpp (its routing rules are restated here to predict the screen):
// streamed tokens in the dominant expert's colour, commands, history recall, Ctrl-C during a
// generation and at the prompt, Ctrl-D to leave.
#include <gtest/gtest.h>

#include <regex>

#include "app/term_color.h"
#include "support/data_paths.h"
#include "support/pty_session.h"

using namespace mlascope;

namespace {

std::vector<std::string> harness(int max_tokens, int delay_ms = 5) {
  return {MLASCOPE_CHAT_HARNESS, test::asset_path("models/mla-moe-demo/config.json").string(), std::to_string(max_tokens),
          std::to_string(delay_ms)};
}

test::EnvOverrides env(const std::filesystem::path& home, bool colour) {
  test::EnvOverrides e = {{"HOME", home.string()}, {"XDG_DATA_HOME", (home / "data").string()},
                          {"TERM", "xterm-256color"}, {"COLORTERM", "truecolor"}};
  e.push_back({"NO_COLOR", colour ? "\x01unset" : "1"});
  return e;
}

// Dominant expert of position p in the MoE layer with index m (rule of the scripted engine).
int dominant(int p, int m) { return (p + 3 * m) % 16; }

}  // namespace

TEST(TerminalChatPty, StreamCommandsAndExit) {
  const auto home = test::temp_dir("chat-pty");
  test::PtySession s(harness(5), env(home, true));
  ASSERT_TRUE(s.wait_for("> ", 10)) << s.output();
  EXPECT_NE(s.text_since(0).find("colours: dominant expert of layer 5"), std::string::npos) << s.text_since(0);

  size_t m = s.mark();
  s.send_line("hello world");
  ASSERT_TRUE(s.wait_for("positions cached]", 10, m)) << s.text_since(m);
  const std::string shown = s.text_since(m);
  // BOS, hello, world at 0..2; five generated tokens at 3..7.
  EXPECT_NE(shown.find(" w3 w4 w5 w6 w7"), std::string::npos) << shown;
  EXPECT_NE(shown.find("[5 tokens"), std::string::npos) << shown;
  EXPECT_NE(shown.find("token limit; 8 positions cached]"), std::string::npos) << shown;
  // Each token is painted in 24-bit colour with its dominant expert of layer 5 (MoE index 4).
  const std::string raw = s.output().substr(m);
  for (int p = 3; p <= 7; ++p) {
    const std::string painted = app::fg(app::ColorMode::TrueColor, app::expert_rgb(dominant(p, 4), 16)) + " w" + std::to_string(p);
    EXPECT_NE(raw.find(painted), std::string::npos) << "position " << p;
  }

  m = s.mark();
  s.send_line("/routing 3");
  ASSERT_TRUE(s.wait_for_after("5  e15", "\n> ", 30, m)) << s.text_since(m);
  std::string out = s.text_since(m);
  EXPECT_NE(out.find("token 3 ' w3' (generated"), std::string::npos) << out;
  EXPECT_NE(out.find("1  e3 0.500  e8 0.250  e12 0.150  e0 0.100"), std::string::npos) << out;
  EXPECT_NE(out.find("5  e15 0.500  e4 0.250  e8 0.150  e12 0.100"), std::string::npos) << out;

  m = s.mark();
  s.send_line("/layer 1");
  ASSERT_TRUE(s.wait_for_after(" w7", "\n> ", 30, m)) << s.text_since(m);
  EXPECT_NE(s.text_since(m).find("layer 1"), std::string::npos);
  // The transcript is repainted with layer 1's dominant experts.
  EXPECT_NE(s.output().substr(m).find(app::fg(app::ColorMode::TrueColor, app::expert_rgb(dominant(5, 0), 16)) + " w5"),
            std::string::npos);

  m = s.mark();
  s.send_line("/experts");
  ASSERT_TRUE(s.wait_for("e15", 30, m)) << s.text_since(m);
  out = s.text_since(m);
  EXPECT_NE(out.find("layer 1  32 routed slots"), std::string::npos) << out;  // 8 tokens x top-4

  m = s.mark();
  s.send_line("/attn 2 0 7");
  ASSERT_TRUE(s.wait_for_after("head 0", "\n> ", 30, m)) << s.text_since(m);
  out = s.text_since(m);
  EXPECT_TRUE(std::regex_search(out, std::regex("\\n\\s+6\\s+' w6'\\s+0\\.600"))) << out;

  m = s.mark();
  s.send_line("/kv");
  ASSERT_TRUE(s.wait_for("MQA", 30, m)) << s.text_since(m);
  out = s.text_since(m);
  EXPECT_NE(out.find("now (8 tok)"), std::string::npos) << out;
  EXPECT_NE(out.find("15.0 KiB"), std::string::npos) << out;  // 8 tokens x 1920 B of fp32 latent cache

  // History: the up arrow recalls "/kv".
  m = s.mark();
  s.send("\x1b[A\r");
  ASSERT_TRUE(s.wait_for("MQA", 30, m)) << s.text_since(m);

  m = s.mark();
  s.send_line("/sampler temperature=0.7");
  ASSERT_TRUE(s.wait_for("sampler: {\"temperature\":0.7}", 30, m)) << s.text_since(m);
  m = s.mark();
  s.send_line("/sampler warmth=3");
  ASSERT_TRUE(s.wait_for("error: [sampler] warmth", 30, m)) << s.text_since(m);
  m = s.mark();
  s.send_line("/nonsense");
  ASSERT_TRUE(s.wait_for("unknown command", 30, m)) << s.text_since(m);
  m = s.mark();
  s.send_line("/layer 0");
  ASSERT_TRUE(s.wait_for("is not an MoE layer", 30, m)) << s.text_since(m);

  m = s.mark();
  s.send_line("/reset");
  ASSERT_TRUE(s.wait_for("new conversation", 30, m));
  m = s.mark();
  s.send_line("/routing");
  ASSERT_TRUE(s.wait_for("nothing generated yet", 30, m)) << s.text_since(m);

  s.ctrl_d();
  EXPECT_EQ(s.wait_exit(10), 0) << s.text_since(0);
  std::filesystem::remove_all(home);
}

TEST(TerminalChatPty, CtrlCStopsGenerationNotTheProgram) {
  const auto home = test::temp_dir("chat-pty-int");
  test::PtySession s(harness(1000, 20), env(home, false));
  ASSERT_TRUE(s.wait_for("> ", 10)) << s.output();
  size_t m = s.mark();
  s.send_line("once upon");
  ASSERT_TRUE(s.wait_for(" w12", 20, m)) << s.text_since(m);
  s.ctrl_c();
  ASSERT_TRUE(s.wait_for("interrupted", 30, m)) << s.text_since(m);
  const std::string out = s.text_since(m);
  std::smatch sm;
  ASSERT_TRUE(std::regex_search(out, sm, std::regex("\\[(\\d+) tokens"))) << out;
  EXPECT_LT(std::stoi(sm[1]), 200) << "the generation ran on after Ctrl-C";
  EXPECT_EQ(out.find("\x1b[38;"), std::string::npos) << "NO_COLOR must turn colours off";

  // Still alive, and the conversation is intact.
  m = s.mark();
  s.send_line("/routing 12");
  // The next prompt too: a Ctrl-C typed before the line editor is reading is not "at the prompt".
  ASSERT_TRUE(s.wait_for_after("token 12 ' w12'", "> ", 30, m)) << s.text_since(m);

  // Ctrl-C at the prompt drops the line being typed and keeps the chat.
  m = s.mark();
  s.send("half a line");
  s.ctrl_c();
  ASSERT_TRUE(s.wait_for_after("^C", "> ", 30, m)) << s.text_since(m);
  // Again, with the keys still on their way: Ctrl-C discards them, and the chat must not then wait
  // in a read for keys that are gone (it did, once, on a busy machine).
  for (int i = 0; i < 10; ++i) {
    m = s.mark();
    s.send("abc");
    s.ctrl_c();
    ASSERT_TRUE(s.wait_for_after("^C", "> ", 30, m)) << "round " << i << ": " << s.text_since(m);
  }
  m = s.mark();
  s.send_line("/help");
  ASSERT_TRUE(s.wait_for("/attn L H [pos]", 30, m)) << s.text_since(m);

  s.send_line("/quit");
  EXPECT_EQ(s.wait_exit(10), 0);
  std::filesystem::remove_all(home);
}
