// engine/weights/quant.h — GGUF block formats: dequantization of rows and the quantizers used by
// `mlascope convert`. Layouts follow ggml's definitions (ggml-common.h, read, not copied):
//   Q8_0  [d f16][32 x int8]                                   x = d*q
//   Q4_0  [d f16][16 bytes: low nibbles = x0..15, high = x16..31] x = d*(q-8)
//   Q4_1  [d f16][m f16][16 bytes of nibbles as Q4_0]            x = d*q + m
//   Q5_0  [d f16][u32 fifth bits: bit i = value i][nibbles]      x = d*(q-16)
//   Q5_1  [d f16][m f16][u32 fifth bits][nibbles]                x = d*q + m
//   IQ4_NL [d f16][16 bytes of nibbles as Q4_0]                  x = d*kIq4nlValues[q]
//   IQ4_XS [d f16][u16 scales_h][4 bytes scales_l][128 bytes]    8 sub-blocks of 32 (nibbles as
//         Q4_0 per sub-block), 6-bit scale ls = low nibble | 2 high bits:  x = d*(ls-32)*kIq4nlValues[q]
//   Q2_K  [16 bytes: per 16-value sub-block scale (low 4 bits) and min (high 4)][64 bytes of 2-bit
//         codes][d f16][dmin f16]                              x = d*sc*q - dmin*m
//   Q3_K  [32 bytes high bits][64 bytes 2-bit codes][12 bytes: 16 x 6-bit scales][d f16]
//         x = d*(sc-32)*(q2 - (high bit ? 0 : 4)); codes laid out as Q2_K, the high bit of value
//         128n+32k+l is bit 4n+k of byte l
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

// Q4_K's CPU layout (DType::Q4_K_R), one 144-byte block, in != out. The file keeps a 64-value
// chunk's 32 bytes as two sub-blocks (low nibbles, high nibbles), so a 256-bit register holds one
// sub-block and every register's products need that sub-block's scale. Here, with group (j, k) the
// values 4k..4k+3 of sub-block j, chunk c's bytes 4j..4j+3 hold groups (j, 2c) in their low and
// (j, 2c+1) in their high nibbles: 32-bit lane j of every register is sub-block j, a VNNI dot
// product sums each sub-block in its own lane, and the eight scales apply once per super-block.
// Header (d, dmin, 12 scale bytes) unchanged. The reordering is its own inverse.
void q4_k_to_cpu_layout(const uint8_t* in, uint8_t* out);
void q4_k_from_cpu_layout(const uint8_t* in, uint8_t* out);

// Q5_0's CPU layout (DType::Q5_0_R), one row of nb blocks, in != out. Each run of 8 blocks (a
// group, 176 bytes) becomes: the 8 f16 scales; 128 bytes of nibbles where chunk c's bytes
// 4j..4j+3 hold values 8c..8c+3 (low nibbles) and 8c+4..8c+7 (high) of block j; then 8 u32 masks
// of fifth bits, one per 32 bytes of codes (mask 2c: the low nibbles of chunk c, 2c+1: the high;
// bit 4j+p for byte 4j+p). Lane j of every register is then block j: one VNNI dot per 32 bytes
// sums each block in its own lane and the 8 scales apply in one multiply. The last nb % 8 blocks
// stay as the file has them. Whole rows only (groups start at the row's first block).
void q5_0_row_to_cpu_layout(const uint8_t* in, uint8_t* out, int64_t nb);
void q5_0_row_from_cpu_layout(const uint8_t* in, uint8_t* out, int64_t nb);

// Q8_0's CPU layout (DType::Q8_0_R), one row of nb blocks: each group of 8 blocks (272 bytes) is
// the 8 f16 scales, then 8 runs of 32 bytes where run k's bytes 4j..4j+3 are values 4k..4k+3 of
// block j, stored as code + 128 (unsigned, for the unsigned x signed VNNI dot). Blocks after the
// last whole group stay as they are. Whole rows only.
void q8_0_row_to_cpu_layout(const uint8_t* in, uint8_t* out, int64_t nb);
void q8_0_row_from_cpu_layout(const uint8_t* in, uint8_t* out, int64_t nb);

// Q6_K's CPU layout (DType::Q6_K_R), one 210-byte block, in != out. With code register m (m = 0..7)
// holding, in bytes 4j..4j+3, the codes of values 32j + 4m .. 32j + 4m + 3: bytes 0..127 are four
// runs of 32 where run c holds register 2c in its low and 2c+1 in its high nibbles; bytes 128..191
// are two runs where run h holds bits 4..5 of register 4h + i in bits 2i..2i+1. Scales and d stay
// at 192..209. Lane j of every register is then values 32j..32j+31 (Q6_K's sub-blocks 2j and 2j+1:
// registers 0..3 and 4..7), x comes in Q4_K_R's order (Q8Activation::qp), and a VNNI dot sums each
// sub-block in its own lane: two multiplies by the even and the odd scales per super-block.
void q6_k_to_cpu_layout(const uint8_t* in, uint8_t* out);
void q6_k_from_cpu_layout(const uint8_t* in, uint8_t* out);

// The in-memory layout the CPU kernels prefer for t (Q4_K -> Q4_K_R, Q5_0 -> Q5_0_R, Q8_0 ->
// Q8_0_R, Q6_K -> Q6_K_R), or t itself.
DType cpu_layout_of(DType t);
// One row of n values from t's file layout into cpu_layout_of(t)'s, in != out.
void row_to_cpu_layout(DType t, const uint8_t* in, uint8_t* out, int64_t n);

// n floats into dtype t (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K; n a multiple
// of the block size). The 32-value types round against the block's range (as llama.cpp's reference
// quantizers do); Q4_K/Q5_K/Q6_K search each sub-block's scale (and min) by least squares and refine
// the 6/8-bit integer scales, minimising the plain squared error (bench_quant_rmse compares the
// result with llama-quantize's on the same tensors). Deterministic.
void quantize_row(DType t, const float* src, void* dst, int64_t n);

// IQ4_NL / IQ4_XS: the 16 non-uniform levels a 4-bit code indexes (from ggml's definition).
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// IQ4_XS sub-block j's 6-bit scale (bias 32 not removed): low nibble from scales_l, high 2 bits from scales_h.
inline int iq4xs_scale(int j, const uint8_t* scales_l, uint16_t scales_h) {
  return ((scales_l[j / 2] >> (4 * (j % 2))) & 0x0f) | (((scales_h >> (2 * j)) & 3) << 4);
}

// Q3_K sub-block j's (0..15) 6-bit scale (bias 32 not removed): the low 4 bits are nibbles of
// bytes 0..7 (low nibble for j < 8, high nibble of byte j-8 otherwise), the high 2 bits sit in
// bytes 8..11 (bits 2*(j/4) of byte 8 + j%4).
inline int q3k_scale(int j, const uint8_t* s) {
  const int low = j < 8 ? (s[j] & 0x0f) : (s[j - 8] >> 4);
  return low | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4);
}

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
