// app/gui_stub/gui_stub.cpp — linked when the build has no GUI (MLASCOPE_GUI=OFF).
#include "app/workbench.h"

namespace mlascope::app {

bool gui_available(std::string* why) {
  if (why) *why = "this build of mlascope has no GUI (configured with MLASCOPE_GUI=OFF)";
  return false;
}

int run_gui(const WorkbenchOptions&) { return 2; }

}  // namespace mlascope::app
