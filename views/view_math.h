// views/view_math.h — the arithmetic behind the panels, kept free of ImGui so tests can check it
// against independent math: colour maps, expert-load balance, attention cells, route explanations.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "engine/config.h"
#include "engine/trace/step_record.h"

namespace mlascope::views {

struct Rgb {
  float r = 0, g = 0, b = 0;  // [0,1]
};

// HSV (h in turns, s and v in [0,1]) to RGB.
Rgb hsv(float h, float s, float v);
// CIELAB (D65) and the CIEDE2000 colour difference (Sharma, Wu, Dalal 2005): ~1 is a just
// noticeable difference, >10 tells two colours apart at a glance.
struct Lab {
  float L = 0, a = 0, b = 0;
};
Lab rgb_to_lab(Rgb c);
Rgb lab_to_rgb(Lab c);  // clamped to [0,1]
double ciede2000(Lab x, Lab y);
// CIE LCh (hue in degrees) to sRGB, lowering the chroma until the colour is inside the sRGB gamut.
Rgb lch_to_rgb(float L, float C, float h_deg);

// Expert colours: the hue says the group (the model's routing groups, n_group; a model without
// groups is cut into blocks of 8 experts), the shade (lightness and a small hue step) the expert
// inside it. At DeepSeek's 256 experts in 8 groups the hue alone tells the group and the legend
// and labels tell the expert; at 16 experts every pair differs by more than 10 CIEDE2000 units.
int color_groups(int n_experts, int n_group);
int expert_group(int expert, int n_experts, int n_group);
Rgb expert_color(int expert, int n_experts, int n_group = 1);
// The group's own colour (its middle shade), for legends and the group picker.
Rgb group_color(int group, int n_groups);
// Colour of a whole expert set: the weighted mean of the experts' colours in CIELAB. Tokens routed
// to similar sets get similar colours; a token spread over opposing hues goes grey.
Rgb expert_set_color(const RouteRow& r, int n_experts, int n_group = 1);
// Sequential ramp for heatmaps, t in [0,1] (clamped): dark blue -> teal -> yellow, monotone in luminance.
Rgb heat_color(float t);
// Diverging ramp for signed values, t in [-1,1]: blue (neg) -> near-black (0) -> red (pos).
Rgb diverging_color(float t);
float luminance(Rgb c);
uint32_t to_abgr(Rgb c, float alpha = 1.0f);  // ImGui's IM_COL32 layout

// Balance of an expert-load histogram (routed slots per expert).
struct LoadStats {
  double total = 0, mean = 0, max = 0, min = 0;
  double max_over_mean = 0;  // 1 = perfectly balanced
  double cv = 0;             // population standard deviation / mean
  int argmax = -1;           // busiest expert; -1 when nothing was routed
};
LoadStats load_stats(std::span<const double> load);

// One cell of the attention heatmap: head -1 averages the heads. part: 0 probs, 1 nope, 2 rope,
// 3 nope + rope. Returns NaN when the part was not captured.
float attention_cell(const AttentionRow& a, int head, int key, int part);
// Range of a part over a row (min, max) for normalising the colours.
void attention_range(const AttentionRow& a, int head, int part, float* lo, float* hi);

// "Why this expert": the routing decision recomputed from recorded scores so a reader can follow it.
struct RouteExplanation {
  std::vector<float> group_score;  // per group: what group-limited routing ranks groups by
  uint64_t kept_groups = 0;        // bit g: group g kept
  std::vector<int> chosen;         // top-k experts in descending selection score
  float last_chosen = 0;           // selection score of the k-th expert
  float best_rejected = 0;         // best selection score among the experts not chosen
  float margin = 0;                // last_chosen - best_rejected (>= 0)
  int best_rejected_expert = -1;
};
// `selection`: biased scores (scores + bias; equal to the scores without a bias). Group scores
// follow the config: noaux_tc sums each group's top-2, group_limited_greedy takes each group's max,
// greedy keeps every group.
RouteExplanation explain_route(const ModelConfig& c, std::span<const float> selection);

// A window over an index axis [0, n): zoom >= 1 shows n / zoom items starting at `first`.
struct ZoomWindow {
  float zoom = 1.0f;
  float first = 0.0f;  // first visible item (fractional while panning)
  // Visible range [b, e) for n items, clamped so the window stays inside [0, n).
  void range(int n, float* b, float* e) const;
  // Wheel zoom about an anchor item (keeps the item under the mouse in place), clamped to [1, max_zoom].
  void zoom_about(int n, float anchor_item, float factor, float max_zoom);
  // Drag by `items` (positive = towards higher indices).
  void pan(int n, float items);
  void reset() { zoom = 1.0f, first = 0.0f; }
};

// Zoom/pan state of a heatmap (views/chart.h heat_grid): one window per axis.
struct GridView {
  ZoomWindow x, y;
  bool active = false;  // being dragged
};

// Long-context curve points for the KV panel: n = 0..max_ctx in `n_points` steps.
std::vector<double> context_axis(int64_t max_ctx, int n_points);

}  // namespace mlascope::views
