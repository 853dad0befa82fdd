// engine/trace/activation_recorder.h — a TraceSink that accumulates per-position activations in
// exactly the names and layouts of golden.safetensors (embed, hidden.L, final_norm, logits, attn.L
// [H,T,T], kv_latent.L, k_rope.L, router_probs.L, route_idx.L, route_w.L, route_margin.L), for
// `mlascope eval --dump` and the golden tests. Positions >= n_positions are ignored, so a greedy
// continuation can run through the same sink.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "../config.h"
#include "trace_hooks.h"

namespace mlascope {

struct RecordedTensor {
  std::vector<int64_t> shape;
  std::vector<float> f32;    // F32 tensors
  std::vector<int32_t> i32;  // I32 tensors (route_idx.L)
  bool is_i32 = false;
};

class ActivationRecorder final : public TraceSink {
 public:
  ActivationRecorder(const ModelConfig& config, int n_positions);

  // Names in golden order (embed, then per layer, then final_norm, logits).
  const std::vector<std::string>& names() const { return order_; }
  const RecordedTensor* find(const std::string& name) const;
  // Positions that reached each tensor (so a caller can tell a missing trace call from a zero).
  int positions_seen() const { return seen_; }

  void on_vector(TracePoint p, int layer, int position, std::span<const float> v) override;
  void on_attention(int layer, int position, int n_heads, int n_keys, const float* probs, const float* nope,
                    const float* rope) override;
  void on_kv_latent(int layer, int position, std::span<const float> latent, std::span<const float> k_rope) override;
  void on_route(const RouteRecord& r) override;

 private:
  RecordedTensor& add(const std::string& name, std::vector<int64_t> shape, bool i32 = false);
  RecordedTensor* at(const std::string& name);
  void put_row(const std::string& name, int position, std::span<const float> v);

  int T_ = 0;
  int seen_ = 0;
  std::map<std::string, RecordedTensor> tensors_;
  std::vector<std::string> order_;
};

}  // namespace mlascope
