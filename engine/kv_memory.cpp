// engine/kv_memory.cpp — see kv_memory.h for the formulas.
#include "kv_memory.h"

#include <algorithm>
#include <cmath>

namespace mlascope {

const char* to_string(KvScheme s) {
  switch (s) {
    case KvScheme::MlaLatent: return "MLA latent";
    case KvScheme::MlaNaive: return "MLA naive";
    case KvScheme::Mha: return "MHA";
    case KvScheme::Gqa: return "GQA";
    case KvScheme::Mqa: return "MQA";
  }
  return "?";
}

int gqa_groups_for(int n_heads, int want) {
  n_heads = std::max(1, n_heads);
  for (int g = std::clamp(want, 1, n_heads); g > 1; --g)
    if (n_heads % g == 0) return g;
  return 1;
}

bool gqa_groups_divide(int n_heads, int groups) { return groups >= 1 && groups <= n_heads && n_heads % groups == 0; }

KvMemory kv_memory(const ModelConfig& c, int bytes_per_elem, int gqa_groups) {
  KvMemory m;
  m.bytes_per_elem = bytes_per_elem;
  m.gqa_groups = gqa_groups_for(c.num_attention_heads, gqa_groups);
  m.n_layers = c.num_hidden_layers;
  const int64_t H = c.num_attention_heads;
  const int64_t head = c.qk_nope_head_dim + c.qk_rope_head_dim + c.v_head_dim;
  auto add = [&](KvScheme s, std::string label, int64_t elems) {
    m.schemes.push_back({s, std::move(label), elems,
                         static_cast<double>(elems) * bytes_per_elem * static_cast<double>(c.num_hidden_layers)});
  };
  add(KvScheme::MlaLatent, "MLA latent", c.kv_lora_rank + c.qk_rope_head_dim);
  add(KvScheme::MlaNaive, "MLA naive", H * (c.qk_nope_head_dim + c.qk_rope_head_dim) + H * c.v_head_dim);
  add(KvScheme::Mha, "MHA", H * head);
  add(KvScheme::Gqa, "GQA-" + std::to_string(m.gqa_groups), m.gqa_groups * head);
  add(KvScheme::Mqa, "MQA", head);
  return m;
}

int64_t KvMemory::longest_context(KvScheme s, double budget_bytes) const {
  const double per = get(s).bytes_per_token;
  if (per <= 0) return 0;
  return static_cast<int64_t>(std::floor(budget_bytes / per));
}

}  // namespace mlascope
