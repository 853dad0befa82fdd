// tests/app/test_term_color.cpp — colour depth decision and the xterm-256 mapping, against the
// palette's published definition (cube levels 0,95,135,175,215,255; greys 8+10i).
#include <gtest/gtest.h>

#include <set>

#include "app/term_color.h"

using namespace mlascope::app;

TEST(TermColor, ModeDecision) {
  EXPECT_EQ(color_mode_from(true, nullptr, "truecolor", "xterm-256color"), ColorMode::TrueColor);
  EXPECT_EQ(color_mode_from(true, nullptr, "24bit", "xterm"), ColorMode::TrueColor);
  EXPECT_EQ(color_mode_from(true, nullptr, nullptr, "xterm-256color"), ColorMode::Ansi256);
  EXPECT_EQ(color_mode_from(true, nullptr, "yes", "screen"), ColorMode::Ansi256);
  // NO_COLOR wins over everything when non-empty; an empty NO_COLOR is ignored (no-color.org).
  EXPECT_EQ(color_mode_from(true, "1", "truecolor", "xterm"), ColorMode::None);
  EXPECT_EQ(color_mode_from(true, "", "truecolor", "xterm"), ColorMode::TrueColor);
  // Pipes and files get plain text, and so does a dumb terminal.
  EXPECT_EQ(color_mode_from(false, nullptr, "truecolor", "xterm"), ColorMode::None);
  EXPECT_EQ(color_mode_from(true, nullptr, nullptr, "dumb"), ColorMode::None);
}

TEST(TermColor, Ansi256Palette) {
  EXPECT_EQ(ansi256_index({0, 0, 0}), 16);
  EXPECT_EQ(ansi256_index({255, 0, 0}), 196);  // 16 + 36*5
  EXPECT_EQ(ansi256_index({0, 255, 0}), 46);   // 16 + 6*5
  EXPECT_EQ(ansi256_index({0, 0, 255}), 21);
  EXPECT_EQ(ansi256_index({255, 255, 255}), 231);
  EXPECT_EQ(ansi256_index({95, 135, 175}), 16 + 36 * 1 + 6 * 2 + 3);
  // Mid grey sits on the grey ramp (128 = 8 + 10*12), not on the cube's 135.
  EXPECT_EQ(ansi256_index({128, 128, 128}), 244);
  EXPECT_EQ(ansi256_rgb(244), (Rgb{128, 128, 128}));
  EXPECT_EQ(ansi256_rgb(196), (Rgb{255, 0, 0}));
  // Round trip through every palette entry.
  for (int i = 16; i < 256; ++i) {
    const Rgb c = ansi256_rgb(i);
    EXPECT_EQ(ansi256_rgb(ansi256_index(c)), c) << i;
  }
}

TEST(TermColor, ExpertColoursDistinctAndStable) {
  std::set<int> idx;
  std::set<std::tuple<int, int, int>> rgb;
  for (int e = 0; e < 16; ++e) {
    const Rgb c = expert_rgb(e, 16);
    idx.insert(ansi256_index(c));
    rgb.insert({c.r, c.g, c.b});
    // Readable on a dark background: at least one bright channel.
    EXPECT_GE(std::max({c.r, c.g, c.b}), 200) << e;
    EXPECT_EQ(expert_rgb(e, 16), c);
  }
  EXPECT_EQ(rgb.size(), 16u);
  EXPECT_EQ(idx.size(), 16u) << "the demo model's 16 experts must stay distinct in 256 colours";
  std::set<std::tuple<int, int, int>> big;
  for (int e = 0; e < 256; ++e) {
    const Rgb c = expert_rgb(e, 256);
    big.insert({c.r, c.g, c.b});
  }
  EXPECT_EQ(big.size(), 256u);
}

TEST(TermColor, EscapeSequences) {
  const Rgb c{10, 20, 30};
  EXPECT_EQ(fg(ColorMode::TrueColor, c), "\x1b[38;2;10;20;30m");
  EXPECT_EQ(bg(ColorMode::TrueColor, c), "\x1b[48;2;10;20;30m");
  EXPECT_EQ(fg(ColorMode::Ansi256, {255, 0, 0}), "\x1b[38;5;196m");
  EXPECT_EQ(fg(ColorMode::None, c), "");
  EXPECT_EQ(reset(ColorMode::None), "");
  EXPECT_EQ(reset(ColorMode::Ansi256), "\x1b[0m");
  EXPECT_EQ(paint_expert(ColorMode::None, "tok", 3, 16), "tok");
  EXPECT_EQ(paint_expert(ColorMode::TrueColor, "tok", -1, 16), "tok");
  const std::string painted = paint_expert(ColorMode::Ansi256, "tok", 3, 16);
  EXPECT_EQ(painted, fg(ColorMode::Ansi256, expert_rgb(3, 16)) + "tok\x1b[0m");
}
