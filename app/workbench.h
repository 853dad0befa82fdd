// app/workbench.h — `mlascope` with no subcommand: the desktop GUI when a display exists,
// else the terminal chat with a one-line notice.
#pragma once
#include <filesystem>
#include <string>

#include "remote_setup.h"

namespace mlascope::app {

struct WorkbenchOptions {
  std::filesystem::path model_dir;     // empty = bundled demo model (or last used)
  std::filesystem::path session_db;    // empty = default XDG location
  std::filesystem::path script;        // GUI: scripted run (tests, teaching material)
  std::filesystem::path screenshot_dir;
  std::string device = "auto";
  int threads = 0;
  int max_context = 0;                 // --ctx (0 = min(max_position_embeddings, 4096))
  std::string kv_type = "bf16";        // --kv-type f32|bf16|f16
  bool force_terminal = false;
  bool demo_synthetic = false;         // GUI dev mode: a synthetic session, no model files
  RemoteArgs remote;                   // --server: generate on a server (model_dir: config + tokenizer only)
};

// True when a GUI was built and a display answers; `why` says why not. The display connection is
// kept open for run_gui.
bool gui_available(std::string* why);
int run_gui(const WorkbenchOptions& opt);
int run_workbench(const WorkbenchOptions& opt);

}  // namespace mlascope::app
