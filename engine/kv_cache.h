// engine/kv_cache.h — the CPU KV cache in either MLA form.
//   absorbed: latent_cache [pos, kv_lora_rank] (kv_a_layernorm(c_kv)) + rope_cache [pos, qk_rope_head_dim]
//             (rope(k_pe), shared by all heads) — kv_lora_rank + qk_rope_head_dim values per token per layer
//   naive:    key_cache [pos, H, qk_nope + qk_rope] and value_cache [pos, H, v_head_dim] per layer
// Values are stored in the cache's KvDType (f32, bf16 or f16; math stays float32: rows are written
// with cpu::kv_store and read with cpu::kv_dot / kv_axpy, engine/backend/cpu/kv_rows.h).
// Storage grows in chunks up to max_context, so a long max_context costs nothing until it is used.
#pragma once
#include <cstdint>
#include <vector>

#include "backend/backend.h"
#include "config.h"

namespace mlascope {

class KvCache {
 public:
  KvCache(const ModelConfig& c, MlaMode mode, int max_context, KvDType dtype = KvDType::F32);

  MlaMode mode() const { return mode_; }
  KvDType dtype() const { return dtype_; }
  int max_context() const { return max_context_; }
  int n_cached() const { return n_cached_; }
  void set_n_cached(int n) { n_cached_ = n; }
  // Makes room for positions [0, n); n <= max_context.
  void reserve(int n_positions);

  // Row starts, in dtype(): advance within a row with cpu::kv_advance.
  void* latent(int layer, int pos) { return at(latent_cache_, layer, pos, latent_dim_); }  // [kv_lora_rank]
  void* k_rope(int layer, int pos) { return at(rope_cache_, layer, pos, rope_dim_); }      // [qk_rope_head_dim]
  void* key(int layer, int pos) { return at(key_cache_, layer, pos, key_dim_); }           // [H, qk_head_dim]
  void* value(int layer, int pos) { return at(value_cache_, layer, pos, value_dim_); }     // [H, v_head_dim]

  // Values cached per token per layer in this mode, and the bytes holding data now (in dtype()).
  int64_t floats_per_token_layer() const;
  uint64_t bytes_in_use() const;

 private:
  void* at(std::vector<std::vector<uint8_t>>& v, int layer, int pos, int64_t dim) {
    return v[static_cast<size_t>(layer)].data() +
           static_cast<size_t>(pos) * static_cast<size_t>(dim) * static_cast<size_t>(elem_bytes_);
  }

  MlaMode mode_;
  KvDType dtype_;
  int elem_bytes_ = 4;
  int n_layers_ = 0;
  int max_context_ = 0;
  int capacity_ = 0;
  int n_cached_ = 0;
  int64_t latent_dim_ = 0, rope_dim_ = 0, key_dim_ = 0, value_dim_ = 0;
  std::vector<std::vector<uint8_t>> latent_cache_, rope_cache_, key_cache_, value_cache_;
};

}  // namespace mlascope
