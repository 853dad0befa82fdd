// tests/engine/test_generator_top.cpp — the Generator's generation steps through
// Backend::forward_top (only the top logits reach the sampler), on the CPU backend's default
// implementation: greedy generation against the golden greedy ids and logits, top-k sampling draw
// for draw against a plain loop over the full logits, and the fall back to full logits when the
// settings need them (repetition penalty), also when they change between calls.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/generator.h"
#include "engine/model/model.h"
#include "engine/sampler.h"
#include "support/data_paths.h"
#include "support/golden.h"
#include "support/golden_compare.h"

using namespace mlascope;

namespace {

BackendOptions cpu_options(int ctx) {
  BackendOptions o;
  o.device = DeviceKind::Cpu;
  o.n_threads = 2;
  o.max_context = ctx;
  return o;
}

// A CPU backend that counts which entry point the Generator used.
class CountingBackend final : public Backend {
 public:
  CountingBackend(std::unique_ptr<Backend> inner, int* n_forward, int* n_top)
      : inner_(std::move(inner)), n_forward_(n_forward), n_top_(n_top) {}
  std::string name() const override { return inner_->name(); }
  DeviceKind kind() const override { return inner_->kind(); }
  MlaMode mla_mode() const override { return inner_->mla_mode(); }
  int max_context() const override { return inner_->max_context(); }
  StepStatus forward(const ForwardRequest& req, std::vector<float>& logits) override {
    ++*n_forward_;
    return inner_->forward(req, logits);
  }
  StepStatus forward_top(const ForwardRequest& req, int n, TopLogits& top) override {
    ++*n_top_;
    return inner_->forward_top(req, n, top);
  }
  void truncate(int n) override { inner_->truncate(n); }
  int n_cached() const override { return inner_->n_cached(); }
  uint64_t kv_bytes_in_use() const override { return inner_->kv_bytes_in_use(); }

 private:
  std::unique_ptr<Backend> inner_;
  int* n_forward_;
  int* n_top_;
};

// The reference: the full logits of every step through Sampler::sample.
std::vector<int32_t> plain_loop(const Model& model, const std::vector<int32_t>& prompt,
                                const std::vector<std::pair<SamplerSettings, int>>& phases) {
  auto b = make_cpu_backend(model, cpu_options(256));
  std::vector<float> logits;
  ForwardRequest req;
  req.tokens = prompt;
  EXPECT_EQ(b->forward(req, logits), StepStatus::Ok);
  std::vector<int32_t> history = prompt, out;
  Sampler s;
  for (const auto& [settings, n] : phases) {
    if (out.empty() || s.settings().to_json() != settings.to_json()) s.set_settings(settings);
    for (int i = 0; i < n; ++i) {
      const int32_t id = s.sample(logits, history).id;
      out.push_back(id);
      history.push_back(id);
      ForwardRequest r;
      r.tokens = std::span<const int32_t>(&history.back(), 1);
      r.start_pos = static_cast<int>(history.size()) - 1;
      EXPECT_EQ(b->forward(r, logits), StepStatus::Ok);
    }
  }
  return out;
}

}  // namespace

TEST(GeneratorTop, GreedyGenerationMatchesGolden) {
  for (const char* name : {"golden/v2-lite-tiny", "golden/v3-tiny"}) {
    SCOPED_TRACE(name);
    const test::Golden g(test::data_path(name));
    const auto model = test::golden_model(g.dir());
    int n_forward = 0, n_top = 0;
    Generator gen(model, std::make_unique<CountingBackend>(make_cpu_backend(*model, cpu_options(256)), &n_forward, &n_top));
    const std::vector<std::string> fails = test::check_generated_greedy(gen, g);
    EXPECT_TRUE(fails.empty()) << test::describe_failures(fails);
    const int N = static_cast<int>(g.tensor("greedy_ids").numel());
    EXPECT_EQ(n_top, N - 1);  // every generated step
    // the prompt, the last greedy id, and one re-run of the last generated token for its full row
    EXPECT_EQ(n_forward, 3);
  }
}

TEST(GeneratorTop, TopKSamplingAndPenaltyEqualTheFullLogitsLoop) {
  const auto model = test::golden_model(test::data_path("golden/v2-lite-tiny"));
  const test::Golden g(test::data_path("golden/v2-lite-tiny"));
  const std::vector<int32_t> prompt = g.prompt_ids();
  SamplerSettings topk;
  topk.temperature = 1.5f;
  topk.top_k = 12;
  topk.top_p = 0.95f;
  topk.seed = 77;
  SamplerSettings penalty = topk;
  penalty.repetition_penalty = 1.3f;
  SamplerSettings greedy;
  // top-k, then a penalty (full logits: the last top-only step must be recomputed), then greedy
  const std::vector<std::pair<SamplerSettings, int>> phases = {{topk, 10}, {penalty, 6}, {greedy, 6}};
  const std::vector<int32_t> want = plain_loop(*model, prompt, phases);

  int n_forward = 0, n_top = 0;
  Generator gen(model, std::make_unique<CountingBackend>(make_cpu_backend(*model, cpu_options(256)), &n_forward, &n_top));
  ASSERT_EQ(gen.feed(prompt, nullptr), StepStatus::Ok);
  std::vector<int32_t> got;
  for (const auto& [settings, n] : phases) {
    if (got.empty() || gen.sampler().settings().to_json() != settings.to_json()) gen.sampler().set_settings(settings);
    EXPECT_EQ(gen.generate(n, [&](StepRecord&& r) { got.push_back(r.id); }), StopReason::Length);
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(n_top, 10 + 6);                 // the top-k and greedy steps
  EXPECT_EQ(n_forward, 1 + 1 + 6);          // prompt, the recomputed last top-k step, the penalised steps
}
