// engine/tensor_names.h — the one table of weight names: GGUF (llama.cpp `deepseek2`) ↔ HF.
// Every loader and the exporter go through here so the model code only ever sees HF names
// (`model.layers.N.self_attn.kv_a_proj_with_mqa.weight`, `model.layers.N.mlp.experts.E.up_proj.weight`).
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace mlascope {

// How one GGUF tensor lands in the HF naming.
enum class GgufNameKind {
  Plain,          // one tensor, one HF name
  MergedExperts,  // ffn_*_exps [E, rows, cols]: HF name per expert, `hf` holds "{E}" for the index
  SplitKB,        // attn_k_b: half of kv_b_proj (per head, transposed); `hf` is the kv_b_proj name
  SplitVB,        // attn_v_b: the other half of kv_b_proj
};

struct GgufName {
  GgufNameKind kind = GgufNameKind::Plain;
  int layer = -1;  // -1 for model-level tensors
  std::string hf;
};

// nullopt for names outside the table (the loader reports them; it never guesses).
std::optional<GgufName> gguf_to_hf(std::string_view gguf_name);

// HF name of expert `e` for a MergedExperts mapping ("{E}" replaced).
std::string hf_expert_name(const GgufName& merged, int expert);

// The reverse mapping used by the exporter. For a routed expert weight the GGUF name is the
// merged tensor and *expert_out receives the expert index (else -1). nullopt when unknown.
std::optional<std::string> hf_to_gguf(std::string_view hf_name, int* expert_out = nullptr);

}  // namespace mlascope

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

namespace mlascope {

struct ModelConfig;

// Every HF tensor the config implies, with its [out_features, in_features] (or [n]) shape, in
// file order (embeddings, layers, final norm, lm_head). Used to check a load is complete.
std::vector<std::pair<std::string, std::vector<int64_t>>> hf_tensor_shapes(const ModelConfig& c);

// The same tensors, in the same order, one at a time without building the list; stops (returns
// false) when `visit` does. Loaders check with this: a 680-byte GGUF declaring 1024 blocks of 65536
// experts implies 200 million tensors, and the list alone cost 2.5 GB before the first missing one
// was named.
using HfTensorVisitor = std::function<bool(const std::string& name, const std::vector<int64_t>& shape)>;
bool for_each_hf_tensor(const ModelConfig& c, const HfTensorVisitor& visit);

}  // namespace mlascope
