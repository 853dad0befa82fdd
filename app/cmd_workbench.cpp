// app/cmd_workbench.cpp — root options: `mlascope [--model DIR] [--terminal] [--script F ...]`
// opens the workbench when no subcommand is given.
#include <CLI/CLI.hpp>

#include "commands.h"
#include "engine_options.h"
#include "remote_setup.h"
#include "workbench.h"

namespace mlascope::app {

void register_workbench(CLI::App& root, CommandContext& ctx) {
  auto opt = std::make_shared<WorkbenchOptions>();
  root.add_option("--model", opt->model_dir, "model folder (HF) or .gguf file; default: the bundled demo model (with --server: config.json + tokenizer files only)");
  root.add_option("--session-db", opt->session_db, "sessions database (default: ~/.local/share/mlascope/sessions.db)");
  root.add_option("--script", opt->script, "GUI: run a scripted tour of actions (tests, teaching material)");
  root.add_option("--screenshot-dir", opt->screenshot_dir, "GUI: where scripted screenshots are written");
  root.add_option("--device", opt->device, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  add_threads_option(&root, opt->threads);
  add_ctx_option(&root, opt->max_context);
  add_kv_type_option(&root, opt->kv_type);
  root.add_flag("--demo-synthetic", opt->demo_synthetic, "GUI: open a synthetic session (no model needed; development)");
  add_mmap_flag(&root);
  add_remote_options(&root, opt->remote);
  root.add_flag("--terminal", opt->force_terminal, "use the terminal front end even when a display exists");
  root.callback([&root, &ctx, opt] {
    if (root.get_subcommands().empty()) ctx.exit_code = run_workbench(*opt);
  });
}

}  // namespace mlascope::app
