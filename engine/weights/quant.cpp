// engine/weights/quant.cpp — GGUF block dequantization and quantization (reference scalar code;
// the fast paths work on the blocks directly in backend/cpu/matvec_quant.cpp).
#include "quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "../error.h"

namespace mlascope {

namespace {
inline uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline void wr16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v & 0xff);
  p[1] = static_cast<uint8_t>(v >> 8);
}
inline float f16_round(float x) { return f16_to_f32(f32_to_f16(x)); }

void dequant_q4k(const uint8_t* p, float* y) {
  const float d = f16_to_f32(rd16(p)), dmin = f16_to_f32(rd16(p + 2));
  const uint8_t* scales = p + 4;
  const uint8_t* qs = p + 16;
#if defined(__AVX2__) && defined(__FMA__)
  // Prompts widen Q4_K rows to float tiles (cpu::matmat): this loop is on their path.
  uint32_t packed[4];
  k_scales_mins(scales, packed);
  uint8_t sm[16];
  std::memcpy(sm, packed, 16);
  const __m128i nib = _mm_set1_epi8(0x0f);
  for (int c = 0; c < 4; ++c) {
    const __m128i raw[2] = {_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + c * 32)),
                            _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs + c * 32 + 16))};
    for (int h = 0; h < 2; ++h) {  // h 0: low nibbles = sub-block 2c, h 1: high nibbles = 2c+1
      const int j = 2 * c + h;
      const __m256 scale = _mm256_set1_ps(d * sm[j]), offset = _mm256_set1_ps(-dmin * sm[8 + j]);
      for (int half = 0; half < 2; ++half) {
        const __m128i codes = _mm_and_si128(h ? _mm_srli_epi16(raw[half], 4) : raw[half], nib);
        for (int e = 0; e < 2; ++e) {
          const __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(e ? _mm_srli_si128(codes, 8) : codes));
          _mm256_storeu_ps(y + c * 64 + h * 32 + half * 16 + e * 8, _mm256_fmadd_ps(v, scale, offset));
        }
      }
    }
  }
#else
  for (int c = 0; c < 4; ++c) {  // 64-value chunks: sub-blocks 2c (low nibbles), 2c+1 (high)
    uint8_t sc0, m0, sc1, m1;
    k_scale_min(2 * c, scales, &sc0, &m0);
    k_scale_min(2 * c + 1, scales, &sc1, &m1);
    for (int l = 0; l < 32; ++l) {
      y[c * 64 + l] = d * sc0 * (qs[c * 32 + l] & 0x0f) - dmin * m0;
      y[c * 64 + 32 + l] = d * sc1 * (qs[c * 32 + l] >> 4) - dmin * m1;
    }
  }
#endif
}

void dequant_q5k(const uint8_t* p, float* y) {
  const float d = f16_to_f32(rd16(p)), dmin = f16_to_f32(rd16(p + 2));
  const uint8_t* scales = p + 4;
  const uint8_t* qh = p + 16;
  const uint8_t* qs = p + 48;
  for (int c = 0; c < 4; ++c) {
    uint8_t sc0, m0, sc1, m1;
    k_scale_min(2 * c, scales, &sc0, &m0);
    k_scale_min(2 * c + 1, scales, &sc1, &m1);
    for (int l = 0; l < 32; ++l) {
      const int lo = (qs[c * 32 + l] & 0x0f) | (((qh[l] >> (2 * c)) & 1) << 4);
      const int hi = (qs[c * 32 + l] >> 4) | (((qh[l] >> (2 * c + 1)) & 1) << 4);
      y[c * 64 + l] = d * sc0 * lo - dmin * m0;
      y[c * 64 + 32 + l] = d * sc1 * hi - dmin * m1;
    }
  }
}

// Q6_K value e (0..255) of a block as its 6-bit unsigned code.
inline int q6_code(const uint8_t* ql, const uint8_t* qh, int e) {
  const int n = e / 128, r = e % 128, quarter = r / 32, l = r % 32;
  const uint8_t low = ql[n * 64 + (quarter & 1) * 32 + l];
  const int lo4 = quarter < 2 ? (low & 0x0f) : (low >> 4);
  const int hi2 = (qh[n * 32 + l] >> (2 * quarter)) & 3;
  return lo4 | (hi2 << 4);
}

void dequant_q6k(const uint8_t* p, float* y) {
  const uint8_t* ql = p;
  const uint8_t* qh = p + 128;
  const auto* sc = reinterpret_cast<const int8_t*>(p + 192);
  const float d = f16_to_f32(rd16(p + 208));
  for (int e = 0; e < 256; ++e) y[e] = d * sc[e / 16] * (q6_code(ql, qh, e) - 32);
}

// Q4_1 / Q5_0 / Q5_1: blocks of 32, value j and j+16 share byte j (low / high nibble); Q5 types
// keep the fifth bit of value i in bit i of a 32-bit little-endian word.
void dequant_q4_1(const uint8_t* p, float* y) {
  const float d = f16_to_f32(rd16(p)), m = f16_to_f32(rd16(p + 2));
  for (int i = 0; i < 16; ++i) {
    y[i] = d * static_cast<float>(p[4 + i] & 0x0f) + m;
    y[i + 16] = d * static_cast<float>(p[4 + i] >> 4) + m;
  }
}

template <bool kMin>
void dequant_q5(const uint8_t* p, float* y) {
  const float d = f16_to_f32(rd16(p));
  const float m = kMin ? f16_to_f32(rd16(p + 2)) : 0.0f;
  const uint8_t* qh = p + (kMin ? 4 : 2);
  const uint8_t* qs = qh + 4;
  const uint32_t h = static_cast<uint32_t>(qh[0]) | (static_cast<uint32_t>(qh[1]) << 8) |
                     (static_cast<uint32_t>(qh[2]) << 16) | (static_cast<uint32_t>(qh[3]) << 24);
  for (int i = 0; i < 16; ++i) {
    const int lo = (qs[i] & 0x0f) | static_cast<int>(((h >> i) & 1u) << 4);
    const int hi = (qs[i] >> 4) | static_cast<int>(((h >> (i + 16)) & 1u) << 4);
    if constexpr (kMin) {
      y[i] = d * static_cast<float>(lo) + m;
      y[i + 16] = d * static_cast<float>(hi) + m;
    } else {
      y[i] = d * static_cast<float>(lo - 16);
      y[i + 16] = d * static_cast<float>(hi - 16);
    }
  }
}

void dequant_iq4_nl(const uint8_t* p, float* y) {
  const float d = f16_to_f32(rd16(p));
  for (int i = 0; i < 16; ++i) {
    y[i] = d * static_cast<float>(kIq4nlValues[p[2 + i] & 0x0f]);
    y[i + 16] = d * static_cast<float>(kIq4nlValues[p[2 + i] >> 4]);
  }
}

void dequant_iq4_xs(const uint8_t* p, float* y) {
  const float d = f16_to_f32(rd16(p));
  const uint16_t scales_h = rd16(p + 2);
  const uint8_t* scales_l = p + 4;
  const uint8_t* qs = p + 8;
  for (int j = 0; j < 8; ++j, qs += 16, y += 32) {
    const float dl = d * static_cast<float>(iq4xs_scale(j, scales_l, scales_h) - 32);
    for (int i = 0; i < 16; ++i) {
      y[i] = dl * static_cast<float>(kIq4nlValues[qs[i] & 0x0f]);
      y[i + 16] = dl * static_cast<float>(kIq4nlValues[qs[i] >> 4]);
    }
  }
}

// Q2_K / Q3_K share the code layout: value e = 128n + 32k + l (n half, k 0..3, l 0..31) has its two
// low bits at bits 2k of qs[32n + l] and belongs to 16-value sub-block 8n + 2k + l/16.
void dequant_q2k(const uint8_t* p, float* y) {
  const uint8_t* scales = p;
  const uint8_t* qs = p + 16;
  const float d = f16_to_f32(rd16(p + 80)), dmin = f16_to_f32(rd16(p + 82));
  for (int e = 0; e < 256; ++e) {
    const int n = e / 128, k = (e % 128) / 32, l = e % 32;
    const uint8_t sc = scales[8 * n + 2 * k + l / 16];
    const int q = (qs[32 * n + l] >> (2 * k)) & 3;
    y[e] = d * static_cast<float>(sc & 0x0f) * static_cast<float>(q) - dmin * static_cast<float>(sc >> 4);
  }
}

void dequant_q3k(const uint8_t* p, float* y) {
  const uint8_t* hmask = p;
  const uint8_t* qs = p + 32;
  const uint8_t* scales = p + 96;
  const float d = f16_to_f32(rd16(p + 108));
  int8_t sc[16];
  for (int j = 0; j < 16; ++j) sc[j] = static_cast<int8_t>(q3k_scale(j, scales) - 32);
  for (int e = 0; e < 256; ++e) {
    const int n = e / 128, k = (e % 128) / 32, l = e % 32;
    const int low = (qs[32 * n + l] >> (2 * k)) & 3;
    const int high = (hmask[l] >> (4 * n + k)) & 1;  // set: +0, clear: -4
    y[e] = d * static_cast<float>(sc[8 * n + 2 * k + l / 16]) * static_cast<float>(low - (high ? 0 : 4));
  }
}

#if defined(__AVX2__) && defined(__FMA__)
// Prompts widen rows of the 32-value types to float tiles (cpu::matmat): 32 codes at a time.
// codes: byte i = value i (signed when kSigned); y[i] = d * code + m.
template <bool kSigned>
inline void store_codes(__m256i codes, float d, float m, float* y) {
  const __m256 vd = _mm256_set1_ps(d), vm = _mm256_set1_ps(m);
  const __m128i lo = _mm256_castsi256_si128(codes), hi = _mm256_extracti128_si256(codes, 1);
  const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
  for (int k = 0; k < 4; ++k) {
    const __m256i w = kSigned ? _mm256_cvtepi8_epi32(parts[k]) : _mm256_cvtepu8_epi32(parts[k]);
    _mm256_storeu_ps(y + 8 * k, _mm256_fmadd_ps(_mm256_cvtepi32_ps(w), vd, vm));
  }
}
inline __m256i nibble_codes(const uint8_t* qs) {  // values 0..15 = low nibbles, 16..31 = high
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i nib = _mm_set1_epi8(0x0f);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(raw, 4), nib), _mm_and_si128(raw, nib));
}
inline __m256i fifth_bit_codes(const uint8_t* qh) {  // 0x10 in byte i when bit i is set
  uint32_t h;
  std::memcpy(&h, qh, 4);
  const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(h)),
                                             _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202,
                                                                0x0303030303030303));
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
}
inline __m256i iq4_levels(__m256i nibbles) {
  const __m256i table = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4nlValues)));
  return _mm256_shuffle_epi8(table, nibbles);
}

// One block of a 32-value type (or IQ4_XS's 256) to floats; false for types without a fast path.
bool dequant_block_simd(DType t, const uint8_t* p, float* y) {
  switch (t) {
    case DType::Q8_0:
      store_codes<true>(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2)), f16_to_f32(rd16(p)), 0.0f, y);
      return true;
    case DType::Q4_0: {
      const float d = f16_to_f32(rd16(p));
      store_codes<false>(nibble_codes(p + 2), d, -8.0f * d, y);
      return true;
    }
    case DType::Q4_1:
      store_codes<false>(nibble_codes(p + 4), f16_to_f32(rd16(p)), f16_to_f32(rd16(p + 2)), y);
      return true;
    case DType::Q5_0: {
      const float d = f16_to_f32(rd16(p));
      store_codes<false>(_mm256_or_si256(nibble_codes(p + 6), fifth_bit_codes(p + 2)), d, -16.0f * d, y);
      return true;
    }
    case DType::Q5_1:
      store_codes<false>(_mm256_or_si256(nibble_codes(p + 8), fifth_bit_codes(p + 4)), f16_to_f32(rd16(p)),
                         f16_to_f32(rd16(p + 2)), y);
      return true;
    case DType::IQ4_NL:
      store_codes<true>(iq4_levels(nibble_codes(p + 2)), f16_to_f32(rd16(p)), 0.0f, y);
      return true;
    case DType::IQ4_XS: {
      const float d = f16_to_f32(rd16(p));
      const uint16_t sh = rd16(p + 2);
      for (int j = 0; j < 8; ++j)
        store_codes<true>(iq4_levels(nibble_codes(p + 8 + 16 * j)), d * static_cast<float>(iq4xs_scale(j, p + 4, sh) - 32),
                          0.0f, y + 32 * j);
      return true;
    }
    default: return false;
  }
}
#endif

void quant_q8_0(const float* x, uint8_t* p) {
  float amax = 0.0f;
  for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.0f;
  const float id = d > 0.0f ? 1.0f / d : 0.0f;
  wr16(p, f32_to_f16(d));
  for (int i = 0; i < 32; ++i) p[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(std::lround(x[i] * id)));
}

void quant_q4_0(const float* x, uint8_t* p) {
  // The value of largest magnitude maps to -8 so the full 16 levels are used on that side.
  float vmax = 0.0f;
  for (int i = 0; i < 32; ++i)
    if (std::fabs(x[i]) > std::fabs(vmax)) vmax = x[i];
  const float d = vmax / -8.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  wr16(p, f32_to_f16(d));
  for (int i = 0; i < 16; ++i) {
    const int a = std::clamp(static_cast<int>(std::lround(x[i] * id)) + 8, 0, 15);
    const int b = std::clamp(static_cast<int>(std::lround(x[i + 16] * id)) + 8, 0, 15);
    p[2 + i] = static_cast<uint8_t>(a | (b << 4));
  }
}

// ---- K-quant rounding: least-squares searches (plain squared error, no importance weights) ----
//
// Affine sub-blocks (Q4_K, Q5_K): x ≈ s*q - m with q in [0, nmax], s >= 0, m >= 0 (the format stores
// the offset as a non-negative min). For a fixed code assignment the best (s, m) is a 2x2 linear
// least-squares solve; the codes are tried from a sweep of grid scales around (max - min) / nmax and
// improved by re-rounding against the fitted (s, m) (Lloyd steps). Then the 8 (s, m) pairs become
// 6-bit integers under two f16 super-scales, and every sub-block's integer pair is refined by a
// small neighbourhood search with the codes re-rounded, since that rounding costs more than the
// code rounding on typical weights.

// The grid: kAffineSteps scales (max - min) / (nmax + kAffineStep * k) around k = 0, Lloyd steps on the
// best only. bench_quant_rmse on the demo model, RMSE relative to llama-quantize's: Q4_K 0.983, Q5_K 0.960
// (21 steps of 0.1 with Lloyd steps on each and a 5x5 scale/min neighbourhood: 0.977, 0.954, 2.6x the time).
constexpr int kAffineSteps = 16;
constexpr float kAffineStep = 0.125f;

struct AffineFit {
  float s = 0.0f, m = 0.0f, err = 0.0f;
};

// Codes for fixed (s, m) and the squared error they leave.
inline float affine_codes(const float* x, int n, int nmax, float s, float m, uint8_t* q) {
  const float inv = s > 0.0f ? 1.0f / s : 0.0f;
  float err = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int c = std::clamp(static_cast<int>(std::nearbyint((x[i] + m) * inv)), 0, nmax);
    q[i] = static_cast<uint8_t>(c);
    const float e = s * static_cast<float>(c) - m - x[i];
    err += e * e;
  }
  return err;
}

// The least-squares (s, m) for codes q (m clamped at 0, s at 0), and its error.
inline AffineFit affine_solve(const float* x, int n, const uint8_t* q) {
  double sq = 0, sqq = 0, sx = 0, sxq = 0;
  for (int i = 0; i < n; ++i) {
    sq += q[i];
    sqq += static_cast<double>(q[i]) * q[i];
    sx += x[i];
    sxq += static_cast<double>(x[i]) * q[i];
  }
  AffineFit f;
  const double det = n * sqq - sq * sq;
  double s = 0, b = 0;  // x ≈ s q + b
  if (det > 0) {
    s = (n * sxq - sq * sx) / det;
    b = (sqq * sx - sq * sxq) / det;
  }
  if (b > 0 || det <= 0) {  // offset must be <= 0: fit through the origin
    b = 0;
    s = sqq > 0 ? sxq / sqq : 0;
  }
  if (s < 0) s = 0;
  f.s = static_cast<float>(s);
  f.m = static_cast<float>(-b);
  float err = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float e = f.s * static_cast<float>(q[i]) - f.m - x[i];
    err += e * e;
  }
  f.err = err;
  return f;
}

AffineFit best_affine(const float* x, int n, int nmax) {
  float lo = x[0], hi = x[0];
  for (int i = 1; i < n; ++i) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
  lo = std::min(lo, 0.0f);
  AffineFit best;
  uint8_t q[32];
  best.err = affine_codes(x, n, nmax, 0.0f, 0.0f, q);  // all codes 0: x ≈ 0
  if (hi <= lo) return best;
  for (int step = -kAffineSteps / 2; step < kAffineSteps - kAffineSteps / 2; ++step) {
    const float s0 = (hi - lo) / (static_cast<float>(nmax) + kAffineStep * static_cast<float>(step));
    affine_codes(x, n, nmax, s0, -lo, q);
    const AffineFit f = affine_solve(x, n, q);
    if (f.err < best.err) best = f;
  }
  for (int it = 0; it < 4; ++it) {  // Lloyd on the best: re-round against the fit, refit while it improves
    affine_codes(x, n, nmax, best.s, best.m, q);
    const AffineFit g = affine_solve(x, n, q);
    if (!(g.err < best.err)) break;
    best = g;
  }
  return best;
}

// Q4_K / Q5_K block: 8 sub-blocks of 32; writes d, dmin and the packed 6-bit scales, returns codes.
void quant_k_affine(const float* x, uint8_t* p, int nmax, uint8_t codes[256]) {
  AffineFit fit[8];
  for (int j = 0; j < 8; ++j) fit[j] = best_affine(x + 32 * j, 32, nmax);
  float smax = 0.0f, mmax = 0.0f;
  for (const AffineFit& f : fit) smax = std::max(smax, f.s), mmax = std::max(mmax, f.m);
  const float d = f16_round(smax / 63.0f), dmin = f16_round(mmax / 63.0f);
  wr16(p, f32_to_f16(d));
  wr16(p + 2, f32_to_f16(dmin));
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    const float* xj = x + 32 * j;
    const int s0 = d > 0.0f ? std::clamp(static_cast<int>(std::nearbyint(fit[j].s / d)), 0, 63) : 0;
    const int m0 = dmin > 0.0f ? std::clamp(static_cast<int>(std::nearbyint(fit[j].m / dmin)), 0, 63) : 0;
    float best = INFINITY;
    uint8_t q[32];
    for (int ds = -1; ds <= 1; ++ds)
      for (int dm = -1; dm <= 1; ++dm) {
        const int si = s0 + ds, mi = m0 + dm;
        if (si < 0 || si > 63 || mi < 0 || mi > 63) continue;
        if ((d == 0.0f && si != 0) || (dmin == 0.0f && mi != 0)) continue;
        const float err = affine_codes(xj, 32, nmax, d * static_cast<float>(si), dmin * static_cast<float>(mi), q);
        if (err < best) {
          best = err;
          ls[j] = static_cast<uint8_t>(si);
          lm[j] = static_cast<uint8_t>(mi);
          std::memcpy(codes + 32 * j, q, 32);
        }
      }
  }
  uint8_t* s = p + 4;
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<uint8_t>(ls[j] | ((ls[j + 4] >> 4) << 6));
    s[j + 4] = static_cast<uint8_t>(lm[j] | ((lm[j + 4] >> 4) << 6));
    s[j + 8] = static_cast<uint8_t>((ls[j + 4] & 0x0f) | ((lm[j + 4] & 0x0f) << 4));
  }
}

void quant_q4k(const float* x, uint8_t* p) {
  uint8_t q[256];
  quant_k_affine(x, p, 15, q);
  uint8_t* qs = p + 16;
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) qs[c * 32 + l] = static_cast<uint8_t>(q[c * 64 + l] | (q[c * 64 + 32 + l] << 4));
}

void quant_q5k(const float* x, uint8_t* p) {
  uint8_t q[256];
  quant_k_affine(x, p, 31, q);
  uint8_t* qh = p + 16;
  uint8_t* qs = p + 48;
  std::memset(qh, 0, 32);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) {
      const uint8_t a = q[c * 64 + l], b = q[c * 64 + 32 + l];
      qs[c * 32 + l] = static_cast<uint8_t>((a & 0x0f) | ((b & 0x0f) << 4));
      qh[l] = static_cast<uint8_t>(qh[l] | ((a >> 4) << (2 * c)) | ((b >> 4) << (2 * c + 1)));
    }
}

// Symmetric sub-blocks (Q6_K): x ≈ s*q with q in [-32, 31] and s of either sign (int8 scales), so
// the value of largest magnitude may take the extra level -32. For a fixed code assignment the best
// s is sum(x q) / sum(q q); codes come from a sweep of grid scales around 32 / max|x|.
inline float symmetric_codes(const float* x, int n, float s, int8_t* q) {
  const float inv = s != 0.0f ? 1.0f / s : 0.0f;
  float err = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int c = std::clamp(static_cast<int>(std::nearbyint(x[i] * inv)), -32, 31);
    q[i] = static_cast<int8_t>(c);
    const float e = s * static_cast<float>(c) - x[i];
    err += e * e;
  }
  return err;
}

float best_symmetric(const float* x, int n) {
  float amax = 0.0f;
  for (int i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  if (amax == 0.0f) return 0.0f;
  float best_s = 0.0f, best_err = INFINITY;
  int8_t q[16];
  for (int sign = -1; sign <= 1; sign += 2)
    for (int step = 0; step <= 24; ++step) {
      const float s0 = static_cast<float>(sign) * amax / (29.0f + 0.125f * static_cast<float>(step));
      symmetric_codes(x, n, s0, q);
      double sxq = 0, sqq = 0;
      for (int i = 0; i < n; ++i) sxq += static_cast<double>(x[i]) * q[i], sqq += static_cast<double>(q[i]) * q[i];
      if (sqq == 0) continue;
      const float s = static_cast<float>(sxq / sqq);
      const float err = symmetric_codes(x, n, s, q);
      if (err < best_err) best_err = err, best_s = s;
    }
  return best_s;
}

void quant_q6k(const float* x, uint8_t* p) {
  float scale[16];
  float amax = 0.0f;
  for (int j = 0; j < 16; ++j) {
    scale[j] = best_symmetric(x + 16 * j, 16);
    amax = std::max(amax, std::fabs(scale[j]));
  }
  const float d = f16_round(amax / 127.0f);
  uint8_t* ql = p;
  uint8_t* qh = p + 128;
  auto* sc = reinterpret_cast<int8_t*>(p + 192);
  wr16(p + 208, f32_to_f16(d));
  std::memset(ql, 0, 192);
  int8_t codes[256];
  for (int j = 0; j < 16; ++j) {
    // the integer scale and its neighbours, codes re-rounded for each
    const int s0 = d > 0.0f ? std::clamp(static_cast<int>(std::nearbyint(scale[j] / d)), -127, 127) : 0;
    float best = INFINITY;
    int8_t q[16];
    for (int ds = -2; ds <= 2; ++ds) {
      const int si = s0 + ds;
      if (si < -127 || si > 127 || (d == 0.0f && si != 0)) continue;
      const float err = symmetric_codes(x + 16 * j, 16, d * static_cast<float>(si), q);
      if (err < best) {
        best = err;
        sc[j] = static_cast<int8_t>(si);
        std::memcpy(codes + 16 * j, q, 16);
      }
    }
  }
  for (int e = 0; e < 256; ++e) {
    const int code = codes[e] + 32;
    const int n = e / 128, r = e % 128, quarter = r / 32, l = r % 32;
    uint8_t& low = ql[n * 64 + (quarter & 1) * 32 + l];
    low = static_cast<uint8_t>(low | (quarter < 2 ? (code & 0x0f) : ((code & 0x0f) << 4)));
    qh[n * 32 + l] = static_cast<uint8_t>(qh[n * 32 + l] | ((code >> 4) << (2 * quarter)));
  }
}

// Q4_1 / Q5_1: x = d*q + m over the block's range (m = min, d = range / nmax); Q5_0: the value of
// largest magnitude maps to -16, as Q4_0's to -8. Round to nearest: llama.cpp's reference quantizers
// do the same for these types.
template <int kNmax>
void quant_affine32(const float* x, uint8_t* p, uint8_t q[32]) {
  float lo = x[0], hi = x[0];
  for (int i = 1; i < 32; ++i) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
  const float d = (hi - lo) / kNmax;
  const float id = d > 0.0f ? 1.0f / d : 0.0f;
  wr16(p, f32_to_f16(d));
  wr16(p + 2, f32_to_f16(lo));
  for (int i = 0; i < 32; ++i) q[i] = static_cast<uint8_t>(std::clamp(static_cast<int>(std::nearbyint((x[i] - lo) * id)), 0, kNmax));
}

void pack_nibbles(const uint8_t q[32], uint8_t* qs) {
  for (int i = 0; i < 16; ++i) qs[i] = static_cast<uint8_t>((q[i] & 0x0f) | ((q[i + 16] & 0x0f) << 4));
}
void pack_fifth_bits(const uint8_t q[32], uint8_t* qh) {
  uint32_t h = 0;
  for (int i = 0; i < 32; ++i) h |= static_cast<uint32_t>((q[i] >> 4) & 1) << i;
  for (int b = 0; b < 4; ++b) qh[b] = static_cast<uint8_t>(h >> (8 * b));
}

void quant_q4_1(const float* x, uint8_t* p) {
  uint8_t q[32];
  quant_affine32<15>(x, p, q);
  pack_nibbles(q, p + 4);
}

void quant_q5_1(const float* x, uint8_t* p) {
  uint8_t q[32];
  quant_affine32<31>(x, p, q);
  pack_fifth_bits(q, p + 4);
  pack_nibbles(q, p + 8);
}

void quant_q5_0(const float* x, uint8_t* p) {
  float vmax = 0.0f;
  for (int i = 0; i < 32; ++i)
    if (std::fabs(x[i]) > std::fabs(vmax)) vmax = x[i];
  const float d = vmax / -16.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  wr16(p, f32_to_f16(d));
  uint8_t q[32];
  for (int i = 0; i < 32; ++i) q[i] = static_cast<uint8_t>(std::clamp(static_cast<int>(std::nearbyint(x[i] * id)) + 16, 0, 31));
  pack_fifth_bits(q, p + 2);
  pack_nibbles(q, p + 6);
}

}  // namespace

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(src);
  const int64_t be = dtype_block_elems(t);
  const int64_t bb = dtype_block_bytes(t);
  if (be <= 1 || n % be != 0) fail("quant", to_string(t), "row length is not a whole number of blocks");
  if (t == DType::Q5_0_R || t == DType::Q8_0_R) {  // groups of 8 blocks: back to the file's layout first
    thread_local std::vector<uint8_t> row;
    row.resize(dtype_bytes(t, static_cast<size_t>(n)));
    if (t == DType::Q5_0_R) q5_0_row_from_cpu_layout(p, row.data(), n / 32);
    else q8_0_row_from_cpu_layout(p, row.data(), n / 32);
    return dequantize_row(t == DType::Q5_0_R ? DType::Q5_0 : DType::Q8_0, row.data(), dst, n);
  }
  for (int64_t b = 0; b < n / be; ++b, p += bb, dst += be) {
#if defined(__AVX2__) && defined(__FMA__)
    if (dequant_block_simd(t, p, dst)) continue;
#endif
    switch (t) {
      case DType::Q8_0: {
        const float d = f16_to_f32(rd16(p));
        for (int i = 0; i < 32; ++i) dst[i] = d * static_cast<float>(static_cast<int8_t>(p[2 + i]));
        break;
      }
      case DType::Q4_0: {
        const float d = f16_to_f32(rd16(p));
        for (int i = 0; i < 16; ++i) {
          dst[i] = d * static_cast<float>((p[2 + i] & 0x0f) - 8);
          dst[i + 16] = d * static_cast<float>((p[2 + i] >> 4) - 8);
        }
        break;
      }
      case DType::Q4_K: dequant_q4k(p, dst); break;
      case DType::Q4_K_R: {
        uint8_t block[144];
        q4_k_from_cpu_layout(p, block);
        dequant_q4k(block, dst);
        break;
      }
      case DType::Q5_K: dequant_q5k(p, dst); break;
      case DType::Q6_K: dequant_q6k(p, dst); break;
      case DType::Q6_K_R: {
        uint8_t block[210];
        q6_k_from_cpu_layout(p, block);
        dequant_q6k(block, dst);
        break;
      }
      case DType::Q4_1: dequant_q4_1(p, dst); break;
      case DType::Q5_0: dequant_q5<false>(p, dst); break;
      case DType::Q5_1: dequant_q5<true>(p, dst); break;
      case DType::Q2_K: dequant_q2k(p, dst); break;
      case DType::Q3_K: dequant_q3k(p, dst); break;
      case DType::IQ4_NL: dequant_iq4_nl(p, dst); break;
      case DType::IQ4_XS: dequant_iq4_xs(p, dst); break;
      default: fail("quant", to_string(t), "is not a block type");
    }
  }
}

namespace {
// out chunk c, word i = nibble plane (i % 2) of in chunk i/2's words 2c (low) and 2c+1 (high).
void q4_k_reorder(const uint8_t* in, uint8_t* out) {
  std::memcpy(out, in, 16);
  uint32_t w[32], o[32];
  std::memcpy(w, in + 16, 128);
  for (int c = 0; c < 4; ++c)
    for (int i = 0; i < 8; ++i) {
      const int shift = 4 * (i % 2);
      const uint32_t lo = (w[8 * (i / 2) + 2 * c] >> shift) & 0x0f0f0f0fu;
      const uint32_t hi = (w[8 * (i / 2) + 2 * c + 1] >> shift) & 0x0f0f0f0fu;
      o[8 * c + i] = lo | (hi << 4);
    }
  std::memcpy(out + 16, o, 128);
}
}  // namespace

void q4_k_to_cpu_layout(const uint8_t* in, uint8_t* out) { q4_k_reorder(in, out); }
void q4_k_from_cpu_layout(const uint8_t* in, uint8_t* out) { q4_k_reorder(in, out); }

namespace {
// A Q5_0 block's value i (0..31) as its 5-bit code.
inline int q5_0_code(const uint8_t* b, int i) {
  uint32_t qh;
  std::memcpy(&qh, b + 2, 4);
  return ((b[6 + i % 16] >> (4 * (i / 16))) & 0x0f) | static_cast<int>(((qh >> i) & 1u) << 4);
}
}  // namespace

void q5_0_row_to_cpu_layout(const uint8_t* in, uint8_t* out, int64_t nb) {
  const int64_t groups = nb / 8;
  for (int64_t g = 0; g < groups; ++g, in += 176, out += 176) {
    uint32_t masks[8] = {};
    for (int j = 0; j < 8; ++j) std::memcpy(out + 2 * j, in + 22 * j, 2);
    for (int c = 0; c < 4; ++c)
      for (int j = 0; j < 8; ++j)
        for (int p = 0; p < 4; ++p) {
          const int lo = q5_0_code(in + 22 * j, 8 * c + p), hi = q5_0_code(in + 22 * j, 8 * c + 4 + p);
          out[16 + 32 * c + 4 * j + p] = static_cast<uint8_t>((lo & 0x0f) | ((hi & 0x0f) << 4));
          masks[2 * c] |= static_cast<uint32_t>(lo >> 4) << (4 * j + p);
          masks[2 * c + 1] |= static_cast<uint32_t>(hi >> 4) << (4 * j + p);
        }
    std::memcpy(out + 144, masks, 32);
  }
  std::memcpy(out, in, static_cast<size_t>(nb % 8) * 22);
}

void q5_0_row_from_cpu_layout(const uint8_t* in, uint8_t* out, int64_t nb) {
  const int64_t groups = nb / 8;
  for (int64_t g = 0; g < groups; ++g, in += 176, out += 176) {
    uint32_t masks[8];
    std::memcpy(masks, in + 144, 32);
    for (int j = 0; j < 8; ++j) {
      uint8_t* b = out + 22 * j;
      std::memcpy(b, in + 2 * j, 2);
      uint32_t qh = 0;
      std::memset(b + 6, 0, 16);
      for (int i = 0; i < 32; ++i) {
        const int c = i / 8, high = (i % 8) / 4, p = i % 4;
        const int code = ((in[16 + 32 * c + 4 * j + p] >> (4 * high)) & 0x0f) |
                         static_cast<int>(((masks[2 * c + high] >> (4 * j + p)) & 1u) << 4);
        b[6 + i % 16] |= static_cast<uint8_t>((code & 0x0f) << (4 * (i / 16)));
        qh |= static_cast<uint32_t>(code >> 4) << i;
      }
      std::memcpy(b + 2, &qh, 4);
    }
  }
  std::memcpy(out, in, static_cast<size_t>(nb % 8) * 22);
}

void q8_0_row_to_cpu_layout(const uint8_t* in, uint8_t* out, int64_t nb) {
  for (int64_t g = 0; g < nb / 8; ++g, in += 272, out += 272)
    for (int j = 0; j < 8; ++j) {
      std::memcpy(out + 2 * j, in + 34 * j, 2);
      for (int i = 0; i < 32; ++i) out[16 + 32 * (i / 4) + 4 * j + i % 4] = static_cast<uint8_t>(in[34 * j + 2 + i] ^ 0x80);
    }
  std::memcpy(out, in, static_cast<size_t>(nb % 8) * 34);
}

void q8_0_row_from_cpu_layout(const uint8_t* in, uint8_t* out, int64_t nb) {
  for (int64_t g = 0; g < nb / 8; ++g, in += 272, out += 272)
    for (int j = 0; j < 8; ++j) {
      std::memcpy(out + 34 * j, in + 2 * j, 2);
      for (int i = 0; i < 32; ++i) out[34 * j + 2 + i] = static_cast<uint8_t>(in[16 + 32 * (i / 4) + 4 * j + i % 4] ^ 0x80);
    }
  std::memcpy(out, in, static_cast<size_t>(nb % 8) * 34);
}

namespace {
// A Q6_K block's value i (0..255) as its 6-bit code (ggml's layout: per half of 128, ql runs of
// 64 bytes and qh runs of 32, four values from each byte position l).
inline int q6_k_code(const uint8_t* b, int i) {
  const int half = i / 128, k = i % 128, quarter = k / 32, l = k % 32;
  const uint8_t* ql = b + 64 * half;
  const uint8_t* qh = b + 128 + 32 * half;
  const int lo = ((ql[l + 32 * (quarter & 1)] >> (4 * (quarter >> 1))) & 0x0f);
  return lo | (((qh[l] >> (2 * quarter)) & 3) << 4);
}
}  // namespace

void q6_k_to_cpu_layout(const uint8_t* in, uint8_t* out) {
  std::memset(out, 0, 192);
  for (int m = 0; m < 8; ++m)
    for (int j = 0; j < 8; ++j)
      for (int p = 0; p < 4; ++p) {
        const int code = q6_k_code(in, 32 * j + 4 * m + p), byte = 4 * j + p;
        out[32 * (m / 2) + byte] |= static_cast<uint8_t>((code & 0x0f) << (4 * (m % 2)));
        out[128 + 32 * (m / 4) + byte] |= static_cast<uint8_t>((code >> 4) << (2 * (m % 4)));
      }
  std::memcpy(out + 192, in + 192, 18);
}

void q6_k_from_cpu_layout(const uint8_t* in, uint8_t* out) {
  std::memset(out, 0, 192);
  for (int m = 0; m < 8; ++m)
    for (int j = 0; j < 8; ++j)
      for (int p = 0; p < 4; ++p) {
        const int byte = 4 * j + p;
        const int code = ((in[32 * (m / 2) + byte] >> (4 * (m % 2))) & 0x0f) | (((in[128 + 32 * (m / 4) + byte] >> (2 * (m % 4))) & 3) << 4);
        const int i = 32 * j + 4 * m + p, half = i / 128, k = i % 128, quarter = k / 32, l = k % 32;
        out[64 * half + l + 32 * (quarter & 1)] |= static_cast<uint8_t>((code & 0x0f) << (4 * (quarter >> 1)));
        out[128 + 32 * half + l] |= static_cast<uint8_t>((code >> 4) << (2 * quarter));
      }
  std::memcpy(out + 192, in + 192, 18);
}

DType cpu_layout_of(DType t) {
  switch (t) {
    case DType::Q4_K: return DType::Q4_K_R;
    case DType::Q6_K: return DType::Q6_K_R;
    case DType::Q5_0: return DType::Q5_0_R;
    case DType::Q8_0: return DType::Q8_0_R;
    default: return t;
  }
}

void row_to_cpu_layout(DType t, const uint8_t* in, uint8_t* out, int64_t n) {
  switch (t) {
    case DType::Q4_K:
      for (int64_t b = 0; b < n / 256; ++b) q4_k_to_cpu_layout(in + 144 * b, out + 144 * b);
      return;
    case DType::Q5_0: return q5_0_row_to_cpu_layout(in, out, n / 32);
    case DType::Q8_0: return q8_0_row_to_cpu_layout(in, out, n / 32);
    case DType::Q6_K:
      for (int64_t b = 0; b < n / 256; ++b) q6_k_to_cpu_layout(in + 210 * b, out + 210 * b);
      return;
    default: std::memcpy(out, in, dtype_bytes(t, static_cast<size_t>(n)));
  }
}

void quantize_row(DType t, const float* src, void* dst, int64_t n) {
  auto* p = static_cast<uint8_t*>(dst);
  switch (t) {
    case DType::F32: std::memcpy(p, src, static_cast<size_t>(n) * 4); return;
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) wr16(p + 2 * i, f32_to_f16(src[i]));
      return;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) wr16(p + 2 * i, f32_to_bf16(src[i]));
      return;
    default: break;
  }
  const int64_t be = dtype_block_elems(t), bb = dtype_block_bytes(t);
  if (be <= 1) fail("quant", to_string(t), "cannot be produced by the exporter");
  if (n % be != 0) fail("quant", to_string(t), "row length " + std::to_string(n) + " is not a whole number of blocks");
  for (int64_t b = 0; b < n / be; ++b, p += bb, src += be) {
    switch (t) {
      case DType::Q8_0: quant_q8_0(src, p); break;
      case DType::Q4_0: quant_q4_0(src, p); break;
      case DType::Q4_K: quant_q4k(src, p); break;
      case DType::Q5_K: quant_q5k(src, p); break;
      case DType::Q6_K: quant_q6k(src, p); break;
      case DType::Q4_1: quant_q4_1(src, p); break;
      case DType::Q5_0: quant_q5_0(src, p); break;
      case DType::Q5_1: quant_q5_1(src, p); break;
      default: fail("quant", to_string(t), "cannot be produced by the exporter");
    }
  }
}

}  // namespace mlascope
