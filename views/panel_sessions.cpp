// views/panel_sessions.cpp — browser of recorded sessions (search by title, date, model) and the
// comparison of two sessions: expert-load histograms overlaid, token-by-token routing differences.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "chart.h"
#include "views.h"
#include "widgets.h"

namespace mlascope::views {

namespace {
bool contains_ci(const std::string& hay, const std::string& needle) {
  if (needle.empty()) return true;
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(),
                        [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b)); });
  return it != hay.end();
}

// Share of experts two routings have in common (|A ∩ B| / k).
double overlap(const RouteRow& a, const RouteRow& b) {
  int same = 0;
  for (int i = 0; i < a.k; ++i)
    for (int j = 0; j < b.k; ++j)
      if (a.expert[i] == b.expert[j]) ++same;
  return a.k > 0 ? static_cast<double>(same) / a.k : 0.0;
}

void compare_view(const TraceModel& tm, const TraceModel& other, ViewState& st) {
  const int layer = shown_moe_layer(tm, st);
  if (other.n_routed_experts() != tm.n_routed_experts() || other.moe_index(layer) < 0) {
    ImGui::TextDisabled("The sessions come from different architectures; nothing to overlay.");
    return;
  }
  size_t b = 0, e = 0;
  stats_range(tm, st, &b, &e);
  const std::vector<double> la = tm.expert_load(layer, b, e);
  const std::vector<double> lb = other.expert_load(layer, 0, other.size());
  double ta = 0, tb = 0;
  for (double v : la) ta += v;
  for (double v : lb) tb += v;
  ImGui::PushTextWrapPos(0.0f);
  ImGui::Text("L%d expert load share: this session (filled) vs \"%s\" (outline)", layer, other.meta().title.c_str());
  ImGui::PopTextWrapPos();
  const int E = tm.n_routed_experts();
  double top = 1e-9;
  for (int x = 0; x < E; ++x) top = std::max({top, la[static_cast<size_t>(x)] / std::max(ta, 1.0), lb[static_cast<size_t>(x)] / std::max(tb, 1.0)});
  legend({{"this session", Rgb{0.6f, 0.7f, 0.9f}}, {"\"" + other.meta().title + "\"", Rgb{1, 1, 1}, true}});
  AxisSpec xs{0, static_cast<double>(E), "routed expert"};
  xs.integer = xs.centered = true;
  xs.label = [](double v) { return prefixed("e", static_cast<int64_t>(std::lround(v))); };
  AxisSpec ys{0, 100.0 * top * 1.05, "share of routed slots (%)"};
  const ChartFrame f = begin_chart("##cmp", ImVec2(ImGui::GetContentRegionAvail().x, std::clamp(ImGui::GetContentRegionAvail().y * 0.4f, 100.0f, 200.0f * st.ui_scale)), xs, ys);
  ImDrawList* dl = ImGui::GetWindowDrawList();
  for (int x = 0; x < E; ++x) {
    const double sa = 100.0 * la[static_cast<size_t>(x)] / std::max(ta, 1.0), sb = 100.0 * lb[static_cast<size_t>(x)] / std::max(tb, 1.0);
    const float x0 = f.x_of(x), x1 = std::max(x0 + 1.0f, f.x_of(x + 1) - 1.0f);
    dl->AddRectFilled(ImVec2(x0, f.y_of(sa)), ImVec2(x1, f.plot1.y), col32(expert_color(x, E, tm.config().n_group), 0.8f));
    dl->AddRect(ImVec2(x0, f.y_of(sb)), ImVec2(x1, f.plot1.y), IM_COL32(255, 255, 255, 230), 0, 0, 1.5f);
  }
  draw_axes(dl, f);
  if (ImGui::IsItemHovered() && f.contains(ImGui::GetIO().MousePos)) {
    const int x = std::clamp(static_cast<int>(std::floor(f.x_at(ImGui::GetIO().MousePos.x))), 0, E - 1);
    ImGui::SetTooltip("L%d expert %d\nthis session: %s slots (%.2f %%)\nother: %s slots (%.2f %%)", layer, x, format_number(la[static_cast<size_t>(x)]).c_str(),
                      100.0 * la[static_cast<size_t>(x)] / std::max(ta, 1.0), format_number(lb[static_cast<size_t>(x)]).c_str(),
                      100.0 * lb[static_cast<size_t>(x)] / std::max(tb, 1.0));
  }
  // Token-by-token: where both sessions hold the same token at the same position, how much routing agrees.
  const size_t n = std::min(visible_tokens(tm, st), other.size());
  size_t same_tokens = 0;
  double agree = 0;
  for (size_t t = 0; t < n; ++t) {
    if (tm.token(t).id != other.token(t).id) continue;
    const RouteRow* ra = tm.route(t, layer);
    const RouteRow* rb = other.route(t, layer);
    if (!ra || !rb) continue;
    ++same_tokens;
    agree += overlap(*ra, *rb);
  }
  ImGui::PushTextWrapPos(0.0f);
  ImGui::Text("%zu positions with the same token; mean expert overlap there %.2f", same_tokens, same_tokens ? agree / static_cast<double>(same_tokens) : 0.0);
  ImGui::PopTextWrapPos();
  ImGui::BeginChild("diff", ImVec2(0, 0), false);
  ImGuiListClipper clip;
  clip.Begin(static_cast<int>(n));
  while (clip.Step()) {
    for (int t = clip.DisplayStart; t < clip.DisplayEnd; ++t) {
      const RouteRow* ra = tm.route(static_cast<size_t>(t), layer);
      const RouteRow* rb = other.route(static_cast<size_t>(t), layer);
      const double o = ra && rb ? overlap(*ra, *rb) : 0.0;
      ImGui::TextColored(o >= 0.999 ? ImVec4(0.6f, 1, 0.6f, 1) : ImVec4(1, 0.7f, 0.4f, 1), "#%d %-10s | %-10s  overlap %.2f", t,
                         display_token(tm.token(static_cast<size_t>(t)).text).c_str(),
                         display_token(other.token(static_cast<size_t>(t)).text).c_str(), o);
    }
  }
  ImGui::EndChild();
}
}  // namespace

void draw_sessions(const TraceModel& tm, ViewState& st) {
  SessionsState& s = st.sessions;
  char buf[128];
  std::snprintf(buf, sizeof buf, "%s", s.filter.c_str());
  ImGui::SetNextItemWidth(-ImGui::CalcTextSize("refresh").x - ImGui::GetStyle().FramePadding.x * 2 - ImGui::GetStyle().ItemSpacing.x);
  if (ImGui::InputTextWithHint("##filter", "search title, date, model", buf, sizeof buf)) s.filter = buf;
  ImGui::SameLine();
  if (ImGui::Button("refresh")) st.act(ActionKind::RefreshSessions);
  const float list_h = s.compare_model ? ImGui::GetContentRegionAvail().y * 0.35f : 0.0f;
  // Date and model get their own columns only where they fit; a narrow tile shows them on hover.
  // The title takes what is left and is cut with "..." (never under the buttons).
  const ImGuiStyle& style = ImGui::GetStyle();
  const float buttons_w = ImGui::CalcTextSize("open").x + ImGui::CalcTextSize("compare").x + 4 * style.FramePadding.x + style.ItemSpacing.x;
  const float tokens_w = ImGui::CalcTextSize("tokens").x;
  const bool wide = ImGui::GetContentRegionAvail().x > 700.0f * st.ui_scale;
  const auto text_width = [](const std::string& t) { return ImGui::CalcTextSize(t.c_str()).x; };
  const int n_cols = wide ? 5 : 3;
  if (ImGui::BeginTable("sessions", n_cols, ImGuiTableFlags_RowBg | ImGuiTableFlags_ScrollY | ImGuiTableFlags_SizingFixedFit, ImVec2(0, list_h))) {
    ImGui::TableSetupScrollFreeze(0, 1);
    ImGui::TableSetupColumn("title", ImGuiTableColumnFlags_WidthStretch);
    if (wide) {
      ImGui::TableSetupColumn("date", ImGuiTableColumnFlags_WidthFixed, ImGui::CalcTextSize("2026-11-28 14:19").x);
      ImGui::TableSetupColumn("model", ImGuiTableColumnFlags_WidthFixed, ImGui::CalcTextSize("mla-moe-demo").x);
    }
    ImGui::TableSetupColumn("tokens", ImGuiTableColumnFlags_WidthFixed, tokens_w);
    ImGui::TableSetupColumn("", ImGuiTableColumnFlags_WidthFixed, buttons_w);
    ImGui::TableHeadersRow();
    for (size_t i = 0; i < s.list.size(); ++i) {
      const SessionSummary& x = s.list[i];
      if (!contains_ci(x.title, s.filter) && !contains_ci(x.date, s.filter) && !contains_ci(x.model, s.filter)) continue;
      ImGui::PushID(static_cast<int>(i));
      ImGui::TableNextRow();
      ImGui::TableNextColumn();
      // The session on screen is marked (and highlighted) so the reader knows which one they are in.
      const bool is_open = s.open == static_cast<int>(i);
      if (is_open) ImGui::TableSetBgColor(ImGuiTableBgTarget_RowBg1, IM_COL32(60, 110, 60, 160));
      const std::string suffix = is_open ? "  (open)" : "";
      const float title_w = ImGui::GetContentRegionAvail().x - ImGui::CalcTextSize(suffix.c_str()).x - ImGui::CalcTextSize("> ").x;
      // Titles made from a prompt can hold newlines and tabs: one line here, cut to the column.
      std::string title = x.title;
      std::replace_if(title.begin(), title.end(), [](char ch) { return ch == '\n' || ch == '\r' || ch == '\t'; }, ' ');
      const std::string label = (is_open ? "> " : "") + elide(title, title_w, text_width) + suffix;
      if (ImGui::Selectable(label.c_str(), s.selected == static_cast<int>(i), ImGuiSelectableFlags_AllowItemOverlap))
        s.selected = static_cast<int>(i);
      if (ImGui::IsItemHovered()) ImGui::SetTooltip("%s\n%s, %s, %s tokens", x.title.c_str(), x.date.c_str(), x.model.c_str(), format_count(x.n_tokens).c_str());
      if (wide) {
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(elide(x.date, ImGui::GetContentRegionAvail().x, text_width).c_str());
        ImGui::TableNextColumn();
        ImGui::TextUnformatted(elide(x.model, ImGui::GetContentRegionAvail().x, text_width).c_str());
      }
      ImGui::TableNextColumn();
      ImGui::TextUnformatted(format_count(x.n_tokens).c_str());
      ImGui::TableNextColumn();
      if (ImGui::SmallButton("open")) st.act(ActionKind::OpenSession, {}, static_cast<int64_t>(i));
      ImGui::SameLine();
      if (ImGui::SmallButton("compare")) st.act(ActionKind::CompareSession, {}, static_cast<int64_t>(i));
      ImGui::PopID();
    }
    ImGui::EndTable();
  }
  if (s.list.empty()) ImGui::TextDisabled("No recorded sessions yet.");
  if (s.compare_model) {
    ImGui::Separator();
    if (ImGui::SmallButton("stop comparing")) st.act(ActionKind::CompareSession, {}, -1);
    compare_view(tm, *s.compare_model, st);
  }
}

}  // namespace mlascope::views
