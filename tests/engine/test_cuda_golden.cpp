// tests/engine/test_cuda_golden.cpp — the CUDA backend against the official reference's activations,
// with the CPU golden tests' own comparison (tests/support/golden_compare.h) and case.json's
// tolerances: every golden case (tests/data/golden/* and the demo model), both MLA forms.
//  * every trace point on, the prompt as one batch (cuBLAS path) and token by token (eager kernels);
//  * routing-only tracing token by token, as in normal use: the CUDA graph replay, the split-KV
//    absorbed decode kernel, routing records from the device, logits per step;
//  * greedy continuation selected on the device (Backend::forward_top, cuda_decode_greedy) and
//    through the Generator.
// Skips without a CUDA device (ctest label `gpu`).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/backend/cuda/cuda_tools.h"
#include "engine/model/model.h"
#include "engine/trace/activation_recorder.h"
#include "support/data_paths.h"
#include "support/golden.h"
#include "support/golden_compare.h"

using namespace mlascope;
namespace fs = std::filesystem;

namespace {

struct CudaGoldenParam {
  std::string case_dir;
  MlaMode mode;
  bool prefill;
};

std::string param_name(const ::testing::TestParamInfo<CudaGoldenParam>& info) {
  std::string n = fs::path(info.param.case_dir).filename().string();
  std::replace(n.begin(), n.end(), '-', '_');
  return n + "_" + to_string(info.param.mode) + (info.param.prefill ? "_prefill" : "_decode");
}

std::vector<CudaGoldenParam> all_params(bool with_prefill) {
  std::vector<CudaGoldenParam> out;
  for (const fs::path& d : test::golden_case_dirs())
    for (MlaMode m : {MlaMode::Naive, MlaMode::Absorbed}) {
      if (with_prefill) out.push_back({d.string(), m, true});
      out.push_back({d.string(), m, false});
    }
  return out;
}

std::unique_ptr<Backend> cuda_backend(const Model& model, MlaMode mode, int max_context) {
  BackendOptions o;
  o.device = DeviceKind::Cuda;
  o.mla = mode;
  o.max_context = max_context;
  return make_cuda_backend(model, o);
}

double logit_tol(const test::Golden& g) { return g.tolerance("logits"); }

// log(sum(exp(row))) in double: the reference for the device's log-sum-exp.
double lse_of(const float* row, int64_t V) {
  double m = row[0];
  for (int64_t i = 1; i < V; ++i) m = std::max(m, static_cast<double>(row[i]));
  double s = 0.0;
  for (int64_t i = 0; i < V; ++i) s += std::exp(row[i] - m);
  return m + std::log(s);
}

class CudaGolden : public ::testing::TestWithParam<CudaGoldenParam> {
 protected:
  void SetUp() override {
    std::string why;
    if (!cuda_device_available(&why)) GTEST_SKIP() << why;
  }
};

}  // namespace

TEST_P(CudaGolden, EveryTracePointMatchesReference) {
  const CudaGoldenParam& gp = GetParam();
  const test::Golden g(gp.case_dir);
  const auto model = test::golden_model(gp.case_dir);
  const ModelConfig& c = model->config();
  const std::vector<int32_t> prompt = g.prompt_ids();
  const int n_greedy = static_cast<int>(g.tensor("greedy_ids").numel());
  auto backend = cuda_backend(*model, gp.mode, static_cast<int>(prompt.size()) + n_greedy + 1);
  const test::Produced p = test::run_golden(*backend, c, gp.prefill, prompt, n_greedy);
  std::vector<std::string> fails = test::check_all(p, g, c);
  // The deciding gaps too: the device router computes them from its own float32 scores.
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    if (!c.is_moe_layer(l)) continue;
    const std::string name = "route_margin." + std::to_string(l);
    const double tol = 2e-4 * std::max(1.0, c.routed_scaling_factor);
    if (auto f = test::compare(name, p.t.at(name), g.tensor(name), tol)) fails.push_back(*f);
  }
  if (!fails.empty()) FAIL() << test::describe_failures(fails);
}

INSTANTIATE_TEST_SUITE_P(AllCases, CudaGolden, ::testing::ValuesIn(all_params(true)), param_name);

class CudaGoldenGraph : public CudaGolden {};

TEST_P(CudaGoldenGraph, RoutingTracedDecodeAndDeviceGreedyMatchReference) {
  const CudaGoldenParam& gp = GetParam();
  const test::Golden g(gp.case_dir);
  const auto model = test::golden_model(gp.case_dir);
  const ModelConfig& c = model->config();
  const std::vector<int32_t> prompt = g.prompt_ids();
  const std::vector<int32_t>& greedy = g.ids("greedy_ids");
  const int T = static_cast<int>(prompt.size()), N = static_cast<int>(greedy.size());
  const int64_t V = c.vocab_size;
  const double tol = logit_tol(g);
  auto backend = cuda_backend(*model, gp.mode, T + N + 1);

  // Routing only keeps the decode step on its captured graph (tracing as the Generator does it).
  ActivationRecorder rec(c, T);
  rec.points = TracePoint::Route | TracePoint::RouterProbs;
  RecordedTensor logits;  // per step from forward(), not traced
  logits.shape = {T, V};
  std::vector<float> row;
  for (int t = 0; t < T; ++t) {
    ForwardRequest req;
    req.tokens = std::span<const int32_t>(&prompt[static_cast<size_t>(t)], 1);
    req.start_pos = t;
    req.trace = &rec;
    ASSERT_EQ(backend->forward(req, row), StepStatus::Ok);
    ASSERT_EQ(row.size(), static_cast<size_t>(V));
    logits.f32.insert(logits.f32.end(), row.begin(), row.end());
  }
  test::Produced p;
  for (const std::string& name : rec.names()) p.t[name] = *rec.find(name);
  std::vector<std::string> fails;
  if (auto f = test::compare("logits", logits, g.tensor("logits"), tol)) fails.push_back(*f);
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    if (!c.is_moe_layer(l)) continue;
    const std::string name = "router_probs." + std::to_string(l);
    if (auto f = test::compare(name, p.t.at(name), g.tensor(name), g.tolerance(name))) fails.push_back(*f);
    if (auto f = test::compare_routes(l, p, g)) fails.push_back(*f);
  }
  if (!fails.empty()) FAIL() << test::describe_failures(fails);

  // Greedy continuation selected on the device: only the top entries and the log-sum-exp come back.
  const auto& glog = g.tensor("greedy_logits");
  const int n_top = std::min<int>(kMaxTopLogits, static_cast<int>(V));
  int32_t next = greedy[0];  // argmax of the prompt's last logits, checked above within tolerance
  for (int i = 1; i < N; ++i) {
    ForwardRequest req;
    req.tokens = std::span<const int32_t>(&next, 1);
    req.start_pos = T + i - 1;
    TopLogits top;
    ASSERT_EQ(backend->forward_top(req, n_top, top), StepStatus::Ok);
    ASSERT_EQ(top.id.size(), static_cast<size_t>(n_top));
    const float* want = glog.row(i);
    ASSERT_EQ(top.id[0], greedy[static_cast<size_t>(i)]) << "greedy step " << i;
    for (int j = 0; j < n_top; ++j) {
      const int32_t id = top.id[static_cast<size_t>(j)];
      ASSERT_TRUE(id >= 0 && id < V) << "step " << i << " entry " << j;
      EXPECT_NEAR(top.logit[static_cast<size_t>(j)], want[id], tol) << "step " << i << " entry " << j;
      if (j > 0) {
        EXPECT_GE(top.logit[static_cast<size_t>(j - 1)], top.logit[static_cast<size_t>(j)]);
      }
    }
    // The n_top-th largest golden logit bounds every entry left out.
    std::vector<float> sorted(want, want + V);
    std::nth_element(sorted.begin(), sorted.begin() + (n_top - 1), sorted.end(), std::greater<float>());
    EXPECT_NEAR(top.logit.back(), sorted[static_cast<size_t>(n_top - 1)], tol) << "step " << i;
    EXPECT_NEAR(top.lse, lse_of(want, V), tol) << "step " << i;
    next = top.id[0];
  }

  // The benchmark's loop: argmax fed back on the device, ids read once at the end.
  backend->truncate(T);
  const std::vector<int32_t> ids = cuda_decode_greedy(*backend, greedy[0], N - 1);
  EXPECT_EQ(ids, std::vector<int32_t>(greedy.begin() + 1, greedy.end()));
  EXPECT_EQ(backend->n_cached(), T + N - 1);
}

INSTANTIATE_TEST_SUITE_P(AllCases, CudaGoldenGraph, ::testing::ValuesIn(all_params(false)), param_name);

TEST(CudaGoldenGenerator, GreedyGenerationSelectsOnTheDeviceAndMatchesReference) {
  std::string why;
  if (!cuda_device_available(&why)) GTEST_SKIP() << why;
  for (const fs::path& dir : test::golden_case_dirs()) {
    SCOPED_TRACE(dir.filename().string());
    const test::Golden g(dir);
    const auto model = test::golden_model(dir);
    const int T = g.prompt_len(), N = static_cast<int>(g.tensor("greedy_ids").numel());
    Generator gen(model, cuda_backend(*model, MlaMode::Absorbed, T + N));
    const std::vector<std::string> fails = test::check_generated_greedy(gen, g);
    if (!fails.empty()) ADD_FAILURE() << test::describe_failures(fails);
  }
}
