// engine/kv_cache.h — the CPU KV cache in either MLA form.
//   absorbed: latent_cache [pos, kv_lora_rank] (kv_a_layernorm(c_kv)) + rope_cache [pos, qk_rope_head_dim]
//             (rope(k_pe), shared by all heads) — kv_lora_rank + qk_rope_head_dim floats per token per layer
//   naive:    key_cache [pos, H, qk_nope + qk_rope] and value_cache [pos, H, v_head_dim] per layer
// Storage grows in chunks up to max_context, so a long max_context costs nothing until it is used.
#pragma once
#include <cstdint>
#include <vector>

#include "backend/backend.h"
#include "config.h"

namespace mlascope {

class KvCache {
 public:
  KvCache(const ModelConfig& c, MlaMode mode, int max_context);

  MlaMode mode() const { return mode_; }
  int max_context() const { return max_context_; }
  int n_cached() const { return n_cached_; }
  void set_n_cached(int n) { n_cached_ = n; }
  // Makes room for positions [0, n); n <= max_context.
  void reserve(int n_positions);

  float* latent(int layer, int pos) { return &latent_cache_[idx(layer)][row(pos, latent_dim_)]; }   // [kv_lora_rank]
  float* k_rope(int layer, int pos) { return &rope_cache_[idx(layer)][row(pos, rope_dim_)]; }       // [qk_rope_head_dim]
  float* key(int layer, int pos) { return &key_cache_[idx(layer)][row(pos, key_dim_)]; }            // [H, qk_head_dim]
  float* value(int layer, int pos) { return &value_cache_[idx(layer)][row(pos, value_dim_)]; }      // [H, v_head_dim]

  // Floats cached per token per layer in this mode, and the bytes holding data now (float32).
  int64_t floats_per_token_layer() const;
  uint64_t bytes_in_use() const;

 private:
  static size_t idx(int layer) { return static_cast<size_t>(layer); }
  static size_t row(int pos, int64_t dim) { return static_cast<size_t>(pos) * static_cast<size_t>(dim); }

  MlaMode mode_;
  int n_layers_ = 0;
  int max_context_ = 0;
  int capacity_ = 0;
  int n_cached_ = 0;
  int64_t latent_dim_ = 0, rope_dim_ = 0, key_dim_ = 0, value_dim_ = 0;
  std::vector<std::vector<float>> latent_cache_, rope_cache_, key_cache_, value_cache_;
};

}  // namespace mlascope
