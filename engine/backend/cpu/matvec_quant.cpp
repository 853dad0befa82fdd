// engine/backend/cpu/matvec_quant.cpp — integer dot products over GGUF blocks.
// Every type reduces to: per 32 (Q6_K: 16) weights, an integer sum of (weight code × x code),
// scaled by (weight scale × x scale); offsets (Q4_0's 8, the K-quant mins, Q6_K's 32) are
// applied through precomputed sums of the x codes instead of being subtracted per element.
#include "matvec_quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "../../error.h"
#include "../../weights/quant.h"

#if defined(__AVX2__) || defined(__F16C__)
#include <immintrin.h>
#endif
#if defined(__AVX2__) && defined(__FMA__)
#define MLASCOPE_QUANT_AVX2 1
#endif

namespace mlascope {

namespace {

// Block scales are read once per 32 weights, so the conversion must be a single instruction.
#if defined(__F16C__)
inline float rdf16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}
#else
inline float rdf16(const uint8_t* p) { return f16_to_f32(static_cast<uint16_t>(p[0] | (p[1] << 8))); }
#endif

// ---- portable kernels: one row, n values, x as Q8 blocks ----

float dot_q8_0(const uint8_t* w, const Q8Activation& x, int64_t n) {
  float acc = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b, w += 34) {
    const auto* wq = reinterpret_cast<const int8_t*>(w + 2);
    const int8_t* xq = x.q.data() + b * 32;
    int32_t s = 0;
    for (int i = 0; i < 32; ++i) s += wq[i] * xq[i];
    acc += rdf16(w) * x.d[b] * static_cast<float>(s);
  }
  return acc;
}

float dot_q4_0(const uint8_t* w, const Q8Activation& x, int64_t n) {
  float acc = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b, w += 18) {
    const int8_t* xq = x.q.data() + b * 32;
    int32_t s = 0;
    for (int i = 0; i < 16; ++i) s += (w[2 + i] & 0x0f) * xq[i] + (w[2 + i] >> 4) * xq[i + 16];
    const int32_t xs = x.sum16[2 * b] + x.sum16[2 * b + 1];
    acc += rdf16(w) * x.d[b] * static_cast<float>(s - 8 * xs);
  }
  return acc;
}

// Q4_K and Q5_K share everything but the fifth bit. x in 256-blocks: within a super-block the
// integer sums of the 8 sub-blocks are scaled by their 6-bit integer scales and added as integers;
// one float multiply per super-block, the mins through the sums of x codes.
template <bool kFive>
float dot_qk_affine(const uint8_t* w, const Q8Activation& x, int64_t n) {
  float acc = 0.0f;
  const int64_t bb = kFive ? 176 : 144;
  for (int64_t sb = 0; sb < n / 256; ++sb, w += bb) {
    const float dx = x.dk[static_cast<size_t>(sb)];
    const float d = rdf16(w) * dx, dmin = rdf16(w + 2) * dx;
    const uint8_t* scales = w + 4;
    const uint8_t* qh = w + 16;
    const uint8_t* qs = w + (kFive ? 48 : 16);
    int32_t isum = 0, msum = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      k_scale_min(j, scales, &sc, &m);
      const int c = j / 2, shift = (j & 1) * 4;
      const int8_t* xq = x.qk.data() + sb * 256 + j * 32;
      int32_t s = 0;
      for (int l = 0; l < 32; ++l) {
        int q = (qs[c * 32 + l] >> shift) & 0x0f;
        if constexpr (kFive) q |= ((qh[l] >> j) & 1) << 4;
        s += q * xq[l];
      }
      isum += sc * s;
      msum += m * (x.ksum16[static_cast<size_t>(sb * 16 + 2 * j)] + x.ksum16[static_cast<size_t>(sb * 16 + 2 * j + 1)]);
    }
    acc += d * static_cast<float>(isum) - dmin * static_cast<float>(msum);
  }
  return acc;
}

// Q4_K in the CPU layout (weights/quant.h): chunk c, bytes 4j..4j+3 hold values 8c..8c+3 (low
// nibbles) and 8c+4..8c+7 (high) of sub-block j. Otherwise as Q4_K.
float dot_q4_k_r(const uint8_t* w, const Q8Activation& x, int64_t n) {
  float acc = 0.0f;
  for (int64_t sb = 0; sb < n / 256; ++sb, w += 144) {
    const float dx = x.dk[static_cast<size_t>(sb)];
    const float d = rdf16(w) * dx, dmin = rdf16(w + 2) * dx;
    const uint8_t* qs = w + 16;
    const int8_t* xq = x.qk.data() + sb * 256;
    int32_t isum = 0, msum = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      k_scale_min(j, w + 4, &sc, &m);
      int32_t s = 0;
      for (int c = 0; c < 4; ++c)
        for (int p = 0; p < 4; ++p) {
          const uint8_t b = qs[32 * c + 4 * j + p];
          s += (b & 0x0f) * xq[32 * j + 8 * c + p] + (b >> 4) * xq[32 * j + 8 * c + 4 + p];
        }
      isum += sc * s;
      msum += m * (x.ksum16[static_cast<size_t>(sb * 16 + 2 * j)] + x.ksum16[static_cast<size_t>(sb * 16 + 2 * j + 1)]);
    }
    acc += d * static_cast<float>(isum) - dmin * static_cast<float>(msum);
  }
  return acc;
}

// Q6_K takes x in 256-value blocks (as llama.cpp's Q8_K): the whole super-block sums in integers
// (|sum| < 2^28), the -32 offset through the per-16 sums of x codes, then one float multiply.
float dot_q6_k(const uint8_t* w, const Q8Activation& x, int64_t n) {
  float acc = 0.0f;
  for (int64_t sb = 0; sb < n / 256; ++sb, w += 210) {
    const uint8_t* ql = w;
    const uint8_t* qh = w + 128;
    const auto* sc = reinterpret_cast<const int8_t*>(w + 192);
    const float d = rdf16(w + 208);
    const int8_t* xq = x.qk.data() + sb * 256;
    const int16_t* xsum = x.ksum16.data() + sb * 16;
    int32_t total = 0;
    for (int j = 0; j < 8; ++j) {  // values 32j .. 32j+31 = half j/4, quarter j%4; sub-blocks 2j, 2j+1
      const int half = j / 4, quarter = j % 4;
      const uint8_t* low = ql + half * 64 + (quarter & 1) * 32;
      const uint8_t* high = qh + half * 32;
      int32_t s2[2] = {0, 0};
      for (int l = 0; l < 32; ++l) {
        const int code = ((quarter < 2 ? low[l] : low[l] >> 4) & 0x0f) | (((high[l] >> (2 * quarter)) & 3) << 4);
        s2[l / 16] += code * xq[32 * j + l];
      }
      total += sc[2 * j] * (s2[0] - 32 * xsum[2 * j]) + sc[2 * j + 1] * (s2[1] - 32 * xsum[2 * j + 1]);
    }
    acc += d * x.dk[static_cast<size_t>(sb)] * static_cast<float>(total);
  }
  return acc;
}

// Q4_1 / Q5_0 / Q5_1: unsigned codes against the x codes, the offset (Q5_0's 16, the Q4_1/Q5_1
// min) through the per-32 sums of x codes.
template <int kKind>  // 0: Q4_1, 1: Q5_0, 2: Q5_1
float dot_q4_1_q5(const uint8_t* w, const Q8Activation& x, int64_t n) {
  constexpr int64_t bb = kKind == 0 ? 20 : kKind == 1 ? 22 : 24;
  float acc = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b, w += bb) {
    const int8_t* xq = x.q.data() + b * 32;
    const uint8_t* qs = w + (kKind == 0 ? 4 : kKind == 1 ? 6 : 8);
    uint32_t h = 0;
    if constexpr (kKind != 0) std::memcpy(&h, w + (kKind == 1 ? 2 : 4), 4);
    int32_t s = 0;
    for (int i = 0; i < 16; ++i) {
      int lo = qs[i] & 0x0f, hi = qs[i] >> 4;
      if constexpr (kKind != 0) {
        lo |= static_cast<int>((h >> i) & 1u) << 4;
        hi |= static_cast<int>((h >> (i + 16)) & 1u) << 4;
      }
      s += lo * xq[i] + hi * xq[i + 16];
    }
    const int32_t xs = x.sum16[2 * b] + x.sum16[2 * b + 1];
    const float dx = x.d[b];
    if constexpr (kKind == 1)
      acc += rdf16(w) * dx * static_cast<float>(s - 16 * xs);
    else
      acc += rdf16(w) * dx * static_cast<float>(s) + rdf16(w + 2) * dx * static_cast<float>(xs);
  }
  return acc;
}

// Q6_K in the CPU layout: each block back in the file's layout, then as Q6_K.
float dot_q6_k_r(const uint8_t* w, const Q8Activation& x, int64_t n) {
  thread_local std::vector<uint8_t> row;
  row.resize(static_cast<size_t>(n / 256 * 210));
  for (int64_t b = 0; b < n / 256; ++b) q6_k_from_cpu_layout(w + 210 * b, row.data() + 210 * b);
  return dot_q6_k(row.data(), x, n);
}

// Q8_0 in the CPU layout: the row back in the file's layout, then as Q8_0.
float dot_q8_0_r(const uint8_t* w, const Q8Activation& x, int64_t n) {
  thread_local std::vector<uint8_t> row;
  row.resize(static_cast<size_t>(n / 32 * 34));
  q8_0_row_from_cpu_layout(w, row.data(), n / 32);
  return dot_q8_0(row.data(), x, n);
}

// Q5_0 in the CPU layout: the row back in the file's layout, then as Q5_0.
float dot_q5_0_r(const uint8_t* w, const Q8Activation& x, int64_t n) {
  thread_local std::vector<uint8_t> row;
  row.resize(static_cast<size_t>(n / 32 * 22));
  q5_0_row_from_cpu_layout(w, row.data(), n / 32);
  return dot_q4_1_q5<1>(row.data(), x, n);
}

float dot_iq4_nl(const uint8_t* w, const Q8Activation& x, int64_t n) {
  float acc = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b, w += 18) {
    const int8_t* xq = x.q.data() + b * 32;
    int32_t s = 0;
    for (int i = 0; i < 16; ++i)
      s += kIq4nlValues[w[2 + i] & 0x0f] * xq[i] + kIq4nlValues[w[2 + i] >> 4] * xq[i + 16];
    acc += rdf16(w) * x.d[b] * static_cast<float>(s);
  }
  return acc;
}

// The 256-value types below take x in 256-blocks (one scale per super-block): sub-block sums are
// scaled by their integer scales and added as integers, one float multiply per super-block.
float dot_iq4_xs(const uint8_t* w, const Q8Activation& x, int64_t n) {
  float acc = 0.0f;
  for (int64_t sb = 0; sb < n / 256; ++sb, w += 136) {
    uint16_t sh;
    std::memcpy(&sh, w + 2, 2);
    const uint8_t* qs = w + 8;
    int32_t isum = 0;
    for (int j = 0; j < 8; ++j) {
      const int8_t* xq = x.qk.data() + sb * 256 + j * 32;
      int32_t s = 0;
      for (int i = 0; i < 16; ++i)
        s += kIq4nlValues[qs[16 * j + i] & 0x0f] * xq[i] + kIq4nlValues[qs[16 * j + i] >> 4] * xq[i + 16];
      isum += (iq4xs_scale(j, w + 4, sh) - 32) * s;
    }
    acc += rdf16(w) * x.dk[static_cast<size_t>(sb)] * static_cast<float>(isum);
  }
  return acc;
}

float dot_q2_k(const uint8_t* w, const Q8Activation& x, int64_t n) {
  float acc = 0.0f;
  for (int64_t sb = 0; sb < n / 256; ++sb, w += 84) {
    const uint8_t* scales = w;
    const uint8_t* qs = w + 16;
    const int8_t* xq = x.qk.data() + sb * 256;
    const int16_t* xs = x.ksum16.data() + sb * 16;
    int32_t isum = 0, msum = 0;
    for (int j = 0; j < 16; ++j) {  // 16-value sub-block j: half j/8, shift 2*((j%8)/2), l from 16*(j%2)
      const int nh = j / 8, k = (j % 8) / 2, l0 = 16 * (j % 2);
      int32_t s = 0;
      for (int l = l0; l < l0 + 16; ++l) s += ((qs[32 * nh + l] >> (2 * k)) & 3) * xq[128 * nh + 32 * k + l];
      isum += (scales[j] & 0x0f) * s;
      msum += (scales[j] >> 4) * xs[j];
    }
    const float dx = x.dk[static_cast<size_t>(sb)];
    acc += rdf16(w + 80) * dx * static_cast<float>(isum) - rdf16(w + 82) * dx * static_cast<float>(msum);
  }
  return acc;
}

float dot_q3_k(const uint8_t* w, const Q8Activation& x, int64_t n) {
  float acc = 0.0f;
  for (int64_t sb = 0; sb < n / 256; ++sb, w += 110) {
    const uint8_t* hmask = w;
    const uint8_t* qs = w + 32;
    const int8_t* xq = x.qk.data() + sb * 256;
    const int16_t* xs = x.ksum16.data() + sb * 16;
    int32_t isum = 0;
    for (int j = 0; j < 16; ++j) {
      const int nh = j / 8, k = (j % 8) / 2, l0 = 16 * (j % 2);
      int32_t s = 0;  // codes 0..7 (the value plus 4)
      for (int l = l0; l < l0 + 16; ++l) {
        const int c = ((qs[32 * nh + l] >> (2 * k)) & 3) | (((hmask[l] >> (4 * nh + k)) & 1) << 2);
        s += c * xq[128 * nh + 32 * k + l];
      }
      isum += (q3k_scale(j, w + 96) - 32) * (s - 4 * xs[j]);
    }
    acc += rdf16(w + 108) * x.dk[static_cast<size_t>(sb)] * static_cast<float>(isum);
  }
  return acc;
}

using DotFn = float (*)(const uint8_t*, const Q8Activation&, int64_t);

DotFn portable_kernel(DType t) {
  switch (t) {
    case DType::Q8_0: return dot_q8_0;
    case DType::Q4_0: return dot_q4_0;
    case DType::Q4_K: return dot_qk_affine<false>;
    case DType::Q4_K_R: return dot_q4_k_r;
    case DType::Q5_0_R: return dot_q5_0_r;
    case DType::Q8_0_R: return dot_q8_0_r;
    case DType::Q5_K: return dot_qk_affine<true>;
    case DType::Q6_K: return dot_q6_k;
    case DType::Q6_K_R: return dot_q6_k_r;
    case DType::Q4_1: return dot_q4_1_q5<0>;
    case DType::Q5_0: return dot_q4_1_q5<1>;
    case DType::Q5_1: return dot_q4_1_q5<2>;
    case DType::IQ4_NL: return dot_iq4_nl;
    case DType::IQ4_XS: return dot_iq4_xs;
    case DType::Q2_K: return dot_q2_k;
    case DType::Q3_K: return dot_q3_k;
    default: return nullptr;
  }
}

#ifdef MLASCOPE_QUANT_AVX2

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
// 32 unsigned codes (< 128) times 32 int8 → 8 int32 partial sums.
inline __m256i dot_u8_i8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}
inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Q8_0 on one weight row and T tokens: each weight block is loaded once for the T tokens, whose T
// accumulators are independent FMA chains. The per-token arithmetic does not depend on T, so a
// prompt's products equal decode's. One row per call: two interleaved rows halved the decode speed
// here (7.6 vs 26.6 GB/s in bench_matvec_quant), the prefetcher follows one stream best.
#if defined(__AVXVNNI__) || (defined(__AVX512VNNI__) && defined(__AVX512VL__))
inline __m256i dot_u8_i8_vnni(__m256i u, __m256i s) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s);
#else
  return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), u, s);
#endif
}
#define MLASCOPE_DOT_U8_I8 dot_u8_i8_vnni
#else
#define MLASCOPE_DOT_U8_I8 dot_u8_i8
#endif

template <int T>
inline void q8_0_tile(const uint8_t* w, int64_t nb, const Q8Activation* const* xs, float* y, int64_t ldy) {
  __m256 acc[T];
  for (int u = 0; u < T; ++u) acc[u] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i wq = load32(w + b * 34 + 2);
    const __m256i aw = _mm256_sign_epi8(wq, wq);
    const float dw = rdf16(w + b * 34);
    for (int u = 0; u < T; ++u) {
      const __m256i p = MLASCOPE_DOT_U8_I8(aw, _mm256_sign_epi8(load32(xs[u]->q.data() + b * 32), wq));
      acc[u] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw * xs[u]->d[static_cast<size_t>(b)]), acc[u]);
    }
  }
  for (int u = 0; u < T; ++u) y[u * ldy] = hsum(acc[u]);
}

float simd_q4_0(const uint8_t* w, const Q8Activation& x, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  float offset = 0.0f;
  const __m128i nib = _mm_set1_epi8(0x0f);
  for (int64_t b = 0; b < n / 32; ++b, w += 18) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 2));
    const __m256i codes = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), nib), _mm_and_si128(raw, nib));
    const float s = rdf16(w) * x.d[b];
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_u8_i8(codes, load32(x.q.data() + b * 32))), _mm256_set1_ps(s), acc);
    offset += s * static_cast<float>(x.sum16[2 * b] + x.sum16[2 * b + 1]);
  }
  return hsum(acc) - 8.0f * offset;
}

// Q4_K / Q5_K on one weight row and T tokens: the row's codes are unpacked once per super-block
// (eight registers) and dotted with every token's codes, so a prompt pays the unpacking once per
// row instead of once per token. Each token's operations and their order do not depend on T, so a
// prompt's products equal decode's (T = 1) bit for bit.
// int16 pairs times int16 scales, summed into int32 lanes: one VNNI instruction where there is one.
inline __m256i madd_acc(__m256i acc, __m256i a, __m256i b) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpwssd_epi32(acc, a, b);
#else
  return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
#endif
}

template <int T, bool kFive>
inline void qk_affine_tile(const uint8_t* w, int64_t nsb, const Q8Activation* const* xs, float* y, int64_t ldy) {
  __m256 acc[T];
  __m128 mins[T];  // four partial sums each, added at the end
  for (int u = 0; u < T; ++u) acc[u] = _mm256_setzero_ps(), mins[u] = _mm_setzero_ps();
  const __m256i nib = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
  constexpr int64_t bb = kFive ? 176 : 144;
  for (int64_t sb = 0; sb < nsb; ++sb, w += bb) {
    const float dw = rdf16(w), dminw = rdf16(w + 2);
    const uint8_t* qs = w + (kFive ? 48 : 16);
    uint32_t packed[4];
    k_scales_mins(w + 4, packed);
    // The eight sub-block scales as int16 in both 128-bit lanes; sub-block j's scale in every int16
    // of a register is then one byte shuffle (pattern 2j, 2j+1), not a broadcast from a scalar.
    const __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(packed))));
    __m256i scale[8];
    for (int j = 0; j < 8; ++j) scale[j] = _mm256_shuffle_epi8(scales, _mm256_set1_epi16(static_cast<int16_t>(((2 * j + 1) << 8) | (2 * j))));
    const __m128i minv = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(packed + 2)));
    __m256i lo[4], hi[4];
    __m256i qh = _mm256_setzero_si256();
    if constexpr (kFive) qh = load32(w + 16);
    for (int c = 0; c < 4; ++c) {
      const __m256i raw = load32(qs + 32 * c);
      lo[c] = _mm256_and_si256(raw, nib);
      hi[c] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), nib);
      if constexpr (kFive) {
        // bit 2c of each qh byte is the fifth bit of the low half, bit 2c+1 of the high half
        lo[c] = _mm256_or_si256(lo[c], _mm256_slli_epi16(_mm256_and_si256(qh, one), 4));
        hi[c] = _mm256_or_si256(hi[c], _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 1), one), 4));
        qh = _mm256_srli_epi16(qh, 2);
      }
    }
    for (int u = 0; u < T; ++u) {
      const Q8Activation& x = *xs[u];
      const float dx = x.dk[static_cast<size_t>(sb)];
      const float d = dw * dx, dmin = dminw * dx;
      const int8_t* xq = x.qk.data() + sb * 256;
      const int16_t* xsum = x.ksum16.data() + sb * 16;
      // mins · (sums of x codes per 32): 8 mins widened to int16 against the pairwise sums of the
      // 16 per-16 sums (each |sum| <= 32 * 127, no int16 overflow).
      const __m128i pairs = _mm_hadd_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xsum)),
                                           _mm_loadu_si128(reinterpret_cast<const __m128i*>(xsum + 8)));
      const __m128i m4 = _mm_madd_epi16(minv, pairs);  // four int32 whose sum is mins · sums
      // codes (< 32) × x codes, pairs summed in int16 (< 2·31·127), then × the sub-block's scale
      // into int32 (exact: the order of the integer sums does not change the result).
      // Four independent sums (chains of two): one chain of eight dpwssd waits on its latency.
      __m256i part[4];
      for (int c = 0; c < 4; ++c) {
        part[c] = _mm256_madd_epi16(_mm256_maddubs_epi16(lo[c], load32(xq + 64 * c)), scale[2 * c]);
        part[c] = madd_acc(part[c], _mm256_maddubs_epi16(hi[c], load32(xq + 64 * c + 32)), scale[2 * c + 1]);
      }
      const __m256i isum = _mm256_add_epi32(_mm256_add_epi32(part[0], part[1]), _mm256_add_epi32(part[2], part[3]));
      acc[u] = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(isum), acc[u]);
      mins[u] = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(m4), mins[u]);
    }
  }
  for (int u = 0; u < T; ++u) {
    __m128 m = _mm_add_ps(mins[u], _mm_movehl_ps(mins[u], mins[u]));
    m = _mm_add_ss(m, _mm_movehdup_ps(m));
    y[u * ldy] = hsum(acc[u]) - _mm_cvtss_f32(m);
  }
}

// Q4_K in the CPU layout on one row and T tokens. Lane j of every register is sub-block j, so the
// dot products leave each sub-block's integer sum in its own lane; the eight scales then multiply
// once per super-block (one mullo) instead of once per register. x comes as qp: each super-block's
// 64 four-value groups in the same order (quantize_activation). With VNNI the high nibbles stay in
// place (16 times the code: exact in int32, one shift after the sums instead of one per register).
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
inline __m256i dot4_acc(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_epi32(acc, u, s); }
constexpr int kHighAt = 4;
#elif defined(__AVXVNNI__)
inline __m256i dot4_acc(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_avx_epi32(acc, u, s); }
constexpr int kHighAt = 4;
#else
inline __m256i dot4_acc(__m256i acc, __m256i u, __m256i s) {  // u < 16: the int16 pair sums cannot saturate
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
}
constexpr int kHighAt = 0;
#endif

// u8 (any value) times s8, four products summed into each int32 lane, exactly. Without VNNI,
// maddubs would saturate (2 x 255 x 127 > 32767): the bytes go as two halves, low and high nibble.
inline __m256i dot_u8_i8_acc(__m256i acc, __m256i u, __m256i s) {
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
  return _mm256_dpbusd_epi32(acc, u, s);
#elif defined(__AVXVNNI__)
  return _mm256_dpbusd_avx_epi32(acc, u, s);
#else
  const __m256i nib = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi16(1);
  const __m256i lo = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_and_si256(u, nib), s), one);
  const __m256i hi = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(u, 4), nib), s), one);
  return _mm256_add_epi32(acc, _mm256_add_epi32(lo, _mm256_slli_epi32(hi, 4)));
#endif
}

template <int T>
inline void q4_k_r_tile(const uint8_t* w, int64_t nsb, const Q8Activation* const* xs, float* y, int64_t ldy) {
  __m256 acc[T];
  __m128 mins[T];
  for (int u = 0; u < T; ++u) acc[u] = _mm256_setzero_ps(), mins[u] = _mm_setzero_ps();
  const __m256i nib = _mm256_set1_epi8(0x0f);
  for (int64_t sb = 0; sb < nsb; ++sb, w += 144) {
    const float dw = rdf16(w), dminw = rdf16(w + 2);
    uint32_t packed[4];
    k_scales_mins(w + 4, packed);
    const __m256i scales = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(packed)));
    const __m128i minv = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(packed + 2)));
    __m256i lo[4], hi[4];
    for (int c = 0; c < 4; ++c) {
      const __m256i raw = load32(w + 16 + 32 * c);
      lo[c] = _mm256_and_si256(raw, nib);
      hi[c] = kHighAt ? _mm256_andnot_si256(nib, raw) : _mm256_and_si256(_mm256_srli_epi16(raw, 4), nib);
    }
    for (int u = 0; u < T; ++u) {
      const Q8Activation& x = *xs[u];
      const float dx = x.dk[static_cast<size_t>(sb)];
      const int8_t* xq = x.qp.data() + sb * 256;
      // Two chains each for the low and the high nibbles: one chain of eight waits on its latency.
      __m256i l0 = _mm256_setzero_si256(), l1 = l0, h0 = l0, h1 = l0;
      l0 = dot4_acc(l0, lo[0], load32(xq));
      h0 = dot4_acc(h0, hi[0], load32(xq + 32));
      l1 = dot4_acc(l1, lo[1], load32(xq + 64));
      h1 = dot4_acc(h1, hi[1], load32(xq + 96));
      l0 = dot4_acc(l0, lo[2], load32(xq + 128));
      h0 = dot4_acc(h0, hi[2], load32(xq + 160));
      l1 = dot4_acc(l1, lo[3], load32(xq + 192));
      h1 = dot4_acc(h1, hi[3], load32(xq + 224));
      const __m256i sub = _mm256_add_epi32(_mm256_add_epi32(l0, l1), _mm256_srai_epi32(_mm256_add_epi32(h0, h1), kHighAt));
      const __m128i m4 = _mm_madd_epi16(minv, _mm_loadu_si128(reinterpret_cast<const __m128i*>(x.ksum32.data() + sb * 8)));
      acc[u] = _mm256_fmadd_ps(_mm256_set1_ps(dw * dx), _mm256_cvtepi32_ps(_mm256_mullo_epi32(sub, scales)), acc[u]);
      mins[u] = _mm_fmadd_ps(_mm_set1_ps(dminw * dx), _mm_cvtepi32_ps(m4), mins[u]);
    }
  }
  for (int u = 0; u < T; ++u) {
    __m128 m = _mm_add_ps(mins[u], _mm_movehl_ps(mins[u], mins[u]));
    m = _mm_add_ss(m, _mm_movehdup_ps(m));
    y[u * ldy] = hsum(acc[u]) - _mm_cvtss_f32(m);
  }
}

// Q6_K on one row and T tokens, the same way: 256 codes unpacked once per super-block, x in
// 256-value blocks, the super-block summed in int32 and scaled once; the -32 offset is the sixteen
// scales times the sixteen per-16 sums of x codes (one madd).
template <int T>
inline void q6_k_tile(const uint8_t* w, int64_t nsb, const Q8Activation* const* xs, float* y, int64_t ldy) {
  __m256 acc[T];
  for (int u = 0; u < T; ++u) acc[u] = _mm256_setzero_ps();
  const __m256i nib = _mm256_set1_epi8(0x0f), three = _mm256_set1_epi8(3);
  for (int64_t sb = 0; sb < nsb; ++sb, w += 210) {
    const auto* sc = reinterpret_cast<const int8_t*>(w + 192);
    const float dw = rdf16(w + 208);
    __m256i codes[8];
    for (int half = 0; half < 2; ++half) {
      const __m256i ql0 = load32(w + half * 64), ql1 = load32(w + half * 64 + 32);
      __m256i qh = load32(w + 128 + half * 32);
      for (int quarter = 0; quarter < 4; ++quarter) {
        const __m256i src = (quarter & 1) ? ql1 : ql0;
        const __m256i lo = quarter < 2 ? _mm256_and_si256(src, nib) : _mm256_and_si256(_mm256_srli_epi16(src, 4), nib);
        codes[half * 4 + quarter] = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(qh, three), 4));
        qh = _mm256_srli_epi16(qh, 2);
      }
    }
    // codes[j] holds sub-block 2j in its low 128-bit lane and 2j+1 in its high lane: its scale
    // register repeats sc[2j] in the low lane and sc[2j+1] in the high one (byte shuffles of the
    // scales widened to int16 in both lanes).
    const __m128i sc_raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(sc));
    const __m256i sc16 = _mm256_cvtepi8_epi16(sc_raw);
    const __m256i sc_lo = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(sc_raw));
    const __m256i sc_hi = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(_mm_srli_si128(sc_raw, 8)));
    __m256i scale[8];
    for (int j = 0; j < 8; ++j) {
      const int k = j & 3;
      const __m256i pick = _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(((4 * k + 3) << 8) | (4 * k + 2))),
                                            _mm_set1_epi16(static_cast<int16_t>(((4 * k + 1) << 8) | (4 * k))));
      scale[j] = _mm256_shuffle_epi8(j < 4 ? sc_lo : sc_hi, pick);
    }
    for (int u = 0; u < T; ++u) {
      const Q8Activation& x = *xs[u];
      const int8_t* xq = x.qk.data() + sb * 256;
      __m256i part[4];  // independent chains, as in qk_affine_tile
      for (int c = 0; c < 4; ++c) {
        part[c] = _mm256_madd_epi16(_mm256_maddubs_epi16(codes[c], load32(xq + 32 * c)), scale[c]);
        part[c] = madd_acc(part[c], _mm256_maddubs_epi16(codes[c + 4], load32(xq + 32 * (c + 4))), scale[c + 4]);
      }
      __m256i isum = _mm256_add_epi32(_mm256_add_epi32(part[0], part[1]), _mm256_add_epi32(part[2], part[3]));
      const __m256i offs = _mm256_madd_epi16(sc16, load32(x.ksum16.data() + sb * 16));
      isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(offs, 5));
      acc[u] = _mm256_fmadd_ps(_mm256_set1_ps(dw * x.dk[static_cast<size_t>(sb)]), _mm256_cvtepi32_ps(isum), acc[u]);
    }
  }
  for (int u = 0; u < T; ++u) y[u * ldy] = hsum(acc[u]);
}

// Q6_K in the CPU layout (weights/quant.h) on one row and T tokens: lane j of code register m is
// values 32j + 4m .. +3, x in the same order (qp), so registers 0..3 sum Q6_K's sub-block 2j and
// 4..7 sub-block 2j + 1 in lane j, each chain scaled once by the even or the odd scales. Codes go
// unsigned (0..63) into the dot; the -32 offset as in q6_k_tile.
template <int T>
inline void q6_k_r_tile(const uint8_t* w, int64_t nsb, const Q8Activation* const* xs, float* y, int64_t ldy) {
  __m256 acc[T];
  for (int u = 0; u < T; ++u) acc[u] = _mm256_setzero_ps();
  const __m256i nib = _mm256_set1_epi8(0x0f), two_bits = _mm256_set1_epi8(0x30);
  const __m128i even_odd = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
  for (int64_t sb = 0; sb < nsb; ++sb, w += 210) {
    __m256i code[8];
    for (int c = 0; c < 4; ++c) {
      const __m256i raw = load32(w + 32 * c);
      code[2 * c] = _mm256_and_si256(raw, nib);
      code[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), nib);
    }
    for (int h = 0; h < 2; ++h) {
      const __m256i hb = load32(w + 128 + 32 * h);  // bits 2i..2i+1: register 4h + i, to bits 4..5
      code[4 * h] = _mm256_or_si256(code[4 * h], _mm256_and_si256(_mm256_slli_epi16(hb, 4), two_bits));
      code[4 * h + 1] = _mm256_or_si256(code[4 * h + 1], _mm256_and_si256(_mm256_slli_epi16(hb, 2), two_bits));
      code[4 * h + 2] = _mm256_or_si256(code[4 * h + 2], _mm256_and_si256(hb, two_bits));
      code[4 * h + 3] = _mm256_or_si256(code[4 * h + 3], _mm256_and_si256(_mm256_srli_epi16(hb, 2), two_bits));
    }
    const __m128i sc_raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 192));
    const __m128i sc_eo = _mm_shuffle_epi8(sc_raw, even_odd);
    const __m256i sc_even = _mm256_cvtepi8_epi32(sc_eo), sc_odd = _mm256_cvtepi8_epi32(_mm_srli_si128(sc_eo, 8));
    const __m256i sc16 = _mm256_cvtepi8_epi16(sc_raw);
    const float dw = rdf16(w + 208);
    for (int u = 0; u < T; ++u) {
      const Q8Activation& x = *xs[u];
      const int8_t* xq = x.qp.data() + sb * 256;
      const __m256i z = _mm256_setzero_si256();
      __m256i e0 = dot4_acc(z, code[0], load32(xq)), e1 = dot4_acc(z, code[1], load32(xq + 32));
      __m256i o0 = dot4_acc(z, code[4], load32(xq + 128)), o1 = dot4_acc(z, code[5], load32(xq + 160));
      e0 = dot4_acc(e0, code[2], load32(xq + 64));
      e1 = dot4_acc(e1, code[3], load32(xq + 96));
      o0 = dot4_acc(o0, code[6], load32(xq + 192));
      o1 = dot4_acc(o1, code[7], load32(xq + 224));
      __m256i isum = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_add_epi32(e0, e1), sc_even),
                                      _mm256_mullo_epi32(_mm256_add_epi32(o0, o1), sc_odd));
      const __m256i offs = _mm256_madd_epi16(sc16, load32(x.ksum16.data() + sb * 16));
      isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(offs, 5));
      acc[u] = _mm256_fmadd_ps(_mm256_set1_ps(dw * x.dk[static_cast<size_t>(sb)]), _mm256_cvtepi32_ps(isum), acc[u]);
    }
  }
  for (int u = 0; u < T; ++u) y[u * ldy] = hsum(acc[u]);
}

// 32 fifth bits (bit i = value i) as 32 bytes of 0x10 / 0x00, byte i for value i.
inline __m256i fifth_bits(const uint8_t* qh) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(h)),
                                             _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202,
                                                                0x0303030303030303));
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
}
// 16 bytes of nibbles as 32 codes: values 0..15 (low nibbles) then 16..31 (high nibbles).
inline __m256i nibbles32(const uint8_t* qs) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i nib = _mm_set1_epi8(0x0f);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), nib), _mm_and_si128(raw, nib));
}

// Signed weight values (v) times signed x codes through the unsigned×signed product: |v| × (x with v's sign).
inline __m256i dot_i8_i8(__m256i v, __m256i xq) {
  return MLASCOPE_DOT_U8_I8(_mm256_sign_epi8(v, v), _mm256_sign_epi8(xq, v));
}
// Q4_1 / Q5_0 / Q5_1 on one row and T tokens: each block's codes unpacked once for the T tokens.
template <int T, int kKind>  // kKind 0: Q4_1, 1: Q5_0, 2: Q5_1
inline void q4_1_q5_tile(const uint8_t* w, int64_t nb, const Q8Activation* const* xs, float* y, int64_t ldy) {
  constexpr int64_t bb = kKind == 0 ? 20 : kKind == 1 ? 22 : 24;
  __m256 acc[T];
  float offset[T];
  for (int u = 0; u < T; ++u) acc[u] = _mm256_setzero_ps(), offset[u] = 0.0f;
  for (int64_t b = 0; b < nb; ++b, w += bb) {
    if constexpr (kKind == 1) {
      // Q5_0's weights are code - 16: signed values straight into a signed dot, no offset term.
      __m256i v = nibbles32(w + 6);
#if defined(__AVX512BW__) && defined(__AVX512VL__)
      uint32_t h;
      std::memcpy(&h, w + 2, 4);
      v = _mm256_mask_sub_epi8(v, static_cast<__mmask32>(~h), v, _mm256_set1_epi8(16));
#else
      v = _mm256_sub_epi8(_mm256_or_si256(v, fifth_bits(w + 2)), _mm256_set1_epi8(16));
#endif
      const float dw = rdf16(w);
      for (int u = 0; u < T; ++u) {
        const Q8Activation& x = *xs[u];
        acc[u] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_i8_i8(v, load32(x.q.data() + b * 32))),
                                 _mm256_set1_ps(dw * x.d[static_cast<size_t>(b)]), acc[u]);
      }
      continue;
    }
    __m256i codes = nibbles32(w + (kKind == 0 ? 4 : 8));
    if constexpr (kKind != 0) codes = _mm256_or_si256(codes, fifth_bits(w + 4));
    const float dw = rdf16(w);
    const float mw = rdf16(w + 2);
    for (int u = 0; u < T; ++u) {
      const Q8Activation& x = *xs[u];
      const float dx = x.d[static_cast<size_t>(b)];
      const float s = dw * dx;
      acc[u] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(MLASCOPE_DOT_U8_I8(codes, load32(x.q.data() + b * 32))),
                               _mm256_set1_ps(s), acc[u]);
      const float xsum = static_cast<float>(x.sum16[2 * b] + x.sum16[2 * b + 1]);
      offset[u] += mw * dx * xsum;
    }
  }
  for (int u = 0; u < T; ++u) y[u * ldy] = hsum(acc[u]) + offset[u];
}

// 8 int32 lanes each of four dot products p0..p3 → the four full sums [p0, p1, p2, p3].
inline __m128i sum4_lanes(__m256i p0, __m256i p1, __m256i p2, __m256i p3) {
  const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(p0, p1), _mm256_hadd_epi32(p2, p3));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

// Blocks b0..nb-1 of a Q5_0 row in the file's layout (w at block b0) for T tokens, into out[T]
// (see q5_0_tile).
template <int T>
inline void q5_0_blocks(const uint8_t* w, int64_t b0, int64_t nb, const Q8Activation* const* xs, float* out) {
  __m128 acc[T];
  for (int u = 0; u < T; ++u) acc[u] = _mm_setzero_ps();
  const __m128i ones = _mm_set1_epi16(1);
  int64_t b = b0;
  for (; b + 4 <= nb; b += 4, w += 88) {
    __m256i code[4];
    for (int k = 0; k < 4; ++k) {
      const uint8_t* blk = w + 22 * k;
#if defined(__AVX512BW__) && defined(__AVX512VL__)
      uint32_t h;
      std::memcpy(&h, blk + 2, 4);
      const __m256i v = nibbles32(blk + 6);
      code[k] = _mm256_mask_add_epi8(v, static_cast<__mmask32>(h), v, _mm256_set1_epi8(16));
#else
      code[k] = _mm256_or_si256(nibbles32(blk + 6), fifth_bits(blk + 2));
#endif
    }
    const __m128 dw = _mm_setr_ps(rdf16(w), rdf16(w + 22), rdf16(w + 44), rdf16(w + 66));
    for (int u = 0; u < T; ++u) {
      const Q8Activation& x = *xs[u];
      const int8_t* xq = x.q.data() + b * 32;
      const __m256i z = _mm256_setzero_si256();
      __m128i isum = sum4_lanes(dot4_acc(z, code[0], load32(xq)), dot4_acc(z, code[1], load32(xq + 32)),
                                dot4_acc(z, code[2], load32(xq + 64)), dot4_acc(z, code[3], load32(xq + 96)));
      const __m128i xsum = _mm_madd_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.sum16.data() + 2 * b)), ones);
      isum = _mm_sub_epi32(isum, _mm_slli_epi32(xsum, 4));
      acc[u] = _mm_fmadd_ps(_mm_cvtepi32_ps(isum), _mm_mul_ps(dw, _mm_loadu_ps(x.d.data() + b)), acc[u]);
    }
  }
  for (int u = 0; u < T; ++u) {
    __m128 s4 = _mm_add_ps(acc[u], _mm_movehl_ps(acc[u], acc[u]));
    s4 = _mm_add_ss(s4, _mm_movehdup_ps(s4));
    out[u] = _mm_cvtss_f32(s4);
  }
  for (; b < nb; ++b, w += 22) {
    const __m256i v = _mm256_sub_epi8(_mm256_or_si256(nibbles32(w + 6), fifth_bits(w + 2)), _mm256_set1_epi8(16));
    const float dw = rdf16(w);
    for (int u = 0; u < T; ++u) {
      const Q8Activation& x = *xs[u];
      out[u] += hsum(_mm256_cvtepi32_ps(dot_i8_i8(v, load32(x.q.data() + b * 32)))) * (dw * x.d[static_cast<size_t>(b)]);
    }
  }
}

// Q5_0 in the file's layout on one row and T tokens. Rows of a few blocks (a small model's 96 or
// 128 columns) spend as much on per-block scaling as on the products: so four blocks go at once,
// codes 0..31 unsigned into the dot, the four integer sums gathered in one register (less 16 times
// each block's sum of x codes), and one multiply by the four weight scales times the four x scales.
template <int T>
inline void q5_0_tile(const uint8_t* w, int64_t nb, const Q8Activation* const* xs, float* y, int64_t ldy) {
  float out[T];
  q5_0_blocks<T>(w, 0, nb, xs, out);
  for (int u = 0; u < T; ++u) y[u * ldy] = out[u];
}

// Q5_0 in the CPU layout on one row and T tokens: per group of 8 blocks, lane j of every register is
// block j, so eight dot products leave each block's integer sum in its own lane and the 8 weight
// scales times the 8 x scales apply in one multiply (instead of a broadcast and an FMA per block).
// Codes 0..31 as unsigned bytes; the -16 offset through the blocks' sums of x codes. The last
// nb % 8 blocks are in the file's layout and go as Q5_0 does.
template <int T>
inline void q5_0_r_tile(const uint8_t* w, int64_t nb, const Q8Activation* const* xs, float* y, int64_t ldy) {
  __m256 acc[T];
  for (int u = 0; u < T; ++u) acc[u] = _mm256_setzero_ps();
  const __m256i nib = _mm256_set1_epi8(0x0f);
  const int64_t groups = nb / 8;
  for (int64_t g = 0; g < groups; ++g, w += 176) {
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w)));
    __m256i code[8];
    for (int c = 0; c < 4; ++c) {
      const __m256i raw = load32(w + 16 + 32 * c);
      code[2 * c] = _mm256_and_si256(raw, nib);
      code[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), nib);
    }
    for (int r = 0; r < 8; ++r) {
#if defined(__AVX512BW__) && defined(__AVX512VL__)
      uint32_t m;
      std::memcpy(&m, w + 144 + 4 * r, 4);
      code[r] = _mm256_mask_add_epi8(code[r], static_cast<__mmask32>(m), code[r], _mm256_set1_epi8(16));
#else
      code[r] = _mm256_or_si256(code[r], fifth_bits(w + 144 + 4 * r));
#endif
    }
    for (int u = 0; u < T; ++u) {
      const Q8Activation& x = *xs[u];
      const int8_t* xq = x.qt.data() + g * 256;
      __m256i s0 = _mm256_setzero_si256(), s1 = s0;
      for (int r = 0; r < 8; r += 2) {
        s0 = dot4_acc(s0, code[r], load32(xq + 32 * r));
        s1 = dot4_acc(s1, code[r + 1], load32(xq + 32 * r + 32));
      }
      const __m256i xsum = _mm256_cvtepi16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.sum32.data() + g * 8)));
      const __m256i isum = _mm256_sub_epi32(_mm256_add_epi32(s0, s1), _mm256_slli_epi32(xsum, 4));
      acc[u] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, _mm256_loadu_ps(x.d.data() + g * 8)), acc[u]);
    }
  }
  float tail[T];
  q5_0_blocks<T>(w, groups * 8, nb, xs, tail);  // the blocks after the last whole group
  for (int u = 0; u < T; ++u) y[u * ldy] = hsum(acc[u]) + tail[u];
}

// Q8_0 in the CPU layout on one row and T tokens, as Q5_0_R: lane j of every register is block j,
// codes stored + 128 so that the VNNI dot takes them as unsigned; the 128 comes back off through
// the blocks' sums of x codes. Blocks after the last whole group go as Q8_0 does.
template <int T>
inline void q8_0_r_tile(const uint8_t* w, int64_t nb, const Q8Activation* const* xs, float* y, int64_t ldy) {
  __m256 acc[T];
  for (int u = 0; u < T; ++u) acc[u] = _mm256_setzero_ps();
  const int64_t groups = nb / 8;
  for (int64_t g = 0; g < groups; ++g, w += 272) {
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w)));
    for (int u = 0; u < T; ++u) {
      const Q8Activation& x = *xs[u];
      const int8_t* xq = x.qt.data() + g * 256;
      __m256i s0 = _mm256_setzero_si256(), s1 = s0;
      for (int r = 0; r < 8; r += 2) {
        s0 = dot_u8_i8_acc(s0, load32(w + 16 + 32 * r), load32(xq + 32 * r));
        s1 = dot_u8_i8_acc(s1, load32(w + 48 + 32 * r), load32(xq + 32 * r + 32));
      }
      const __m256i xsum = _mm256_cvtepi16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x.sum32.data() + g * 8)));
      const __m256i isum = _mm256_sub_epi32(_mm256_add_epi32(s0, s1), _mm256_slli_epi32(xsum, 7));
      acc[u] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, _mm256_loadu_ps(x.d.data() + g * 8)), acc[u]);
    }
  }
  for (int64_t b = groups * 8; b < nb; ++b, w += 34) {
    const __m256i wq = load32(w + 2);
    const __m256i aw = _mm256_sign_epi8(wq, wq);
    const float dw = rdf16(w);
    for (int u = 0; u < T; ++u) {
      const Q8Activation& x = *xs[u];
      const __m256i p = MLASCOPE_DOT_U8_I8(aw, _mm256_sign_epi8(load32(x.q.data() + b * 32), wq));
      acc[u] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw * x.d[static_cast<size_t>(b)]), acc[u]);
    }
  }
  for (int u = 0; u < T; ++u) y[u * ldy] = hsum(acc[u]);
}

inline __m256i iq4_table() {
  return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4nlValues)));
}

float simd_iq4_nl(const uint8_t* w, const Q8Activation& x, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  const __m256i table = iq4_table();
  for (int64_t b = 0; b < n / 32; ++b, w += 18) {
    const __m256i v = _mm256_shuffle_epi8(table, nibbles32(w + 2));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_i8_i8(v, load32(x.q.data() + b * 32))),
                          _mm256_set1_ps(rdf16(w) * x.d[b]), acc);
  }
  return hsum(acc);
}

float simd_iq4_xs(const uint8_t* w, const Q8Activation& x, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  const __m256i table = iq4_table();
  for (int64_t sb = 0; sb < n / 256; ++sb, w += 136) {
    uint16_t sh;
    std::memcpy(&sh, w + 2, 2);
    const int8_t* xq = x.qk.data() + sb * 256;
    __m256i isum = _mm256_setzero_si256();
    for (int j = 0; j < 8; ++j) {
      const __m256i v = _mm256_shuffle_epi8(table, nibbles32(w + 8 + 16 * j));
      // |v| <= 127 and |x| <= 127: pair sums stay below 2^15; then x (scale - 32) as int32
      const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(v, v), _mm256_sign_epi8(load32(xq + 32 * j), v));
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(pairs, _mm256_set1_epi16(static_cast<int16_t>(iq4xs_scale(j, w + 4, sh) - 32))));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(rdf16(w) * x.dk[static_cast<size_t>(sb)]), _mm256_cvtepi32_ps(isum), acc);
  }
  return hsum(acc);
}

// Q2_K / Q3_K: 32 codes per (half, shift), lanes 0..15 in sub-block 8n+2k, 16..31 in 8n+2k+1, so
// one int16 scale per 128-bit lane.
inline __m256i lane_scales(int lo, int hi) {
  return _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(hi)), _mm_set1_epi16(static_cast<int16_t>(lo)));
}
// sum over 16 sub-blocks of a[j] * b[j] (int16 inputs, int32 result)
inline int32_t dot16_i16(__m256i a, __m256i b) {
  const __m256i p = _mm256_madd_epi16(a, b);
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

float simd_q2_k(const uint8_t* w, const Q8Activation& x, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  float mins = 0.0f;
  const __m256i three = _mm256_set1_epi8(3);
  for (int64_t sb = 0; sb < n / 256; ++sb, w += 84) {
    const uint8_t* sc = w;
    const int8_t* xq = x.qk.data() + sb * 256;
    const __m128i raw_sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(sc));
    const __m256i m16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw_sc, 4), _mm_set1_epi8(0x0f)));
    const int32_t msum = dot16_i16(m16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.ksum16.data() + sb * 16)));
    __m256i isum = _mm256_setzero_si256();
    for (int nh = 0; nh < 2; ++nh) {
      __m256i q = load32(w + 16 + 32 * nh);
      for (int k = 0; k < 4; ++k) {
        const __m256i codes = _mm256_and_si256(q, three);
        q = _mm256_srli_epi16(q, 2);
        const int j = 8 * nh + 2 * k;
        const __m256i pairs = _mm256_maddubs_epi16(codes, load32(xq + 128 * nh + 32 * k));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(pairs, lane_scales(sc[j] & 0x0f, sc[j + 1] & 0x0f)));
      }
    }
    const float dx = x.dk[static_cast<size_t>(sb)];
    acc = _mm256_fmadd_ps(_mm256_set1_ps(rdf16(w + 80) * dx), _mm256_cvtepi32_ps(isum), acc);
    mins += rdf16(w + 82) * dx * static_cast<float>(msum);
  }
  return hsum(acc) - mins;
}

float simd_q3_k(const uint8_t* w, const Q8Activation& x, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  float offsets = 0.0f;
  const __m256i three = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
  for (int64_t sb = 0; sb < n / 256; ++sb, w += 110) {
    const int8_t* xq = x.qk.data() + sb * 256;
    alignas(32) int16_t sc[16];
    for (int j = 0; j < 16; ++j) sc[j] = static_cast<int16_t>(q3k_scale(j, w + 96) - 32);
    const __m256i sc16 = _mm256_load_si256(reinterpret_cast<const __m256i*>(sc));
    // the -4 of every code with a clear high bit, as 4 x (scale x sum of x codes) per sub-block
    const int32_t offset = dot16_i16(sc16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.ksum16.data() + sb * 16)));
    __m256i hm = load32(w);
    __m256i isum = _mm256_setzero_si256();
    for (int nh = 0; nh < 2; ++nh) {
      __m256i q = load32(w + 32 + 32 * nh);
      for (int k = 0; k < 4; ++k) {
        const __m256i codes = _mm256_or_si256(_mm256_and_si256(q, three), _mm256_slli_epi16(_mm256_and_si256(hm, one), 2));
        q = _mm256_srli_epi16(q, 2);
        hm = _mm256_srli_epi16(hm, 1);
        const int j = 8 * nh + 2 * k;
        const __m256i pairs = _mm256_maddubs_epi16(codes, load32(xq + 128 * nh + 32 * k));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(pairs, lane_scales(sc[j], sc[j + 1])));
      }
    }
    const float d = rdf16(w + 108) * x.dk[static_cast<size_t>(sb)];
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(isum), acc);
    offsets += d * static_cast<float>(offset);
  }
  return hsum(acc) - 4.0f * offsets;
}

// The batched kernels by type: tile<T>(row, cols, tokens, y, ldy) computes T tokens of one row.
struct Q8_0Tiles {
  template <int T>
  static void tile(const uint8_t* w, int64_t cols, const Q8Activation* const* xs, float* y, int64_t ldy) {
    q8_0_tile<T>(w, cols / 32, xs, y, ldy);
  }
};
template <bool kFive>
struct QkAffineTiles {
  template <int T>
  static void tile(const uint8_t* w, int64_t cols, const Q8Activation* const* xs, float* y, int64_t ldy) {
    qk_affine_tile<T, kFive>(w, cols / 256, xs, y, ldy);
  }
};
template <int kKind>
struct Q41Q5Tiles {
  template <int T>
  static void tile(const uint8_t* w, int64_t cols, const Q8Activation* const* xs, float* y, int64_t ldy) {
    if constexpr (kKind == 1) q5_0_tile<T>(w, cols / 32, xs, y, ldy);
    else q4_1_q5_tile<T, kKind>(w, cols / 32, xs, y, ldy);
  }
};
struct Q4kCpuLayoutTiles {
  template <int T>
  static void tile(const uint8_t* w, int64_t cols, const Q8Activation* const* xs, float* y, int64_t ldy) {
    q4_k_r_tile<T>(w, cols / 256, xs, y, ldy);
  }
};
struct Q50CpuLayoutTiles {
  template <int T>
  static void tile(const uint8_t* w, int64_t cols, const Q8Activation* const* xs, float* y, int64_t ldy) {
    q5_0_r_tile<T>(w, cols / 32, xs, y, ldy);
  }
};
struct Q80CpuLayoutTiles {
  template <int T>
  static void tile(const uint8_t* w, int64_t cols, const Q8Activation* const* xs, float* y, int64_t ldy) {
    q8_0_r_tile<T>(w, cols / 32, xs, y, ldy);
  }
};
struct Q6kCpuLayoutTiles {
  template <int T>
  static void tile(const uint8_t* w, int64_t cols, const Q8Activation* const* xs, float* y, int64_t ldy) {
    q6_k_r_tile<T>(w, cols / 256, xs, y, ldy);
  }
};
struct Q6kTiles {
  template <int T>
  static void tile(const uint8_t* w, int64_t cols, const Q8Activation* const* xs, float* y, int64_t ldy) {
    q6_k_tile<T>(w, cols / 256, xs, y, ldy);
  }
};

// One token (decode): the T = 1 tile, so decode and prompts run the same arithmetic.
template <class K>
float one_token(const uint8_t* w, const Q8Activation& x, int64_t n) {
  const Q8Activation* xs[1] = {&x};
  float y = 0.0f;
  K::template tile<1>(w, n, xs, &y, 0);
  return y;
}

template <class K>
void tiled_rows(const TensorView& W, const Q8Activation* const* xs, int64_t n_tokens, float* Y, int64_t ldy, int64_t r0,
                int64_t r1) {
  constexpr int kT = 4;
  const int64_t cols = W.cols();
  const size_t row_bytes = dtype_bytes(W.dtype, static_cast<size_t>(cols));
  const auto* base = static_cast<const uint8_t*>(W.data);
  // Token blocks whose quantized activations stay in L2 while rows stream past them.
  const int64_t block = std::max<int64_t>(kT, (262144 / std::max<int64_t>(1, cols)) / kT * kT);
  for (int64_t t0 = 0; t0 < n_tokens; t0 += block) {
    const int64_t t1 = std::min(n_tokens, t0 + block);
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* w = base + static_cast<size_t>(r) * row_bytes;
      int64_t t = t0;
      for (; t + kT <= t1; t += kT) K::template tile<kT>(w, cols, xs + t, Y + t * ldy + r, ldy);
      for (; t + 2 <= t1; t += 2) K::template tile<2>(w, cols, xs + t, Y + t * ldy + r, ldy);
      for (; t < t1; ++t) K::template tile<1>(w, cols, xs + t, Y + t * ldy + r, ldy);
    }
  }
}

DotFn simd_kernel(DType t) {
  switch (t) {
    case DType::Q8_0: return one_token<Q8_0Tiles>;
    case DType::Q4_0: return simd_q4_0;
    case DType::Q4_K: return one_token<QkAffineTiles<false>>;
    case DType::Q4_K_R: return one_token<Q4kCpuLayoutTiles>;
    case DType::Q5_0_R: return one_token<Q50CpuLayoutTiles>;
    case DType::Q8_0_R: return one_token<Q80CpuLayoutTiles>;
    case DType::Q5_K: return one_token<QkAffineTiles<true>>;
    case DType::Q6_K: return one_token<Q6kTiles>;
    case DType::Q6_K_R: return one_token<Q6kCpuLayoutTiles>;
    case DType::Q4_1: return one_token<Q41Q5Tiles<0>>;
    case DType::Q5_0: return one_token<Q41Q5Tiles<1>>;
    case DType::Q5_1: return one_token<Q41Q5Tiles<2>>;
    case DType::IQ4_NL: return simd_iq4_nl;
    case DType::IQ4_XS: return simd_iq4_xs;
    case DType::Q2_K: return simd_q2_k;
    case DType::Q3_K: return simd_q3_k;
    default: return nullptr;
  }
}
#endif

void run(DotFn fn, const TensorView& W, const Q8Activation& x, float* y, int64_t r0, int64_t r1) {
  if (!fn) fail("matvec", W.name, std::string("dtype ") + to_string(W.dtype) + " is not a block-quantized type");
  const int64_t cols = W.cols();
  if (x.n != cols) fail("matvec", W.name, "x has " + std::to_string(x.n) + " values for " + std::to_string(cols) + " columns");
  if (cols % dtype_block_elems(W.dtype) != 0 || cols % 32 != 0)
    fail("matvec", W.name, "row length is not a whole number of blocks");
  if (super_blocks_for(W.dtype) && static_cast<int64_t>(x.qk.size()) != cols)
    fail("matvec", W.name, "x was quantized without the 256-value blocks this type needs");
  if ((W.dtype == DType::Q5_0_R || W.dtype == DType::Q8_0_R) && static_cast<int64_t>(x.qt.size()) != cols / 256 * 256)
    fail("matvec", W.name, "x was quantized without the regrouped codes Q5_0's CPU layout needs");
  if ((W.dtype == DType::Q4_K_R || W.dtype == DType::Q6_K_R) && static_cast<int64_t>(x.qp.size()) != cols)
    fail("matvec", W.name, "x was quantized without the regrouped codes this CPU layout needs");
  const size_t row_bytes = dtype_bytes(W.dtype, static_cast<size_t>(cols));
  const auto* base = static_cast<const uint8_t*>(W.data);
  for (int64_t r = r0; r < r1; ++r) y[r] = fn(base + static_cast<size_t>(r) * row_bytes, x, cols);
}

}  // namespace

namespace {

// One block of `len` values (32 or 256): d = max|x| / 127, q = round-half-even(x / d), and the sums
// of q over each 16. The AVX2 path does the same arithmetic eight lanes at a time: linear()
// quantizes every token before its threads start, so this is serial work.
void quantize_block(const float* x, int len, int8_t* q, float* d_out, int16_t* sum16) {
#ifdef MLASCOPE_QUANT_AVX2
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_setzero_ps();
  for (int i = 0; i < len; i += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  const float amax = _mm_cvtss_f32(m4);
#else
  float amax = 0.0f;
  for (int i = 0; i < len; ++i) amax = std::max(amax, std::fabs(x[i]));
#endif
  const float d = amax / 127.0f;
  const float id = d > 0.0f ? 1.0f / d : 0.0f;
  *d_out = d;
#ifdef MLASCOPE_QUANT_AVX2
  const __m256 vid = _mm256_set1_ps(id);
  for (int b = 0; b < len; b += 32) {
    __m256i v[4];
    for (int i = 0; i < 4; ++i) v[i] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + b + 8 * i), vid));
    // int32 -> int8 with saturation (values are within ±127), then undo the lane interleave of packs.
    const __m256i v01 = _mm256_packs_epi32(v[0], v[1]), v23 = _mm256_packs_epi32(v[2], v[3]);
    const __m256i q8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(v01, v23), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + b), q8);
    for (int h = 0; h < 2; ++h) {
      const __m256i s8 = _mm256_add_epi32(v[2 * h], v[2 * h + 1]);
      __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
      sum16[b / 16 + h] = static_cast<int16_t>(_mm_cvtsi128_si32(s4));
    }
  }
#else
  for (int b = 0; b < len; b += 16) {
    int s = 0;
    for (int i = b; i < b + 16; ++i) {
      q[i] = static_cast<int8_t>(std::nearbyint(x[i] * id));
      s += q[i];
    }
    sum16[b / 16] = static_cast<int16_t>(s);
  }
#endif
}

}  // namespace

namespace {
// 256 codes as 64 groups of four: group (j, m) (values 4m..4m+3 of the j-th 32) moves from 8j + m
// to 8m + j, an 8x8 transpose, which is Q4_K_R's and Q5_0_R's order of the weight codes.
void transpose_groups(const int8_t* in, int8_t* out) {
  uint32_t g[64];
  std::memcpy(g, in, 256);
  for (int m = 0; m < 8; ++m)
    for (int j = 0; j < 8; ++j) std::memcpy(out + 4 * (8 * m + j), &g[8 * j + m], 4);
}
}  // namespace

bool super_blocks_for(DType t) {
  return t == DType::Q4_K || t == DType::Q4_K_R || t == DType::Q5_K || t == DType::Q6_K || t == DType::Q6_K_R || t == DType::Q2_K || t == DType::Q3_K ||
         t == DType::IQ4_XS;
}

bool regrouped_for(DType t) {
  return t == DType::Q4_K_R || t == DType::Q5_0_R || t == DType::Q8_0_R || t == DType::Q6_K_R;
}

void quantize_activation(const float* x, int64_t n, Q8Activation& out, bool super_blocks, bool regrouped) {
  if (n % 32 != 0) fail("matvec", "", "activation length " + std::to_string(n) + " is not a multiple of 32");
  out.n = n;
  out.q.resize(static_cast<size_t>(n));
  out.d.resize(static_cast<size_t>(n / 32));
  out.sum16.resize(static_cast<size_t>(n / 16));
  for (int64_t b = 0; b < n / 32; ++b)
    quantize_block(x + b * 32, 32, out.q.data() + b * 32, out.d.data() + b, out.sum16.data() + b * 2);
  // qt / sum32 (Q5_0_R, Q8_0_R): the same 8x8 transpose of four-value groups, of q, per 256 values.
  out.qt.resize(regrouped ? static_cast<size_t>(n / 256 * 256) : 0);
  out.sum32.resize(regrouped ? static_cast<size_t>(n / 32) : 0);
  if (regrouped) {
    for (int64_t i = 0; i < n / 32; ++i)
      out.sum32[static_cast<size_t>(i)] = static_cast<int16_t>(out.sum16[static_cast<size_t>(2 * i)] + out.sum16[static_cast<size_t>(2 * i + 1)]);
    for (int64_t b = 0; b < n / 256; ++b) transpose_groups(out.q.data() + b * 256, out.qt.data() + b * 256);
  }
  const bool k = super_blocks && n % 256 == 0;
  out.qk.resize(k ? static_cast<size_t>(n) : 0);
  out.dk.resize(k ? static_cast<size_t>(n / 256) : 0);
  out.ksum16.resize(k ? static_cast<size_t>(n / 16) : 0);
  out.qp.resize(k && regrouped ? static_cast<size_t>(n) : 0);
  out.ksum32.resize(k ? static_cast<size_t>(n / 32) : 0);
  if (!k) return;
  for (int64_t b = 0; b < n / 256; ++b) {
    quantize_block(x + b * 256, 256, out.qk.data() + b * 256, out.dk.data() + b, out.ksum16.data() + b * 16);
    if (regrouped) transpose_groups(out.qk.data() + b * 256, out.qp.data() + b * 256);
  }
  for (int64_t i = 0; i < n / 32; ++i)
    out.ksum32[static_cast<size_t>(i)] = static_cast<int16_t>(out.ksum16[static_cast<size_t>(2 * i)] + out.ksum16[static_cast<size_t>(2 * i + 1)]);
}

bool matvec_quant_has_simd() {
#ifdef MLASCOPE_QUANT_AVX2
  return true;
#else
  return false;
#endif
}

void matvec_quant_portable(const TensorView& W, const Q8Activation& x, float* y, int64_t r0, int64_t r1) {
  run(portable_kernel(W.dtype), W, x, y, r0, r1);
}

void matvec_quant(const TensorView& W, const Q8Activation& x, float* y, int64_t r0, int64_t r1) {
#ifdef MLASCOPE_QUANT_AVX2
  // The tiled kernels' one-token tile, called in a loop over rows rather than through a function
  // pointer per row: small models have rows of a few blocks, where the call was a fifth of decode.
  if (matmat_quant_preferred(W.dtype)) {
    const Q8Activation* xs[1] = {&x};
    return matmat_quant(W, xs, 1, y, 0, r0, r1);
  }
  run(simd_kernel(W.dtype), W, x, y, r0, r1);
#else
  run(portable_kernel(W.dtype), W, x, y, r0, r1);
#endif
}

bool matmat_quant_preferred(DType t) {  // the tiled kernels win at every batch size measured (6 and 32 tokens)
  switch (t) {
    case DType::Q8_0: case DType::Q6_K: case DType::Q4_K: case DType::Q4_K_R: case DType::Q5_K: case DType::Q4_1:
    case DType::Q5_0: case DType::Q5_0_R: case DType::Q5_1: case DType::Q8_0_R: case DType::Q6_K_R: return true;
    default: return false;
  }
}

void matmat_quant(const TensorView& W, const Q8Activation* const* xs, int64_t n_tokens, float* Y, int64_t ldy,
                  int64_t r0, int64_t r1) {
#ifdef MLASCOPE_QUANT_AVX2
  const DotFn fn = simd_kernel(W.dtype);
#else
  const DotFn fn = portable_kernel(W.dtype);
#endif
  if (n_tokens <= 0) return;
  run(fn, W, *xs[0], Y, r0, r0);  // validates dtype and shapes once, computes nothing
#ifdef MLASCOPE_QUANT_AVX2
  switch (W.dtype) {
    case DType::Q8_0: return tiled_rows<Q8_0Tiles>(W, xs, n_tokens, Y, ldy, r0, r1);
    case DType::Q4_K: return tiled_rows<QkAffineTiles<false>>(W, xs, n_tokens, Y, ldy, r0, r1);
    case DType::Q4_K_R: return tiled_rows<Q4kCpuLayoutTiles>(W, xs, n_tokens, Y, ldy, r0, r1);
    case DType::Q5_0_R: return tiled_rows<Q50CpuLayoutTiles>(W, xs, n_tokens, Y, ldy, r0, r1);
    case DType::Q8_0_R: return tiled_rows<Q80CpuLayoutTiles>(W, xs, n_tokens, Y, ldy, r0, r1);
    case DType::Q5_K: return tiled_rows<QkAffineTiles<true>>(W, xs, n_tokens, Y, ldy, r0, r1);
    case DType::Q6_K: return tiled_rows<Q6kTiles>(W, xs, n_tokens, Y, ldy, r0, r1);
    case DType::Q6_K_R: return tiled_rows<Q6kCpuLayoutTiles>(W, xs, n_tokens, Y, ldy, r0, r1);
    case DType::Q4_1: return tiled_rows<Q41Q5Tiles<0>>(W, xs, n_tokens, Y, ldy, r0, r1);
    case DType::Q5_0: return tiled_rows<Q41Q5Tiles<1>>(W, xs, n_tokens, Y, ldy, r0, r1);
    case DType::Q5_1: return tiled_rows<Q41Q5Tiles<2>>(W, xs, n_tokens, Y, ldy, r0, r1);
    default: break;
  }
#endif
  const int64_t cols = W.cols();
  const size_t row_bytes = dtype_bytes(W.dtype, static_cast<size_t>(cols));
  const auto* base = static_cast<const uint8_t*>(W.data);
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = base + static_cast<size_t>(r) * row_bytes;
    for (int64_t t = 0; t < n_tokens; ++t) Y[t * ldy + r] = fn(row, *xs[t], cols);
  }
}

const Q8Activation* const* quantize_tokens(const float* X, int64_t ldx, int64_t cols, int64_t n, bool super_blocks,
                                           bool regrouped, QuantizedTokens& store) {
  if (static_cast<int64_t>(store.q.size()) < n) store.q.resize(static_cast<size_t>(n));
  store.ptr.resize(static_cast<size_t>(n));
  for (int64_t t = 0; t < n; ++t) {
    quantize_activation(X + t * ldx, cols, store.q[static_cast<size_t>(t)], super_blocks, regrouped);
    store.ptr[static_cast<size_t>(t)] = &store.q[static_cast<size_t>(t)];
  }
  return store.ptr.data();
}

void matmat_quant(const TensorView& W, const float* X, int64_t ldx, int64_t n_tokens, float* Y, int64_t ldy,
                  int64_t r0, int64_t r1) {
  thread_local QuantizedTokens store;
  matmat_quant(W, quantize_tokens(X, ldx, W.cols(), n_tokens, super_blocks_for(W.dtype), regrouped_for(W.dtype), store), n_tokens, Y, ldy, r0,
               r1);
}

void matvec_quant(const TensorView& W, const float* x, float* y, int64_t r0, int64_t r1) {
  // One buffer per thread: the dispatcher calls this from pool threads, each on its own rows.
  thread_local Q8Activation xq;
  quantize_activation(x, W.cols(), xq, super_blocks_for(W.dtype), regrouped_for(W.dtype));
  matvec_quant(W, xq, y, r0, r1);
}

}  // namespace mlascope
