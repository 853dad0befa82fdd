// engine/model/model.h — a loaded DeepSeek-V2/V3 model: config + weights bound per layer by role.
// Every tensor is checked for presence, dtype and shape against the config when the model binds,
// so the forward pass can trust these views. Weights stay mmapped in their stored dtype.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../config.h"
#include "../host_memory.h"
#include "../weights/weight_store.h"

namespace mlascope {

struct TokenizerParts;  // engine/tokenizer/tokenizer.h (GGUF files carry their tokenizer)

// One SwiGLU FFN: down_proj(silu(gate_proj(x)) * up_proj(x)); shapes [ff, D], [ff, D], [D, ff].
struct FfnWeights {
  const TensorView* gate_proj = nullptr;
  const TensorView* up_proj = nullptr;
  const TensorView* down_proj = nullptr;
};

struct LayerWeights {
  const TensorView* input_layernorm = nullptr;           // [D]
  const TensorView* post_attention_layernorm = nullptr;  // [D]
  // MLA
  const TensorView* q_proj = nullptr;        // [H*(nope+rope), D]   when q_lora_rank is null
  const TensorView* q_a_proj = nullptr;      // [q_lora_rank, D]
  const TensorView* q_a_layernorm = nullptr; // [q_lora_rank]
  const TensorView* q_b_proj = nullptr;      // [H*(nope+rope), q_lora_rank]
  const TensorView* kv_a_proj_with_mqa = nullptr;  // [kv_lora_rank + rope, D]
  const TensorView* kv_a_layernorm = nullptr;      // [kv_lora_rank]
  const TensorView* kv_b_proj = nullptr;           // [H*(nope+v), kv_lora_rank]
  // llama.cpp's split halves of kv_b_proj as a GGUF stores them in a block type (else null):
  // k_b [H*kv_lora_rank, nope] (W_UK per head, transposed) and v_b [H*v, kv_lora_rank]. Absorbed
  // attention reads these instead of kv_b_proj, which is then an F32 copy kept for naive MLA.
  const TensorView* k_b_proj = nullptr;
  const TensorView* v_b_proj = nullptr;
  const TensorView* o_proj = nullptr;              // [D, H*v]
  // FFN: dense layers use `dense`; MoE layers use gate/bias/experts/shared
  bool is_moe = false;
  FfnWeights dense;
  const TensorView* gate = nullptr;                     // router [E, D]
  const TensorView* e_score_correction_bias = nullptr;  // [E] (noaux_tc), else null
  std::vector<FfnWeights> experts;                      // [E]
  std::optional<FfnWeights> shared_experts;             // intermediate moe_intermediate_size * n_shared
};

// Memory a model needs at a context length, estimated before anything big is allocated. Mapped
// weights count: their pages compete for the same RAM as the cache once they are read.
struct MemoryEstimate {
  int context = 0;
  uint64_t weight_bytes = 0;          // bound tensors as stored (FP8 scales included)
  int kv_bytes_per_value = 4;         // the cache's element size (4 f32, 2 bf16/f16)
  uint64_t kv_cache_bytes = 0;        // latent cache (absorbed MLA), all layers, `context` tokens
  uint64_t kv_cache_naive_bytes = 0;  // per-head K/V (naive MLA), same element size, for comparison
  uint64_t total_bytes = 0;           // weights + latent cache
  uint64_t available_bytes = 0;       // /proc/meminfo MemAvailable when estimated; 0 = unknown
};
MemoryEstimate estimate_memory(const ModelConfig& c, uint64_t weight_bytes, int context, int kv_bytes_per_value = 4);
// Throws "[model] NAME: needs X but only Y is available ..." when total > available (> 0).
void check_memory(const MemoryEstimate& m, const std::string& model_name);

struct ModelLoadOptions {
  int max_context = 0;      // for the memory estimate (0 = min(max_position_embeddings, 4096))
  int kv_bytes_per_value = 4;  // the KV cache's element size for the estimate (kv_dtype_bytes(BackendOptions::kv_dtype))
  bool check_memory = true; // refuse when weights + KV cache exceed available RAM
  // False when a device backend (CUDA) will hold the weights: the host then keeps the files mapped
  // (evictable) instead of resident in huge pages, which only CPU decode benefits from.
  bool host_compute = true;
  LoadProgress progress;
};

class Model {
 public:
  // `path`: an HF folder (config.json + safetensors) or a .gguf file. Throws Error naming the file
  // and the tensor/field on anything wrong.
  static std::shared_ptr<Model> load(const std::filesystem::path& path, const ModelLoadOptions& opt = {});
  // Binds already-loaded weights (tests build synthetic stores this way).
  static std::shared_ptr<Model> bind(ModelConfig config, WeightStore weights, std::string source_name);

  const ModelConfig& config() const { return config_; }
  const WeightStore& weights() const { return weights_; }
  const std::filesystem::path& path() const { return path_; }
  const std::string& name() const { return name_; }           // folder or file name
  const std::string& config_json() const { return config_json_; }

  const TensorView& embed_tokens() const { return *embed_tokens_; }  // [V, D]
  const TensorView& norm() const { return *norm_; }                  // [D]
  const TensorView& lm_head() const { return *lm_head_; }            // [V, D] (embed_tokens when tied)
  const LayerWeights& layer(int l) const { return layers_[static_cast<size_t>(l)]; }
  int n_layers() const { return static_cast<int>(layers_.size()); }

  uint64_t n_params() const;             // all parameters
  uint64_t n_active_params() const;      // per token: dense parts + top-k routed + shared experts
  uint64_t weight_bytes() const;         // as stored
  uint64_t weight_bytes_per_token() const;  // bytes of weights one decode step reads (active experts only)
  // Tokenizer shipped inside the model file (GGUF), if any.
  const TokenizerParts* embedded_tokenizer() const { return embedded_tokenizer_.get(); }
  // Filled by load() (bind() leaves the context at 0 and available_bytes unknown).
  const MemoryEstimate& memory_estimate() const { return memory_; }

 private:
  ModelConfig config_;
  WeightStore weights_;
  std::filesystem::path path_;
  std::string name_;
  std::string config_json_;
  const TensorView* embed_tokens_ = nullptr;
  const TensorView* norm_ = nullptr;
  const TensorView* lm_head_ = nullptr;
  std::vector<LayerWeights> layers_;
  std::shared_ptr<TokenizerParts> embedded_tokenizer_;
  MemoryEstimate memory_;
  friend struct ModelBinder;
};

}  // namespace mlascope
