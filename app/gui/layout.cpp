// app/gui/layout.cpp — see layout.h.
#include "layout.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace mlascope::app::gui {

namespace fs = std::filesystem;
using Kind = LayoutNode::Kind;

namespace {

LayoutNode leaf(const char* id, float weight = 1.0f) {
  LayoutNode n;
  n.kind = Kind::Panel;
  n.panel = id;
  n.weight = weight;
  return n;
}

LayoutNode split(Kind k, std::vector<LayoutNode> children, float weight = 1.0f) {
  LayoutNode n;
  n.kind = k;
  n.weight = weight;
  n.children = std::move(children);
  return n;
}

bool has_open(const LayoutNode& n, const IsOpen& open) {
  if (n.kind == Kind::Panel) return open(n.panel);
  return std::any_of(n.children.begin(), n.children.end(), [&](const LayoutNode& c) { return has_open(c, open); });
}

void place(const LayoutNode& n, std::vector<int>& path, Rect r, float gap, const IsOpen& open, Tiling& out) {
  if (n.kind == Kind::Panel) {
    out.tiles.push_back(Tile{n.panel, r});
    return;
  }
  std::vector<int> shown;
  for (size_t i = 0; i < n.children.size(); ++i)
    if (has_open(n.children[i], open)) shown.push_back(static_cast<int>(i));
  if (shown.empty()) return;
  const bool row = n.kind == Kind::Row;
  const float extent = row ? r.w : r.h;
  const float start = row ? r.x : r.y;
  const float along = std::max(0.0f, extent - gap * static_cast<float>(shown.size() - 1));
  double total = 0;
  for (int i : shown) total += std::max(1e-4f, n.children[static_cast<size_t>(i)].weight);
  // Edges on whole pixels from cumulative shares, so neighbours never overlap nor leave slivers.
  std::vector<float> b(shown.size()), e(shown.size());
  double acc = 0;
  for (size_t k = 0; k < shown.size(); ++k) {
    acc += std::max(1e-4f, n.children[static_cast<size_t>(shown[k])].weight);
    b[k] = k == 0 ? start : e[k - 1] + gap;
    e[k] = k + 1 == shown.size() ? start + extent
                                 : std::round(start + static_cast<float>(acc / total) * along + gap * static_cast<float>(k));
    e[k] = std::max(e[k], b[k]);
  }
  for (size_t k = 0; k < shown.size(); ++k) {
    Rect cr = r;
    if (row) {
      cr.x = b[k];
      cr.w = e[k] - b[k];
    } else {
      cr.y = b[k];
      cr.h = e[k] - b[k];
    }
    path.push_back(shown[k]);
    place(n.children[static_cast<size_t>(shown[k])], path, cr, gap, open, out);
    path.pop_back();
    if (k + 1 < shown.size()) {
      Splitter s;
      s.path = path;
      s.a = shown[k];
      s.b = shown[k + 1];
      s.vertical = row;
      s.rect = row ? Rect{e[k], r.y, gap, r.h} : Rect{r.x, e[k], r.w, gap};
      s.size_a = e[k] - b[k];
      s.size_b = e[k + 1] - b[k + 1];
      out.splitters.push_back(std::move(s));
    }
  }
}

LayoutNode* node_at(LayoutNode& root, const std::vector<int>& path) {
  LayoutNode* n = &root;
  for (int i : path) {
    if (i < 0 || static_cast<size_t>(i) >= n->children.size()) return nullptr;
    n = &n->children[static_cast<size_t>(i)];
  }
  return n;
}

// Drops leaves not in `keep` or seen before; splits left empty vanish. Returns false when `n` is empty.
bool prune(LayoutNode& n, std::span<const std::string> keep, std::vector<std::string>& seen) {
  if (n.kind == Kind::Panel) {
    if (std::find(keep.begin(), keep.end(), n.panel) == keep.end()) return false;
    if (std::find(seen.begin(), seen.end(), n.panel) != seen.end()) return false;
    seen.push_back(n.panel);
    return true;
  }
  std::vector<LayoutNode> kept;
  for (LayoutNode& c : n.children)
    if (prune(c, keep, seen)) kept.push_back(std::move(c));
  n.children = std::move(kept);
  return !n.children.empty();
}

void collect(const LayoutNode& n, std::vector<std::string>& out) {
  if (n.kind == Kind::Panel) out.push_back(n.panel);
  for (const LayoutNode& c : n.children) collect(c, out);
}

nlohmann::json node_json(const LayoutNode& n) {
  nlohmann::json j;
  if (n.kind == Kind::Panel) {
    j["panel"] = n.panel;
  } else {
    j["split"] = n.kind == Kind::Row ? "row" : "column";
    j["children"] = nlohmann::json::array();
    for (const LayoutNode& c : n.children) j["children"].push_back(node_json(c));
  }
  j["weight"] = n.weight;
  return j;
}

LayoutNode parse_node(const nlohmann::json& j, const std::string& src, const std::string& where, int depth) {
  if (depth > 16) fail("layout", src, where + ": nested deeper than 16 splits");
  if (!j.is_object()) fail("layout", src, where + ": must be an object");
  LayoutNode n;
  if (j.contains("weight")) {
    const auto& w = j["weight"];
    if (!w.is_number() || !std::isfinite(w.get<double>()) || w.get<double>() <= 0 || w.get<double>() > 1e6)
      fail("layout", src, where + ".weight: must be a positive number");
    n.weight = w.get<float>();
  }
  const bool has_panel = j.contains("panel"), has_split = j.contains("split");
  if (has_panel == has_split) fail("layout", src, where + ": needs either \"panel\" or \"split\"");
  if (has_panel) {
    if (!j["panel"].is_string() || j["panel"].get<std::string>().empty()) fail("layout", src, where + ".panel: must be a panel id");
    n.kind = Kind::Panel;
    n.panel = j["panel"].get<std::string>();
    return n;
  }
  const auto& s = j["split"];
  if (!s.is_string() || (s != "row" && s != "column")) fail("layout", src, where + ".split: must be \"row\" or \"column\"");
  n.kind = s == "row" ? Kind::Row : Kind::Column;
  if (!j.contains("children") || !j["children"].is_array() || j["children"].empty())
    fail("layout", src, where + ".children: must be a non-empty array");
  for (size_t i = 0; i < j["children"].size(); ++i)
    n.children.push_back(parse_node(j["children"][i], src, where + ".children[" + std::to_string(i) + "]", depth + 1));
  return n;
}

}  // namespace

const Tile* Tiling::find(const std::string& panel) const {
  for (const Tile& t : tiles)
    if (t.panel == panel) return &t;
  return nullptr;
}

Layout default_layout() {
  Layout l;
  l.root = split(Kind::Column, {split(Kind::Row, {leaf("chat"), leaf("tokens", 2.0f)}),
                                split(Kind::Row, {leaf("tour"), leaf("routing"), leaf("attention")}),
                                split(Kind::Row, {leaf("kv_memory"), leaf("replay"), leaf("sessions")})});
  return l;
}

Tiling tile(const Layout& layout, const IsOpen& open, Rect area, float gap) {
  Tiling out;
  if (!layout.maximized.empty() && open(layout.maximized)) {
    out.tiles.push_back(Tile{layout.maximized, area});
    return out;
  }
  if (!has_open(layout.root, open)) return out;
  std::vector<int> path;
  place(layout.root, path, area, gap, open, out);
  return out;
}

void drag_splitter(Layout& layout, const Splitter& s, float delta, float min_px) {
  LayoutNode* n = node_at(layout.root, s.path);
  if (!n || n->kind == Kind::Panel) return;
  if (s.a < 0 || s.b < 0 || static_cast<size_t>(std::max(s.a, s.b)) >= n->children.size()) return;
  const float total = s.size_a + s.size_b;
  if (total <= 0) return;
  const float lo = std::min(min_px, total / 2);
  const float new_a = std::clamp(s.size_a + delta, lo, total - lo);
  LayoutNode& a = n->children[static_cast<size_t>(s.a)];
  LayoutNode& b = n->children[static_cast<size_t>(s.b)];
  const float w = a.weight + b.weight;
  a.weight = w * new_a / total;
  b.weight = w - a.weight;
}

void ensure_panels(Layout& layout, std::span<const std::string> ids) {
  std::vector<std::string> seen;
  if (!prune(layout.root, ids, seen)) layout.root = split(Kind::Column, {});
  std::vector<LayoutNode> missing;
  for (const std::string& id : ids)
    if (std::find(seen.begin(), seen.end(), id) == seen.end()) missing.push_back(leaf(id.c_str()));
  if (!missing.empty()) {
    if (layout.root.kind != Kind::Column) layout.root = split(Kind::Column, {std::move(layout.root)});
    layout.root.children.push_back(missing.size() == 1 ? std::move(missing[0]) : split(Kind::Row, std::move(missing)));
  }
  // A split with one child is that child (keeps the tree as simple as what it shows).
  while (layout.root.kind != Kind::Panel && layout.root.children.size() == 1) {
    LayoutNode only = std::move(layout.root.children[0]);
    layout.root = std::move(only);
  }
  if (!layout.maximized.empty() && std::find(ids.begin(), ids.end(), layout.maximized) == ids.end()) layout.maximized.clear();
  std::erase_if(layout.open, [&](const std::string& id) { return std::find(ids.begin(), ids.end(), id) == ids.end(); });
}

std::vector<std::string> panel_ids(const LayoutNode& node) {
  std::vector<std::string> out;
  collect(node, out);
  return out;
}

std::string layout_to_json(const Layout& layout) {
  nlohmann::json j;
  j["mlascope_layout"] = 1;
  j["maximized"] = layout.maximized;
  j["open"] = layout.open;
  j["root"] = node_json(layout.root);
  return j.dump(1) + "\n";
}

Layout parse_layout(const std::string& text, const std::string& src) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail("layout", src, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) fail("layout", src, "top level must be an object");
  if (!j.contains("mlascope_layout") || !j["mlascope_layout"].is_number_integer() || j["mlascope_layout"].get<int64_t>() != 1)
    fail("layout", src, "mlascope_layout: must be 1 (the layout file version)");
  Layout l;
  if (j.contains("maximized")) {
    if (!j["maximized"].is_string()) fail("layout", src, "maximized: must be a string");
    l.maximized = j["maximized"].get<std::string>();
  }
  if (j.contains("open")) {
    if (!j["open"].is_array()) fail("layout", src, "open: must be an array of panel ids");
    for (size_t i = 0; i < j["open"].size(); ++i) {
      if (!j["open"][i].is_string()) fail("layout", src, "open[" + std::to_string(i) + "]: must be a panel id");
      l.open.push_back(j["open"][i].get<std::string>());
    }
  }
  if (!j.contains("root")) fail("layout", src, "root: missing");
  l.root = parse_node(j["root"], src, "root", 0);
  return l;
}

fs::path default_layout_file() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  const char* home = std::getenv("HOME");
  const fs::path dir = xdg && *xdg ? fs::path(xdg) : fs::path(home ? home : ".") / ".config";
  return dir / "mlascope" / "layout.json";
}

Layout load_layout(const fs::path& file, std::span<const std::string> ids, std::string* warning) {
  Layout l = default_layout();
  l.open.assign(ids.begin(), ids.end());
  std::error_code ec;
  if (!file.empty() && fs::exists(file, ec)) {
    try {
      std::ifstream in(file, std::ios::binary);
      if (!in) fail("layout", file.string(), "cannot open");
      std::stringstream ss;
      ss << in.rdbuf();
      Layout read = parse_layout(ss.str(), file.string());
      if (!read.open.empty() || ss.str().find("\"open\"") != std::string::npos) l = std::move(read);
      else {
        read.open = l.open;
        l = std::move(read);
      }
    } catch (const Error& e) {
      if (warning) *warning = std::string(e.what()) + " (using the default layout)";
      l = default_layout();
      l.open.assign(ids.begin(), ids.end());
    }
  }
  ensure_panels(l, ids);
  return l;
}

void save_layout(const fs::path& file, const Layout& layout) {
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  const fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("layout", tmp.string(), "cannot write");
    out << layout_to_json(layout);
    if (!out.flush()) fail("layout", tmp.string(), "cannot write");
  }
  fs::rename(tmp, file, ec);
  if (ec) fail("layout", file.string(), "cannot replace: " + ec.message());
}

}  // namespace mlascope::app::gui
