// tests/engine/test_cuda_kernels.cpp — every CUDA kernel against a plain CPU loop written here
// (double accumulation), on random data. Skips without a CUDA device (ctest label `gpu`).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/backend/cuda/cuda_tools.h"
#include "engine/config.h"
#include "engine/tensor.h"
#include "support/data_paths.h"

namespace mlascope {
namespace {

class CudaKernels : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!cuda_device_available(&why)) GTEST_SKIP() << why;
  }
  std::mt19937 rng_{1234};
  std::vector<float> random(size_t n, float a = 1.0f) {
    std::uniform_real_distribution<float> u(-a, a);
    std::vector<float> v(n);
    for (float& x : v) x = u(rng_);
    return v;
  }
};

float bf16_round(float x) { return bf16_to_f32(f32_to_bf16(x)); }

std::vector<float> cpu_gemv(const std::vector<float>& W, int rows, int cols, const float* x, bool bf16) {
  std::vector<float> y(static_cast<size_t>(rows));
  for (int r = 0; r < rows; ++r) {
    double acc = 0.0;
    for (int c = 0; c < cols; ++c) {
      const float w = W[static_cast<size_t>(r) * cols + c];
      acc += static_cast<double>(bf16 ? bf16_round(w) : w) * x[c];
    }
    y[static_cast<size_t>(r)] = static_cast<float>(acc);
  }
  return y;
}

void expect_near_all(const std::vector<float>& got, const std::vector<float>& want, float tol, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], tol * std::max(1.0f, std::fabs(want[i]))) << what << " at " << i;
}

TEST_F(CudaKernels, RmsNormMatchesCpuLoop) {
  const int rows = 5, dim = 200;
  const std::vector<float> x = random(static_cast<size_t>(rows) * dim, 3.0f), w = random(dim);
  const float eps = 1e-6f;
  std::vector<float> want(x.size());
  for (int r = 0; r < rows; ++r) {
    double ss = 0.0;
    for (int i = 0; i < dim; ++i) ss += static_cast<double>(x[static_cast<size_t>(r) * dim + i]) * x[static_cast<size_t>(r) * dim + i];
    const double inv = 1.0 / std::sqrt(ss / dim + eps);
    for (int i = 0; i < dim; ++i)
      want[static_cast<size_t>(r) * dim + i] = static_cast<float>(w[static_cast<size_t>(i)] * x[static_cast<size_t>(r) * dim + i] * inv);
  }
  expect_near_all(cuda_check::rms_norm(x, w, rows, eps), want, 1e-5f, "rms_norm");
}

TEST_F(CudaKernels, GemvMatchesCpuLoopBothLoadPathsAndTypes) {
  // 256 columns take the 16-byte vector path; 37 the scalar fallback.
  for (int cols : {256, 37}) {
    for (bool bf16 : {false, true}) {
      const int rows = 19;
      const std::vector<float> W = random(static_cast<size_t>(rows) * cols), x = random(static_cast<size_t>(cols));
      const std::vector<float> want = cpu_gemv(W, rows, cols, x.data(), bf16);
      expect_near_all(cuda_check::gemv(W, rows, cols, x, bf16), want, 1e-5f, bf16 ? "gemv bf16" : "gemv f32");
    }
  }
}

TEST_F(CudaKernels, BatchedMatmulMatchesCpuLoop) {
  const int rows = 33, cols = 48, n = 7;
  for (bool bf16 : {false, true}) {
    const std::vector<float> W = random(static_cast<size_t>(rows) * cols), x = random(static_cast<size_t>(n) * cols);
    std::vector<float> want;
    for (int t = 0; t < n; ++t) {
      const std::vector<float> y = cpu_gemv(W, rows, cols, x.data() + static_cast<size_t>(t) * cols, bf16);
      want.insert(want.end(), y.begin(), y.end());
    }
    expect_near_all(cuda_check::matmul(W, rows, cols, x, n, bf16), want, 1e-5f, "matmul");
  }
}

TEST_F(CudaKernels, SlotFfnIsWeightedSumOfSwiGluExperts) {
  const int D = 64;
  std::vector<cuda_check::Ffn> experts;
  for (int ff : {32, 32, 32, 64}) {  // three routed experts and a wider "shared" one
    cuda_check::Ffn e;
    e.ff = ff;
    e.gate = random(static_cast<size_t>(ff) * D, 0.3f);
    e.up = random(static_cast<size_t>(ff) * D, 0.3f);
    e.down = random(static_cast<size_t>(ff) * D, 0.3f);
    experts.push_back(e);
  }
  const std::vector<int32_t> slot = {2, 0, 3};
  const std::vector<float> slot_w = {0.7f, 0.2f, 1.0f};
  const std::vector<float> x = random(D);
  for (bool bf16 : {false, true}) {
    std::vector<double> want(static_cast<size_t>(D), 0.0);
    for (size_t s = 0; s < slot.size(); ++s) {
      const cuda_check::Ffn& e = experts[static_cast<size_t>(slot[s])];
      const std::vector<float> g = cpu_gemv(e.gate, e.ff, D, x.data(), bf16);
      const std::vector<float> u = cpu_gemv(e.up, e.ff, D, x.data(), bf16);
      std::vector<float> act(static_cast<size_t>(e.ff));
      for (int i = 0; i < e.ff; ++i) {
        const double gi = g[static_cast<size_t>(i)];
        act[static_cast<size_t>(i)] = static_cast<float>(gi / (1.0 + std::exp(-gi)) * u[static_cast<size_t>(i)]);
      }
      const std::vector<float> y = cpu_gemv(e.down, D, e.ff, act.data(), bf16);
      for (int r = 0; r < D; ++r) want[static_cast<size_t>(r)] += slot_w[s] * y[static_cast<size_t>(r)];
    }
    const std::vector<float> got = cuda_check::ffn_slots(experts, D, slot, slot_w, x, bf16);
    expect_near_all(got, std::vector<float>(want.begin(), want.end()), 1e-5f, "ffn_slots");
  }
}

TEST_F(CudaKernels, LatentRowAndInterleavedRopeWithYarn) {
  // v3-tiny: YaRN factor 4 over 32 original positions, qk_rope_head_dim 16.
  const ModelConfig cfg = ModelConfig::from_file(test::data_path("golden/v3-tiny/config.json"));
  const int H = cfg.num_attention_heads, R = cfg.kv_lora_rank, N = cfg.qk_nope_head_dim, P = cfg.qk_rope_head_dim;
  const int C = R + P, QH = N + P, n = 6, start = 90;
  const std::vector<float> inv_freq = cfg.rope_inv_freq();
  const float msc = static_cast<float>(cfg.rope_mscale());
  const std::vector<float> kv = random(static_cast<size_t>(n) * C, 2.0f), w = random(static_cast<size_t>(R));
  const std::vector<float> q = random(static_cast<size_t>(n) * H * QH, 2.0f);
  const float eps = 1e-6f;
  const cuda_check::Prepared got = cuda_check::mla_prepare(kv, w, n, start, H, R, N, P, q, inv_freq, msc, eps);
  std::vector<float> lat(static_cast<size_t>(n) * C), qr = q;
  auto rope = [&](float* x, int pos) {
    for (int j = 0; j < P / 2; ++j) {
      const double a = static_cast<double>(static_cast<float>(pos) * inv_freq[static_cast<size_t>(j)]);
      const double c = std::cos(a) * msc, s = std::sin(a) * msc;
      const double x0 = x[2 * j], x1 = x[2 * j + 1];
      x[2 * j] = static_cast<float>(x0 * c - x1 * s);
      x[2 * j + 1] = static_cast<float>(x0 * s + x1 * c);
    }
  };
  for (int t = 0; t < n; ++t) {
    const float* r = kv.data() + static_cast<size_t>(t) * C;
    double ss = 0.0;
    for (int i = 0; i < R; ++i) ss += static_cast<double>(r[i]) * r[i];
    const double inv = 1.0 / std::sqrt(ss / R + eps);
    float* o = lat.data() + static_cast<size_t>(t) * C;
    for (int i = 0; i < R; ++i) o[i] = static_cast<float>(w[static_cast<size_t>(i)] * r[i] * inv);
    for (int i = 0; i < P; ++i) o[R + i] = r[R + i];
    rope(o + R, start + t);
    for (int h = 0; h < H; ++h) rope(qr.data() + (static_cast<size_t>(t) * H + h) * QH + N, start + t);
  }
  expect_near_all(got.latent, lat, 1e-5f, "latent row");
  expect_near_all(got.q, qr, 1e-5f, "q with roped q_pe");
}

// Reference routing written from tests/data/golden/README.md ("Routing"), independent of the kernel.
struct RefRoute {
  std::vector<int> idx;
  std::vector<float> w;
  uint64_t kept = ~0ull;
  float margin = std::numeric_limits<float>::infinity();
};

RefRoute ref_route(const ModelConfig& c, const float* logits, const float* bias, std::vector<float>& scores) {
  const int E = c.n_routed_experts, k = c.num_experts_per_tok;
  scores.assign(logits, logits + E);
  if (c.scoring_func == ScoringFunc::Softmax) {
    const double m = *std::max_element(scores.begin(), scores.end());
    double sum = 0.0;
    for (float& s : scores) sum += std::exp(s - m);
    for (float& s : scores) s = static_cast<float>(std::exp(s - m) / sum);
  } else {
    for (float& s : scores) s = static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(s))));
  }
  const bool noaux = c.topk_method == TopkMethod::NoauxTc;
  std::vector<float> sel(scores);
  if (noaux && bias)
    for (int e = 0; e < E; ++e) sel[static_cast<size_t>(e)] += bias[e];
  auto desc = [](const std::vector<float>& v) {
    std::vector<int> o(v.size());
    std::iota(o.begin(), o.end(), 0);
    std::stable_sort(o.begin(), o.end(), [&](int a, int b) { return v[static_cast<size_t>(a)] > v[static_cast<size_t>(b)]; });
    return o;
  };
  RefRoute r;
  std::vector<float> masked(sel);
  if (c.topk_method != TopkMethod::Greedy && c.n_group > 1) {
    const int G = c.n_group, per = E / G;
    std::vector<float> gs(static_cast<size_t>(G));
    for (int g = 0; g < G; ++g) {
      std::vector<float> part(sel.begin() + g * per, sel.begin() + (g + 1) * per);
      std::sort(part.rbegin(), part.rend());
      gs[static_cast<size_t>(g)] = noaux ? part[0] + part[1] : part[0];
    }
    const std::vector<int> go = desc(gs);
    r.kept = 0;
    for (int i = 0; i < c.topk_group; ++i) r.kept |= 1ull << go[static_cast<size_t>(i)];
    if (c.topk_group < G)
      r.margin = gs[static_cast<size_t>(go[static_cast<size_t>(c.topk_group - 1)])] -
                 gs[static_cast<size_t>(go[static_cast<size_t>(c.topk_group)])];
    for (int e = 0; e < E; ++e)
      if (!((r.kept >> (e / per)) & 1)) masked[static_cast<size_t>(e)] = -std::numeric_limits<float>::infinity();
  }
  const std::vector<int> eo = desc(masked);
  r.idx.assign(eo.begin(), eo.begin() + k);
  if (k < E && std::isfinite(masked[static_cast<size_t>(eo[static_cast<size_t>(k)])]))
    r.margin = std::min(r.margin, masked[static_cast<size_t>(eo[static_cast<size_t>(k - 1)])] -
                                      masked[static_cast<size_t>(eo[static_cast<size_t>(k)])]);
  double sum = 0.0;
  for (int e : r.idx) sum += scores[static_cast<size_t>(e)];
  for (int e : r.idx) {
    double w = scores[static_cast<size_t>(e)];
    if (c.norm_topk_prob) w /= sum;
    r.w.push_back(static_cast<float>(w * c.routed_scaling_factor));
  }
  return r;
}

TEST_F(CudaKernels, RoutingMatchesReferenceForAllThreeGates) {
  for (const char* name : {"v2-lite-tiny", "v2-grouped-yarn", "v3-tiny"}) {
    SCOPED_TRACE(name);
    const ModelConfig cfg = ModelConfig::from_file(test::data_path(std::string("golden/") + name + "/config.json"));
    const int E = cfg.n_routed_experts, k = cfg.num_experts_per_tok, n = 40;
    const std::vector<float> logits = random(static_cast<size_t>(n) * E, 4.0f);
    // A bias large enough to change choices (only noaux_tc uses it).
    const std::vector<float> bias =
        cfg.topk_method == TopkMethod::NoauxTc ? random(static_cast<size_t>(E), 0.5f) : std::vector<float>{};
    const cuda_check::Routed got = cuda_check::route(cfg, logits, bias, n);
    for (int t = 0; t < n; ++t) {
      std::vector<float> scores;
      const RefRoute want = ref_route(cfg, logits.data() + static_cast<size_t>(t) * E, bias.empty() ? nullptr : bias.data(), scores);
      for (int e = 0; e < E; ++e)
        ASSERT_NEAR(got.scores[static_cast<size_t>(t) * E + e], scores[static_cast<size_t>(e)], 1e-6f) << "t " << t;
      for (int i = 0; i < k; ++i) {
        ASSERT_EQ(got.idx[static_cast<size_t>(t) * k + i], want.idx[static_cast<size_t>(i)]) << "t " << t << " rank " << i;
        ASSERT_NEAR(got.weight[static_cast<size_t>(t) * k + i], want.w[static_cast<size_t>(i)], 1e-6f) << "t " << t;
      }
      ASSERT_EQ(got.kept[static_cast<size_t>(t)], want.kept) << "t " << t;
      if (std::isinf(want.margin))
        ASSERT_TRUE(std::isinf(got.margin[static_cast<size_t>(t)]));
      else
        ASSERT_NEAR(got.margin[static_cast<size_t>(t)], want.margin, 1e-6f) << "t " << t;
    }
  }
}

TEST_F(CudaKernels, NoauxBiasChangesSelectionButNotWeights) {
  ModelConfig cfg = ModelConfig::from_file(test::data_path("golden/v3-tiny/config.json"));
  const int E = cfg.n_routed_experts;  // 16 experts, 4 groups of 4, keep 2, top-4
  ASSERT_EQ(E, 16);
  const std::vector<float> logits = {3.0f, 2.9f, -2, -2, 2.8f, 2.7f, -2, -2, 0.5f, 0.4f, -2, -2, -2, -2, -2, -2};
  // Lifts group 2 above group 1 and experts 8, 9 into the top-4.
  const std::vector<float> bias = {0, 0, 0, 0, 0, 0, 0, 0, 2.0f, 2.0f, 0, 0, 0, 0, 0, 0};
  const cuda_check::Routed got = cuda_check::route(cfg, logits, bias, 1);
  std::vector<int> ids(got.idx.begin(), got.idx.end());
  EXPECT_EQ(ids, (std::vector<int>{8, 9, 0, 1}));
  EXPECT_EQ(got.kept[0], (1ull << 0) | (1ull << 2));
  const double s = [&] {
    double acc = 0.0;
    for (int e : ids) acc += 1.0 / (1.0 + std::exp(-static_cast<double>(logits[static_cast<size_t>(e)])));
    return acc;
  }();
  for (int i = 0; i < 4; ++i) {
    const double sc = 1.0 / (1.0 + std::exp(-static_cast<double>(logits[static_cast<size_t>(ids[static_cast<size_t>(i)])])));
    EXPECT_NEAR(got.weight[static_cast<size_t>(i)], sc / s * cfg.routed_scaling_factor, 1e-6);
  }
}

TEST_F(CudaKernels, TopKAndLogSumExpMatchSort) {
  std::vector<float> logits = random(50000, 8.0f);
  logits[777] = 20.0f;
  logits[123] = 20.0f;  // tie: the lower id comes first
  const cuda_check::TopK got = cuda_check::top_k(logits, 20);
  std::vector<int> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return logits[static_cast<size_t>(a)] > logits[static_cast<size_t>(b)]; });
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(got.id[static_cast<size_t>(i)], order[static_cast<size_t>(i)]) << i;
    EXPECT_EQ(got.logit[static_cast<size_t>(i)], logits[static_cast<size_t>(order[static_cast<size_t>(i)])]) << i;
  }
  double sum = 0.0;
  for (float v : logits) sum += std::exp(static_cast<double>(v) - 20.0);
  EXPECT_NEAR(got.lse, 20.0 + std::log(sum), 1e-4);
}

}  // namespace
}  // namespace mlascope
