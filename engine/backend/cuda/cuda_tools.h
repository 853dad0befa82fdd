// engine/backend/cuda/cuda_tools.h — extra entry points of the CUDA backend for the GPU benchmark
// and the GPU tests. Plain C++ (no CUDA types), so bench/ and tests/ can include it; in builds
// without CUDA, engine/backend/cuda_stub.cpp answers every call with an Error.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/config.h"

namespace mlascope {

// A model with `cfg`'s shapes and random BF16 weights generated on the device (no file, no host
// copy): the benchmark's DeepSeek-V2-Lite stand-in. Norm weights are 1, routing biases 0.
std::unique_ptr<Backend> make_cuda_backend_synthetic(const ModelConfig& cfg, const BackendOptions& opt,
                                                     uint64_t seed);

struct CudaBackendInfo {
  std::string device;
  double peak_bandwidth_gbs = 0.0;        // HBM peak from the device attributes
  uint64_t weight_bytes = 0;              // on the device
  uint64_t cache_bytes = 0;               // latent (or naive K/V) cache at max_context
  uint64_t workspace_bytes = 0;
  uint64_t decode_weight_bytes = 0;       // weights one decode step reads (top-k experts only)
  uint64_t cache_bytes_per_position = 0;  // cache bytes a decode step reads per cached position
  int prefill_chunk = 0;                  // tokens per batched forward chunk
  bool graphs = false;                    // decode steps replay a CUDA graph
};
// `b` must come from make_cuda_backend / make_cuda_backend_synthetic (Error otherwise).
CudaBackendInfo cuda_backend_info(const Backend& b);
// Feeds `first_token`, then n_steps - 1 tokens each chosen by a device argmax of the previous
// logits; only the ids cross to the host, at the end. Returns the n_steps chosen ids.
std::vector<int32_t> cuda_decode_greedy(Backend& b, int32_t first_token, int n_steps);

// Single kernels on host data, for the GPU tests (each call uploads, runs one kernel, downloads).
// Weights are given in float32; bf16 = true stores them as bf16 on the device first.
namespace cuda_check {
std::vector<float> rms_norm(const std::vector<float>& x, const std::vector<float>& w, int n_rows, float eps);
std::vector<float> gemv(const std::vector<float>& W, int rows, int cols, const std::vector<float>& x, bool bf16);
// x [n, cols] -> y [n, rows] through the batched (cuBLAS) path.
std::vector<float> matmul(const std::vector<float>& W, int rows, int cols, const std::vector<float>& x, int n,
                          bool bf16);
// Decode FFN over slots: y = sum_s w[s] * down_e(silu(gate_e x) * up_e x), e = slot[s];
// experts: [E] of (gate [ff, D], up [ff, D], down [D, ff]) in float32.
struct Ffn {
  std::vector<float> gate, up, down;
  int ff = 0;
};
std::vector<float> ffn_slots(const std::vector<Ffn>& experts, int D, const std::vector<int32_t>& slot,
                             const std::vector<float>& slot_weight, const std::vector<float>& x, bool bf16);
// RoPE and the latent row of MLA: returns [latent rows n x (R+P)] and q roped in place.
struct Prepared {
  std::vector<float> latent;  // [n, R+P]
  std::vector<float> q;       // [n, H, nope+rope]
};
Prepared mla_prepare(const std::vector<float>& kv, const std::vector<float>& kv_norm_w, int n, int start, int H,
                     int R, int nope, int rope, const std::vector<float>& q, const std::vector<float>& inv_freq,
                     float mscale, float eps);
struct Routed {
  std::vector<float> scores, selection, weight, margin;  // [n,E] [n,E] [n,k] [n]
  std::vector<int32_t> idx;                              // [n,k]
  std::vector<uint64_t> kept;                            // [n]
};
Routed route(const ModelConfig& cfg, const std::vector<float>& logits, const std::vector<float>& bias, int n);
struct TopK {
  std::vector<int32_t> id;
  std::vector<float> logit;
  float lse = 0.0f;
};
TopK top_k(const std::vector<float>& logits, int k);
}  // namespace cuda_check

}  // namespace mlascope
