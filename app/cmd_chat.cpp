// app/cmd_chat.cpp — `mlascope chat`: the interactive terminal chat (see terminal_chat.cpp).
#include <memory>

#include <CLI/CLI.hpp>

#include "cli_checks.h"
#include "commands.h"
#include "engine_options.h"
#include "remote_setup.h"
#include "terminal.h"

namespace mlascope::app {

void register_chat(CLI::App& root, CommandContext& ctx) {
  auto o = std::make_shared<ChatOptions>();
  CLI::App* cmd = root.add_subcommand("chat", "interactive chat in the terminal, tokens coloured by their dominant expert");
  cmd->footer(
      "Privacy: conversations are recorded in the sessions database (--no-record: none), and the lines typed at\n"
      "the prompt are kept for line editing in chat_history beside it (~/.local/share/mlascope/chat_history by\n"
      "default, readable by you only; --no-history or --no-record: none).");
  cmd->add_option("--model", o->wb.model_dir, "model folder (HF) or .gguf file; default: the bundled demo model (with --server: config.json + tokenizer files only)");
  cmd->add_option("--session-db", o->wb.session_db, "sessions database (default: ~/.local/share/mlascope/sessions.db)");
  cmd->add_option("--device", o->wb.device, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  add_threads_option(cmd, o->wb.threads);
  add_ctx_option(cmd, o->wb.max_context);
  add_kv_type_option(cmd, o->wb.kv_type);
  cmd->add_option("--max-tokens", o->max_new_tokens, "tokens generated per turn at most")->check(positive());
  cmd->add_option("--layer", o->layer, "MoE layer whose dominant expert colours the tokens (default: the last)");
  add_mmap_flag(cmd);
  add_remote_options(cmd, o->wb.remote);
  cmd->add_flag("!--no-record", o->record,
                "do not record the conversation in the sessions database (and keep no line history)");
  cmd->add_flag("!--no-history", o->history,
                "keep no history of typed lines (default: chat_history beside the sessions database, mode 0600)");
  cmd->callback([o, &ctx] { ctx.exit_code = run_terminal_chat(*o); });
}

}  // namespace mlascope::app
