// app/gui/gui_shell.cpp — the desktop GUI shell (work in progress: see issue "Desktop workbench").
#include <cstdio>
#include <cstdlib>

#include "app/workbench.h"

namespace mlascope::app {

bool gui_available(std::string* why) {
  if (why) *why = "the desktop GUI is not built yet";
  return false;
}

int run_gui(const WorkbenchOptions&) { return 2; }

}  // namespace mlascope::app
