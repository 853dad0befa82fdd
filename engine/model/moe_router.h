// engine/model/moe_router.h — DeepSeekMoE gate: scores, group limit, top-k, weights.
// Selection uses the biased scores (noaux_tc adds e_score_correction_bias), the weights always use
// the unbiased ones (DeepSeek-V3 gate). Ties go to the lower expert / group id.
#pragma once
#include <array>
#include <cstdint>

#include "../config.h"
#include "../trace/step_record.h"

namespace mlascope {

struct RouteDecision {
  int k = 0;
  std::array<int32_t, kMaxTopK> expert{};  // descending selection score
  std::array<float, kMaxTopK> weight{};    // final multipliers (normalisation and routed_scaling_factor)
  uint64_t kept_groups = ~0ull;            // bit g: group g survived the group limit
  float margin = 0.0f;                     // min(group cut gap, expert cut gap); +inf when nothing was cut
};

// logits [n_routed_experts] -> scores in place: softmax or sigmoid per cfg.scoring_func.
void router_scores(const ModelConfig& cfg, float* logits_to_scores);

// scores [E] unbiased; bias [E] or null; selection_out [E] receives the selection scores
// (scores + bias, or scores). Implements greedy, group_limited_greedy and noaux_tc.
RouteDecision route_experts(const ModelConfig& cfg, const float* scores, const float* bias, float* selection_out);

}  // namespace mlascope
