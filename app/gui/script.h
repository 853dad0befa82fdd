// app/gui/script.h — scripted runs of the GUI (`mlascope --script FILE --screenshot-dir DIR`) for
// the Xvfb test and for making teaching material. One command per line, '#' starts a comment:
//
//   load_model demo|PATH [nowait]  open a model folder (demo = the bundled model); waits for the
//                               load unless nowait (then the next commands run while it loads)
//   connect_server URL FOLDER   File > Connect to server... (FOLDER: config.json + tokenizer); waits
//                               for the connection ($MLASCOPE_API_KEY is the key)
//   synthetic N [demo|v2-lite|v3]  a synthetic session of N tokens (no model) with the demo model's,
//                               DeepSeek-V2-Lite's or DeepSeek-V3's counts (views/synthetic_trace.h)
//   prompt TEXT                 send a chat turn (\n = newline); `wait_idle` waits for the answer
//   wait_idle | wait N          wait for generation to finish | N frames
//   select_token N              hover token N (stays until another select/lock: there is no pointer)
//   lock_token N | select_layer N | range A B | replay_position N
//   open_panel ID | close_panel ID | only_panels ID...   (ids: chat tokens routing attention ...)
//   maximize ID | restore       one panel alone in the window | back to the tiles
//   resize W H                  resize the window (then 3 frames pass)
//   tab ID NAME                 routing tab: token | matrix | load
//   preset NAME                 KV memory panel preset (or "session")
//   attention LAYER HEAD        HEAD -1 = average
//   tour ID [STEP]              start a tour (by id) at a step
//   tour_next | tour_skip | tour_back | tour_leave   the tour panel's buttons (tour_next fails
//                               while the step waits for the student to act)
//   open_session TITLE          replay a bundled/recorded session by title (rest of the line)
//   compare_session TITLE
//   presenter on|off
//   screenshot NAME [PANEL]     write DIR/NAME.png of the window or of one panel
//   export_png [PANEL]          what File > Export ... as PNG does (names the file itself)
//   frame_stats N               draw N frames and print the median frame time
//   title TEXT                  title of the live chat (and of its recording)
//   sampler K=V...              sampler settings (temperature=0.8 seed=3 ...; max_new_tokens=N)
//   clear | regenerate          start a new chat | answer the last turn again
//   fork TOKEN ID               continue from TOKEN with token id ID in its place
//   bookmark N [NOTE...]        bookmark position N
//   click TARGET | click X Y    a left click (press, release) on a named target or a point
//   double_click TARGET | double_click X Y
//   drag TARGET DX DY | drag X Y DX DY   press, move by (DX, DY) over 4 frames, release
//                               targets: errors.dismiss tour.next toast panel.ID title.ID max.ID
//                               splitter.A.B (A, B: the first open panel on each side of the gap)
//   expect_error TEXT           the next error containing TEXT is expected (it does not fail the run)
//   quit
//
// Assertions (a failed one prints "[script] FILE:LINE: VERB: why" and makes the exit status 1):
//   assert_panels_inside [except ID...]   every open panel inside the work area, no overlaps, no
//                               panel's content wider than its window (but the panels named after
//                               `except`), the status bar inside the window
//   assert_visible ANCHOR       a place a tour points at (routing.why, routing.load, kv.budget, ...)
//                               was drawn inside its panel's visible area in the last frame
//   assert_selected N           the token every panel shows (hover, else the locked one)
//   assert_session TITLE        the title of what the window shows
//   assert_toast TEXT | assert_status TEXT   the toast / the status line contains TEXT
//   assert_errors N             N errors are listed in the Errors window
//   assert_open ID...           exactly these panels are open (and placed)
//   assert_maximized ID         ID alone fills the work area
//   assert_width ID PX          ID's tile is PX wide (+-1)
//   assert_tour STEP [done|waiting]   the running tour's step (0-based) and whether it is done
//   assert_rec_count            the status line's "N tokens saved" equals the session's length
//                               (waits up to 5 s for the recorder's commit)
//   assert_panel_text ID TEXT   the text panel ID draws (visible part only) contains TEXT (rest of line)
//   assert_kv_equal             the status bar's KV figure ("KV 228.75 KiB ..." up to the next '|')
//                               appears, the same, in the text the KV memory panel draws
//
// A run exits 1 when an assertion failed, an error occurred that no expect_error announced, or
// an expected error never came.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace mlascope::app::gui {

struct ScriptCommand {
  int line = 0;
  std::string verb;
  std::vector<std::string> args;  // whitespace-split; prompt, titles and texts keep the rest of the line
};

// Throws Error "[script] FILE:LINE: ..." for an unknown verb or a wrong number of arguments.
std::vector<ScriptCommand> parse_script(const std::string& text, const std::string& source_name);
std::vector<ScriptCommand> load_script(const std::filesystem::path& file);

}  // namespace mlascope::app::gui
