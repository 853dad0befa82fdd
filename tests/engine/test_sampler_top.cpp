// tests/engine/test_sampler_top.cpp — sampling from the top of the logits only (what a device
// backend sends to the host): the host selection top_logits() against a full sort, and
// Sampler::sample_top against Sampler::sample on the whole vocabulary, draw for draw.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/error.h"
#include "engine/sampler.h"

using namespace mlascope;

namespace {

std::vector<float> random_logits(std::mt19937& rng, int V) {
  std::normal_distribution<float> n(0.0f, 3.0f);
  std::vector<float> l(static_cast<size_t>(V));
  for (float& x : l) x = n(rng);
  // Ties, including at the top, where the lower id must come first.
  l[7] = l[3] = 40.0f;
  l[11] = l[5];
  return l;
}

}  // namespace

TEST(TopLogits, MatchFullSortAndLogSumExp) {
  std::mt19937 rng(5);
  const int V = 1000;
  const std::vector<float> l = random_logits(rng, V);
  std::vector<int32_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return l[a] > l[b]; });
  double sum = 0.0;
  for (float x : l) sum += std::exp(static_cast<double>(x) - 40.0);
  const double lse = 40.0 + std::log(sum);
  for (int n : {1, 2, 20, kMaxTopLogits}) {
    const TopLogits t = top_logits(l, n);
    ASSERT_EQ(t.id.size(), static_cast<size_t>(n));
    EXPECT_EQ(t.id, std::vector<int32_t>(order.begin(), order.begin() + n));
    for (int i = 0; i < n; ++i) EXPECT_EQ(t.logit[static_cast<size_t>(i)], l[static_cast<size_t>(t.id[static_cast<size_t>(i)])]);
    EXPECT_NEAR(t.lse, lse, 1e-5);
  }
  EXPECT_EQ(top_logits(l, 1).id[0], 3);  // equal maxima: the lower id
}

TEST(TopLogits, BadCountIsAnError) {
  const std::vector<float> l(10, 0.0f);
  EXPECT_THROW(top_logits(l, 0), Error);
  EXPECT_THROW(top_logits(l, 11), Error);
  const std::vector<float> big(100, 0.0f);
  EXPECT_THROW(top_logits(big, kMaxTopLogits + 1), Error);
}

TEST(SamplerTop, TopNeededNamesWhatEachSettingNeeds) {
  SamplerSettings s;
  EXPECT_EQ(Sampler(s).top_needed(102400, kMaxTopLogits), kTopLogits);  // greedy: the traced top
  EXPECT_EQ(Sampler(s).top_needed(8, kMaxTopLogits), 8);
  s.temperature = 0.8f;
  EXPECT_EQ(Sampler(s).top_needed(102400, kMaxTopLogits), 0);  // no top_k: every logit
  s.top_k = 5;
  EXPECT_EQ(Sampler(s).top_needed(102400, kMaxTopLogits), kTopLogits);
  s.top_k = 30;
  EXPECT_EQ(Sampler(s).top_needed(102400, kMaxTopLogits), 30);
  s.top_k = 40;
  EXPECT_EQ(Sampler(s).top_needed(102400, kMaxTopLogits), 0);
  s.top_k = 5;
  s.repetition_penalty = 1.2f;
  EXPECT_EQ(Sampler(s).top_needed(102400, kMaxTopLogits), 0);  // can lift any token into the top
  s.repetition_window = 0;
  EXPECT_EQ(Sampler(s).top_needed(102400, kMaxTopLogits), kTopLogits);
}

TEST(SamplerTop, SameDrawsAsSamplingTheWholeVocabulary) {
  std::vector<SamplerSettings> settings(5);
  settings[1].temperature = 0.8f, settings[1].top_k = 5;
  settings[2].temperature = 1.3f, settings[2].top_k = 32, settings[2].top_p = 0.9f;
  settings[3].temperature = 0.7f, settings[3].top_k = 12, settings[3].min_p = 0.05f;
  settings[4].temperature = 2.0f, settings[4].top_k = 3, settings[4].top_p = 0.5f, settings[4].min_p = 0.2f;
  std::mt19937 rng(17);
  const int V = 4096;
  for (size_t k = 0; k < settings.size(); ++k) {
    SCOPED_TRACE("settings " + std::to_string(k));
    settings[k].seed = 1234 + k;
    Sampler full(settings[k]), top(settings[k]);
    const int n = top.top_needed(V, kMaxTopLogits);
    ASSERT_GT(n, 0);
    for (int draw = 0; draw < 300; ++draw) {
      const std::vector<float> l = random_logits(rng, V);
      const SampleResult a = full.sample(l, {});
      const TopLogits t = top_logits(l, n);
      const SampleResult b = top.sample_top(t.id, t.logit, t.lse);
      ASSERT_EQ(a.id, b.id) << "draw " << draw;
      EXPECT_NEAR(a.prob, b.prob, 1e-6);
      EXPECT_NEAR(a.raw_prob, b.raw_prob, 1e-6);
      ASSERT_EQ(a.top_raw.size(), b.top_raw.size());
      for (size_t i = 0; i < a.top_raw.size(); ++i) {
        EXPECT_EQ(a.top_raw[i].id, b.top_raw[i].id);
        EXPECT_NEAR(a.top_raw[i].prob, b.top_raw[i].prob, 1e-6);
      }
      ASSERT_EQ(a.top_sampled.size(), b.top_sampled.size());
      for (size_t i = 0; i < a.top_sampled.size(); ++i) {
        EXPECT_EQ(a.top_sampled[i].id, b.top_sampled[i].id);
        EXPECT_EQ(a.top_sampled[i].prob, b.top_sampled[i].prob);
      }
    }
  }
}
