// tests/engine/test_matvec.cpp — CPU kernels against a double-precision reference on the exactly
// upcast weights: F32, BF16, F16, F8_E4M3 with 128x128 block scales; matvec, the token-blocked
// matmat, the transposed accumulate, odd sizes (SIMD tails) and the thread-pool split.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <tuple>
#include <vector>

#include "engine/backend/cpu/linear.h"
#include "engine/backend/cpu/matvec.h"
#include "engine/backend/cpu/thread_pool.h"
#include "engine/tensor.h"

using namespace mlascope;

namespace {

struct Weight {
  TensorView view;
  std::vector<uint8_t> bytes;
  std::vector<float> scales;
  std::vector<double> exact;  // the value each stored element stands for
};

Weight make_weight(DType t, int64_t rows, int64_t cols, uint32_t seed) {
  Weight w;
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  w.exact.resize(static_cast<size_t>(rows * cols));
  const int64_t srows = (rows + 127) / 128, scols = (cols + 127) / 128;
  if (t == DType::F8_E4M3) {
    w.scales.resize(static_cast<size_t>(srows * scols));
    for (auto& s : w.scales) s = 0.01f + 0.02f * static_cast<float>(rng() % 100) / 100.0f;
  }
  const size_t esz = t == DType::F32 ? 4 : (t == DType::F8_E4M3 ? 1 : 2);
  w.bytes.resize(static_cast<size_t>(rows * cols) * esz);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const size_t i = static_cast<size_t>(r * cols + c);
      const float v = nd(rng);
      if (t == DType::F32) {
        std::memcpy(&w.bytes[i * 4], &v, 4);
        w.exact[i] = v;
      } else if (t == DType::BF16) {
        const uint16_t h = f32_to_bf16(v);
        std::memcpy(&w.bytes[i * 2], &h, 2);
        w.exact[i] = bf16_to_f32(h);
      } else if (t == DType::F16) {
        const uint16_t h = f32_to_f16(v);
        std::memcpy(&w.bytes[i * 2], &h, 2);
        w.exact[i] = f16_to_f32(h);
      } else {
        // any code except the two NaNs
        uint8_t code = static_cast<uint8_t>(rng() & 0xff);
        if ((code & 0x7f) == 0x7f) code = 0x3c;
        w.bytes[i] = code;
        w.exact[i] = static_cast<double>(f8e4m3_to_f32(code)) * w.scales[static_cast<size_t>((r / 128) * scols + c / 128)];
      }
    }
  w.view.dtype = t;
  w.view.shape = {rows, cols};
  w.view.data = w.bytes.data();
  w.view.nbytes = w.bytes.size();
  if (t == DType::F8_E4M3) {
    w.view.scale_inv = w.scales.data();
    w.view.scale_rows = srows;
    w.view.scale_cols = scols;
  }
  return w;
}

std::vector<float> make_x(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = u(rng);
  return x;
}

double ref_dot(const Weight& w, int64_t r, const float* x, int64_t cols, double* abs_sum) {
  double s = 0, a = 0;
  for (int64_t c = 0; c < cols; ++c) {
    s += w.exact[static_cast<size_t>(r * cols + c)] * x[c];
    a += std::fabs(w.exact[static_cast<size_t>(r * cols + c)] * x[c]);
  }
  *abs_sum = a;
  return s;
}

}  // namespace

class MatvecDtype : public ::testing::TestWithParam<DType> {};

TEST_P(MatvecDtype, MatchesDoubleReference) {
  const DType t = GetParam();
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{37, 131}, {130, 257}, {5, 8}, {3, 7}}) {
    const Weight w = make_weight(t, rows, cols, 7);
    const auto x = make_x(cols, 11);
    std::vector<float> y(static_cast<size_t>(rows), -99.0f);
    cpu::matvec(w.view, x.data(), y.data(), 1, rows);  // row 0 left alone
    EXPECT_EQ(y[0], -99.0f);
    for (int64_t r = 1; r < rows; ++r) {
      double a = 0;
      const double ref = ref_dot(w, r, x.data(), cols, &a);
      EXPECT_NEAR(y[static_cast<size_t>(r)], ref, 1e-6 * a + 1e-7) << to_string(t) << " " << rows << "x" << cols << " row " << r;
    }
  }
}

TEST_P(MatvecDtype, MatmatEqualsPerTokenReferenceAcrossTokenBlocks) {
  const DType t = GetParam();
  // Row and token counts that leave partial tiles; 2000 columns make several token blocks.
  for (auto [rows, cols, n] : {std::tuple<int64_t, int64_t, int64_t>{47, 97, 70}, {13, 2000, 71}}) {
    const Weight w = make_weight(t, rows, cols, 3);
    const auto X = make_x(n * cols, 5);
    std::vector<float> Y(static_cast<size_t>(n * rows));
    cpu::matmat(w.view, X.data(), cols, n, Y.data(), rows, 0, rows);
    for (int64_t tk = 0; tk < n; ++tk)
      for (int64_t r = 0; r < rows; ++r) {
        double a = 0;
        const double ref = ref_dot(w, r, X.data() + tk * cols, cols, &a);
        ASSERT_NEAR(Y[static_cast<size_t>(tk * rows + r)], ref, 1e-6 * a + 1e-7) << "token " << tk << " row " << r;
      }
  }
}

TEST_P(MatvecDtype, TransposedAccumulateIsWTransposeTimesX) {
  const DType t = GetParam();
  const int64_t rows = 40, cols = 33;
  const Weight w = make_weight(t, rows, cols, 9);
  const auto x = make_x(16, 13);
  std::vector<float> y(static_cast<size_t>(cols), 1.0f);
  cpu::matvec_t_accumulate(w.view, x.data(), y.data(), 10, 26);  // rows 10..25
  for (int64_t c = 0; c < cols; ++c) {
    double ref = 1.0, a = 1.0;
    for (int64_t r = 10; r < 26; ++r) {
      ref += w.exact[static_cast<size_t>(r * cols + c)] * x[static_cast<size_t>(r - 10)];
      a += std::fabs(w.exact[static_cast<size_t>(r * cols + c)] * x[static_cast<size_t>(r - 10)]);
    }
    EXPECT_NEAR(y[static_cast<size_t>(c)], ref, 1e-6 * a);
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, MatvecDtype, ::testing::Values(DType::F32, DType::BF16, DType::F16, DType::F8_E4M3),
                         [](const auto& p) { return std::string(to_string(p.param)); });

TEST(Matvec, Fp8BlockScalesApplyPerBlockOfRowsAndColumns) {
  // 2 x 2 blocks of scales on a 200 x 300 weight: element (r, c) uses scale [r/128][c/128].
  const Weight w = make_weight(DType::F8_E4M3, 200, 300, 21);
  std::vector<float> row(300);
  cpu::weight_row(w.view, 150, row.data());
  for (int64_t c = 0; c < 300; ++c) EXPECT_FLOAT_EQ(row[static_cast<size_t>(c)], static_cast<float>(w.exact[static_cast<size_t>(150 * 300 + c)]));
}

TEST(Linear, ThreadPoolSplitGivesTheSameResultAsOneThread) {
  const Weight w = make_weight(DType::BF16, 301, 256, 17);
  const int64_t n = 3;
  const auto X = make_x(n * 256, 19);
  std::vector<float> y1(static_cast<size_t>(n * 301)), y2(y1.size()), ga(y1.size()), gb(y1.size());
  cpu::ThreadPool one(1), three(3);
  cpu::linear(one, w.view, X.data(), n, y1.data());
  for (int rep = 0; rep < 50; ++rep) cpu::linear(three, w.view, X.data(), n, y2.data());
  EXPECT_EQ(y1, y2);  // same kernel per row, only the split differs
  cpu::linear2(three, w.view, w.view, X.data(), n, ga.data(), gb.data());
  EXPECT_EQ(ga, y1);
  EXPECT_EQ(gb, y1);
}

TEST(ThreadPool, CoversEveryIndexExactlyOnce) {
  cpu::ThreadPool pool(4);
  EXPECT_EQ(pool.size(), 4);
  for (int64_t n : {1, 3, 4, 5, 1000}) {
    std::vector<int> hits(static_cast<size_t>(n), 0);
    pool.parallel_for(n, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
    });
    for (int h : hits) ASSERT_EQ(h, 1);
  }
}

TEST(Matvec, BatchedTransposedAccumulateEqualsPerToken) {
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::F8_E4M3}) {
    const int64_t rows = 40, cols = 45, n = 5, ldx = 20, ldy = 50;
    const Weight w = make_weight(t, rows, cols, 31);
    const auto X = make_x(n * ldx, 37);
    std::vector<float> Y(static_cast<size_t>(n * ldy), 0.5f), ref = Y;
    cpu::matmat_t_accumulate(w.view, X.data(), ldx, n, Y.data(), ldy, 7, 23);  // rows 7..22
    for (int64_t k = 0; k < n; ++k) cpu::matvec_t_accumulate(w.view, X.data() + k * ldx, ref.data() + k * ldy, 7, 23);
    EXPECT_EQ(Y, ref) << to_string(t);
  }
}
