// bench/bench_make_random_gguf.cpp — writes a random DeepSeek-V2-shaped model as GGUF through the
// exporter, for speed figures on a model larger than the caches (`mlascope bench --model OUT.gguf`,
// and llama.cpp on the same file, bench/compare_llamacpp.sh).
//   small    (default) ~0.5 B parameters: 12 layers (1 dense), 24 routed experts top-4 + 2 shared
//   v2-lite  DeepSeek-V2-Lite's shape, ~15.7 B parameters: 27 layers (first dense, 10944 wide),
//            hidden 2048, 16 heads, kv_lora_rank 512, no q_lora, 64 routed experts top-6 + 2 shared
//            (moe_intermediate 1408), vocab 102400. At f16 the file is ~31 GB: tensors are generated
//            one at a time while writing, so memory stays at one merged expert tensor.
// Quantize the f16 file with llama.cpp's own quantizer for the mixed presets:
//   llama-quantize v2lite-f16.gguf v2lite-q4_k_m.gguf Q4_K_M
// or with mlascope's own choices of llama.cpp's presets (q4_k_m; tensor by tensor as llama-quantize picks):
//   bench_make_random_gguf v2lite-q4_k_m.gguf q4_k_m v2-lite
// LAYERS keeps the widths and cuts the depth (a quick profile of the same kernels: v2-lite 4).
// usage: bench_make_random_gguf OUT.gguf [f32|f16|q8_0|q4_k|q4_k_m] [small|v2-lite] [LAYERS]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

#include "engine/config.h"
#include "engine/tensor_names.h"
#include "engine/weights/gguf_export.h"
#include "engine/weights/quant.h"

using namespace mlascope;

namespace {

// splitmix64: a fast, seedable stream; each tensor's values depend only on its name, so the file is
// the same whatever order the exporter asks for tensors in.
struct SplitMix {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
};

// Approximately N(0, sigma): the sum of four uniform 16-bit draws (Irwin-Hall), centred and scaled.
void fill_normal(const std::string& name, float sigma, float* out, int64_t n) {
  SplitMix rng{std::hash<std::string>{}(name)};
  // four U(0,1) sum to mean 2, variance 4/12
  const float scale = sigma / 65536.0f / std::sqrt(4.0f / 12.0f);
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t r = rng.next();
    const float s = static_cast<float>((r & 0xffff) + ((r >> 16) & 0xffff) + ((r >> 32) & 0xffff) + (r >> 48));
    out[i] = (s - 2.0f * 65536.0f) * scale;
  }
}

const char* kSmall = R"({
    "architectures": ["DeepseekV2ForCausalLM"], "model_type": "deepseek_v2",
    "vocab_size": 32000, "hidden_size": 1024, "intermediate_size": 2816, "moe_intermediate_size": 512,
    "num_hidden_layers": 12, "num_attention_heads": 8, "kv_lora_rank": 256, "q_lora_rank": 384,
    "qk_nope_head_dim": 64, "qk_rope_head_dim": 32, "v_head_dim": 64, "n_routed_experts": 24,
    "n_shared_experts": 2, "num_experts_per_tok": 4, "topk_method": "greedy", "scoring_func": "softmax",
    "first_k_dense_replace": 1, "max_position_embeddings": 4096, "bos_token_id": 0, "eos_token_id": 1})";

// DeepSeek-V2-Lite's config.json (greedy top-6 routing, as the released model).
const char* kV2Lite = R"({
    "architectures": ["DeepseekV2ForCausalLM"], "model_type": "deepseek_v2",
    "vocab_size": 102400, "hidden_size": 2048, "intermediate_size": 10944, "moe_intermediate_size": 1408,
    "num_hidden_layers": 27, "num_attention_heads": 16, "num_key_value_heads": 16, "kv_lora_rank": 512,
    "q_lora_rank": null, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128,
    "n_routed_experts": 64, "n_shared_experts": 2, "num_experts_per_tok": 6, "topk_method": "greedy",
    "n_group": 1, "topk_group": 1, "scoring_func": "softmax", "norm_topk_prob": false,
    "routed_scaling_factor": 1.0, "first_k_dense_replace": 1, "moe_layer_freq": 1,
    "max_position_embeddings": 163840, "rms_norm_eps": 1e-6, "rope_theta": 10000,
    "bos_token_id": 100000, "eos_token_id": 100001})";

}  // namespace

int main(int argc, char** argv) {
  const std::string type = argc > 2 ? argv[2] : "q8_0";
  const std::string shape = argc > 3 ? argv[3] : "small";
  const int layers = argc > 4 ? std::atoi(argv[4]) : 0;
  if (argc < 2 || argv[1][0] == '-' ||
      (type != "f32" && type != "f16" && type != "q8_0" && type != "q4_k" && type != "q4_k_m") ||
      (shape != "small" && shape != "v2-lite") || (argc > 4 && (layers < 2 || layers > 256))) {
    std::fprintf(stderr, "usage: %s OUT.gguf [f32|f16|q8_0|q4_k|q4_k_m] [small|v2-lite] [LAYERS 2..256]\n", argv[0]);
    return 2;
  }
  const bool lite = shape == "v2-lite";
  const std::string name = lite ? "random-v2-lite" : "random-0.5b";
  ModelConfig c = ModelConfig::from_json_text(lite ? kV2Lite : kSmall, name);
  if (layers > 0) c.num_hidden_layers = layers;
  uint64_t params = 0;
  for (const auto& [n, s] : hf_tensor_shapes(c)) {
    uint64_t k = 1;
    for (int64_t d : s) k *= static_cast<uint64_t>(d);
    params += k;
  }
  // Norm weights 1, matrices ~ N(0, 1/fan_in) so activations stay O(1) through the layers.
  ExportTensorSource source = [](const std::string& n, const std::vector<int64_t>& s, std::vector<uint8_t>& storage) {
    int64_t count = 1;
    for (int64_t d : s) count *= d;
    storage.resize(static_cast<size_t>(count) * sizeof(float));
    auto* f = reinterpret_cast<float*>(storage.data());
    if (s.size() == 1)
      for (int64_t i = 0; i < count; ++i) f[i] = 1.0f;
    else
      fill_normal(n, 1.0f / std::sqrt(static_cast<float>(s.back())), f, count);
    TensorView t;
    t.name = n;
    t.dtype = DType::F32;
    t.shape = s;
    t.nbytes = storage.size();
    t.data = storage.data();
    return t;
  };
  GgufExportOptions o;
  o.type = type == "f32"                        ? DType::F32
           : type == "f16"                      ? DType::F16
           : type == "q4_k" || type == "q4_k_m" ? DType::Q4_K
                                                : DType::Q8_0;
  if (type == "q4_k_m") o.mix = GgufMix::KM;
  o.name = name;
  GgufTokenizer tok;  // a placeholder vocabulary so llama.cpp front ends can load the file
  tok.model = "gpt2";
  tok.pre = "deepseek-llm";
  for (int i = 0; i < c.vocab_size; ++i) {
    tok.tokens.push_back("<t" + std::to_string(i) + ">");
    tok.token_types.push_back(i == c.bos_token_id || i == c.eos_token_id ? 3 : 1);
  }
  tok.bos_id = c.bos_token_id;
  tok.eos_id = c.eos_token_id;
  o.tokenizer = &tok;
  int last = -1;
  o.progress = [&last](uint64_t done, uint64_t total) {
    const int pct = total ? static_cast<int>(100 * done / total) : 100;
    if (pct / 5 != last / 5) std::fprintf(stderr, "\r%3d %%", pct), last = pct;
  };
  export_gguf(source, c, argv[1], o);
  std::fprintf(stderr, "\n");
  std::printf("wrote %s: %.3f B parameters, %s\n", argv[1], static_cast<double>(params) / 1e9, type.c_str());
  return 0;
}
