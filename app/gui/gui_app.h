// app/gui/gui_app.h — the workbench window's contents: menu, tiled panels, status bar, errors,
// tours, scripted runs and PNG export. The GLFW/OpenGL loop lives in gui_shell.cpp; this class
// only needs an ImGui context with a renderer, so a benchmark can drive it frame by frame.
#pragma once
#include <array>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app/workbench.h"
#include "chat_controller.h"
#include "engine/trace/trace_model.h"
#include "script.h"
#include "session_store.h"
#include "views/views.h"

namespace mlascope::app::gui {

struct GuiConfig {
  std::filesystem::path model_dir;       // empty: bundled demo model
  std::filesystem::path assets;          // tours, presets, fonts
  std::filesystem::path script;          // scripted run
  std::filesystem::path screenshot_dir;
  std::filesystem::path ini_file;        // empty: no layout persistence (scripted runs)
  std::filesystem::path session_db;      // live chats are recorded here; empty: not recorded
  EngineOptions engine;                  // backend, threads, MLA form
  bool demo_synthetic = false;           // developer mode: a synthetic session, no model loaded
  int synthetic_tokens = 240;
  float content_scale = 1.0f;            // monitor DPI scale
};

struct PanelRect {
  float x = 0, y = 0, w = 0, h = 0;
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
  TraceModel& trace() { return tm_; }
  views::ViewState& view_state() { return st_; }
  void set_all_panels_open(bool open);
  void set_panel_open(const std::string& id, bool open) { open_[id] = open; }
  const std::map<std::string, PanelRect>& panel_rects() const { return rects_; }
  // What to clear each frame to: the panels' own colour, since tiled panels draw no background.
  std::array<float, 4> clear_color() const;

 private:
  void draw_menu();
  void draw_panels();
  void draw_status_bar();
  void draw_errors();
  void draw_open_model_popup();
  void process_actions();
  void handle(const views::Action& a);
  void start_tour(int index, int step);
  void run_tour_step();
  void check_tour_progress();
  void tour_action(const views::TourAction& a);
  bool step_script();
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
  void request_screenshot(const std::string& name, const std::string& panel);

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
  float menu_h_ = 0, status_h_ = 0;
  bool tile_now_ = false;
  bool presenter_ = false;
  bool fonts_dirty_ = false;
  bool quit_ = false;
  int exit_code_ = 0;
  bool show_shortcuts_ = false, show_about_ = false, open_model_popup_ = false;
  std::string open_model_path_;
  // Tour progress bookkeeping: what the selection looked like when the step began.
  int tour_token_at_start_ = -1, tour_layer_at_start_ = -1;
  size_t tour_msgs_at_start_ = 0;
  // Scripted run
  std::vector<ScriptCommand> script_;
  size_t script_pc_ = 0;
  int wait_frames_ = 0;
  bool wait_idle_ = false;
  struct Shot {
    std::string name, panel;
    int frames_left = 3;  // let layouts and tables settle before reading pixels
  };
  std::vector<Shot> shots_;
  int frame_stats_left_ = 0;
  std::vector<double> frame_times_;
  double last_frame_t_ = 0;
};

}  // namespace mlascope::app::gui
