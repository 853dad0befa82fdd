// app/engine_options.cpp — see engine_options.h.
#include "engine_options.h"

#include <map>

#include <CLI/CLI.hpp>

#include "cli_checks.h"
#include "commands.h"
#include "engine/backend/backend.h"
#include "engine/error.h"
#include "engine/model/model.h"
#include "engine/weights/mapped_file.h"

namespace mlascope::app {

void add_engine_options(CLI::App* cmd, EngineArgs& a) {
  cmd->add_option("--model", a.model, "HF model folder (config.json + safetensors) or .gguf file (default: bundled demo)");
  add_threads_option(cmd, a.threads);
  cmd->add_option("--mla", a.mla, "MLA formulation: absorbed (latent cache) or naive (per-head K/V cache)")
      ->check(CLI::IsMember({"naive", "absorbed"}));
  cmd->add_option("--device", a.device, "auto (CUDA when available), cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  add_ctx_option(cmd, a.max_context);
  add_kv_type_option(cmd, a.kv_type);
  add_mmap_flag(cmd);
}

void add_threads_option(CLI::App* cmd, int& threads) {
  cmd->add_option("--threads", threads, "CPU threads: 0 = all cores (default), else 1.." + std::to_string(kMaxThreads))
      ->check(threads_check());
}

void add_ctx_option(CLI::App* cmd, int& max_context) {
  cmd->add_option("--ctx", max_context,
                  "context length in tokens (0 = min(max_position_embeddings, 4096); more than max_position_embeddings "
                  "is an error)")
      ->check(non_negative());
}

void add_kv_type_option(CLI::App* cmd, std::string& kv_type) {
  cmd->add_option("--kv-type", kv_type,
                  "element type of the KV cache (the latent cache in absorbed MLA): f32, bf16 or f16; math stays float32")
      ->check(CLI::IsMember({"f32", "bf16", "f16"}))
      ->capture_default_str();
}

KvDType kv_dtype_of(const std::string& kv_type) {
  KvDType t = KvDType::BF16;
  if (!parse_kv_dtype(kv_type, t)) fail("options", "--kv-type", "'" + kv_type + "' is not f32, bf16 or f16");
  return t;
}

void add_mmap_flag(CLI::App* cmd) {
  CLI::Option* map = cmd->add_flag_callback(
      "--mmap", [] { MappedFile::set_residency(Residency::Map); },
      "keep weights files memory-mapped (default: read into huge pages when they fit in half the free memory; "
      "decode is faster that way)");
  cmd->add_flag_callback(
         "--no-mmap", [] { MappedFile::set_residency(Residency::Resident); },
         "read weights files into memory whatever their size (as llama.cpp's --no-mmap); Q4_K, Q5_0, Q8_0 and Q6_K are "
         "then held in the CPU kernels' layouts")
      ->excludes(map);
}

void add_capture_option(CLI::App* cmd, CapturePolicy& policy, const std::string& description) {
  const std::map<std::string, CapturePolicy> names{{"off", CapturePolicy::Off},
                                                   {"routing", CapturePolicy::Routing},
                                                   {"attention", CapturePolicy::RoutingAttention},
                                                   {"everything", CapturePolicy::Everything}};
  // option_text: CLI11 would print the uint8_t enum values as characters.
  cmd->add_option("--capture", policy, description)
      ->transform(CLI::CheckedTransformer(names, CLI::ignore_case))
      ->option_text("off|routing|attention|everything");
}

BackendOptions backend_options(const EngineArgs& a) {
  BackendOptions o;
  o.n_threads = a.threads;
  o.mla = a.mla == "naive" ? MlaMode::Naive : MlaMode::Absorbed;
  o.device = a.device == "cpu" ? DeviceKind::Cpu : (a.device == "cuda" ? DeviceKind::Cuda : DeviceKind::Auto);
  o.max_context = a.max_context;
  o.kv_dtype = kv_dtype_of(a.kv_type);
  return o;
}

std::shared_ptr<Model> load_model(const EngineArgs& a, const char*) {
  ModelLoadOptions lo;
  lo.max_context = a.max_context;
  lo.kv_bytes_per_value = kv_dtype_bytes(kv_dtype_of(a.kv_type));
  lo.host_compute = computes_on_host(backend_options(a).device);
  return Model::load(a.model.empty() ? default_model_dir() : a.model, lo);
}

std::vector<int32_t> parse_token_ids(const std::string& text, int vocab_size, const char* where, const char* option) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ',' || text[i] == ' ' || text[i] == '\t')) ++i;
    if (i >= text.size()) break;
    size_t j = i;
    while (j < text.size() && text[j] != ',' && text[j] != ' ' && text[j] != '\t') ++j;
    const std::string piece = text.substr(i, j - i);
    long long v = -1;
    size_t used = 0;
    try {
      v = std::stoll(piece, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != piece.size() || piece.empty()) fail(where, option, "'" + piece + "' is not a token id");
    if (v < 0 || v >= vocab_size)
      fail(where, option, "token id " + piece + " is outside the vocabulary [0, " + std::to_string(vocab_size) + ")");
    ids.push_back(static_cast<int32_t>(v));
    i = j;
  }
  if (ids.empty()) fail(where, option, "no token ids given");
  return ids;
}

}  // namespace mlascope::app
