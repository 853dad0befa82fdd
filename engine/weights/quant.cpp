// engine/weights/quant.cpp — GGUF block dequantization and quantization (reference scalar code;
// the fast paths work on the blocks directly in backend/cpu/matvec_quant.cpp).
#include "quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

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

// Q4_K / Q5_K: per 32-value sub-block an affine code q in [0, nmax], x ≈ d*sc*q - dmin*m.
void quant_k_affine(const float* x, uint8_t* p, int nmax, uint8_t codes[256]) {
  float scale[8], minv[8];
  for (int j = 0; j < 8; ++j) {
    float lo = 0.0f, hi = 0.0f;  // the range always contains 0 so m >= 0, as the format requires
    for (int l = 0; l < 32; ++l) {
      lo = std::min(lo, x[j * 32 + l]);
      hi = std::max(hi, x[j * 32 + l]);
    }
    scale[j] = (hi - lo) / static_cast<float>(nmax);
    minv[j] = -lo;
  }
  const float d = f16_round(*std::max_element(scale, scale + 8) / 63.0f);
  const float dmin = f16_round(*std::max_element(minv, minv + 8) / 63.0f);
  wr16(p, f32_to_f16(d));
  wr16(p + 2, f32_to_f16(dmin));
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; ++j) {
    ls[j] = d > 0.0f ? static_cast<uint8_t>(std::clamp<long>(std::lround(scale[j] / d), 0, 63)) : 0;
    lm[j] = dmin > 0.0f ? static_cast<uint8_t>(std::clamp<long>(std::lround(minv[j] / dmin), 0, 63)) : 0;
  }
  uint8_t* s = p + 4;
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<uint8_t>(ls[j] | ((ls[j + 4] >> 4) << 6));
    s[j + 4] = static_cast<uint8_t>(lm[j] | ((lm[j + 4] >> 4) << 6));
    s[j + 8] = static_cast<uint8_t>((ls[j + 4] & 0x0f) | ((lm[j + 4] & 0x0f) << 4));
  }
  for (int j = 0; j < 8; ++j) {
    const float de = d * ls[j], me = dmin * lm[j];
    for (int l = 0; l < 32; ++l) {
      const long q = de > 0.0f ? std::lround((x[j * 32 + l] + me) / de) : 0;
      codes[j * 32 + l] = static_cast<uint8_t>(std::clamp<long>(q, 0, nmax));
    }
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

void quant_q6k(const float* x, uint8_t* p) {
  float scale[16];
  for (int j = 0; j < 16; ++j) {
    float amax = 0.0f;
    for (int l = 0; l < 16; ++l) amax = std::max(amax, std::fabs(x[j * 16 + l]));
    scale[j] = amax / 31.0f;
  }
  const float d = f16_round(*std::max_element(scale, scale + 16) / 127.0f);
  uint8_t* ql = p;
  uint8_t* qh = p + 128;
  auto* sc = reinterpret_cast<int8_t*>(p + 192);
  wr16(p + 208, f32_to_f16(d));
  std::memset(ql, 0, 192);
  for (int j = 0; j < 16; ++j) sc[j] = d > 0.0f ? static_cast<int8_t>(std::clamp<long>(std::lround(scale[j] / d), 0, 127)) : 0;
  for (int e = 0; e < 256; ++e) {
    const float de = d * sc[e / 16];
    const long q = de > 0.0f ? std::lround(x[e] / de) : 0;
    const int code = static_cast<int>(std::clamp<long>(q, -32, 31)) + 32;
    const int n = e / 128, r = e % 128, quarter = r / 32, l = r % 32;
    uint8_t& low = ql[n * 64 + (quarter & 1) * 32 + l];
    low = static_cast<uint8_t>(low | (quarter < 2 ? (code & 0x0f) : ((code & 0x0f) << 4)));
    qh[n * 32 + l] = static_cast<uint8_t>(qh[n * 32 + l] | ((code >> 4) << (2 * quarter)));
  }
}

}  // namespace

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(src);
  const int64_t be = dtype_block_elems(t);
  const int64_t bb = dtype_block_bytes(t);
  if (be <= 1 || n % be != 0) fail("quant", to_string(t), "row length is not a whole number of blocks");
  for (int64_t b = 0; b < n / be; ++b, p += bb, dst += be) {
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
      case DType::Q5_K: dequant_q5k(p, dst); break;
      case DType::Q6_K: dequant_q6k(p, dst); break;
      default: fail("quant", to_string(t), "is not a block type");
    }
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
      default: fail("quant", to_string(t), "cannot be produced by the exporter");
    }
  }
}

}  // namespace mlascope
