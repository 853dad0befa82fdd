// engine/model/transformer_scratch.h — working buffers of one Transformer, reused across calls so
// a decode step allocates nothing once the buffers have grown. Private to engine/model/*.cpp.
#pragma once
#include <vector>

#include "transformer.h"

namespace mlascope {

struct Transformer::Scratch {
  std::vector<float> h;         // [n, D] residual stream
  std::vector<float> xn;        // [n, D] normed input of the current block
  std::vector<float> out;       // [n, D] block output (attention or FFN)
  std::vector<float> qa;        // [n, q_lora_rank]
  std::vector<float> q;         // [n, H, qk_nope + qk_rope]
  std::vector<float> kv;        // [n, kv_lora_rank + qk_rope]
  std::vector<float> latent;    // [n, kv_lora_rank] kv_a_layernorm(c_kv)
  std::vector<float> kpe;       // [n, qk_rope] rope(k_pe)
  std::vector<float> kvb;       // [n, H, qk_nope + v] (naive)
  std::vector<float> key_row, value_row;  // [H, qk_nope + qk_rope], [H, v]: one token's naive K/V before storing
  std::vector<float> attn_out;  // [n, H, v]
  std::vector<float> probs, nope, rope;  // [H, n_keys] one query's attention (and score parts)
  std::vector<float> q_lat, o_lat;       // [chunk, H, kv_lora_rank] absorbed query / output in latent space
  std::vector<float> uv_out;             // [chunk, H * (qk_nope + v)] W_UV products land at kv_b_proj row numbers
  std::vector<float> cos_v, sin_v;       // [qk_rope / 2]
  std::vector<float> gate, up, act;      // [n, ff]
  std::vector<float> router, selection;  // [n, E]
  std::vector<float> xe, ye;             // [m, D] tokens gathered for one expert / its outputs
  std::vector<std::vector<float>> bias;  // [L][E] e_score_correction_bias as float32 (empty when none)
};

template <class T>
inline T* sized(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

}  // namespace mlascope
