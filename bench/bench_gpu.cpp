// bench/bench_gpu.cpp — CUDA backend figures on a DeepSeek-V2-Lite-shaped model with random bf16
// weights generated on the device (no file): decode tokens/s at batch 1 (context 512 and 8k, device
// greedy and host logits, routing trace on), prefill tokens/s for 2,048 tokens, bytes read per
// decode step and the bandwidth that implies against the GPU's peak. Medians of a few runs; prints
// figures, asserts nothing. Without a GPU it says why and exits 0.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/backend/cuda/cuda_tools.h"
#include "engine/config.h"
#include "engine/error.h"

using namespace mlascope;

namespace {

ModelConfig v2_lite() {
  ModelConfig c;
  c.architecture = "DeepseekV2ForCausalLM";
  c.model_type = "deepseek_v2";
  c.vocab_size = 102400;
  c.hidden_size = 2048;
  c.intermediate_size = 10944;
  c.moe_intermediate_size = 1408;
  c.num_hidden_layers = 27;
  c.num_attention_heads = 16;
  c.num_key_value_heads = 16;
  c.q_lora_rank = 0;
  c.kv_lora_rank = 512;
  c.qk_nope_head_dim = 128;
  c.qk_rope_head_dim = 64;
  c.v_head_dim = 128;
  c.n_routed_experts = 64;
  c.n_shared_experts = 2;
  c.num_experts_per_tok = 6;
  c.topk_method = TopkMethod::Greedy;
  c.scoring_func = ScoringFunc::Softmax;
  c.routed_scaling_factor = 1.0;
  c.first_k_dense_replace = 1;
  c.moe_layer_freq = 1;
  c.rms_norm_eps = 1e-6;
  c.rope_theta = 10000.0;
  c.rope_scaling.yarn = true;
  c.rope_scaling.factor = 40.0;
  c.rope_scaling.original_max_position_embeddings = 4096;
  c.rope_scaling.mscale = 0.707;
  c.rope_scaling.mscale_all_dim = 0.707;
  c.max_position_embeddings = 163840;
  return c;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct RouteOnly : TraceSink {
  uint64_t n = 0;
  RouteOnly() { points = uint32_t(TracePoint::Route); }
  void on_route(const RouteRecord& r) override { n += static_cast<uint64_t>(r.k); }
};

std::vector<int32_t> random_ids(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int32_t& t : ids) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab));
  return ids;
}

void fill_context(Backend& b, int n, int vocab) {
  b.truncate(0);
  const std::vector<int32_t> ids = random_ids(n, vocab, 11);
  std::vector<float> logits;
  ForwardRequest r;
  r.tokens = ids;
  if (b.forward(r, logits) != StepStatus::Ok) fail("bench", "prefill", "context full");
}

// tokens/s of `steps` single-token forwards through Backend::forward (logits to the host).
double host_decode(Backend& b, int ctx, int steps, int vocab, TraceSink* tr) {
  std::vector<double> runs;
  std::vector<float> logits;
  for (int rep = 0; rep < 3; ++rep) {
    b.truncate(ctx);
    int32_t tok = 1;
    const double t0 = now_s();
    for (int i = 0; i < steps; ++i) {
      ForwardRequest r;
      const std::vector<int32_t> one{tok};
      r.tokens = one;
      r.start_pos = b.n_cached();
      r.trace = tr;
      b.forward(r, logits);
      tok = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin()) % vocab;
    }
    runs.push_back(steps / (now_s() - t0));
  }
  return median(runs);
}

double device_decode(Backend& b, int ctx, int steps) {
  std::vector<double> runs;
  for (int rep = 0; rep < 3; ++rep) {
    b.truncate(ctx);
    const double t0 = now_s();
    cuda_decode_greedy(b, 1, steps);
    runs.push_back(steps / (now_s() - t0));
  }
  return median(runs);
}

}  // namespace

int main() {
  std::string why;
  if (!cuda_device_available(&why)) {
    std::printf("bench_gpu: skipped (%s)\n", why.c_str());
    return 0;
  }
  try {
    const ModelConfig cfg = v2_lite();
    BackendOptions opt;
    opt.device = DeviceKind::Cuda;
    opt.mla = MlaMode::Absorbed;
    opt.max_context = 8192 + 256;
    double t0 = now_s();
    auto b = make_cuda_backend_synthetic(cfg, opt, 42);
    const CudaBackendInfo info = cuda_backend_info(*b);
    std::printf("device            %s (peak %.0f GB/s)\n", info.device.c_str(), info.peak_bandwidth_gbs);
    std::printf("model             DeepSeek-V2-Lite shapes, random bf16, made in %.1f s\n", now_s() - t0);
    std::printf("memory            weights %.2f GiB, latent cache %.2f GiB (%d positions), workspace %.2f GiB\n",
                info.weight_bytes / 1073741824.0, info.cache_bytes / 1073741824.0, b->max_context(),
                info.workspace_bytes / 1073741824.0);
    std::printf("decode graph      %s, prefill chunk %d tokens\n", info.graphs ? "on" : "off", info.prefill_chunk);

    // Prefill: 2,048 tokens from an empty cache, logits of the last only.
    const std::vector<int32_t> ids = random_ids(2048, cfg.vocab_size, 5);
    std::vector<double> pre;
    for (int rep = 0; rep < 3; ++rep) {
      b->truncate(0);
      std::vector<float> logits;
      ForwardRequest r;
      r.tokens = ids;
      t0 = now_s();
      b->forward(r, logits);
      pre.push_back(2048.0 / (now_s() - t0));
    }
    std::printf("prefill 2048      %.0f tok/s (median of 3)\n", median(pre));

    const int steps = 128;
    for (int ctx : {512, 8192}) {
      fill_context(*b, ctx, cfg.vocab_size);
      const double dev = device_decode(*b, ctx, steps);
      const double host = host_decode(*b, ctx, steps, cfg.vocab_size, nullptr);
      RouteOnly sink;
      const double traced = host_decode(*b, ctx, steps, cfg.vocab_size, &sink);
      const double bytes = static_cast<double>(info.decode_weight_bytes) +
                           static_cast<double>(ctx) * static_cast<double>(info.cache_bytes_per_position);
      const double bw = bytes * dev / 1e9;
      std::printf("decode ctx %-5d   device greedy %.0f tok/s | host logits %.0f tok/s | + routing trace %.0f tok/s "
                  "(%.1f%% cost)\n",
                  ctx, dev, host, traced, 100.0 * (host - traced) / host);
      std::printf("                  %.2f GB read per step (weights %.2f + latent cache %.3f) -> %.0f GB/s = %.0f%% of "
                  "peak; roofline %.0f tok/s\n",
                  bytes / 1e9, info.decode_weight_bytes / 1e9, ctx * static_cast<double>(info.cache_bytes_per_position) / 1e9,
                  bw, info.peak_bandwidth_gbs > 0 ? 100.0 * bw / info.peak_bandwidth_gbs : 0.0,
                  info.peak_bandwidth_gbs > 0 ? info.peak_bandwidth_gbs * 1e9 / bytes : 0.0);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_gpu: %s\n", e.what());
    return 1;
  }
  return 0;
}
