// views/panel_routing.cpp — expert routing: (a) layer x expert weights of the selected token with
// shared experts marked, (b) token x expert matrix of one layer (clipped rows), (c) expert load per
// layer vs the uniform baseline with max/mean and CV, gate bias for V3, (d) "why this expert".
// Solo/mute: click an expert toggles mute, double-click solos it.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include "views.h"
#include "widgets.h"

namespace mlascope::views {

namespace {
bool expert_shown(const RoutingState& s, int e) {
  if (s.solo >= 0) return e == s.solo;
  return static_cast<size_t>(e) >= s.muted.size() || !s.muted[static_cast<size_t>(e)];
}

void expert_toggles(const TraceModel& tm, RoutingState& s, float scale) {
  const int E = tm.n_routed_experts();
  s.muted.resize(static_cast<size_t>(std::max(0, E)), 0);
  ImGui::TextDisabled("experts:");
  help_marker("Click an expert to mute it in the plots, double-click to solo it (double-click again to clear).");
  const float sz = ImGui::GetFrameHeight();
  for (int e = 0; e < E; ++e) {
    if (e > 0) {
      const float next = ImGui::GetItemRectMax().x + ImGui::GetStyle().ItemSpacing.x + sz * 1.6f;
      if (next < ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x) ImGui::SameLine();
    }
    const bool shown = expert_shown(s, e);
    const Rgb c = expert_color(e, E);
    ImGui::PushID(e);
    ImGui::PushStyleColor(ImGuiCol_Button, ImVec4(c.r, c.g, c.b, shown ? 1.0f : 0.2f));
    ImGui::PushStyleColor(ImGuiCol_Text, ImGui::ColorConvertU32ToFloat4(text_on(c)));
    char label[16];
    std::snprintf(label, sizeof label, "%d", e);
    ImGui::Button(label, ImVec2(sz * 1.6f, sz));
    if (ImGui::IsItemHovered() && ImGui::IsMouseDoubleClicked(ImGuiMouseButton_Left)) {
      s.solo = s.solo == e ? -1 : e;
    } else if (ImGui::IsItemClicked(ImGuiMouseButton_Left)) {
      s.muted[static_cast<size_t>(e)] ^= 1;
    }
    ImGui::PopStyleColor(2);
    ImGui::PopID();
  }
  (void)scale;
}

// (a) + (d)
void token_tab(const TraceModel& tm, ViewState& st) {
  const RoutingState& s = st.routing;
  const int t = st.selected_token();
  if (t < 0 || static_cast<size_t>(t) >= visible_tokens(tm, st)) {
    ImGui::TextDisabled("Hover or click a token in the token strip.");
    return;
  }
  const int E = tm.n_routed_experts();
  const int n_shared = tm.config().n_shared_experts;
  ImGui::Text("token #%d \"%s\": weight of each expert per layer", t, display_token(tm.token(static_cast<size_t>(t)).text).c_str());
  const float label_w = ImGui::CalcTextSize("L00 ").x;
  const float avail = ImGui::GetContentRegionAvail().x - label_w;
  const int cols = E + n_shared;
  const float cell = std::clamp(avail / std::max(1, cols + 1), 4.0f, 28.0f * st.ui_scale);
  ImDrawList* dl = ImGui::GetWindowDrawList();
  float max_w = 1e-6f;
  for (int layer : tm.moe_layers())
    if (const RouteRow* r = tm.route(static_cast<size_t>(t), layer))
      for (int i = 0; i < r->k; ++i) max_w = std::max(max_w, r->weight[i]);
  for (int layer : tm.moe_layers()) {
    const RouteRow* r = tm.route(static_cast<size_t>(t), layer);
    ImGui::Text("L%-2d", layer);
    ImGui::SameLine(label_w);
    const ImVec2 p = ImGui::GetCursorScreenPos();
    for (int e = 0; e < E; ++e) {
      float w = 0;
      if (r)
        for (int i = 0; i < r->k; ++i)
          if (r->expert[i] == e) w = r->weight[i];
      const ImVec2 a(p.x + e * cell, p.y), z(a.x + cell - 1, a.y + cell - 1);
      const float alpha = expert_shown(s, e) ? 1.0f : 0.15f;
      dl->AddRectFilled(a, z, col32(heat_color(w / max_w), alpha));
    }
    // Shared experts always run: drawn after a gap, hatched outline.
    for (int i = 0; i < n_shared; ++i) {
      const ImVec2 a(p.x + (E + 1 + i) * cell - cell * 0.5f, p.y), z(a.x + cell - 1, a.y + cell - 1);
      dl->AddRectFilled(a, z, IM_COL32(200, 200, 210, 255));
      dl->AddText(ImVec2(a.x + 2, a.y), IM_COL32(20, 20, 20, 255), "S");
    }
    ImGui::Dummy(ImVec2(cell * (cols + 1), cell));
    if (ImGui::IsItemHovered()) {
      const int e = static_cast<int>((ImGui::GetIO().MousePos.x - p.x) / cell);
      if (e >= 0 && e < E) {
        const auto sc = tm.scores(static_cast<size_t>(t), layer);
        const auto se = tm.selection(static_cast<size_t>(t), layer);
        ImGui::SetTooltip("L%d expert %d\nscore %.4f\nselection (score + bias) %.4f", layer, e,
                          sc.empty() ? NAN : sc[static_cast<size_t>(e)], se.empty() ? NAN : se[static_cast<size_t>(e)]);
      } else if (e > E) {
        ImGui::SetTooltip("shared expert: runs for every token");
      }
    }
  }
  heat_legend("0", "max weight", 120 * st.ui_scale);

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
  ImGui::Text("L%d, %s routing over %d groups (keep %d), top-%d", layer, to_string(tm.config().topk_method),
              tm.config().n_group, tm.config().topk_group, tm.config().num_experts_per_tok);
  ImGui::Text("recorded margin %.4f   recomputed margin %.4f (expert %d beat expert %d)", r->margin, ex.margin,
              ex.chosen.empty() ? -1 : ex.chosen.back(), ex.best_rejected_expert);
  ImGui::TextDisabled("groups kept:");
  for (size_t g = 0; g < ex.group_score.size(); ++g) {
    ImGui::SameLine();
    const bool kept = (r->kept_groups >> std::min<size_t>(g, 63)) & 1ull;
    ImGui::TextColored(kept ? ImVec4(0.5f, 1, 0.5f, 1) : ImVec4(0.6f, 0.6f, 0.6f, 1), "g%zu(%.3f)%s", g, ex.group_score[g], kept ? "" : "x");
  }
  if (ImGui::BeginTable("why", 5, ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_ScrollY,
                        ImVec2(0, std::max(80.0f, ImGui::GetContentRegionAvail().y)))) {
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
    for (int e : order) {
      if (!expert_shown(s, e)) continue;
      int slot = -1;
      for (int i = 0; i < r->k; ++i)
        if (r->expert[i] == e) slot = i;
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextColored(ImColor(col32(expert_color(e, E))), "e%d", e);
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
  if (ImGui::BeginCombo("layer##matrix", ("L" + std::to_string(layer)).c_str())) {
    for (int l : tm.moe_layers())
      if (ImGui::Selectable(("L" + std::to_string(l)).c_str(), l == layer)) s.matrix_layer = layer = l;
    ImGui::EndCombo();
  }
  ImGui::SameLine();
  ImGui::Checkbox("selection scores", &s.show_scores);
  const int E = tm.n_routed_experts();
  const size_t n = visible_tokens(tm, st);
  const float text_w = ImGui::CalcTextSize("#0000 wwwwwwww").x;
  ImGui::BeginChild("matrix", ImVec2(0, 0), false);
  const float cell = std::clamp((ImGui::GetContentRegionAvail().x - text_w) / std::max(1, E), 3.0f, 24.0f * st.ui_scale);
  const float row_h = std::max(cell, ImGui::GetTextLineHeight());
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const int sel = st.selected_token();
  ImGui::PushStyleVar(ImGuiStyleVar_ItemSpacing, ImVec2(0, 0));
  ImGuiListClipper clip;
  clip.Begin(static_cast<int>(n), row_h);
  while (clip.Step()) {
    for (int t = clip.DisplayStart; t < clip.DisplayEnd; ++t) {
      const ImVec2 p = ImGui::GetCursorScreenPos();
      char label[64];
      std::snprintf(label, sizeof label, "#%d %.8s", t, display_token(tm.token(static_cast<size_t>(t)).text).c_str());
      dl->AddText(p, t == sel ? IM_COL32(255, 255, 255, 255) : IM_COL32(170, 170, 170, 255), label);
      const RouteRow* r = tm.route(static_cast<size_t>(t), layer);
      const auto sc = tm.selection(static_cast<size_t>(t), layer);
      for (int e = 0; e < E; ++e) {
        float v = 0;
        if (s.show_scores && !sc.empty()) {
          v = std::clamp(sc[static_cast<size_t>(e)], 0.0f, 1.0f);
        } else if (r) {
          for (int i = 0; i < r->k; ++i)
            if (r->expert[i] == e) v = std::min(1.0f, r->weight[i] / static_cast<float>(std::max(1.0, tm.config().routed_scaling_factor)));
        }
        const ImVec2 a(p.x + text_w + e * cell, p.y), z(a.x + cell - 1, a.y + row_h - 1);
        dl->AddRectFilled(a, z, col32(heat_color(v), expert_shown(s, e) ? 1.0f : 0.12f));
      }
      ImGui::PushID(t);
      ImGui::InvisibleButton("row", ImVec2(text_w + cell * E, row_h));
      if (ImGui::IsItemHovered()) st.hover_next = t;
      if (ImGui::IsItemClicked()) st.locked_token = st.locked_token == t ? -1 : t;
      ImGui::PopID();
    }
  }
  clip.End();
  ImGui::PopStyleVar();
  ImGui::EndChild();
}

// (c) expert load
void load_tab(const TraceModel& tm, ViewState& st) {
  const RoutingState& s = st.routing;
  size_t b = 0, e_end = 0;
  stats_range(tm, st, &b, &e_end);
  ImGui::Text("tokens [%zu, %zu)%s", b, e_end, st.range_begin >= 0 ? " (selected range)" : "");
  const int E = tm.n_routed_experts();
  const int k = tm.config().num_experts_per_tok;
  const double uniform = static_cast<double>(e_end - b) * k / std::max(1, E);
  if (!ImGui::BeginTable("load", 5, ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_ScrollY)) return;
  ImGui::TableSetupScrollFreeze(0, 1);
  ImGui::TableSetupColumn("layer");
  ImGui::TableSetupColumn("load per expert (line = uniform)", ImGuiTableColumnFlags_WidthStretch);
  ImGui::TableSetupColumn("max/mean");
  ImGui::TableSetupColumn("CV");
  ImGui::TableSetupColumn("busiest");
  ImGui::TableHeadersRow();
  const bool have_bias = !tm.meta().gate_bias.empty();
  for (int layer : tm.moe_layers()) {
    const std::vector<double> load = tm.expert_load(layer, b, e_end);
    const LoadStats ls = load_stats(load);
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    ImGui::Text("L%d", layer);
    ImGui::TableNextColumn();
    const float h = 40.0f * st.ui_scale;
    const float w = ImGui::GetContentRegionAvail().x;
    const ImVec2 p = ImGui::GetCursorScreenPos();
    ImDrawList* dl = ImGui::GetWindowDrawList();
    const double top = std::max({ls.max, uniform * 1.5, 1e-9});
    const float bw = w / std::max(1, E);
    for (int x = 0; x < E; ++x) {
      const float bh = static_cast<float>(load[static_cast<size_t>(x)] / top) * h;
      dl->AddRectFilled(ImVec2(p.x + x * bw, p.y + h - bh), ImVec2(p.x + (x + 1) * bw - 1, p.y + h),
                        col32(expert_color(x, E), expert_shown(s, x) ? 1.0f : 0.15f));
    }
    const float uy = p.y + h - static_cast<float>(uniform / top) * h;
    dl->AddLine(ImVec2(p.x, uy), ImVec2(p.x + w, uy), IM_COL32(255, 255, 255, 200), 1.5f);
    float bias_h = 0;
    if (have_bias) {
      // Gate bias (e_score_correction_bias) under the bars, signed colours.
      const int m = tm.moe_index(layer);
      const auto& bias = tm.meta().gate_bias[static_cast<size_t>(m)];
      float bmax = 1e-9f;
      for (float v : bias) bmax = std::max(bmax, std::fabs(v));
      bias_h = 8.0f * st.ui_scale;
      for (int x = 0; x < E && static_cast<size_t>(x) < bias.size(); ++x)
        dl->AddRectFilled(ImVec2(p.x + x * bw, p.y + h + 2), ImVec2(p.x + (x + 1) * bw - 1, p.y + h + 2 + bias_h),
                          col32(diverging_color(bias[static_cast<size_t>(x)] / bmax)));
    }
    ImGui::Dummy(ImVec2(w, h + bias_h + 2));
    if (ImGui::IsItemHovered()) {
      const int x = static_cast<int>((ImGui::GetIO().MousePos.x - p.x) / bw);
      if (x >= 0 && x < E) {
        const float bias = have_bias ? tm.meta().gate_bias[static_cast<size_t>(tm.moe_index(layer))][static_cast<size_t>(x)] : 0.0f;
        ImGui::SetTooltip("L%d expert %d: %.0f routed slots (uniform %.1f)%s%.4f", layer, x, load[static_cast<size_t>(x)], uniform,
                          have_bias ? "\ngate bias " : "", have_bias ? bias : 0.0f);
      }
    }
    ImGui::TableNextColumn();
    ImGui::Text("%.2f", ls.max_over_mean);
    ImGui::TableNextColumn();
    ImGui::Text("%.2f", ls.cv);
    ImGui::TableNextColumn();
    ImGui::Text("e%d", ls.argmax);
  }
  ImGui::EndTable();
}
}  // namespace

void draw_routing(const TraceModel& tm, ViewState& st) {
  if (tm.n_moe_layers() == 0) {
    ImGui::TextDisabled("This model has no MoE layers.");
    return;
  }
  expert_toggles(tm, st.routing, st.ui_scale);
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
