// views/tour.h — guided tours: data files in assets/tours/*.json. A tour is a list of steps; each
// step says what the screen must show while its text is read — the panels (re-tiled to fill the
// window), the session, tab, layer, head, part, token and scroll position — and what the student
// must do for it to count as done ("button" = just press Next). Every step starts from the same
// clean state (selection, range, tab, head, part, scroll, preset reset), so going back or starting
// in the middle shows exactly what the text talks about.
//
//   {"id": "mla-saves", "title": "What MLA saves", "session": "demo: prose then code",
//    "steps": [{"text": "...", "panel": "kv_memory", "panels": ["kv_memory", "tokens"],
//               "actions": [{"do": "select_layer", "value": 2}, {"do": "scroll_to", "value": "kv.budget"}],
//               "advance": "select_token"}]}
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace mlascope::views {

struct TourAction {
  std::string verb;   // see kTourVerbs in tour.cpp (load_model, send_prompt, select_token, ...)
  std::string value;  // argument as text ("" when none)
  int number = -1;    // numeric argument (token, layer, head), -1 when none
  int number2 = -1;   // second numeric argument (range end)
};

enum class TourAdvance { Button, SelectToken, SelectLayer, SendPrompt, OpenPanel };

struct TourStep {
  std::string text;
  std::string panel;  // panel id to highlight ("" = none)
  std::vector<TourAction> actions;
  TourAdvance advance = TourAdvance::Button;
  std::vector<std::string> panels;  // panels shown for this step, beside the tour's text; empty = the user's
  std::string session;              // what the step shows: a session title, "live" (the chat), "" = the tour's
  // Keep the token the student locked in an earlier step (its lock_token action is then only
  // the default for a student who skipped that step).
  bool keep_token = false;
};

struct Tour {
  std::string id, title;
  std::string session;  // what the tour runs on: a bundled session's title, or "live" (the demo model's chat)
  std::vector<TourStep> steps;
};

// Throws Error "[tour] FILE: steps[2].advance: ..." naming the file and the field.
Tour parse_tour(const std::string& json_text, const std::string& source_name);
Tour load_tour(const std::filesystem::path& file);
// Every *.json in `dir`, sorted by file name; files that fail to parse are reported in `errors`.
std::vector<Tour> load_tours(const std::filesystem::path& dir, std::vector<std::string>* errors);
bool is_known_verb(const std::string& verb);
// What the student is asked to do, and what is said when they did it ("" for Button).
const char* advance_request(TourAdvance a);

// The tour panel's state; the shell runs the steps (app/gui), the panel shows them.
struct TourState {
  std::vector<Tour> tours;  // loaded by the shell from assets/tours/*.json
  int active = -1;
  int step = 0;
  bool step_done = false;     // the student did what the step asks (Next is enabled)
  std::string confirmation;   // set by the shell with step_done: what the student did, in words
  // Scrolling to what a step talks about: the shell sets scroll_to, the panel holding that anchor
  // scrolls it to the top of its window (tour_anchor) and clears it.
  std::string scroll_to;
  std::map<std::string, int> anchor_visible;  // anchor -> last frame it was drawn inside its window
  // Rectangles of the tour panel's buttons (screen coordinates, for scripted clicks).
  float next_rect[4] = {0, 0, 0, 0};
};

// A place a tour can point at ("routing.why", "kv.budget", ...), marked by the panel that draws it
// just before the widget: scrolls there when a step asks for it and records whether it is visible.
void tour_anchor(TourState& t, const char* id);
// True when `id` was drawn inside its window's visible area in the last frame drawn.
bool tour_anchor_visible(const TourState& t, const std::string& id);

}  // namespace mlascope::views
