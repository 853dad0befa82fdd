// bench/bench_make_random_gguf.cpp — writes a random DeepSeek-V2-shaped model of about 0.5 B
// parameters as GGUF through the exporter, for speed figures on a model larger than the caches
// (`mlascope bench --model OUT.gguf`, and llama.cpp on the same file).
// usage: bench_make_random_gguf OUT.gguf [f32|f16|q8_0|q4_k]
#include <cstdio>
#include <cmath>
#include <cstring>
#include <random>
#include <string>

#include "engine/config.h"
#include "engine/tensor_names.h"
#include "engine/weights/gguf_export.h"
#include "engine/weights/quant.h"

using namespace mlascope;

int main(int argc, char** argv) {
  const std::string type = argc > 2 ? argv[2] : "q8_0";
  if (argc < 2 || argv[1][0] == '-' ||
      (type != "f32" && type != "f16" && type != "q8_0" && type != "q4_k")) {
    std::fprintf(stderr, "usage: %s OUT.gguf [f32|f16|q8_0|q4_k]\n", argv[0]);
    return 2;
  }
  // V2 proportions scaled down: 12 layers (1 dense), q_lora_rank set (llama.cpp only accepts a null
  // q_lora_rank for 26/27-layer V2-Lite), 24 routed experts top-4 + 2 shared.
  const ModelConfig c = ModelConfig::from_json_text(R"({
    "architectures": ["DeepseekV2ForCausalLM"], "model_type": "deepseek_v2",
    "vocab_size": 32000, "hidden_size": 1024, "intermediate_size": 2816, "moe_intermediate_size": 512,
    "num_hidden_layers": 12, "num_attention_heads": 8, "kv_lora_rank": 256, "q_lora_rank": 384,
    "qk_nope_head_dim": 64, "qk_rope_head_dim": 32, "v_head_dim": 64, "n_routed_experts": 24,
    "n_shared_experts": 2, "num_experts_per_tok": 4, "topk_method": "greedy", "scoring_func": "softmax",
    "first_k_dense_replace": 1, "max_position_embeddings": 4096, "bos_token_id": 0, "eos_token_id": 1})",
                                                    "random-0.5b");
  WeightStore store;
  std::mt19937 rng(2024);
  uint64_t params = 0;
  for (const auto& [name, shape] : hf_tensor_shapes(c)) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    params += static_cast<uint64_t>(n);
    // Norm weights 1, matrices ~ N(0, 1/fan_in) so activations stay O(1) through the layers.
    const bool norm = shape.size() == 1;
    std::normal_distribution<float> g(0.0f, norm ? 0.0f : 1.0f / std::sqrt(static_cast<float>(shape.back())));
    std::vector<uint8_t> bytes(static_cast<size_t>(n) * 2);
    auto* h = reinterpret_cast<uint16_t*>(bytes.data());
    for (int64_t i = 0; i < n; ++i) h[i] = f32_to_bf16(norm ? 1.0f : g(rng));  // BF16 as HF checkpoints
    TensorView t;
    t.name = name;
    t.dtype = DType::BF16;
    t.shape = shape;
    t.nbytes = bytes.size();
    t.data = store.keep(std::move(bytes));
    store.add(std::move(t), -1);
  }
  GgufExportOptions o;
  o.type = type == "f32" ? DType::F32 : type == "f16" ? DType::F16 : type == "q4_k" ? DType::Q4_K : DType::Q8_0;
  o.name = "random-0.5b";
  GgufTokenizer tok;  // a placeholder vocabulary so llama.cpp front ends can load the file
  tok.model = "gpt2";
  tok.pre = "deepseek-llm";
  for (int i = 0; i < c.vocab_size; ++i) {
    tok.tokens.push_back("<t" + std::to_string(i) + ">");
    tok.token_types.push_back(i < 2 ? 3 : 1);
  }
  tok.bos_id = 0;
  tok.eos_id = 1;
  o.tokenizer = &tok;
  export_gguf(store, c, argv[1], o);
  std::printf("wrote %s: %.3f B parameters, %s\n", argv[1], static_cast<double>(params) / 1e9, type.c_str());
  return 0;
}
