// app/terminal_engine.cpp — the chat's engine on a real model. Placeholder until the Generator,
// the tokenizer and Model::load are on main: it names what is missing instead of failing at link time.
#include "terminal_engine.h"

#include "commands.h"
#include "engine/error.h"

namespace mlascope::app {

std::unique_ptr<ChatEngine> load_chat_engine(const WorkbenchOptions& opt, const LoadProgressFn&) {
  const std::filesystem::path dir = opt.model_dir.empty() ? default_model_dir() : opt.model_dir;
  fail("chat", dir.string(), "this build has no inference engine yet (Generator, tokenizer and Model::load are not linked in)");
}

}  // namespace mlascope::app
