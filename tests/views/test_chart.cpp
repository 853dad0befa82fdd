// tests/views/test_chart.cpp — the chart helper's arithmetic against hand-worked values: nice
// ticks (Heckbert's 1-2-5 steps), numbers with thousands separators, byte and percent labels, the
// zoom window of index axes; and the expert palette's distinctness under CIEDE2000, whose
// implementation is checked first against Sharma, Wu & Dalal's published test pairs.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "views/chart.h"
#include "views/view_math.h"

using namespace mlascope::views;

TEST(NiceTicks, OneTwoFiveSteps) {
  EXPECT_EQ(nice_ticks(0, 10, 6), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(nice_ticks(0, 163840, 5), (std::vector<double>{0, 50000, 100000, 150000}));
  EXPECT_EQ(nice_ticks(0, 1, 6), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  EXPECT_EQ(nice_ticks(0, 1, 5), (std::vector<double>{0, 0.5, 1.0}));  // 0.2 would make 6
  // Inside the range only, and on the step grid even when the range does not start on it.
  EXPECT_EQ(nice_ticks(3, 60, 6), (std::vector<double>{10, 20, 30, 40, 50, 60}));
  EXPECT_EQ(nice_ticks(-0.3, 0.3, 4), (std::vector<double>{-0.2, 0, 0.2}));
  // Index axes: never a fractional step.
  EXPECT_EQ(nice_ticks(0, 3, 10, true), (std::vector<double>{0, 1, 2, 3}));
  EXPECT_EQ(nice_ticks(5, 5, 4), (std::vector<double>{5}));
  EXPECT_TRUE(nice_ticks(1, 0, 4).empty());
  for (int max_ticks = 2; max_ticks <= 12; ++max_ticks)
    EXPECT_LE(nice_ticks(0, 255, max_ticks, true).size(), static_cast<size_t>(max_ticks)) << max_ticks;
}

TEST(NiceTicks, LogAxis) {
  EXPECT_EQ(log_ticks(1, 1000), (std::vector<double>{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}));
  EXPECT_EQ(log_ticks(1, 1e6), (std::vector<double>{1, 10, 100, 1000, 10000, 100000, 1e6}));
  EXPECT_TRUE(log_ticks(0, 10).empty());
}

TEST(Format, ThousandsSeparatorsAndDecimals) {
  EXPECT_EQ(format_number(0), "0");
  EXPECT_EQ(format_number(999), "999");
  EXPECT_EQ(format_number(1000), "1,000");
  EXPECT_EQ(format_number(1234567), "1,234,567");
  EXPECT_EQ(format_number(-1234567.891, 2), "-1,234,567.89");
  EXPECT_EQ(format_number(-0.0001, 2), "0.00");  // no "-0.00"
  EXPECT_EQ(format_number(163840), "163,840");
  EXPECT_EQ(format_count(70272), "70,272");
  EXPECT_EQ(format_tick(0.25, 0.25), "0.25");
  EXPECT_EQ(format_tick(1050, 50), "1,050");
  EXPECT_EQ(format_tick(0.3, 0.1), "0.3");
  EXPECT_EQ(format_number(NAN), "n/a");
}

TEST(Format, BytesAndPercent) {
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(117120), "114.38 KiB");
  EXPECT_EQ(format_bytes(117120, true), "114.38 KiB (117,120 B)");
  EXPECT_EQ(format_bytes(140544000), "134.03 MiB");
  EXPECT_EQ(format_bytes(1023.5 * 1024 * 1024), "1,023.50 MiB");
  EXPECT_EQ(format_bytes(1536.0 * 1024 * 1024 * 1024), "1.50 TiB");
  EXPECT_EQ(format_percent(576.0 / 40960.0), "1.41 %");
  EXPECT_EQ(format_percent(576.0 / 32768.0), "1.76 %");
  EXPECT_EQ(format_percent(576.0 / 5120.0), "11.25 %");
  EXPECT_EQ(format_percent(0.00018), "0.018 %");
  EXPECT_EQ(prefixed("L", 60), "L60");
}

TEST(ZoomWindow, ClampsZoomsAboutTheMouseAndPans) {
  ZoomWindow z;
  float b, e;
  z.range(256, &b, &e);
  EXPECT_FLOAT_EQ(b, 0);
  EXPECT_FLOAT_EQ(e, 256);
  // Zoom x4 about expert 128: the item under the mouse stays where it was (half way).
  z.zoom_about(256, 128, 4.0f, 64);
  z.range(256, &b, &e);
  EXPECT_FLOAT_EQ(e - b, 64);
  EXPECT_FLOAT_EQ((128 - b) / (e - b), 0.5f);
  // Pan past the end: the window stops at the last item.
  z.pan(256, 1000);
  z.range(256, &b, &e);
  EXPECT_FLOAT_EQ(e, 256);
  EXPECT_FLOAT_EQ(b, 192);
  z.pan(256, -1000);
  z.range(256, &b, &e);
  EXPECT_FLOAT_EQ(b, 0);
  // Never zooms out past the whole axis or in past the limit.
  z.zoom_about(256, 10, 0.01f, 64);
  EXPECT_FLOAT_EQ(z.zoom, 1.0f);
  z.zoom_about(256, 10, 1000.0f, 64);
  EXPECT_FLOAT_EQ(z.zoom, 64.0f);
}

// Sharma, Wu, Dalal (2005), "The CIEDE2000 color-difference formula: implementation notes,
// supplementary test data, and mathematical observations", Table 1 (pairs 1, 7, 17, 18, 19, 20, 21, 25).
TEST(Colors, Ciede2000MatchesThePublishedPairs) {
  struct P {
    Lab a, b;
    double de;
  };
  const P pairs[] = {{{50, 2.6772f, -79.7751f}, {50, 0, -82.7485f}, 2.0425}, {{50, 0, 0}, {50, -1, 2}, 2.3669},
                     {{50, 2.5f, 0}, {73, 25, -18}, 27.1492},              {{50, 2.5f, 0}, {61, -5, 29}, 22.8977},
                     {{50, 2.5f, 0}, {56, -27, -3}, 31.9030},              {{50, 2.5f, 0}, {58, 24, 15}, 19.4535},
                     {{50, 2.5f, 0}, {50, 3.1736f, 0.5854f}, 1.0000},      {{60.2574f, -34.0099f, 36.2677f}, {60.4626f, -34.1751f, 39.4387f}, 1.2644}};
  for (const P& p : pairs) {
    EXPECT_NEAR(ciede2000(p.a, p.b), p.de, 1e-3) << p.a.L << " " << p.a.a << " " << p.a.b;
    EXPECT_NEAR(ciede2000(p.b, p.a), p.de, 1e-3);  // symmetric
  }
  // sRGB white is L 100, a = b = 0; Lab -> sRGB inverts sRGB -> Lab.
  const Lab w = rgb_to_lab({1, 1, 1});
  EXPECT_NEAR(w.L, 100, 1e-3);
  EXPECT_NEAR(w.a, 0, 1e-3);
  EXPECT_NEAR(w.b, 0, 1e-3);
  const Rgb back = lab_to_rgb(rgb_to_lab({0.2f, 0.5f, 0.7f}));
  EXPECT_NEAR(back.r, 0.2f, 1e-4);
  EXPECT_NEAR(back.g, 0.5f, 1e-4);
  EXPECT_NEAR(back.b, 0.7f, 1e-4);
}

namespace {
double de(int a, int b, int E, int G) { return ciede2000(rgb_to_lab(expert_color(a, E, G)), rgb_to_lab(expert_color(b, E, G))); }
double min_de(int E, int G, bool across_groups_only) {
  double m = 1e9;
  for (int a = 0; a < E; ++a)
    for (int b = a + 1; b < E; ++b)
      if (!across_groups_only || expert_group(a, E, G) != expert_group(b, E, G)) m = std::min(m, de(a, b, E, G));
  return m;
}
}  // namespace

TEST(Colors, SixteenExpertsAreTellApartAtAGlance) {
  // The demo model: 16 experts in 4 groups. The pairs the issue named, and every other pair, differ
  // by more than 10 CIEDE2000 units (~1 is just noticeable).
  EXPECT_GT(de(7, 12, 16, 4), 10.0);
  EXPECT_GT(de(2, 15, 16, 4), 10.0);
  EXPECT_GT(min_de(16, 4, false), 12.0);
  // (The golden-ratio hues this palette replaced gave e2/e15 4.3 and e7/e12 11.1.)
}

TEST(Colors, GroupsAtDeepSeekScaleShowAsHues) {
  // V3: 256 experts in 8 groups of 32. 32 shades of one hue cannot all be told apart, so the hue
  // tells the group (every cross-group pair > 5) and no two experts share a colour (> 0.5).
  EXPECT_EQ(color_groups(256, 8), 8);
  EXPECT_EQ(expert_group(255, 256, 8), 7);
  EXPECT_EQ(expert_group(32, 256, 8), 1);
  EXPECT_GT(min_de(256, 8, true), 5.0);
  EXPECT_GT(min_de(256, 8, false), 0.5);
  // V2-Lite: 64 experts without groups: blocks of 8 share a hue.
  EXPECT_EQ(color_groups(64, 1), 8);
  EXPECT_GT(min_de(64, 1, false), 5.0);
  // The group colour used by legends is its own hue: closer to its experts than to any other group's.
  for (int g = 0; g < 8; ++g) {
    const Lab gc = rgb_to_lab(group_color(g, 8));
    double own = 0, other = 0;
    for (int e = 0; e < 256; ++e) (expert_group(e, 256, 8) == g ? own : other) += ciede2000(gc, rgb_to_lab(expert_color(e, 256, 8)));
    EXPECT_LT(own / 32, other / 224) << g;
  }
}

TEST(FitHeight, ChartsShrinkInSmallTilesSoTheirAxesStayVisible) {
  // A roomy tile: 60 % of 400 px, inside [150, 300].
  EXPECT_FLOAT_EQ(fit_height(400, 0.6f, 150, 300, 30), 240);
  // A 1280x800 tile leaves 110 px: min_h 150 would push the axis out; 110 - 30 reserved = 80.
  EXPECT_FLOAT_EQ(fit_height(110, 0.6f, 150, 300, 30), 80);
  // Never below the 60 px floor, however little is left.
  EXPECT_FLOAT_EQ(fit_height(50, 0.6f, 150, 300, 30), 60);
  // max_h caps a tall panel; max_h < min_h means min_h.
  EXPECT_FLOAT_EQ(fit_height(2000, 0.6f, 150, 300, 30), 300);
  EXPECT_FLOAT_EQ(fit_height(1000, 0.1f, 150, 100, 0), 150);
  // A heatmap that needs 110 px to be read keeps them and lets the panel scroll instead.
  EXPECT_FLOAT_EQ(fit_height(120, 0.6f, 150, 300, 36, 110), 110);
  EXPECT_FLOAT_EQ(fit_height(300, 0.6f, 150, 300, 36, 110), 180);
}

TEST(Elide, CutsWholeUtf8CharactersAndMarksTheCut) {
  // One pixel per byte: a simple, exact measure.
  auto bytes = [](const std::string& s) { return static_cast<float>(s.size()); };
  EXPECT_EQ(elide("demo: prose", 20, bytes), "demo: prose");
  EXPECT_EQ(elide("demo: prose then code", 10, bytes), "demo: p...");
  EXPECT_EQ(elide("abc", 2, bytes), "");
  EXPECT_EQ(elide("abcdef", 3, bytes), "...");
  // "東" and "京" are 3 bytes each: a cut never splits one, so 7 px keep "東" and 5 px none.
  EXPECT_EQ(elide("東京 river", 7, bytes), "東...");
  EXPECT_EQ(elide("東京 river", 5, bytes), "...");
  EXPECT_EQ(elide("a東京", 6, bytes), "a...");
  EXPECT_EQ(elide("a東京", 7, bytes), "a東京");
}
