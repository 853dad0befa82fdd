// app/workbench.cpp — choose the front end: GUI when possible, else the terminal chat.
#include "workbench.h"

#include <cstdio>

#include "terminal.h"

namespace mlascope::app {

int run_workbench(const WorkbenchOptions& opt) {
  std::string why;
  if (!opt.force_terminal && gui_available(&why)) return run_gui(opt);
  if (!opt.force_terminal) std::fprintf(stderr, "mlascope: no display (%s); starting the terminal workbench\n", why.c_str());
  return run_terminal_workbench(opt);
}

}  // namespace mlascope::app
