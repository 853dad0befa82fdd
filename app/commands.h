// app/commands.h — the table of `mlascope` subcommands. Each command lives in its own
// app/cmd_*.cpp and registers a CLI11 subcommand; the callback sets `exit_code` and throws
// mlascope::Error for anything the user must fix (main prints it as one line and exits 1).
#pragma once
#include <filesystem>
#include <string>

namespace CLI {
class App;
}

namespace mlascope::app {

struct CommandContext {
  int exit_code = 0;
};

using RegisterCommand = void (*)(CLI::App& root, CommandContext& ctx);

// Registration functions, one per subcommand (defined in app/cmd_*.cpp).
void register_all_commands(CLI::App& root, CommandContext& ctx);

// The bundled demo model: $MLASCOPE_MODEL, then assets/models/mla-moe-demo beside or above the
// executable, then the source tree's assets. Throws Error when none exists.
std::filesystem::path default_model_dir();
// The assets folder (tours, fonts, presets, demo sessions).
std::filesystem::path assets_dir();

}  // namespace mlascope::app
