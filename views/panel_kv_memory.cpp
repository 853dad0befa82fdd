// views/panel_kv_memory.cpp — answers "how much smaller is MLA's KV cache?": the formula filled
// with the model's own numbers, MLA as a % of a chosen baseline (same-head MHA with or without the
// rope part of K, MHA with N heads, GQA-g, MQA) and "x smaller", the cache against context length
// as a chart with axes, and the longest context a memory budget holds (flagged beyond the model's
// maximum). One dtype, named everywhere: the session's own cache dtype unless the user picks
// another. Works from a config alone (presets).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "chart.h"
#include "kv_figures.h"
#include "views.h"
#include "widgets.h"

namespace mlascope::views {

namespace {
const Rgb kMlaColor{0.30f, 0.85f, 0.45f}, kBaseColor{0.95f, 0.45f, 0.35f}, kOtherColor{0.55f, 0.60f, 0.70f};
const char* const kDtypeNames[] = {"f32", "bf16", "fp8"};
const int kDtypeBytes[] = {4, 2, 1};

// Largest binary unit that keeps `bytes` >= 1 in it.
void byte_unit(double bytes, double* div, const char** name) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  double d = 1;
  while (bytes / d >= 1024.0 && u < 5) {
    d *= 1024.0;
    ++u;
  }
  *div = d;
  *name = units[u];
}

// The N-heads explorer: MLA as a % of MHA with N heads of d_h, with the 5-13 % band.
void heads_chart(const ModelConfig& c, int n_sel, float w, float h) {
  const double n_lo = mha_heads_for_fraction(c, 0.13), n_hi = mha_heads_for_fraction(c, 0.05);
  const int n_max = std::max(128, c.num_attention_heads);
  AxisSpec x{1, static_cast<double>(n_max), "MHA heads N (of d_h = " + format_count(c.v_head_dim) + ")"};
  AxisSpec y{0, 30, "MLA cache as % of MHA-N"};
  y.label = [](double v) { return format_number(v, 0) + " %"; };
  const ChartFrame f = begin_chart("##heads", ImVec2(w, h), x, y);
  ImDrawList* dl = ImGui::GetWindowDrawList();
  dl->PushClipRect(f.plot0, f.plot1, true);
  // The band where the "5-13 %" claim holds, both ways: % range and the heads that give it.
  dl->AddRectFilled(ImVec2(f.plot0.x, f.y_of(13)), ImVec2(f.plot1.x, f.y_of(5)), IM_COL32(255, 210, 80, 40));
  dl->AddRectFilled(ImVec2(f.x_of(n_lo), f.plot0.y), ImVec2(f.x_of(n_hi), f.plot1.y), IM_COL32(255, 210, 80, 40));
  std::vector<ImVec2> pts;
  for (int n = 1; n <= n_max; ++n) pts.emplace_back(f.x_of(n), f.y_of(100.0 * mla_fraction_of(c, KvBaseline::MhaNHeads, n)));
  dl->AddPolyline(pts.data(), static_cast<int>(pts.size()), col32(kBaseColor), 0, 2.0f);
  const double pct = 100.0 * mla_fraction_of(c, KvBaseline::MhaNHeads, n_sel);
  dl->AddCircleFilled(ImVec2(f.x_of(n_sel), f.y_of(std::min(pct, 30.0))), 4.0f, IM_COL32(255, 255, 255, 255), 8);
  dl->PopClipRect();
  draw_axes(dl, f);
  if (ImGui::IsItemHovered()) {
    const int n = std::clamp(static_cast<int>(std::lround(f.x_at(ImGui::GetIO().MousePos.x))), 1, n_max);
    ImGui::SetTooltip("MHA with %d heads of %d: %s values per token and layer\nMLA's %d values are %s of it",
                      n, c.v_head_dim, format_count(kv_baseline_values(c, KvBaseline::MhaNHeads, n)).c_str(), c.latent_cache_dim(),
                      format_percent(mla_fraction_of(c, KvBaseline::MhaNHeads, n)).c_str());
  }
  // Drawn under the chart: visible means the whole chart is (tour 4 points at it).
  ImGui::TextDisabled("shaded: MLA is 5-13 %% of MHA for N = %.1f .. %.1f heads", n_lo, n_hi);
}
}  // namespace

void draw_kv_memory(const TraceModel& tm, ViewState& st) {
  KvMemoryState& s = st.kv;
  const bool have_session_model = tm.config().num_hidden_layers > 0;
  if (!have_session_model && s.preset < 0 && !s.presets.empty()) s.preset = 0;
  const bool preset = s.preset >= 0 && static_cast<size_t>(s.preset) < s.presets.size();
  const char* current = preset ? s.presets[static_cast<size_t>(s.preset)].name.c_str() : "session model";
  ImGui::SetNextItemWidth(170 * st.ui_scale);
  if (ImGui::BeginCombo("config", current)) {
    if (have_session_model && ImGui::Selectable("session model", !preset)) s.preset = -1;
    for (size_t i = 0; i < s.presets.size(); ++i)
      if (ImGui::Selectable(s.presets[i].name.c_str(), s.preset == static_cast<int>(i))) s.preset = static_cast<int>(i);
    ImGui::EndCombo();
  }
  const ModelConfig& c = preset ? s.presets[static_cast<size_t>(s.preset)].config : tm.config();
  if (c.num_hidden_layers <= 0) {
    ImGui::TextDisabled("Load a model or choose a preset.");
    return;
  }
  // One dtype: the session's cache (as the status bar shows it) unless the user asks "what if".
  const size_t n_now = visible_tokens(tm, st);
  const KvShown shown = kv_shown(tm, n_now);
  const std::string default_dtype = preset ? std::string("bf16") : shown.dtype;
  const int default_bytes = preset ? 2 : shown.bytes_per_elem;
  const std::string dtype = s.dtype >= 0 && s.dtype < 3 ? kDtypeNames[s.dtype] : default_dtype;
  const int bpe = s.dtype >= 0 && s.dtype < 3 ? kDtypeBytes[s.dtype] : default_bytes;
  same_line_if_fits(190 * st.ui_scale + ImGui::CalcTextSize("dtype (?)").x + 3 * ImGui::GetStyle().ItemSpacing.x);
  ImGui::SetNextItemWidth(190 * st.ui_scale);
  const std::string dflt = (preset ? "model dtype (" : "session cache (") + default_dtype + ")";
  if (ImGui::BeginCombo("dtype", s.dtype < 0 ? dflt.c_str() : dtype.c_str())) {
    if (ImGui::Selectable(dflt.c_str(), s.dtype < 0)) s.dtype = -1;
    for (int i = 0; i < 3; ++i)
      if (ImGui::Selectable(kDtypeNames[i], s.dtype == i)) s.dtype = i;
    ImGui::EndCombo();
  }
  help_marker("The KV cache stores each value in this dtype. 'session cache' is what the engine's cache held for this session "
              "(the status bar shows the same figure); pick another to ask what it would take.");

  // The formula with the model's numbers.
  const int L = c.num_hidden_layers;
  const int64_t latent = c.latent_cache_dim();
  const double mla_per_token = static_cast<double>(latent) * L * bpe;
  ImGui::PushTextWrapPos(0.0f);
  ImGui::Text("MLA caches per token and layer: kv_lora_rank %d + qk_rope_head_dim %d = %s values; x %d layers x %d B (%s) = %s B per token.",
              c.kv_lora_rank, c.qk_rope_head_dim, format_count(latent).c_str(), L, bpe, dtype.c_str(), format_number(mla_per_token).c_str());
  if (!preset) {
    // The session's own figure is written exactly as the status bar writes it (kv_shown().text()),
    // so the two can be compared character by character; the exact byte count follows.
    const double now_bytes = s.dtype < 0 ? shown.bytes : mla_per_token * static_cast<double>(n_now);
    const std::string figure = s.dtype < 0 ? shown.text() : "KV " + format_bytes(now_bytes) + " " + dtype;
    ImGui::TextColored(ImVec4(0.6f, 1.0f, 0.6f, 1.0f), "This session: %s tokens -> %s (%s B, %s)", format_count(static_cast<int64_t>(n_now)).c_str(),
                       figure.c_str(), format_number(now_bytes).c_str(),
                       s.dtype < 0 ? (shown.measured ? "measured by the engine's cache" : "computed from the config") : "what-if dtype");
  }
  ImGui::PopTextWrapPos();

  // Baseline.
  ImGui::TextUnformatted("compare with");
  ImGui::SameLine();
  ImGui::SetNextItemWidth(std::min(ImGui::GetContentRegionAvail().x, 360 * st.ui_scale));
  s.baseline = std::clamp(s.baseline, 0, 4);
  if (ImGui::BeginCombo("##baseline", to_string(static_cast<KvBaseline>(s.baseline)))) {
    for (int b = 0; b < 5; ++b)
      if (ImGui::Selectable(to_string(static_cast<KvBaseline>(b)), s.baseline == b)) s.baseline = b;
    ImGui::EndCombo();
  }
  const KvBaseline base = static_cast<KvBaseline>(s.baseline);
  int n_param = 0;
  if (base == KvBaseline::MhaNHeads) {
    ImGui::SetNextItemWidth(std::min(ImGui::GetContentRegionAvail().x, 260 * st.ui_scale));
    s.mha_heads = std::clamp(s.mha_heads, 1, std::max(128, c.num_attention_heads));
    ImGui::SliderInt("N heads", &s.mha_heads, 1, std::max(128, c.num_attention_heads));
    n_param = s.mha_heads;
  } else if (base == KvBaseline::Gqa) {
    // The slider moves over the group counts that divide the heads, and shows the value it sets.
    const std::vector<int> choices = gqa_group_choices(c.num_attention_heads);
    s.gqa_groups = snap_gqa_groups(s.gqa_groups, c.num_attention_heads);
    int idx = static_cast<int>(std::find(choices.begin(), choices.end(), s.gqa_groups) - choices.begin());
    const std::string label = prefixed("GQA-", choices[static_cast<size_t>(idx)]);
    ImGui::SetNextItemWidth(std::min(ImGui::GetContentRegionAvail().x, 260 * st.ui_scale));
    ImGui::SliderInt("groups", &idx, 0, static_cast<int>(choices.size()) - 1, label.c_str());
    s.gqa_groups = choices[static_cast<size_t>(std::clamp(idx, 0, static_cast<int>(choices.size()) - 1))];
    n_param = s.gqa_groups;
  }
  const int64_t base_values = kv_baseline_values(c, base, n_param);
  const double frac = mla_fraction_of(c, base, n_param);
  ImGui::PushTextWrapPos(0.0f);
  ImGui::TextDisabled("baseline per token and layer: %s values", kv_baseline_formula(c, base, n_param).c_str());
  ImGui::PopTextWrapPos();
  const std::string headline = "MLA = " + format_percent(frac) + " of " + (base == KvBaseline::MhaNHeads ? prefixed("MHA-", n_param) :
                                base == KvBaseline::Gqa ? prefixed("GQA-", n_param) : std::string(to_string(base))) +
                               "  (" + format_number(frac > 0 ? 1.0 / frac : 0.0, 1) + "x smaller)";
  ImGui::PushStyleColor(ImGuiCol_Text, ImVec4(1.0f, 0.86f, 0.45f, 1.0f));
  ImGui::PushTextWrapPos(0.0f);
  ImGui::TextUnformatted(headline.c_str());
  ImGui::PopTextWrapPos();
  ImGui::PopStyleColor();
  const float w = std::max(120.0f, ImGui::GetContentRegionAvail().x);
  if (base == KvBaseline::MhaNHeads) {
    heads_chart(c, n_param, w, std::clamp(ImGui::GetContentRegionAvail().y * 0.35f, 110.0f, 220.0f * st.ui_scale));
    tour_anchor(st.tour, "kv.heads");  // after the chart and its note: visible = all of it on screen
  }

  // Cache size against context length: MLA and the baseline, linear (log optional).
  const int64_t max_ctx = std::max(1, c.max_position_embeddings);
  const double base_per_token = static_cast<double>(base_values) * L * bpe;
  double div;
  const char* unit;
  byte_unit(std::max(base_per_token, mla_per_token) * static_cast<double>(max_ctx), &div, &unit);
  ImGui::Checkbox("log scale", &s.log_scale);
  ImGui::SameLine();
  // Short names in the legend (the selector above gives the baseline in full).
  const std::string base_short = base == KvBaseline::MhaNHeads ? prefixed("MHA-", n_param)
                                 : base == KvBaseline::Gqa      ? prefixed("GQA-", n_param)
                                 : base == KvBaseline::MhaSameHeads ? "MHA same heads, K+rope"
                                 : base == KvBaseline::MhaNoRope    ? "MHA same heads, K no rope"
                                                                    : "MQA";
  legend({{"MLA latent", kMlaColor, true}, {base_short, kBaseColor, true}});
  {
    AxisSpec x{0, static_cast<double>(max_ctx), "context length (tokens)"};
    x.integer = true;
    AxisSpec y{0, std::max(base_per_token, mla_per_token) * static_cast<double>(max_ctx) / div,
               std::string("KV cache (") + unit + ", " + dtype + prefixed(", all ", L) + " layers)"};
    if (s.log_scale) {
      y.log = true;
      y.lo = std::max(1e-9, mla_per_token * std::max<double>(1.0, static_cast<double>(max_ctx) / 1000.0) / div);
    }
    const float ch = std::clamp(ImGui::GetContentRegionAvail().y * 0.45f, 120.0f, 280.0f * st.ui_scale);
    const ChartFrame f = begin_chart("##kvcurve", ImVec2(w, ch), x, y);
    ImDrawList* dl = ImGui::GetWindowDrawList();
    dl->PushClipRect(f.plot0, f.plot1, true);
    for (int pass = 0; pass < 2; ++pass) {
      const double per = pass == 0 ? base_per_token : mla_per_token;
      std::vector<ImVec2> pts;
      for (double xv : context_axis(max_ctx, 96)) pts.emplace_back(f.x_of(xv), f.y_of(std::max(per * xv / div, f.y.lo)));
      dl->AddPolyline(pts.data(), static_cast<int>(pts.size()), col32(pass == 0 ? kBaseColor : kMlaColor), 0, 2.0f);
    }
    if (!preset) {
      const float nx = f.x_of(static_cast<double>(n_now));
      dl->AddLine(ImVec2(nx, f.plot0.y), ImVec2(nx, f.plot1.y), IM_COL32(255, 255, 255, 140));
    }
    dl->PopClipRect();
    draw_axes(dl, f);
    if (ImGui::IsItemHovered()) {
      const double xv = std::clamp(f.x_at(ImGui::GetIO().MousePos.x), 0.0, static_cast<double>(max_ctx));
      ImGui::SetTooltip("context %s tokens\nMLA latent: %s\nbaseline: %s\n(%s per value)", format_count(static_cast<int64_t>(xv)).c_str(),
                        format_bytes(mla_per_token * xv, true).c_str(), format_bytes(base_per_token * xv, true).c_str(), dtype.c_str());
    }
  }

  // Longest context in a budget, every scheme, flagged beyond the model's maximum.
  tour_anchor(st.tour, "kv.budget");
  ImGui::SetNextItemWidth(110 * st.ui_scale);
  ImGui::DragFloat("GiB budget", &s.budget_gib, 0.5f, 0.1f, 4096.0f, "%.1f");
  same_line_if_fits(ImGui::CalcTextSize("model maximum: 163,840 tokens (> max: beyond it)").x);
  ImGui::PushTextWrapPos(0.0f);
  ImGui::TextDisabled("model maximum: %s tokens (> max: beyond it)", format_count(max_ctx).c_str());
  ImGui::PopTextWrapPos();
  const double budget = static_cast<double>(s.budget_gib) * 1024.0 * 1024.0 * 1024.0;
  struct Row {
    std::string name;
    int64_t values;
  };
  // Short names in the table (the baseline selector above gives each in full).
  const int g_snap = snap_gqa_groups(s.gqa_groups, c.num_attention_heads);
  std::vector<Row> rows{{"MLA latent", latent},
                        {"MLA naive (K, V decompressed)", static_cast<int64_t>(c.num_attention_heads) * (c.qk_nope_head_dim + c.qk_rope_head_dim + c.v_head_dim)},
                        {"MHA same heads, K+rope", kv_baseline_values(c, KvBaseline::MhaSameHeads, 0)},
                        {"MHA same heads, K no rope", kv_baseline_values(c, KvBaseline::MhaNoRope, 0)},
                        {prefixed("MHA-", s.mha_heads) + prefixed(" (d_h ", c.v_head_dim) + ")", kv_baseline_values(c, KvBaseline::MhaNHeads, s.mha_heads)},
                        {prefixed("GQA-", g_snap), kv_baseline_values(c, KvBaseline::Gqa, g_snap)},
                        {"MQA", kv_baseline_values(c, KvBaseline::Mqa, 0)}};
  ImGui::PushTextWrapPos(0.0f);
  ImGui::TextDisabled("values: cached per token and layer; MLA is: MLA latent as a share of it; fits: the longest context the budget holds");
  ImGui::PopTextWrapPos();
  // Wider than a narrow tile (large presenter fonts)? It scrolls sideways inside its own box.
  // Header and rows (each a text line plus the cell padding), and room for the sideways scrollbar.
  const float table_h = static_cast<float>(rows.size() + 1) * (ImGui::GetTextLineHeight() + 2.0f * ImGui::GetStyle().CellPadding.y) +
                        ImGui::GetStyle().ScrollbarSize + 2.0f;
  if (ImGui::BeginTable("fits", 4, ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingFixedFit | ImGuiTableFlags_BordersInnerV | ImGuiTableFlags_ScrollX,
                        ImVec2(0, table_h))) {
    ImGui::TableSetupColumn("scheme");
    ImGui::TableSetupColumn("values");
    ImGui::TableSetupColumn("MLA is");
    ImGui::TableSetupColumn("fits in budget");
    ImGui::TableHeadersRow();
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextColored(i == 0 ? ImVec4(kMlaColor.r, kMlaColor.g, kMlaColor.b, 1) : ImVec4(0.85f, 0.85f, 0.85f, 1), "%s", r.name.c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(format_count(r.values).c_str());
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(i == 0 ? "-" : format_percent(static_cast<double>(latent) / static_cast<double>(r.values)).c_str());
      ImGui::TableNextColumn();
      const ContextFit fit = longest_context(budget, static_cast<double>(r.values) * L * bpe, max_ctx);
      if (fit.beyond_max) ImGui::TextColored(ImVec4(1, 0.7f, 0.3f, 1), "%s tokens (> max)", format_count(fit.tokens).c_str());
      else ImGui::Text("%s tokens", format_count(fit.tokens).c_str());
    }
    ImGui::EndTable();
  }
  if (ImGui::TreeNode("per layer")) {
    // Every layer caches the same shapes, so each holds 1/L of the total.
    const double n = preset ? static_cast<double>(max_ctx) : static_cast<double>(n_now);
    ImGui::TextDisabled("at %s tokens, %s", format_count(static_cast<int64_t>(n)).c_str(), dtype.c_str());
    if (ImGui::BeginTable("layers", 3, ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingFixedFit)) {
      ImGui::TableSetupColumn("layer");
      ImGui::TableSetupColumn("MLA latent");
      ImGui::TableSetupColumn("baseline");
      ImGui::TableHeadersRow();
      for (int l = 0; l < L; ++l) {
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        ImGui::Text("L%d%s", l, c.is_moe_layer(l) ? " (MoE)" : "");
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(format_bytes(static_cast<double>(latent) * bpe * n).c_str());
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(format_bytes(static_cast<double>(base_values) * bpe * n).c_str());
      }
      ImGui::EndTable();
    }
    ImGui::TreePop();
  }
  ImGui::SetNextItemWidth(std::min(ImGui::GetContentRegionAvail().x * 0.6f, 260 * st.ui_scale));
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s", s.config_path.c_str());
  if (ImGui::InputTextWithHint("##cfg", "path/to/config.json", buf, sizeof buf)) s.config_path = buf;
  same_line_if_fits(ImGui::CalcTextSize("open config.json").x + 2 * ImGui::GetStyle().FramePadding.x);
  if (ImGui::Button("open config.json")) st.act(ActionKind::OpenConfig, s.config_path);
}

}  // namespace mlascope::views
