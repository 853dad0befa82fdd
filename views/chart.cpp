// views/chart.cpp — see chart.h.
#include "chart.h"

#include <imgui_internal.h>  // SetItemUsingMouseWheel: the wheel zooms the grid instead of scrolling the panel

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "widgets.h"

namespace mlascope::views {

namespace {
// A nice step as mantissa (1, 2 or 5) x 10^exponent, so tick values can be formed exactly.
struct Step {
  int m = 1, e = 0;
  double value() const { return e >= 0 ? m * std::pow(10.0, e) : m / std::pow(10.0, -e); }
  double at(long long k) const { return e >= 0 ? static_cast<double>(k * m) * std::pow(10.0, e) : static_cast<double>(k * m) / std::pow(10.0, -e); }
  void next() {
    if (m == 1) m = 2;
    else if (m == 2) m = 5;
    else m = 1, ++e;
  }
};
long long tick_count(double lo, double hi, const Step& s) {
  const double v = s.value(), eps = 1e-9;
  return static_cast<long long>(std::floor(hi / v + eps) - std::ceil(lo / v - eps) + 1);
}
// The smallest 1-2-5 step that puts at most max_ticks ticks inside [lo, hi].
Step choose_step(double lo, double hi, int max_ticks, bool integer) {
  Step s;
  s.e = static_cast<int>(std::floor(std::log10((hi - lo) / std::max(1, max_ticks)))) - 1;
  if (integer && s.e < 0) s.e = 0;
  while (tick_count(lo, hi, s) > max_ticks) s.next();
  return s;
}
}  // namespace

double nice_step(double lo, double hi, int max_ticks, bool integer) {
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return 0.0;
  return choose_step(lo, hi, std::max(2, max_ticks), integer).value();
}

std::vector<double> nice_ticks(double lo, double hi, int max_ticks, bool integer) {
  std::vector<double> t;
  if (hi == lo && std::isfinite(lo)) return {lo};
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return t;
  const Step s = choose_step(lo, hi, std::max(2, max_ticks), integer);
  const double v = s.value();
  // k * step formed from integers (k * m / 10^-e), so 3 x 0.2 prints and compares as 0.6.
  for (long long k = static_cast<long long>(std::ceil(lo / v - 1e-9)); k <= static_cast<long long>(std::floor(hi / v + 1e-9)); ++k)
    t.push_back(k == 0 ? 0.0 : s.at(k));
  return t;
}

std::vector<double> log_ticks(double lo, double hi) {
  std::vector<double> t;
  if (!(lo > 0) || !(hi > lo)) return t;
  const int e0 = static_cast<int>(std::floor(std::log10(lo))), e1 = static_cast<int>(std::ceil(std::log10(hi)));
  const bool minor = e1 - e0 <= 3;
  for (int e = e0; e <= e1; ++e)
    for (double m : {1.0, 2.0, 5.0}) {
      if (m != 1.0 && !minor) continue;
      const double v = m * std::pow(10.0, e);
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) t.push_back(v);
    }
  return t;
}

std::string format_number(double v, int decimals) {
  if (!std::isfinite(v)) return std::isnan(v) ? "n/a" : (v > 0 ? "inf" : "-inf");
  decimals = std::clamp(decimals, 0, 9);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, std::fabs(v));
  std::string digits = buf;
  const size_t dot = digits.find('.');
  std::string int_part = digits.substr(0, dot), frac = dot == std::string::npos ? "" : digits.substr(dot);
  std::string out;
  for (size_t i = 0; i < int_part.size(); ++i) {
    if (i > 0 && (int_part.size() - i) % 3 == 0) out += ',';
    out += int_part[i];
  }
  // A value that rounds to zero has no sign.
  const bool zero = std::all_of(digits.begin(), digits.end(), [](char c) { return c == '0' || c == '.'; });
  return (v < 0 && !zero ? "-" : "") + out + frac;
}

std::string prefixed(const char* prefix, int64_t v) {
  std::string s(prefix);
  s += std::to_string(v);
  return s;
}

std::string format_tick(double v, double step) {
  int d = 0;
  if (step > 0)
    while (d < 6 && std::fabs(step * std::pow(10.0, d) - std::round(step * std::pow(10.0, d))) > 1e-6 * step * std::pow(10.0, d)) ++d;
  return format_number(v, d);
}

std::string format_bytes(double b, bool exact) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double x = b;
  int u = 0;
  while (std::fabs(x) >= 1024.0 && u < 5) {
    x /= 1024.0;
    ++u;
  }
  std::string s = u == 0 ? format_number(x, 0) + " B" : format_number(x, 2) + " " + units[u];
  if (exact && u > 0) s += " (" + format_number(b, 0) + " B)";
  return s;
}

std::string format_percent(double fraction) {
  const double p = fraction * 100.0;
  char buf[32];
  if (!std::isfinite(p)) return "n/a";
  if (std::fabs(p) >= 1.0 || p == 0.0) std::snprintf(buf, sizeof buf, "%.2f %%", p);
  else std::snprintf(buf, sizeof buf, "%.2g %%", p);
  return buf;
}

float fit_height(float avail, float frac, float min_h, float max_h, float reserve, float floor) {
  const float want = std::clamp(avail * frac, min_h, std::max(min_h, max_h));
  return std::min(want, std::max(avail - reserve, floor));
}

std::string elide(const std::string& s, float max_w, const std::function<float(const std::string&)>& width) {
  if (width(s) <= max_w) return s;
  const std::string dots = "...";
  size_t n = s.size();
  while (n > 0) {
    // Step back one UTF-8 character (skip continuation bytes 10xxxxxx).
    do --n;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80);
    std::string cut = s.substr(0, n) + dots;
    if (width(cut) <= max_w) return cut;
  }
  return width(dots) <= max_w ? dots : std::string();
}

// ------------------------------------------------------------------------------------- drawing

namespace {
constexpr float kTick = 4.0f;
constexpr uint32_t kGridBackground = IM_COL32(15, 15, 20, 255);

std::vector<double> axis_ticks(const AxisSpec& a, int max_ticks) {
  if (a.log) return log_ticks(a.lo, a.hi);
  // Index axes: ticks on whole items inside the visible window.
  double lo = a.lo, hi = a.hi;
  if (a.centered) {
    lo = std::ceil(a.lo - 0.5 + 1e-6);
    hi = std::floor(a.hi - 0.5 - 1e-6);
    if (hi < lo) return {};
  }
  return nice_ticks(lo, hi, max_ticks, a.integer);
}

std::string tick_text(const AxisSpec& a, double v, double step) {
  if (a.label) return a.label(v);
  if (a.log) return format_tick(v, v >= 1 ? 1.0 : v);
  return format_tick(v, step);
}

double axis_step(const std::vector<double>& t) { return t.size() >= 2 ? t[1] - t[0] : 0.0; }

// How many labels of this axis fit along `length` pixels.
int fitting_ticks(const AxisSpec& a, float length, bool horizontal) {
  const float gap = ImGui::GetFontSize() * (horizontal ? 1.0f : 0.8f);
  float unit;
  if (horizontal) {
    const std::string l0 = tick_text(a, a.lo, axis_step(nice_ticks(a.lo, a.hi, a.max_ticks, a.integer)));
    const std::string l1 = tick_text(a, a.hi, axis_step(nice_ticks(a.lo, a.hi, a.max_ticks, a.integer)));
    unit = std::max(ImGui::CalcTextSize(l0.c_str()).x, ImGui::CalcTextSize(l1.c_str()).x) + gap;
  } else {
    unit = ImGui::GetTextLineHeight() * 1.6f;
  }
  return std::clamp(static_cast<int>(length / std::max(unit, 1.0f)), 2, std::max(2, a.max_ticks));
}

float axis_t(const AxisSpec& a, double v) {
  if (a.log) {
    if (!(v > 0) || !(a.lo > 0)) return 0.0f;
    return static_cast<float>(std::log(v / a.lo) / std::log(a.hi / a.lo));
  }
  return static_cast<float>((v - a.lo) / (a.hi - a.lo));
}
double axis_v(const AxisSpec& a, float t) {
  if (a.log) return a.lo * std::pow(a.hi / a.lo, static_cast<double>(t));
  return a.lo + (a.hi - a.lo) * static_cast<double>(t);
}
}  // namespace

float ChartFrame::x_of(double v) const { return plot0.x + axis_t(x, v) * (plot1.x - plot0.x); }
float ChartFrame::y_of(double v) const {
  return y.flipped ? plot0.y + axis_t(y, v) * (plot1.y - plot0.y) : plot1.y - axis_t(y, v) * (plot1.y - plot0.y);
}
double ChartFrame::x_at(float px) const { return axis_v(x, (px - plot0.x) / std::max(1.0f, plot1.x - plot0.x)); }
double ChartFrame::y_at(float py) const {
  const float t = (y.flipped ? py - plot0.y : plot1.y - py) / std::max(1.0f, plot1.y - plot0.y);
  return axis_v(y, t);
}

ChartFrame begin_chart(const char* id, ImVec2 size, AxisSpec x, AxisSpec y) {
  if (!(x.hi > x.lo)) x.hi = x.lo + 1;
  if (!(y.hi > y.lo)) y.hi = y.lo + 1;
  if (x.log && !(x.lo > 0)) x.log = false;
  if (y.log && !(y.lo > 0)) y.log = false;
  ChartFrame f;
  f.outer0 = ImGui::GetCursorScreenPos();
  size.x = std::max(size.x, 60.0f);
  size.y = std::max(size.y, 50.0f);
  f.outer1 = ImVec2(f.outer0.x + size.x, f.outer0.y + size.y);
  const float lh = ImGui::GetTextLineHeight();
  // Margins: the y title above the plot, the y labels left of it, x labels and title below.
  const float top = y.title.empty() ? lh * 0.5f : lh + 4.0f;
  const float bottom = kTick + 2.0f + lh + (x.title.empty() ? 0.0f : lh + 2.0f);
  const std::vector<double> yt = axis_ticks(y, fitting_ticks(y, size.y - top - bottom, false));
  float label_w = 0;
  for (double v : yt) label_w = std::max(label_w, ImGui::CalcTextSize(tick_text(y, v, axis_step(yt)).c_str()).x);
  const float left = label_w + kTick + 4.0f;
  const float right = ImGui::CalcTextSize("0000").x * 0.5f;
  f.plot0 = ImVec2(f.outer0.x + left, f.outer0.y + top);
  f.plot1 = ImVec2(std::max(f.plot0.x + 10.0f, f.outer1.x - right), std::max(f.plot0.y + 10.0f, f.outer1.y - bottom));
  f.x = std::move(x);
  f.y = std::move(y);
  ImGui::InvisibleButton(id, size);
  return f;
}

void draw_axes(ImDrawList* dl, const ChartFrame& f, bool grid) {
  const ImU32 ink = IM_COL32(200, 200, 205, 255), faint = IM_COL32(255, 255, 255, 28);
  const float lh = ImGui::GetTextLineHeight();
  dl->AddLine(ImVec2(f.plot0.x, f.plot1.y), ImVec2(f.plot1.x, f.plot1.y), ink);
  dl->AddLine(ImVec2(f.plot0.x, f.plot0.y), ImVec2(f.plot0.x, f.plot1.y), ink);
  const std::vector<double> xt = axis_ticks(f.x, fitting_ticks(f.x, f.plot1.x - f.plot0.x, true));
  float last_right = -1e30f;
  for (double v : xt) {
    const float px = f.x_of(f.x.centered ? v + 0.5 : v);
    if (px < f.plot0.x - 0.5f || px > f.plot1.x + 0.5f) continue;
    if (grid) dl->AddLine(ImVec2(px, f.plot0.y), ImVec2(px, f.plot1.y), faint);
    dl->AddLine(ImVec2(px, f.plot1.y), ImVec2(px, f.plot1.y + kTick), ink);
    const std::string s = tick_text(f.x, v, axis_step(xt));
    const float w = ImGui::CalcTextSize(s.c_str()).x;
    const float lx = std::clamp(px - w * 0.5f, f.outer0.x, f.outer1.x - w);
    if (lx < last_right + 4.0f) continue;  // never overlap two labels
    dl->AddText(ImVec2(lx, f.plot1.y + kTick + 1.0f), ink, s.c_str());
    last_right = lx + w;
  }
  const std::vector<double> yt = axis_ticks(f.y, fitting_ticks(f.y, f.plot1.y - f.plot0.y, false));
  float last_top = 1e30f;
  for (double v : yt) {
    const float py = f.y_of(f.y.centered ? v + 0.5 : v);
    if (py < f.plot0.y - 0.5f || py > f.plot1.y + 0.5f) continue;
    if (grid) dl->AddLine(ImVec2(f.plot0.x, py), ImVec2(f.plot1.x, py), faint);
    dl->AddLine(ImVec2(f.plot0.x - kTick, py), ImVec2(f.plot0.x, py), ink);
    const std::string s = tick_text(f.y, v, axis_step(yt));
    const float ly = std::clamp(py - lh * 0.5f, f.outer0.y, f.outer1.y - lh);
    if (last_top < 1e29f && std::fabs(ly - last_top) < lh + 1.0f) continue;
    dl->AddText(ImVec2(f.plot0.x - kTick - 2.0f - ImGui::CalcTextSize(s.c_str()).x, ly), ink, s.c_str());
    last_top = ly;
  }
  const ImU32 title = IM_COL32(235, 235, 170, 255);
  if (!f.x.title.empty()) {
    const float w = ImGui::CalcTextSize(f.x.title.c_str()).x;
    dl->AddText(ImVec2(std::max(f.outer0.x, (f.plot0.x + f.plot1.x - w) * 0.5f), f.plot1.y + kTick + 2.0f + lh), title, f.x.title.c_str());
  }
  if (!f.y.title.empty()) dl->AddText(ImVec2(f.outer0.x, f.outer0.y), title, f.y.title.c_str());
}

void color_bar(const char* title, double lo, double hi, Ramp ramp, float w, const std::function<float(double)>& map) {
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const float lh = ImGui::GetTextLineHeight();
  ImGui::TextUnformatted(title);
  // Beside the title when a useful bar fits there, else on its own line; never past the edge.
  if (fits_after_last_item(std::min(w, 120.0f * ImGui::GetFontSize() / 16.0f))) ImGui::SameLine();
  w = std::min(w, ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x - ImGui::GetCursorScreenPos().x);
  const ImVec2 p = ImGui::GetCursorScreenPos();
  const float label_room = ImGui::CalcTextSize(format_tick(hi, nice_step(lo, hi, 4)).c_str()).x * 0.5f;
  const float x0 = p.x + label_room, bar_h = lh * 0.6f;
  w = std::max(40.0f, w - 2 * label_room);
  const int n = 48;
  for (int i = 0; i < n; ++i) {
    const float a = x0 + w * static_cast<float>(i) / n, b = x0 + w * static_cast<float>(i + 1) / n;
    dl->AddRectFilled(ImVec2(a, p.y), ImVec2(b + 0.5f, p.y + bar_h), col32(ramp((static_cast<float>(i) + 0.5f) / n)));
  }
  dl->AddRect(ImVec2(x0, p.y), ImVec2(x0 + w, p.y + bar_h), IM_COL32(200, 200, 205, 160));
  const int max_ticks = std::clamp(static_cast<int>(w / (ImGui::GetFontSize() * 3.0f)), 2, 6);
  const std::vector<double> t = nice_ticks(lo, hi, max_ticks);
  const double step = axis_step(t);
  for (double v : t) {
    const float pos = map ? map(v) : static_cast<float>((v - lo) / (hi - lo));
    if (!(pos >= -1e-4f && pos <= 1.0001f)) continue;
    const float px = x0 + pos * w;
    dl->AddLine(ImVec2(px, p.y + bar_h), ImVec2(px, p.y + bar_h + 3), IM_COL32(200, 200, 205, 255));
    const std::string s = format_tick(v, step);
    dl->AddText(ImVec2(px - ImGui::CalcTextSize(s.c_str()).x * 0.5f, p.y + bar_h + 2), IM_COL32(200, 200, 205, 255), s.c_str());
  }
  ImGui::Dummy(ImVec2(w + 2 * label_room, bar_h + lh + 2));
}

GridHover heat_grid(const char* id, ImVec2 size, int nx, int ny, GridView& v, AxisSpec xs, AxisSpec ys, HeatmapImage& img, uint64_t key,
                    const std::function<float(int, int)>& value, Ramp ramp, const std::function<void(ImDrawList*, const ChartFrame&)>& overlay) {
  GridHover hov;
  float x0, x1, y0, y1;
  v.x.range(nx, &x0, &x1);
  v.y.range(ny, &y0, &y1);
  xs.lo = x0, xs.hi = x1, xs.centered = true, xs.integer = true;
  ys.lo = y0, ys.hi = y1, ys.centered = true, ys.integer = true;
  ys.flipped = true;  // rows go down the screen
  ChartFrame f = begin_chart(id, size, xs, ys);
  const bool hovered = ImGui::IsItemHovered();
  const bool active = ImGui::IsItemActive();
  ImGuiIO& io = ImGui::GetIO();
  const float pw = f.plot1.x - f.plot0.x, ph = f.plot1.y - f.plot0.y;
  const float cell_w = pw / std::max(1e-3f, x1 - x0), cell_h = ph / std::max(1e-3f, y1 - y0);
  if (hovered) {
    ImGui::SetItemUsingMouseWheel();
    const float mx = x0 + (io.MousePos.x - f.plot0.x) / std::max(cell_w, 1e-3f);
    const float my = y0 + (io.MousePos.y - f.plot0.y) / std::max(cell_h, 1e-3f);
    if (io.MouseWheel != 0) {
      if (io.KeyCtrl) {
        const float factor = io.MouseWheel > 0 ? 1.25f : 0.8f;
        v.x.zoom_about(nx, mx, factor, std::max(1.0f, static_cast<float>(nx) / 4.0f));
        v.y.zoom_about(ny, my, factor, std::max(1.0f, static_cast<float>(ny) / 4.0f));
      } else {
        v.y.pan(ny, -io.MouseWheel * 3.0f * std::max(1.0f, (y1 - y0) / 20.0f));
      }
    }
    if (f.contains(io.MousePos)) {
      hov.x = std::clamp(static_cast<int>(mx), 0, std::max(0, nx - 1));
      hov.y = std::clamp(static_cast<int>(my), 0, std::max(0, ny - 1));
      if (nx <= 0 || ny <= 0) hov.x = hov.y = -1;
    }
  }
  if (active && ImGui::IsMouseDragging(ImGuiMouseButton_Left)) {
    v.x.pan(nx, -io.MouseDelta.x / std::max(cell_w, 1e-3f));
    v.y.pan(ny, -io.MouseDelta.y / std::max(cell_h, 1e-3f));
  }
  if (hovered && ImGui::IsMouseReleased(ImGuiMouseButton_Left) && io.MouseDragMaxDistanceSqr[0] < 9.0f) hov.clicked = hov.x >= 0;
  v.active = active;
  v.x.range(nx, &x0, &x1);
  v.y.range(ny, &y0, &y1);

  // Image of the visible window: whole cells from floor(x0) to ceil(x1), binned to ~2 px.
  const int cx0 = std::max(0, static_cast<int>(std::floor(x0))), cx1 = std::min(nx, static_cast<int>(std::ceil(x1)));
  const int cy0 = std::max(0, static_cast<int>(std::floor(y0))), cy1 = std::min(ny, static_cast<int>(std::ceil(y1)));
  // Without textures (headless tests) every bin is a rectangle: keep them few.
  const float min_px = textures_available() ? 2.0f : 6.0f;
  const int bx = std::max(1, static_cast<int>(std::ceil(min_px / std::max(cell_w, 1e-3f))));
  const int by = std::max(1, static_cast<int>(std::ceil(min_px / std::max(cell_h, 1e-3f))));
  const int cols = std::max(0, (cx1 - cx0 + bx - 1) / bx), rows = std::max(0, (cy1 - cy0 + by - 1) / by);
  uint64_t k = key;
  for (int q : {nx, ny, cx0, cx1, cy0, cy1, bx, by}) k = k * 1000003u + static_cast<uint64_t>(q + 1);
  if (k != img.key || img.w != cols || img.h != rows) {
    img.key = k;
    img.resize(cols, rows);
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) {
        float best = std::numeric_limits<float>::quiet_NaN();
        for (int yy = cy0 + r * by; yy < std::min(cy1, cy0 + (r + 1) * by); ++yy)
          for (int xx = cx0 + c * bx; xx < std::min(cx1, cx0 + (c + 1) * bx); ++xx) {
            const float val = value(xx, yy);
            if (val == val && !(best >= val)) best = val;
          }
        // Empty cells carry the background, so the plot needs no second full-size fill under the
        // image (on a software renderer every covered pixel costs).
        img.rgba[static_cast<size_t>(r) * static_cast<size_t>(cols) + static_cast<size_t>(c)] =
            best == best ? col32(ramp(std::clamp(best, 0.0f, 1.0f))) : kGridBackground;
      }
  }
  ImDrawList* dl = ImGui::GetWindowDrawList();
  dl->PushClipRect(f.plot0, f.plot1, true);
  const ImVec2 a(f.plot0.x + (static_cast<float>(cx0) - x0) * cell_w, f.plot0.y + (static_cast<float>(cy0) - y0) * cell_h);
  draw_heatmap(dl, img, a, ImVec2(a.x + static_cast<float>(cols * bx) * cell_w, a.y + static_cast<float>(rows * by) * cell_h));
  if (overlay) overlay(dl, f);
  dl->PopClipRect();
  draw_axes(dl, f, false);
  return hov;
}

void legend(const std::vector<LegendItem>& items) {
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const float lh = ImGui::GetTextLineHeight();
  const float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
  for (size_t i = 0; i < items.size(); ++i) {
    const LegendItem& it = items[i];
    const float w = lh + 4 + ImGui::CalcTextSize(it.label.c_str()).x;
    if (i > 0) same_line_if_fits(w, lh * 0.8f);
    const ImVec2 p = ImGui::GetCursorScreenPos();
    if (it.line) dl->AddLine(ImVec2(p.x, p.y + lh * 0.5f), ImVec2(p.x + lh, p.y + lh * 0.5f), col32(it.color), 2.5f);
    else dl->AddRectFilled(ImVec2(p.x + 1, p.y + 2), ImVec2(p.x + lh - 1, p.y + lh - 2), col32(it.color));
    ImGui::Dummy(ImVec2(lh + 2, lh));
    ImGui::SameLine(0, 2);
    // An item wider than the whole line is cut with "..." (the full label on hover).
    const std::string shown = elide(it.label, right - ImGui::GetCursorScreenPos().x, [](const std::string& t) { return ImGui::CalcTextSize(t.c_str()).x; });
    ImGui::TextUnformatted(shown.c_str());
    if (shown != it.label && ImGui::IsItemHovered()) ImGui::SetTooltip("%s", it.label.c_str());
  }
}

}  // namespace mlascope::views
