// app/main.cpp — the `mlascope` executable: parse the command line, run one command.
// Errors a user can act on arrive as mlascope::Error and leave as one line on stderr, exit 1.
#include <cstdio>
#include <exception>
#include <string>
#include <system_error>

#include <CLI/CLI.hpp>

#include "app/commands.h"
#include "engine/error.h"

#ifndef MLASCOPE_GIT_DESCRIBE
#define MLASCOPE_GIT_DESCRIBE ""
#endif

int main(int argc, char** argv) {
  CLI::App root{"mlascope: see inside DeepSeek-style models (MLA + DeepSeekMoE) while they talk"};
  root.require_subcommand(0, 1);
  const std::string git = MLASCOPE_GIT_DESCRIBE;
  root.set_version_flag("--version", std::string("mlascope ") + MLASCOPE_VERSION + (git.empty() ? "" : " (git " + git + ")"));
  mlascope::app::CommandContext ctx;
  mlascope::app::register_all_commands(root, ctx);
  try {
    root.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return root.exit(e);
  } catch (const mlascope::Error& e) {
    std::fprintf(stderr, "mlascope: %s\n", e.what());
    return 1;
  } catch (const std::system_error& e) {
    // The system refused a resource (a thread, a file): the user can act on it, so one line, exit 1.
    std::fprintf(stderr, "mlascope: %s\n", mlascope::Error(std::string("[system] ") + e.what()).what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mlascope: internal error: %s\n", e.what());
    return 3;
  }
  return ctx.exit_code;
}
