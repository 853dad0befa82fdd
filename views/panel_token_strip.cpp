// views/panel_token_strip.cpp — every token as a chip coloured by its routing in the chosen layer.
// Hover previews the token in every panel, click locks it (click again to unlock), right-click
// forks the chat from one of the alternatives. Rows are laid out once per change and clipped.
#include <algorithm>
#include <cstdio>

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
      return e < 0 ? Rgb{0.3f, 0.3f, 0.32f} : expert_color(e, tm.n_routed_experts());
    }
    case ChipColor::ExpertSet: {
      const RouteRow* r = tm.route(t, layer);
      return r ? expert_set_color(*r, tm.n_routed_experts()) : Rgb{0.3f, 0.3f, 0.32f};
    }
    case ChipColor::Probability: {
      const float p = tm.token(t).prob;
      return p < 0 ? Rgb{0.3f, 0.3f, 0.32f} : heat_color(p);
    }
  }
  return {};
}

void token_tooltip(const TraceModel& tm, size_t t) {
  const StepRecord& r = tm.token(t);
  ImGui::BeginTooltip();
  ImGui::Text("#%zu  \"%s\"  id %d%s", t, display_token(r.text).c_str(), r.id, r.is_prompt ? "  (prompt)" : "");
  if (r.prob >= 0) ImGui::Text("p = %.3f (sampled)   p_raw = %.3f", r.prob, r.raw_prob);
  const size_t n_alt = std::min<size_t>(5, std::max(r.top_raw.size(), r.top_sampled.size()));
  if (n_alt > 0 && ImGui::BeginTable("alts", 4, ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_RowBg)) {
    ImGui::TableSetupColumn("raw id");
    ImGui::TableSetupColumn("p raw");
    ImGui::TableSetupColumn("sampled id");
    ImGui::TableSetupColumn("p sampled");
    ImGui::TableHeadersRow();
    for (size_t i = 0; i < n_alt; ++i) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      if (i < r.top_raw.size()) ImGui::Text("%d", r.top_raw[i].id);
      ImGui::TableNextColumn();
      if (i < r.top_raw.size()) ImGui::Text("%.3f", r.top_raw[i].prob);
      ImGui::TableNextColumn();
      if (i < r.top_sampled.size()) ImGui::Text("%d", r.top_sampled[i].id);
      ImGui::TableNextColumn();
      if (i < r.top_sampled.size()) ImGui::Text("%.3f", r.top_sampled[i].prob);
    }
    ImGui::EndTable();
  }
  for (int layer : tm.moe_layers()) {
    const RouteRow* rr = tm.route(t, layer);
    if (!rr) continue;
    ImGui::Text("L%-2d", layer);
    for (int i = 0; i < rr->k; ++i) {
      ImGui::SameLine();
      ImGui::TextColored(ImColor(col32(expert_color(rr->expert[i], tm.n_routed_experts()))), "e%d:%.2f", rr->expert[i], rr->weight[i]);
    }
  }
  ImGui::TextDisabled("click: lock/unlock   right-click: fork from an alternative");
  ImGui::EndTooltip();
}
}  // namespace

void draw_token_strip(const TraceModel& tm, ViewState& st) {
  TokenStripState& s = st.strip;
  const int layer = shown_moe_layer(tm, st);
  int combo = static_cast<int>(s.color);
  ImGui::SetNextItemWidth(180 * st.ui_scale);
  ImGui::Combo("colour", &combo, "dominant expert\0expert set\0probability\0");
  s.color = static_cast<ChipColor>(combo);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(120 * st.ui_scale);
  if (ImGui::BeginCombo("layer", layer < 0 ? "(dense)" : ("L" + std::to_string(layer)).c_str())) {
    for (int l : tm.moe_layers())
      if (ImGui::Selectable(("L" + std::to_string(l)).c_str(), l == layer)) st.layer = l;
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
          token_tooltip(tm, t);
        }
        if (ImGui::IsItemClicked(ImGuiMouseButton_Left))
          st.locked_token = st.locked_token == static_cast<int>(t) ? -1 : static_cast<int>(t);
        if (ImGui::BeginPopupContextItem("fork")) {
          const StepRecord& r = tm.token(t);
          ImGui::TextDisabled("fork the chat at #%zu with:", t);
          for (const TopEntry& alt : r.top_sampled.empty() ? r.top_raw : r.top_sampled) {
            char label[64];
            std::snprintf(label, sizeof label, "id %d  (p %.3f)", alt.id, alt.prob);
            if (ImGui::Selectable(label)) st.act(ActionKind::ForkAt, {}, static_cast<int64_t>(t), alt.id);
          }
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
