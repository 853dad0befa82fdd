// app/cmd_info.cpp — `mlascope info`: what a model is before running it: config summary, parameter
// counts (total and active per token), memory at a context length, and the KV bytes per token of
// MLA's latent cache against what multi-head attention with the same heads would cache.
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli_checks.h"
#include "commands.h"
#include "engine_options.h"
#include "engine/error.h"
#include "engine/kv_memory.h"
#include "engine/model/model.h"
#include "terminal_views.h"

namespace mlascope::app {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct InfoArgs {
  fs::path model;
  int context = 0;
  std::string kv_type = "bf16";  // what the KV cache stores (the engine's --kv-type)
  bool json = false;
};

std::string bytes_str(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024.0 && u < 4) {
    b /= 1024.0;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", b, units[u]);
  return buf;
}

std::string count_str(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

json info_json(const Model& m, const KvMemory& kv, const std::string& kv_type) {
  const ModelConfig& c = m.config();
  const MemoryEstimate& mem = m.memory_estimate();
  std::map<std::string, int> dtypes;
  for (const std::string& n : m.weights().names()) ++dtypes[to_string(m.weights().get(n).dtype)];
  json schemes = json::object();
  for (const KvFootprint& f : kv.schemes) {
    std::string key = f.scheme == KvScheme::MlaLatent ? "mla_latent"
                      : f.scheme == KvScheme::MlaNaive ? "mla_naive"
                      : f.scheme == KvScheme::Mha      ? "mha"
                      : f.scheme == KvScheme::Gqa      ? "gqa"
                                                       : "mqa";
    schemes[key] = {{"label", f.label},
                    {"values_per_token_layer", f.elems_per_token_layer},
                    {"bytes_per_token", f.bytes_per_token},
                    {"ratio_vs_latent", kv.ratio_vs_latent(f.scheme)}};
  }
  return {
      {"model", m.name()},
      {"path", m.path().string()},
      {"architecture", c.architecture},
      {"model_type", c.model_type},
      {"config",
       {{"vocab_size", c.vocab_size},
        {"hidden_size", c.hidden_size},
        {"num_hidden_layers", c.num_hidden_layers},
        {"dense_layers", c.num_hidden_layers - c.n_moe_layers()},
        {"moe_layers", c.n_moe_layers()},
        {"num_attention_heads", c.num_attention_heads},
        {"q_lora_rank", c.has_q_lora() ? json(c.q_lora_rank) : json(nullptr)},
        {"kv_lora_rank", c.kv_lora_rank},
        {"qk_nope_head_dim", c.qk_nope_head_dim},
        {"qk_rope_head_dim", c.qk_rope_head_dim},
        {"v_head_dim", c.v_head_dim},
        {"n_routed_experts", c.n_routed_experts},
        {"n_shared_experts", c.n_shared_experts},
        {"num_experts_per_tok", c.num_experts_per_tok},
        {"topk_method", to_string(c.topk_method)},
        {"scoring_func", to_string(c.scoring_func)},
        {"n_group", c.n_group},
        {"topk_group", c.topk_group},
        {"norm_topk_prob", c.norm_topk_prob},
        {"routed_scaling_factor", c.routed_scaling_factor},
        {"rope_theta", c.rope_theta},
        {"yarn", c.rope_scaling.yarn ? json{{"factor", c.rope_scaling.factor},
                                            {"original_max_position_embeddings",
                                             c.rope_scaling.original_max_position_embeddings}}
                                     : json(nullptr)},
        {"softmax_scale", c.softmax_scale()},
        {"max_position_embeddings", c.max_position_embeddings},
        {"tie_word_embeddings", c.tie_word_embeddings}}},
      {"params", {{"total", m.n_params()}, {"active_per_token", m.n_active_params()}}},
      {"weights",
       {{"bytes", m.weight_bytes()}, {"bytes_read_per_token", m.weight_bytes_per_token()}, {"dtypes", dtypes}}},
      {"kv_cache", {{"dtype", kv_type}, {"bytes_per_value", kv.bytes_per_elem}, {"n_layers", kv.n_layers}, {"schemes", schemes}}},
      {"memory",
       {{"context", mem.context},
        {"weights_bytes", mem.weight_bytes},
        {"kv_cache_bytes", mem.kv_cache_bytes},
        {"kv_cache_naive_bytes", mem.kv_cache_naive_bytes},
        {"total_bytes", mem.total_bytes},
        {"available_bytes", mem.available_bytes ? json(mem.available_bytes) : json(nullptr)},
        {"fits", mem.available_bytes == 0 || mem.total_bytes <= mem.available_bytes}}},
  };
}

std::string info_text(const Model& m, const KvMemory& kv, const std::string& kv_type) {
  const ModelConfig& c = m.config();
  const MemoryEstimate& mem = m.memory_estimate();
  std::map<std::string, int> dtypes;
  for (const std::string& n : m.weights().names()) ++dtypes[to_string(m.weights().get(n).dtype)];
  std::string dt;
  for (const auto& [k, n] : dtypes) dt += (dt.empty() ? "" : ", ") + k + " x" + std::to_string(n);

  std::ostringstream o;
  char buf[256];
  auto line = [&](const char* key, const std::string& value) {
    std::snprintf(buf, sizeof buf, "%-13s", key);
    o << buf << value << '\n';
  };
  line("model", m.name() + "  (" + m.path().string() + ")");
  line("architecture", c.architecture + " (" + c.model_type + "), tensors " + dt);
  line("layers", std::to_string(c.num_hidden_layers) + " (" + std::to_string(c.num_hidden_layers - c.n_moe_layers()) +
                     " dense, " + std::to_string(c.n_moe_layers()) + " MoE), hidden " + std::to_string(c.hidden_size) +
                     ", heads " + std::to_string(c.num_attention_heads) + ", vocab " + std::to_string(c.vocab_size));
  std::snprintf(buf, sizeof buf, "q_lora_rank %s, kv_lora_rank %d, head dims nope %d / rope %d / v %d, softmax_scale %.6f",
                c.has_q_lora() ? std::to_string(c.q_lora_rank).c_str() : "null", c.kv_lora_rank, c.qk_nope_head_dim,
                c.qk_rope_head_dim, c.v_head_dim, c.softmax_scale());
  line("MLA", buf);
  if (c.n_routed_experts > 0) {
    const std::string groups = c.topk_method == TopkMethod::Greedy
                                   ? std::string()
                                   : ", " + std::to_string(c.n_group) + " groups keep " + std::to_string(c.topk_group);
    std::snprintf(buf, sizeof buf, "%d routed + %d shared experts, top-%d, %s, %s%s, norm_topk_prob %s, scale %g",
                  c.n_routed_experts, c.n_shared_experts, c.num_experts_per_tok, to_string(c.topk_method),
                  to_string(c.scoring_func), groups.c_str(), c.norm_topk_prob ? "true" : "false",
                  c.routed_scaling_factor);
    line("MoE", buf);
  }
  if (c.rope_scaling.yarn)
    std::snprintf(buf, sizeof buf, "theta %g, YaRN x%g over %d original positions, max positions %d", c.rope_theta,
                  c.rope_scaling.factor, c.rope_scaling.original_max_position_embeddings, c.max_position_embeddings);
  else
    std::snprintf(buf, sizeof buf, "theta %g, no scaling, max positions %d", c.rope_theta, c.max_position_embeddings);
  line("RoPE", buf);
  const double active_pct = 100.0 * double(m.n_active_params()) / double(std::max<uint64_t>(1, m.n_params()));
  std::snprintf(buf, sizeof buf, "%s total, %s active per token (%.1f%%)", count_str(m.n_params()).c_str(),
                count_str(m.n_active_params()).c_str(), active_pct);
  line("parameters", buf);
  line("weights", bytes_str(double(m.weight_bytes())) + " as stored, " + bytes_str(double(m.weight_bytes_per_token())) +
                      " read per decode step");
  const KvFootprint& lat = kv.get(KvScheme::MlaLatent);
  const KvFootprint& mha = kv.get(KvScheme::Mha);
  std::snprintf(buf, sizeof buf, "MLA latent %lld values/layer = %s vs MHA %lld values/layer = %s (%.1fx) [%s, %d layers]",
                static_cast<long long>(lat.elems_per_token_layer), bytes_str(lat.bytes_per_token).c_str(),
                static_cast<long long>(mha.elems_per_token_layer), bytes_str(mha.bytes_per_token).c_str(),
                kv.ratio_vs_latent(KvScheme::Mha), kv_type.c_str(), kv.n_layers);
  line("KV / token", buf);
  std::string memline = "at " + std::to_string(mem.context) + " tokens: " + bytes_str(double(mem.total_bytes)) +
                        " (weights " + bytes_str(double(mem.weight_bytes)) + " + latent cache " +
                        bytes_str(double(mem.kv_cache_bytes)) + " " + kv_type + "; naive MLA cache would be " +
                        bytes_str(double(mem.kv_cache_naive_bytes)) + ")";
  line("memory", memline);
  if (mem.available_bytes)
    line("", bytes_str(double(mem.available_bytes)) + " available: " +
                 (mem.total_bytes <= mem.available_bytes ? "fits" : "does NOT fit"));
  return o.str();
}

void run_info(const InfoArgs& a) {
  // The load-time summary would repeat what info prints; keep stderr for warnings and errors.
  auto log = spdlog::get("engine");
  if (!log) log = spdlog::stderr_color_mt("engine");
  log->set_level(spdlog::level::warn);

  ModelLoadOptions opt;
  opt.max_context = a.context;
  opt.check_memory = false;  // info reports whether it fits instead of refusing
  opt.kv_bytes_per_value = kv_dtype_bytes(kv_dtype_of(a.kv_type));
  const fs::path dir = a.model.empty() ? default_model_dir() : a.model;
  std::shared_ptr<Model> m = Model::load(dir, opt);
  const KvMemory kv = kv_memory(m->config(), opt.kv_bytes_per_value);  // what the engine's cache would hold
  if (a.json) {
    std::printf("%s\n", dump_json(info_json(*m, kv, a.kv_type)).c_str());
  } else {
    std::fputs(info_text(*m, kv, a.kv_type).c_str(), stdout);
  }
}

}  // namespace

void register_info(CLI::App& root, CommandContext& ctx) {
  auto a = std::make_shared<InfoArgs>();
  CLI::App* cmd = root.add_subcommand(
      "info", "Config summary, parameters (total and active per token), memory estimate, KV bytes per token (MLA vs MHA)");
  cmd->add_option("--model", a->model, "HF model folder (config.json + safetensors) or .gguf file (default: the demo model)");
  cmd->add_option("--context", a->context, "tokens for the memory estimate (default: min(max_position_embeddings, 4096))")
      ->check(positive());
  add_kv_type_option(cmd, a->kv_type);
  cmd->add_flag("--json", a->json, "machine-readable output (stable keys)");
  cmd->callback([a, &ctx] {
    run_info(*a);
    ctx.exit_code = 0;
  });
}

}  // namespace mlascope::app
