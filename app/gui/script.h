// app/gui/script.h — scripted runs of the GUI (`mlascope --script FILE --screenshot-dir DIR`) for
// the Xvfb test and for making teaching material. One command per line, '#' starts a comment:
//
//   load_model demo | PATH      open a model folder (demo = the bundled model); waits for the load
//   synthetic N [demo|v2-lite|v3]  a synthetic session of N tokens (no model) with the demo model's,
//                               DeepSeek-V2-Lite's or DeepSeek-V3's counts (views/synthetic_trace.h)
//   prompt TEXT                 send a chat turn (\n = newline); `wait_idle` waits for the answer
//   wait_idle | wait N          wait for generation to finish | N frames
//   select_token N | lock_token N | select_layer N | range A B | replay_position N
//   open_panel ID | close_panel ID | only_panels ID...   (ids: chat tokens routing attention ...)
//   tab ID NAME                 routing tab: token | matrix | load
//   preset NAME                 KV memory panel preset (or "session")
//   attention LAYER HEAD        HEAD -1 = average
//   tour ID [STEP]              start a tour (by id) at a step
//   open_session TITLE          replay a bundled/recorded session by title (rest of the line)
//   compare_session TITLE
//   presenter on|off
//   screenshot NAME [PANEL]     write DIR/NAME.png of the window or of one panel
//   frame_stats N               draw N frames and print the median frame time
//   title TEXT                  title of the live chat (and of its recording)
//   sampler K=V...              sampler settings (temperature=0.8 seed=3 ...; max_new_tokens=N)
//   clear | regenerate          start a new chat | answer the last turn again
//   fork TOKEN ID               continue from TOKEN with token id ID in its place
//   bookmark N [NOTE...]        bookmark position N
//   quit
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace mlascope::app::gui {

struct ScriptCommand {
  int line = 0;
  std::string verb;
  std::vector<std::string> args;  // whitespace-split; prompt/open_session/compare_session keep the rest of the line
};

// Throws Error "[script] FILE:LINE: ..." for an unknown verb or a wrong number of arguments.
std::vector<ScriptCommand> parse_script(const std::string& text, const std::string& source_name);
std::vector<ScriptCommand> load_script(const std::filesystem::path& file);

}  // namespace mlascope::app::gui
