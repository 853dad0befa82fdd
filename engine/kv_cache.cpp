// engine/kv_cache.cpp — see kv_cache.h.
#include "kv_cache.h"

#include <algorithm>

namespace mlascope {

KvCache::KvCache(const ModelConfig& c, MlaMode mode, int max_context, KvDType dtype)
    : mode_(mode), dtype_(dtype), elem_bytes_(kv_dtype_bytes(dtype)), n_layers_(c.num_hidden_layers),
      max_context_(max_context) {
  latent_dim_ = c.kv_lora_rank;
  rope_dim_ = c.qk_rope_head_dim;
  key_dim_ = static_cast<int64_t>(c.num_attention_heads) * c.qk_head_dim();
  value_dim_ = static_cast<int64_t>(c.num_attention_heads) * c.v_head_dim;
  const size_t L = static_cast<size_t>(n_layers_);
  if (mode_ == MlaMode::Absorbed) {
    latent_cache_.resize(L);
    rope_cache_.resize(L);
  } else {
    key_cache_.resize(L);
    value_cache_.resize(L);
  }
}

void KvCache::reserve(int n) {
  if (n <= capacity_) return;
  // Grow geometrically from 256 positions so a chat does not reallocate every turn.
  int cap = std::max(capacity_, 256);
  while (cap < n) cap *= 2;
  cap = std::min(cap, std::max(max_context_, n));
  auto grow = [&](std::vector<std::vector<uint8_t>>& v, int64_t dim) {
    for (auto& layer : v)
      layer.resize(static_cast<size_t>(cap) * static_cast<size_t>(dim) * static_cast<size_t>(elem_bytes_));
  };
  if (mode_ == MlaMode::Absorbed) {
    grow(latent_cache_, latent_dim_);
    grow(rope_cache_, rope_dim_);
  } else {
    grow(key_cache_, key_dim_);
    grow(value_cache_, value_dim_);
  }
  capacity_ = cap;
}

int64_t KvCache::floats_per_token_layer() const {
  return mode_ == MlaMode::Absorbed ? latent_dim_ + rope_dim_ : key_dim_ + value_dim_;
}

uint64_t KvCache::bytes_in_use() const {
  return static_cast<uint64_t>(n_cached_) * static_cast<uint64_t>(n_layers_) *
         static_cast<uint64_t>(floats_per_token_layer()) * static_cast<uint64_t>(elem_bytes_);
}

}  // namespace mlascope
