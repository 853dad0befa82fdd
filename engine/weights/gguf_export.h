// engine/weights/gguf_export.h — a loaded model (WeightStore under HF names + ModelConfig) written
// as a deepseek2 GGUF in the layout llama.cpp's convert_hf_to_gguf.py produces: merged expert
// tensors, kv_b_proj split into attn_k_b / attn_v_b (with the *_mla metadata keys) and/or whole,
// norms and the router kept in F32. `mlascope convert` is a thin shell over this.
#pragma once
#include <filesystem>
#include <functional>
#include <string>

#include "../config.h"
#include "../tensor.h"
#include "gguf.h"
#include "weight_store.h"

namespace mlascope {

struct GgufExportOptions {
  DType type = DType::F16;              // F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K
  std::string name = "mlascope export";  // general.name
  const GgufTokenizer* tokenizer = nullptr;  // written as tokenizer.ggml.* when given
  // kv_b_proj whole (attn_kv_b: mlascope maps it without a copy; llama.cpp before its MLA rework)
  // and/or split (attn_k_b + attn_v_b: what current llama.cpp requires; it refuses a file that
  // also carries attn_kv_b, "wrong number of tensors"). Default: llama.cpp-loadable.
  bool whole_kv_b = false;
  bool split_kv_b = true;
  std::function<void(uint64_t, uint64_t)> progress;
};

// The stored type a tensor gets: F32 for vectors, the router and its bias; otherwise `type`,
// falling back to Q8_0 (then F16) when a row is not a whole number of `type` blocks.
DType gguf_export_type(const std::string& hf_name, const std::vector<int64_t>& shape, DType type);

void export_gguf(const WeightStore& store, const ModelConfig& config, const std::filesystem::path& out,
                 const GgufExportOptions& options);

// tokenizer.json (+ tokenizer_config.json beside it) → the GGUF tokenizer fields. Throws Error
// "[tokenizer] FILE: ..." on malformed input.
GgufTokenizer gguf_tokenizer_from_hf(const std::filesystem::path& model_dir, const ModelConfig& config);

}  // namespace mlascope
