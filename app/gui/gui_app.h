// app/gui/gui_app.h — the workbench window's contents: menu, tiled panels with splitters, status
// bar, errors, toasts, tours, scripted runs and PNG export. The GLFW/OpenGL loop lives in
// gui_shell.cpp; this class only needs an ImGui context (a renderer only for PNGs), so a benchmark
// and the headless tests drive it frame by frame.
#pragma once
#include <array>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app/workbench.h"
#include "chat_controller.h"
#include "layout.h"
#include "engine/trace/trace_model.h"
#include "script.h"
#include "session_store.h"
#include "views/views.h"

struct ImGuiIO;

namespace mlascope::app::gui {

// Keeps freed heap memory in the process instead of handing it back to the kernel after every
// frame (glibc trims the heap top once 128 KiB are free). The GL driver (Mesa's llvmpipe above
// all) allocates and frees its per-frame buffers, so each frame page-faulted them in again:
// bench_gui_frame measured 13 ms of main-thread CPU per frame at DeepSeek-V3's counts, 2 ms with
// a 64 MiB trim threshold. Call once before the first frame; a no-op off glibc.
void keep_heap_between_frames();

struct GuiConfig {
  std::filesystem::path model_dir;       // empty: bundled demo model
  std::filesystem::path assets;          // tours, presets, fonts
  std::filesystem::path script;          // scripted run
  std::filesystem::path screenshot_dir;
  std::filesystem::path layout_file;     // empty: the layout is not remembered (scripted runs)
  std::filesystem::path session_db;      // live chats are recorded here; empty: not recorded
  EngineOptions engine;                  // backend, threads, MLA form
  bool demo_synthetic = false;           // developer mode: a synthetic session, no model loaded
  int synthetic_tokens = 240;
  float content_scale = 1.0f;            // monitor DPI scale
  std::function<void(int, int)> set_window_size;  // the platform window (script `resize W H`)
};

using PanelRect = Rect;

// Where a panel was drawn in the last frame: its window, the inside of its frame, and how far
// its content reached (the bottom may scroll; the right edge must not spill over).
struct PanelGeometry {
  Rect window, inner;
  float content_right = 0;
};

class GuiApp {
 public:
  explicit GuiApp(GuiConfig cfg);
  ~GuiApp();

  // Once, after ImGui::CreateContext and the backends' init: fonts, style, tours, presets, model.
  void setup();
  // Before ImGui::NewFrame: rebuilds the font atlas when presenter mode or DPI changed. Returns
  // true when the renderer's font texture must be recreated.
  bool fonts_dirty() const { return fonts_dirty_; }
  void rebuild_fonts();
  // Between NewFrame and Render.
  void draw();
  // After rendering into the back buffer (before swap): screenshots read the pixels here.
  void after_render(int fb_width, int fb_height);
  // After the swap: actions, script steps. Returns false when the app should quit.
  bool after_frame();

  int exit_code() const { return exit_code_; }
  // Scripted runs without a file (tests): the commands run from the next after_frame().
  void set_script(std::vector<ScriptCommand> commands);
  // Scripted runs have no user: before NewFrame, put the scripted mouse (clicks and drags the
  // script asked for) into `io`, or park it outside the window.
  void script_mouse(ImGuiIO& io);
  // Script assertions that failed (each also printed); a failed one makes the exit status 1.
  const std::vector<std::string>& failures() const { return failures_; }
  const Layout& layout() const { return layout_; }
  const Tiling& tiling() const { return tiling_; }
  const std::map<std::string, PanelGeometry>& panel_geometry() const { return geometry_; }
  // The rectangle a script can click by name: errors.dismiss, tour.next, panel.ID, title.ID,
  // max.ID, splitter.A.B (A and B: the first open panel on each side).
  const Rect* target(const std::string& name) const;
  const std::string& toast() const { return toast_; }  // the last one, shown or not
  const std::string& status_line() const { return status_line_; }
  TraceModel& trace() { return tm_; }
  views::ViewState& view_state() { return st_; }
  void set_all_panels_open(bool open);
  void set_panel_open(const std::string& id, bool open) { open_[id] = open; }
  bool panel_open(const std::string& id) const { auto it = open_.find(id); return it != open_.end() && it->second; }
  const std::map<std::string, PanelRect>& panel_rects() const { return rects_; }
  // What to clear each frame to: the panels' own colour, since tiled panels draw no background.
  std::array<float, 4> clear_color() const;

 private:
  void draw_menu();
  void draw_file_menu();
  void draw_view_menu();
  void draw_help_menu();
  void draw_panels();
  void draw_splitters(const Rect& area);
  void draw_panel_title_button(const std::string& id);
  void draw_status_bar();
  void draw_errors();
  void draw_toast();
  void show_toast(const std::string& text);
  void set_maximized(const std::string& id);
  void layout_changed();
  void save_layout_now();
  // `server` set: connect to it, `model` naming config.json + tokenizer files.
  void start_load(const std::filesystem::path& model, const RemoteArgs& server = {});
  void draw_open_model_popup();
  void draw_connect_popup();
  void process_actions();
  void handle(const views::Action& a);
  void start_tour(int index, int step, const std::string& how = {});
  void end_tour();
  void reset_for_tour_step();
  void show_for_tour(const std::string& what);
  void run_tour_step();
  void check_tour_progress();
  void tour_action(const views::TourAction& a);
  bool step_script();
  void check(bool ok, const ScriptCommand& c, const std::string& what);
  void assert_panels_inside(const ScriptCommand& c);
  std::string where(const ScriptCommand& c) const;
  void load_presets();
  void load_session_list();
  void open_session(size_t index, TraceModel& into);
  void replay_session(size_t index);
  int find_session(const std::string& title) const;
  void add_bookmark(int32_t position, const std::string& note);
  void remove_bookmark(int64_t id);
  void update_status();
  void error(const std::string& msg);
  std::filesystem::path export_path(const std::string& name) const;
  // confirm: say where the PNG went (a toast); scripted screenshots print the path instead.
  void request_screenshot(const std::string& name, const std::string& panel, bool confirm = false);

  GuiConfig cfg_;
  TraceModel tm_;
  TraceModel compare_tm_;
  views::ViewState st_;
  ChatController chat_;
  std::vector<StoredSession> stored_;  // what the sessions browser lists (index = list index)
  bool live_ = true;                   // tm_ shows the live chat (else a stored session)
  int shown_session_ = -1;             // index in stored_ of the replayed session
  int64_t listed_live_id_ = -1;        // live recording the browser already lists
  uint64_t listed_committed_ = 0;      // its committed tokens when it was listed
  std::map<std::string, bool> open_;
  std::map<std::string, PanelRect> rects_;
  std::map<std::string, PanelGeometry> geometry_;
  std::map<std::string, Rect> targets_;
  std::map<std::string, std::string> panel_text_;  // visible text of each panel (while capture_text_ > 0)
  int capture_text_ = 0;                // frames left to capture panel text for an assertion
  float menu_h_ = 0, status_h_ = 0;
  Rect work_area_;                     // between the menu bar and the status bar
  Layout layout_;                      // the user's layout (remembered)
  Layout tour_layout_;                 // a tour step's: the tour's text beside the step's panels
  bool tour_layout_on_ = false;
  Layout& active_layout() { return tour_layout_on_ ? tour_layout_ : layout_; }
  Tiling tiling_;
  bool layout_dirty_ = false;
  double layout_changed_t_ = 0;
  bool scroll_reset_ = false;          // next frame: every panel back to its top (a tour step began)
  float status_right_ = 0;             // how far the status bar's text reached
  std::string status_line_;
  std::string toast_;
  double toast_until_ = 0;
  // A model load must not wipe a session the user opened while it loaded: view_gen_ counts the
  // times the shown session was replaced, load_gen_ is its value when the load started.
  uint64_t view_gen_ = 0, load_gen_ = 0;
  bool presenter_ = false;
  bool fonts_dirty_ = false;
  bool quit_ = false;
  int exit_code_ = 0;
  bool show_shortcuts_ = false, show_about_ = false, open_model_popup_ = false;
  std::string open_model_path_;
  bool connect_popup_ = false;  // File > Connect to server...
  std::string connect_url_, connect_key_, connect_model_;
  // Tour progress bookkeeping: what the selection looked like when the step began.
  int tour_token_at_start_ = -1, tour_layer_at_start_ = -1;
  size_t tour_msgs_at_start_ = 0;
  std::map<std::string, bool> open_before_tour_;  // restored when the tour ends
  std::string maximized_before_tour_;
  // Scripted run
  std::vector<ScriptCommand> script_;
  size_t script_pc_ = 0;
  int wait_frames_ = 0;
  bool wait_idle_ = false;
  double wait_rec_until_ = 0;          // assert_rec_count: how long the recorder may take to catch up
  const ScriptCommand* wait_rec_cmd_ = nullptr;
  const ScriptCommand* wait_text_cmd_ = nullptr;  // an assertion waiting for a frame of captured text
  int script_hover_ = -1;              // select_token: a hover that stays (no pointer in scripts)
  struct MouseFrame {
    float x, y;
    bool down;
  };
  std::deque<MouseFrame> mouse_;
  std::vector<std::string> expected_errors_;  // expect_error: substrings of errors the script causes
  int unexpected_errors_ = 0;
  std::vector<std::string> failures_;
  struct Shot {
    std::string name, panel;
    int frames_left = 3;  // let layouts and tables settle before reading pixels
    bool confirm = false;
  };
  std::vector<Shot> shots_;
  int frame_stats_left_ = 0;
  std::vector<double> frame_times_;
  double last_frame_t_ = 0;
};

}  // namespace mlascope::app::gui
