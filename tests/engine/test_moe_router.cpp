// tests/engine/test_moe_router.cpp — the three DeepSeekMoE gating variants on hand-made scores:
// ties, group limits (max vs sum of top-2 group scores), a correction bias that changes the choice
// but not the weights, normalisation and routed_scaling_factor, decision margins.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/config.h"
#include "engine/model/moe_router.h"

using namespace mlascope;

namespace {

ModelConfig gate_config(int E, int k, TopkMethod m, int n_group, int topk_group, ScoringFunc f, bool norm,
                        double scale) {
  ModelConfig c;
  c.n_routed_experts = E;
  c.num_experts_per_tok = k;
  c.topk_method = m;
  c.n_group = n_group;
  c.topk_group = topk_group;
  c.scoring_func = f;
  c.norm_topk_prob = norm;
  c.routed_scaling_factor = scale;
  return c;
}

std::vector<int> chosen(const RouteDecision& d) { return {d.expert.begin(), d.expert.begin() + d.k}; }

}  // namespace

TEST(MoeRouter, GreedyTopKWeightsAreScaledScores) {
  const auto c = gate_config(8, 2, TopkMethod::Greedy, 1, 1, ScoringFunc::Softmax, false, 1.5);
  const std::vector<float> s = {0.05f, 0.30f, 0.10f, 0.25f, 0.05f, 0.05f, 0.15f, 0.05f};
  std::vector<float> sel(8);
  const RouteDecision d = route_experts(c, s.data(), nullptr, sel.data());
  EXPECT_EQ(chosen(d), (std::vector<int>{1, 3}));
  EXPECT_FLOAT_EQ(d.weight[0], 0.30f * 1.5f);
  EXPECT_FLOAT_EQ(d.weight[1], 0.25f * 1.5f);
  EXPECT_EQ(sel, s);  // no bias: selection == scores
  EXPECT_NEAR(d.margin, 0.25f - 0.15f, 1e-7);
  EXPECT_EQ(d.kept_groups, ~0ull);
}

TEST(MoeRouter, TiesGoToTheLowerExpertId) {
  const auto c = gate_config(6, 2, TopkMethod::Greedy, 1, 1, ScoringFunc::Softmax, false, 1.0);
  const std::vector<float> s = {0.1f, 0.2f, 0.3f, 0.2f, 0.1f, 0.1f};
  std::vector<float> sel(6);
  const RouteDecision d = route_experts(c, s.data(), nullptr, sel.data());
  EXPECT_EQ(chosen(d), (std::vector<int>{2, 1}));  // 1 and 3 tie for second place
  EXPECT_FLOAT_EQ(d.margin, 0.0f);
}

TEST(MoeRouter, GroupLimitedGreedyDropsExpertsOfLosingGroups) {
  // 4 groups of 2, keep 2 groups, top-3. Group max: g0 .30, g1 .295, g2 .31, g3 .02.
  const auto c = gate_config(8, 3, TopkMethod::GroupLimitedGreedy, 4, 2, ScoringFunc::Softmax, false, 2.5);
  const std::vector<float> s = {0.30f, 0.29f, 0.295f, 0.01f, 0.31f, 0.0f, 0.02f, 0.0f};
  std::vector<float> sel(8);
  const RouteDecision d = route_experts(c, s.data(), nullptr, sel.data());
  // without the group limit the third expert would be 2 (0.295); its group lost to g0 by 0.005
  EXPECT_EQ(chosen(d), (std::vector<int>{4, 0, 1}));
  EXPECT_EQ(d.kept_groups, (1ull << 0) | (1ull << 2));
  EXPECT_FLOAT_EQ(d.weight[0], 0.31f * 2.5f);
  EXPECT_FLOAT_EQ(d.weight[2], 0.29f * 2.5f);
  EXPECT_NEAR(d.margin, 0.005f, 1e-6);  // group cut .300 - .295 is smaller than the expert cut .29 - 0
}

TEST(MoeRouter, NoauxGroupScoreIsSumOfTopTwoWhileGroupLimitedUsesMax) {
  // 2 groups of 4, keep 1, top-2. g0 max .9 (top-2 sum 1.0); g1 max .6 (top-2 sum 1.2).
  const std::vector<float> s = {0.9f, 0.1f, 0.1f, 0.1f, 0.6f, 0.6f, 0.6f, 0.0f};
  std::vector<float> sel(8);
  const auto glg = gate_config(8, 2, TopkMethod::GroupLimitedGreedy, 2, 1, ScoringFunc::Softmax, false, 1.0);
  EXPECT_EQ(chosen(route_experts(glg, s.data(), nullptr, sel.data())), (std::vector<int>{0, 1}));
  const auto noaux = gate_config(8, 2, TopkMethod::NoauxTc, 2, 1, ScoringFunc::Sigmoid, true, 1.0);
  const RouteDecision d = route_experts(noaux, s.data(), nullptr, sel.data());
  EXPECT_EQ(chosen(d), (std::vector<int>{4, 5}));  // tie among 4, 5, 6: lowest ids
  EXPECT_EQ(d.kept_groups, 1ull << 1);
  EXPECT_NEAR(d.margin, 0.0f, 1e-7);
}

TEST(MoeRouter, NoauxBiasChangesTheChoiceButNotTheWeights) {
  // 4 groups of 2, keep 2, top-2, sigmoid scores, normalised, routed_scaling_factor 2.5.
  const auto c = gate_config(8, 2, TopkMethod::NoauxTc, 4, 2, ScoringFunc::Sigmoid, true, 2.5);
  const std::vector<float> s = {0.9f, 0.1f, 0.8f, 0.7f, 0.5f, 0.3f, 0.2f, 0.2f};
  std::vector<float> sel(8);
  // Without bias: group sums g0 1.0, g1 1.5, g2 0.8, g3 0.4 -> keep g1, g0 -> experts 0 (.9), 2 (.8).
  const RouteDecision plain = route_experts(c, s.data(), nullptr, sel.data());
  EXPECT_EQ(chosen(plain), (std::vector<int>{0, 2}));
  EXPECT_NEAR(plain.weight[0], 0.9 / 1.7 * 2.5, 1e-6);
  EXPECT_NEAR(plain.weight[1], 0.8 / 1.7 * 2.5, 1e-6);

  // Bias lifts group 2: selection g2 = {1.0, 0.9} (sum 1.9) -> keep g2, g1 -> experts 4 (1.0), 5 (0.9).
  const std::vector<float> bias = {0.0f, 0.0f, 0.0f, 0.0f, 0.5f, 0.6f, 0.0f, 0.0f};
  const RouteDecision d = route_experts(c, s.data(), bias.data(), sel.data());
  EXPECT_EQ(chosen(d), (std::vector<int>{4, 5}));
  EXPECT_NEAR(sel[4], 1.0f, 1e-7);
  EXPECT_NEAR(sel[5], 0.9f, 1e-7);
  EXPECT_EQ(d.kept_groups, (1ull << 1) | (1ull << 2));
  // weights from the unbiased scores .5 and .3
  EXPECT_NEAR(d.weight[0], 0.5 / 0.8 * 2.5, 1e-6);
  EXPECT_NEAR(d.weight[1], 0.3 / 0.8 * 2.5, 1e-6);
  // group cut: g1 1.5 vs g0 1.0 -> 0.5; expert cut inside kept groups: 0.9 (e5) vs 0.8 (e2) -> 0.1
  EXPECT_NEAR(d.margin, 0.1f, 1e-6);
}

TEST(MoeRouter, BiasIsIgnoredOutsideNoaux) {
  const auto c = gate_config(4, 1, TopkMethod::Greedy, 1, 1, ScoringFunc::Softmax, false, 1.0);
  const std::vector<float> s = {0.4f, 0.3f, 0.2f, 0.1f}, bias = {0.0f, 1.0f, 0.0f, 0.0f};
  std::vector<float> sel(4);
  EXPECT_EQ(chosen(route_experts(c, s.data(), bias.data(), sel.data())), (std::vector<int>{0}));
}

TEST(MoeRouter, ScoresAreSoftmaxOrSigmoidOfLogits) {
  std::vector<float> x = {0.0f, 1.0f, -1.0f};
  auto sm = gate_config(3, 1, TopkMethod::Greedy, 1, 1, ScoringFunc::Softmax, false, 1.0);
  std::vector<float> a = x;
  router_scores(sm, a.data());
  const double z = 1.0 + std::exp(1.0) + std::exp(-1.0);
  EXPECT_NEAR(a[1], std::exp(1.0) / z, 1e-7);
  auto sg = gate_config(3, 1, TopkMethod::NoauxTc, 1, 1, ScoringFunc::Sigmoid, true, 1.0);
  std::vector<float> b = x;
  router_scores(sg, b.data());
  EXPECT_NEAR(b[0], 0.5, 1e-7);
  EXPECT_NEAR(b[2], 1.0 / (1.0 + std::exp(1.0)), 1e-7);
}
