// engine/sampler.h — turning logits into the next token: greedy, temperature, top-k, top-p,
// min-p, repetition penalty, seeded (same seed => same tokens).
#pragma once
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "trace/step_record.h"

namespace mlascope {

struct SamplerSettings {
  float temperature = 0.0f;         // 0 = greedy
  int top_k = 0;                    // 0 = off
  float top_p = 1.0f;               // 1 = off
  float min_p = 0.0f;               // 0 = off
  float repetition_penalty = 1.0f;  // 1 = off (CTRL-style: divide positive logits, multiply negative)
  int repetition_window = 256;      // how many previous tokens the penalty looks at
  uint64_t seed = 0;
  std::string to_json() const;
  static SamplerSettings from_json(const std::string& text);  // ignores "rng_position" (Sampler::state_json)
  // "temperature=0.8" style updates (terminal /sampler, CLI); throws Error on an unknown key/bad value.
  void set(const std::string& key, const std::string& value);
};

struct SampleResult {
  int32_t id = -1;
  float prob = 0.0f;      // probability of id under the final (sampled-from) distribution
  float raw_prob = 0.0f;  // probability of id under softmax(logits)
  std::vector<TopEntry> top_raw;
  std::vector<TopEntry> top_sampled;
};

class Sampler {
 public:
  explicit Sampler(SamplerSettings s = {});
  const SamplerSettings& settings() const { return s_; }
  void set_settings(const SamplerSettings& s);  // reseeds
  // Where the random stream stands: draws taken since the last reseed (one 64-bit draw per sampled
  // token; greedy takes none). state_json() = the settings plus "rng_position", what a recorded turn
  // keeps so a replay reproduces it; restore_state() puts the sampler back there (settings, seed, position).
  uint64_t rng_position() const { return draws_; }
  std::string state_json() const;
  void restore_state(const std::string& json);
  // `history` = previous token ids (for the repetition penalty).
  SampleResult sample(std::span<const float> logits, std::span<const int32_t> history, int n_top = kTopLogits);

  // Sampling from the largest logits only (Backend::forward_top), for a device backend whose
  // vocabulary never reaches the host. top_needed: how many of them (descending, equal logits
  // lower id first) make sample_top give what sample() gives on all vocab_size logits, or 0 when
  // these settings need every logit (repetition penalty; temperature > 0 without top_k, or a
  // top_k beyond max_n). lse = log(sum(exp(all logits))).
  int top_needed(int vocab_size, int max_n, int n_top = kTopLogits) const;
  SampleResult sample_top(std::span<const int32_t> ids, std::span<const float> logits, float lse,
                          int n_top = kTopLogits);

 private:
  // temperature, top-p, min-p and the draw over candidates sorted by descending logit.
  void draw(std::vector<int32_t>& cand, const std::vector<float>& cand_logit, SampleResult& r, int n_top);

  SamplerSettings s_;
  std::mt19937_64 rng_;
  uint64_t draws_ = 0;
};

}  // namespace mlascope
