// bench/bench_gui_frame.cpp — frame time of the workbench window with a synthetic session and
// every panel open. Needs a display: run under `xvfb-run -a -s "-screen 0 1600x1000x24"` for the
// software renderer (Mesa llvmpipe). Prints the median and 90th percentile of the UI build
// (ImGui, CPU), the GL render + glFinish and the whole frame, and the CPU time per frame (the main
// thread's, and the whole process's with llvmpipe's render threads): on a busy machine CPU time
// moves less than wall time. Not a test: it never asserts on time.
//   bench_gui_frame [TOKENS=4000] [FRAMES=120] [--rects|--textures] [--no-panels|--only=ID] [--config=demo|v2-lite|v3]
//                   [--trim-heap-each-frame]  (glibc's default heap trimming, which the window turns off)
// The issue-13 target: `bench_gui_frame 2000 120 --textures --all --config=v3` (DeepSeek-V3 counts:
// 61 layers, 256 experts, 128 heads) at <= 16 ms median on llvmpipe.
#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#ifdef MLASCOPE_HAVE_GUI
#include <GLFW/glfw3.h>
#include <imgui.h>
#include <imgui_impl_glfw.h>
#include <imgui_impl_opengl3.h>

#include "app/gui/gl_texture.h"
#include "app/gui/gui_app.h"
#include "views/widgets.h"
#include "views/synthetic_trace.h"

namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}
// The q-quantile by the nearest-rank method (q = 0.5: the median, 0.9: p90).
double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(std::max(0.0, std::ceil(q * static_cast<double>(v.size())) - 1.0));
  return v[std::min(i, v.size() - 1)];
}
double median(const std::vector<double>& v) { return quantile(v, 0.5); }
double p90(const std::vector<double>& v) { return quantile(v, 0.9); }
// Texture uploads, counted: a heatmap whose image is rebuilt every frame shows up here.
long g_uploads = 0;
ImTextureID counting_upload(ImTextureID reuse, const uint32_t* rgba, int w, int h) {
  ++g_uploads;
  return mlascope::app::gui::upload_texture(reuse, rgba, w, h);
}
double cpu_ms(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}
}  // namespace

int main(int argc, char** argv) {
  // --config=NAME may come anywhere; the rest is positional.
  std::string config = "demo";
  bool keep_heap = true;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::string(argv[i]).rfind("--config=", 0) == 0) config = std::string(argv[i]).substr(9);
    else if (std::string(argv[i]) == "--trim-heap-each-frame") keep_heap = false;
    else args.push_back(argv[i]);
  }
  argc = static_cast<int>(args.size());
  argv = args.data();
  const int n_tokens = argc > 1 ? std::atoi(argv[1]) : 4000;
  // As the window does (app/gui/gui_shell.cpp); --trim-heap-each-frame measures glibc's default.
  if (keep_heap) mlascope::app::gui::keep_heap_between_frames();
  const int frames = argc > 2 ? std::atoi(argv[2]) : 120;
  if (!glfwInit()) {
    std::fprintf(stderr, "bench_gui_frame: no display (run under xvfb-run)\n");
    return 2;
  }
  glfwWindowHint(GLFW_CONTEXT_VERSION_MAJOR, 3);
  glfwWindowHint(GLFW_CONTEXT_VERSION_MINOR, 0);
  GLFWwindow* win = glfwCreateWindow(1600, 1000, "bench", nullptr, nullptr);
  if (!win) return 2;
  glfwMakeContextCurrent(win);
  glfwSwapInterval(0);
  ImGui::CreateContext();
  ImGui_ImplGlfw_InitForOpenGL(win, false);
  ImGui_ImplOpenGL3_Init("#version 130");
  // Same as the window: heatmaps as textures (pass --rects as the third argument to compare).
  const bool rects = argc > 3 && std::string(argv[3]) == "--rects";
  if (!rects) mlascope::views::set_texture_upload(&counting_upload);
  std::printf("renderer: %s\n", reinterpret_cast<const char*>(glGetString(GL_RENDERER)));
  {
    mlascope::app::gui::GuiConfig cfg;
    cfg.assets = MLASCOPE_ASSETS;
    cfg.demo_synthetic = true;
    cfg.synthetic_tokens = n_tokens;
    mlascope::app::gui::GuiApp app(cfg);
    app.setup();
    try {
      mlascope::views::fill_synthetic_named(app.trace(), config, n_tokens);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench_gui_frame: %s\n", e.what());
      return 2;
    }
    // --no-panels: menu and status bar only, the floor of what any frame costs to render.
    // --only=ID: that panel alone, to see which one costs what.
    const std::string which = argc > 4 ? argv[4] : "";
    const bool no_panels = which == "--no-panels" || which.rfind("--only=", 0) == 0;  // "--all" (or nothing): every panel
    app.set_all_panels_open(!no_panels);
    if (which.rfind("--only=", 0) == 0) app.set_panel_open(which.substr(7), true);
    auto& st = app.view_state();
    std::printf("font atlas: %dx%d\n", ImGui::GetIO().Fonts->TexWidth, ImGui::GetIO().Fonts->TexHeight);
    st.locked_token = n_tokens / 2;  // a selection makes every panel draw its detailed view
    std::vector<double> ui, gl, total, cpu_main, cpu_proc;
    long uploads_before = 0;
    for (int f = 0; f < frames + 10; ++f) {
      if (f == 10) uploads_before = g_uploads;
      const auto t0 = std::chrono::steady_clock::now();
      const double c0 = cpu_ms(CLOCK_THREAD_CPUTIME_ID), p0 = cpu_ms(CLOCK_PROCESS_CPUTIME_ID);
      glfwPollEvents();
      ImGui_ImplOpenGL3_NewFrame();
      ImGui_ImplGlfw_NewFrame();
      ImGui::NewFrame();
      app.draw();
      ImGui::Render();
      const double t_ui = ms_since(t0);
      const auto t1 = std::chrono::steady_clock::now();
      int w, h;
      glfwGetFramebufferSize(win, &w, &h);
      glViewport(0, 0, w, h);
      const auto cc = app.clear_color();
      glClearColor(cc[0], cc[1], cc[2], cc[3]);
      glClear(GL_COLOR_BUFFER_BIT);
      ImGui_ImplOpenGL3_RenderDrawData(ImGui::GetDrawData());
      glfwSwapBuffers(win);
      glFinish();
      const double t_gl = ms_since(t1);
      app.after_frame();
      if (f >= 10) {  // warm-up: layouts, font atlas upload
        ui.push_back(t_ui);
        gl.push_back(t_gl);
        total.push_back(ms_since(t0));
        cpu_main.push_back(cpu_ms(CLOCK_THREAD_CPUTIME_ID) - c0);
        cpu_proc.push_back(cpu_ms(CLOCK_PROCESS_CPUTIME_ID) - p0);
      }
    }
    std::printf("bench_gui_frame: %d tokens, %s counts, %s, %d frames at 1600x1000, heatmaps as %s\n", n_tokens, config.c_str(),
                which.empty() || which == "--all" ? "all panels open" : which.c_str(), frames, rects ? "rectangles" : "textures");
    std::printf("  UI build (ImGui, CPU)   median %7.2f ms  p90 %7.2f ms\n", median(ui), p90(ui));
    std::printf("  render + swap + finish  median %7.2f ms  p90 %7.2f ms\n", median(gl), p90(gl));
    std::printf("  whole frame             median %7.2f ms  p90 %7.2f ms  (target <= 16 ms median: %s)\n", median(total), p90(total),
                median(total) <= 16.0 ? "met" : "missed");
    std::printf("  CPU per frame, main thread     median %7.2f ms  p90 %7.2f ms\n", median(cpu_main), p90(cpu_main));
    std::printf("  CPU per frame, whole process   median %7.2f ms  p90 %7.2f ms  (llvmpipe's threads included)\n", median(cpu_proc),
                p90(cpu_proc));
    std::printf("  texture uploads         %.2f per frame (after the warm-up)\n", static_cast<double>(g_uploads - uploads_before) / std::max(1, frames));
    int cmds = 0;
    for (int i = 0; i < ImGui::GetDrawData()->CmdListsCount; ++i) cmds += ImGui::GetDrawData()->CmdLists[i]->CmdBuffer.Size;
    std::printf("  vertices last frame     %d in %d draw calls\n", ImGui::GetDrawData()->TotalVtxCount, cmds);
    // Per window: where the vertices (and so llvmpipe's setup work) come from.
    for (int i = 0; i < ImGui::GetDrawData()->CmdListsCount; ++i) {
      const ImDrawList* dl = ImGui::GetDrawData()->CmdLists[i];
      if (dl->VtxBuffer.Size >= 500) std::printf("    %-28s %6d vertices\n", dl->_OwnerName ? dl->_OwnerName : "?", dl->VtxBuffer.Size);
    }
  }
  ImGui_ImplOpenGL3_Shutdown();
  ImGui_ImplGlfw_Shutdown();
  ImGui::DestroyContext();
  glfwDestroyWindow(win);
  glfwTerminate();
  return 0;
}
#else
int main() {
  std::printf("bench_gui_frame: built without the GUI (MLASCOPE_GUI=OFF)\n");
  return 0;
}
#endif
