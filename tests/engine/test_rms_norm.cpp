// tests/engine/test_rms_norm.cpp — RMSNorm, softmax and SwiGLU against hand math in double,
// including a BF16-stored weight (upcast exactly).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/model/ops.h"
#include "engine/tensor.h"

using namespace mlascope;

TEST(RmsNorm, MatchesHandMath) {
  const std::vector<float> x = {1.0f, -2.0f, 3.0f, 0.5f};
  const std::vector<float> w = {1.0f, 0.5f, 2.0f, -1.0f};
  // mean(x^2) = (1 + 4 + 9 + 0.25) / 4 = 3.5625, rsqrt(3.5625 + 1e-6)
  const double inv = 1.0 / std::sqrt(3.5625 + 1e-6);
  std::vector<float> out(4);
  rms_norm(x.data(), w.data(), 4, 1e-6f, out.data());
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(out[i], w[i] * x[i] * inv, 1e-6);
}

TEST(RmsNorm, EpsMattersForTinyInputsAndInPlaceWorks) {
  std::vector<float> x = {1e-4f, -1e-4f};
  const std::vector<float> w = {1.0f, 1.0f};
  rms_norm(x.data(), w.data(), 2, 1e-6f, x.data());
  const double inv = 1.0 / std::sqrt(1e-8 + 1e-6);
  EXPECT_NEAR(x[0], 1e-4 * inv, 1e-6);
  EXPECT_NEAR(x[1], -1e-4 * inv, 1e-6);
}

TEST(RmsNorm, Bf16WeightIsUpcastExactly) {
  const std::vector<float> x = {0.25f, 4.0f, -1.0f};
  std::vector<uint16_t> wb = {f32_to_bf16(1.5f), f32_to_bf16(0.1f), f32_to_bf16(-3.0f)};
  TensorView w;
  w.dtype = DType::BF16;
  w.shape = {3};
  w.data = wb.data();
  w.nbytes = 6;
  std::vector<float> out(3);
  rms_norm(x.data(), w, 3, 1e-6f, out.data());
  const double ms = (0.0625 + 16.0 + 1.0) / 3.0;
  const double inv = 1.0 / std::sqrt(ms + 1e-6);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(out[i], bf16_to_f32(wb[i]) * x[i] * inv, 1e-6);
  EXPECT_NE(bf16_to_f32(wb[1]), 0.1f);  // the weight really is the rounded bf16 value
}

TEST(Softmax, StableForLargeLogitsAndSumsToOne) {
  std::vector<float> x = {1000.0f, 1001.0f, 999.0f};
  softmax_inplace(x.data(), 3);
  const double e0 = std::exp(-1.0), e2 = std::exp(-2.0), s = e0 + 1.0 + e2;
  EXPECT_NEAR(x[0], e0 / s, 1e-6);
  EXPECT_NEAR(x[1], 1.0 / s, 1e-6);
  EXPECT_NEAR(x[2], e2 / s, 1e-6);
}

TEST(SwiGlu, SiluTimesUp) {
  const std::vector<float> g = {0.0f, 1.0f, -2.0f}, u = {3.0f, 2.0f, 0.5f};
  std::vector<float> o(3);
  swiglu(g.data(), u.data(), o.data(), 3);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(o[i], g[i] / (1.0 + std::exp(-g[i])) * u[i], 1e-6);
}
