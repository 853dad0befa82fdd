// app/engine_options.h — the options `generate` and `eval` share: which model, which backend,
// which MLA form, and prompt ids given on the command line.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/trace/step_record.h"

namespace CLI {
class App;
}

namespace mlascope {
class Model;
}

namespace mlascope::app {

struct EngineArgs {
  std::filesystem::path model;  // empty = default_model_dir()
  int threads = 0;
  std::string mla = "absorbed";
  std::string device = "auto";
  int max_context = 0;
  std::string kv_type = "bf16";  // --kv-type: what the KV cache stores
};

// Adds --model, --threads, --mla, --device, --ctx, --kv-type, --mmap to a subcommand.
void add_engine_options(CLI::App* cmd, EngineArgs& a);
// --threads N, one rule on every command that runs the model: 0 = all cores, else 1..1024.
void add_threads_option(CLI::App* cmd, int& threads);
// --ctx N and --kv-type f32|bf16|f16 alone (chat, the workbench, bench: commands with their own model options).
void add_ctx_option(CLI::App* cmd, int& max_context);
void add_kv_type_option(CLI::App* cmd, std::string& kv_type);
// "f32" | "bf16" | "f16" (already checked by the option) → KvDType.
KvDType kv_dtype_of(const std::string& kv_type);
BackendOptions backend_options(const EngineArgs& a);
// --mmap alone (for commands with their own model options): sets the process's residency policy.
void add_mmap_flag(CLI::App* cmd);
// --capture off|routing|attention|everything (generate, bench).
void add_capture_option(CLI::App* cmd, CapturePolicy& policy, const std::string& description);
std::shared_ptr<Model> load_model(const EngineArgs& a, const char* where);

// "1,2,3" or "1 2 3" -> ids; every id checked against the vocabulary. Throws Error naming `option`.
std::vector<int32_t> parse_token_ids(const std::string& text, int vocab_size, const char* where, const char* option);

}  // namespace mlascope::app
