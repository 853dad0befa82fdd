// app/gui/layout.h — the workbench's tiling: a tree of rows and columns whose leaves are panels,
// turned into rectangles for a window size by pure functions (unit-tested without a window).
//
// Closed panels give their space to their neighbours, a split left with one child is that child,
// and a maximized panel takes the whole area, so any set of open panels fills the window. The
// splitters between neighbours move the weights; weights are shares, so a resized window keeps
// the proportions. The layout is remembered in a small JSON file (see save_layout/load_layout):
//
//   {"mlascope_layout": 1, "maximized": "", "open": ["chat", "tokens"],
//    "root": {"split": "column", "children": [{"panel": "chat", "weight": 1}, ...]}}
#pragma once
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace mlascope::app::gui {

struct Rect {
  float x = 0, y = 0, w = 0, h = 0;
  float right() const { return x + w; }
  float bottom() const { return y + h; }
  bool contains(const Rect& o, float eps = 0.5f) const {
    return o.x >= x - eps && o.y >= y - eps && o.right() <= right() + eps && o.bottom() <= bottom() + eps;
  }
  bool operator==(const Rect&) const = default;
};

struct LayoutNode {
  enum class Kind { Panel, Row, Column };  // Row: children left to right; Column: top to bottom
  Kind kind = Kind::Panel;
  std::string panel;                 // Kind::Panel
  float weight = 1.0f;               // share of the parent split (relative to its siblings)
  std::vector<LayoutNode> children;  // Row / Column
};

struct Layout {
  LayoutNode root;
  std::string maximized;   // the panel shown alone ("" = none)
  std::vector<std::string> open;  // panels open when the layout was saved
};

// Three rows: chat | token strip (twice as wide); tour | routing | attention; KV | replay | sessions.
Layout default_layout();

struct Tile {
  std::string panel;
  Rect rect;
};
// A splitter between two neighbouring shown children (a, b: indices in the node's children) of
// the split at `path` (child indices from the root). `vertical`: a vertical bar between children
// of a Row (drag left/right).
struct Splitter {
  std::vector<int> path;
  int a = 0, b = 0;
  bool vertical = true;
  Rect rect;         // the gap between the two tiles: where the mouse grabs it
  float size_a = 0;  // current extent of child a and b along the split (px)
  float size_b = 0;
};
struct Tiling {
  std::vector<Tile> tiles;
  std::vector<Splitter> splitters;
  const Tile* find(const std::string& panel) const;
};

using IsOpen = std::function<bool(const std::string& panel)>;
// Tiles for the open panels in `area`, `gap` px between neighbours (the splitter handles).
// Panels open but missing from the tree are not placed: call ensure_panels first.
Tiling tile(const Layout& layout, const IsOpen& open, Rect area, float gap);

// Moves a splitter by `delta` px; each neighbour keeps at least `min_px` (when both fit).
void drag_splitter(Layout& layout, const Splitter& s, float delta, float min_px);

// Every id in `ids` appears exactly once: unknown panels are dropped, missing ones are added
// as a new row at the bottom of the root.
void ensure_panels(Layout& layout, std::span<const std::string> ids);
// All panel ids in the tree, depth first.
std::vector<std::string> panel_ids(const LayoutNode& node);

// JSON text of a layout, and back. parse_layout throws Error "[layout] SOURCE: FIELD: ..." naming
// the field that is wrong (a corrupt or hand-edited file).
std::string layout_to_json(const Layout& layout);
Layout parse_layout(const std::string& text, const std::string& source_name);

// The file in the user's config dir ($XDG_CONFIG_HOME/mlascope/layout.json, else
// ~/.config/mlascope/layout.json).
std::filesystem::path default_layout_file();
// Reads `file`; a missing file gives the defaults silently; an unreadable or corrupt one gives the
// defaults and a one-line `warning` naming the file and the field. ensure_panels(ids) is applied.
Layout load_layout(const std::filesystem::path& file, std::span<const std::string> ids, std::string* warning);
// Writes through a temporary file and a rename, so a crash never leaves half a layout behind.
// Throws Error naming the file when it cannot write.
void save_layout(const std::filesystem::path& file, const Layout& layout);

}  // namespace mlascope::app::gui
