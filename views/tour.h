// views/tour.h — guided tours: data files in assets/tours/*.json. A tour is a list of steps; each
// step has text, the panel to highlight, actions the shell performs when the step starts, and what
// the user must do for it to count as done ("button" = just press Next).
//
//   {"id": "mla-saves", "title": "What MLA saves", "session": "demo",
//    "steps": [{"text": "...", "panel": "kv_memory",
//               "actions": [{"do": "select_layer", "value": 2}], "advance": "select_token"}]}
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace mlascope::views {

struct TourAction {
  std::string verb;   // load_model | send_prompt | select_token | lock_token | select_layer |
                      // open_panel | open_session | set_preset | set_head | set_range
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
};

struct Tour {
  std::string id, title;
  std::string session;  // what the tour runs on: "demo" (the demo model) or a session name
  std::vector<TourStep> steps;
};

// Throws Error "[tour] FILE: steps[2].advance: ..." naming the file and the field.
Tour parse_tour(const std::string& json_text, const std::string& source_name);
Tour load_tour(const std::filesystem::path& file);
// Every *.json in `dir`, sorted by file name; files that fail to parse are reported in `errors`.
std::vector<Tour> load_tours(const std::filesystem::path& dir, std::vector<std::string>* errors);
bool is_known_verb(const std::string& verb);

}  // namespace mlascope::views
