// tests/engine/test_cuda_backend.cpp — the whole CUDA forward pass checked against itself through
// independent paths: absorbed MLA (split-KV decode kernel, and the batched GEMM form) against the
// naive per-head K/V form; graph-replayed decode against batched prefill; device greedy against
// host argmax; tracing on and off. Tiny shapes from the golden configs, random bf16 weights made
// on the device. Skips without a CUDA device (ctest label `gpu`).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/backend/cuda/cuda_tools.h"
#include "engine/config.h"
#include "engine/error.h"
#include "support/data_paths.h"

namespace mlascope {
namespace {

class CudaBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!cuda_device_available(&why)) GTEST_SKIP() << why;
  }
  static ModelConfig config(const char* name) {
    return ModelConfig::from_file(test::data_path(std::string("golden/") + name + "/config.json"));
  }
  static std::unique_ptr<Backend> make(const ModelConfig& c, MlaMode mode, int ctx = 0) {
    BackendOptions o;
    o.device = DeviceKind::Cuda;
    o.mla = mode;
    o.max_context = ctx;
    return make_cuda_backend_synthetic(c, o, 7);
  }
  static std::vector<int32_t> prompt(int n, int vocab) {
    std::mt19937 rng(99);
    std::vector<int32_t> ids(static_cast<size_t>(n));
    for (int32_t& t : ids) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab));
    return ids;
  }
  static std::vector<float> prefill(Backend& b, const std::vector<int32_t>& ids, TraceSink* tr = nullptr) {
    std::vector<float> logits;
    ForwardRequest r;
    r.tokens = ids;
    r.start_pos = b.n_cached();
    r.all_logits = true;
    r.trace = tr;
    EXPECT_EQ(b.forward(r, logits), StepStatus::Ok);
    return logits;
  }
  static std::vector<float> decode(Backend& b, const std::vector<int32_t>& ids, TraceSink* tr = nullptr) {
    std::vector<float> all, one;
    for (int32_t t : ids) {
      ForwardRequest r;
      const std::vector<int32_t> tok{t};
      r.tokens = tok;
      r.start_pos = b.n_cached();
      r.trace = tr;
      EXPECT_EQ(b.forward(r, one), StepStatus::Ok);
      all.insert(all.end(), one.begin(), one.end());
    }
    return all;
  }
};

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0.0f;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

struct Capture : TraceSink {
  std::map<std::pair<int, int>, std::vector<float>> probs;             // (layer, pos) -> [H, n_keys]
  std::map<std::pair<int, int>, std::set<int>> routes;                 // (layer, pos) -> experts
  std::map<std::pair<int, int>, std::vector<float>> hidden;
  void on_attention(int layer, int pos, int H, int n_keys, const float* p, const float*, const float*) override {
    probs[{layer, pos}] = std::vector<float>(p, p + static_cast<size_t>(H) * n_keys);
  }
  void on_route(const RouteRecord& r) override {
    routes[{r.layer, r.position}] = std::set<int>(r.expert, r.expert + r.k);
  }
  void on_vector(TracePoint p, int layer, int pos, std::span<const float> v) override {
    if (p == TracePoint::Hidden) hidden[{layer, pos}] = std::vector<float>(v.begin(), v.end());
  }
};

TEST_F(CudaBackendTest, AbsorbedEqualsNaiveInPrefillAndDecode) {
  for (const char* name : {"v2-lite-tiny", "v3-tiny"}) {
    SCOPED_TRACE(name);
    const ModelConfig c = config(name);
    const std::vector<int32_t> ids = prompt(40, c.vocab_size);
    auto absorbed = make(c, MlaMode::Absorbed);
    auto naive = make(c, MlaMode::Naive);
    const std::vector<float> a = prefill(*absorbed, ids), n = prefill(*naive, ids);
    ASSERT_EQ(a.size(), ids.size() * static_cast<size_t>(c.vocab_size));
    EXPECT_LE(max_abs_diff(a, n), 1e-3f);
    // Decode token by token: the split-KV kernel (absorbed) and the per-head kernel (naive).
    absorbed->truncate(0);
    naive->truncate(0);
    EXPECT_LE(max_abs_diff(decode(*absorbed, ids), a), 1e-3f);
    EXPECT_LE(max_abs_diff(decode(*naive, ids), a), 1e-3f);
  }
}

TEST_F(CudaBackendTest, LongDecodeSpansManySplitsAndMatchesPrefill) {
  // 600 positions: the decode kernel splits the keys over up to 38 blocks of 16.
  const ModelConfig c = config("v2-lite-tiny");
  const std::vector<int32_t> ids = prompt(600, c.vocab_size);
  auto b = make(c, MlaMode::Absorbed, 1024);
  const std::vector<float> ref = prefill(*b, ids);
  b->truncate(550);
  const std::vector<int32_t> tail(ids.begin() + 550, ids.end());
  const std::vector<float> dec = decode(*b, tail);
  const std::vector<float> ref_tail(ref.begin() + 550 * static_cast<ptrdiff_t>(c.vocab_size), ref.end());
  EXPECT_LE(max_abs_diff(dec, ref_tail), 1e-3f);
}

TEST_F(CudaBackendTest, AttentionProbabilitiesAgreeAcrossFormsAndSumToOne) {
  const ModelConfig c = config("v3-tiny");
  const std::vector<int32_t> ids = prompt(24, c.vocab_size);
  Capture ta, tn;
  ta.points = tn.points = uint32_t(TracePoint::AttnProbs);
  auto absorbed = make(c, MlaMode::Absorbed);
  auto naive = make(c, MlaMode::Naive);
  prefill(*absorbed, ids, &ta);
  prefill(*naive, ids, &tn);
  ASSERT_EQ(ta.probs.size(), static_cast<size_t>(c.num_hidden_layers) * ids.size());
  for (const auto& [key, p] : ta.probs) {
    const std::vector<float>& q = tn.probs.at(key);
    ASSERT_EQ(p.size(), q.size());
    const int n_keys = key.second + 1;
    for (int h = 0; h < c.num_attention_heads; ++h) {
      double sum = 0.0;
      for (int j = 0; j < n_keys; ++j) sum += p[static_cast<size_t>(h) * n_keys + j];
      EXPECT_NEAR(sum, 1.0, 1e-5);
    }
    EXPECT_LE(max_abs_diff(p, q), 1e-4f) << "layer " << key.first << " pos " << key.second;
  }
}

TEST_F(CudaBackendTest, RoutingTraceIsTheSameWithGraphAndEagerDecode) {
  const ModelConfig c = config("v3-tiny");
  const std::vector<int32_t> ids = prompt(12, c.vocab_size);
  Capture graph_sink, eager_sink;
  graph_sink.points = uint32_t(TracePoint::Route);                          // keeps the graph
  eager_sink.points = TracePoint::Route | TracePoint::Hidden;               // forces eager launches
  auto b1 = make(c, MlaMode::Absorbed);
  auto b2 = make(c, MlaMode::Absorbed);
  const std::vector<float> l1 = decode(*b1, ids, &graph_sink);
  const std::vector<float> l2 = decode(*b2, ids, &eager_sink);
  EXPECT_LE(max_abs_diff(l1, l2), 1e-5f);
  ASSERT_EQ(graph_sink.routes.size(), static_cast<size_t>(c.n_moe_layers()) * ids.size());
  EXPECT_EQ(graph_sink.routes, eager_sink.routes);
  for (const auto& [key, experts] : graph_sink.routes) EXPECT_EQ(experts.size(), static_cast<size_t>(c.num_experts_per_tok));
  EXPECT_EQ(eager_sink.hidden.size(), static_cast<size_t>(c.num_hidden_layers) * ids.size());
}

TEST_F(CudaBackendTest, DeviceGreedyMatchesHostArgmax) {
  const ModelConfig c = config("v2-lite-tiny");
  auto dev = make(c, MlaMode::Absorbed);
  auto host = make(c, MlaMode::Absorbed);
  const std::vector<int32_t> got = cuda_decode_greedy(*dev, 5, 20);
  ASSERT_EQ(got.size(), 20u);
  int32_t tok = 5;
  for (int i = 0; i < 20; ++i) {
    const std::vector<float> l = decode(*host, {tok});
    tok = static_cast<int32_t>(std::max_element(l.begin(), l.end()) - l.begin());
    EXPECT_EQ(got[static_cast<size_t>(i)], tok) << "step " << i;
  }
  EXPECT_EQ(dev->n_cached(), 20);
}

TEST_F(CudaBackendTest, ContextFullTruncateAndKvBytes) {
  const ModelConfig c = config("v2-lite-tiny");
  auto b = make(c, MlaMode::Absorbed, 32);
  EXPECT_EQ(b->max_context(), 32);
  const std::vector<int32_t> ids = prompt(32, c.vocab_size);
  const std::vector<float> ref = prefill(*b, ids);
  EXPECT_EQ(b->kv_bytes_in_use(), 32ull * c.num_hidden_layers * c.latent_cache_dim() * 4);
  std::vector<float> out;
  ForwardRequest r;
  const std::vector<int32_t> one{1};
  r.tokens = one;
  r.start_pos = 32;
  EXPECT_EQ(b->forward(r, out), StepStatus::ContextFull);
  b->truncate(31);
  const std::vector<float> last = decode(*b, {ids.back()});
  EXPECT_LE(max_abs_diff(last, std::vector<float>(ref.end() - c.vocab_size, ref.end())), 1e-3f);
}

TEST_F(CudaBackendTest, BadInputIsAnErrorNotACrash) {
  const ModelConfig c = config("v2-lite-tiny");
  auto b = make(c, MlaMode::Absorbed);
  std::vector<float> out;
  ForwardRequest r;
  const std::vector<int32_t> bad{c.vocab_size};
  r.tokens = bad;
  EXPECT_THROW(b->forward(r, out), Error);
  ModelConfig huge = c;
  huge.vocab_size = 1 << 30;  // ~256 GiB of embeddings
  try {
    make(huge, MlaMode::Absorbed);
    FAIL() << "expected the memory plan to refuse";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not fit"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mlascope
