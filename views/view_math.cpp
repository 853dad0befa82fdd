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
// sRGB <-> linear, D65 white.
float srgb_to_linear(float c) { return c <= 0.04045f ? c / 12.92f : std::pow((c + 0.055f) / 1.055f, 2.4f); }
float linear_to_srgb(float c) { return c <= 0.0031308f ? 12.92f * c : 1.055f * std::pow(c, 1.0f / 2.4f) - 0.055f; }
constexpr double kXn = 0.95047, kYn = 1.0, kZn = 1.08883;
double lab_f(double t) { return t > 216.0 / 24389.0 ? std::cbrt(t) : (24389.0 / 27.0 * t + 16.0) / 116.0; }
double lab_finv(double f) { return f * f * f > 216.0 / 24389.0 ? f * f * f : (116.0 * f - 16.0) / (24389.0 / 27.0); }
// Linear RGB of a Lab colour, unclamped (out of gamut when a component leaves [0, 1]).
void lab_to_linear(Lab c, double* r, double* g, double* b) {
  const double fy = (c.L + 16.0) / 116.0, fx = fy + c.a / 500.0, fz = fy - c.b / 200.0;
  const double X = kXn * lab_finv(fx), Y = kYn * lab_finv(fy), Z = kZn * lab_finv(fz);
  *r = 3.2404542 * X - 1.5371385 * Y - 0.4985314 * Z;
  *g = -0.9692660 * X + 1.8760108 * Y + 0.0415560 * Z;
  *b = 0.0556434 * X - 0.2040259 * Y + 1.0572252 * Z;
}
constexpr double kPi = 3.14159265358979323846;
}  // namespace

Lab rgb_to_lab(Rgb c) {
  const double r = srgb_to_linear(c.r), g = srgb_to_linear(c.g), b = srgb_to_linear(c.b);
  const double X = 0.4124564 * r + 0.3575761 * g + 0.1804375 * b;
  const double Y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b;
  const double Z = 0.0193339 * r + 0.1191920 * g + 0.9503041 * b;
  const double fx = lab_f(X / kXn), fy = lab_f(Y / kYn), fz = lab_f(Z / kZn);
  return {static_cast<float>(116.0 * fy - 16.0), static_cast<float>(500.0 * (fx - fy)), static_cast<float>(200.0 * (fy - fz))};
}

Rgb lab_to_rgb(Lab c) {
  double r, g, b;
  lab_to_linear(c, &r, &g, &b);
  auto s = [](double v) { return linear_to_srgb(static_cast<float>(std::clamp(v, 0.0, 1.0))); };
  return {s(r), s(g), s(b)};
}

Rgb lch_to_rgb(float L, float C, float h_deg) {
  const double h = h_deg * kPi / 180.0;
  // Bisect the largest chroma <= C inside the gamut (lightness and hue stay as asked).
  double lo = 0, hi = C;
  auto inside = [&](double chroma) {
    double r, g, b;
    lab_to_linear(Lab{L, static_cast<float>(chroma * std::cos(h)), static_cast<float>(chroma * std::sin(h))}, &r, &g, &b);
    const double e = 1e-6;
    return r >= -e && r <= 1 + e && g >= -e && g <= 1 + e && b >= -e && b <= 1 + e;
  };
  if (inside(C)) lo = C;
  else
    for (int i = 0; i < 24; ++i) (inside((lo + hi) / 2) ? lo : hi) = (lo + hi) / 2;
  return lab_to_rgb(Lab{L, static_cast<float>(lo * std::cos(h)), static_cast<float>(lo * std::sin(h))});
}

double ciede2000(Lab x, Lab y) {
  // Sharma, Wu, Dalal, "The CIEDE2000 color-difference formula: implementation notes", 2005.
  const double L1 = x.L, a1 = x.a, b1 = x.b, L2 = y.L, a2 = y.a, b2 = y.b;
  const double C1 = std::hypot(a1, b1), C2 = std::hypot(a2, b2);
  const double Cm = (C1 + C2) / 2, Cm7 = std::pow(Cm, 7);
  const double G = 0.5 * (1 - std::sqrt(Cm7 / (Cm7 + std::pow(25.0, 7))));
  const double a1p = (1 + G) * a1, a2p = (1 + G) * a2;
  const double C1p = std::hypot(a1p, b1), C2p = std::hypot(a2p, b2);
  auto hue = [](double b, double a) {
    if (a == 0 && b == 0) return 0.0;
    double h = std::atan2(b, a) * 180.0 / kPi;
    return h < 0 ? h + 360.0 : h;
  };
  const double h1p = hue(b1, a1p), h2p = hue(b2, a2p);
  const double dLp = L2 - L1, dCp = C2p - C1p;
  double dhp = 0;
  if (C1p * C2p != 0) {
    dhp = h2p - h1p;
    if (dhp > 180) dhp -= 360;
    else if (dhp < -180) dhp += 360;
  }
  const double dHp = 2 * std::sqrt(C1p * C2p) * std::sin(dhp / 2 * kPi / 180.0);
  const double Lpm = (L1 + L2) / 2, Cpm = (C1p + C2p) / 2;
  double hpm = h1p + h2p;
  if (C1p * C2p != 0) {
    if (std::fabs(h1p - h2p) <= 180) hpm = (h1p + h2p) / 2;
    else hpm = h1p + h2p < 360 ? (h1p + h2p + 360) / 2 : (h1p + h2p - 360) / 2;
  }
  const double d2r = kPi / 180.0;
  const double T = 1 - 0.17 * std::cos((hpm - 30) * d2r) + 0.24 * std::cos(2 * hpm * d2r) + 0.32 * std::cos((3 * hpm + 6) * d2r) -
                   0.20 * std::cos((4 * hpm - 63) * d2r);
  const double dtheta = 30 * std::exp(-((hpm - 275) / 25) * ((hpm - 275) / 25));
  const double Cpm7 = std::pow(Cpm, 7);
  const double Rc = 2 * std::sqrt(Cpm7 / (Cpm7 + std::pow(25.0, 7)));
  const double Sl = 1 + 0.015 * (Lpm - 50) * (Lpm - 50) / std::sqrt(20 + (Lpm - 50) * (Lpm - 50));
  const double Sc = 1 + 0.045 * Cpm, Sh = 1 + 0.015 * Cpm * T;
  const double Rt = -std::sin(2 * dtheta * d2r) * Rc;
  const double l = dLp / Sl, c = dCp / Sc, h = dHp / Sh;
  return std::sqrt(l * l + c * c + h * h + Rt * c * h);
}

int color_groups(int n_experts, int n_group) {
  if (n_experts <= 0) return 1;
  if (n_group > 1 && n_experts % n_group == 0) return n_group;
  // No routing groups: blocks of 8 experts share a hue (at most 8 hues).
  return std::clamp((n_experts + 7) / 8, 1, 8);
}

int expert_group(int expert, int n_experts, int n_group) {
  const int G = color_groups(n_experts, n_group);
  const int per = (std::max(1, n_experts) + G - 1) / G;
  return std::clamp(expert / per, 0, G - 1);
}

namespace {
constexpr float kHue0 = 35.0f;  // group 0 starts at red-orange
// Lightness levels of the shades inside a group; neighbours alternate light and dark.
int lightness_levels(int per_group) { return per_group <= 2 ? per_group : per_group <= 6 ? 2 : 4; }
}  // namespace

Rgb expert_color(int expert, int n_experts, int n_group) {
  if (expert < 0 || n_experts <= 0) return {0.35f, 0.35f, 0.35f};
  const int G = color_groups(n_experts, n_group);
  const int per = (n_experts + G - 1) / G;
  const int g = std::min(expert / per, G - 1), j = expert - g * per;
  const float sector = 360.0f / static_cast<float>(G);
  if (per == 1) return lch_to_rgb(68.0f, 60.0f, kHue0 + sector * static_cast<float>(g));
  const int nl = lightness_levels(per), nh = (per + nl - 1) / nl;
  const int li = j % nl, hi = j / nl;
  static const float kL2[] = {52.0f, 80.0f}, kL4[] = {45.0f, 60.0f, 74.0f, 87.0f};
  const float L = nl == 1 ? 68.0f : nl == 2 ? kL2[li] : kL4[li];
  // Shades spread over half of the group's sector, so neighbouring groups keep a gap of hue.
  const float off = nh > 1 ? (static_cast<float>(hi) / static_cast<float>(nh - 1) - 0.5f) * 0.5f * sector : 0.0f;
  return lch_to_rgb(L, 62.0f, kHue0 + sector * static_cast<float>(g) + off);
}

Rgb group_color(int group, int n_groups) {
  return lch_to_rgb(66.0f, 62.0f, kHue0 + 360.0f / static_cast<float>(std::max(1, n_groups)) * static_cast<float>(group));
}

Rgb expert_set_color(const RouteRow& r, int n_experts, int n_group) {
  // Averaged in CIELAB: the mean of opposing colours has little chroma, so it reads as grey.
  double L = 0, a = 0, b = 0, w_sum = 0;
  for (int i = 0; i < r.k; ++i) {
    if (r.expert[i] < 0) continue;
    const double w = std::max(0.0f, r.weight[i]);
    const Lab c = rgb_to_lab(expert_color(r.expert[i], n_experts, n_group));
    L += w * c.L;
    a += w * c.a;
    b += w * c.b;
    w_sum += w;
  }
  if (w_sum <= 0) return {0.35f, 0.35f, 0.35f};
  return lab_to_rgb(Lab{static_cast<float>(L / w_sum), static_cast<float>(a / w_sum), static_cast<float>(b / w_sum)});
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
  // With no load there is no busiest expert (not the last or first one by accident).
  s.argmax = s.max > 0 ? static_cast<int>(mx - load.begin()) : -1;
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

void ZoomWindow::range(int n, float* b, float* e) const {
  const float total = static_cast<float>(std::max(0, n));
  const float vis = total / std::max(1.0f, zoom);
  const float f = std::clamp(first, 0.0f, std::max(0.0f, total - vis));
  *b = f;
  *e = f + vis;
}

void ZoomWindow::zoom_about(int n, float anchor, float factor, float max_zoom) {
  float b, e;
  range(n, &b, &e);
  const float frac = e > b ? (anchor - b) / (e - b) : 0.0f;
  zoom = std::clamp(zoom * factor, 1.0f, std::max(1.0f, max_zoom));
  const float vis = static_cast<float>(n) / zoom;
  first = anchor - frac * vis;
  range(n, &b, &e);
  first = b;
}

void ZoomWindow::pan(int n, float items) {
  first += items;
  float b, e;
  range(n, &b, &e);
  first = b;
}

std::vector<double> context_axis(int64_t max_ctx, int n_points) {
  std::vector<double> x;
  if (n_points < 2 || max_ctx <= 0) return x;
  x.reserve(static_cast<size_t>(n_points));
  for (int i = 0; i < n_points; ++i) x.push_back(static_cast<double>(max_ctx) * i / (n_points - 1));
  return x;
}

}  // namespace mlascope::views
