// tests/views/test_gui_script.cpp — the scripted-run language: what parses and what is refused.
#include <gtest/gtest.h>

#include "app/gui/script.h"
#include "engine/error.h"

using namespace mlascope;
using mlascope::app::gui::parse_script;

TEST(GuiScript, ParsesCommandsAndKeepsPromptText) {
  const auto cmds = parse_script("# comment\n\nload_model demo\nprompt  def parse(text):  x = 1\n"
                                 "lock_token 12\nrange 3 9\nscreenshot routing routing\r\nquit\n",
                                 "t.script");
  ASSERT_EQ(cmds.size(), 6u);
  EXPECT_EQ(cmds[0].verb, "load_model");
  EXPECT_EQ(cmds[1].args.size(), 1u);
  EXPECT_EQ(cmds[1].args[0], "def parse(text):  x = 1");
  EXPECT_EQ(cmds[2].line, 5);
  EXPECT_EQ(cmds[4].args[1], "routing");
  EXPECT_EQ(cmds[5].verb, "quit");
}

TEST(GuiScript, RefusesWithFileAndLine) {
  auto message = [](const std::string& text) {
    try {
      parse_script(text, "t.script");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(message("wait 2\nfly away\n"), "[script] t.script:2: unknown command 'fly'");
  EXPECT_EQ(message("lock_token seven\n"), "[script] t.script:1: 'lock_token' wants integers, got 'seven'");
  EXPECT_EQ(message("range 1\n"), "[script] t.script:1: 'range' takes 2 argument(s), got 1");
  EXPECT_EQ(message("tour mla-saves two\n"), "[script] t.script:1: 'tour' step must be an integer, got 'two'");
  EXPECT_EQ(message("synthetic 100 v4\n"), "[script] t.script:1: 'synthetic' takes a token count and optionally demo | v2-lite | v3");
  EXPECT_EQ(message("synthetic many\n"), "[script] t.script:1: 'synthetic' takes a token count and optionally demo | v2-lite | v3");
  EXPECT_EQ(parse_script("synthetic 2000 v3\n", "t.script")[0].args, (std::vector<std::string>{"2000", "v3"}));
}

TEST(GuiScript, ChatVerbsAndPromptEscapes) {
  const auto cmds = parse_script("title demo: prose then code\nsampler temperature=0.8 seed=7\n"
                                 "prompt a\\nb\\tc \\\\n\nfork 12 345\nbookmark 7 the code starts\nclear\nregenerate\n",
                                 "t.script");
  ASSERT_EQ(cmds.size(), 7u);
  EXPECT_EQ(cmds[0].args, std::vector<std::string>{"demo: prose then code"});
  EXPECT_EQ(cmds[1].args, (std::vector<std::string>{"temperature=0.8", "seed=7"}));
  EXPECT_EQ(cmds[2].args[0], "a\nb\tc \\n");
  EXPECT_EQ(cmds[3].args, (std::vector<std::string>{"12", "345"}));
  EXPECT_EQ(cmds[4].args.size(), 4u);
  auto message = [](const std::string& text) {
    try {
      parse_script(text, "t.script");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(message("fork 3\n"), "[script] t.script:1: 'fork' takes 2 argument(s), got 1");
  EXPECT_EQ(message("bookmark here please\n"), "[script] t.script:1: 'bookmark' wants a token position first, got 'here'");
}

TEST(GuiScript, ShellVerbsAndAssertions) {
  const auto cmds = parse_script("load_model demo nowait\nmaximize routing\ndrag splitter.tour.routing -100 0\nclick 10 20\n"
                                 "assert_panel_text kv_memory KV 228.75 KiB f32\nassert_session demo: prose then code\n"
                                 "expect_error no such model folder\nassert_tour 3 done\nsynthetic 300 v3\nassert_panels_inside except routing\n",
                                 "t.script");
  ASSERT_EQ(cmds.size(), 10u);
  EXPECT_EQ(cmds[0].args, (std::vector<std::string>{"demo", "nowait"}));
  EXPECT_EQ(cmds[2].args, (std::vector<std::string>{"splitter.tour.routing", "-100", "0"}));
  EXPECT_EQ(cmds[4].args, (std::vector<std::string>{"kv_memory", "KV 228.75 KiB f32"}));
  EXPECT_EQ(cmds[5].args, std::vector<std::string>{"demo: prose then code"});
  EXPECT_EQ(cmds[6].args, std::vector<std::string>{"no such model folder"});
  EXPECT_EQ(cmds[9].args, (std::vector<std::string>{"except", "routing"}));
  auto message = [](const std::string& text) {
    try {
      parse_script(text, "t.script");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(message("load_model demo later\n"), "[script] t.script:1: 'load_model' second argument must be nowait, got 'later'");
  EXPECT_EQ(message("assert_tour 2 maybe\n"), "[script] t.script:1: 'assert_tour' second argument must be done or waiting, got 'maybe'");
  EXPECT_EQ(message("assert_width tour wide\n"), "[script] t.script:1: 'assert_width' wants an integer, got 'wide'");
  EXPECT_EQ(message("assert_panel_text kv_memory\n"), "[script] t.script:1: 'assert_panel_text' takes 2 argument(s), got 1");
  EXPECT_EQ(message("resize big 800\n"), "[script] t.script:1: 'resize' wants integers, got 'big'");
}
