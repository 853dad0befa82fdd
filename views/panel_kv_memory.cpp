// views/panel_kv_memory.cpp — KV-cache bytes: MLA's latent cache now vs what naive MLA, MHA, GQA
// and MQA would hold at the same length, as bars and as curves up to the model's maximum context;
// per-layer breakdown; the longest context that fits in N GiB. Works from a config alone (presets).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/kv_memory.h"
#include "views.h"
#include "widgets.h"

namespace mlascope::views {

namespace {
const Rgb kSchemeColor[] = {{0.30f, 0.85f, 0.45f}, {0.55f, 0.75f, 0.95f}, {0.95f, 0.40f, 0.35f}, {0.95f, 0.70f, 0.25f}, {0.75f, 0.55f, 0.95f}};
}

void draw_kv_memory(const TraceModel& tm, ViewState& st) {
  KvMemoryState& s = st.kv;
  const bool have_session_model = tm.config().num_hidden_layers > 0;
  if (!have_session_model && s.preset < 0 && !s.presets.empty()) s.preset = 0;
  const char* current = s.preset >= 0 && static_cast<size_t>(s.preset) < s.presets.size() ? s.presets[static_cast<size_t>(s.preset)].name.c_str()
                                                                                         : "session model";
  ImGui::SetNextItemWidth(170 * st.ui_scale);
  if (ImGui::BeginCombo("config", current)) {
    if (have_session_model && ImGui::Selectable("session model", s.preset < 0)) s.preset = -1;
    for (size_t i = 0; i < s.presets.size(); ++i)
      if (ImGui::Selectable(s.presets[i].name.c_str(), s.preset == static_cast<int>(i))) s.preset = static_cast<int>(i);
    ImGui::EndCombo();
  }
  const ModelConfig& c = s.preset >= 0 && static_cast<size_t>(s.preset) < s.presets.size() ? s.presets[static_cast<size_t>(s.preset)].config : tm.config();
  if (c.num_hidden_layers <= 0) {
    ImGui::TextDisabled("Load a model or choose a preset.");
    return;
  }
  ImGui::SameLine();
  int dt = s.bytes_per_elem == 4 ? 0 : s.bytes_per_elem == 2 ? 1 : 2;
  ImGui::SetNextItemWidth(90 * st.ui_scale);
  ImGui::Combo("dtype", &dt, "fp32\0bf16\0fp8\0");
  s.bytes_per_elem = dt == 0 ? 4 : dt == 1 ? 2 : 1;
  ImGui::SameLine();
  ImGui::SetNextItemWidth(90 * st.ui_scale);
  ImGui::SliderInt("GQA groups", &s.gqa_groups, 1, std::max(1, c.num_attention_heads));
  const KvMemory m = kv_memory(c, s.bytes_per_elem, s.gqa_groups);
  const int64_t max_ctx = std::max(1, c.max_position_embeddings);
  const int64_t now = s.preset < 0 ? static_cast<int64_t>(visible_tokens(tm, st)) : max_ctx;

  ImGui::Text("%s: %d layers, %d heads, kv_lora_rank %d + qk_rope_head_dim %d = %d cached per token per layer",
              c.model_type.c_str(), c.num_hidden_layers, c.num_attention_heads, c.kv_lora_rank, c.qk_rope_head_dim, c.latent_cache_dim());
  ImGui::Text("at %lld tokens%s:", static_cast<long long>(now), s.preset < 0 ? " (this session)" : " (max context)");

  // Bars at the current length.
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const float label_w = ImGui::CalcTextSize("MLA latent   ").x;
  const float bar_w = std::max(50.0f, ImGui::GetContentRegionAvail().x - label_w - ImGui::CalcTextSize(" 99.9x  1023.99 MiB").x);
  double top = 0;
  for (const KvFootprint& f : m.schemes) top = std::max(top, f.bytes_per_token);
  for (size_t i = 0; i < m.schemes.size(); ++i) {
    const KvFootprint& f = m.schemes[i];
    const double bytes = f.bytes_per_token * static_cast<double>(now);
    ImGui::Text("%s", f.label.c_str());
    ImGui::SameLine(label_w);
    const ImVec2 p = ImGui::GetCursorScreenPos();
    const float w = static_cast<float>(f.bytes_per_token / top) * bar_w;
    dl->AddRectFilled(p, ImVec2(p.x + std::max(w, 1.0f), p.y + ImGui::GetTextLineHeight()), col32(kSchemeColor[i]));
    ImGui::Dummy(ImVec2(bar_w, ImGui::GetTextLineHeight()));
    ImGui::SameLine();
    ImGui::Text("%.1fx  %s", m.ratio_vs_latent(f.scheme), human_bytes(bytes).c_str());
  }

  // Curves to the maximum context.
  ImGui::Checkbox("log scale", &s.log_scale);
  ImGui::SameLine();
  ImGui::TextDisabled("bytes vs context length, 0..%lld", static_cast<long long>(max_ctx));
  const ImVec2 p = ImGui::GetCursorScreenPos();
  const float cw = std::max(80.0f, ImGui::GetContentRegionAvail().x);
  const float ch = std::clamp(ImGui::GetContentRegionAvail().y * 0.4f, 60.0f, 260.0f * st.ui_scale);
  dl->AddRectFilled(p, ImVec2(p.x + cw, p.y + ch), IM_COL32(20, 20, 26, 255));
  const double y_max = top * static_cast<double>(max_ctx);
  const double y_min = m.get(KvScheme::MlaLatent).bytes_per_token;  // one token of latent cache
  auto y_of = [&](double bytes) {
    double t;
    if (s.log_scale) t = bytes <= y_min ? 0.0 : std::log(bytes / y_min) / std::log(std::max(y_max / y_min, 1.0001));
    else t = bytes / y_max;
    return p.y + ch - static_cast<float>(std::clamp(t, 0.0, 1.0)) * ch;
  };
  const std::vector<double> xs = context_axis(max_ctx, 64);
  for (size_t i = 0; i < m.schemes.size(); ++i) {
    std::vector<ImVec2> pts;
    for (double x : xs) pts.emplace_back(p.x + static_cast<float>(x / static_cast<double>(max_ctx)) * cw, y_of(m.schemes[i].bytes_per_token * x));
    dl->AddPolyline(pts.data(), static_cast<int>(pts.size()), col32(kSchemeColor[i]), 0, 2.0f);
  }
  if (s.preset < 0) {
    const float nx = p.x + static_cast<float>(static_cast<double>(now) / static_cast<double>(max_ctx)) * cw;
    dl->AddLine(ImVec2(nx, p.y), ImVec2(nx, p.y + ch), IM_COL32(255, 255, 255, 160));
  }
  ImGui::Dummy(ImVec2(cw, ch));
  if (ImGui::IsItemHovered()) {
    const double x = std::clamp((ImGui::GetIO().MousePos.x - p.x) / cw, 0.0f, 1.0f) * static_cast<double>(max_ctx);
    std::string tip = "context " + std::to_string(static_cast<long long>(x));
    for (const KvFootprint& f : m.schemes) tip += "\n" + f.label + ": " + human_bytes(f.bytes_per_token * x);
    ImGui::SetTooltip("%s", tip.c_str());
  }

  // Longest context in a budget.
  tour_anchor(st.tour, "kv.budget");
  ImGui::SetNextItemWidth(120 * st.ui_scale);
  ImGui::DragFloat("GiB budget", &s.budget_gib, 0.5f, 0.1f, 4096.0f, "%.1f");
  if (ImGui::BeginTable("fits", 3, ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingFixedFit)) {
    ImGui::TableSetupColumn("scheme");
    ImGui::TableSetupColumn("bytes / token (all layers)");
    ImGui::TableSetupColumn("longest context that fits");
    ImGui::TableHeadersRow();
    const double budget = static_cast<double>(s.budget_gib) * 1024.0 * 1024.0 * 1024.0;
    for (const KvFootprint& f : m.schemes) {
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      ImGui::TextColored(ImColor(col32(kSchemeColor[static_cast<size_t>(f.scheme)])), "%s", f.label.c_str());
      ImGui::TableNextColumn();
      ImGui::Text("%.0f", f.bytes_per_token);
      ImGui::TableNextColumn();
      ImGui::Text("%lld tokens", static_cast<long long>(m.longest_context(f.scheme, budget)));
    }
    ImGui::EndTable();
  }
  if (ImGui::TreeNode("per layer")) {
    // Every layer caches the same shapes, so the breakdown is the per-layer share at this length.
    if (ImGui::BeginTable("layers", 3, ImGuiTableFlags_RowBg | ImGuiTableFlags_SizingFixedFit)) {
      ImGui::TableSetupColumn("layer");
      ImGui::TableSetupColumn("MLA latent");
      ImGui::TableSetupColumn("MHA");
      ImGui::TableHeadersRow();
      for (int l = 0; l < c.num_hidden_layers; ++l) {
        ImGui::TableNextRow();
        ImGui::TableNextColumn();
        ImGui::Text("L%d%s", l, c.is_moe_layer(l) ? " (MoE)" : "");
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(human_bytes(m.get(KvScheme::MlaLatent).bytes_per_token / m.n_layers * static_cast<double>(now)).c_str());
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(human_bytes(m.get(KvScheme::Mha).bytes_per_token / m.n_layers * static_cast<double>(now)).c_str());
      }
      ImGui::EndTable();
    }
    ImGui::TreePop();
  }
  ImGui::SetNextItemWidth(220 * st.ui_scale);
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s", s.config_path.c_str());
  if (ImGui::InputTextWithHint("##cfg", "path/to/config.json", buf, sizeof buf)) s.config_path = buf;
  ImGui::SameLine();
  if (ImGui::Button("open config.json")) st.act(ActionKind::OpenConfig, s.config_path);
}

}  // namespace mlascope::views
