// tests/views/test_gui_layout.cpp — the workbench tiling as pure functions: rectangles from the
// layout tree and a window size, splitter drags, closed and maximized panels, and the layout file
// (round trip, corrupt files named with their field, defaults).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "app/gui/layout.h"
#include "engine/error.h"

using namespace mlascope;
using namespace mlascope::app::gui;
namespace fs = std::filesystem;

namespace {
const std::vector<std::string> kIds = {"chat", "tokens", "routing", "attention", "tour", "kv_memory", "replay", "sessions"};

IsOpen only(std::set<std::string> ids) {
  return [ids](const std::string& p) { return ids.count(p) > 0; };
}
IsOpen all() {
  return [](const std::string&) { return true; };
}

bool overlap(const Rect& a, const Rect& b) {
  return std::min(a.right(), b.right()) > std::max(a.x, b.x) && std::min(a.bottom(), b.bottom()) > std::max(a.y, b.y);
}

// The tiles and gaps cover the area exactly: no overlap, nothing outside, no space left over.
void expect_fills(const Tiling& t, const Rect& area) {
  double covered = 0;
  for (size_t i = 0; i < t.tiles.size(); ++i) {
    EXPECT_TRUE(area.contains(t.tiles[i].rect, 0)) << t.tiles[i].panel;
    EXPECT_GT(t.tiles[i].rect.w, 0) << t.tiles[i].panel;
    EXPECT_GT(t.tiles[i].rect.h, 0) << t.tiles[i].panel;
    covered += static_cast<double>(t.tiles[i].rect.w) * t.tiles[i].rect.h;
    for (size_t j = i + 1; j < t.tiles.size(); ++j) EXPECT_FALSE(overlap(t.tiles[i].rect, t.tiles[j].rect)) << t.tiles[i].panel << " / " << t.tiles[j].panel;
  }
  for (const Splitter& s : t.splitters) {
    EXPECT_TRUE(area.contains(s.rect, 0));
    for (const Tile& x : t.tiles) EXPECT_FALSE(overlap(s.rect, x.rect)) << x.panel;
  }
  // Gaps: what the splitters cover, less the crossings of a row's bars with a column's bars
  // (none here: splitters of different splits never cross, they end at their split's edge).
  double gaps = 0;
  for (const Splitter& s : t.splitters) gaps += static_cast<double>(s.rect.w) * s.rect.h;
  EXPECT_NEAR(covered + gaps, static_cast<double>(area.w) * area.h, 1.0);
}
}  // namespace

TEST(GuiLayout, DefaultTilesFillTheWindowInThreeRows) {
  const Rect area{0, 20, 1600, 950};
  Layout l = default_layout();
  const Tiling t = tile(l, all(), area, 4);
  ASSERT_EQ(t.tiles.size(), kIds.size());
  expect_fills(t, area);
  // Row 1: chat and the token strip (weights 1:2) share 1600 - 4 px.
  const Rect chat = t.find("chat")->rect, tokens = t.find("tokens")->rect;
  EXPECT_EQ(chat.x, 0);
  EXPECT_EQ(chat.w, 532);  // round(1596 / 3)
  EXPECT_EQ(tokens.x, 536);
  EXPECT_EQ(tokens.w, 1064);
  // Three rows of round((950 - 8) / 3) = 314 px.
  EXPECT_EQ(chat.y, 20);
  EXPECT_EQ(chat.h, 314);
  EXPECT_EQ(t.find("routing")->rect.y, 20 + 314 + 4);
  EXPECT_EQ(t.find("sessions")->rect.bottom(), 970);
  EXPECT_EQ(t.splitters.size(), 2u + 1u + 2u + 2u);  // two row bars, one chat|tokens, two in rows 2 and 3
}

TEST(GuiLayout, ClosedPanelsGiveTheirSpaceToWhatRemains) {
  const Rect area{0, 0, 1280, 760};
  Layout l = default_layout();
  const Tiling t = tile(l, only({"routing", "kv_memory"}), area, 6);
  ASSERT_EQ(t.tiles.size(), 2u);
  expect_fills(t, area);
  // Each is alone in its row, so it spans the width; the two rows split the height.
  EXPECT_EQ(t.find("routing")->rect, (Rect{0, 0, 1280, 377}));
  EXPECT_EQ(t.find("kv_memory")->rect, (Rect{0, 383, 1280, 377}));
  // One panel left: the whole area.
  const Tiling one = tile(l, only({"attention"}), area, 6);
  ASSERT_EQ(one.tiles.size(), 1u);
  EXPECT_EQ(one.tiles[0].rect, area);
  EXPECT_TRUE(one.splitters.empty());
  EXPECT_TRUE(tile(l, only({}), area, 6).tiles.empty());
}

TEST(GuiLayout, MaximizedPanelTakesTheWholeArea) {
  const Rect area{0, 22, 1600, 948};
  Layout l = default_layout();
  l.maximized = "routing";
  const Tiling t = tile(l, all(), area, 4);
  ASSERT_EQ(t.tiles.size(), 1u);
  EXPECT_EQ(t.tiles[0].panel, "routing");
  EXPECT_EQ(t.tiles[0].rect, area);
  // A maximized panel that was closed does not blank the window.
  EXPECT_EQ(tile(l, only({"chat", "tokens"}), area, 4).tiles.size(), 2u);
}

TEST(GuiLayout, DraggingASplitterMovesExactlyThoseTwoEdges) {
  const Rect area{0, 0, 1600, 1000};
  Layout l = default_layout();
  Tiling t = tile(l, all(), area, 4);
  // The bar between tour and routing (row 2): path {1}, children 0 and 1.
  auto it = std::find_if(t.splitters.begin(), t.splitters.end(), [](const Splitter& s) { return s.path == std::vector<int>{1} && s.a == 0; });
  ASSERT_NE(it, t.splitters.end());
  EXPECT_TRUE(it->vertical);
  const Rect tour0 = t.find("tour")->rect, routing0 = t.find("routing")->rect, attn0 = t.find("attention")->rect;
  EXPECT_EQ(it->size_a, tour0.w);
  EXPECT_EQ(it->size_b, routing0.w);
  drag_splitter(l, *it, -100, 120);
  t = tile(l, all(), area, 4);
  expect_fills(t, area);
  EXPECT_EQ(t.find("tour")->rect.w, tour0.w - 100);
  EXPECT_EQ(t.find("routing")->rect.x, routing0.x - 100);
  EXPECT_EQ(t.find("routing")->rect.w, routing0.w + 100);
  EXPECT_EQ(t.find("attention")->rect, attn0);  // the other neighbour did not move
  // Dragging past the minimum stops there.
  it = std::find_if(t.splitters.begin(), t.splitters.end(), [](const Splitter& s) { return s.path == std::vector<int>{1} && s.a == 0; });
  drag_splitter(l, *it, -5000, 120);
  t = tile(l, all(), area, 4);
  EXPECT_EQ(t.find("tour")->rect.w, 120);
  // A horizontal bar (between rows) changes heights.
  auto rows = std::find_if(t.splitters.begin(), t.splitters.end(), [](const Splitter& s) { return s.path.empty() && s.a == 0; });
  ASSERT_NE(rows, t.splitters.end());
  EXPECT_FALSE(rows->vertical);
  const float chat_h = t.find("chat")->rect.h;
  drag_splitter(l, *rows, 50, 120);
  t = tile(l, all(), area, 4);
  EXPECT_EQ(t.find("chat")->rect.h, chat_h + 50);
  expect_fills(t, area);
}

TEST(GuiLayout, ProportionsSurviveAWindowResize) {
  Layout l = default_layout();
  Tiling t = tile(l, all(), Rect{0, 0, 1600, 1000}, 0);
  drag_splitter(l, t.splitters[0], 200, 100);  // the first bar found
  const Tiling big = tile(l, all(), Rect{0, 0, 1600, 1000}, 0);
  const Tiling small = tile(l, all(), Rect{0, 0, 1280, 800}, 0);
  expect_fills(small, Rect{0, 0, 1280, 800});
  for (const Tile& b : big.tiles) {
    const Rect s = small.find(b.panel)->rect;
    EXPECT_NEAR(s.w / b.rect.w, 0.8, 0.01) << b.panel;
    EXPECT_NEAR(s.h / b.rect.h, 0.8, 0.01) << b.panel;
  }
}

TEST(GuiLayout, EnsurePanelsDropsUnknownAddsMissingAndDeduplicates) {
  Layout l = parse_layout(R"({"mlascope_layout": 1, "maximized": "gone", "open": ["chat", "gone"],
     "root": {"split": "row", "children": [{"panel": "chat"}, {"panel": "gone", "weight": 3}, {"panel": "chat"},
                                            {"split": "column", "children": [{"panel": "routing"}]}]}})",
                          "t.json");
  ensure_panels(l, kIds);
  std::vector<std::string> ids = panel_ids(l.root);
  EXPECT_EQ(ids.size(), kIds.size());
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), std::set<std::string>(kIds.begin(), kIds.end()));
  EXPECT_EQ(ids[0], "chat");
  EXPECT_EQ(ids[1], "routing");
  EXPECT_TRUE(l.maximized.empty());
  EXPECT_EQ(l.open, std::vector<std::string>{"chat"});
  const Rect area{0, 0, 1280, 800};
  expect_fills(tile(l, all(), area, 4), area);
}

TEST(GuiLayout, JsonRoundTripKeepsWeightsOpenAndMaximized) {
  Layout l = default_layout();
  Tiling t = tile(l, all(), Rect{0, 0, 1600, 1000}, 4);
  drag_splitter(l, t.splitters[1], 37, 100);
  l.maximized = "attention";
  l.open = {"chat", "attention"};
  const Layout back = parse_layout(layout_to_json(l), "round.json");
  EXPECT_EQ(back.maximized, "attention");
  EXPECT_EQ(back.open, l.open);
  const Rect area{0, 0, 1600, 1000};
  const IsOpen o = all();
  Layout a = l, b = back;
  a.maximized.clear();
  b.maximized.clear();
  const Tiling ta = tile(a, o, area, 4), tb = tile(b, o, area, 4);
  ASSERT_EQ(ta.tiles.size(), tb.tiles.size());
  for (size_t i = 0; i < ta.tiles.size(); ++i) {
    EXPECT_EQ(ta.tiles[i].panel, tb.tiles[i].panel);
    EXPECT_EQ(ta.tiles[i].rect, tb.tiles[i].rect) << ta.tiles[i].panel;
  }
}

TEST(GuiLayout, CorruptFilesNameTheFieldAndFallBackToDefaults) {
  auto message = [](const std::string& text) {
    try {
      parse_layout(text, "layout.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(message(R"({"mlascope_layout": 2, "root": {"panel": "chat"}})"),
            "[layout] layout.json: mlascope_layout: must be 1 (the layout file version)");
  EXPECT_EQ(message(R"({"mlascope_layout": 1, "root": {"split": "row", "children": [{"panel": "chat", "weight": -1}]}})"),
            "[layout] layout.json: root.children[0].weight: must be a positive number");
  EXPECT_EQ(message(R"({"mlascope_layout": 1, "root": {"split": "diagonal", "children": [{"panel": "chat"}]}})"),
            "[layout] layout.json: root.split: must be \"row\" or \"column\"");
  EXPECT_EQ(message(R"({"mlascope_layout": 1, "root": {"split": "row", "children": []}})"),
            "[layout] layout.json: root.children: must be a non-empty array");
  EXPECT_EQ(message(R"({"mlascope_layout": 1, "open": [3], "root": {"panel": "chat"}})"), "[layout] layout.json: open[0]: must be a panel id");
  EXPECT_EQ(message("{\"mlascope_layout\": 1, \"root\": {\"panel\": \"chat\"").rfind("[layout] layout.json: not valid JSON", 0), 0u);
  std::string deep = R"({"mlascope_layout": 1, "root": )";
  for (int i = 0; i < 40; ++i) deep += R"({"split": "row", "children": [)";
  deep += R"({"panel": "chat"})";
  for (int i = 0; i < 40; ++i) deep += "]}";
  deep += "}";
  EXPECT_NE(message(deep).find("nested deeper than 16 splits"), std::string::npos);

  const fs::path dir = fs::temp_directory_path() / ("mlascope_layout_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
  fs::create_directories(dir);
  const fs::path file = dir / "layout.json";
  std::string warning;
  // Missing file: defaults, silently.
  Layout l = load_layout(file, kIds, &warning);
  EXPECT_TRUE(warning.empty());
  EXPECT_EQ(l.open.size(), kIds.size());
  // Truncated file: defaults and one line naming the file.
  std::ofstream(file) << "{\"mlascope_layout\": 1, \"root\": {\"split\": \"ro";
  l = load_layout(file, kIds, &warning);
  EXPECT_EQ(warning.rfind("[layout] " + file.string() + ": not valid JSON", 0), 0u) << warning;
  EXPECT_EQ(warning.find('\n'), std::string::npos);
  EXPECT_EQ(l.open.size(), kIds.size());
  EXPECT_EQ(panel_ids(l.root), panel_ids(default_layout().root));
  // A saved layout comes back.
  Layout s = default_layout();
  s.maximized = "routing";
  s.open = {"routing", "chat"};
  save_layout(file, s);
  warning.clear();
  l = load_layout(file, kIds, &warning);
  EXPECT_TRUE(warning.empty()) << warning;
  EXPECT_EQ(l.maximized, "routing");
  EXPECT_EQ(l.open, (std::vector<std::string>{"routing", "chat"}));
  EXPECT_FALSE(fs::exists(file.string() + ".tmp"));
  fs::remove_all(dir);
}
