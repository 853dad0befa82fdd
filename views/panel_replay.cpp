// views/panel_replay.cpp — the replay timeline: play, pause, step, speed, scrub; a token range that
// filters the statistics panels; bookmarks with notes. Every panel follows st.replay_position.
#include <algorithm>
#include <cstdio>

#include "views.h"
#include "widgets.h"

namespace mlascope::views {

void draw_replay(const TraceModel& tm, ViewState& st) {
  ReplayState& r = st.replay;
  const int n = static_cast<int>(tm.size());
  int pos = st.replay_position < 0 ? n : std::min(st.replay_position, n);
  if (r.playing) {
    r.accum += ImGui::GetIO().DeltaTime * r.speed;
    const int step = static_cast<int>(r.accum);
    r.accum -= step;
    pos = std::min(n, pos + step);
    if (pos >= n) r.playing = false;
  }
  if (ImGui::Button("|<")) pos = 0;
  ImGui::SameLine();
  if (ImGui::Button("<")) pos = std::max(0, pos - 1);
  ImGui::SameLine();
  if (ImGui::Button(r.playing ? "pause" : "play")) {
    if (!r.playing && pos >= n) pos = 0;
    r.playing = !r.playing;
  }
  ImGui::SameLine();
  if (ImGui::Button(">")) pos = std::min(n, pos + 1);
  ImGui::SameLine();
  if (ImGui::Button(">|")) {
    pos = n;
    r.playing = false;
  }
  same_line_if_fits(110 * st.ui_scale + ImGui::GetStyle().ItemInnerSpacing.x + ImGui::CalcTextSize("tokens/s").x);
  ImGui::SetNextItemWidth(110 * st.ui_scale);
  ImGui::SliderFloat("tokens/s", &r.speed, 0.5f, 200.0f, "%.1f", ImGuiSliderFlags_Logarithmic);
  ImGui::SetNextItemWidth(-1);
  ImGui::SliderInt("##scrub", &pos, 0, n, "position %d");

  // Timeline strip: bookmarks as ticks, the selected range as a band. Shift+drag selects a range.
  const ImVec2 p = ImGui::GetCursorScreenPos();
  const float w = std::max(10.0f, ImGui::GetContentRegionAvail().x), h = 18.0f * st.ui_scale;
  ImGui::InvisibleButton("timeline", ImVec2(w, h));
  ImDrawList* dl = ImGui::GetWindowDrawList();
  dl->AddRectFilled(p, ImVec2(p.x + w, p.y + h), IM_COL32(40, 40, 48, 255));
  auto x_of = [&](int t) { return p.x + w * static_cast<float>(t) / static_cast<float>(std::max(1, n)); };
  auto t_of = [&](float x) { return std::clamp(static_cast<int>((x - p.x) / w * static_cast<float>(n) + 0.5f), 0, n); };
  if (st.range_begin >= 0 && st.range_end > st.range_begin)
    dl->AddRectFilled(ImVec2(x_of(st.range_begin), p.y), ImVec2(x_of(st.range_end), p.y + h), IM_COL32(255, 200, 60, 90));
  for (const Bookmark& b : tm.bookmarks()) dl->AddLine(ImVec2(x_of(b.position), p.y), ImVec2(x_of(b.position), p.y + h), IM_COL32(120, 200, 255, 255), 2);
  dl->AddLine(ImVec2(x_of(pos), p.y - 2), ImVec2(x_of(pos), p.y + h + 2), IM_COL32(255, 255, 255, 255), 2);
  static int drag_anchor = -1;
  if (ImGui::IsItemActive()) {
    const int t = t_of(ImGui::GetIO().MousePos.x);
    if (ImGui::GetIO().KeyShift) {
      if (drag_anchor < 0) drag_anchor = t;
      st.range_begin = std::min(drag_anchor, t);
      st.range_end = std::max(drag_anchor, t);
    } else {
      pos = t;
    }
  } else {
    drag_anchor = -1;
  }
  if (ImGui::IsItemHovered()) ImGui::SetTooltip("click: move the cursor   shift+drag: select a range for the statistics");
  st.replay_position = pos >= n && !r.playing ? -1 : pos;

  int range[2] = {std::max(0, st.range_begin), std::max(0, st.range_end)};
  ImGui::SetNextItemWidth(200 * st.ui_scale);
  if (ImGui::DragInt2("range", range, 1.0f, 0, n)) {
    st.range_begin = std::min(range[0], range[1]);
    st.range_end = std::max(range[0], range[1]);
  }
  ImGui::SameLine();
  if (ImGui::SmallButton("clear range")) st.range_begin = st.range_end = -1;

  ImGui::Separator();
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s", r.note.c_str());
  ImGui::SetNextItemWidth(200 * st.ui_scale);
  if (ImGui::InputTextWithHint("##note", "note", buf, sizeof buf)) r.note = buf;
  ImGui::SameLine();
  if (ImGui::Button("bookmark here")) {
    st.act(ActionKind::AddBookmark, r.note, pos);
    r.note.clear();
  }
  for (const Bookmark& b : tm.bookmarks()) {
    ImGui::PushID(static_cast<int>(b.id));
    if (ImGui::SmallButton("go")) {
      pos = b.position;
      st.replay_position = pos;
      st.locked_token = std::min(b.position, n - 1);
    }
    ImGui::SameLine();
    if (ImGui::SmallButton("x")) st.act(ActionKind::RemoveBookmark, {}, b.id);
    ImGui::SameLine();
    ImGui::Text("#%d  %s", b.position, b.note.c_str());
    ImGui::PopID();
  }
}

}  // namespace mlascope::views
