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

// -q/--quiet (log lines: warnings and errors only) and -v/--verbose (debug lines too), accepted by
// the root and every subcommand. log_verbosity(): -1 quiet, 0 neither given, 1 verbose.
int log_verbosity();
// Applies the default of a command that starts quietly (chat): warnings only unless -v was given.
void quiet_logs_unless_verbose();

// The bundled demo model: $MLASCOPE_MODEL, then assets/models/mla-moe-demo beside or above the
// executable, then the source tree's assets. Throws Error when none exists.
std::filesystem::path default_model_dir();
// The assets folder (tours, fonts, presets, demo sessions).
std::filesystem::path assets_dir();

}  // namespace mlascope::app
