// app/commands.cpp — the one registration table of subcommands (add a line per new command).
#include "commands.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

namespace mlascope::app {

// Defined in app/cmd_*.cpp.
void register_workbench(CLI::App&, CommandContext&);
void register_kv(CLI::App&, CommandContext&);
void register_convert(CLI::App&, CommandContext&);
void register_bench(CLI::App&, CommandContext&);
void register_generate(CLI::App&, CommandContext&);
void register_eval(CLI::App&, CommandContext&);
void register_tokenize(CLI::App&, CommandContext&);
void register_chat(CLI::App&, CommandContext&);
void register_info(CLI::App&, CommandContext&);
void register_sessions(CLI::App&, CommandContext&);
void register_replay(CLI::App&, CommandContext&);
void register_inspect(CLI::App&, CommandContext&);
void register_serve(CLI::App&, CommandContext&);
void register_perplexity(CLI::App&, CommandContext&);

namespace {
const RegisterCommand kCommands[] = {
    register_workbench,  // `mlascope` with no subcommand (root options)
    register_kv,
    register_convert,
    register_bench,
    register_generate,
    register_eval,
    register_tokenize,   // `mlascope tokenize`
    register_chat,
    register_info,
    register_sessions,
    register_replay,
    register_inspect,
    register_serve,      // `mlascope serve` (app/server/)
    register_perplexity,
};
}  // namespace

namespace {
int g_verbosity = 0;

void add_log_flags(CLI::App* app) {
  // A command with its own --quiet (convert: no progress bar) keeps it; -v still works there.
  if (!app->get_option_no_throw("--quiet") && !app->get_option_no_throw("-q"))
    app->add_flag_callback(
        "-q,--quiet",
        [] {
          g_verbosity = -1;
          spdlog::set_level(spdlog::level::warn);
        },
        "log lines: warnings and errors only");
  app->add_flag_callback(
      "-v,--verbose",
      [] {
        g_verbosity = 1;
        spdlog::set_level(spdlog::level::debug);
      },
      "log lines: debug detail too");
  for (CLI::App* sub : app->get_subcommands([](CLI::App*) { return true; })) add_log_flags(sub);
}
}  // namespace

int log_verbosity() { return g_verbosity; }

void quiet_logs_unless_verbose() {
  if (g_verbosity <= 0) spdlog::set_level(spdlog::level::warn);
}

void register_all_commands(CLI::App& root, CommandContext& ctx) {
  for (RegisterCommand r : kCommands) r(root, ctx);
  add_log_flags(&root);
}

}  // namespace mlascope::app
