// views/view_math.cpp — see view_math.h.
#include "view_math.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace mlascope::views {

Rgb hsv(float h, float s, float v) {
  h = h - std::floor(h);
  const float x = h * 6.0f;
  const int i = static_cast<int>(x) % 6;
  const float f = x - std::floor(x);
  const float p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  switch (i) {
    case 0: return {v, t, p};
    case 1: return {q, v, p};
    case 2: return {p, v, t};
    case 3: return {p, q, v};
    case 4: return {t, p, v};
    default: return {v, p, q};
  }
}

namespace {
constexpr float kGolden = 0.61803398875f;
float expert_hue(int expert) { return std::fmod(static_cast<float>(expert) * kGolden, 1.0f); }
}  // namespace

Rgb expert_color(int expert, int /*n_experts*/) {
  if (expert < 0) return {0.35f, 0.35f, 0.35f};
  return hsv(expert_hue(expert), 0.65f, 0.95f);
}

Rgb expert_set_color(const RouteRow& r, int /*n_experts*/) {
  // Hues are angles, so average them as unit vectors; the vector's length says how much the set agrees.
  double x = 0, y = 0, w_sum = 0;
  for (int i = 0; i < r.k; ++i) {
    if (r.expert[i] < 0) continue;
    const double a = 2.0 * M_PI * expert_hue(r.expert[i]);
    const double w = std::max(0.0f, r.weight[i]);
    x += w * std::cos(a);
    y += w * std::sin(a);
    w_sum += w;
  }
  if (w_sum <= 0) return {0.35f, 0.35f, 0.35f};
  double h = std::atan2(y, x) / (2.0 * M_PI);
  if (h < 0) h += 1.0;
  const double agreement = std::hypot(x, y) / w_sum;  // 1 = one expert, 0 = opposing hues
  return hsv(static_cast<float>(h), static_cast<float>(0.15 + 0.6 * agreement), 0.95f);
}

Rgb heat_color(float t) {
  if (!(t >= 0.0f)) t = 0.0f;  // NaN too
  t = std::min(t, 1.0f);
  // Piecewise-linear through four stops with rising luminance.
  static const Rgb stops[] = {{0.05f, 0.03f, 0.25f}, {0.10f, 0.35f, 0.55f}, {0.20f, 0.70f, 0.50f}, {0.99f, 0.91f, 0.15f}};
  const float x = t * 3.0f;
  const int i = std::min(2, static_cast<int>(x));
  const float f = x - static_cast<float>(i);
  const Rgb& a = stops[i];
  const Rgb& b = stops[i + 1];
  return {a.r + (b.r - a.r) * f, a.g + (b.g - a.g) * f, a.b + (b.b - a.b) * f};
}

Rgb diverging_color(float t) {
  if (!(t == t)) t = 0.0f;
  t = std::clamp(t, -1.0f, 1.0f);
  const Rgb zero{0.12f, 0.12f, 0.14f};
  const Rgb end = t < 0 ? Rgb{0.25f, 0.55f, 1.0f} : Rgb{1.0f, 0.35f, 0.25f};
  const float f = std::fabs(t);
  return {zero.r + (end.r - zero.r) * f, zero.g + (end.g - zero.g) * f, zero.b + (end.b - zero.b) * f};
}

float luminance(Rgb c) { return 0.2126f * c.r + 0.7152f * c.g + 0.0722f * c.b; }

uint32_t to_abgr(Rgb c, float alpha) {
  auto u8 = [](float v) { return static_cast<uint32_t>(std::lround(std::clamp(v, 0.0f, 1.0f) * 255.0f)); };
  return (u8(alpha) << 24) | (u8(c.b) << 16) | (u8(c.g) << 8) | u8(c.r);
}

LoadStats load_stats(std::span<const double> load) {
  LoadStats s;
  if (load.empty()) return s;
  s.total = std::accumulate(load.begin(), load.end(), 0.0);
  s.mean = s.total / static_cast<double>(load.size());
  const auto [mn, mx] = std::minmax_element(load.begin(), load.end());
  s.min = *mn;
  s.max = *mx;
  s.argmax = static_cast<int>(mx - load.begin());
  if (s.mean > 0) {
    double var = 0;
    for (double v : load) var += (v - s.mean) * (v - s.mean);
    var /= static_cast<double>(load.size());
    s.cv = std::sqrt(var) / s.mean;
    s.max_over_mean = s.max / s.mean;
  }
  return s;
}

namespace {
float part_value(const AttentionRow& a, size_t idx, int part) {
  switch (part) {
    case 0: return idx < a.probs.size() ? a.probs[idx] : std::numeric_limits<float>::quiet_NaN();
    case 1: return idx < a.nope.size() ? a.nope[idx] : std::numeric_limits<float>::quiet_NaN();
    case 2: return idx < a.rope.size() ? a.rope[idx] : std::numeric_limits<float>::quiet_NaN();
    default:
      if (idx < a.nope.size() && idx < a.rope.size()) return a.nope[idx] + a.rope[idx];
      return std::numeric_limits<float>::quiet_NaN();
  }
}
}  // namespace

float attention_cell(const AttentionRow& a, int head, int key, int part) {
  if (key < 0 || key >= a.n_keys || a.n_heads <= 0) return std::numeric_limits<float>::quiet_NaN();
  const size_t nk = static_cast<size_t>(a.n_keys);
  if (head >= 0) {
    if (head >= a.n_heads) return std::numeric_limits<float>::quiet_NaN();
    return part_value(a, static_cast<size_t>(head) * nk + static_cast<size_t>(key), part);
  }
  double sum = 0;
  for (int h = 0; h < a.n_heads; ++h) sum += part_value(a, static_cast<size_t>(h) * nk + static_cast<size_t>(key), part);
  return static_cast<float>(sum / a.n_heads);
}

void attention_range(const AttentionRow& a, int head, int part, float* lo, float* hi) {
  float mn = std::numeric_limits<float>::infinity(), mx = -mn;
  for (int k = 0; k < a.n_keys; ++k) {
    const float v = attention_cell(a, head, k, part);
    if (v != v) continue;
    mn = std::min(mn, v);
    mx = std::max(mx, v);
  }
  if (mn > mx) mn = mx = 0;
  *lo = mn;
  *hi = mx;
}

RouteExplanation explain_route(const ModelConfig& c, std::span<const float> selection) {
  RouteExplanation e;
  const int E = static_cast<int>(selection.size());
  if (E == 0) return e;
  const int n_group = c.topk_method == TopkMethod::Greedy ? 1 : std::max(1, c.n_group);
  const int per_group = E / n_group;
  const int keep = c.topk_method == TopkMethod::Greedy ? 1 : std::clamp(c.topk_group, 1, n_group);
  e.group_score.assign(static_cast<size_t>(n_group), 0.0f);
  for (int g = 0; g < n_group; ++g) {
    std::vector<float> v(selection.begin() + g * per_group, selection.begin() + (g + 1) * per_group);
    std::sort(v.begin(), v.end(), std::greater<>());
    if (c.topk_method == TopkMethod::NoauxTc)
      e.group_score[static_cast<size_t>(g)] = v[0] + (v.size() > 1 ? v[1] : 0.0f);
    else
      e.group_score[static_cast<size_t>(g)] = v[0];
  }
  std::vector<int> order(static_cast<size_t>(n_group));
  std::iota(order.begin(), order.end(), 0);
  // Ties go to the lower index, as torch.topk does on CPU for equal values in practice.
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return e.group_score[static_cast<size_t>(a)] > e.group_score[static_cast<size_t>(b)]; });
  for (int i = 0; i < keep; ++i) e.kept_groups |= 1ull << order[static_cast<size_t>(i)];
  if (c.topk_method == TopkMethod::Greedy) e.kept_groups = ~0ull;

  std::vector<int> cand;
  for (int x = 0; x < E; ++x) {
    const int g = std::min(x / std::max(1, per_group), 63);
    if ((e.kept_groups >> g) & 1ull) cand.push_back(x);
  }
  std::stable_sort(cand.begin(), cand.end(), [&](int a, int b) { return selection[static_cast<size_t>(a)] > selection[static_cast<size_t>(b)]; });
  const int k = std::min<int>(c.num_experts_per_tok, static_cast<int>(cand.size()));
  e.chosen.assign(cand.begin(), cand.begin() + k);
  if (k > 0) e.last_chosen = selection[static_cast<size_t>(e.chosen.back())];
  if (static_cast<int>(cand.size()) > k) {
    e.best_rejected_expert = cand[static_cast<size_t>(k)];
    e.best_rejected = selection[static_cast<size_t>(e.best_rejected_expert)];
    e.margin = e.last_chosen - e.best_rejected;
  }
  return e;
}

std::vector<double> context_axis(int64_t max_ctx, int n_points) {
  std::vector<double> x;
  if (n_points < 2 || max_ctx <= 0) return x;
  x.reserve(static_cast<size_t>(n_points));
  for (int i = 0; i < n_points; ++i) x.push_back(static_cast<double>(max_ctx) * i / (n_points - 1));
  return x;
}

}  // namespace mlascope::views
