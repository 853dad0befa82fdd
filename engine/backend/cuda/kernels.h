// engine/backend/cuda/kernels.h — host launchers for the CUDA kernels (kernels_*.cu). Every
// pointer here is a device pointer unless its name says host_. Activations are float32 (the
// golden tolerances are for a float32 engine); weights are float32 or bf16 (WType), accumulated
// in float32. Launchers check the launch and return; nothing synchronises.
// Internal to engine/backend/cuda/.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace mlascope::cuda {

enum class WType : uint8_t { F32, BF16 };
inline int wtype_bytes(WType t) { return t == WType::F32 ? 4 : 2; }

constexpr int kMaxRoutedExperts = 512;  // routing kernel keeps scores of one token in shared memory
constexpr int kMaxGroups = 64;          // kept_groups is a 64-bit mask
constexpr int kMaxRouteK = 16;          // experts per token (kMaxTopK of trace/step_record.h)
constexpr int kMaxSampleTop = 32;       // top-k entries the device sampler can return
constexpr int kDecodeHeadTile = 16;     // heads per block in the split-KV decode kernel
constexpr int kDecodeMinChunk = 16;     // keys per split, at least

// One SwiGLU FFN (a routed expert, the shared experts, or a dense layer), weights [ff, D] x2, [D, ff].
struct FfnEntry {
  const void* gate = nullptr;
  const void* up = nullptr;
  const void* down = nullptr;
  int ff = 0;
};

// ---- elementwise / normalisation ----
// y[r] = w * x[r] * rsqrt(mean(x[r]^2) + eps); rows of `dim`, strides in floats.
void rms_norm(const float* x, long long x_stride, const float* w, float* y, long long y_stride, int n_rows,
              int dim, float eps, cudaStream_t s);
// out[t] = float(table[tokens[t]]), [n, D].
void embed_rows(WType wt, const void* table, const int32_t* tokens, int n, int D, float* out, cudaStream_t s);
// y[i] += x[i]
void add_inplace(float* y, const float* x, long long n, cudaStream_t s);
void fill(float* y, float v, long long n, cudaStream_t s);
// *p += v (device-side position advance between graph replays)
void add_i32(int32_t* p, int v, cudaStream_t s);
void fill_random(WType wt, void* y, long long n, uint64_t seed, float scale, cudaStream_t s);
// out[i] = float(in[i]) for a weight matrix (the cuBLAS path of batched products).
void dequant_to_f32(WType wt, const void* in, float* out, long long n, cudaStream_t s);
void f32_to_bf16(const float* in, void* out, long long n, cudaStream_t s);

// ---- products ----
// Batched, multi-token matrix-vector product:
//   y[b*y_bs + t*y_ts + r] (+)= sum_c W[b*w_bs + r*ld + c] * x[b*x_bs + t*x_ts + c]
// for r < rows, b < batch, t < n_tok. accumulate: add to y instead of overwriting.
void gemv(WType wt, const void* W, int rows, int cols, long long ld, long long w_bs, const float* x, long long x_bs,
          long long x_ts, float* y, long long y_bs, long long y_ts, int batch, int n_tok, bool accumulate,
          cudaStream_t s);
// Decode FFN over device-chosen slots (routed experts + shared, or the dense FFN):
//   act[s][r] = silu(gate_e[r] . x) * (up_e[r] . x),  e = slot_expert[s]
// weights_vec_ok: every ff and D a multiple of 8 and every weight 16-byte aligned (checked at load).
void ffn_gate_up(WType wt, const FfnEntry* table, const int32_t* slot_expert, int n_slots, const float* x, int D,
                 float* act, int max_ff, bool weights_vec_ok, cudaStream_t s);
//   y[r] += sum_s slot_weight[s] * (down_e[r] . act[s])
void ffn_down(WType wt, const FfnEntry* table, const int32_t* slot_expert, const float* slot_weight, int n_slots,
              const float* act, int max_ff, int D, float* y, bool weights_vec_ok, cudaStream_t s);
// act[i] = silu(g[i]) * u[i]
void swiglu(const float* g, const float* u, float* act, long long n, cudaStream_t s);
// out[i] = x[rows[i]] ([m, D])
void gather_rows(const float* x, const int32_t* rows, int m, int D, float* out, cudaStream_t s);
// y[rows[i]] += w[i] * src[i]; rows null = identity; w null = 1. Rows must be distinct.
void scatter_add_rows(float* y, const int32_t* rows, const float* w, const float* src, int m, int D, cudaStream_t s);

// ---- MLA ----
struct MlaDims {
  int n_heads = 0, kv_lora_rank = 0, qk_nope = 0, qk_rope = 0, v_dim = 0;
  __host__ __device__ int latent_dim() const { return kv_lora_rank + qk_rope; }  // C: one latent cache row
  __host__ __device__ int q_head() const { return qk_nope + qk_rope; }
};
// For each of n tokens at position *d_start + t: latent row = [kv_a_layernorm(c_kv) | rope(k_pe)]
// written to lat (+ (*d_start + t) * C when at_position, else + t * C); q_pe of every head roped in
// place in q [n, H, nope+rope]. kv: [n, kv_lora + rope] (stride kv_stride).
void mla_prepare(const MlaDims& d, const float* kv, long long kv_stride, const float* kv_norm_w, float eps,
                 const float* inv_freq, float rope_mscale, const int32_t* d_start, int n, float* q, float* lat,
                 bool at_position, cudaStream_t s);
// qcat[t][h] = [W_uk[h]^T q_nope[t][h] | q_pe[t][h]]  ([n, H, C]); W_uk[h] = rows h*(nope+v) .. +nope of kv_b.
void mla_absorb_q(WType wt, const MlaDims& d, const void* kv_b, const float* q, int n, float* qcat, cudaStream_t s);
// ov[t][h*v + j] = W_uv[h][j] . olat[t][h]  (W_uv[h] = rows h*(nope+v)+nope .. +v of kv_b)
void mla_absorb_out(WType wt, const MlaDims& d, const void* kv_b, const float* olat, int n, float* ov,
                    cudaStream_t s);
// Decode (one query at position *d_start) over latent rows 0..*d_start, the key range split across
// n_splits blocks; partials [n_splits, H, kv_lora] (+ max, sum), then combined into olat [H, kv_lora].
int decode_chunk_cap(int max_context, int n_splits);
size_t decode_smem_bytes(const MlaDims& d, int chunk_cap);
// Once per backend, before any launch (and outside graph capture): opts in to the shared memory.
void configure_decode_attention(const MlaDims& d, int chunk_cap);
void mla_decode_attention(const MlaDims& d, const float* qcat, const float* latent, const int32_t* d_start,
                          float scale, int n_splits, int chunk_cap, float* part_o, float* part_m, float* part_l,
                          float* olat, cudaStream_t s);
// Prefill helper: rows r = t*H + h of S [n*H, ld] hold scaled scores against keys 0..n_keys-1;
// key j is visible to row r when j <= start + t. Softmax in place; invisible entries become 0.
void causal_softmax_rows(float* S, long long ld, int n, int H, int start, int n_keys, cudaStream_t s);
// Naive MLA: per-head caches k [ctx, H, nope+rope], v [ctx, H, v] of one layer.
void naive_store(const MlaDims& d, const float* kvb, const float* lat, const int32_t* d_start, int n, float* k_cache,
                 float* v_cache, cudaStream_t s);
// probs into S rows t*H+h (ld), parts (scaled) into nope/rope when not null; out ov [n, H*v].
void naive_attention(const MlaDims& d, const float* q, const float* k_cache, const float* v_cache,
                     const int32_t* d_start, int n, float scale, float* S, float* S_nope, float* S_rope, long long ld,
                     float* ov, cudaStream_t s);

// ---- MoE routing ----
struct RouteParams {
  int n_experts = 0, k = 0, n_group = 1, topk_group = 1;
  bool sigmoid = false, grouped = false, noaux = false, norm_topk_prob = false;
  float routed_scaling_factor = 1.0f;
};
// logits [n, E] -> scores, selection [n, E]; idx/weight [n, k]; kept [n]; margin [n] (+inf: nothing cut).
// slot_expert/slot_weight [n, k+1] when not null: the chosen experts then `shared_slot` (weight 1)
// when shared_slot >= 0.
void route(const RouteParams& p, const float* logits, const float* bias, int n, float* scores, float* selection,
           int32_t* idx, float* weight, uint64_t* kept, float* margin, int32_t* slot_expert, float* slot_weight,
           int shared_slot, cudaStream_t s);

// ---- sampling ----
// Top-k (k <= kMaxSampleTop) of logits [V], descending, ties to the lower id, and log(sum(exp(logits))).
// out_id[0] is the greedy token; when next_token is not null it is also written there (device-side
// feedback for graph decoding).
void top_k_logits(const float* logits, int V, int k, int32_t* out_id, float* out_logit, float* out_lse,
                  int32_t* next_token, cudaStream_t s);

}  // namespace mlascope::cuda
