// app/gui/gui_shell.cpp — the desktop GUI's window and loop: GLFW + OpenGL 3 + Dear ImGui 1.86.
// Everything inside the window is GuiApp; this file owns the platform side.
#include <algorithm>
#include <cfloat>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <GLFW/glfw3.h>
#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_opengl3.h>

#include "app/commands.h"
#include "app/engine_options.h"
#include "app/workbench.h"
#include "gl_texture.h"
#include "gui_app.h"
#include "views/widgets.h"
#include "sessions/session_db.h"

namespace mlascope::app {

namespace fs = std::filesystem;

namespace {
std::string g_glfw_error;
void on_glfw_error(int code, const char* what) { g_glfw_error = std::to_string(code) + ": " + (what ? what : "?"); }

}  // namespace

bool gui_available(std::string* why) {
  gui::keep_heap_between_frames();
  glfwSetErrorCallback(on_glfw_error);
  if (!glfwInit()) {
    if (why) *why = "GLFW cannot open a display (" + g_glfw_error + ")";
    return false;
  }
  // GLFW stays initialised for run_gui (its glfwInit is then a no-op): closing this first display
  // connection would make an X server with no other client reset, and run_gui's connection made
  // during the reset fails ("Failed to open display"; seen under Xvfb on a loaded machine).
  return true;
}

int run_gui(const WorkbenchOptions& opt) {
  glfwSetErrorCallback(on_glfw_error);
  if (!glfwInit()) {
    std::fprintf(stderr, "mlascope: cannot start the GUI: %s\n", g_glfw_error.c_str());
    return 2;
  }
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 0);
  const bool scripted = !opt.script.empty();
  // 1600x1000, or the screen's work area when that is smaller (a 1280x800 screen, a 1280x800 Xvfb).
  int win_w = 1600, win_h = 1000;
  if (GLFWmonitor* mon = glfwGetPrimaryMonitor()) {
    int wx = 0, wy = 0, ww = 0, wh = 0;
    glfwGetMonitorWorkarea(mon, &wx, &wy, &ww, &wh);
    if (ww > 0 && wh > 0) {
      win_w = std::min(win_w, ww);
      win_h = std::min(win_h, wh);
    }
  }
  GLFWwindow* win = glfwCreateWindow(win_w, win_h, "mlascope", nullptr, nullptr);
  if (!win) {
    std::fprintf(stderr, "mlascope: cannot create an OpenGL 3 window: %s\n", g_glfw_error.c_str());
    glfwTerminate();
    return 2;
  }
  glfwMakeContextCurrent(win);
  glfwSwapInterval(scripted ? 0 : 1);
  float sx = 1.0f, sy = 1.0f;
  glfwGetWindowContentScale(win, &sx, &sy);

  IMGUI_CHECKVERSION();
  ImGui::CreateContext();
  ImGui_ImplGlfw_InitForOpenGL(win, true);
  ImGui_ImplOpenGL3_Init("#version 130");
  views::set_texture_upload(&gui::upload_texture);  // heatmaps as textures

  gui::GuiConfig cfg;
  cfg.model_dir = opt.model_dir;
  cfg.assets = assets_dir();
  cfg.script = opt.script;
  cfg.screenshot_dir = opt.screenshot_dir;
  cfg.demo_synthetic = opt.demo_synthetic;
  // Scripted runs (tests, teaching material) record only into a database they name.
  if (!scripted || !opt.session_db.empty()) cfg.session_db = sessions::resolve_session_db(opt.session_db.string());
  cfg.engine.backend.device = opt.device == "cpu" ? DeviceKind::Cpu : opt.device == "cuda" ? DeviceKind::Cuda : DeviceKind::Auto;
  cfg.engine.backend.n_threads = opt.threads;
  cfg.engine.server = opt.remote;  // --server: the first load connects instead
  cfg.engine.backend.max_context = opt.max_context;
  cfg.engine.backend.kv_dtype = kv_dtype_of(opt.kv_type);
  cfg.content_scale = std::max(1.0f, sx);
  if (!scripted) cfg.layout_file = gui::default_layout_file();  // scripted runs start from the default tiles
  cfg.set_window_size = [win](int w, int h) { glfwSetWindowSize(win, w, h); };
  int code = 0;
  {
    gui::GuiApp app(cfg);
    app.setup();
    for (;;) {
      glfwPollEvents();
      if (glfwWindowShouldClose(win)) break;
      if (app.fonts_dirty()) {
        app.rebuild_fonts();
        ImGui_ImplOpenGL3_DestroyFontsTexture();
        ImGui_ImplOpenGL3_CreateFontsTexture();
      }
      ImGui_ImplOpenGL3_NewFrame();
      ImGui_ImplGlfw_NewFrame();
      // A scripted run has no user: the pointer Xvfb parks mid-screen must not hover anything
      // (screenshots would show tooltips nobody asked for); only the script's clicks and drags.
      if (scripted) app.script_mouse(ImGui::GetIO());
      ImGui::NewFrame();
      app.draw();
      ImGui::Render();
      int w = 0, h = 0;
      glfwGetFramebufferSize(win, &w, &h);
      glViewport(0, 0, w, h);
      const auto cc = app.clear_color();
      glClearColor(cc[0], cc[1], cc[2], cc[3]);
      glClear(GL_COLOR_BUFFER_BIT);
      ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
      app.after_render(w, h);
      glfwSwapBuffers(win);
      if (!app.after_frame()) break;
    }
    code = app.exit_code();
  }
  views::set_texture_upload(nullptr);
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(win);
  glfwTerminate();
  return code;
}

}  // namespace mlascope::app
