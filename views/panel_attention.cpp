// views/panel_attention.cpp — query x key heatmap for a layer and head (or the head average), with
// MLA's content (nope) and positional (rope) score parts apart or summed. Ctrl+wheel zooms, drag
// pans. The selected token's row is shown over the text below the map.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "views.h"
#include "widgets.h"

namespace mlascope::views {

void draw_attention(const TraceModel& tm, ViewState& st) {
  AttentionState& s = st.attention;
  const int n_layers = tm.config().num_hidden_layers;
  const int H = tm.config().num_attention_heads;
  ImGui::SetNextItemWidth(90 * st.ui_scale);
  ImGui::SliderInt("layer##attn", &s.layer, 0, std::max(0, n_layers - 1));
  s.layer = std::clamp(s.layer, 0, std::max(0, n_layers - 1));
  ImGui::SameLine();
  ImGui::SetNextItemWidth(110 * st.ui_scale);
  const std::string head_label = s.head < 0 ? "average" : "head " + std::to_string(s.head);
  if (ImGui::BeginCombo("head", head_label.c_str())) {
    if (ImGui::Selectable("average", s.head < 0)) s.head = -1;
    for (int h = 0; h < H; ++h)
      if (ImGui::Selectable(("head " + std::to_string(h)).c_str(), s.head == h)) s.head = h;
    ImGui::EndCombo();
  }
  int part = static_cast<int>(s.part);
  ImGui::SameLine();
  ImGui::SetNextItemWidth(150 * st.ui_scale);
  ImGui::Combo("part", &part, "probabilities\0nope (content) score\0rope (position) score\0nope + rope score\0");
  s.part = static_cast<AttnPart>(part);
  help_marker("MLA splits each query/key into a content part (nope: through the latent) and a positional part (rope: the shared k_pe). "
              "Their scaled dot products add up to the pre-softmax score.");
  ImGui::SameLine();
  if (ImGui::SmallButton("reset view")) {
    s.zoom = 1.0f;
    s.pan_x = s.pan_y = 0.0f;
  }

  // Rows with attention captured for this layer, within the visible tokens.
  const size_t n_vis = visible_tokens(tm, st);
  size_t n = 0;
  while (n < n_vis && tm.attention(n, s.layer)) ++n;
  if (n == 0) {
    ImGui::TextDisabled("No attention captured for layer %d (capture policy RoutingAttention or Everything).", s.layer);
    return;
  }
  const int pi = static_cast<int>(s.part);
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  const float map_h = std::max(60.0f, avail.y * 0.7f);
  const float side = std::min(avail.x, map_h);
  const float base_cell = side / static_cast<float>(n);
  const float cell = base_cell * s.zoom;
  // Bin tokens so that each drawn cell is at least ~3 px: keeps long sessions cheap to draw.
  const int bin = std::max(1, static_cast<int>(std::ceil(3.0f / std::max(cell, 1e-3f))));
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton("attnmap", ImVec2(std::max(side, 1.0f), std::max(map_h, 1.0f)));
  const bool hovered = ImGui::IsItemHovered();
  ImGuiIO& io = ImGui::GetIO();
  if (hovered && io.KeyCtrl && io.MouseWheel != 0) s.zoom = std::clamp(s.zoom * (io.MouseWheel > 0 ? 1.25f : 0.8f), 1.0f, 64.0f);
  if (ImGui::IsItemActive() && ImGui::IsMouseDragging(ImGuiMouseButton_Left)) {
    s.pan_x += io.MouseDelta.x;
    s.pan_y += io.MouseDelta.y;
  }
  const float extent = cell * static_cast<float>(n);
  s.pan_x = std::clamp(s.pan_x, std::min(0.0f, side - extent), 0.0f);
  s.pan_y = std::clamp(s.pan_y, std::min(0.0f, map_h - extent), 0.0f);
  ImDrawList* dl = ImGui::GetWindowDrawList();
  dl->PushClipRect(origin, ImVec2(origin.x + side, origin.y + map_h), true);
  dl->AddRectFilled(origin, ImVec2(origin.x + side, origin.y + map_h), IM_COL32(15, 15, 20, 255));
  const int q0 = std::max(0, static_cast<int>(-s.pan_y / cell) / bin * bin);
  const int q1 = std::min(static_cast<int>(n), static_cast<int>((map_h - s.pan_y) / cell) + bin);
  const int k1 = std::min(static_cast<int>(n), static_cast<int>((side - s.pan_x) / cell) + bin);
  const int k0 = std::max(0, static_cast<int>(-s.pan_x / cell) / bin * bin);
  // The visible part of the map as one image, rebuilt only when the session or the view changes.
  static HeatmapImage img;
  static uint64_t img_key = 0;
  // version() alone can repeat across sessions loaded the same way; the session's identity cannot.
  uint64_t key = tm.version() * 1000003u + static_cast<uint64_t>(tm.meta().session_id + 1) * 7919u +
                 static_cast<uint64_t>(tm.meta().created_unix) + static_cast<uint64_t>(tm.token(n - 1).id);
  for (int v : {static_cast<int>(n), s.layer, s.head, pi, bin, q0, q1, k0, k1}) key = key * 1000003u + static_cast<uint64_t>(v + 1);
  const int cols = std::max(0, (k1 - k0 + bin - 1) / bin), rows = std::max(0, (q1 - q0 + bin - 1) / bin);
  if (key != img_key || img.w != cols || img.h != rows) {
    img_key = key;
    img.resize(cols, rows);
    for (int q = q0; q < q1; q += bin) {
      const AttentionRow* a = tm.attention(static_cast<size_t>(q + std::min(bin, static_cast<int>(n) - q) - 1), s.layer);
      const AttentionRow* a0 = tm.attention(static_cast<size_t>(q), s.layer);
      if (!a || !a0) continue;
      float lo = 0, hi = 1;
      if (pi != 0) attention_range(*a0, s.head, pi, &lo, &hi);
      for (int k = k0; k < k1 && k <= q + bin - 1; k += bin) {
        // Bins show the strongest cell they cover.
        float v = -INFINITY;
        for (int qq = q; qq < std::min(q + bin, static_cast<int>(n)); ++qq) {
          const AttentionRow* r = tm.attention(static_cast<size_t>(qq), s.layer);
          for (int kk = k; kk < std::min(k + bin, r->n_keys); ++kk) v = std::max(v, attention_cell(*r, s.head, kk, pi));
        }
        if (!std::isfinite(v)) continue;
        float t;
        if (pi == 0) t = std::sqrt(std::clamp(v, 0.0f, 1.0f));  // sqrt: small probabilities stay visible
        else t = hi > lo ? (v - lo) / (hi - lo) : 0.5f;
        img.rgba[static_cast<size_t>((q - q0) / bin) * static_cast<size_t>(cols) + static_cast<size_t>((k - k0) / bin)] = col32(heat_color(t));
      }
    }
  }
  const ImVec2 m0(origin.x + s.pan_x + static_cast<float>(k0) * cell, origin.y + s.pan_y + static_cast<float>(q0) * cell);
  draw_heatmap(dl, img, m0, ImVec2(m0.x + static_cast<float>(cols * bin) * cell, m0.y + static_cast<float>(rows * bin) * cell));
  const int sel = st.selected_token();
  if (sel >= 0 && static_cast<size_t>(sel) < n) {
    const float y = origin.y + s.pan_y + sel * cell;
    dl->AddRect(ImVec2(origin.x, y), ImVec2(origin.x + side, y + std::max(cell, 1.0f)), IM_COL32(255, 255, 255, 220));
  }
  dl->PopClipRect();
  if (hovered) {
    const int k = static_cast<int>((io.MousePos.x - origin.x - s.pan_x) / cell);
    const int q = static_cast<int>((io.MousePos.y - origin.y - s.pan_y) / cell);
    if (q >= 0 && static_cast<size_t>(q) < n && k >= 0 && k <= q) {
      const AttentionRow* r = tm.attention(static_cast<size_t>(q), s.layer);
      ImGui::SetTooltip("query #%d \"%s\"\nkey #%d \"%s\"\np %.4f  nope %.3f  rope %.3f", q,
                        display_token(tm.token(static_cast<size_t>(q)).text).c_str(), k,
                        display_token(tm.token(static_cast<size_t>(k)).text).c_str(), attention_cell(*r, s.head, k, 0),
                        attention_cell(*r, s.head, k, 1), attention_cell(*r, s.head, k, 2));
      st.hover_next = q;
      if (ImGui::IsMouseReleased(ImGuiMouseButton_Left) && io.MouseDragMaxDistanceSqr[0] < 9.0f) st.locked_token = q;
    }
  }

  // The selected query's row over the text: each key token tinted by its weight.
  if (sel < 0 || static_cast<size_t>(sel) >= n) {
    ImGui::TextDisabled("Select a token to read its attention over the text.");
    return;
  }
  const AttentionRow* row = tm.attention(static_cast<size_t>(sel), s.layer);
  float lo = 0, hi = 1;
  attention_range(*row, s.head, pi, &lo, &hi);
  ImGui::Text("#%d attends to:", sel);
  ImGui::BeginChild("attn_text", ImVec2(0, 0), false);
  const float wrap = ImGui::GetContentRegionAvail().x;
  float x = 0;
  for (int k = std::max(0, row->n_keys - 512); k < row->n_keys; ++k) {
    const float v = attention_cell(*row, s.head, k, pi);
    const float t = pi == 0 ? std::sqrt(std::clamp(v, 0.0f, 1.0f)) : (hi > lo ? (v - lo) / (hi - lo) : 0.5f);
    const std::string d = display_token(tm.token(static_cast<size_t>(k)).text);
    const float w = ImGui::CalcTextSize(d.c_str()).x + 4;
    if (x > 0 && x + w < wrap) ImGui::SameLine(0, 0);
    else x = 0;
    const ImVec2 p = ImGui::GetCursorScreenPos();
    const Rgb c = heat_color(t);
    ImGui::GetWindowDrawList()->AddRectFilled(p, ImVec2(p.x + w, p.y + ImGui::GetTextLineHeight()), col32(c));
    ImGui::GetWindowDrawList()->AddText(ImVec2(p.x + 2, p.y), text_on(c), d.c_str());
    ImGui::Dummy(ImVec2(w, ImGui::GetTextLineHeight()));
    x += w;
  }
  ImGui::EndChild();
}

}  // namespace mlascope::views
