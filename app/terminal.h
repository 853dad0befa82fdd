// app/terminal.h — the terminal front end (interactive chat with routing colours).
#pragma once
#include <cstdio>
#include <string>

#include "workbench.h"

namespace mlascope::app {

class ChatEngine;

struct ChatOptions {
  WorkbenchOptions wb;
  int max_new_tokens = 256;  // per turn
  int layer = -1;            // MoE layer whose dominant expert colours the tokens; -1 = the last MoE layer
  bool record = true;        // record the conversation in the sessions database
};

// Interactive chat on opt.model_dir (or the demo model); returns the process exit code.
int run_terminal_workbench(const WorkbenchOptions& opt);
int run_terminal_chat(const ChatOptions& opt);
// The chat loop itself on an already loaded engine (tests drive it with a scripted engine).
int run_chat_loop(ChatEngine& engine, const ChatOptions& opt);

}  // namespace mlascope::app
