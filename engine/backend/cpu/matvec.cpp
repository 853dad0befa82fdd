// engine/backend/cpu/matvec.cpp — F32/BF16/F16/F8_E4M3 products converted in registers.
// AVX2+FMA(+F16C) kernels when the build targets them (-march=native by default), a portable
// scalar path otherwise; both accumulate in float32. GGUF block types go to matvec_quant when the
// GGUF engineer's kernels are in the tree, else through dequantize_row (correct, slower).
#include "matvec.h"

#include <algorithm>
#include <array>
#include <type_traits>
#include <vector>

#include "../../weights/quant.h"

#if defined(__AVX2__) && defined(__FMA__)
// GCC 12 reports the AVX-512 headers' own _mm512_undefined_* placeholders as uninitialized.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#define MLASCOPE_AVX2 1
#endif

#if __has_include("matvec_quant.h")
#include "matvec_quant.h"
#define MLASCOPE_HAVE_MATVEC_QUANT 1
#endif

namespace mlascope::cpu {

namespace {

// All 256 E4M3 codes as float32, so FP8 rows convert by table lookup.
const std::array<float, 256>& f8_table() {
  static const std::array<float, 256> t = [] {
    std::array<float, 256> a{};
    for (int i = 0; i < 256; ++i) a[static_cast<size_t>(i)] = f8e4m3_to_f32(static_cast<uint8_t>(i));
    return a;
  }();
  return t;
}

#ifdef MLASCOPE_AVX2
inline float hsum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
  return _mm_cvtss_f32(lo);
}
inline __m256 load_bf16x8(const uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
#ifdef __F16C__
inline __m256 load_f16x8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
#endif
#endif

// Builds without AVX2 only: with it, matvec_simd below covers BF16 and F16.
float dot_bf16(const uint16_t* w, const float* x, int64_t n) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += bf16_to_f32(w[i]) * x[i];
  return s;
}

float dot_f16(const uint16_t* w, const float* x, int64_t n) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += f16_to_f32(w[i]) * x[i];
  return s;
}

#ifdef MLASCOPE_AVX2
// Element loaders: 8 stored values → 8 floats in a register; one() for the scalar tails.
struct LoadF32 {
  using T = float;
  static __m256 v8(const float* p) { return _mm256_loadu_ps(p); }
  static float one(const float* p) { return *p; }
};
struct LoadBF16 {
  using T = uint16_t;
  static __m256 v8(const uint16_t* p) { return load_bf16x8(p); }
  static float one(const uint16_t* p) { return bf16_to_f32(*p); }
};
#ifdef __F16C__
struct LoadF16 {
  using T = uint16_t;
  static __m256 v8(const uint16_t* p) { return load_f16x8(p); }
  static float one(const uint16_t* p) { return f16_to_f32(*p); }
};
#endif

// Decode: one weight row against x, with two accumulators (even and odd 8-column chunks): two FMA
// chains are what it takes for a row to stream at memory speed. Rows go one at a time because
// interleaving several weight streams measured slower here (bench_matvec_quant: F16 24 GB/s for
// one row, 20 for four, 14 for two): the prefetcher follows one stream best.
template <class L>
inline float matvec_row(const typename L::T* w, int64_t cols, const float* x) {
  __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= cols; i += 16) {
    a = _mm256_fmadd_ps(L::v8(w + i), _mm256_loadu_ps(x + i), a);
    b = _mm256_fmadd_ps(L::v8(w + i + 8), _mm256_loadu_ps(x + i + 8), b);
  }
  if (i + 8 <= cols) {
    a = _mm256_fmadd_ps(L::v8(w + i), _mm256_loadu_ps(x + i), a);
    i += 8;
  }
  float s = hsum(_mm256_add_ps(a, b));
  for (; i < cols; ++i) s += L::one(w + i) * x[i];
  return s;
}

template <class L>
void matvec_simd(const TensorView& W, const float* x, float* y, int64_t r0, int64_t r1) {
  const auto* p = static_cast<const typename L::T*>(W.data);
  const int64_t cols = W.cols();
  for (int64_t r = r0; r < r1; ++r) y[r] = matvec_row<L>(p + r * cols, cols, x);
}

// Prefill: a tile of R weight rows × T tokens held in R·T accumulators. Each chunk of a weight
// row is loaded (and widened) once and used for T tokens, each chunk of a token for R rows, so the
// tile does R·T FMAs per R + T loads instead of one FMA per two loads of a dot product. As in
// matvec_rows, every (token, row) pair sees the same operations whatever the tile shape.
#if defined(__AVX512F__) && defined(__AVX512BW__)
// 16 lanes and 32 registers: a 4 × 6 tile keeps 24 accumulators and the operands in registers.
using Vec = __m512;
constexpr int kLanes = 16, kTileRows = 4, kTileTokens = 6;
inline Vec vzero() { return _mm512_setzero_ps(); }
inline Vec vload(const float* p) { return _mm512_loadu_ps(p); }
inline Vec vwiden(const float* p) { return _mm512_loadu_ps(p); }
inline Vec vwiden(const uint16_t* p, DType t) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  if (t == DType::F16) return _mm512_cvtph_ps(h);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
inline Vec vfma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
inline float vsum(Vec v) { return _mm512_reduce_add_ps(v); }
#else
using Vec = __m256;
constexpr int kLanes = 8, kTileRows = 2, kTileTokens = 4;  // 8 accumulators fit the 16 AVX2 registers
inline Vec vzero() { return _mm256_setzero_ps(); }
inline Vec vload(const float* p) { return _mm256_loadu_ps(p); }
inline Vec vwiden(const float* p) { return _mm256_loadu_ps(p); }
inline Vec vwiden(const uint16_t* p, DType t) {
#ifdef __F16C__
  if (t == DType::F16) return load_f16x8(p);
#endif
  return load_bf16x8(p);
}
inline Vec vfma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
inline float vsum(Vec v) { return hsum(v); }
#endif
template <class L>
inline Vec widen(const typename L::T* p) {
  if constexpr (std::is_same_v<L, LoadF32>)
    return vwiden(p);
  else if constexpr (std::is_same_v<L, LoadBF16>)
    return vwiden(p, DType::BF16);
  else
    return vwiden(p, DType::F16);
}

template <class L, int R, int T>
inline void tile(const typename L::T* W, int64_t cols, const float* X, int64_t ldx, float* Y, int64_t ldy, int64_t r,
                 int64_t t) {
  const typename L::T* w[R];
  const float* xt[T];
  Vec acc[R][T];
  for (int j = 0; j < R; ++j) w[j] = W + (r + j) * cols;
  for (int u = 0; u < T; ++u) xt[u] = X + (t + u) * ldx;
  for (int j = 0; j < R; ++j)
    for (int u = 0; u < T; ++u) acc[j][u] = vzero();
  int64_t i = 0;
  for (; i + kLanes <= cols; i += kLanes) {
    Vec wv[R];
    for (int j = 0; j < R; ++j) wv[j] = widen<L>(w[j] + i);
    for (int u = 0; u < T; ++u) {
      const Vec xv = vload(xt[u] + i);
      for (int j = 0; j < R; ++j) acc[j][u] = vfma(wv[j], xv, acc[j][u]);
    }
  }
  for (int j = 0; j < R; ++j)
    for (int u = 0; u < T; ++u) {
      float s = vsum(acc[j][u]);
      for (int64_t k = i; k < cols; ++k) s += L::one(w[j] + k) * xt[u][k];
      Y[(t + u) * ldy + r + j] = s;
    }
}

template <class L, int R>
inline void tile_rows(const typename L::T* W, int64_t cols, const float* X, int64_t ldx, float* Y, int64_t ldy,
                      int64_t r, int64_t t0, int64_t t1) {
  int64_t t = t0;
  for (; t + kTileTokens <= t1; t += kTileTokens) tile<L, R, kTileTokens>(W, cols, X, ldx, Y, ldy, r, t);
  // The last few tokens in one narrower tile (an expert often gets a handful of a prompt's tokens).
  switch (t1 - t) {
    case 5: if constexpr (kTileTokens > 5) tile<L, R, 5>(W, cols, X, ldx, Y, ldy, r, t); break;
    case 4: if constexpr (kTileTokens > 4) tile<L, R, 4>(W, cols, X, ldx, Y, ldy, r, t); break;
    case 3: tile<L, R, 3>(W, cols, X, ldx, Y, ldy, r, t); break;
    case 2: tile<L, R, 2>(W, cols, X, ldx, Y, ldy, r, t); break;
    case 1: tile<L, R, 1>(W, cols, X, ldx, Y, ldy, r, t); break;
    default: break;
  }
}

template <class L>
void matmat_simd(const typename L::T* W, int64_t cols, const float* X, int64_t ldx, int64_t n_tokens, float* Y,
                 int64_t ldy, int64_t r0, int64_t r1) {
  // Tokens in blocks whose activations stay in L2 (~256 KiB) while the rows stream past them.
  const int64_t block = std::max<int64_t>(kTileTokens, (262144 / std::max<int64_t>(1, cols * 4)) / kTileTokens * kTileTokens);
  for (int64_t t0 = 0; t0 < n_tokens; t0 += block) {
    const int64_t t1 = std::min(n_tokens, t0 + block);
    int64_t r = r0;
    for (; r + kTileRows <= r1; r += kTileRows) tile_rows<L, kTileRows>(W, cols, X, ldx, Y, ldy, r, t0, t1);
    for (; r < r1; ++r) tile_rows<L, 1>(W, cols, X, ldx, Y, ldy, r, t0, t1);
  }
}
#endif

// Converts row r of W into `out` (float32). Used where a row is reused (batches, FP8, GGUF).
void row_to_buffer(const TensorView& W, int64_t r, float* out) {
  const int64_t cols = W.cols();
  switch (W.dtype) {
    case DType::F32: {
      const float* p = static_cast<const float*>(W.data) + r * cols;
      std::copy(p, p + cols, out);
      return;
    }
    case DType::BF16: {
      const uint16_t* p = static_cast<const uint16_t*>(W.data) + r * cols;
      int64_t i = 0;
#ifdef MLASCOPE_AVX2
      for (; i + 8 <= cols; i += 8) _mm256_storeu_ps(out + i, load_bf16x8(p + i));
#endif
      for (; i < cols; ++i) out[i] = bf16_to_f32(p[i]);
      return;
    }
    case DType::F16: {
      const uint16_t* p = static_cast<const uint16_t*>(W.data) + r * cols;
      int64_t i = 0;
#if defined(MLASCOPE_AVX2) && defined(__F16C__)
      for (; i + 8 <= cols; i += 8) _mm256_storeu_ps(out + i, load_f16x8(p + i));
#endif
      for (; i < cols; ++i) out[i] = f16_to_f32(p[i]);
      return;
    }
    case DType::F8_E4M3: {
      const uint8_t* p = static_cast<const uint8_t*>(W.data) + r * cols;
      const auto& t = f8_table();
      const float* srow = W.scale_inv ? W.scale_inv + (r / 128) * W.scale_cols : nullptr;
      for (int64_t c0 = 0; c0 < cols; c0 += 128) {
        const int64_t c1 = std::min(cols, c0 + 128);
        const float s = srow ? srow[c0 / 128] : 1.0f;
        for (int64_t c = c0; c < c1; ++c) out[c] = t[p[c]] * s;
      }
      return;
    }
    default:
      break;
  }
  if (dtype_is_quantized(W.dtype)) {
    const size_t row_bytes = dtype_bytes(W.dtype, static_cast<size_t>(cols));
    dequantize_row(W.dtype, static_cast<const uint8_t*>(W.data) + static_cast<size_t>(r) * row_bytes, out, cols);
    return;
  }
  W.row_to_f32(r, out);  // integer dtypes: not weights, but keep it defined
}

}  // namespace

float dot_f32(const float* a, const float* b, int64_t n) {
  int64_t i = 0;
  float s = 0.0f;
#ifdef MLASCOPE_AVX2
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), a1);
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), a0);
  s = hsum(_mm256_add_ps(a0, a1));
#endif
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

void axpy_f32(float a, const float* x, float* y, int64_t n) {
  int64_t i = 0;
#ifdef MLASCOPE_AVX2
  const __m256 va = _mm256_set1_ps(a);
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
#endif
  for (; i < n; ++i) y[i] += a * x[i];
}

void weight_row(const TensorView& W, int64_t r, float* out) { row_to_buffer(W, r, out); }

void matvec(const TensorView& W, const float* x, float* y, int64_t row_begin, int64_t row_end) {
  const int64_t cols = W.cols();
#ifdef MLASCOPE_AVX2
  switch (W.dtype) {
    case DType::F32: return matvec_simd<LoadF32>(W, x, y, row_begin, row_end);
    case DType::BF16: return matvec_simd<LoadBF16>(W, x, y, row_begin, row_end);
#ifdef __F16C__
    case DType::F16: return matvec_simd<LoadF16>(W, x, y, row_begin, row_end);
#endif
    default: break;
  }
#endif
  switch (W.dtype) {
    case DType::F32: {
      const float* p = static_cast<const float*>(W.data);
      for (int64_t r = row_begin; r < row_end; ++r) y[r] = dot_f32(p + r * cols, x, cols);
      return;
    }
    case DType::BF16: {
      const uint16_t* p = static_cast<const uint16_t*>(W.data);
      for (int64_t r = row_begin; r < row_end; ++r) y[r] = dot_bf16(p + r * cols, x, cols);
      return;
    }
    case DType::F16: {
      const uint16_t* p = static_cast<const uint16_t*>(W.data);
      for (int64_t r = row_begin; r < row_end; ++r) y[r] = dot_f16(p + r * cols, x, cols);
      return;
    }
    default:
      break;
  }
#ifdef MLASCOPE_HAVE_MATVEC_QUANT
  if (dtype_is_quantized(W.dtype)) {
    matvec_quant(W, x, y, row_begin, row_end);
    return;
  }
#endif
  // FP8 and (without matvec_quant) GGUF blocks: convert a row, then a float32 dot.
  thread_local std::vector<float> row;
  row.resize(static_cast<size_t>(cols));
  for (int64_t r = row_begin; r < row_end; ++r) {
    row_to_buffer(W, r, row.data());
    y[r] = dot_f32(row.data(), x, cols);
  }
}

void matmat(const TensorView& W, const float* X, int64_t ldx, int64_t n_tokens, float* Y, int64_t ldy,
            int64_t row_begin, int64_t row_end) {
  if (n_tokens == 1) {
    matvec(W, X, Y, row_begin, row_end);
    return;
  }
#ifdef MLASCOPE_HAVE_MATVEC_QUANT
  if (matmat_quant_preferred(W.dtype)) {  // integer dots on the blocks, each token quantized once
    matmat_quant(W, X, ldx, n_tokens, Y, ldy, row_begin, row_end);
    return;
  }
#endif
  const int64_t cols = W.cols();
#ifdef MLASCOPE_AVX2
  switch (W.dtype) {
    case DType::F32:
      return matmat_simd<LoadF32>(static_cast<const float*>(W.data), cols, X, ldx, n_tokens, Y, ldy, row_begin, row_end);
    case DType::BF16:
      return matmat_simd<LoadBF16>(static_cast<const uint16_t*>(W.data), cols, X, ldx, n_tokens, Y, ldy, row_begin,
                                   row_end);
#ifdef __F16C__
    case DType::F16:
      return matmat_simd<LoadF16>(static_cast<const uint16_t*>(W.data), cols, X, ldx, n_tokens, Y, ldy, row_begin,
                                  row_end);
#endif
    default: {
      // FP8 and the block types without an integer batch kernel: widen a group of rows once, then
      // run the float tile over every token with the group as its weights.
      thread_local std::vector<float> panel;
      panel.resize(static_cast<size_t>(kTileRows * cols));
      for (int64_t r = row_begin; r < row_end; r += kTileRows) {
        const int64_t g = std::min<int64_t>(kTileRows, row_end - r);
        for (int64_t j = 0; j < g; ++j) row_to_buffer(W, r + j, panel.data() + j * cols);
        matmat_simd<LoadF32>(panel.data(), cols, X, ldx, n_tokens, Y + r, ldy, 0, g);
      }
      return;
    }
  }
#endif
  // Tokens go in blocks small enough for their activations to stay in L2 while a converted weight
  // row is dotted with each of them: the weights are read once per block, not once per token.
  constexpr int64_t kTokenBlock = 32;
  thread_local std::vector<float> row;
  row.resize(static_cast<size_t>(cols));
  for (int64_t t0 = 0; t0 < n_tokens; t0 += kTokenBlock) {
    const int64_t t1 = std::min(n_tokens, t0 + kTokenBlock);
    for (int64_t r = row_begin; r < row_end; ++r) {
      const float* w = nullptr;
      if (W.dtype == DType::F32) {
        w = static_cast<const float*>(W.data) + r * cols;
      } else {
        row_to_buffer(W, r, row.data());
        w = row.data();
      }
      for (int64_t t = t0; t < t1; ++t) Y[t * ldy + r] = dot_f32(w, X + t * ldx, cols);
    }
  }
}

void matvec_t_accumulate(const TensorView& W, const float* x, float* y, int64_t row_begin, int64_t row_end) {
  matmat_t_accumulate(W, x, 0, 1, y, 0, row_begin, row_end);
}

void matmat_t_accumulate(const TensorView& W, const float* X, int64_t ldx, int64_t n_tokens, float* Y, int64_t ldy,
                         int64_t row_begin, int64_t row_end) {
  const int64_t cols = W.cols();
  thread_local std::vector<float> row;
  row.resize(static_cast<size_t>(cols));
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float* w = row.data();
    if (W.dtype == DType::F32)
      w = static_cast<const float*>(W.data) + r * cols;
    else
      row_to_buffer(W, r, row.data());
    for (int64_t t = 0; t < n_tokens; ++t) axpy_f32(X[t * ldx + (r - row_begin)], w, Y + t * ldy, cols);
  }
}

}  // namespace mlascope::cpu
