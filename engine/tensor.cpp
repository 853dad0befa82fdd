// engine/tensor.cpp — dtype table and exact scalar conversions.
#include "tensor.h"

#include <cmath>

#include "error.h"
#include "weights/quant.h"

namespace mlascope {

const char* to_string(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::F8_E4M3: return "F8_E4M3";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
    case DType::U8: return "U8";
    case DType::I8: return "I8";
    case DType::Q8_0: return "Q8_0";
    case DType::Q8_0_R: return "Q8_0";  // the same format, held in another order
    case DType::Q4_0: return "Q4_0";
    case DType::Q4_K: return "Q4_K";
    case DType::Q4_K_R: return "Q4_K";  // the same format, held in another order
    case DType::Q5_K: return "Q5_K";
    case DType::Q6_K: return "Q6_K";
    case DType::Q6_K_R: return "Q6_K";  // the same format, held in another order
    case DType::Q4_1: return "Q4_1";
    case DType::Q5_0: return "Q5_0";
    case DType::Q5_0_R: return "Q5_0";  // the same format, held in another order
    case DType::Q5_1: return "Q5_1";
    case DType::Q2_K: return "Q2_K";
    case DType::Q3_K: return "Q3_K";
    case DType::IQ4_NL: return "IQ4_NL";
    case DType::IQ4_XS: return "IQ4_XS";
  }
  return "?";
}

int dtype_block_elems(DType t) {
  switch (t) {
    case DType::Q8_0:
    case DType::Q8_0_R:
    case DType::Q4_0:
    case DType::Q4_1:
    case DType::Q5_0:
    case DType::Q5_0_R:
    case DType::Q5_1:
    case DType::IQ4_NL: return 32;
    case DType::Q4_K:
    case DType::Q4_K_R:
    case DType::Q5_K:
    case DType::Q6_K:
    case DType::Q6_K_R:
    case DType::Q2_K:
    case DType::Q3_K:
    case DType::IQ4_XS: return 256;
    default: return 1;
  }
}

int dtype_block_bytes(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F16: return 2;
    case DType::BF16: return 2;
    case DType::F8_E4M3: return 1;
    case DType::I32: return 4;
    case DType::I64: return 8;
    case DType::U8: return 1;
    case DType::I8: return 1;
    case DType::Q8_0: return 34;   // f16 scale + 32 int8
    case DType::Q8_0_R: return 34;
    case DType::Q4_0: return 18;   // f16 scale + 16 bytes of nibbles
    case DType::Q4_K: return 144;  // 2 f16 + 12 scale bytes + 128 nibble bytes
    case DType::Q4_K_R: return 144;
    case DType::Q5_K: return 176;  // 2 f16 + 12 scale bytes + 32 high bits + 128 nibble bytes
    case DType::Q6_K: return 210;  // 128 low nibbles + 64 high bits + 16 scales + f16
    case DType::Q6_K_R: return 210;
    case DType::Q4_1: return 20;   // f16 scale + f16 min + 16 bytes of nibbles
    case DType::Q5_0: return 22;   // f16 scale + 4 bytes of fifth bits + 16 bytes of nibbles
    case DType::Q5_0_R: return 22;
    case DType::Q5_1: return 24;   // f16 scale + f16 min + 4 bytes of fifth bits + 16 bytes of nibbles
    case DType::Q2_K: return 84;   // 16 scale/min bytes + 64 bytes of 2-bit codes + 2 f16
    case DType::Q3_K: return 110;  // 32 bytes of high bits + 64 bytes of 2-bit codes + 12 scale bytes + f16
    case DType::IQ4_NL: return 18;  // f16 scale + 16 bytes of 4-bit table indices
    case DType::IQ4_XS: return 136;  // f16 + 2 + 4 scale bytes + 128 bytes of table indices
  }
  return 1;
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t man = h & 0x3ffu;
  uint32_t u;
  if (exp == 0) {
    if (man == 0) {
      u = sign;
    } else {  // subnormal: value = man * 2^-24
      float f = std::ldexp(static_cast<float>(man), -24);
      std::memcpy(&u, &f, 4);
      u |= sign;
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | (man << 13);
  } else {
    u = sign | ((exp + 112) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t f32_to_f16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7e00u;  // NaN
  if (a >= 0x477ff000u) return sign | 0x7c00u;  // overflow (>= 65520 rounds to inf)
  if (a < 0x38800000u) {                        // below the smallest normal: subnormal or zero
    float af;
    std::memcpy(&af, &a, 4);
    // round to nearest even in units of 2^-24
    float scaled = af * 16777216.0f;
    float r = std::nearbyint(scaled);
    return sign | static_cast<uint16_t>(r);
  }
  uint32_t mant = a & 0x7fffffu;
  uint32_t exp = (a >> 23) - 112;
  uint32_t h = (exp << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // carries into the exponent correctly
  return sign | static_cast<uint16_t>(h);
}

float f8e4m3_to_f32(uint8_t v) {
  const bool neg = v & 0x80;
  const int exp = (v >> 3) & 0xf;
  const int man = v & 0x7;
  float f;
  if (exp == 0xf && man == 0x7) {
    f = std::nanf("");
  } else if (exp == 0) {
    f = std::ldexp(static_cast<float>(man), -9);  // subnormal: man/8 * 2^-6
  } else {
    f = std::ldexp(1.0f + static_cast<float>(man) / 8.0f, exp - 7);
  }
  return neg ? -f : f;
}

std::string TensorView::shape_string() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

void TensorView::row_to_f32(int64_t r, float* out) const {
  const int64_t n = cols();
  const auto* base = static_cast<const uint8_t*>(data);
  switch (dtype) {
    case DType::F32:
      std::memcpy(out, base + r * n * 4, static_cast<size_t>(n) * 4);
      return;
    case DType::BF16: {
      const auto* p = reinterpret_cast<const uint16_t*>(base) + r * n;
      for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_f32(p[i]);
      return;
    }
    case DType::F16: {
      const auto* p = reinterpret_cast<const uint16_t*>(base) + r * n;
      for (int64_t i = 0; i < n; ++i) out[i] = f16_to_f32(p[i]);
      return;
    }
    case DType::F8_E4M3: {
      const uint8_t* p = base + r * n;
      const int64_t sr = r / 128;
      for (int64_t i = 0; i < n; ++i) {
        const float s = scale_inv ? scale_inv[sr * scale_cols + i / 128] : 1.0f;
        out[i] = f8e4m3_to_f32(p[i]) * s;
      }
      return;
    }
    default:
      break;
  }
  if (dtype_is_quantized(dtype)) {
    dequantize_row(dtype, base + dtype_bytes(dtype, static_cast<size_t>(r * n)), out, n);
    return;
  }
  fail("tensor", name, std::string("dtype ") + to_string(dtype) + " cannot be read as float");
}

std::vector<float> TensorView::to_f32() const {
  std::vector<float> out(static_cast<size_t>(numel()));
  if (shape.size() <= 1) {
    TensorView row = *this;
    row.shape = {1, numel()};
    row.row_to_f32(0, out.data());
    return out;
  }
  const int64_t n = cols();
  const int64_t nr = numel() / n;
  TensorView flat = *this;
  flat.shape = {nr, n};
  for (int64_t r = 0; r < nr; ++r) flat.row_to_f32(r, out.data() + r * n);
  return out;
}

}  // namespace mlascope
