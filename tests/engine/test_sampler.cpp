// tests/engine/test_sampler.cpp — the sampler: greedy, seeds, and the statistics of temperature,
// top-k, top-p, min-p and the repetition penalty against the distributions they must produce.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "engine/error.h"
#include "engine/sampler.h"

using namespace mlascope;

namespace {
std::vector<float> logits_of(const std::vector<double>& p) {
  std::vector<float> l;
  for (double x : p) l.push_back(static_cast<float>(std::log(x)));
  return l;
}
std::map<int, int> histogram(Sampler& s, const std::vector<float>& logits, int n, const std::vector<int32_t>& hist = {}) {
  std::map<int, int> h;
  for (int i = 0; i < n; ++i) h[s.sample(logits, hist).id]++;
  return h;
}
}  // namespace

TEST(Sampler, GreedyPicksArgmaxLowestIdOnTies) {
  Sampler s;
  const std::vector<float> l = {0.1f, 2.0f, 2.0f, -1.0f};
  const SampleResult r = s.sample(l, {});
  EXPECT_EQ(r.id, 1);
  EXPECT_FLOAT_EQ(r.prob, 1.0f);
  const double z = std::exp(0.1) + 2 * std::exp(2.0) + std::exp(-1.0);
  EXPECT_NEAR(r.raw_prob, std::exp(2.0) / z, 1e-6);
  ASSERT_EQ(r.top_raw.size(), 4u);
  EXPECT_EQ(r.top_raw[0].id, 1);
  EXPECT_EQ(r.top_raw[1].id, 2);
  EXPECT_EQ(r.top_raw[3].id, 3);
}

TEST(Sampler, SameSeedSameTokensDifferentSeedDifferentTokens) {
  const std::vector<float> l = logits_of({0.2, 0.2, 0.2, 0.2, 0.2});
  SamplerSettings st;
  st.temperature = 1.0f;
  st.seed = 42;
  Sampler a(st), b(st);
  std::vector<int> ia, ib, ic;
  for (int i = 0; i < 64; ++i) {
    ia.push_back(a.sample(l, {}).id);
    ib.push_back(b.sample(l, {}).id);
  }
  EXPECT_EQ(ia, ib);
  st.seed = 43;
  Sampler c(st);
  for (int i = 0; i < 64; ++i) ic.push_back(c.sample(l, {}).id);
  EXPECT_NE(ia, ic);
  a.set_settings(a.settings());  // reseeds: the sequence starts over
  std::vector<int> again;
  for (int i = 0; i < 64; ++i) again.push_back(a.sample(l, {}).id);
  EXPECT_EQ(again, ia);
}

// A recorded turn keeps the sampler's state (settings, seed, stream position): restoring it in a
// fresh sampler continues with exactly the draws the original went on to make.
TEST(Sampler, StateJsonRestoresTheStreamPosition) {
  const std::vector<float> l = logits_of({0.3, 0.25, 0.2, 0.15, 0.1});
  SamplerSettings st;
  st.temperature = 0.9f;
  st.seed = 7;
  Sampler a(st);
  for (int i = 0; i < 37; ++i) a.sample(l, {});
  EXPECT_EQ(a.rng_position(), 37u);
  const std::string state = a.state_json();
  std::vector<int> rest;
  for (int i = 0; i < 64; ++i) rest.push_back(a.sample(l, {}).id);

  Sampler b;  // greedy, seed 0
  b.restore_state(state);
  EXPECT_EQ(b.settings().to_json(), st.to_json());
  EXPECT_EQ(b.rng_position(), 37u);
  std::vector<int> again;
  for (int i = 0; i < 64; ++i) again.push_back(b.sample(l, {}).id);
  EXPECT_EQ(again, rest);
  // Settings alone (no position) start the stream over, which is not where the original was.
  Sampler c(SamplerSettings::from_json(state));
  std::vector<int> fresh;
  for (int i = 0; i < 64; ++i) fresh.push_back(c.sample(l, {}).id);
  EXPECT_NE(fresh, rest);
  // Greedy draws nothing from the stream.
  Sampler g;
  g.sample(l, {});
  EXPECT_EQ(g.rng_position(), 0u);
  EXPECT_THROW(b.restore_state(R"({"temperature": 1, "rng_position": -3})"), Error);
  EXPECT_THROW(b.restore_state(R"({"temperature": 1, "rng_position": "x"})"), Error);
}

TEST(Sampler, TemperatureOneFollowsTheModelDistribution) {
  const std::vector<double> p = {0.5, 0.3, 0.15, 0.05};
  SamplerSettings st;
  st.temperature = 1.0f;
  st.seed = 7;
  Sampler s(st);
  const int n = 40000;
  auto h = histogram(s, logits_of(p), n);
  for (int i = 0; i < 4; ++i) {
    const double sd = std::sqrt(p[i] * (1 - p[i]) / n);
    EXPECT_NEAR(h[i] / double(n), p[i], 5 * sd) << "token " << i;
  }
}

TEST(Sampler, TemperatureSharpensAsPowerOfProbabilities) {
  // T = 0.5: p_i^2 / sum p^2 = {0.25, 0.09} / 0.34
  SamplerSettings st;
  st.temperature = 0.5f;
  st.seed = 3;
  Sampler s(st);
  const int n = 40000;
  auto h = histogram(s, logits_of({0.5, 0.3}), n);
  EXPECT_NEAR(h[0] / double(n), 0.25 / 0.34, 0.01);
  const SampleResult r = s.sample(logits_of({0.5, 0.3}), {});
  EXPECT_NEAR(r.raw_prob, r.id == 0 ? 0.625 : 0.375, 1e-6);
  EXPECT_NEAR(r.prob, r.id == 0 ? 0.25 / 0.34 : 0.09 / 0.34, 1e-6);
}

TEST(Sampler, TopKTopPAndMinPRestrictTheSupport) {
  const std::vector<double> p = {0.4, 0.3, 0.2, 0.06, 0.04};
  const auto l = logits_of(p);
  SamplerSettings st;
  st.temperature = 1.0f;
  st.top_k = 2;
  Sampler k2(st);
  auto h = histogram(k2, l, 20000);
  EXPECT_EQ(h.size(), 2u);
  EXPECT_NEAR(h[0] / 20000.0, 0.4 / 0.7, 0.015);

  st.top_k = 0;
  st.top_p = 0.85f;  // 0.4 + 0.3 + 0.2 = 0.9 >= 0.85: three tokens
  Sampler tp(st);
  h = histogram(tp, l, 20000);
  EXPECT_EQ(h.size(), 3u);
  EXPECT_EQ(h.count(3), 0u);

  st.top_p = 1.0f;
  st.min_p = 0.5f;  // keep p >= 0.5 * 0.4 = 0.2: tokens 0, 1, 2
  Sampler mp(st);
  const SampleResult r = mp.sample(l, {});
  ASSERT_EQ(r.top_sampled.size(), 3u);
  EXPECT_NEAR(r.top_sampled[0].prob, 0.4 / 0.9, 1e-6);
  EXPECT_NEAR(r.top_sampled[2].prob, 0.2 / 0.9, 1e-6);
}

TEST(Sampler, RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogits) {
  SamplerSettings st;
  st.repetition_penalty = 2.0f;
  Sampler s(st);
  // token 0 (logit 3) was seen: 3 / 2 = 1.5 < 2 -> greedy now picks token 1
  EXPECT_EQ(s.sample(std::vector<float>{3.0f, 2.0f, -1.0f}, std::vector<int32_t>{0}).id, 1);
  // negative logits move away from zero: -1 * 2 = -2 < -1.5
  EXPECT_EQ(s.sample(std::vector<float>{-1.0f, -1.5f}, std::vector<int32_t>{0}).id, 1);
  // outside the window the penalty does not apply
  st.repetition_window = 1;
  Sampler w(st);
  EXPECT_EQ(w.sample(std::vector<float>{3.0f, 2.0f}, std::vector<int32_t>{0, 1}).id, 0);
}

TEST(Sampler, SettingsParseValidateAndRoundTrip) {
  SamplerSettings st;
  st.set("temperature", "0.8");
  st.set("top_k", "40");
  st.set("seed", "9");
  EXPECT_FLOAT_EQ(st.temperature, 0.8f);
  EXPECT_EQ(st.top_k, 40);
  const SamplerSettings back = SamplerSettings::from_json(st.to_json());
  EXPECT_FLOAT_EQ(back.temperature, 0.8f);
  EXPECT_EQ(back.top_k, 40);
  EXPECT_EQ(back.seed, 9u);
  EXPECT_THROW(st.set("top_p", "1.5"), Error);
  EXPECT_THROW(st.set("temperature", "hot"), Error);
  EXPECT_THROW(st.set("colour", "1"), Error);
  EXPECT_FLOAT_EQ(st.temperature, 0.8f);  // a rejected update leaves the settings alone
  try {
    st.set("min_p", "-1");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("min_p"), std::string::npos);
  }
}
