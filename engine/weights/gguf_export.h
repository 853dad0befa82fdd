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

// llama.cpp's mixed presets: `type` for most matrices, more bits where llama-quantize keeps them
// (src/llama-quant.cpp, llama_tensor_get_type, as it decides for deepseek2): output.weight in Q6_K,
// ffn_down (dense, shared and routed) and a whole attn_kv_b in Q6_K on the layers use_more_bits()
// picks (the first and last eighth and every third between). Pure: `type` everywhere.
enum class GgufMix : uint8_t { Pure, KM };

struct GgufExportOptions {
  DType type = DType::F16;              // F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K
  GgufMix mix = GgufMix::Pure;          // KM with type Q4_K: Q4_K_M; with Q5_K: Q5_K_M
  std::string name = "mlascope export";  // general.name
  const GgufTokenizer* tokenizer = nullptr;  // written as tokenizer.ggml.* when given
  // kv_b_proj whole (attn_kv_b: mlascope maps it without a copy; llama.cpp before its MLA rework)
  // and/or split (attn_k_b + attn_v_b: what current llama.cpp requires; it refuses a file that
  // also carries attn_kv_b, "wrong number of tensors"). Default: llama.cpp-loadable.
  bool whole_kv_b = false;
  bool split_kv_b = true;
  std::function<void(uint64_t, uint64_t)> progress;
};

// The stored type a tensor gets: F32 for vectors, the router and its bias; otherwise `type`, falling
// back as llama-quantize does when a row is not a whole number of `type` blocks (Q4_K → Q5_0,
// Q5_K → Q5_1, Q6_K → Q8_0, then F16).
DType gguf_export_type(const std::string& hf_name, const std::vector<int64_t>& shape, DType type);
// The same under a mixed preset, for the tensor written as `gguf_name` ("blk.3.ffn_down_exps.weight")
// with HF shape `shape`, in a model of n_layers layers; kv_b_whole: attn_kv_b is written (llama.cpp
// counts it among the attn_v-like tensors whose precision the preset raises).
DType gguf_export_type(const std::string& hf_name, const std::string& gguf_name, const std::vector<int64_t>& shape,
                       DType type, GgufMix mix, int n_layers);

void export_gguf(const WeightStore& store, const ModelConfig& config, const std::filesystem::path& out,
                 const GgufExportOptions& options);

// The same from a source that yields one tensor at a time (a generated model larger than memory:
// bench_make_random_gguf). `storage` lives until the tensor has been written; the view may point
// into it. Called while writing, in file order, possibly more than once per tensor.
using ExportTensorSource = std::function<TensorView(const std::string& hf_name, const std::vector<int64_t>& shape,
                                                    std::vector<uint8_t>& storage)>;
void export_gguf(const ExportTensorSource& source, const ModelConfig& config, const std::filesystem::path& out,
                 const GgufExportOptions& options);

// One line for a user comparing mlascope with llama.cpp on a DeepSeek-V2 model with group-limited
// routing (topk_method group_limited_greedy, n_group > 1): mlascope ranks expert groups by their
// best expert score, as the reference implementation does; llama.cpp ranks them by the sum of each
// group's top-2 scores for every DeepSeek file. mlascope keeps the reference behaviour; `convert`
// and loading such a GGUF print this. Empty for any other routing.
std::string llama_cpp_routing_notice(const ModelConfig& config);

// tokenizer.json (+ tokenizer_config.json beside it) → the GGUF tokenizer fields. Throws Error
// "[tokenizer] FILE: ..." on malformed input.
GgufTokenizer gguf_tokenizer_from_hf(const std::filesystem::path& model_dir, const ModelConfig& config);

}  // namespace mlascope
