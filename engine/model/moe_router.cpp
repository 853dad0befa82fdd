// engine/model/moe_router.cpp — see moe_router.h and tests/data/golden/README.md ("Routing").
#include "moe_router.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "ops.h"

namespace mlascope {

void router_scores(const ModelConfig& cfg, float* x) {
  const int E = cfg.n_routed_experts;
  if (cfg.scoring_func == ScoringFunc::Softmax) {
    softmax_inplace(x, E);
  } else {
    for (int e = 0; e < E; ++e) x[e] = 1.0f / (1.0f + std::exp(-x[e]));
  }
}

namespace {

// Indices of the n largest values, descending; equal values keep ascending index order.
void top_indices(const float* v, int size, int n, std::vector<int>& order) {
  order.resize(static_cast<size_t>(size));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return v[a] > v[b]; });
  order.resize(static_cast<size_t>(std::min(n, size)));
}

}  // namespace

RouteDecision route_experts(const ModelConfig& cfg, const float* scores, const float* bias, float* selection) {
  const int E = cfg.n_routed_experts;
  const int k = std::min(cfg.num_experts_per_tok, kMaxTopK);
  const bool noaux = cfg.topk_method == TopkMethod::NoauxTc;
  for (int e = 0; e < E; ++e) selection[e] = scores[e] + ((noaux && bias) ? bias[e] : 0.0f);

  constexpr float kInf = std::numeric_limits<float>::infinity();
  RouteDecision d;
  d.k = k;
  float margin = kInf;

  // Group limit: only group_limited_greedy and noaux_tc restrict experts to the best groups.
  std::vector<char> allowed(static_cast<size_t>(E), 1);
  const bool grouped = cfg.topk_method != TopkMethod::Greedy && cfg.n_group > 1;
  if (grouped) {
    const int G = cfg.n_group;
    const int per = E / G;
    std::vector<float> group_score(static_cast<size_t>(G));
    for (int g = 0; g < G; ++g) {
      const float* s = selection + g * per;
      if (noaux) {  // sum of the two largest selection scores in the group
        float a = -kInf, b = -kInf;
        for (int i = 0; i < per; ++i) {
          if (s[i] > a) {
            b = a;
            a = s[i];
          } else if (s[i] > b) {
            b = s[i];
          }
        }
        group_score[static_cast<size_t>(g)] = per >= 2 ? a + b : a;
      } else {  // largest score in the group
        group_score[static_cast<size_t>(g)] = *std::max_element(s, s + per);
      }
    }
    std::vector<int> order;
    top_indices(group_score.data(), G, G, order);
    const int keep = std::clamp(cfg.topk_group, 1, G);
    d.kept_groups = 0;
    std::fill(allowed.begin(), allowed.end(), 0);
    for (int i = 0; i < keep; ++i) {
      const int g = order[static_cast<size_t>(i)];
      if (g < 64) d.kept_groups |= 1ull << g;
      for (int e = g * per; e < (g + 1) * per; ++e) allowed[static_cast<size_t>(e)] = 1;
    }
    if (keep < G)
      margin = std::min(margin, group_score[static_cast<size_t>(order[static_cast<size_t>(keep - 1)])] -
                                    group_score[static_cast<size_t>(order[static_cast<size_t>(keep)])]);
  }

  // Top-k by selection score among the allowed experts.
  std::vector<float> masked(selection, selection + E);
  for (int e = 0; e < E; ++e)
    if (!allowed[static_cast<size_t>(e)]) masked[static_cast<size_t>(e)] = -kInf;
  std::vector<int> order;
  top_indices(masked.data(), E, E, order);
  for (int i = 0; i < k; ++i) d.expert[static_cast<size_t>(i)] = order[static_cast<size_t>(i)];
  if (k < E && masked[static_cast<size_t>(order[static_cast<size_t>(k)])] > -kInf)
    margin = std::min(margin, masked[static_cast<size_t>(order[static_cast<size_t>(k - 1)])] -
                                  masked[static_cast<size_t>(order[static_cast<size_t>(k)])]);
  d.margin = margin;

  // Weights from the unbiased scores.
  float sum = 0.0f;
  for (int i = 0; i < k; ++i) {
    d.weight[static_cast<size_t>(i)] = scores[d.expert[static_cast<size_t>(i)]];
    sum += d.weight[static_cast<size_t>(i)];
  }
  const float scale = static_cast<float>(cfg.routed_scaling_factor);
  for (int i = 0; i < k; ++i) {
    float w = d.weight[static_cast<size_t>(i)];
    if (cfg.norm_topk_prob) w /= (sum + 1e-20f);
    d.weight[static_cast<size_t>(i)] = w * scale;
  }
  return d;
}

}  // namespace mlascope
