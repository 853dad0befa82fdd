// app/terminal.h — the terminal front end (interactive chat with routing colours).
#pragma once
#include "workbench.h"

namespace mlascope::app {

// Interactive chat on opt.model_dir (or the demo model); returns the process exit code.
int run_terminal_workbench(const WorkbenchOptions& opt);

}  // namespace mlascope::app
