// app/terminal.h — the terminal front end (interactive chat with routing colours).
#pragma once
#include <cstdio>
#include <filesystem>
#include <string>

#include "workbench.h"

namespace mlascope::app {

class ChatEngine;

struct ChatOptions {
  WorkbenchOptions wb;
  int max_new_tokens = 256;  // per turn
  int layer = -1;            // MoE layer whose dominant expert colours the tokens; -1 = the last MoE layer
  bool record = true;        // record the conversation in the sessions database
  bool history = true;       // keep typed lines in chat_history beside the sessions database (0600);
                             // off with --no-history, and with --no-record (nothing of the chat is kept)
};

// Where the chat keeps the lines typed at its prompt: `chat_history` in the folder of the sessions
// database (by default ~/.local/share/mlascope/), so --session-db elsewhere keeps both together.
std::filesystem::path chat_history_path(const std::filesystem::path& session_db);

// Interactive chat on opt.model_dir (or the demo model); returns the process exit code.
int run_terminal_workbench(const WorkbenchOptions& opt);
int run_terminal_chat(const ChatOptions& opt);
// The chat loop itself on an already loaded engine (tests drive it with a scripted engine).
int run_chat_loop(ChatEngine& engine, const ChatOptions& opt);

}  // namespace mlascope::app
