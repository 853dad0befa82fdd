// engine/backend/cuda/kernels_mla_moe.cu — MLA (latent row preparation with RoPE, absorbed
// query/output projections, split-KV decode over the latent cache, causal softmax for the batched
// path, the naive per-head form), MoE routing, and the device sampler's top-k.
// The math is tests/data/golden/README.md, step for step.
#include <algorithm>
#include <climits>

#include "device_util.cuh"

namespace mlascope::cuda {

namespace {

__global__ void mla_prepare_kernel(MlaDims d, const float* kv, long long kv_stride, const float* w, float eps,
                                   const float* inv_freq, float msc, const int32_t* d_start, float* q, float* lat,
                                   bool at_pos) {
  __shared__ float scratch[33];
  const int t = blockIdx.x;
  const int pos = *d_start + t;
  const int R = d.kv_lora_rank, P = d.qk_rope, C = R + P, half = P / 2, QH = d.q_head();
  const float* kvr = kv + t * kv_stride;
  float ss = 0.0f;
  for (int i = threadIdx.x; i < R; i += blockDim.x) ss += kvr[i] * kvr[i];
  ss = block_sum(ss, scratch);
  const float inv = rsqrtf(ss / static_cast<float>(R) + eps);
  float* out = lat + static_cast<long long>(at_pos ? pos : t) * C;
  for (int i = threadIdx.x; i < R; i += blockDim.x) out[i] = w[i] * (kvr[i] * inv);
  // Interleaved pairs (2j, 2j+1), angle pos * inv_freq[j] in float32 as the reference does.
  for (int j = threadIdx.x; j < half; j += blockDim.x) {
    float sn, cs;
    sincosf(static_cast<float>(pos) * inv_freq[j], &sn, &cs);
    cs *= msc;
    sn *= msc;
    const float x0 = kvr[R + 2 * j], x1 = kvr[R + 2 * j + 1];
    out[R + 2 * j] = x0 * cs - x1 * sn;
    out[R + 2 * j + 1] = x0 * sn + x1 * cs;
  }
  float* qt = q + static_cast<long long>(t) * d.n_heads * QH;
  for (int i = threadIdx.x; i < d.n_heads * half; i += blockDim.x) {
    const int h = i / half, j = i % half;
    float sn, cs;
    sincosf(static_cast<float>(pos) * inv_freq[j], &sn, &cs);
    cs *= msc;
    sn *= msc;
    float* pe = qt + h * QH + d.qk_nope + 2 * j;
    const float x0 = pe[0], x1 = pe[1];
    pe[0] = x0 * cs - x1 * sn;
    pe[1] = x0 * sn + x1 * cs;
  }
}

__device__ __forceinline__ void load2(const float* p, float& a, float& b) {
  const float2 v = *reinterpret_cast<const float2*>(p);
  a = v.x;
  b = v.y;
}
__device__ __forceinline__ void load2(const __nv_bfloat16* p, float& a, float& b) {
  const __nv_bfloat162 v = *reinterpret_cast<const __nv_bfloat162*>(p);
  a = __low2float(v);
  b = __high2float(v);
}

// One thread per pair of latent columns; W_uk rows read coalesced across the block.
template <typename T>
__global__ void absorb_q_kernel(MlaDims d, const T* kv_b, const float* q, float* qcat) {
  extern __shared__ float q_nope[];
  const int h = blockIdx.y, t = blockIdx.z;
  const int R = d.kv_lora_rank, N = d.qk_nope, P = d.qk_rope, C = R + P;
  const float* qh = q + (static_cast<long long>(t) * d.n_heads + h) * d.q_head();
  for (int i = threadIdx.x; i < N; i += blockDim.x) q_nope[i] = qh[i];
  __syncthreads();
  float* out = qcat + (static_cast<long long>(t) * d.n_heads + h) * C;
  if (blockIdx.x == 0)
    for (int i = threadIdx.x; i < P; i += blockDim.x) out[R + i] = qh[N + i];
  const int c = (blockIdx.x * blockDim.x + threadIdx.x) * 2;
  if (c >= R) return;
  const T* W = kv_b + static_cast<long long>(h) * (N + d.v_dim) * R + c;
  float a0 = 0.0f, a1 = 0.0f;
  for (int i = 0; i < N; ++i) {
    float w0, w1;
    load2(W + static_cast<long long>(i) * R, w0, w1);
    a0 = fmaf(q_nope[i], w0, a0);
    a1 = fmaf(q_nope[i], w1, a1);
  }
  out[c] = a0;
  out[c + 1] = a1;
}

__device__ __forceinline__ void decode_split(int n_keys, int n_splits, int& chunk, int& n_active) {
  chunk = max((n_keys + n_splits - 1) / n_splits, kDecodeMinChunk);
  n_active = (n_keys + chunk - 1) / chunk;
}

// Block (split, head tile): scores of kDecodeHeadTile heads against one key range, local softmax,
// unnormalised partial output. Every latent row of the range is read once per head tile.
__global__ void mla_decode_kernel(MlaDims d, const float* qcat, const float* latent, const int32_t* d_start,
                                  float scale, int n_splits, int cap, float* part_o, float* part_m, float* part_l) {
  extern __shared__ float sm[];
  constexpr int kTile = kDecodeHeadTile;
  const int C = d.latent_dim(), R = d.kv_lora_rank, H = d.n_heads;
  float* q_s = sm;              // [kTile, C]
  float* p_s = sm + kTile * C;  // [kTile, cap]
  const int n_keys = *d_start + 1;
  int chunk, n_active;
  decode_split(n_keys, n_splits, chunk, n_active);
  const int split = blockIdx.x;
  if (split >= n_active) return;
  const int h0 = blockIdx.y * kTile;
  const int nh = min(kTile, H - h0);
  const int j0 = split * chunk, nk = min(n_keys, j0 + chunk) - j0;
  for (int i = threadIdx.x; i < kTile * C; i += blockDim.x) {
    const int hh = i / C;
    q_s[i] = hh < nh ? qcat[static_cast<long long>(h0) * C + i] : 0.0f;
  }
  __syncthreads();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
  for (int jj = warp; jj < nk; jj += n_warps) {
    const float* krow = latent + static_cast<long long>(j0 + jj) * C;
    float acc[kTile];
#pragma unroll
    for (int hh = 0; hh < kTile; ++hh) acc[hh] = 0.0f;
    for (int c = lane; c < C; c += 32) {
      const float kv = krow[c];
#pragma unroll
      for (int hh = 0; hh < kTile; ++hh) acc[hh] = fmaf(q_s[hh * C + c], kv, acc[hh]);
    }
#pragma unroll
    for (int hh = 0; hh < kTile; ++hh) {
      const float v = warp_sum(acc[hh]);
      if (lane == 0) p_s[hh * cap + jj] = v * scale;
    }
  }
  __syncthreads();
  for (int hh = warp; hh < nh; hh += n_warps) {
    float m = -INFINITY;
    for (int jj = lane; jj < nk; jj += 32) m = fmaxf(m, p_s[hh * cap + jj]);
    m = warp_max(m);
    float l = 0.0f;
    for (int jj = lane; jj < nk; jj += 32) {
      const float e = expf(p_s[hh * cap + jj] - m);
      p_s[hh * cap + jj] = e;
      l += e;
    }
    l = warp_sum(l);
    if (lane == 0) {
      part_m[split * H + h0 + hh] = m;
      part_l[split * H + h0 + hh] = l;
    }
  }
  __syncthreads();
  for (int c = threadIdx.x; c < R; c += blockDim.x) {
    float acc[kTile];
#pragma unroll
    for (int hh = 0; hh < kTile; ++hh) acc[hh] = 0.0f;
    for (int jj = 0; jj < nk; ++jj) {
      const float kv = latent[static_cast<long long>(j0 + jj) * C + c];
#pragma unroll
      for (int hh = 0; hh < kTile; ++hh) acc[hh] = fmaf(p_s[hh * cap + jj], kv, acc[hh]);
    }
    for (int hh = 0; hh < nh; ++hh) part_o[(static_cast<long long>(split) * H + h0 + hh) * R + c] = acc[hh];
  }
}

__global__ void mla_decode_combine_kernel(MlaDims d, const int32_t* d_start, int n_splits, const float* part_o,
                                          const float* part_m, const float* part_l, float* olat) {
  extern __shared__ float w_s[];  // [n_splits]
  const int h = blockIdx.x, H = d.n_heads, R = d.kv_lora_rank;
  const int n_keys = *d_start + 1;
  int chunk, n_active;
  decode_split(n_keys, n_splits, chunk, n_active);
  float M = -INFINITY;
  for (int s = 0; s < n_active; ++s) M = fmaxf(M, part_m[s * H + h]);
  for (int s = threadIdx.x; s < n_active; s += blockDim.x) w_s[s] = expf(part_m[s * H + h] - M);
  __syncthreads();
  float L = 0.0f;
  for (int s = 0; s < n_active; ++s) L = fmaf(w_s[s], part_l[s * H + h], L);
  const float inv_L = 1.0f / L;
  for (int c = threadIdx.x; c < R; c += blockDim.x) {
    float acc = 0.0f;
    for (int s = 0; s < n_active; ++s) acc = fmaf(w_s[s], part_o[(static_cast<long long>(s) * H + h) * R + c], acc);
    olat[static_cast<long long>(h) * R + c] = acc * inv_L;
  }
}

__global__ void causal_softmax_kernel(float* S, long long ld, int H, int start, int n_keys) {
  __shared__ float scratch[33];
  const int r = blockIdx.x, t = r / H;
  float* row = S + r * ld;
  const int vis = min(start + t + 1, n_keys);
  float m = -INFINITY;
  for (int j = threadIdx.x; j < vis; j += blockDim.x) m = fmaxf(m, row[j]);
  m = block_max(m, scratch);
  float l = 0.0f;
  for (int j = threadIdx.x; j < vis; j += blockDim.x) {
    const float e = expf(row[j] - m);
    row[j] = e;
    l += e;
  }
  l = block_sum(l, scratch);
  const float inv = 1.0f / l;
  for (int j = threadIdx.x; j < n_keys; j += blockDim.x) row[j] = j < vis ? row[j] * inv : 0.0f;
}

__global__ void naive_store_kernel(MlaDims d, const float* kvb, const float* lat, const int32_t* d_start,
                                   float* k_cache, float* v_cache) {
  const int t = blockIdx.x, pos = *d_start + t;
  const int H = d.n_heads, N = d.qk_nope, P = d.qk_rope, V = d.v_dim, QH = N + P, C = d.latent_dim();
  const float* kv_t = kvb + static_cast<long long>(t) * H * (N + V);
  const float* k_pe = lat + static_cast<long long>(t) * C + d.kv_lora_rank;
  float* kc = k_cache + static_cast<long long>(pos) * H * QH;
  float* vc = v_cache + static_cast<long long>(pos) * H * V;
  for (int i = threadIdx.x; i < H * QH; i += blockDim.x) {
    const int h = i / QH, c = i % QH;
    kc[i] = c < N ? kv_t[h * (N + V) + c] : k_pe[c - N];
  }
  for (int i = threadIdx.x; i < H * V; i += blockDim.x) {
    const int h = i / V, c = i % V;
    vc[i] = kv_t[h * (N + V) + N + c];
  }
}

__global__ void naive_attention_kernel(MlaDims d, const float* q, const float* k_cache, const float* v_cache,
                                       const int32_t* d_start, float scale, float* S, float* S_nope, float* S_rope,
                                       long long ld, float* ov) {
  extern __shared__ float q_s[];  // [nope + rope]
  __shared__ float scratch[33];
  const int h = blockIdx.x, t = blockIdx.y, H = d.n_heads;
  const int N = d.qk_nope, QH = d.q_head(), V = d.v_dim;
  const int n_keys = *d_start + t + 1;
  const long long r = static_cast<long long>(t) * H + h;
  for (int i = threadIdx.x; i < QH; i += blockDim.x) q_s[i] = q[r * QH + i];
  __syncthreads();
  float* row = S + r * ld;
  float m = -INFINITY;
  for (int j = threadIdx.x; j < n_keys; j += blockDim.x) {
    const float* k = k_cache + (static_cast<long long>(j) * H + h) * QH;
    float sn = 0.0f, sr = 0.0f;
    for (int c = 0; c < N; ++c) sn = fmaf(q_s[c], k[c], sn);
    for (int c = N; c < QH; ++c) sr = fmaf(q_s[c], k[c], sr);
    const float sc = (sn + sr) * scale;
    row[j] = sc;
    if (S_nope) S_nope[r * ld + j] = sn * scale;
    if (S_rope) S_rope[r * ld + j] = sr * scale;
    m = fmaxf(m, sc);
  }
  m = block_max(m, scratch);
  float l = 0.0f;
  for (int j = threadIdx.x; j < n_keys; j += blockDim.x) {
    const float e = expf(row[j] - m);
    row[j] = e;
    l += e;
  }
  l = block_sum(l, scratch);  // synchronises: every row[j] is written before it is read below
  const float inv = 1.0f / l;
  for (int j = threadIdx.x; j < n_keys; j += blockDim.x) row[j] *= inv;
  __syncthreads();
  for (int c = threadIdx.x; c < V; c += blockDim.x) {
    float acc = 0.0f;
    for (int j = 0; j < n_keys; ++j) acc = fmaf(row[j], v_cache[(static_cast<long long>(j) * H + h) * V + c], acc);
    ov[r * V + c] = acc;
  }
}

// Warp-wide argmax over v[0..n) where ok[i]; ties to the lower index; index -1 when none is ok.
__device__ void warp_argmax(const float* v, const unsigned char* ok, int n, float& best_v, int& best_i) {
  const int lane = threadIdx.x & 31;
  float bv = -INFINITY;
  int bi = -1;
  for (int i = lane; i < n; i += 32)
    if (ok[i] && (bi < 0 || v[i] > bv)) {
      bv = v[i];
      bi = i;
    }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_xor_sync(kFullMask, bv, o);
    const int oi = __shfl_xor_sync(kFullMask, bi, o);
    if (oi >= 0 && (bi < 0 || ov > bv || (ov == bv && oi < bi))) {
      bv = ov;
      bi = oi;
    }
  }
  best_v = bv;
  best_i = bi;
}

// One warp per token.
__global__ void route_kernel(RouteParams p, const float* logits, const float* bias, float* scores, float* selection,
                             int32_t* idx, float* weight, uint64_t* kept, float* margin, int32_t* slot_expert,
                             float* slot_weight, int shared_slot) {
  __shared__ float sc[kMaxRoutedExperts];
  __shared__ float sel[kMaxRoutedExperts];
  __shared__ unsigned char ok[kMaxRoutedExperts];
  __shared__ float gs[kMaxGroups];
  __shared__ unsigned char gok[kMaxGroups];
  const int t = blockIdx.x, lane = threadIdx.x, E = p.n_experts;
  const float* lg = logits + static_cast<long long>(t) * E;
  if (p.sigmoid) {
    for (int e = lane; e < E; e += 32) sc[e] = 1.0f / (1.0f + expf(-lg[e]));
  } else {
    float m = -INFINITY;
    for (int e = lane; e < E; e += 32) m = fmaxf(m, lg[e]);
    m = warp_max(m);
    float l = 0.0f;
    for (int e = lane; e < E; e += 32) {
      sc[e] = expf(lg[e] - m);
      l += sc[e];
    }
    l = warp_sum(l);
    for (int e = lane; e < E; e += 32) sc[e] /= l;
  }
  for (int e = lane; e < E; e += 32) {
    sel[e] = sc[e] + ((p.noaux && bias) ? bias[e] : 0.0f);
    ok[e] = 1;
  }
  __syncwarp();
  float cut = INFINITY;
  uint64_t kept_mask = ~0ull;
  if (p.grouped) {
    const int G = p.n_group, per = E / G;
    for (int g = lane; g < G; g += 32) {
      const float* s = sel + g * per;
      float a = -INFINITY, b = -INFINITY;
      for (int i = 0; i < per; ++i) {
        if (s[i] > a) {
          b = a;
          a = s[i];
        } else if (s[i] > b) {
          b = s[i];
        }
      }
      gs[g] = p.noaux ? (per >= 2 ? a + b : a) : a;
      gok[g] = 1;
    }
    __syncwarp();
    const int keep = min(max(p.topk_group, 1), G);
    kept_mask = 0;
    float last = 0.0f;
    for (int r = 0; r < keep; ++r) {
      float bv;
      int bg;
      warp_argmax(gs, gok, G, bv, bg);
      __syncwarp();
      if (lane == 0) gok[bg] = 0;
      __syncwarp();
      kept_mask |= 1ull << bg;
      last = bv;
    }
    if (keep < G) {
      float nv;
      int ng;
      warp_argmax(gs, gok, G, nv, ng);
      cut = fminf(cut, last - nv);
    }
    for (int e = lane; e < E; e += 32) ok[e] = (kept_mask >> (e / per)) & 1ull;
    __syncwarp();
  }
  const int k = p.k;
  int chosen[kMaxRouteK];
  float last = 0.0f;
  for (int r = 0; r < k; ++r) {
    float bv;
    int be;
    warp_argmax(sel, ok, E, bv, be);
    __syncwarp();
    if (lane == 0 && be >= 0) ok[be] = 0;
    __syncwarp();
    chosen[r] = be;
    last = bv;
  }
  {
    float nv;
    int ne;
    warp_argmax(sel, ok, E, nv, ne);
    if (ne >= 0) cut = fminf(cut, last - nv);
  }
  if (lane == 0) {
    float sum = 0.0f;
    for (int r = 0; r < k; ++r) sum += chosen[r] >= 0 ? sc[chosen[r]] : 0.0f;
    for (int r = 0; r < k; ++r) {
      float w = chosen[r] >= 0 ? sc[chosen[r]] : 0.0f;
      if (p.norm_topk_prob) w /= (sum + 1e-20f);
      w *= p.routed_scaling_factor;
      idx[t * k + r] = chosen[r];
      weight[t * k + r] = w;
      if (slot_expert) {
        slot_expert[t * (k + 1) + r] = chosen[r] >= 0 ? chosen[r] : 0;
        slot_weight[t * (k + 1) + r] = chosen[r] >= 0 ? w : 0.0f;
      }
    }
    if (slot_expert) {
      slot_expert[t * (k + 1) + k] = shared_slot >= 0 ? shared_slot : 0;
      slot_weight[t * (k + 1) + k] = shared_slot >= 0 ? 1.0f : 0.0f;
    }
    kept[t] = kept_mask;
    margin[t] = cut;
  }
  for (int e = lane; e < E; e += 32) {
    scores[static_cast<long long>(t) * E + e] = sc[e];
    selection[static_cast<long long>(t) * E + e] = sel[e];
  }
}

__device__ __forceinline__ bool better(float ov, int oi, float v, int i) { return ov > v || (ov == v && oi < i); }

__global__ void top_k_kernel(const float* logits, int V, int k, int32_t* out_id, float* out_logit, float* out_lse,
                             int32_t* next_token) {
  __shared__ float scratch[33];
  __shared__ float red_v[32];
  __shared__ int red_i[32];
  __shared__ int win_i;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
  float lv[kMaxSampleTop];
  int li[kMaxSampleTop];
  int cnt = 0;
  float mx = -INFINITY;
  for (int i = threadIdx.x; i < V; i += blockDim.x) {
    const float v = logits[i];
    mx = fmaxf(mx, v);
    if (cnt < k || v > lv[cnt - 1]) {
      int q = cnt < k ? cnt : k - 1;
      while (q > 0 && lv[q - 1] < v) {
        lv[q] = lv[q - 1];
        li[q] = li[q - 1];
        --q;
      }
      lv[q] = v;
      li[q] = i;
      if (cnt < k) ++cnt;
    }
  }
  mx = block_max(mx, scratch);
  float se = 0.0f;
  for (int i = threadIdx.x; i < V; i += blockDim.x) se += expf(logits[i] - mx);
  se = block_sum(se, scratch);
  if (threadIdx.x == 0) *out_lse = mx + logf(se);
  int head = 0;
  for (int r = 0; r < k; ++r) {
    float v = head < cnt ? lv[head] : -INFINITY;
    int id = head < cnt ? li[head] : INT_MAX;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_xor_sync(kFullMask, v, o);
      const int oi = __shfl_xor_sync(kFullMask, id, o);
      if (better(ov, oi, v, id)) {
        v = ov;
        id = oi;
      }
    }
    if (lane == 0) {
      red_v[warp] = v;
      red_i[warp] = id;
    }
    __syncthreads();
    if (warp == 0) {
      v = lane < n_warps ? red_v[lane] : -INFINITY;
      id = lane < n_warps ? red_i[lane] : INT_MAX;
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(kFullMask, v, o);
        const int oi = __shfl_xor_sync(kFullMask, id, o);
        if (better(ov, oi, v, id)) {
          v = ov;
          id = oi;
        }
      }
      if (lane == 0) {
        win_i = id;
        out_id[r] = id;
        out_logit[r] = v;
      }
    }
    __syncthreads();
    if (head < cnt && li[head] == win_i) ++head;  // ids are unique, so only the owner advances
    __syncthreads();                              // red_v / win_* are rewritten next round
  }
  if (next_token && threadIdx.x == 0) *next_token = out_id[0];
}

}  // namespace

void mla_prepare(const MlaDims& d, const float* kv, long long kv_stride, const float* kv_norm_w, float eps,
                 const float* inv_freq, float rope_mscale, const int32_t* d_start, int n, float* q, float* lat,
                 bool at_position, cudaStream_t s) {
  if (n <= 0) return;
  mla_prepare_kernel<<<n, 256, 0, s>>>(d, kv, kv_stride, kv_norm_w, eps, inv_freq, rope_mscale, d_start, q, lat,
                                       at_position);
  check_launch("mla_prepare_kernel");
}

void mla_absorb_q(WType wt, const MlaDims& d, const void* kv_b, const float* q, int n, float* qcat, cudaStream_t s) {
  if (n <= 0) return;
  if (d.kv_lora_rank % 2 != 0) fail("cuda", "mla_absorb_q", "kv_lora_rank must be even");
  if (n > 65535 || d.n_heads > 65535) fail("cuda", "mla_absorb_q", "too many tokens or heads for one launch");
  const int threads = 256;
  const dim3 grid((d.kv_lora_rank / 2 + threads - 1) / threads, d.n_heads, n);
  const size_t smem = static_cast<size_t>(d.qk_nope) * sizeof(float);
  if (wt == WType::F32)
    absorb_q_kernel<<<grid, threads, smem, s>>>(d, static_cast<const float*>(kv_b), q, qcat);
  else
    absorb_q_kernel<<<grid, threads, smem, s>>>(d, static_cast<const __nv_bfloat16*>(kv_b), q, qcat);
  check_launch("absorb_q_kernel");
}

void mla_absorb_out(WType wt, const MlaDims& d, const void* kv_b, const float* olat, int n, float* ov,
                    cudaStream_t s) {
  const int R = d.kv_lora_rank, N = d.qk_nope, V = d.v_dim, H = d.n_heads;
  const void* W_uv = static_cast<const char*>(kv_b) + static_cast<size_t>(N) * R * wtype_bytes(wt);
  gemv(wt, W_uv, V, R, R, static_cast<long long>(N + V) * R, olat, R, static_cast<long long>(H) * R, ov, V,
       static_cast<long long>(H) * V, H, n, false, s);
}

int decode_chunk_cap(int max_context, int n_splits) {
  return std::max((max_context + n_splits - 1) / n_splits, kDecodeMinChunk);
}

size_t decode_smem_bytes(const MlaDims& d, int chunk_cap) {
  return static_cast<size_t>(kDecodeHeadTile) * (static_cast<size_t>(d.latent_dim()) + chunk_cap) * sizeof(float);
}

void configure_decode_attention(const MlaDims& d, int chunk_cap) {
  const size_t smem = decode_smem_bytes(d, chunk_cap);
  int dev = 0, max_optin = 0;
  MLASCOPE_CUDA_CHECK(cudaGetDevice(&dev));
  MLASCOPE_CUDA_CHECK(cudaDeviceGetAttribute(&max_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  if (smem > static_cast<size_t>(max_optin))
    fail("cuda", "mla_decode_kernel", "latent row too wide for shared memory (kv_lora_rank + qk_rope_head_dim)");
  if (smem > 48 * 1024)
    MLASCOPE_CUDA_CHECK(cudaFuncSetAttribute(mla_decode_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             static_cast<int>(smem)));
}

void mla_decode_attention(const MlaDims& d, const float* qcat, const float* latent, const int32_t* d_start,
                          float scale, int n_splits, int chunk_cap, float* part_o, float* part_m, float* part_l,
                          float* olat, cudaStream_t s) {
  const size_t smem = decode_smem_bytes(d, chunk_cap);
  const dim3 grid(n_splits, (d.n_heads + kDecodeHeadTile - 1) / kDecodeHeadTile);
  mla_decode_kernel<<<grid, 256, smem, s>>>(d, qcat, latent, d_start, scale, n_splits, chunk_cap, part_o, part_m,
                                             part_l);
  check_launch("mla_decode_kernel");
  mla_decode_combine_kernel<<<d.n_heads, 256, static_cast<size_t>(n_splits) * sizeof(float), s>>>(
      d, d_start, n_splits, part_o, part_m, part_l, olat);
  check_launch("mla_decode_combine_kernel");
}

void causal_softmax_rows(float* S, long long ld, int n, int H, int start, int n_keys, cudaStream_t s) {
  if (n <= 0) return;
  causal_softmax_kernel<<<n * H, 256, 0, s>>>(S, ld, H, start, n_keys);
  check_launch("causal_softmax_kernel");
}

void naive_store(const MlaDims& d, const float* kvb, const float* lat, const int32_t* d_start, int n, float* k_cache,
                 float* v_cache, cudaStream_t s) {
  if (n <= 0) return;
  naive_store_kernel<<<n, 256, 0, s>>>(d, kvb, lat, d_start, k_cache, v_cache);
  check_launch("naive_store_kernel");
}

void naive_attention(const MlaDims& d, const float* q, const float* k_cache, const float* v_cache,
                     const int32_t* d_start, int n, float scale, float* S, float* S_nope, float* S_rope, long long ld,
                     float* ov, cudaStream_t s) {
  if (n <= 0) return;
  if (n > 65535) fail("cuda", "naive_attention", "too many tokens for one launch");
  const dim3 grid(d.n_heads, n);
  naive_attention_kernel<<<grid, 256, static_cast<size_t>(d.q_head()) * sizeof(float), s>>>(
      d, q, k_cache, v_cache, d_start, scale, S, S_nope, S_rope, ld, ov);
  check_launch("naive_attention_kernel");
}

void route(const RouteParams& p, const float* logits, const float* bias, int n, float* scores, float* selection,
           int32_t* idx, float* weight, uint64_t* kept, float* margin, int32_t* slot_expert, float* slot_weight,
           int shared_slot, cudaStream_t s) {
  if (n <= 0) return;
  if (p.n_experts > kMaxRoutedExperts || p.k > kMaxRouteK || p.k < 1 || p.n_group > kMaxGroups || p.n_group < 1)
    fail("cuda", "route", "routing shape outside what the device router supports (experts <= 512, k <= 16, groups <= 64)");
  route_kernel<<<n, 32, 0, s>>>(p, logits, bias, scores, selection, idx, weight, kept, margin, slot_expert,
                                slot_weight, shared_slot);
  check_launch("route_kernel");
}

void top_k_logits(const float* logits, int V, int k, int32_t* out_id, float* out_logit, float* out_lse,
                  int32_t* next_token, cudaStream_t s) {
  if (k < 1 || k > kMaxSampleTop || k > V) fail("cuda", "top_k_logits", "k must be in 1..32 and at most the vocabulary");
  top_k_kernel<<<1, 1024, 0, s>>>(logits, V, k, out_id, out_logit, out_lse, next_token);
  check_launch("top_k_kernel");
}

}  // namespace mlascope::cuda
