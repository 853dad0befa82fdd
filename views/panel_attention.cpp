// views/panel_attention.cpp — attention of one layer: the query x key map of a head (or the head
// average) with labelled token axes and a colour bar, MLA's content (nope) and positional (rope)
// score parts apart or summed; or all heads as small multiples (DeepSeek-V3 has 128), one
// thumbnail each, click one to pick it. Ctrl+wheel zooms, drag pans. The selected token's row is
// shown over the text below the map.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "chart.h"
#include "views.h"
#include "widgets.h"

namespace mlascope::views {

namespace {
// Colour position of a cell: probabilities through a square root (small ones stay visible),
// score parts normalised to their row's range.
float cell_t(float v, int part, float lo, float hi) {
  if (part == 0) return std::sqrt(std::clamp(v, 0.0f, 1.0f));
  return hi > lo ? (v - lo) / (hi - lo) : 0.5f;
}

// Every head's map for the layer as thumbnails in one image (one texture, one quad).
void small_multiples(const TraceModel& tm, ViewState& st, size_t n, int H) {
  AttentionState& s = st.attention;
  const ImVec2 avail = ImGui::GetContentRegionAvail();
  // The largest square thumbnail that fits all heads in the space.
  int cols = 1;
  float thumb = 8.0f;
  for (int c = 1; c <= H; ++c) {
    const int rows = (H + c - 1) / c;
    const float t = std::min((avail.x - 2.0f * c) / c, (avail.y - ImGui::GetTextLineHeightWithSpacing() * 2) / rows - 2.0f);
    if (t > thumb || c == 1) {
      thumb = t;
      cols = c;
    }
  }
  thumb = std::clamp(thumb, 8.0f, 160.0f);
  const int px = std::clamp(static_cast<int>(thumb), 4, 64);  // pixels per thumbnail in the image
  const int rows = (H + cols - 1) / cols;
  const int pi = static_cast<int>(s.part);
  static HeatmapImage img;
  uint64_t key = tm.version() * 1000003u + static_cast<uint64_t>(tm.meta().created_unix) + static_cast<uint64_t>(tm.token(n - 1).id);
  for (int v : {static_cast<int>(n), s.layer, pi, cols, px}) key = key * 1000003u + static_cast<uint64_t>(v + 1);
  if (img.key != key || img.w != cols * px || img.h != rows * px) {
    img.key = key;
    img.resize(cols * px, rows * px);
    const int bin = std::max(1, static_cast<int>((n + static_cast<size_t>(px) - 1) / static_cast<size_t>(px)));
    for (int h = 0; h < H; ++h) {
      const int ox = (h % cols) * px, oy = (h / cols) * px;
      for (int qb = 0; qb * bin < static_cast<int>(n) && qb < px; ++qb)
        for (int kb = 0; kb <= qb && kb < px; ++kb) {
          float best = -INFINITY, lo = 0, hi = 1;
          for (int q = qb * bin; q < std::min<int>(static_cast<int>(n), (qb + 1) * bin); ++q) {
            const AttentionRow* r = tm.attention(static_cast<size_t>(q), s.layer);
            if (!r) continue;
            if (pi != 0) attention_range(*r, h, pi, &lo, &hi);
            for (int k = kb * bin; k < std::min(r->n_keys, (kb + 1) * bin); ++k) best = std::max(best, cell_t(attention_cell(*r, h, k, pi), pi, lo, hi));
          }
          if (std::isfinite(best)) img.rgba[static_cast<size_t>(oy + qb) * static_cast<size_t>(img.w) + static_cast<size_t>(ox + kb)] = col32(heat_color(best));
        }
    }
  }
  const ImVec2 p = ImGui::GetCursorScreenPos();
  const float step = thumb + 2.0f;
  ImDrawList* dl = ImGui::GetWindowDrawList();
  // One texture for all heads; each thumbnail is a quad showing its part of it (UVs).
  for (int h = 0; h < H; ++h) {
    const ImVec2 a(p.x + static_cast<float>(h % cols) * step, p.y + static_cast<float>(h / cols) * step);
    dl->AddRectFilled(a, ImVec2(a.x + thumb, a.y + thumb), IM_COL32(15, 15, 20, 255));
  }
  if (textures_available()) {
    const ImTextureID tex = heatmap_texture(img);
    for (int h = 0; h < H; ++h) {
      const ImVec2 a(p.x + static_cast<float>(h % cols) * step, p.y + static_cast<float>(h / cols) * step);
      const ImVec2 uv0(static_cast<float>((h % cols) * px) / static_cast<float>(img.w), static_cast<float>((h / cols) * px) / static_cast<float>(img.h));
      const ImVec2 uv1(uv0.x + static_cast<float>(px) / static_cast<float>(img.w), uv0.y + static_cast<float>(px) / static_cast<float>(img.h));
      dl->AddImage(tex, a, ImVec2(a.x + thumb, a.y + thumb), uv0, uv1);
    }
  } else {
    // Headless: the whole atlas stretched (gaps ignored); enough to exercise the layout.
    draw_heatmap(dl, img, p, ImVec2(p.x + static_cast<float>(cols) * step, p.y + static_cast<float>(rows) * step));
  }
  for (int h = 0; h < H; ++h) {
    const ImVec2 a(p.x + static_cast<float>(h % cols) * step, p.y + static_cast<float>(h / cols) * step);
    if (h == s.head) dl->AddRect(a, ImVec2(a.x + thumb, a.y + thumb), IM_COL32(255, 255, 255, 255), 0, 0, 2.0f);
    if (thumb >= 28) {
      const std::string l = prefixed("h", h);
      dl->AddText(ImVec2(a.x + 2, a.y + 1), IM_COL32(255, 255, 255, 200), l.c_str());
    }
  }
  ImGui::InvisibleButton("thumbs", ImVec2(std::max(1.0f, cols * step), std::max(1.0f, rows * step)));
  if (ImGui::IsItemHovered()) {
    const ImVec2 m = ImGui::GetIO().MousePos;
    const int c = static_cast<int>((m.x - p.x) / step), r = static_cast<int>((m.y - p.y) / step);
    const int h = r * cols + c;
    if (c >= 0 && c < cols && h >= 0 && h < H) {
      ImGui::SetTooltip("head %d of %d, layer %d: queries and keys #0..#%zu\nclick: show this head", h, H, s.layer, n - 1);
      if (ImGui::IsItemClicked()) {
        s.head = h;
        s.all_heads = false;
      }
    }
  }
}
}  // namespace

void draw_attention(const TraceModel& tm, ViewState& st) {
  AttentionState& s = st.attention;
  const int n_layers = tm.config().num_hidden_layers;
  const int H = tm.config().num_attention_heads;
  // Layers with attention captured (a run may capture only some).
  std::vector<int> captured;
  if (!tm.empty())
    for (const AttentionRow& a : tm.token(0).attention) captured.push_back(a.layer);
  s.layer = std::clamp(s.layer, 0, std::max(0, n_layers - 1));
  ImGui::SetNextItemWidth(110 * st.ui_scale);
  if (ImGui::BeginCombo("layer##attn", prefixed("L", s.layer).c_str())) {
    for (int l = 0; l < n_layers; ++l) {
      const bool have = std::find(captured.begin(), captured.end(), l) != captured.end();
      if (!have && !captured.empty()) continue;  // list only what was captured
      if (ImGui::Selectable(prefixed("L", l).c_str(), l == s.layer)) s.layer = l;
    }
    ImGui::EndCombo();
  }
  // Each control moves to a new line unless it fits whole: its box, its label (and help marker).
  const ImGuiStyle& style = ImGui::GetStyle();
  auto labeled = [&](float w, const char* label) { return w + style.ItemInnerSpacing.x + ImGui::CalcTextSize(label).x; };
  same_line_if_fits(labeled(110 * st.ui_scale, "head"));
  ImGui::SetNextItemWidth(110 * st.ui_scale);
  const std::string head_label = s.head < 0 ? "average" : prefixed("head ", s.head);
  if (ImGui::BeginCombo("head", head_label.c_str())) {
    if (ImGui::Selectable("average", s.head < 0)) s.head = -1;
    for (int h = 0; h < H; ++h)
      if (ImGui::Selectable(prefixed("head ", h).c_str(), s.head == h)) s.head = h;
    ImGui::EndCombo();
  }
  int part = static_cast<int>(s.part);
  same_line_if_fits(labeled(150 * st.ui_scale, "part") + style.ItemSpacing.x + ImGui::CalcTextSize("(?)").x);
  ImGui::SetNextItemWidth(150 * st.ui_scale);
  ImGui::Combo("part", &part, "probabilities\0nope (content) score\0rope (position) score\0nope + rope score\0");
  s.part = static_cast<AttnPart>(part);
  help_marker("MLA splits each query/key into a content part (nope: through the latent) and a positional part (rope: the shared k_pe). "
              "Their scaled dot products add up to the pre-softmax score.");
  const std::string all_label = "all heads (" + std::to_string(H) + ")";
  same_line_if_fits(labeled(ImGui::GetFrameHeight(), all_label.c_str()));
  ImGui::Checkbox(all_label.c_str(), &s.all_heads);
  if (s.view.x.zoom > 1.0f || s.view.y.zoom > 1.0f) {
    same_line_if_fits(ImGui::CalcTextSize("reset view").x + 2 * style.FramePadding.x);
    if (ImGui::SmallButton("reset view")) s.view = GridView{};
  }

  // Rows with attention captured for this layer, within the visible tokens.
  const size_t n_vis = visible_tokens(tm, st);
  size_t n = 0;
  while (n < n_vis && tm.attention(n, s.layer)) ++n;
  if (n == 0) {
    ImGui::PushTextWrapPos(0.0f);
    if (n_vis == 0) ImGui::TextDisabled("No tokens shown yet (replay position 0).");
    else ImGui::TextDisabled("No attention captured for layer %d (capture policy RoutingAttention or Everything).", s.layer);
    ImGui::PopTextWrapPos();
    if (!captured.empty() && captured.size() < static_cast<size_t>(n_layers)) {
      std::string l = "Captured layers:";
      for (int c : captured) l += prefixed(" L", c);
      ImGui::PushTextWrapPos(0.0f);
      ImGui::TextDisabled("%s", l.c_str());
      ImGui::PopTextWrapPos();
    }
    return;
  }
  const int pi = static_cast<int>(s.part);
  if (s.all_heads) {
    ImGui::PushTextWrapPos(0.0f);
    ImGui::TextDisabled("each square: one head, query #0..#%zu down, key across, sqrt(p) colour; h0 top left", n - 1);
    ImGui::PopTextWrapPos();
    small_multiples(tm, st, n, std::max(1, H));
    return;
  }
  const char* what = pi == 0 ? "attention probability" : pi == 1 ? "nope score (row-normalised)" : pi == 2 ? "rope score (row-normalised)" : "nope + rope score (row-normalised)";
  if (pi == 0) color_bar(what, 0.0, 1.0, heat_color, std::min(260.0f * st.ui_scale, ImGui::GetContentRegionAvail().x * 0.6f),
                         [](double v) { return static_cast<float>(std::sqrt(std::clamp(v, 0.0, 1.0))); });
  else color_bar(what, 0.0, 1.0, heat_color, std::min(260.0f * st.ui_scale, ImGui::GetContentRegionAvail().x * 0.6f));

  // Per-row ranges of the score parts, computed when first needed for this view.
  static std::vector<float> row_lo, row_hi;
  static uint64_t range_key = 0;
  uint64_t key = tm.version() * 1000003u + static_cast<uint64_t>(tm.meta().session_id + 1) * 7919u +
                 static_cast<uint64_t>(tm.meta().created_unix) + static_cast<uint64_t>(tm.token(n - 1).id);
  for (int v : {static_cast<int>(n), s.layer, s.head, pi}) key = key * 1000003u + static_cast<uint64_t>(v + 1);
  if (range_key != key) {
    range_key = key;
    row_lo.assign(n, NAN);
    row_hi.assign(n, NAN);
  }
  auto range_of = [&](int q, const AttentionRow& r) {
    if (row_lo[static_cast<size_t>(q)] != row_lo[static_cast<size_t>(q)]) attention_range(r, s.head, pi, &row_lo[static_cast<size_t>(q)], &row_hi[static_cast<size_t>(q)]);
  };
  static HeatmapImage img;
  // The map takes the height; the selected row over the text gets ~3 lines below it where the
  // tile is tall enough, none in a small tile (the map's tooltip still names every cell).
  const float avail_y = ImGui::GetContentRegionAvail().y;
  const float font_scale = ImGui::GetFontSize() / 16.0f;  // axes and labels grow with presenter fonts
  const bool row_text = avail_y > 240.0f * font_scale;
  const float map_h = row_text ? fit_height(avail_y, 0.75f, 120.0f * font_scale, 1e9f, 3.5f * ImGui::GetTextLineHeightWithSpacing(), 110.0f * font_scale)
                               : std::max(110.0f * font_scale, avail_y);
  AxisSpec xs{0, 1, "key token #"};
  xs.label = [](double v) { return prefixed("#", static_cast<int64_t>(std::lround(v))); };
  AxisSpec ys{0, 1, "query token #"};
  ys.label = xs.label;
  const int sel = st.selected_token();
  const float side = ImGui::GetContentRegionAvail().x;
  const GridHover hv = heat_grid(
      "##attnmap", ImVec2(side, map_h), static_cast<int>(n), static_cast<int>(n), s.view, xs, ys, img, key,
      [&](int k, int q) {
        if (k > q) return std::numeric_limits<float>::quiet_NaN();  // causal: no key after the query
        const AttentionRow* r = tm.attention(static_cast<size_t>(q), s.layer);
        if (!r) return std::numeric_limits<float>::quiet_NaN();
        if (pi != 0) range_of(q, *r);
        const float v = attention_cell(*r, s.head, k, pi);
        if (v != v) return v;
        return cell_t(v, pi, row_lo.empty() || pi == 0 ? 0.0f : row_lo[static_cast<size_t>(q)], pi == 0 ? 1.0f : row_hi[static_cast<size_t>(q)]);
      },
      heat_color,
      [&](ImDrawList* dl, const ChartFrame& f) {
        if (sel >= 0 && static_cast<size_t>(sel) < n)
          dl->AddRect(ImVec2(f.plot0.x, f.y_of(sel)), ImVec2(f.plot1.x, std::max(f.y_of(sel + 1), f.y_of(sel) + 2)), IM_COL32(255, 255, 255, 220));
      });
  if (hv.x >= 0 && hv.x <= hv.y) {
    const AttentionRow* r = tm.attention(static_cast<size_t>(hv.y), s.layer);
    ImGui::SetTooltip("query #%d \"%s\"\nkey #%d \"%s\"\n%s: p %.4f  nope %.3f  rope %.3f", hv.y,
                      display_token(tm.token(static_cast<size_t>(hv.y)).text).c_str(), hv.x,
                      display_token(tm.token(static_cast<size_t>(hv.x)).text).c_str(), s.head < 0 ? "mean of heads" : prefixed("head ", s.head).c_str(),
                      attention_cell(*r, s.head, hv.x, 0), attention_cell(*r, s.head, hv.x, 1), attention_cell(*r, s.head, hv.x, 2));
    st.hover_next = hv.y;
    if (hv.clicked) st.locked_token = hv.y;
  }

  // The selected query's row over the text: each key token tinted by its weight.
  if (!row_text) return;
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
    const float t = cell_t(attention_cell(*row, s.head, k, pi), pi, lo, hi);
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
