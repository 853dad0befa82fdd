// engine/backend/cpu/matvec.cpp — F32/BF16/F16/F8_E4M3 products converted in registers.
// AVX2+FMA(+F16C) kernels when the build targets them (-march=native by default), a portable
// scalar path otherwise; both accumulate in float32. GGUF block types go to matvec_quant when the
// GGUF engineer's kernels are in the tree, else through dequantize_row (correct, slower).
#include "matvec.h"

#include <algorithm>
#include <array>
#include <vector>

#include "../../weights/quant.h"

#if defined(__AVX2__) && defined(__FMA__)
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

float dot_bf16(const uint16_t* w, const float* x, int64_t n) {
  int64_t i = 0;
  float s = 0.0f;
#ifdef MLASCOPE_AVX2
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps(load_bf16x8(w + i), _mm256_loadu_ps(x + i), a0);
    a1 = _mm256_fmadd_ps(load_bf16x8(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(load_bf16x8(w + i), _mm256_loadu_ps(x + i), a0);
  s = hsum(_mm256_add_ps(a0, a1));
#endif
  for (; i < n; ++i) s += bf16_to_f32(w[i]) * x[i];
  return s;
}

float dot_f16(const uint16_t* w, const float* x, int64_t n) {
  int64_t i = 0;
  float s = 0.0f;
#if defined(MLASCOPE_AVX2) && defined(__F16C__)
  __m256 a0 = _mm256_setzero_ps();
  for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(load_f16x8(w + i), _mm256_loadu_ps(x + i), a0);
  s = hsum(a0);
#endif
  for (; i < n; ++i) s += f16_to_f32(w[i]) * x[i];
  return s;
}

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
      for (int64_t i = 0; i < cols; ++i) out[i] = f16_to_f32(p[i]);
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
  // Tokens go in blocks small enough for their activations to stay in L2 while a converted weight
  // row is dotted with each of them: the weights are read once per block, not once per token.
  constexpr int64_t kTokenBlock = 32;
  const int64_t cols = W.cols();
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
  const int64_t cols = W.cols();
  if (W.dtype == DType::F32) {
    const float* p = static_cast<const float*>(W.data);
    for (int64_t r = row_begin; r < row_end; ++r) axpy_f32(x[r - row_begin], p + r * cols, y, cols);
    return;
  }
  thread_local std::vector<float> row;
  row.resize(static_cast<size_t>(cols));
  for (int64_t r = row_begin; r < row_end; ++r) {
    row_to_buffer(W, r, row.data());
    axpy_f32(x[r - row_begin], row.data(), y, cols);
  }
}

}  // namespace mlascope::cpu
