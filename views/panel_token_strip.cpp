// views/panel_token_strip.cpp — every token as a chip coloured by its routing in the chosen layer.
// Hover previews the token in every panel, click locks it (click again to unlock), right-click
// forks the chat from one of the alternatives. Rows are laid out once per change and clipped.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/trace/server_routing.h"
#include "chart.h"
#include "views.h"
#include "widgets.h"

namespace mlascope::views {

namespace {
struct StripLayout {
  const TraceModel* tm = nullptr;
  uint64_t version = ~0ull;
  size_t n = 0;
  float width = 0, font = 0;
  std::vector<float> chip_w;        // [n]
  std::vector<size_t> row_start;    // first token of each row
};

Rgb chip_color(const TraceModel& tm, const TokenStripState& s, size_t t, int layer) {
  switch (s.color) {
    case ChipColor::DominantExpert: {
      const int e = tm.dominant_expert(t, layer);
      return e < 0 ? Rgb{0.3f, 0.3f, 0.32f} : expert_color(e, tm.n_routed_experts(), tm.config().n_group);
    }
    case ChipColor::ExpertSet: {
      const RouteRow* r = tm.route(t, layer);
      return r ? expert_set_color(*r, tm.n_routed_experts(), tm.config().n_group) : Rgb{0.3f, 0.3f, 0.32f};
    }
    case ChipColor::Probability: {
      const float p = tm.token(t).prob;
      return p < 0 ? Rgb{0.3f, 0.3f, 0.32f} : heat_color(p);
    }
  }
  return {};
}

// The model's top alternatives at position t as text: raw softmax (what the model thinks, also
// under greedy decoding) beside the sampler's final distribution.
void alternatives_table(const TraceModel& tm, const ViewState& st, size_t t, bool selectable, ViewState* act) {
  const std::vector<Alternative> alts = fork_alternatives(tm, st, t);
  if (alts.empty()) {
    ImGui::TextDisabled("no alternatives recorded at #%zu", t);
    return;
  }
  if (!ImGui::BeginTable("alts", 4, ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_RowBg)) return;
  ImGui::TableSetupColumn("token");
  ImGui::TableSetupColumn("id");
  ImGui::TableSetupColumn("p model");
  ImGui::TableSetupColumn("p sampler");
  ImGui::TableHeadersRow();
  for (size_t i = 0; i < alts.size(); ++i) {
    const Alternative& a = alts[i];
    ImGui::TableNextRow();
    ImGui::TableNextColumn();
    ImGui::PushID(static_cast<int>(i));
    std::string text = "\"";
    text += display_token(a.text);
    text += a.chosen ? "\"  (chosen)" : "\"";
    if (selectable) {
      if (ImGui::Selectable(text.c_str(), false, ImGuiSelectableFlags_SpanAllColumns) && act)
        act->act(ActionKind::ForkAt, {}, static_cast<int64_t>(t), a.id);
    } else {
      ImGui::TextUnformatted(text.c_str());
    }
    ImGui::PopID();
    ImGui::TableNextColumn();
    ImGui::Text("%d", a.id);
    ImGui::TableNextColumn();
    if (a.p_model >= 0) ImGui::Text("%.4f", a.p_model);
    else ImGui::TextDisabled("-");
    ImGui::TableNextColumn();
    if (a.p_sampler >= 0) ImGui::Text("%.4f", a.p_sampler);
    else ImGui::TextDisabled("0 (cut)");
  }
  ImGui::EndTable();
}

void token_tooltip(const TraceModel& tm, const ViewState& st, size_t t) {
  const StepRecord& r = tm.token(t);
  ImGui::BeginTooltip();
  ImGui::Text("#%zu  \"%s\"  id %d%s", t, display_token(r.text).c_str(), r.id, r.is_prompt ? "  (prompt)" : "");
  if (r.prob >= 0) ImGui::Text("p = %.4f (sampler)   p = %.4f (model's raw softmax)", r.prob, r.raw_prob);
  alternatives_table(tm, st, t, false, nullptr);
  for (int layer : tm.moe_layers()) {
    const RouteRow* rr = tm.route(t, layer);
    if (!rr) continue;
    if (layer >= tm.moe_layers()[0] + 12) {
      ImGui::TextDisabled("... %d more layers (routing panel)", tm.n_moe_layers() - 12);
      break;
    }
    ImGui::Text("L%-2d", layer);
    for (int i = 0; i < rr->k; ++i) {
      ImGui::SameLine();
      ImGui::TextColored(ImColor(col32(expert_color(rr->expert[i], tm.n_routed_experts(), tm.config().n_group))), "e%d:%.2f", rr->expert[i], rr->weight[i]);
    }
  }
  ImGui::TextDisabled("click: lock/unlock   right-click: fork from an alternative");
  ImGui::EndTooltip();
}

// What the chip colours mean.
void strip_legend(const TraceModel& tm, const TokenStripState& s, float ui_scale) {
  if (s.color == ChipColor::Probability) {
    color_bar("p (sampler) of the chosen token", 0.0, 1.0, heat_color, std::min(280.0f * ui_scale, ImGui::GetContentRegionAvail().x * 0.7f));
    return;
  }
  const int E = tm.n_routed_experts();
  if (E <= 0) return;
  const int G = color_groups(E, tm.config().n_group), per = (E + G - 1) / G;
  std::vector<LegendItem> items;
  if (E <= 16) {
    for (int e = 0; e < E; ++e) items.push_back({prefixed("e", e), expert_color(e, E, tm.config().n_group)});
  } else {
    for (int g = 0; g < G; ++g)
      items.push_back({prefixed("g", g) + prefixed(" e", g * per) + "-" + std::to_string(std::min(E, (g + 1) * per) - 1), group_color(g, G)});
  }
  ImGui::TextDisabled(s.color == ChipColor::DominantExpert ? "hue = group, shade = expert:" : "mean colour of the chosen experts:");
  ImGui::SameLine();
  legend(items);
}
}  // namespace

void draw_token_strip(const TraceModel& tm, ViewState& st) {
  TokenStripState& s = st.strip;
  const int layer = shown_moe_layer(tm, st);
  // Without routing from the server the only colour there is: the token's probability.
  if (server_reports_no_routing(tm)) s.color = ChipColor::Probability;
  int combo = static_cast<int>(s.color);
  ImGui::SetNextItemWidth(180 * st.ui_scale);
  ImGui::Combo("colour", &combo, "dominant expert\0expert set\0probability\0");
  s.color = static_cast<ChipColor>(combo);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(120 * st.ui_scale);
  if (ImGui::BeginCombo("layer", layer < 0 ? "(dense)" : (prefixed("L", layer)).c_str())) {
    for (int l : tm.moe_layers())
      if (ImGui::Selectable((prefixed("L", l)).c_str(), l == layer)) st.layer = l;
    ImGui::EndCombo();
  }
  ImGui::SameLine();
  if (st.locked_token >= 0) {
    ImGui::Text("locked #%d", st.locked_token);
    ImGui::SameLine();
    if (ImGui::SmallButton("unlock")) st.locked_token = -1;
  } else {
    ImGui::TextDisabled("hover a token to preview, click to lock");
  }

  if (server_reports_no_routing(tm)) ImGui::TextDisabled("this server reports no routing: chips show each token's probability");
  strip_legend(tm, s, st.ui_scale);
  const size_t n = visible_tokens(tm, st);
  ImGui::BeginChild("chips", ImVec2(0, 0), false);
  static StripLayout L;
  const float width = ImGui::GetContentRegionAvail().x;
  const float pad = 4.0f * st.ui_scale, gap = 2.0f * st.ui_scale;
  if (L.tm != &tm || L.version != tm.version() || L.n != n || L.width != width || L.font != ImGui::GetFontSize()) {
    L.tm = &tm;
    L.version = tm.version();
    L.n = n;
    L.width = width;
    L.font = ImGui::GetFontSize();
    L.chip_w.resize(n);
    L.row_start.assign(1, 0);
    float x = 0;
    for (size_t t = 0; t < n; ++t) {
      const std::string d = display_token(tm.token(t).text);
      const float w = std::min(width, ImGui::CalcTextSize(d.c_str()).x + 2 * pad);
      L.chip_w[t] = w;
      const bool new_message = t > 0 && tm.token(t).message != tm.token(t - 1).message;
      if (t > 0 && (x + w > width || new_message)) {
        L.row_start.push_back(t);
        x = 0;
      }
      x += w + gap;
    }
    if (n == 0) L.row_start.clear();
  }
  const float row_h = ImGui::GetTextLineHeight() + 2 * gap + 2;
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const int sel = st.selected_token();
  // Zero spacing so every row advances exactly row_h, which the clipper relies on.
  ImGui::PushStyleVar(ImGuiStyleVar_ItemSpacing, ImVec2(0, 0));
  ImGuiListClipper clip;
  clip.Begin(static_cast<int>(L.row_start.size()), row_h);
  while (clip.Step()) {
    for (int row = clip.DisplayStart; row < clip.DisplayEnd; ++row) {
      const size_t b = L.row_start[static_cast<size_t>(row)];
      const size_t e = static_cast<size_t>(row) + 1 < L.row_start.size() ? L.row_start[static_cast<size_t>(row) + 1] : n;
      const ImVec2 row_pos = ImGui::GetCursorScreenPos();
      ImVec2 p = row_pos;
      for (size_t t = b; t < e; ++t) {
        const float w = L.chip_w[t];
        const ImVec2 a(p.x, p.y + gap), z(p.x + w, p.y + row_h - gap);
        const Rgb c = chip_color(tm, s, t, layer);
        const bool range = st.range_begin >= 0 && static_cast<int>(t) >= st.range_begin && static_cast<int>(t) < st.range_end;
        // Square corners: a rounded chip is ~40 anti-aliased vertices, a square one 4, and a software
        // renderer (Xvfb/llvmpipe) pays per vertex for the hundreds of chips on screen.
        dl->AddRectFilled(a, z, col32(c, tm.token(t).is_prompt ? 0.55f : 1.0f));
        if (static_cast<int>(t) == sel) dl->AddRect(a, z, IM_COL32(255, 255, 255, 255), 0.0f, 0, 2.0f);
        else if (range) dl->AddRect(a, z, IM_COL32(255, 210, 80, 200));
        const std::string d = display_token(tm.token(t).text);
        dl->AddText(ImVec2(a.x + pad, a.y + 1), text_on(c), d.c_str());
        ImGui::SetCursorScreenPos(a);
        ImGui::PushID(static_cast<int>(t));
        ImGui::InvisibleButton("chip", ImVec2(std::max(1.0f, w), std::max(1.0f, z.y - a.y)));
        if (ImGui::IsItemHovered()) {
          st.hover_next = static_cast<int>(t);
          token_tooltip(tm, st, t);
        }
        if (ImGui::IsItemClicked(ImGuiMouseButton_Left))
          st.locked_token = st.locked_token == static_cast<int>(t) ? -1 : static_cast<int>(t);
        if (ImGui::BeginPopupContextItem("fork")) {
          ImGui::TextDisabled("fork the chat at #%zu with (click one):", t);
          alternatives_table(tm, st, t, true, &st);
          if (ImGui::Selectable("bookmark here")) st.act(ActionKind::AddBookmark, "", static_cast<int64_t>(t));
          ImGui::EndPopup();
        }
        ImGui::PopID();
        p.x += w + gap;
      }
      ImGui::SetCursorScreenPos(row_pos);
      ImGui::Dummy(ImVec2(1, row_h));
    }
  }
  clip.End();
  ImGui::PopStyleVar();
  ImGui::EndChild();
}

}  // namespace mlascope::views
