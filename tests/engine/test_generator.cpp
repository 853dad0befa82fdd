// tests/engine/test_generator.cpp — the Generator end to end on golden cases: greedy generation
// reproduces the reference's greedy ids, each prompt record carries the reference's routing and the
// probability the model gave that token, capture policies, seeds, truncate/regenerate, context full.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "engine/generator.h"
#include "engine/model/model.h"
#include "support/data_paths.h"
#include "support/golden.h"

using namespace mlascope;

namespace {

std::unique_ptr<Generator> make_gen(const std::filesystem::path& dir, int ctx = 0, MlaMode mode = MlaMode::Absorbed) {
  std::shared_ptr<Model> m = Model::load(dir);
  BackendOptions o;
  o.device = DeviceKind::Cpu;
  o.n_threads = 2;
  o.mla = mode;
  o.max_context = ctx;
  auto be = make_cpu_backend(*m, o);
  return std::make_unique<Generator>(m, std::move(be));
}

}  // namespace

TEST(Generator, GreedyReproducesGoldenIdsAndPromptRecordsCarryRouting) {
  const auto dir = test::data_path("golden/v3-tiny");
  const test::Golden g(dir);
  auto gen = make_gen(dir);
  gen->set_capture({CapturePolicy::RoutingAttention, 1ull << 2});
  std::vector<StepRecord> prompt_recs, gen_recs;
  const auto prompt = g.prompt_ids();
  ASSERT_EQ(gen->feed(prompt, [&](StepRecord&& r) { prompt_recs.push_back(std::move(r)); }, 0), StepStatus::Ok);
  ASSERT_EQ(prompt_recs.size(), prompt.size());
  const int n = static_cast<int>(g.tensor("greedy_ids").numel());
  // EOS is id 1 in these configs; the golden run has no EOS stop, so only compare up to one
  const StopReason stop = gen->generate(n, [&](StepRecord&& r) { gen_recs.push_back(std::move(r)); });
  const auto& want = g.ids("greedy_ids");
  for (size_t i = 0; i < gen_recs.size(); ++i) EXPECT_EQ(gen_recs[i].id, want[i]) << "greedy step " << i;
  if (stop == StopReason::Length) EXPECT_EQ(gen_recs.size(), static_cast<size_t>(n));
  else EXPECT_EQ(gen_recs.back().id, gen->model().config().eos_token_id);

  const ModelConfig& c = gen->model().config();
  const int T = static_cast<int>(prompt.size());
  const auto& logits = g.tensor("logits");
  for (int p = 0; p < T; ++p) {
    const StepRecord& r = prompt_recs[static_cast<size_t>(p)];
    EXPECT_EQ(r.position, p);
    EXPECT_TRUE(r.is_prompt);
    EXPECT_EQ(r.message, 0);
    EXPECT_EQ(r.text, "#" + std::to_string(prompt[static_cast<size_t>(p)]));
    if (p == 0) {
      EXPECT_EQ(r.prob, -1.0f);
    } else {  // softmax of golden logits[p-1] at this token
      const float* row = logits.row(p - 1);
      double mx = *std::max_element(row, row + c.vocab_size), z = 0;
      for (int i = 0; i < c.vocab_size; ++i) z += std::exp(row[i] - mx);
      EXPECT_NEAR(r.prob, std::exp(row[prompt[static_cast<size_t>(p)]] - mx) / z, 1e-4) << p;
      ASSERT_EQ(r.top_raw.size(), static_cast<size_t>(kTopLogits));
    }
    ASSERT_EQ(r.routes.size(), static_cast<size_t>(c.n_moe_layers()));
    for (int l = c.first_k_dense_replace, m = 0; l < c.num_hidden_layers; ++l, ++m) {
      const auto& gi = g.tensor("route_idx." + std::to_string(l));
      std::set<int> want_set, got_set;
      for (int i = 0; i < c.num_experts_per_tok; ++i) {
        want_set.insert(gi.ints[static_cast<size_t>(p * c.num_experts_per_tok + i)]);
        got_set.insert(r.routes[static_cast<size_t>(m)].expert[static_cast<size_t>(i)]);
      }
      EXPECT_EQ(got_set, want_set) << "position " << p << " layer " << l;
      EXPECT_EQ(r.routes[static_cast<size_t>(m)].kept_groups & ~0xfull, 0u);
      EXPECT_EQ(__builtin_popcountll(r.routes[static_cast<size_t>(m)].kept_groups), c.topk_group);
    }
    // RoutingAttention with attention_layers = {2}: exactly layer 2, probs only
    ASSERT_EQ(r.attention.size(), 1u);
    EXPECT_EQ(r.attention[0].layer, 2);
    EXPECT_EQ(r.attention[0].n_keys, p + 1);
    EXPECT_TRUE(r.attention[0].nope.empty());
    EXPECT_EQ(r.kv_bytes, static_cast<uint64_t>(p + 1) * c.num_hidden_layers * (c.kv_lora_rank + c.qk_rope_head_dim) * 4);
  }
}

TEST(Generator, SeededSamplingRepeatsAndTruncateRegenerates) {
  auto gen = make_gen(test::asset_path("models/mla-moe-demo"));
  gen->set_capture({CapturePolicy::Off, 0});
  SamplerSettings s;
  s.temperature = 0.9f;
  s.top_p = 0.95f;
  s.seed = 1234;
  gen->sampler().set_settings(s);
  const std::vector<int32_t> prompt = {0, 100, 200, 300};
  ASSERT_EQ(gen->feed(prompt, nullptr), StepStatus::Ok);
  std::vector<int32_t> first, second;
  gen->generate(12, [&](StepRecord&& r) {
    first.push_back(r.id);
    EXPECT_TRUE(r.routes.empty());  // CapturePolicy::Off
    EXPECT_GT(r.prob, 0.0f);
  });
  gen->truncate(4);
  EXPECT_EQ(gen->n_positions(), 4);
  gen->sampler().set_settings(s);  // reseed
  gen->generate(12, [&](StepRecord&& r) { second.push_back(r.id); });
  EXPECT_EQ(first, second);
}

TEST(Generator, ContextFullStopsCleanly) {
  auto gen = make_gen(test::data_path("golden/v2-lite-tiny"), 6);
  const std::vector<int32_t> prompt = {5, 6, 7, 8};
  EXPECT_EQ(gen->feed(std::vector<int32_t>(7, 3), nullptr), StepStatus::ContextFull);
  EXPECT_EQ(gen->n_positions(), 0);
  ASSERT_EQ(gen->feed(prompt, nullptr), StepStatus::Ok);
  int produced = 0;
  SamplerSettings s;  // greedy; eos of this config may end it earlier
  gen->sampler().set_settings(s);
  const StopReason r = gen->generate(10, [&](StepRecord&&) { ++produced; });
  if (r != StopReason::Eos) {
    EXPECT_EQ(r, StopReason::ContextFull);
    EXPECT_EQ(produced, 2);
    EXPECT_EQ(gen->n_positions(), 6);
  }
}

TEST(Generator, EverythingCapturesScorePartsOfEveryLayer) {
  auto gen = make_gen(test::data_path("golden/v2-grouped-yarn"), 0, MlaMode::Naive);
  gen->set_capture({CapturePolicy::Everything, 0});
  std::vector<StepRecord> recs;
  ASSERT_EQ(gen->feed(std::vector<int32_t>{1, 2, 3}, [&](StepRecord&& r) { recs.push_back(std::move(r)); }), StepStatus::Ok);
  const ModelConfig& c = gen->model().config();
  ASSERT_EQ(recs.size(), 3u);
  const StepRecord& r = recs[2];
  ASSERT_EQ(r.attention.size(), static_cast<size_t>(c.num_hidden_layers));
  for (const AttentionRow& a : r.attention) {
    ASSERT_EQ(a.probs.size(), static_cast<size_t>(c.num_attention_heads * 3));
    ASSERT_EQ(a.nope.size(), a.probs.size());
    ASSERT_EQ(a.rope.size(), a.probs.size());
    // probs are the softmax of nope + rope over the keys
    for (int h = 0; h < a.n_heads; ++h) {
      double z = 0, mx = -1e30;
      for (int j = 0; j < 3; ++j) mx = std::max(mx, double(a.nope[h * 3 + j] + a.rope[h * 3 + j]));
      for (int j = 0; j < 3; ++j) z += std::exp(a.nope[h * 3 + j] + a.rope[h * 3 + j] - mx);
      for (int j = 0; j < 3; ++j)
        EXPECT_NEAR(a.probs[h * 3 + j], std::exp(a.nope[h * 3 + j] + a.rope[h * 3 + j] - mx) / z, 1e-5);
    }
  }
  EXPECT_EQ(r.scores.size(), static_cast<size_t>(c.n_moe_layers() * c.n_routed_experts));
  EXPECT_EQ(r.selection, r.scores);  // no correction bias in this V2 case
}
