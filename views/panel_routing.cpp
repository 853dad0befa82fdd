// views/panel_routing.cpp — expert routing: (a) the selected token's layer x expert weights, with
// shared experts named, (b) the token x expert matrix of one layer, (c) expert load of a layer vs
// the uniform baseline with max/mean, CV and the busiest expert per layer, gate bias for V3, (d)
// "why this expert". Maps zoom and pan (ctrl+wheel, drag) with labelled expert and layer/token axes.
// The expert picker goes by routing group (8 x 32 at DeepSeek-V3's 256 experts): click an expert to
// mute it in the plots, double-click to solo it.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include "engine/trace/server_routing.h"
#include "chart.h"
#include "views.h"
#include "widgets.h"

namespace mlascope::views {

namespace {
bool expert_shown(const RoutingState& s, int e) {
  if (s.solo >= 0) return e == s.solo;
  return static_cast<size_t>(e) >= s.muted.size() || !s.muted[static_cast<size_t>(e)];
}

int n_groups(const TraceModel& tm) { return color_groups(tm.n_routed_experts(), tm.config().n_group); }
Rgb ecolor(const TraceModel& tm, int e) { return expert_color(e, tm.n_routed_experts(), tm.config().n_group); }

std::string expert_label(double v) { return prefixed("e", static_cast<int64_t>(std::lround(v))); }

void expert_button(const TraceModel& tm, RoutingState& s, int e, float w) {
  const bool shown = expert_shown(s, e);
  const Rgb c = ecolor(tm, e);
  ImGui::PushID(e);
  ImGui::PushStyleColor(ImGuiCol_Button, ImVec4(c.r, c.g, c.b, shown ? 1.0f : 0.2f));
  ImGui::PushStyleColor(ImGuiCol_Text, ImGui::ColorConvertU32ToFloat4(text_on(c)));
  char label[16];
  std::snprintf(label, sizeof label, "%d", e);
  ImGui::Button(label, ImVec2(w, ImGui::GetFrameHeight()));
  if (ImGui::IsItemHovered() && ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left)) s.solo = s.solo == e ? -1 : e;
  else if (ImGui::IsItemClicked(ImGuiMouseButton_Left)) s.muted[static_cast<size_t>(e)] ^= 1;
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("expert %d (group %d)%s", e, expert_group(e, tm.n_routed_experts(), tm.config().n_group), shown ? "" : " - hidden");
  ImGui::PopStyleColor(2);
  ImGui::PopID();
}

constexpr float kCompactSpacing = 3.0f;
// Wide enough for a 3-digit expert id.
float compact_button_width() { return ImGui::CalcTextSize("000").x + 2 * ImGui::GetStyle().FramePadding.x; }

// Buttons in rows that wrap at the content width.
void button_row(const TraceModel& tm, RoutingState& s, int first, int end, float w) {
  for (int e = first; e < end; ++e) {
    if (e > first) same_line_if_fits(w, kCompactSpacing);
    expert_button(tm, s, e, w);
  }
}

void expert_picker(const TraceModel& tm, RoutingState& s) {
  const int E = tm.n_routed_experts();
  s.muted.resize(static_cast<size_t>(std::max(0, E)), 0);
  int n_muted = 0;
  for (uint8_t m : s.muted) n_muted += m;
  std::string summary = s.solo >= 0 ? prefixed("solo e", s.solo) : n_muted ? std::to_string(n_muted) + prefixed(" of ", E) + " hidden" : prefixed("all ", E) + " shown";
  // Up to 16 experts fit in one row of compact buttons when the panel is wide enough; otherwise
  // (a narrow tile, DeepSeek's 64 or 256) they fold into a tree by routing group, so the charts
  // keep the height.
  const float bw = compact_button_width();
  const float row_w = ImGui::CalcTextSize("experts: (?)").x + 2 * ImGui::GetStyle().ItemSpacing.x + static_cast<float>(E) * (bw + kCompactSpacing);
  if (E <= 16 && row_w <= ImGui::GetContentRegionAvail().x) {
    ImGui::TextDisabled("experts:");
    help_marker("Click an expert to hide it in the plots, double-click to show it alone (double-click again to clear).");
    ImGui::SameLine();
    button_row(tm, s, 0, E, bw);
    return;
  }
  const int G = n_groups(tm), per = (E + G - 1) / G;
  s.picker_group = std::clamp(s.picker_group, 0, G - 1);
  if (!ImGui::TreeNode("experts", "experts: %s (%d groups of %d)", summary.c_str(), G, per)) return;
  help_marker("Pick a group, then click an expert to hide it, double-click to show it alone. Colours: the hue is the group, the shade the expert.");
  for (int g = 0; g < G; ++g) {
    if (g > 0) ImGui::SameLine();
    const Rgb c = group_color(g, G);
    const bool sel = g == s.picker_group;
    ImGui::PushID(g);
    ImGui::PushStyleColor(ImGuiCol_Button, ImVec4(c.r, c.g, c.b, sel ? 1.0f : 0.55f));
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::ColorConvertU32ToFloat4(text_on(c)));
    char label[24];
    std::snprintf(label, sizeof label, "g%d", g);
    if (ImGui::Button(label)) s.picker_group = g;
    if (ImGui::IsItemHovered()) ImGui::SetTooltip("group %d: experts %d-%d", g, g * per, std::min(E, (g + 1) * per) - 1);
    ImGui::PopStyleColor(2);
    ImGui::PopID();
  }
  ImGui::SameLine();
  if (ImGui::SmallButton("show all")) {
    std::fill(s.muted.begin(), s.muted.end(), 0);
    s.solo = -1;
  }
  ImGui::SameLine();
  if (ImGui::SmallButton("hide others")) {
    for (int e = 0; e < E; ++e) s.muted[static_cast<size_t>(e)] = (e / per) != s.picker_group;
    s.solo = -1;
  }
  button_row(tm, s, s.picker_group * per, std::min(E, (s.picker_group + 1) * per), compact_button_width());
  ImGui::TreePop();
}

// Lines between routing groups on an expert axis, with the group names along the top.
void group_overlay(const TraceModel& tm, ImDrawList* dl, const ChartFrame& f) {
  const int E = tm.n_routed_experts(), G = n_groups(tm);
  if (G <= 1) return;
  const int per = (E + G - 1) / G;
  for (int g = 1; g < G; ++g) {
    const float x = f.x_of(g * per);
    dl->AddLine(ImVec2(x, f.plot0.y), ImVec2(x, f.plot1.y), IM_COL32(255, 255, 255, 110));
  }
  for (int g = 0; g < G; ++g) {
    const float a = std::max(f.plot0.x, f.x_of(g * per)), b = std::min(f.plot1.x, f.x_of((g + 1) * per));
    const std::string label = prefixed("g", g);
    if (b - a > ImGui::CalcTextSize(label.c_str()).x + 4) dl->AddText(ImVec2(a + 2, f.plot0.y + 1), col32(group_color(g, G)), label.c_str());
  }
}

bool reset_button(GridView& v, const char* id) {
  if (v.x.zoom <= 1.0f && v.y.zoom <= 1.0f && v.x.first == 0 && v.y.first == 0) return false;
  same_line_if_fits(ImGui::CalcTextSize("reset view").x + 2 * ImGui::GetStyle().FramePadding.x);
  ImGui::PushID(id);
  const bool r = ImGui::SmallButton("reset view");
  ImGui::PopID();
  if (r) v = GridView{};
  return r;
}

// (a) + (d)
void token_tab(const TraceModel& tm, ViewState& st) {
  RoutingState& s = st.routing;
  const int t = st.selected_token();
  if (t < 0 || static_cast<size_t>(t) >= visible_tokens(tm, st)) {
    ImGui::TextDisabled("Hover or click a token in the token strip.");
    return;
  }
  const int E = tm.n_routed_experts();
  const int n_shared = tm.config().n_shared_experts;
  const auto layers = tm.moe_layers();
  ImGui::PushTextWrapPos(0.0f);
  // One short line (the colour bar and the axes say what the map shows), so a small tile keeps
  // the map's expert axis in view.
  ImGui::Text("token #%d \"%s\" (+%d shared experts, always on)", t,
              display_token(tm.token(static_cast<size_t>(t)).text).c_str(), n_shared);
  ImGui::PopTextWrapPos();
  float max_w = 1e-6f;
  for (int layer : layers)
    if (const RouteRow* r = tm.route(static_cast<size_t>(t), layer))
      for (int i = 0; i < r->k; ++i) max_w = std::max(max_w, r->weight[i]);
  color_bar("routing weight per layer and expert", 0.0, max_w, heat_color, std::min(260.0f * st.ui_scale, ImGui::GetContentRegionAvail().x * 0.6f));
  reset_button(s.token_grid, "tok");
  static HeatmapImage img;
  const uint64_t key = tm.version() * 31u + static_cast<uint64_t>(t) * 7919u + static_cast<uint64_t>(tm.meta().created_unix) +
                       static_cast<uint64_t>(s.solo + 2) * 131u + std::hash<std::string>{}(std::string(s.muted.begin(), s.muted.end()));
  // Leaves room for the "Why this expert?" header below where the tile allows, down to the 110 px
  // (at the 16 px font; more with presenter fonts) the map and its expert axis need.
  const float h = fit_height(ImGui::GetContentRegionAvail().y, 0.6f, 150.0f, static_cast<float>(layers.size()) * 14.0f * st.ui_scale + 60.0f,
                             1.5f * ImGui::GetFrameHeightWithSpacing(), 110.0f * ImGui::GetFontSize() / 16.0f);
  AxisSpec xs{0, 1, "routed expert"};
  xs.label = expert_label;
  AxisSpec ys{0, 1, "MoE layer"};
  ys.label = [layers](double v) {
    const size_t i = static_cast<size_t>(std::clamp(v, 0.0, static_cast<double>(layers.size()) - 1));
    return prefixed("L", layers.empty() ? 0 : layers[i]);
  };
  const GridHover hv = heat_grid(
      "##tokgrid", ImVec2(ImGui::GetContentRegionAvail().x, h), E, static_cast<int>(layers.size()), s.token_grid, xs, ys, img, key,
      [&](int x, int y) {
        if (!expert_shown(s, x)) return std::numeric_limits<float>::quiet_NaN();
        const RouteRow* r = tm.route(static_cast<size_t>(t), layers[static_cast<size_t>(y)]);
        float w = 0;
        if (r)
          for (int i = 0; i < r->k; ++i)
            if (r->expert[i] == x) w = r->weight[i];
        return w / max_w;
      },
      heat_color, [&](ImDrawList* dl, const ChartFrame& f) { group_overlay(tm, dl, f); });
  if (hv.x >= 0) {
    const int layer = layers[static_cast<size_t>(hv.y)];
    const auto sc = tm.scores(static_cast<size_t>(t), layer);
    const auto se = tm.selection(static_cast<size_t>(t), layer);
    const RouteRow* r = tm.route(static_cast<size_t>(t), layer);
    float w = 0;
    if (r)
      for (int i = 0; i < r->k; ++i)
        if (r->expert[i] == hv.x) w = r->weight[i];
    ImGui::SetTooltip("L%d expert %d (group %d)\nweight %.4f%s\nscore %.4f\nselection (score + bias) %.4f", layer, hv.x,
                      expert_group(hv.x, E, tm.config().n_group), w, w > 0 ? " (chosen)" : " (not chosen)",
                      sc.empty() ? NAN : sc[static_cast<size_t>(hv.x)], se.empty() ? NAN : se[static_cast<size_t>(hv.x)]);
    if (hv.clicked) st.layer = layer;
  }

  // (d) why this expert, for the shown layer
  const int layer = shown_moe_layer(tm, st);
  const RouteRow* r = tm.route(static_cast<size_t>(t), layer);
  const auto sel = tm.selection(static_cast<size_t>(t), layer);
  const auto sc = tm.scores(static_cast<size_t>(t), layer);
  tour_anchor(st.tour, "routing.why");
  if (!ImGui::CollapsingHeader("Why this expert?", ImGuiTreeNodeFlags_DefaultOpen)) return;
  if (!r || sel.empty()) {
    ImGui::TextDisabled("No scores were captured for L%d (capture policy Routing or higher).", layer);
    return;
  }
  const RouteExplanation ex = explain_route(tm.config(), sel);
  ImGui::PushTextWrapPos(0.0f);
  ImGui::Text("L%d (click a row of the map to pick a layer): %s routing over %d groups (keep %d), top-%d", layer, to_string(tm.config().topk_method),
              tm.config().n_group, tm.config().topk_group, tm.config().num_experts_per_tok);
  ImGui::Text("recorded margin %.4f   recomputed margin %.4f (expert %d beat expert %d)", r->margin, ex.margin,
              ex.chosen.empty() ? -1 : ex.chosen.back(), ex.best_rejected_expert);
  ImGui::PopTextWrapPos();
  ImGui::TextDisabled("groups kept:");
  for (size_t g = 0; g < ex.group_score.size(); ++g) {
    same_line_if_fits(ImGui::CalcTextSize("g00(0.000)x").x);
    const bool kept = (r->kept_groups >> std::min<size_t>(g, 63)) & 1ull;
    ImGui::TextColored(kept ? ImVec4(0.5f, 1, 0.5f, 1) : ImVec4(0.6f, 0.6f, 0.6f, 1), "g%zu(%.3f)%s", g, ex.group_score[g], kept ? "" : "x");
  }
  if (ImGui::BeginTable("why", 5, ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_ScrollY,
                        ImVec2(0, std::max(6.0f * ImGui::GetTextLineHeightWithSpacing(), ImGui::GetContentRegionAvail().y)))) {
    ImGui::TableSetupScrollFreeze(0, 1);
    ImGui::TableSetupColumn("expert");
    ImGui::TableSetupColumn("score");
    ImGui::TableSetupColumn("+bias");
    ImGui::TableSetupColumn("chosen");
    ImGui::TableSetupColumn("weight");
    ImGui::TableHeadersRow();
    std::vector<int> order(static_cast<size_t>(E));
    for (int e = 0; e < E; ++e) order[static_cast<size_t>(e)] = e;
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return sel[static_cast<size_t>(a)] > sel[static_cast<size_t>(b)]; });
    ImGuiListClipper clip;
    std::vector<int> rows;
    for (int e : order)
      if (expert_shown(s, e)) rows.push_back(e);
    clip.Begin(static_cast<int>(rows.size()));
    while (clip.Step())
      for (int i = clip.DisplayStart; i < clip.DisplayEnd; ++i) {
        const int e = rows[static_cast<size_t>(i)];
        int slot = -1;
        for (int j = 0; j < r->k; ++j)
          if (r->expert[j] == e) slot = j;
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        ImGui::TextColored(ImColor(col32(ecolor(tm, e))), "e%d", e);
        ImGui::TableNextColumn();
        ImGui::Text("%.4f", sc.empty() ? NAN : sc[static_cast<size_t>(e)]);
        ImGui::TableNextColumn();
        ImGui::Text("%.4f", sel[static_cast<size_t>(e)]);
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(slot >= 0 ? "yes" : "");
        ImGui::TableNextColumn();
        if (slot >= 0) ImGui::Text("%.3f", r->weight[slot]);
      }
    ImGui::EndTable();
  }
}

// (b) token x expert matrix for one layer
void matrix_tab(const TraceModel& tm, ViewState& st) {
  RoutingState& s = st.routing;
  int layer = s.matrix_layer >= 0 && tm.moe_index(s.matrix_layer) >= 0 ? s.matrix_layer : shown_moe_layer(tm, st);
  ImGui::SetNextItemWidth(100 * st.ui_scale);
  if (ImGui::BeginCombo("layer##matrix", (prefixed("L", layer)).c_str())) {
    for (int l : tm.moe_layers())
      if (ImGui::Selectable((prefixed("L", l)).c_str(), l == layer)) s.matrix_layer = layer = l;
    ImGui::EndCombo();
  }
  same_line_if_fits(ImGui::GetFrameHeight() + ImGui::GetStyle().ItemInnerSpacing.x + ImGui::CalcTextSize("selection scores (?)").x +
                    ImGui::GetStyle().ItemSpacing.x);
  ImGui::Checkbox("selection scores", &s.show_scores);
  help_marker("Off: the routing weight each token gave each expert (divided by routed_scaling_factor). On: every expert's selection score "
              "(score + gate bias), chosen or not. Ctrl+wheel zooms, drag pans, wheel scrolls the tokens.");
  reset_button(s.matrix_grid, "mat");
  const int E = tm.n_routed_experts();
  const int n = static_cast<int>(visible_tokens(tm, st));
  const double scale = std::max(1.0, tm.config().routed_scaling_factor);
  color_bar(s.show_scores ? "selection score" : "weight / routed_scaling_factor", 0.0, 1.0, heat_color,
            std::min(260.0f * st.ui_scale, ImGui::GetContentRegionAvail().x * 0.6f));
  // Long sessions start zoomed to ~60 tokens at the end, so rows can be read.
  if (s.matrix_grid.y.zoom <= 1.0f && n > 120 && !s.matrix_grid.active && s.matrix_grid.y.first == 0) {
    s.matrix_grid.y.zoom = static_cast<float>(n) / 60.0f;
    s.matrix_grid.y.first = static_cast<float>(n);
  }
  static HeatmapImage img;
  const uint64_t key = tm.version() * 31u + static_cast<uint64_t>(layer) * 7919u + static_cast<uint64_t>(tm.meta().created_unix) +
                       (s.show_scores ? 17u : 0u) + static_cast<uint64_t>(s.solo + 2) * 131u +
                       std::hash<std::string>{}(std::string(s.muted.begin(), s.muted.end()));
  AxisSpec xs{0, 1, "routed expert"};
  xs.label = expert_label;
  AxisSpec ys{0, 1, "token #"};
  ys.label = [](double v) { return prefixed("#", static_cast<int64_t>(std::lround(v))); };
  const int sel = st.selected_token();
  const GridHover hv = heat_grid(
      "##matgrid", ImGui::GetContentRegionAvail(), E, n, s.matrix_grid, xs, ys, img, key,
      [&](int x, int y) {
        if (!expert_shown(s, x)) return std::numeric_limits<float>::quiet_NaN();
        if (s.show_scores) {
          const auto sc = tm.selection(static_cast<size_t>(y), layer);
          return sc.empty() ? 0.0f : std::clamp(sc[static_cast<size_t>(x)], 0.0f, 1.0f);
        }
        const RouteRow* r = tm.route(static_cast<size_t>(y), layer);
        if (r)
          for (int i = 0; i < r->k; ++i)
            if (r->expert[i] == x) return std::min(1.0f, r->weight[i] / static_cast<float>(scale));
        return 0.0f;
      },
      heat_color,
      [&](ImDrawList* dl, const ChartFrame& f) {
        group_overlay(tm, dl, f);
        if (sel >= 0 && sel < n) {
          const float y0 = f.y_of(sel), y1 = f.y_of(sel + 1);
          dl->AddRect(ImVec2(f.plot0.x, y0), ImVec2(f.plot1.x, std::max(y1, y0 + 2)), IM_COL32(255, 255, 255, 230));
        }
      });
  if (hv.x >= 0) {
    st.hover_next = hv.y;
    const RouteRow* r = tm.route(static_cast<size_t>(hv.y), layer);
    float w = 0;
    if (r)
      for (int i = 0; i < r->k; ++i)
        if (r->expert[i] == hv.x) w = r->weight[i];
    const auto se = tm.selection(static_cast<size_t>(hv.y), layer);
    ImGui::SetTooltip("#%d \"%s\", L%d expert %d (group %d)\nweight %.4f%s\nselection score %.4f", hv.y,
                      display_token(tm.token(static_cast<size_t>(hv.y)).text).c_str(), layer, hv.x, expert_group(hv.x, E, tm.config().n_group), w,
                      w > 0 ? " (chosen)" : "", se.empty() ? NAN : se[static_cast<size_t>(hv.x)]);
    if (hv.clicked) st.locked_token = st.locked_token == hv.y ? -1 : hv.y;
  }
}

// (c) expert load
void load_tab(const TraceModel& tm, ViewState& st) {
  RoutingState& s = st.routing;
  size_t b = 0, e_end = 0;
  stats_range(tm, st, &b, &e_end);
  const int E = tm.n_routed_experts();
  const int k = tm.config().num_experts_per_tok;
  const double uniform = static_cast<double>(e_end - b) * k / std::max(1, E);
  int layer = s.load_layer >= 0 && tm.moe_index(s.load_layer) >= 0 ? s.load_layer : shown_moe_layer(tm, st);
  ImGui::SetNextItemWidth(100 * st.ui_scale);
  if (ImGui::BeginCombo("layer##load", (prefixed("L", layer)).c_str())) {
    for (int l : tm.moe_layers())
      if (ImGui::Selectable((prefixed("L", l)).c_str(), l == layer)) s.load_layer = layer = l;
    ImGui::EndCombo();
  }
  const std::string span = "tokens [" + format_count(static_cast<int64_t>(b)) + ", " + format_count(static_cast<int64_t>(e_end)) + ")" +
                           (st.range_begin >= 0 ? " (selected range)" : "");
  same_line_if_fits(ImGui::CalcTextSize(span.c_str()).x);
  ImGui::PushTextWrapPos(0.0f);
  ImGui::TextUnformatted(span.c_str());
  ImGui::PopTextWrapPos();
  const std::vector<double> load = tm.expert_load(layer, b, e_end);
  const LoadStats ls = load_stats(load);
  legend({{"routed slots of each expert (tokens that chose it)", Rgb{0.6f, 0.7f, 0.9f}},
          {prefixed("uniform: tokens x top-", k) + prefixed(" / ", E) + " = " + format_number(uniform, 1), Rgb{1, 1, 1}, true}});
  const bool have_bias = !tm.meta().gate_bias.empty() && tm.moe_index(layer) >= 0 &&
                         static_cast<size_t>(tm.moe_index(layer)) < tm.meta().gate_bias.size();
  // Room below for the gate-bias strip and its colour bar, and the table's header and first row.
  const float below = (have_bias ? 8.0f * st.ui_scale + 2.0f + 2.5f * ImGui::GetTextLineHeightWithSpacing() : 0.0f) +
                      2.0f * ImGui::GetTextLineHeightWithSpacing();
  const float ch = fit_height(ImGui::GetContentRegionAvail().y, 0.45f, 110.0f, 260.0f * st.ui_scale, below);
  {
    AxisSpec xs{0, static_cast<double>(E), "routed expert"};
    xs.integer = true;
    xs.centered = true;
    xs.label = expert_label;
    AxisSpec ys{0, std::max({ls.max, uniform * 1.5, 1.0}) * 1.05, prefixed("routed slots (L", layer) + ")"};
    const ChartFrame f = begin_chart("##loadchart", ImVec2(ImGui::GetContentRegionAvail().x, ch), xs, ys);
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const float bw = (f.plot1.x - f.plot0.x) / static_cast<float>(std::max(1, E));
    for (int x = 0; x < E; ++x) {
      const float x0 = f.x_of(x), y0 = f.y_of(load[static_cast<size_t>(x)]);
      dl->AddRectFilled(ImVec2(x0, y0), ImVec2(x0 + std::max(1.0f, bw - (bw > 3 ? 1.0f : 0.0f)), f.plot1.y),
                        col32(ecolor(tm, x), expert_shown(s, x) ? 1.0f : 0.15f));
    }
    const float uy = f.y_of(uniform);
    dl->AddLine(ImVec2(f.plot0.x, uy), ImVec2(f.plot1.x, uy), IM_COL32(255, 255, 255, 220), 1.5f);
    group_overlay(tm, dl, f);
    draw_axes(dl, f, true);
    if (ImGui::IsItemHovered() && f.contains(ImGui::GetIO().MousePos)) {
      const int x = std::clamp(static_cast<int>(std::floor(f.x_at(ImGui::GetIO().MousePos.x))), 0, E - 1);
      const float bias = have_bias ? tm.meta().gate_bias[static_cast<size_t>(tm.moe_index(layer))][static_cast<size_t>(x)] : 0.0f;
      ImGui::SetTooltip("L%d expert %d (group %d): %s routed slots (uniform %s, %.2fx)%s%.4f", layer, x, expert_group(x, E, tm.config().n_group),
                        format_number(load[static_cast<size_t>(x)]).c_str(), format_number(uniform, 1).c_str(),
                        uniform > 0 ? load[static_cast<size_t>(x)] / uniform : 0.0, have_bias ? "\ngate bias (e_score_correction_bias) " : "",
                        have_bias ? bias : 0.0f);
    }
    if (have_bias) {
      // Gate bias under the bars, on the same expert axis, signed colours.
      const auto& bias = tm.meta().gate_bias[static_cast<size_t>(tm.moe_index(layer))];
      float bmax = 1e-9f;
      for (float v : bias) bmax = std::max(bmax, std::fabs(v));
      const ImVec2 p = ImGui::GetCursorScreenPos();
      const float bh = 8.0f * st.ui_scale;
      for (int x = 0; x < E && static_cast<size_t>(x) < bias.size(); ++x) {
        const float x0 = f.x_of(x);
        dl->AddRectFilled(ImVec2(x0, p.y), ImVec2(x0 + std::max(1.0f, bw), p.y + bh), col32(diverging_color(bias[static_cast<size_t>(x)] / bmax)));
      }
      ImGui::Dummy(ImVec2(1, bh + 2));
      color_bar("gate bias", -bmax, bmax, [](float t) { return diverging_color(2.0f * t - 1.0f); },
                std::min(260.0f * st.ui_scale, ImGui::GetContentRegionAvail().x * 0.6f));
    }
  }
  if (!ImGui::BeginTable("load", 4, ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingStretchProp | ImGuiTableFlags_ScrollY)) return;
  ImGui::TableSetupScrollFreeze(0, 1);
  ImGui::TableSetupColumn("layer");
  ImGui::TableSetupColumn("max / mean");
  ImGui::TableSetupColumn("CV");
  ImGui::TableSetupColumn("busiest (slots)");
  ImGui::TableHeadersRow();
  for (int l : tm.moe_layers()) {
    const LoadStats x = load_stats(tm.expert_load(l, b, e_end));
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    if (ImGui::Selectable((prefixed("L", l)).c_str(), l == layer, ImGuiSelectableFlags_SpanAllColumns)) s.load_layer = l;
    ImGui::TableNextColumn();
    if (x.total > 0) ImGui::Text("%.2f", x.max_over_mean);
    else ImGui::TextDisabled("-");
    ImGui::TableNextColumn();
    if (x.total > 0) ImGui::Text("%.2f", x.cv);
    else ImGui::TextDisabled("-");
    ImGui::TableNextColumn();
    // No tokens, no busiest expert.
    if (x.argmax >= 0) ImGui::TextColored(ImColor(col32(ecolor(tm, x.argmax))), "e%d (%s)", x.argmax, format_number(x.max).c_str());
    else ImGui::TextDisabled("- (no tokens)");
  }
  ImGui::EndTable();
}
}  // namespace

void draw_routing(const TraceModel& tm, ViewState& st) {
  if (tm.n_moe_layers() == 0) {
    ImGui::TextDisabled("This model has no MoE layers.");
    return;
  }
  if (server_reports_no_routing(tm)) {
    ImGui::TextWrapped("This server reports no routing (%s): it sends tokens and probabilities only. SGLang started "
                       "with --enable-return-routed-experts and `mlascope serve` send expert ids.",
                       tm.meta().server_url.c_str());
    return;
  }
  expert_picker(tm, st.routing);
  const int want = std::exchange(st.routing.select_tab, -1);
  auto flags = [&](int tab) { return want == tab ? ImGuiTabItemFlags_SetSelected : ImGuiTabItemFlags_None; };
  if (ImGui::BeginTabBar("routing_tabs")) {
    if (ImGui::BeginTabItem("selected token", nullptr, flags(0))) {
      token_tab(tm, st);
      ImGui::EndTabItem();
    }
    if (ImGui::BeginTabItem("token x expert", nullptr, flags(1))) {
      tour_anchor(st.tour, "routing.matrix");
      matrix_tab(tm, st);
      ImGui::EndTabItem();
    }
    if (ImGui::BeginTabItem("expert load", nullptr, flags(2))) {
      tour_anchor(st.tour, "routing.load");
      load_tab(tm, st);
      ImGui::EndTabItem();
    }
    ImGui::EndTabBar();
  }
}

}  // namespace mlascope::views
