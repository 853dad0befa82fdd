// views/chart.h — the one chart helper every panel draws its plots with: nice tick values,
// numbers with thousands separators, axes with ticks and titles (units in the title), colour
// bars, legends and a zoom/pan window over index axes. The arithmetic (ticks, formatting, the
// zoom window) is free of ImGui so tests can check it; the drawing functions take a draw list.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <imgui.h>

#include "view_math.h"

namespace mlascope::views {

// ---------------------------------------------------------------------------------- arithmetic

// "Nice" tick values (1, 2 or 5 x 10^k apart, as in Heckbert's "Nice numbers for graph labels")
// inside [lo, hi]: the smallest such step that gives at most max_ticks ticks. integer: steps >= 1.
std::vector<double> nice_ticks(double lo, double hi, int max_ticks, bool integer = false);
// The step nice_ticks chose (0 when it returned fewer than two ticks).
double nice_step(double lo, double hi, int max_ticks, bool integer = false);
// Ticks for a log axis over [lo, hi] (lo > 0): the powers of ten inside, with 2 and 5 between
// them when fewer than three decades are shown.
std::vector<double> log_ticks(double lo, double hi);

// 1234567 -> "1,234,567"; decimals after the point; -0 prints as 0.
std::string format_number(double v, int decimals = 0);
inline std::string format_count(int64_t v) { return format_number(static_cast<double>(v), 0); }
// prefix + integer, built by append (GCC 12 warns falsely, -Wrestrict, on "L" + std::to_string(x)).
std::string prefixed(const char* prefix, int64_t v);
// A tick label: as many decimals as the step needs (step 0.25 -> "0.25", step 50 -> "1,050").
std::string format_tick(double v, double step);
// Byte counts with binary units and the exact count: "114.38 KiB (117,120 B)" when exact.
std::string format_bytes(double bytes, bool exact = false);
// Percent with enough digits to tell 1.41 % from 1.76 %: "1.41 %", "11.25 %", "0.018 %".
std::string format_percent(double fraction);

// Height for a chart that should take `frac` of the space left (at least min_h, at most max_h)
// while `reserve` pixels below it stay visible (a header, a line of text): in a small tile the
// chart shrinks to fit, down to `floor` px (what it needs to stay readable: below that the panel
// scrolls), rather than pushing its axes out of sight.
float fit_height(float avail, float frac, float min_h, float max_h, float reserve, float floor = 60.0f);
// `s` cut to fit `max_w` with "..." at the end (whole UTF-8 characters), or unchanged when it fits;
// `width` measures a string (ImGui::CalcTextSize in the panels).
std::string elide(const std::string& s, float max_w, const std::function<float(const std::string&)>& width);

// ---------------------------------------------------------------------------------- drawing

using TickLabel = std::function<std::string(double)>;

struct AxisSpec {
  double lo = 0, hi = 1;
  std::string title;         // what is counted, with its unit: "KV cache (MiB, bf16)", "key token #"
  bool log = false;
  bool integer = false;      // index axes: ticks on whole items
  bool centered = false;     // index axes: item i covers [i, i + 1); ticks sit at the item's middle
  bool flipped = false;      // y only: values grow downwards (rows of a matrix)
  int max_ticks = 6;
  TickLabel label;           // default: format_tick
};

// The plot rectangle inside a chart of the given outer size, after the margins the tick labels
// and titles need. Maps data to pixels.
struct ChartFrame {
  ImVec2 outer0, outer1, plot0, plot1;
  AxisSpec x, y;
  float x_of(double v) const;
  float y_of(double v) const;
  double x_at(float px) const;
  double y_at(float py) const;
  bool contains(ImVec2 p) const { return p.x >= plot0.x && p.x < plot1.x && p.y >= plot0.y && p.y < plot1.y; }
};

// Lays out a chart at the cursor filling `size` (use ImGui::GetContentRegionAvail() pieces),
// reserves it with an InvisibleButton named `id` (hover/drag via ImGui::IsItemHovered/Active
// right after), and returns the frame. Draw the data, then call draw_axes.
ChartFrame begin_chart(const char* id, ImVec2 size, AxisSpec x, AxisSpec y);
// Left and bottom axes: lines, ticks, tick labels, titles; light grid lines inside when `grid`.
void draw_axes(ImDrawList* dl, const ChartFrame& f, bool grid = true);

using Ramp = Rgb (*)(float);  // t in [0, 1]
// A horizontal colour bar of width w at the cursor: the ramp from lo to hi with ticks and a title.
// `map` turns a value into the ramp position (default: linear between lo and hi).
void color_bar(const char* title, double lo, double hi, Ramp ramp, float w, const std::function<float(double)>& map = {});

// A zoomable heatmap with labelled axes: nx x ny cells, value(x, y) in [0, 1] (NaN = no cell)
// coloured by `ramp`. Ctrl+wheel zooms about the mouse, wheel pans the rows when zoomed, drag
// pans; cells smaller than ~2 px are binned (a bin shows its largest value). The image of the
// visible window is rebuilt only when `key` or the window changes.
struct HeatmapImage;
struct GridHover {
  int x = -1, y = -1;   // the cell under the mouse, -1 = none
  bool clicked = false; // released without dragging
};
GridHover heat_grid(const char* id, ImVec2 size, int nx, int ny, GridView& view, AxisSpec xs, AxisSpec ys, HeatmapImage& img,
                    uint64_t key, const std::function<float(int x, int y)>& value, Ramp ramp,
                    const std::function<void(ImDrawList*, const ChartFrame&)>& overlay = {});

struct LegendItem {
  std::string label;
  Rgb color;
  bool line = false;  // a line sample instead of a filled square
};
// Items left to right, wrapping at the content width.
void legend(const std::vector<LegendItem>& items);

}  // namespace mlascope::views
