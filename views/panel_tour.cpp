// views/panel_tour.cpp — guided tours: pick one, read a step, do what it asks, press Next. The
// shell sets up each step (panels, session, tab, layer, scroll) and draws the highlight around the
// step's panel; a step that asks the student to act keeps Next back until they did, then says what
// they did.
#include <algorithm>

#include "views.h"
#include "widgets.h"

namespace mlascope::views {

void tour_anchor(TourState& t, const char* id) {
  if (t.scroll_to == id) {
    ImGui::SetScrollHereY(0.0f);  // takes effect next frame: the anchor at the top of the window
    t.scroll_to.clear();
  }
  // Visible: the anchor's line lies inside the window's clip rectangle (a collapsed tab or a
  // scrolled-away section does not count).
  const ImVec2 p = ImGui::GetCursorScreenPos();
  const ImVec2 lo = ImGui::GetWindowDrawList()->GetClipRectMin(), hi = ImGui::GetWindowDrawList()->GetClipRectMax();
  const float h = ImGui::GetTextLineHeight();
  if (p.y >= lo.y - 1 && p.y + h <= hi.y + 1 && p.x < hi.x) t.anchor_visible[id] = ImGui::GetFrameCount();
}

bool tour_anchor_visible(const TourState& t, const std::string& id) {
  const auto it = t.anchor_visible.find(id);
  return it != t.anchor_visible.end() && it->second >= ImGui::GetFrameCount() - 1;
}

void draw_tour(const TraceModel& /*tm*/, ViewState& st) {
  TourState& t = st.tour;
  if (t.tours.empty()) {
    ImGui::TextDisabled("No tours found (assets/tours/*.json).");
    return;
  }
  if (t.active < 0 || static_cast<size_t>(t.active) >= t.tours.size()) {
    ImGui::TextWrapped("Guided tours: each sets up the panels it talks about.");
    for (size_t i = 0; i < t.tours.size(); ++i) {
      ImGui::PushID(static_cast<int>(i));
      if (ImGui::Button("start")) st.act(ActionKind::StartTour, {}, static_cast<int64_t>(i));
      ImGui::SameLine();
      ImGui::TextWrapped("%s  (%zu steps)", t.tours[i].title.c_str(), t.tours[i].steps.size());
      ImGui::PopID();
    }
    return;
  }
  const Tour& tour = t.tours[static_cast<size_t>(t.active)];
  t.step = std::clamp(t.step, 0, static_cast<int>(tour.steps.size()) - 1);
  const TourStep& step = tour.steps[static_cast<size_t>(t.step)];
  ImGui::PushTextWrapPos(0.0f);
  ImGui::TextDisabled("%s — step %d of %zu", tour.title.c_str(), t.step + 1, tour.steps.size());
  ImGui::PopTextWrapPos();
  ImGui::Separator();
  // The buttons first: the text can be long, and Next must not scroll out of a small panel.
  const bool asks = step.advance != TourAdvance::Button;
  const bool last = t.step + 1 >= static_cast<int>(tour.steps.size());
  ImGui::BeginDisabled(t.step == 0);
  if (ImGui::Button("back")) st.act(ActionKind::StartTour, "back", t.active, t.step - 1);
  ImGui::EndDisabled();
  ImGui::SameLine();
  ImGui::BeginDisabled(asks && !t.step_done);
  const bool next = ImGui::Button(last ? "finish" : "next");
  {
    const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
    t.next_rect[0] = a.x;
    t.next_rect[1] = a.y;
    t.next_rect[2] = b.x - a.x;
    t.next_rect[3] = b.y - a.y;
  }
  ImGui::EndDisabled();
  if (next) st.act(ActionKind::StartTour, last ? "finish" : "next", t.active, t.step + 1);
  if (asks && !t.step_done) {
    ImGui::SameLine();
    if (ImGui::SmallButton("skip")) st.act(ActionKind::StartTour, last ? "finish" : "next", t.active, t.step + 1);
  }
  ImGui::SameLine();
  if (ImGui::Button("leave tour")) st.act(ActionKind::StartTour, "leave", t.active, -1);
  if (asks) {
    if (t.step_done)
      ImGui::TextColored(ImVec4(0.5f, 1, 0.5f, 1), "done: %s", t.confirmation.c_str());
    else
      ImGui::TextColored(ImVec4(1, 0.85f, 0.4f, 1), "your turn: %s", advance_request(step.advance));
  }
  ImGui::Spacing();
  ImGui::PushTextWrapPos(0.0f);
  ImGui::TextUnformatted(step.text.c_str());
  ImGui::PopTextWrapPos();
}

}  // namespace mlascope::views
