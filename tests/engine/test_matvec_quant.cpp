// tests/engine/test_matvec_quant.cpp — quantized matvec against dequantize + dot in double.
// Two references: with the quantized x (d*q) the kernels must agree to float rounding; with the
// original x the difference is bounded by the x quantization step (sum |w| * d_x / 2).
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "engine/backend/cpu/linear.h"
#include "engine/backend/cpu/matvec.h"
#include "engine/backend/cpu/matvec_quant.h"
#include "engine/backend/cpu/thread_pool.h"
#include "engine/error.h"
#include "engine/weights/quant.h"

using namespace mlascope;

namespace {

struct Matrix {
  std::vector<uint8_t> bytes;
  TensorView view;
};

// Random blocks: every code bit random (all code patterns, negative Q6_K scales), block scales
// overwritten with sane f16 values so the products stay finite.
Matrix random_matrix(DType t, int64_t rows, int64_t cols, std::mt19937& rng) {
  if (t == DType::Q5_0_R || t == DType::Q8_0_R) {  // a file-layout matrix (sane scales), rows reordered
    const DType file_type = t == DType::Q5_0_R ? DType::Q5_0 : DType::Q8_0;
    Matrix m = random_matrix(file_type, rows, cols, rng);
    const size_t row_bytes = dtype_bytes(t, static_cast<size_t>(cols));
    std::vector<uint8_t> row(row_bytes);
    for (int64_t r = 0; r < rows; ++r) {
      row_to_cpu_layout(file_type, m.bytes.data() + r * row_bytes, row.data(), cols);
      std::memcpy(m.bytes.data() + r * row_bytes, row.data(), row_bytes);
    }
    m.view.dtype = t;
    return m;
  }
  Matrix m;
  m.bytes.resize(dtype_bytes(t, static_cast<size_t>(rows * cols)));
  for (auto& b : m.bytes) b = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> u(0.001f, 0.05f);
  const size_t bb = static_cast<size_t>(dtype_block_bytes(t));
  for (size_t off = 0; off < m.bytes.size(); off += bb) {
    auto put = [&](size_t at) {
      const uint16_t h = f32_to_f16(u(rng));
      std::memcpy(&m.bytes[off + at], &h, 2);
    };
    switch (t) {
      case DType::Q6_K: case DType::Q6_K_R: put(208); break;
      case DType::Q3_K: put(108); break;
      case DType::Q2_K: put(80), put(82); break;
      case DType::Q4_K: case DType::Q4_K_R: case DType::Q5_K: case DType::Q4_1: case DType::Q5_1: put(0), put(2); break;
      default: put(0); break;  // Q8_0, Q4_0, Q5_0, IQ4_NL, IQ4_XS
    }
  }
  m.view.name.assign(1, 'w');  // (assign: GCC 12 warns -Wrestrict on operator= here)
  m.view.dtype = t;
  m.view.shape = {rows, cols};
  m.view.data = m.bytes.data();
  m.view.nbytes = m.bytes.size();
  return m;
}

}  // namespace

class MatvecQuant : public ::testing::TestWithParam<DType> {};

TEST_P(MatvecQuant, MatchesDequantizedDot) {
  const DType t = GetParam();
  std::mt19937 rng(42);
  const int64_t rows = 9, cols = 768;
  Matrix m = random_matrix(t, rows, cols, rng);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(cols));
  for (float& v : x) v = g(rng);
  x[5] = 0.0f;
  std::fill(x.begin() + 64, x.begin() + 96, 0.0f);  // an all-zero block (scale 0)

  Q8Activation xq;
  quantize_activation(x.data(), cols, xq);
  std::vector<float> y(static_cast<size_t>(rows), NAN), yp(static_cast<size_t>(rows), NAN);
  matvec_quant(m.view, x.data(), y.data(), 1, rows);
  matvec_quant_portable(m.view, xq, yp.data(), 1, rows);
  EXPECT_TRUE(std::isnan(y[0])) << "row 0 is outside the range and must be left alone";

  std::vector<float> w(static_cast<size_t>(cols));
  for (int64_t r = 1; r < rows; ++r) {
    m.view.row_to_f32(r, w.data());
    double exact_q = 0, exact = 0, mag = 0, bound = 0;
    // Q2_K..Q6_K and IQ4_XS take x in 256-value blocks (one scale per super-block), the others in 32s.
    const bool k = t == DType::Q2_K || t == DType::Q3_K || t == DType::Q4_K || t == DType::Q4_K_R || t == DType::Q5_K ||
                   t == DType::Q6_K || t == DType::Q6_K_R || t == DType::IQ4_XS;
    ASSERT_EQ(k, super_blocks_for(t));
    for (int64_t i = 0; i < cols; ++i) {
      const double dx = k ? xq.dk[i / 256] : xq.d[i / 32];
      const double xi_q = dx * (k ? xq.qk[i] : xq.q[i]);
      exact_q += double(w[i]) * xi_q;
      exact += double(w[i]) * x[i];
      mag += std::fabs(double(w[i]) * xi_q);
      bound += std::fabs(double(w[i])) * dx * 0.5;
    }
    EXPECT_NEAR(y[r], exact_q, 1e-5 * mag + 1e-6) << to_string(t) << " row " << r;
    EXPECT_NEAR(yp[r], exact_q, 1e-5 * mag + 1e-6) << to_string(t) << " row " << r << " (portable)";
    EXPECT_NEAR(y[r], exact, bound * 1.001 + 1e-5 * mag) << to_string(t) << " row " << r;
  }
}

INSTANTIATE_TEST_SUITE_P(Types, MatvecQuant,
                         ::testing::Values(DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1,
                                           DType::IQ4_NL, DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K,
                                           DType::Q6_K, DType::IQ4_XS, DType::Q4_K_R, DType::Q5_0_R,
                                           DType::Q8_0_R, DType::Q6_K_R),
                         [](const ::testing::TestParamInfo<DType>& p) {
                           // Q4_K_R reads as "Q4_K" to users; test names must differ.
                           return p.param == DType::Q4_K_R   ? std::string("Q4_K_cpu_layout")
                                  : p.param == DType::Q5_0_R ? std::string("Q5_0_cpu_layout")
                                  : p.param == DType::Q8_0_R ? std::string("Q8_0_cpu_layout")
                                  : p.param == DType::Q6_K_R ? std::string("Q6_K_cpu_layout")
                                                             : std::string(to_string(p.param));
                         });

TEST_P(MatvecQuant, BatchedEqualsPerToken) {
  const DType t = GetParam();
  std::mt19937 rng(5);
  const int64_t rows = 6, cols = 512, ldx = cols + 3, ldy = rows + 2;
  Matrix m = random_matrix(t, rows, cols, rng);
  std::normal_distribution<float> g(0.0f, 1.0f);
  // 5, 7, 11 tokens: every tile width the batched kernels use (4, 2, 1) and their remainders.
  for (const int64_t n_tokens : {5, 7, 11}) {
    std::vector<float> X(static_cast<size_t>(n_tokens * ldx)), Y(static_cast<size_t>(n_tokens * ldy), NAN);
    for (float& v : X) v = g(rng);
    matmat_quant(m.view, X.data(), ldx, n_tokens, Y.data(), ldy, 1, rows);
    std::vector<float> y(static_cast<size_t>(rows));
    for (int64_t k = 0; k < n_tokens; ++k) {
      matvec_quant(m.view, X.data() + k * ldx, y.data(), 1, rows);
      EXPECT_TRUE(std::isnan(Y[static_cast<size_t>(k * ldy)])) << "row 0 is outside the range";
      for (int64_t r = 1; r < rows; ++r)
        EXPECT_EQ(Y[static_cast<size_t>(k * ldy + r)], y[static_cast<size_t>(r)]) << n_tokens << " tokens: " << k << "," << r;
    }
  }
}

TEST(MatvecQuantErrors, RejectsPlainTypesAndWrongLengths) {
  std::vector<float> w(64, 1.0f), x(64, 1.0f), y(2);
  TensorView v;
  v.name = "w";
  v.dtype = DType::F32;
  v.shape = {2, 32};
  v.data = w.data();
  EXPECT_THROW(matvec_quant(v, x.data(), y.data(), 0, 2), Error);
  Q8Activation xq;
  EXPECT_THROW(quantize_activation(x.data(), 40, xq), Error);
  std::vector<uint8_t> blocks(2 * 34, 0);
  v.dtype = DType::Q8_0;
  v.data = blocks.data();
  quantize_activation(x.data(), 64, xq);
  EXPECT_THROW(matvec_quant(v, xq, y.data(), 0, 2), Error);  // 64 values for 32 columns
}

TEST(MatvecQuantInfo, ReportsSimd) {
  // Not an assertion on the machine: prints which path ran so test logs show it.
  std::printf("matvec_quant SIMD (AVX2): %s\n", matvec_quant_has_simd() ? "yes" : "no");
  SUCCEED();
}

// linear() quantizes the tokens once and hands them to every thread chunk: the result must equal
// the single-call kernels whatever the split (decode n = 1 and a prefill batch).
TEST_P(MatvecQuant, LinearOnAPoolEqualsTheKernels) {
  const DType t = GetParam();
  std::mt19937 rng(8);
  const int64_t rows = 67, cols = 512;
  Matrix m = random_matrix(t, rows, cols, rng);
  std::normal_distribution<float> g(0.0f, 1.0f);
  cpu::ThreadPool pool(3);
  for (int64_t n : {1, 6}) {
    std::vector<float> X(static_cast<size_t>(n * cols)), Y(static_cast<size_t>(n * rows)), ref(Y.size());
    for (float& v : X) v = g(rng);
    cpu::linear(pool, m.view, X.data(), n, Y.data());
    if (n == 1)
      matvec_quant(m.view, X.data(), ref.data(), 0, rows);
    else
      cpu::matmat(m.view, X.data(), cols, n, ref.data(), rows, 0, rows);
    EXPECT_EQ(Y, ref) << to_string(t) << " n=" << n;
  }
}

// The activation quantizer against the definition written out here: per block of 32,
// d = max|x| / 127, q = round-half-even(x / d), sums of q per 16; blocks of zeros give d = 0.
TEST(QuantizeActivation, MatchesTheDefinitionExactly) {
  std::mt19937 rng(13);
  std::normal_distribution<float> g(0.0f, 3.0f);
  const int64_t n = 32 * 20;
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = g(rng);
  std::fill(x.begin() + 64, x.begin() + 96, 0.0f);                  // a zero block
  for (int i = 0; i < 32; ++i) x[static_cast<size_t>(128 + i)] = (i - 16) * 0.5f;  // ties at .5 steps
  x[200] = -1e30f;                                                   // a huge value sets d
  Q8Activation q;
  quantize_activation(x.data(), n, q);
  for (int64_t b = 0; b < n / 32; ++b) {
    float amax = 0.0f;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[static_cast<size_t>(b * 32 + i)]));
    const float d = amax / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
    ASSERT_EQ(q.d[static_cast<size_t>(b)], d) << "block " << b;
    int s[2] = {0, 0};
    for (int i = 0; i < 32; ++i) {
      const int e = static_cast<int>(std::nearbyint(x[static_cast<size_t>(b * 32 + i)] * id));
      ASSERT_EQ(q.q[static_cast<size_t>(b * 32 + i)], e) << "block " << b << " value " << i;
      s[i / 16] += e;
    }
    EXPECT_EQ(q.sum16[static_cast<size_t>(2 * b)], s[0]);
    EXPECT_EQ(q.sum16[static_cast<size_t>(2 * b + 1)], s[1]);
  }
  // n = 640 is not a whole number of 256-blocks: no super-block form.
  EXPECT_TRUE(q.qk.empty());
  // The super-block form, on 512 values: one scale per 256.
  quantize_activation(x.data(), 512, q);
  ASSERT_EQ(q.dk.size(), 2u);
  for (int64_t b = 0; b < 2; ++b) {
    float amax = 0.0f;
    for (int i = 0; i < 256; ++i) amax = std::max(amax, std::fabs(x[static_cast<size_t>(b * 256 + i)]));
    const float d = amax / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
    ASSERT_EQ(q.dk[static_cast<size_t>(b)], d);
    for (int group = 0; group < 16; ++group) {
      int s = 0;
      for (int i = 0; i < 16; ++i) {
        const size_t at = static_cast<size_t>(b * 256 + group * 16 + i);
        const int e = static_cast<int>(std::nearbyint(x[at] * id));
        ASSERT_EQ(q.qk[at], e) << at;
        s += e;
      }
      EXPECT_EQ(q.ksum16[static_cast<size_t>(b * 16 + group)], s);
    }
  }
}

// A Q4_K product given x quantized without its 256-value blocks is refused, not read out of bounds.
TEST(MatvecQuantErrors, KQuantNeedsSuperBlocks) {
  std::mt19937 rng(4);
  Matrix m = random_matrix(DType::Q4_K, 2, 256, rng);
  std::vector<float> x(256, 0.5f), y(2);
  Q8Activation xq;
  quantize_activation(x.data(), 256, xq, /*super_blocks=*/false);
  EXPECT_THROW(matvec_quant(m.view, xq, y.data(), 0, 2), Error);
  quantize_activation(x.data(), 256, xq, /*super_blocks=*/true);
  EXPECT_NO_THROW(matvec_quant(m.view, xq, y.data(), 0, 2));
}

// Q5_0 / Q8_0 rows in the CPU layout whose length is not a whole number of 8-block groups (V2-Lite's
// ffn_down: 1408 = 5 groups + 4 blocks; 224: no group at all): the regrouped part and the blocks
// left in the file's layout both count, decode and prompt, against the dequantized dot. The
// 32-wide types in the file's layout too, on rows of a few blocks as a small model has them (the
// demo's q_b: 96 columns, its experts' down: 128); Q5_0 goes four blocks at a time, so 96, 160
// and 224 leave 3, 1 and 3 blocks after the last four.
TEST(MatvecQuantCpuLayout, RowsWithBlocksOutsideTheGroups) {
  for (const DType t : {DType::Q5_0_R, DType::Q8_0_R, DType::Q5_0, DType::Q8_0, DType::Q4_1, DType::Q5_1})
  for (const int64_t cols : {int64_t{1408}, int64_t{224}, int64_t{288}, int64_t{96}, int64_t{128}, int64_t{160}, int64_t{32}}) {
    SCOPED_TRACE(to_string(t) + std::string(t == DType::Q5_0_R || t == DType::Q8_0_R ? " (CPU layout)" : ""));
    std::mt19937 rng(static_cast<unsigned>(cols));
    const int64_t rows = 5;
    Matrix m = random_matrix(t, rows, cols, rng);
    std::normal_distribution<float> g(0.0f, 1.0f);
    const int64_t n_tokens = 6;
    std::vector<float> X(static_cast<size_t>(n_tokens * cols)), Y(static_cast<size_t>(n_tokens * rows));
    for (float& v : X) v = g(rng);
    matmat_quant(m.view, X.data(), cols, n_tokens, Y.data(), rows, 0, rows);
    std::vector<float> w(static_cast<size_t>(cols)), y(static_cast<size_t>(rows));
    for (int64_t k = 0; k < n_tokens; ++k) {
      Q8Activation xq;
      quantize_activation(X.data() + k * cols, cols, xq);
      matvec_quant(m.view, xq, y.data(), 0, rows);
      for (int64_t r = 0; r < rows; ++r) {
        m.view.row_to_f32(r, w.data());
        double exact_q = 0, mag = 0;
        for (int64_t i = 0; i < cols; ++i) {
          const double xi = double(xq.d[static_cast<size_t>(i / 32)]) * xq.q[static_cast<size_t>(i)];
          exact_q += double(w[static_cast<size_t>(i)]) * xi;
          mag += std::fabs(double(w[static_cast<size_t>(i)]) * xi);
        }
        EXPECT_NEAR(y[static_cast<size_t>(r)], exact_q, 1e-5 * mag + 1e-6) << cols << " cols, row " << r;
        EXPECT_EQ(Y[static_cast<size_t>(k * rows + r)], y[static_cast<size_t>(r)]) << cols << " cols: token " << k << " row " << r;
      }
    }
  }
}
