// views/panel_tour.cpp — guided tours: pick one, read a step, do what it asks or press Next. The
// shell performs each step's actions and draws the highlight around the step's panel.
#include <algorithm>

#include "views.h"
#include "widgets.h"

namespace mlascope::views {

void draw_tour(const TraceModel& /*tm*/, ViewState& st) {
  TourState& t = st.tour;
  if (t.tours.empty()) {
    ImGui::TextDisabled("No tours found (assets/tours/*.json).");
    return;
  }
  if (t.active < 0 || static_cast<size_t>(t.active) >= t.tours.size()) {
    ImGui::TextUnformatted("Guided tours: each runs on the demo model or a bundled session.");
    for (size_t i = 0; i < t.tours.size(); ++i) {
      ImGui::PushID(static_cast<int>(i));
      if (ImGui::Button("start")) st.act(ActionKind::StartTour, {}, static_cast<int64_t>(i));
      ImGui::SameLine();
      ImGui::Text("%s  (%zu steps)", t.tours[i].title.c_str(), t.tours[i].steps.size());
      ImGui::PopID();
    }
    return;
  }
  const Tour& tour = t.tours[static_cast<size_t>(t.active)];
  t.step = std::clamp(t.step, 0, static_cast<int>(tour.steps.size()) - 1);
  const TourStep& step = tour.steps[static_cast<size_t>(t.step)];
  ImGui::Text("%s — step %d of %zu", tour.title.c_str(), t.step + 1, tour.steps.size());
  ImGui::Separator();
  ImGui::PushTextWrapPos(0.0f);
  ImGui::TextUnformatted(step.text.c_str());
  ImGui::PopTextWrapPos();
  if (step.advance != TourAdvance::Button) {
    static const char* const kAsk[] = {"", "click a token in the token strip", "choose a layer", "send a prompt", "open the panel"};
    ImGui::TextColored(t.step_done ? ImVec4(0.5f, 1, 0.5f, 1) : ImVec4(1, 0.85f, 0.4f, 1), "%s %s", t.step_done ? "done:" : "your turn:",
                       kAsk[static_cast<int>(step.advance)]);
  }
  ImGui::Spacing();
  ImGui::BeginDisabled(t.step == 0);
  if (ImGui::Button("back")) st.act(ActionKind::StartTour, "back", t.active, t.step - 1);
  ImGui::EndDisabled();
  ImGui::SameLine();
  const bool last = t.step + 1 >= static_cast<int>(tour.steps.size());
  if (ImGui::Button(last ? "finish" : "next")) {
    if (last) t.active = -1;
    else st.act(ActionKind::StartTour, "next", t.active, t.step + 1);
  }
  ImGui::SameLine();
  if (ImGui::Button("leave tour")) t.active = -1;
}

}  // namespace mlascope::views
