// engine/backend/cpu/kv_rows.cpp — see kv_rows.h. The attention loops call these once per cached
// row (kv_lora_rank or a head's width), so each is a short dispatch and a SIMD loop: a bf16/f16 row
// is half the bytes of an f32 one and widens for free next to the memory traffic it saves.
#include "kv_rows.h"

#include <cstring>

#include "../../tensor.h"
#include "matvec.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#define MLASCOPE_KV_AVX2 1
#if defined(__AVX512F__)
#define MLASCOPE_KV_AVX512 1
#endif
#endif

namespace mlascope::cpu {

namespace {

#ifdef MLASCOPE_KV_AVX2
// 8 stored values → 8 floats.
inline __m256 load8(const uint16_t* p, KvDType t) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return t == KvDType::BF16 ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)) : _mm256_cvtph_ps(h);
}
[[maybe_unused]] inline float hsum8(__m256 v) {
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
  return _mm_cvtss_f32(lo);
}
#endif
#ifdef MLASCOPE_KV_AVX512
inline __m512 load16(const uint16_t* p, KvDType t) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return t == KvDType::BF16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)) : _mm512_cvtph_ps(h);
}
#endif

inline float widen(uint16_t v, KvDType t) { return t == KvDType::BF16 ? bf16_to_f32(v) : f16_to_f32(v); }

float dot_16_rows(const float* q, const uint16_t* r, int64_t n, KvDType t) {
  int64_t i = 0;
  float s = 0.0f;
#ifdef MLASCOPE_KV_AVX512
  __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
  for (; i + 32 <= n; i += 32) {
    a = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), load16(r + i, t), a);
    b = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16), load16(r + i + 16, t), b);
  }
  for (; i + 16 <= n; i += 16) a = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), load16(r + i, t), a);
  s = _mm512_reduce_add_ps(_mm512_add_ps(a, b));
#elif defined(MLASCOPE_KV_AVX2)
  __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    a = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load8(r + i, t), a);
    b = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), load8(r + i + 8, t), b);
  }
  for (; i + 8 <= n; i += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load8(r + i, t), a);
  s = hsum8(_mm256_add_ps(a, b));
#endif
  for (; i < n; ++i) s += q[i] * widen(r[i], t);
  return s;
}

void axpy_16_rows(float a, const uint16_t* r, float* y, int64_t n, KvDType t) {
  int64_t i = 0;
#ifdef MLASCOPE_KV_AVX512
  const __m512 va = _mm512_set1_ps(a);
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, load16(r + i, t), _mm512_loadu_ps(y + i)));
#elif defined(MLASCOPE_KV_AVX2)
  const __m256 va = _mm256_set1_ps(a);
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, load8(r + i, t), _mm256_loadu_ps(y + i)));
#endif
  for (; i < n; ++i) y[i] += a * widen(r[i], t);
}

}  // namespace

void kv_store(const float* src, void* dst, int64_t n, KvDType t) {
  switch (t) {
    case KvDType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); return;
    case KvDType::BF16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16(src[i]);
      return;
    }
    case KvDType::F16: {
      auto* d = static_cast<uint16_t*>(dst);
      int64_t i = 0;
#ifdef MLASCOPE_KV_AVX2
      for (; i + 8 <= n; i += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
#endif
      for (; i < n; ++i) d[i] = f32_to_f16(src[i]);
      return;
    }
  }
}

void kv_load(const void* src, float* dst, int64_t n, KvDType t) {
  if (t == KvDType::F32) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  const auto* s = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = widen(s[i], t);
}

float kv_dot(const float* q, const void* row, int64_t n, KvDType t) {
  // f32 rows keep the kernels the cache used before it had a dtype (same sums, same golden results).
  return t == KvDType::F32 ? dot_f32(q, static_cast<const float*>(row), n)
                           : dot_16_rows(q, static_cast<const uint16_t*>(row), n, t);
}

void kv_axpy(float a, const void* row, float* y, int64_t n, KvDType t) {
  if (t == KvDType::F32) axpy_f32(a, static_cast<const float*>(row), y, n);
  else axpy_16_rows(a, static_cast<const uint16_t*>(row), y, n, t);
}

}  // namespace mlascope::cpu
