// app/terminal_chat.cpp — interactive terminal chat (work in progress: see issue "Terminal workbench").
#include <cstdio>

#include "terminal.h"

namespace mlascope::app {

int run_terminal_workbench(const WorkbenchOptions&) {
  std::fprintf(stderr, "mlascope: the terminal chat is not built yet\n");
  return 2;
}

}  // namespace mlascope::app
