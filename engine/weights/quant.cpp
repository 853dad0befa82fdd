// engine/weights/quant.cpp — GGUF block dequantization (reference scalar code).
#include "quant.h"

#include "../error.h"

namespace mlascope {

namespace {
inline uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
}  // namespace

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(src);
  const int64_t be = dtype_block_elems(t);
  const int64_t bb = dtype_block_bytes(t);
  if (be <= 1 || n % be != 0) fail("quant", to_string(t), "row length is not a whole number of blocks");
  for (int64_t b = 0; b < n / be; ++b, p += bb, dst += be) {
    switch (t) {
      case DType::Q8_0: {  // d (f16), 32 x int8: x = d * q
        const float d = f16_to_f32(rd16(p));
        for (int i = 0; i < 32; ++i) dst[i] = d * static_cast<float>(static_cast<int8_t>(p[2 + i]));
        break;
      }
      case DType::Q4_0: {  // d (f16), 16 bytes: low nibbles are values 0..15, high nibbles 16..31; x = d*(q-8)
        const float d = f16_to_f32(rd16(p));
        for (int i = 0; i < 16; ++i) {
          dst[i] = d * static_cast<float>((p[2 + i] & 0x0f) - 8);
          dst[i + 16] = d * static_cast<float>((p[2 + i] >> 4) - 8);
        }
        break;
      }
      default:
        fail("quant", to_string(t), "dequantization of this block type is not available yet");
    }
  }
}

}  // namespace mlascope
