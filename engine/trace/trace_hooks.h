// engine/trace/trace_hooks.h — named trace points inside the forward pass.
// The whole cost when nobody listens: one predictable branch per point
//   if (trace && trace->wants(TracePoint::Route, layer)) trace->on_route(...);
// Backends (CPU and CUDA) call the same sink with host-side float data in the same layouts as
// golden.safetensors, so recorders, eval dumps and views never know which backend ran.
#pragma once
#include <cstdint>
#include <span>

namespace mlascope {

enum class TracePoint : uint32_t {
  Embed = 1u << 0,        // input row of layer 0                      [D]
  Hidden = 1u << 1,       // residual stream after layer L             [D]
  FinalNorm = 1u << 2,    // input of lm_head                          [D]
  AttnProbs = 1u << 3,    // softmax probabilities per head            [H, n_keys]
  AttnParts = 1u << 4,    // pre-softmax nope and rope score parts     [H, n_keys] each (scaled)
  KvLatent = 1u << 5,     // latent cache row: kv_a_layernorm(c_kv) and rope(k_pe)
  RouterProbs = 1u << 6,  // scores of all routed experts (before bias) [E]
  Route = 1u << 7,        // chosen experts, weights, biased scores, kept groups, margin
  Logits = 1u << 8,       // lm_head output for every position (prefill rows included) [V]
};
constexpr uint32_t operator|(TracePoint a, TracePoint b) { return uint32_t(a) | uint32_t(b); }
constexpr uint32_t operator|(uint32_t a, TracePoint b) { return a | uint32_t(b); }

// One MoE routing decision (one token, one layer).
struct RouteRecord {
  int layer = 0;
  int position = 0;
  int k = 0;
  const int32_t* expert = nullptr;  // [k] in descending order of selection score
  const float* weight = nullptr;    // [k] final multipliers (normalisation and scaling included)
  std::span<const float> scores;     // [E] softmax/sigmoid of the gate logits (unbiased)
  std::span<const float> selection;  // [E] scores + e_score_correction_bias (== scores without bias)
  uint64_t kept_groups = 0;          // bit g set when group g survived the group limit (all ones otherwise)
  float margin = 0.0f;               // smallest score gap that decided this routing (group cut, expert cut)
};

class TraceSink {
 public:
  virtual ~TraceSink() = default;

  // Which points are wanted, and for which layers (bit L of layer_mask; all when ~0).
  uint32_t points = 0;
  uint64_t layer_mask = ~0ull;  // layers >= 64 are traced when bit 63 is set

  bool wants(TracePoint p, int layer = 0) const {
    if ((points & uint32_t(p)) == 0) return false;
    const int bit = layer < 63 ? layer : 63;
    return (layer_mask >> bit) & 1ull;
  }
  bool any() const { return points != 0; }

  // `position` is the absolute position of the token in the sequence.
  virtual void on_vector(TracePoint, int /*layer*/, int /*position*/, std::span<const float>) {}
  // probs/nope/rope: [n_heads, n_keys] row-major, n_keys = position + 1; nope/rope may be null.
  virtual void on_attention(int /*layer*/, int /*position*/, int /*n_heads*/, int /*n_keys*/,
                            const float* /*probs*/, const float* /*nope*/, const float* /*rope*/) {}
  virtual void on_kv_latent(int /*layer*/, int /*position*/, std::span<const float> /*latent*/,
                            std::span<const float> /*k_rope*/) {}
  virtual void on_route(const RouteRecord&) {}
};

}  // namespace mlascope
