// engine/kv_memory.h — KV-cache memory of a DeepSeek config under MLA and under the attention
// variants it replaces (DeepSeek-V2 paper, Table 1), from config.json alone: no weights needed.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "config.h"

namespace mlascope {

enum class KvScheme { MlaLatent, MlaNaive, Mha, Gqa, Mqa };
const char* to_string(KvScheme s);

// Elements cached per token per layer:
//   MLA latent (absorbed)  kv_lora_rank + qk_rope_head_dim                  (c_kv and the shared k_pe)
//   MLA naive              H * (qk_nope + qk_rope) + H * v_head_dim           (decompressed per-head K and V)
//   MHA                    H * (qk_nope + qk_rope + v_head_dim)               (same head sizes, every head cached)
//   GQA-g                  g * (qk_nope + qk_rope + v_head_dim)
//   MQA                    1 * (qk_nope + qk_rope + v_head_dim)
struct KvFootprint {
  KvScheme scheme;
  std::string label;            // "MLA latent", "GQA-8", ...
  int64_t elems_per_token_layer = 0;
  double bytes_per_token = 0;   // all layers
};

struct KvMemory {
  int bytes_per_elem = 2;
  int gqa_groups = 8;
  int n_layers = 0;
  std::vector<KvFootprint> schemes;  // in KvScheme order

  const KvFootprint& get(KvScheme s) const { return schemes[static_cast<size_t>(s)]; }
  double bytes_at(KvScheme s, int64_t n_tokens) const { return get(s).bytes_per_token * static_cast<double>(n_tokens); }
  // Longest context whose cache fits in `budget_bytes`.
  int64_t longest_context(KvScheme s, double budget_bytes) const;
  // How many times smaller the latent cache is than the scheme's.
  double ratio_vs_latent(KvScheme s) const { return get(s).bytes_per_token / get(KvScheme::MlaLatent).bytes_per_token; }
};

// GQA shares each K/V head among n_heads / groups query heads, so groups must divide the head
// count: kv_memory uses the largest divisor of num_attention_heads not above gqa_groups (a command
// that takes the count from the user refuses a non-divisor instead: gqa_groups_divide).
// bytes_per_elem: 4 fp32, 2 bf16/fp16, 1 fp8.
int gqa_groups_for(int n_heads, int want);
bool gqa_groups_divide(int n_heads, int groups);
KvMemory kv_memory(const ModelConfig& c, int bytes_per_elem = 2, int gqa_groups = 8);

}  // namespace mlascope
