// engine/weights/quant.h — GGUF block formats (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K): dequantization of
// rows and the quantizers used by `mlascope convert`. Layouts follow the GGUF specification:
//   Q8_0  [d f16][32 x int8]                                   x = d*q
//   Q4_0  [d f16][16 bytes: low nibbles = x0..15, high = x16..31] x = d*(q-8)
//   Q4_K  [d f16][dmin f16][12 bytes: 8 x (6-bit scale, 6-bit min)][128 bytes of nibbles]
//         8 sub-blocks of 32: x = d*sc*q - dmin*m; in each 64-value chunk the low nibbles hold
//         the first sub-block, the high nibbles the second
//   Q5_K  as Q4_K plus 32 bytes of fifth bits (bit 2c / 2c+1 of byte l for chunk c)
//   Q6_K  [128 bytes low nibbles][64 bytes 2-bit highs][16 x int8 scales][d f16]
//         16 sub-blocks of 16: x = d*sc*(q-32)
#pragma once
#include <cstdint>
#include <cstring>

#include "../tensor.h"

namespace mlascope {

// n values (a multiple of the block size) from the blocks at `src` into `dst`.
void dequantize_row(DType t, const void* src, float* dst, int64_t n);

// n floats into dtype t (F32, F16, BF16 or a block type; n a multiple of the block size).
// Block quantizers choose scales by the row's range (round to nearest), not by search: simple and
// deterministic; the exporter's error figures are what they are, reported, not hidden.
void quantize_row(DType t, const float* src, void* dst, int64_t n);

// The 6-bit (scale, min) pair of sub-block j (0..7) from a K-quant's 12 packed bytes.
inline void k_scale_min(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// All eight (scale, min) pairs at once with word operations: out[0..1] hold the scales of sub-blocks
// 0..7 as bytes, out[2..3] the mins. Same values as k_scale_min, for the decode kernels' inner loop.
inline void k_scales_mins(const uint8_t* q, uint32_t out[4]) {
  uint32_t u0, u1, u2;
  std::memcpy(&u0, q, 4);
  std::memcpy(&u1, q + 4, 4);
  std::memcpy(&u2, q + 8, 4);
  out[0] = u0 & 0x3f3f3f3fu;
  out[1] = (u2 & 0x0f0f0f0fu) | (((u0 >> 6) & 0x03030303u) << 4);
  out[2] = u1 & 0x3f3f3f3fu;
  out[3] = ((u2 >> 4) & 0x0f0f0f0fu) | (((u1 >> 6) & 0x03030303u) << 4);
}

}  // namespace mlascope
