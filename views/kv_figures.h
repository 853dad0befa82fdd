// views/kv_figures.h — the KV-cache figures a user reads, computed in one place so the status bar
// and the KV memory panel can never disagree: the session's cache size with its dtype named, and
// MLA's cache against the baselines the papers compare it with. Free of ImGui (tests check it by
// hand-computed numbers).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/config.h"
#include "engine/trace/trace_model.h"

namespace mlascope::views {

// What the session's KV cache holds after `n_tokens` tokens.
struct KvShown {
  size_t n_tokens = 0;
  double bytes = 0;                 // all layers
  std::string dtype;                // "f32" | "bf16" | "f16" | "fp8"
  int bytes_per_elem = 0;
  bool measured = false;            // from the engine's own cache (StepRecord::kv_bytes), else computed
  bool dtype_inferred = false;      // the session did not record its dtype: bytes / values decided it
  std::string scheme;               // "MLA latent" (absorbed) | "MLA naive" (decompressed K and V)
  int64_t values_per_token_layer = 0;
  int n_layers = 0;
  // "KV 228.75 KiB f32": what the status bar prints and the KV panel repeats.
  std::string text() const;
};
// The one function both places call. Prefers the engine's measured bytes (the last visible
// token's kv_bytes) and the recorded dtype (SessionMeta::kv_dtype); a session that recorded
// neither shows the cache computed from its config in the engine's default dtype (f32).
KvShown kv_shown(const TraceModel& tm, size_t n_tokens);

// Byte size of one cached value for a dtype name (f32 4, bf16/f16 2, fp8 1; 0 = unknown).
int kv_dtype_size(const std::string& dtype);

// The baselines MLA is compared with, values cached per token per layer (H heads):
//   MhaSameHeads      H x (qk_nope + qk_rope + v_head)  K with its rope part, as the model would cache it
//   MhaNoRope         H x (qk_nope + v_head) = 2 H d_h  as the DeepSeek-V2 paper counts MHA (d_h = 128)
//   MhaNHeads         2 x N x d_h                       MHA with N heads of d_h = v_head_dim values
//   Gqa               2 x g x d_h                       g groups of shared K/V heads (paper: 2 n_g d_h)
//   Mqa               2 x d_h                           one shared K/V head (paper: 2 d_h)
enum class KvBaseline { MhaSameHeads, MhaNoRope, MhaNHeads, Gqa, Mqa };
const char* to_string(KvBaseline b);
// Short ids for tours and scripts: mha-same, mha-no-rope, mha-n, gqa, mqa. False for anything else.
const char* kv_baseline_id(KvBaseline b);
bool parse_kv_baseline(const std::string& id, KvBaseline* out);
int64_t kv_baseline_values(const ModelConfig& c, KvBaseline b, int n_heads_or_groups);
// "128 heads x (128 + 64 + 128) = 40,960": the baseline's formula with the model's numbers.
std::string kv_baseline_formula(const ModelConfig& c, KvBaseline b, int n_heads_or_groups);
// MLA's latent cache as a fraction of the baseline (0.0141 = 1.41 %).
double mla_fraction_of(const ModelConfig& c, KvBaseline b, int n_heads_or_groups);
// The (fractional) number of d_h-sized MHA heads for which MLA's cache is `fraction` of MHA's:
// latent / (2 d_h fraction). 576 values, d_h 128: 13 % -> 17.3 heads, 5 % -> 45 heads.
double mha_heads_for_fraction(const ModelConfig& c, double fraction);
// GQA group counts that divide the heads evenly (1 .. H).
std::vector<int> gqa_group_choices(int n_heads);
// The largest of those <= want (at least 1): what the GQA slider shows and the label names.
int snap_gqa_groups(int want, int n_heads);

// The longest context a budget holds, flagged when it passes the model's maximum.
struct ContextFit {
  int64_t tokens = 0;
  bool beyond_max = false;  // more than max_position_embeddings: the model cannot use it
};
ContextFit longest_context(double budget_bytes, double bytes_per_token, int64_t max_position_embeddings);

}  // namespace mlascope::views
