// tests/engine/test_quant.cpp — GGUF block formats: dequantization of hand-built blocks against
// values worked out by hand from the format description, and quantizers on blocks chosen to be
// exactly representable (so the round trip must be exact) plus error bounds on random data.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "engine/error.h"
#include "engine/weights/quant.h"

using namespace mlascope;

namespace {
void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v & 0xff);
  p[1] = static_cast<uint8_t>(v >> 8);
}
std::vector<float> deq(DType t, const std::vector<uint8_t>& b, int n) {
  std::vector<float> y(static_cast<size_t>(n));
  dequantize_row(t, b.data(), y.data(), n);
  return y;
}
std::vector<float> roundtrip(DType t, const std::vector<float>& x) {
  std::vector<uint8_t> b(dtype_bytes(t, x.size()));
  quantize_row(t, x.data(), b.data(), static_cast<int64_t>(x.size()));
  return deq(t, b, static_cast<int>(x.size()));
}
}  // namespace

TEST(Dequant, Q8_0HandBlock) {
  std::vector<uint8_t> b(34, 0);
  put16(b.data(), 0x3800);  // 0.5
  b[2] = 0x7f;              // 127
  b[3] = 0x80;              // -128
  b[33] = 0xfd;             // -3
  const auto y = deq(DType::Q8_0, b, 32);
  EXPECT_EQ(y[0], 63.5f);
  EXPECT_EQ(y[1], -64.0f);
  EXPECT_EQ(y[2], 0.0f);
  EXPECT_EQ(y[31], -1.5f);
}

TEST(Dequant, Q4_0HandBlock) {
  std::vector<uint8_t> b(18, 0x88);  // every nibble 8 → 0
  put16(b.data(), 0x4000);           // 2.0
  b[2] = 0x1f;                       // x0: 15-8 = 7 → 14; x16: 1-8 = -7 → -14
  const auto y = deq(DType::Q4_0, b, 32);
  EXPECT_EQ(y[0], 14.0f);
  EXPECT_EQ(y[16], -14.0f);
  EXPECT_EQ(y[5], 0.0f);
}

TEST(Dequant, Q4_KHandBlock) {
  std::vector<uint8_t> b(144, 0);
  put16(b.data(), 0x3c00);      // d = 1
  put16(b.data() + 2, 0x3800);  // dmin = 0.5
  uint8_t* s = b.data() + 4;
  s[0] = 2;     // sub-block 0 scale 2
  s[4] = 3;     // sub-block 0 min 3
  s[1] = 0x81;  // sub-block 1 scale 1; top bits 2 = high bits of sub-block 5's scale
  s[5] = 0xc0;  // sub-block 1 min 0; top bits 3 = high bits of sub-block 5's min
  s[9] = 0x25;  // sub-block 5: scale low nibble 5, min low nibble 2 → scale 37, min 50
  uint8_t* qs = b.data() + 16;
  qs[0] = 0x7a;       // sub-block 0 value 0: q 10; sub-block 1 value 0: q 7
  qs[64 + 3] = 0xc0;  // sub-block 5 value 3: q 12
  const auto y = deq(DType::Q4_K, b, 256);
  EXPECT_EQ(y[0], 1 * 2 * 10 - 0.5f * 3);    // 18.5
  EXPECT_EQ(y[1], -1.5f);                    // q 0: only the min
  EXPECT_EQ(y[32], 7.0f);                    // scale 1, min 0
  EXPECT_EQ(y[160 + 3], 37 * 12 - 0.5f * 50);  // 419
  EXPECT_EQ(y[128 + 3], 0.0f);               // sub-block 4: scale 0, min 0
}

TEST(Dequant, Q5_KHandBlock) {
  std::vector<uint8_t> b(176, 0);
  put16(b.data(), 0x3c00);
  put16(b.data() + 2, 0x3800);
  uint8_t* s = b.data() + 4;
  s[0] = 2;
  s[4] = 3;
  s[1] = 1;
  s[8] = 0x13;  // sub-block 4: scale 3, min 1
  uint8_t* qh = b.data() + 16;
  uint8_t* qs = b.data() + 48;
  qs[0] = 0x7a;
  qh[0] = 0x03;       // fifth bit of sub-blocks 0 and 1 at value 0
  qs[64 + 5] = 0x04;  // sub-block 4 value 5: low nibble 4
  qh[5] = 0x10;       // fifth bit of sub-block 4 (chunk 2, bit 4) at value 5
  const auto y = deq(DType::Q5_K, b, 256);
  EXPECT_EQ(y[0], 2 * 26 - 1.5f);    // q = 10 + 16
  EXPECT_EQ(y[32], 23.0f);           // q = 7 + 16, scale 1, min 0
  EXPECT_EQ(y[133], 3 * 20 - 0.5f);  // q = 4 + 16
  EXPECT_EQ(y[2], -1.5f);
}

TEST(Dequant, Q6_KHandBlock) {
  std::vector<uint8_t> b(210, 0);
  uint8_t* ql = b.data();
  uint8_t* qh = b.data() + 128;
  auto* sc = reinterpret_cast<int8_t*>(b.data() + 192);
  put16(b.data() + 208, 0x3400);  // d = 0.25
  sc[0] = 4;
  sc[2] = 1;
  sc[3] = -2;
  sc[4] = 3;
  sc[9] = 10;
  ql[0] = 0x3f;  // value 0: low 4 bits 15; value 64: low 4 bits 3
  qh[0] = 0x9e;  // 0b10'01'11'10: value 0 high 2, value 32 high 3, value 64 high 1, value 96 high 2
  ql[86] = 0x05;  // value 150 (second half, l = 22)
  qh[54] = 0x01;
  const auto y = deq(DType::Q6_K, b, 256);
  EXPECT_EQ(y[0], 0.25f * 4 * (47 - 32));   // 15
  EXPECT_EQ(y[32], 0.25f * 1 * (48 - 32));  // 4
  EXPECT_EQ(y[64], 0.25f * 3 * (19 - 32));  // -9.75
  EXPECT_EQ(y[96], 0.0f);                   // code 32, scale sc[6] = 0
  EXPECT_EQ(y[48], 0.25f * -2 * -32);       // all-zero code is -32
  EXPECT_EQ(y[150], 0.25f * 10 * (21 - 32));  // -27.5
}

TEST(Dequant, Q4_1HandBlock) {
  std::vector<uint8_t> b(20, 0);
  put16(b.data(), 0x3800);      // d = 0.5
  put16(b.data() + 2, 0xbc00);  // m = -1
  b[4] = 0x3a;                  // x0: 10 → 0.5*10 - 1 = 4; x16: 3 → 0.5
  b[4 + 15] = 0xf0;             // x15: 0 → -1; x31: 15 → 6.5
  const auto y = deq(DType::Q4_1, b, 32);
  EXPECT_EQ(y[0], 4.0f);
  EXPECT_EQ(y[16], 0.5f);
  EXPECT_EQ(y[15], -1.0f);
  EXPECT_EQ(y[31], 6.5f);
  EXPECT_EQ(y[7], -1.0f);
}

TEST(Dequant, Q5_0HandBlock) {
  std::vector<uint8_t> b(22, 0);
  put16(b.data(), 0x4000);  // d = 2
  b[2] = 0x01;              // fifth bit of value 0
  b[4] = 0x01;              // bit 16: value 16
  b[5] = 0x80;              // bit 31: value 31
  b[6] = 0x21;              // x0: 1 | 16 = 17 → 2*(17-16) = 2; x16: 2 | 16 = 18 → 4
  b[6 + 15] = 0xf0;         // x15: 0, no fifth bit → -32; x31: 15 | 16 = 31 → 30
  const auto y = deq(DType::Q5_0, b, 32);
  EXPECT_EQ(y[0], 2.0f);
  EXPECT_EQ(y[16], 4.0f);
  EXPECT_EQ(y[15], -32.0f);
  EXPECT_EQ(y[31], 30.0f);
  EXPECT_EQ(y[1], -32.0f);
}

TEST(Dequant, Q5_1HandBlock) {
  std::vector<uint8_t> b(24, 0);
  put16(b.data(), 0x3400);      // d = 0.25
  put16(b.data() + 2, 0x3c00);  // m = 1
  b[4] = 0x02;                  // bit 1: value 1
  b[7] = 0x40;                  // bit 30: value 30
  b[8 + 1] = 0x73;              // x1: 3 | 16 = 19 → 0.25*19 + 1 = 5.75; x17: 7 → 2.75
  b[8 + 14] = 0x50;             // x30: 5 | 16 = 21 → 6.25
  const auto y = deq(DType::Q5_1, b, 32);
  EXPECT_EQ(y[1], 5.75f);
  EXPECT_EQ(y[17], 2.75f);
  EXPECT_EQ(y[30], 6.25f);
  EXPECT_EQ(y[14], 1.0f);  // code 0: only the min
}

TEST(Dequant, IQ4_NLHandBlock) {
  std::vector<uint8_t> b(18, 0);
  put16(b.data(), 0x3800);  // d = 0.5
  b[2] = 0xf0;              // x0: level 0 = -127 → -63.5; x16: level 15 = 113 → 56.5
  b[2 + 3] = 0x78;          // x3: level 8 = 1 → 0.5; x19: level 7 = -10 → -5
  const auto y = deq(DType::IQ4_NL, b, 32);
  EXPECT_EQ(y[0], -63.5f);
  EXPECT_EQ(y[16], 56.5f);
  EXPECT_EQ(y[3], 0.5f);
  EXPECT_EQ(y[19], -5.0f);
}

TEST(Dequant, IQ4_XSHandBlock) {
  std::vector<uint8_t> b(136, 0);
  put16(b.data(), 0x3800);      // d = 0.5
  put16(b.data() + 2, 0x0402);  // scales_h: sub-block 0 high bits 2, sub-block 5 high bits 1
  b[4] = 0x01;                  // sub-block 0 low nibble 1 → ls = 1 + 32 = 33 → scale 1
  b[6] = 0x40;                  // sub-block 5 low nibble 4 (high nibble of byte 2) → ls 20 → -12
  b[8] = 0x9f;                  // sub-block 0: x0 level 15 = 113, x16 level 9 = 13
  const auto y = deq(DType::IQ4_XS, b, 256);
  EXPECT_EQ(y[0], 0.5f * 1 * 113);
  EXPECT_EQ(y[16], 0.5f * 1 * 13);
  EXPECT_EQ(y[5 * 32 + 2], 0.5f * -12 * -127);   // 762: code 0 = level -127
  EXPECT_EQ(y[5 * 32 + 18], 0.5f * -12 * -127);
  EXPECT_EQ(y[7 * 32], 0.5f * -32 * -127);       // ls 0 → scale -32
}

TEST(Dequant, Q2_KHandBlock) {
  std::vector<uint8_t> b(84, 0);
  put16(b.data() + 80, 0x3800);  // d = 0.5
  put16(b.data() + 82, 0x3400);  // dmin = 0.25
  b[0] = 0x31;                   // sub-block 0 (values 0..15): scale 1, min 3
  b[1] = 0x02;                   // sub-block 1 (values 16..31): scale 2, min 0
  b[13] = 0xf5;                  // sub-block 13 (values 208..223): scale 5, min 15
  uint8_t* qs = b.data() + 16;
  qs[1] = 0x03;        // value 1 (half 0, shift 0): q 3
  qs[16] = 0x02;       // value 16: q 2
  qs[32 + 20] = 0x30;  // value 128 + 64 + 20 = 212 (half 1, shift 4): q 3
  const auto y = deq(DType::Q2_K, b, 256);
  EXPECT_EQ(y[0], -0.75f);                 // q 0: only the min
  EXPECT_EQ(y[1], 0.5f * 1 * 3 - 0.75f);   // 0.75
  EXPECT_EQ(y[16], 0.5f * 2 * 2);          // 2
  EXPECT_EQ(y[212], 0.5f * 5 * 3 - 3.75f);  // 3.75
  EXPECT_EQ(y[196], 0.0f);                 // sub-block 12: scale 0, min 0
}

TEST(Dequant, Q3_KHandBlock) {
  std::vector<uint8_t> b(110, 0);
  uint8_t* hmask = b.data();
  uint8_t* qs = b.data() + 32;
  uint8_t* sc = b.data() + 96;
  put16(b.data() + 108, 0x3800);  // d = 0.5
  sc[0] = 0x01;  // sub-block 0: low 1
  sc[8] = 0x02;  //   high 2 (byte 8 bits 0-1) → 33 → scale 1
  sc[6] = 0x05;  // sub-block 6: low 5
  sc[10] = 0x0c; //   high 3 (byte 10 bits 2-3) → 53 → scale 21
  sc[5] = 0xa0;  // sub-block 13: low 10 (high nibble of byte 5)
  sc[9] = 0x80;  //   high 2 (byte 9 bits 6-7) → 42 → scale 10
  qs[0] = 0x02;           // value 0: low bits 2
  hmask[0] = 0x01;        //   high bit set (bit 0): code 2
  qs[1] = 0x03;           // value 1: low bits 3, high bit clear: 3 - 4 = -1
  qs[32 + 20] = 0x10;     // value 212 (half 1, shift 4, l 20): low bits 1
  hmask[20] = 0x40;       //   high bit = bit 4*1 + 2 = 6: code 1
  const auto y = deq(DType::Q3_K, b, 256);
  EXPECT_EQ(y[0], 0.5f * 1 * 2);
  EXPECT_EQ(y[1], 0.5f * 1 * -1);
  EXPECT_EQ(y[2], 0.5f * 1 * -4);   // all bits clear: -4
  EXPECT_EQ(y[100], 0.5f * 21 * -4);  // value 100 = half 0, shift 6, l 4: sub-block 6
  EXPECT_EQ(y[212], 0.5f * 10 * 1);
  EXPECT_EQ(y[40], 0.5f * -32 * -4);  // sub-block 2: raw scale 0 → -32
}

// Every type on random blocks against a second formulation written here from ggml's description
// (a walk over the block in storage order rather than by value index), in double.
namespace {
double f16d(const uint8_t* p) { return f16_to_f32(static_cast<uint16_t>(p[0] | (p[1] << 8))); }
constexpr int kLevels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// Values and, in mag, the sum of the magnitudes of the terms (the scale of a float rounding error).
std::vector<double> reference_block(DType t, const uint8_t* b, std::vector<double>& mag) {
  std::vector<double> y(static_cast<size_t>(dtype_block_elems(t)));
  mag.assign(y.size(), 0.0);
  switch (t) {
    case DType::Q4_1:
    case DType::Q5_0:
    case DType::Q5_1:
    case DType::IQ4_NL: {
      const bool has_min = t == DType::Q4_1 || t == DType::Q5_1, five = t == DType::Q5_0 || t == DType::Q5_1;
      const double d = f16d(b), m = has_min ? f16d(b + 2) : 0.0;
      const uint8_t* qh = b + (has_min ? 4 : 2);
      const uint8_t* qs = qh + (five ? 4 : 0);
      for (int byte = 0; byte < 16; ++byte)
        for (int half = 0; half < 2; ++half) {
          const int i = byte + 16 * half;
          int q = half ? qs[byte] >> 4 : qs[byte] & 15;
          if (five) q += 16 * ((qh[i / 8] >> (i % 8)) & 1);
          y[i] = t == DType::IQ4_NL ? d * kLevels[q] : t == DType::Q5_0 ? d * (q - 16) : d * q + m;
          mag[i] = std::fabs(d * 127) + std::fabs(m);
        }
      break;
    }
    case DType::IQ4_XS: {
      const double d = f16d(b);
      const int sh = b[2] | (b[3] << 8);
      for (int j = 0; j < 8; ++j) {
        const int ls = ((b[4 + j / 2] >> (4 * (j % 2))) & 15) + 16 * ((sh >> (2 * j)) & 3);
        for (int byte = 0; byte < 16; ++byte) {
          y[32 * j + byte] = d * (ls - 32) * kLevels[b[8 + 16 * j + byte] & 15];
          y[32 * j + 16 + byte] = d * (ls - 32) * kLevels[b[8 + 16 * j + byte] >> 4];
          mag[32 * j + byte] = mag[32 * j + 16 + byte] = std::fabs(d * 32 * 127);
        }
      }
      break;
    }
    case DType::Q2_K:
    case DType::Q3_K: {
      const bool three = t == DType::Q3_K;
      const uint8_t* qs = b + (three ? 32 : 16);
      const double d = f16d(b + (three ? 108 : 80)), dmin = three ? 0.0 : f16d(b + 82);
      for (int byte = 0; byte < 64; ++byte)
        for (int pair = 0; pair < 4; ++pair) {
          const int half = byte / 32, l = byte % 32, i = 128 * half + 32 * pair + l, sub = i / 16;
          int q = (qs[byte] >> (2 * pair)) & 3;
          if (three) {
            const int lo4 = sub < 8 ? b[96 + sub] & 15 : b[96 + sub - 8] >> 4;
            const int hi2 = (b[96 + 8 + sub % 4] >> (2 * (sub / 4))) & 3;
            if (!((b[l] >> (4 * half + pair)) & 1)) q -= 4;
            y[i] = d * (lo4 + 16 * hi2 - 32) * q;
          } else {
            y[i] = d * (b[sub] & 15) * q - dmin * (b[sub] >> 4);
          }
          mag[i] = std::fabs(d * 32 * 7) + std::fabs(dmin * 15);
        }
      break;
    }
    default: break;
  }
  return y;
}
}  // namespace

TEST(Dequant, NewTypesOnRandomBlocksMatchASecondFormulation) {
  std::mt19937 rng(2026);
  std::uniform_real_distribution<float> u(-0.1f, 0.1f);
  for (DType t : {DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::IQ4_NL, DType::IQ4_XS, DType::Q2_K, DType::Q3_K}) {
    const int bb = dtype_block_bytes(t), be = dtype_block_elems(t);
    for (int trial = 0; trial < 300; ++trial) {
      std::vector<uint8_t> b(static_cast<size_t>(bb));
      for (uint8_t& v : b) v = static_cast<uint8_t>(rng());
      // finite f16 scales (random bytes may spell NaN/Inf)
      const int f16_at[2] = {t == DType::Q2_K ? 80 : t == DType::Q3_K ? 108 : 0, t == DType::Q2_K ? 82 : 2};
      const int n_f16 = (t == DType::Q4_1 || t == DType::Q5_1 || t == DType::Q2_K) ? 2 : 1;
      for (int k = 0; k < n_f16; ++k) put16(b.data() + f16_at[k], f32_to_f16(u(rng)));
      std::vector<double> mag;
      const std::vector<double> ref = reference_block(t, b.data(), mag);
      const auto y = deq(t, b, be);
      for (int i = 0; i < be; ++i)
        ASSERT_NEAR(y[static_cast<size_t>(i)], ref[static_cast<size_t>(i)], 2e-7 * mag[static_cast<size_t>(i)] + 1e-12)
            << to_string(t) << " trial " << trial << " value " << i;
    }
  }
}

TEST(Dequant, RejectsPartialBlocks) {
  std::vector<uint8_t> b(34, 0);
  float y[40];
  EXPECT_THROW(dequantize_row(DType::Q8_0, b.data(), y, 40), Error);
}

TEST(Quantize, Q8_0HandBlock) {
  std::vector<float> x(32);
  for (int i = 0; i < 32; ++i) x[i] = static_cast<float>(i);
  std::vector<uint8_t> b(34);
  quantize_row(DType::Q8_0, x.data(), b.data(), 32);
  // d = 31/127 = 0.24409... → f16 0x33d0 (exponent -3, mantissa round(0.952755*1024) = 976)
  EXPECT_EQ(b[0] | (b[1] << 8), 0x33d0);
  EXPECT_EQ(static_cast<int8_t>(b[2 + 31]), 127);
  EXPECT_EQ(static_cast<int8_t>(b[2 + 1]), 4);   // round(127/31)
  EXPECT_EQ(static_cast<int8_t>(b[2 + 2]), 8);   // round(254/31)
  EXPECT_EQ(static_cast<int8_t>(b[2 + 0]), 0);
}

TEST(Quantize, ExactlyRepresentableBlocksRoundTrip) {
  // Q8_0: x = 0.5 q with q reaching ±127 → d = 0.5.
  std::vector<float> x8(64);
  for (int i = 0; i < 64; ++i) x8[i] = 0.5f * static_cast<float>((i * 37) % 255 - 127);
  x8[3] = 63.5f;
  x8[40] = -63.5f;
  EXPECT_EQ(roundtrip(DType::Q8_0, x8), x8);

  // Q4_K: sub-block 0 = 15.75 q - 31.5 (scale 63, min 63 with d = 0.25, dmin = 0.5),
  // sub-block 1 = 5.25 q (scale 21, min 0), others 15.75 q; q runs over 0..15 in each.
  std::vector<float> x4(256);
  for (int j = 0; j < 8; ++j)
    for (int l = 0; l < 32; ++l) {
      const float q = static_cast<float>(l % 16);
      x4[j * 32 + l] = j == 0 ? 15.75f * q - 31.5f : j == 1 ? 5.25f * q : 15.75f * q;
    }
  EXPECT_EQ(roundtrip(DType::Q4_K, x4), x4);

  // Q5_K: x = 7.875 q, q over 0..31 (scale 63 with d = 0.125), one sub-block 2.625 q (scale 21).
  std::vector<float> x5(256);
  for (int j = 0; j < 8; ++j)
    for (int l = 0; l < 32; ++l) x5[j * 32 + l] = (j == 3 ? 2.625f : 7.875f) * static_cast<float>(l);
  EXPECT_EQ(roundtrip(DType::Q5_K, x5), x5);

  // Q6_K: x = 7.9375 q (scale 127 with d = 1/16) and 3.125 q (scale 50), q over -31..31.
  std::vector<float> x6(256);
  for (int j = 0; j < 16; ++j)
    for (int l = 0; l < 16; ++l) {
      const float q = static_cast<float>(l == 0 ? -31 : l == 1 ? 31 : (l * 7) % 63 - 31);
      x6[j * 16 + l] = (j % 2 ? 3.125f : 7.9375f) * q;
    }
  EXPECT_EQ(roundtrip(DType::Q6_K, x6), x6);
}

TEST(Quantize, RandomRowsWithinOneStep) {
  std::mt19937 rng(7);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(1024);
  for (float& v : x) v = g(rng);
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    const auto y = roundtrip(t, x);
    const int be = dtype_block_elems(t);
    // levels per block side: Q8_0 127, Q4_0 8, Q4_K 15 steps over the range, Q5_K 31, Q6_K 31
    const float levels = t == DType::Q8_0 ? 127.f : t == DType::Q4_0 ? 8.f : t == DType::Q4_K ? 7.5f : 15.5f;
    for (int b = 0; b < 1024 / be; ++b) {
      float amax = 0.0f, err = 0.0f;
      for (int i = b * be; i < (b + 1) * be; ++i) {
        amax = std::max(amax, std::fabs(x[i]));
        err = std::max(err, std::fabs(x[i] - y[i]));
      }
      // Block scales are themselves rounded (6-bit / 8-bit), so allow a full step, not half.
      EXPECT_LE(err, amax / levels) << to_string(t) << " block " << b;
    }
  }
}

TEST(Quantize, F16AndBF16AreRoundToNearest) {
  const float x[2] = {1.0f + 1.0f / 4096.0f, -2.5f};
  uint16_t h[2];
  quantize_row(DType::F16, x, h, 2);
  EXPECT_EQ(h[0], 0x3c00);  // 1 + 2^-12 is below half an f16 ulp (2^-11): rounds down
  EXPECT_EQ(h[1], 0xc100);
  quantize_row(DType::BF16, x, h, 2);
  EXPECT_EQ(h[0], 0x3f80);
  EXPECT_EQ(h[1], 0xc020);
}

// The word-parallel unpacking of a K-quant's 12 scale bytes equals the per-sub-block definition
// for every byte pattern class (random bytes, all ones, all zeros).
TEST(KScales, WordUnpackingEqualsPerSubBlock) {
  std::mt19937 rng(77);
  for (int trial = 0; trial < 2000; ++trial) {
    uint8_t q[12];
    for (uint8_t& b : q) b = trial == 0 ? 0xff : trial == 1 ? 0 : static_cast<uint8_t>(rng());
    uint32_t packed[4];
    k_scales_mins(q, packed);
    uint8_t bytes[16];
    std::memcpy(bytes, packed, 16);
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      k_scale_min(j, q, &sc, &m);
      ASSERT_EQ(bytes[j], sc) << "trial " << trial << " sub-block " << j;
      ASSERT_EQ(bytes[8 + j], m) << "trial " << trial << " sub-block " << j;
    }
  }
}

// Q4_K rows widened for prompt tiles: every value of random super-blocks against the format's
// definition d·scale·q − dmin·min computed in double (the SIMD path fuses the multiply-add).
TEST(Dequant, Q4_KRandomBlocksMatchTheDefinition) {
  std::mt19937 rng(91);
  std::uniform_real_distribution<float> u(0.001f, 0.1f);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<uint8_t> b(144);
    for (uint8_t& v : b) v = static_cast<uint8_t>(rng());
    const uint16_t hd = f32_to_f16(u(rng)), hm = f32_to_f16(u(rng));
    std::memcpy(b.data(), &hd, 2);
    std::memcpy(b.data() + 2, &hm, 2);
    std::vector<float> y(256);
    dequantize_row(DType::Q4_K, b.data(), y.data(), 256);
    const double d = f16_to_f32(hd), dmin = f16_to_f32(hm);
    for (int i = 0; i < 256; ++i) {
      const int j = i / 32, c = i / 64, l = i % 32;
      uint8_t sc, m;
      k_scale_min(j, b.data() + 4, &sc, &m);
      const int q = (j % 2 == 0) ? (b[16 + c * 32 + l] & 0x0f) : (b[16 + c * 32 + l] >> 4);
      const double ref = d * sc * q - dmin * m;
      ASSERT_NEAR(y[static_cast<size_t>(i)], ref, 1e-6 * (std::fabs(d * sc * q) + std::fabs(dmin * m)) + 1e-9)
          << "trial " << trial << " value " << i;
    }
  }
}

// Q4_K's CPU layout: every code sits where quant.h says (chunk c, bytes 4j..4j+3: values 8c..8c+3 of
// sub-block j in the low nibbles, 8c+4..8c+7 in the high), the header is untouched, the reordering
// undoes itself, and a Q4_K_R block dequantizes to exactly its Q4_K values.
TEST(Dequant, Q4_KCpuLayoutPlacesEveryCodeAndRoundTrips) {
  std::mt19937 rng(17);
  for (int trial = 0; trial < 100; ++trial) {
    std::vector<uint8_t> b(144), r(144), back(144);
    for (uint8_t& v : b) v = static_cast<uint8_t>(rng());
    const uint16_t hd = f32_to_f16(0.02f), hm = f32_to_f16(0.03f);
    std::memcpy(b.data(), &hd, 2);
    std::memcpy(b.data() + 2, &hm, 2);
    q4_k_to_cpu_layout(b.data(), r.data());
    ASSERT_EQ(0, std::memcmp(b.data(), r.data(), 16)) << "header";
    for (int j = 0; j < 8; ++j)
      for (int i = 0; i < 32; ++i) {
        const int file_code = (b[static_cast<size_t>(16 + 32 * (j / 2) + i)] >> (4 * (j % 2))) & 0x0f;
        const int c = i / 8, p = i % 4, high = (i % 8) / 4;
        const int cpu_code = (r[static_cast<size_t>(16 + 32 * c + 4 * j + p)] >> (4 * high)) & 0x0f;
        ASSERT_EQ(cpu_code, file_code) << "trial " << trial << " sub-block " << j << " value " << i;
      }
    q4_k_from_cpu_layout(r.data(), back.data());
    ASSERT_EQ(back, b);
    EXPECT_EQ(deq(DType::Q4_K_R, r, 256), deq(DType::Q4_K, b, 256));
  }
}

// Q6_K's CPU layout: the file's codes read as ggml's dequantize_row_q6_K reads them (per half of
// 128: q1..q4 from ql[l], ql[l + 32] and qh[l]), each found where quant.h puts it (value 32j + 4m + p
// at byte 4j + p of register m: nibble m % 2 of run m / 2, bits 2 (m % 4) of high run m / 4),
// scales and d untouched; the reordering round-trips and dequantizes to exactly the Q6_K values.
TEST(Dequant, Q6_KCpuLayoutPlacesEveryCodeAndRoundTrips) {
  std::mt19937 rng(29);
  for (int trial = 0; trial < 100; ++trial) {
    std::vector<uint8_t> b(210), r(210), back(210);
    for (uint8_t& v : b) v = static_cast<uint8_t>(rng());
    const uint16_t hd = f32_to_f16(0.01f);
    std::memcpy(b.data() + 208, &hd, 2);
    int file_code[256];
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = b.data() + 64 * half;
      const uint8_t* qh = b.data() + 128 + 32 * half;
      for (int l = 0; l < 32; ++l) {
        file_code[128 * half + l] = (ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4);
        file_code[128 * half + l + 32] = (ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4);
        file_code[128 * half + l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
        file_code[128 * half + l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
      }
    }
    q6_k_to_cpu_layout(b.data(), r.data());
    ASSERT_EQ(0, std::memcmp(b.data() + 192, r.data() + 192, 18)) << "scales and d";
    for (int m = 0; m < 8; ++m)
      for (int j = 0; j < 8; ++j)
        for (int p = 0; p < 4; ++p) {
          const size_t byte = static_cast<size_t>(4 * j + p);
          const int lo = (r[32 * static_cast<size_t>(m / 2) + byte] >> (4 * (m % 2))) & 0x0f;
          const int hi = (r[128 + 32 * static_cast<size_t>(m / 4) + byte] >> (2 * (m % 4))) & 3;
          ASSERT_EQ(lo | (hi << 4), file_code[32 * j + 4 * m + p]) << "trial " << trial << " register " << m << " lane " << j;
        }
    q6_k_from_cpu_layout(r.data(), back.data());
    ASSERT_EQ(back, b);
    EXPECT_EQ(deq(DType::Q6_K_R, r, 256), deq(DType::Q6_K, b, 256));
  }
}

// Q5_0's CPU layout, per row: in each group of 8 blocks the scales come first in block order, code
// (j, i) sits in chunk i / 8, byte 4j + i % 4, low nibble for i % 8 < 4, its fifth bit in mask
// 2 (i / 8) + (i % 8) / 4 at bit 4j + i % 4; blocks after the last whole group are copied as they
// are. The reordering round-trips and dequantizes to exactly the Q5_0 values.
TEST(Dequant, Q5_0CpuLayoutPlacesEveryCodeAndRoundTrips) {
  std::mt19937 rng(23);
  for (const int nb : {8, 11, 44, 5}) {
    std::vector<uint8_t> b(static_cast<size_t>(22 * nb)), r(b.size()), back(b.size());
    for (uint8_t& v : b) v = static_cast<uint8_t>(rng());
    for (int k = 0; k < nb; ++k) {
      const uint16_t h = f32_to_f16(0.01f * static_cast<float>(k + 1));
      std::memcpy(&b[static_cast<size_t>(22 * k)], &h, 2);
    }
    q5_0_row_to_cpu_layout(b.data(), r.data(), nb);
    auto code = [&](int block, int i) {  // the file's definition
      const uint8_t* p = &b[static_cast<size_t>(22 * block)];
      uint32_t qh;
      std::memcpy(&qh, p + 2, 4);
      return ((p[6 + i % 16] >> (4 * (i / 16))) & 0x0f) | static_cast<int>(((qh >> i) & 1u) << 4);
    };
    for (int g = 0; g < nb / 8; ++g)
      for (int j = 0; j < 8; ++j) {
        const uint8_t* grp = &r[static_cast<size_t>(176 * g)];
        ASSERT_EQ(0, std::memcmp(grp + 2 * j, &b[static_cast<size_t>(22 * (8 * g + j))], 2)) << "scale of block " << j;
        for (int i = 0; i < 32; ++i) {
          const int c = i / 8, high = (i % 8) / 4, p = i % 4;
          uint32_t mask;
          std::memcpy(&mask, grp + 144 + 4 * (2 * c + high), 4);
          const int got = ((grp[16 + 32 * c + 4 * j + p] >> (4 * high)) & 0x0f) | static_cast<int>(((mask >> (4 * j + p)) & 1u) << 4);
          ASSERT_EQ(got, code(8 * g + j, i)) << nb << " blocks, group " << g << " block " << j << " value " << i;
        }
      }
    ASSERT_EQ(0, std::memcmp(r.data() + 176 * (nb / 8), b.data() + 176 * (nb / 8), static_cast<size_t>(22 * (nb % 8))))
        << "blocks after the last group stay as they are";
    q5_0_row_from_cpu_layout(r.data(), back.data(), nb);
    ASSERT_EQ(back, b) << nb << " blocks";
    EXPECT_EQ(deq(DType::Q5_0_R, r, 32 * nb), deq(DType::Q5_0, b, 32 * nb)) << nb << " blocks";
  }
}

// Q8_0's CPU layout, per row: in each group of 8 blocks the scales first, then value i of block j at
// byte 32 (i / 4) + 4j + i % 4 as code + 128; blocks after the last group copied; round trip and
// dequantization equal Q8_0's.
TEST(Dequant, Q8_0CpuLayoutPlacesEveryCodeAndRoundTrips) {
  std::mt19937 rng(29);
  for (const int nb : {8, 12, 44, 3}) {
    std::vector<uint8_t> b(static_cast<size_t>(34 * nb)), r(b.size()), back(b.size());
    for (uint8_t& v : b) v = static_cast<uint8_t>(rng());
    for (int k = 0; k < nb; ++k) {
      const uint16_t h = f32_to_f16(0.01f * static_cast<float>(k + 1));
      std::memcpy(&b[static_cast<size_t>(34 * k)], &h, 2);
    }
    q8_0_row_to_cpu_layout(b.data(), r.data(), nb);
    for (int g = 0; g < nb / 8; ++g)
      for (int j = 0; j < 8; ++j) {
        const uint8_t* grp = &r[static_cast<size_t>(272 * g)];
        const uint8_t* blk = &b[static_cast<size_t>(34 * (8 * g + j))];
        ASSERT_EQ(0, std::memcmp(grp + 2 * j, blk, 2)) << "scale of block " << j;
        for (int i = 0; i < 32; ++i)
          ASSERT_EQ(static_cast<int>(grp[16 + 32 * (i / 4) + 4 * j + i % 4]) - 128, static_cast<int>(static_cast<int8_t>(blk[2 + i])))
              << nb << " blocks, group " << g << " block " << j << " value " << i;
      }
    ASSERT_EQ(0, std::memcmp(r.data() + 272 * (nb / 8), b.data() + 272 * (nb / 8), static_cast<size_t>(34 * (nb % 8))));
    q8_0_row_from_cpu_layout(r.data(), back.data(), nb);
    ASSERT_EQ(back, b) << nb << " blocks";
    EXPECT_EQ(deq(DType::Q8_0_R, r, 32 * nb), deq(DType::Q8_0, b, 32 * nb)) << nb << " blocks";
  }
}
