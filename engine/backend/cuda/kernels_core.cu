// engine/backend/cuda/kernels_core.cu — RMSNorm, embedding, matrix-vector products (plain,
// batched per head, MoE slots with SwiGLU fused), elementwise helpers, weight conversion.
// Decode at batch 1 is bound by reading weights: one warp per output row, 16-byte loads,
// float32 accumulation.
#include "device_util.cuh"

namespace mlascope::cuda {

namespace {

constexpr int kRowsPerBlock = 8;  // one warp per row, 8 warps per block

__global__ void rms_norm_kernel(const float* x, long long x_stride, const float* w, float* y, long long y_stride,
                                int dim, float eps) {
  __shared__ float scratch[33];
  const float* xr = x + blockIdx.x * x_stride;
  float* yr = y + blockIdx.x * y_stride;
  float ss = 0.0f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) ss += xr[i] * xr[i];
  ss = block_sum(ss, scratch);
  const float inv = rsqrtf(ss / static_cast<float>(dim) + eps);
  for (int i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = w[i] * (xr[i] * inv);
}

template <typename T>
__global__ void embed_kernel(const T* table, const int32_t* tokens, int D, float* out) {
  const T* row = table + static_cast<long long>(tokens[blockIdx.x]) * D;
  float* o = out + static_cast<long long>(blockIdx.x) * D;
  for (int i = threadIdx.x; i < D; i += blockDim.x) o[i] = to_f(row[i]);
}

__global__ void add_kernel(float* y, const float* x, long long n) {
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
    y[i] += x[i];
}

__global__ void fill_kernel(float* y, float v, long long n) {
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
    y[i] = v;
}

__global__ void add_i32_kernel(int32_t* p, int v) { *p += v; }

__device__ __forceinline__ uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

template <typename T>
__global__ void fill_random_kernel(T* y, long long n, uint64_t seed, float scale) {
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x) {
    const uint64_t r = splitmix64(seed ^ (static_cast<uint64_t>(i) * 0x2545f4914f6cdd1dull));
    const float u = static_cast<float>(r >> 40) * (1.0f / 16777216.0f);  // [0, 1)
    y[i] = static_cast<T>((2.0f * u - 1.0f) * scale);
  }
}

template <typename T>
__global__ void dequant_kernel(const T* in, float* out, long long n) {
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
    out[i] = to_f(in[i]);
}

__global__ void f32_to_bf16_kernel(const float* in, __nv_bfloat16* out, long long n) {
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
    out[i] = __float2bfloat16_rn(in[i]);
}

// Dot product of one weight row with x, by one warp; the result is valid in every lane.
template <typename T>
__device__ __forceinline__ float warp_dot(const T* w, const float* x, int cols, bool vec) {
  float acc = 0.0f;
  const int lane = threadIdx.x & 31;
  if (vec) {
    constexpr int kN = Vec16<T>::n;
#pragma unroll 4
    for (int c = lane * kN; c < cols; c += 32 * kN) {
      float wf[kN], xf[kN];
      Vec16<T>::load(w + c, wf);
      load_x(x + c, xf, kN);
#pragma unroll
      for (int i = 0; i < kN; ++i) acc = fmaf(wf[i], xf[i], acc);
    }
  } else {
    for (int c = lane; c < cols; c += 32) acc = fmaf(to_f(w[c]), x[c], acc);
  }
  return warp_sum(acc);
}

template <typename T>
__global__ void gemv_kernel(const T* W, int rows, int cols, long long ld, long long w_bs, const float* x,
                            long long x_bs, long long x_ts, float* y, long long y_bs, long long y_ts, bool accumulate,
                            bool vec) {
  const int r = blockIdx.x * kRowsPerBlock + (threadIdx.x >> 5);
  if (r >= rows) return;
  const int b = blockIdx.y, t = blockIdx.z;
  const float v = warp_dot(W + b * w_bs + r * ld, x + b * x_bs + t * x_ts, cols, vec);
  if ((threadIdx.x & 31) == 0) {
    float* out = y + b * y_bs + t * y_ts + r;
    *out = accumulate ? *out + v : v;
  }
}

__device__ __forceinline__ float silu(float g) { return g / (1.0f + expf(-g)); }

template <typename T>
__global__ void ffn_gate_up_kernel(const FfnEntry* table, const int32_t* slot_expert, const float* x, int D,
                                   float* act, int max_ff, bool vec) {
  const int s = blockIdx.y;
  const FfnEntry e = table[slot_expert[s]];
  const int r = blockIdx.x * kRowsPerBlock + (threadIdx.x >> 5);
  if (r >= e.ff) return;
  const float g = warp_dot(static_cast<const T*>(e.gate) + static_cast<long long>(r) * D, x, D, vec);
  const float u = warp_dot(static_cast<const T*>(e.up) + static_cast<long long>(r) * D, x, D, vec);
  if ((threadIdx.x & 31) == 0) act[static_cast<long long>(s) * max_ff + r] = silu(g) * u;
}

template <typename T>
__global__ void ffn_down_kernel(const FfnEntry* table, const int32_t* slot_expert, const float* slot_weight,
                                int n_slots, const float* act, int max_ff, int D, float* y, bool vec) {
  const int r = blockIdx.x * kRowsPerBlock + (threadIdx.x >> 5);
  if (r >= D) return;
  float acc = 0.0f;
  for (int s = 0; s < n_slots; ++s) {
    const FfnEntry e = table[slot_expert[s]];
    const float v = warp_dot(static_cast<const T*>(e.down) + static_cast<long long>(r) * e.ff,
                             act + static_cast<long long>(s) * max_ff, e.ff, vec);
    acc = fmaf(slot_weight[s], v, acc);
  }
  if ((threadIdx.x & 31) == 0) y[r] += acc;
}

__global__ void swiglu_kernel(const float* g, const float* u, float* act, long long n) {
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
    act[i] = silu(g[i]) * u[i];
}

__global__ void gather_rows_kernel(const float* x, const int32_t* rows, int D, float* out) {
  const float* src = x + static_cast<long long>(rows[blockIdx.x]) * D;
  float* dst = out + static_cast<long long>(blockIdx.x) * D;
  for (int i = threadIdx.x; i < D; i += blockDim.x) dst[i] = src[i];
}

__global__ void scatter_add_rows_kernel(float* y, const int32_t* rows, const float* w, const float* src, int D) {
  const int i = blockIdx.x;
  float* dst = y + static_cast<long long>(rows ? rows[i] : i) * D;
  const float* s = src + static_cast<long long>(i) * D;
  const float wi = w ? w[i] : 1.0f;
  for (int c = threadIdx.x; c < D; c += blockDim.x) dst[c] = fmaf(wi, s[c], dst[c]);
}

}  // namespace

void rms_norm(const float* x, long long x_stride, const float* w, float* y, long long y_stride, int n_rows, int dim,
              float eps, cudaStream_t s) {
  if (n_rows <= 0) return;
  rms_norm_kernel<<<n_rows, 256, 0, s>>>(x, x_stride, w, y, y_stride, dim, eps);
  check_launch("rms_norm_kernel");
}

void embed_rows(WType wt, const void* table, const int32_t* tokens, int n, int D, float* out, cudaStream_t s) {
  if (n <= 0) return;
  if (wt == WType::F32)
    embed_kernel<<<n, 256, 0, s>>>(static_cast<const float*>(table), tokens, D, out);
  else
    embed_kernel<<<n, 256, 0, s>>>(static_cast<const __nv_bfloat16*>(table), tokens, D, out);
  check_launch("embed_kernel");
}

void add_inplace(float* y, const float* x, long long n, cudaStream_t s) {
  if (n <= 0) return;
  add_kernel<<<grid_1d(n, 256), 256, 0, s>>>(y, x, n);
  check_launch("add_kernel");
}

void fill(float* y, float v, long long n, cudaStream_t s) {
  if (n <= 0) return;
  fill_kernel<<<grid_1d(n, 256), 256, 0, s>>>(y, v, n);
  check_launch("fill_kernel");
}

void add_i32(int32_t* p, int v, cudaStream_t s) {
  add_i32_kernel<<<1, 1, 0, s>>>(p, v);
  check_launch("add_i32_kernel");
}

void fill_random(WType wt, void* y, long long n, uint64_t seed, float scale, cudaStream_t s) {
  if (n <= 0) return;
  if (wt == WType::F32)
    fill_random_kernel<<<grid_1d(n, 256), 256, 0, s>>>(static_cast<float*>(y), n, seed, scale);
  else
    fill_random_kernel<<<grid_1d(n, 256), 256, 0, s>>>(static_cast<__nv_bfloat16*>(y), n, seed, scale);
  check_launch("fill_random_kernel");
}

void dequant_to_f32(WType wt, const void* in, float* out, long long n, cudaStream_t s) {
  if (n <= 0) return;
  if (wt == WType::F32) {
    MLASCOPE_CUDA_CHECK(cudaMemcpyAsync(out, in, static_cast<size_t>(n) * 4, cudaMemcpyDeviceToDevice, s));
    return;
  }
  dequant_kernel<<<grid_1d(n, 256), 256, 0, s>>>(static_cast<const __nv_bfloat16*>(in), out, n);
  check_launch("dequant_kernel");
}

void f32_to_bf16(const float* in, void* out, long long n, cudaStream_t s) {
  if (n <= 0) return;
  f32_to_bf16_kernel<<<grid_1d(n, 256), 256, 0, s>>>(in, static_cast<__nv_bfloat16*>(out), n);
  check_launch("f32_to_bf16_kernel");
}

void gemv(WType wt, const void* W, int rows, int cols, long long ld, long long w_bs, const float* x, long long x_bs,
          long long x_ts, float* y, long long y_bs, long long y_ts, int batch, int n_tok, bool accumulate,
          cudaStream_t s) {
  if (rows <= 0 || batch <= 0 || n_tok <= 0) return;
  if (batch > 65535 || n_tok > 65535) fail("cuda", "gemv", "batch or token count above the grid limit");
  // 16-byte loads need every row start and every x start aligned: check base, strides and ld.
  const int kN = wt == WType::F32 ? 4 : 8;
  const bool vec = cols % kN == 0 && ld % kN == 0 && w_bs % kN == 0 && x_bs % 4 == 0 && x_ts % 4 == 0 &&
                   aligned16(W) && aligned16(x);
  const dim3 grid((rows + kRowsPerBlock - 1) / kRowsPerBlock, batch, n_tok);
  if (wt == WType::F32)
    gemv_kernel<<<grid, 32 * kRowsPerBlock, 0, s>>>(static_cast<const float*>(W), rows, cols, ld, w_bs, x, x_bs, x_ts,
                                                    y, y_bs, y_ts, accumulate, vec);
  else
    gemv_kernel<<<grid, 32 * kRowsPerBlock, 0, s>>>(static_cast<const __nv_bfloat16*>(W), rows, cols, ld, w_bs, x,
                                                    x_bs, x_ts, y, y_bs, y_ts, accumulate, vec);
  check_launch("gemv_kernel");
}

void ffn_gate_up(WType wt, const FfnEntry* table, const int32_t* slot_expert, int n_slots, const float* x, int D,
                 float* act, int max_ff, bool weights_vec_ok, cudaStream_t s) {
  if (n_slots <= 0) return;
  const bool vec = weights_vec_ok && D % 8 == 0 && aligned16(x);
  const dim3 grid((max_ff + kRowsPerBlock - 1) / kRowsPerBlock, n_slots);
  if (wt == WType::F32)
    ffn_gate_up_kernel<float><<<grid, 32 * kRowsPerBlock, 0, s>>>(table, slot_expert, x, D, act, max_ff, vec);
  else
    ffn_gate_up_kernel<__nv_bfloat16><<<grid, 32 * kRowsPerBlock, 0, s>>>(table, slot_expert, x, D, act, max_ff, vec);
  check_launch("ffn_gate_up_kernel");
}

void ffn_down(WType wt, const FfnEntry* table, const int32_t* slot_expert, const float* slot_weight, int n_slots,
              const float* act, int max_ff, int D, float* y, bool weights_vec_ok, cudaStream_t s) {
  if (n_slots <= 0) return;
  // act rows start at s*max_ff, so the float loads of act need max_ff % 4 as well.
  const bool vec = weights_vec_ok && max_ff % 8 == 0 && aligned16(act);
  const dim3 grid((D + kRowsPerBlock - 1) / kRowsPerBlock);
  if (wt == WType::F32)
    ffn_down_kernel<float><<<grid, 32 * kRowsPerBlock, 0, s>>>(table, slot_expert, slot_weight, n_slots, act, max_ff,
                                                               D, y, vec);
  else
    ffn_down_kernel<__nv_bfloat16><<<grid, 32 * kRowsPerBlock, 0, s>>>(table, slot_expert, slot_weight, n_slots, act,
                                                                       max_ff, D, y, vec);
  check_launch("ffn_down_kernel");
}

void swiglu(const float* g, const float* u, float* act, long long n, cudaStream_t s) {
  if (n <= 0) return;
  swiglu_kernel<<<grid_1d(n, 256), 256, 0, s>>>(g, u, act, n);
  check_launch("swiglu_kernel");
}

void gather_rows(const float* x, const int32_t* rows, int m, int D, float* out, cudaStream_t s) {
  if (m <= 0) return;
  gather_rows_kernel<<<m, 256, 0, s>>>(x, rows, D, out);
  check_launch("gather_rows_kernel");
}

void scatter_add_rows(float* y, const int32_t* rows, const float* w, const float* src, int m, int D, cudaStream_t s) {
  if (m <= 0) return;
  scatter_add_rows_kernel<<<m, 256, 0, s>>>(y, rows, w, src, D);
  check_launch("scatter_add_rows_kernel");
}

}  // namespace mlascope::cuda
