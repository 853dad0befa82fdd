// views/synthetic_trace.h — a hand-built session (StepRecords made up, no model run) for the
// `--demo-synthetic` dev mode, the panel tests and the frame-time benchmark. Its routing follows
// the config's real selection rule (scores + bias, group limit, top-k) on made-up scores in which
// code and prose tokens prefer different experts, so the panels show what a real session shows.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "engine/config.h"
#include "engine/trace/trace_model.h"

namespace mlascope::views {

struct SyntheticOptions {
  int n_tokens = 240;
  int attention_tokens = 256;  // attention rows are captured for the first N tokens
  uint64_t attention_layers = ~0ull;  // bit L: layer L's attention is captured (as CaptureSettings)
  uint64_t seed = 1;
  std::string title = "synthetic session";
  std::string model_name;  // "" = "<model_type> (synthetic)"
};

// Makes one token's record at a time (the synthetic chat engine streams these).
class SyntheticStepper {
 public:
  SyntheticStepper(const ModelConfig& cfg, uint64_t seed, int attention_tokens = 256, uint64_t attention_layers = ~0ull);
  const ModelConfig& config() const { return cfg_; }
  const std::vector<std::vector<float>>& gate_bias() const { return gate_bias_; }  // empty unless noaux_tc
  // Record for the token after the ones made so far; `code` picks the expert preference.
  StepRecord next(const std::string& text, bool code, bool prompt, int message);
  // A plausible next token text of the given kind.
  std::string sample_text(bool code);
  void truncate(size_t n);
  size_t size() const { return is_code_.size(); }

 private:
  ModelConfig cfg_;
  int attention_tokens_;
  uint64_t attention_layers_;
  std::mt19937_64 rng_;
  std::vector<std::vector<float>> gate_bias_;
  std::vector<std::vector<float>> affinity_code_, affinity_prose_;  // [n_moe][E]
  std::vector<bool> is_code_;
};

// Resets `tm` to a synthetic session of the config's architecture.
void fill_synthetic(TraceModel& tm, const ModelConfig& cfg, const SyntheticOptions& opt);
// The bundled demo model's architecture (DeepSeek-V3 layout, 6 layers, 16 routed experts), for when
// no config.json is at hand.
ModelConfig demo_config();

// DeepSeek's real counts for the scale fixtures, with the real attention shapes (kv_lora_rank 512,
// qk_rope_head_dim 64, qk_nope_head_dim 128, v_head_dim 128, so the KV panel shows the real
// ratios) and tiny hidden widths (no weights exist; nothing multiplies by them):
//   "v2-lite"  27 layers, first 1 dense, 64 routed experts top-6 (greedy, softmax), 2 shared, 16 heads
//   "v3"       61 layers, first 3 dense, 256 routed experts in 8 groups, top-8 of 4 groups
//              (noaux_tc, sigmoid, gate bias), 1 shared, 128 heads
//   "demo"     demo_config()
// Throws Error "[synthetic] NAME: ..." for any other name.
ModelConfig synthetic_config(const std::string& name);
// The one entry point the shell's `synthetic N [NAME]` script verb and the benchmark call: a
// synthetic session of `n_tokens` with the named counts. Attention is captured as a real run with
// capture policy RoutingAttention would at that scale: the first 128 tokens of 4 layers for "v3"
// (all 61 layers x 128 heads would be gigabytes), the first 256 tokens of every layer otherwise.
void fill_synthetic_named(TraceModel& tm, const std::string& name, int n_tokens, uint64_t seed = 1);

}  // namespace mlascope::views
