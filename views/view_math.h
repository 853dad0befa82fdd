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
// A distinct hue per expert (golden-ratio spacing, so neighbours differ), full saturation.
Rgb expert_color(int expert, int n_experts);
// Colour of a whole expert set: the weighted mean of the experts' hue vectors. Tokens routed to
// similar sets get similar colours; a token spread over opposing hues goes grey.
Rgb expert_set_color(const RouteRow& r, int n_experts);
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
  int argmax = -1;
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

// Long-context curve points for the KV panel: n = 0..max_ctx in `n_points` steps.
std::vector<double> context_axis(int64_t max_ctx, int n_points);

}  // namespace mlascope::views
