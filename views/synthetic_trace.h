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
  int attention_tokens = 256;  // attention rows for every layer are captured for the first N tokens
  uint64_t seed = 1;
  std::string title = "synthetic session";
};

// Makes one token's record at a time (the synthetic chat engine streams these).
class SyntheticStepper {
 public:
  SyntheticStepper(const ModelConfig& cfg, uint64_t seed, int attention_tokens = 256);
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

}  // namespace mlascope::views
