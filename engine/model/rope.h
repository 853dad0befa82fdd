// engine/model/rope.h — decoupled RoPE of MLA in the checkpoint's interleaved pair layout.
// Rotary pair j is dims (2j, 2j+1) of q_pe / k_pe; at position p the pair turns by p * inv_freq[j]
// (YaRN-corrected by ModelConfig::rope_inv_freq at every position), cos/sin scaled by mscale.
#pragma once
#include <vector>

#include "../config.h"

namespace mlascope {

struct Rope {
  std::vector<float> inv_freq;  // [qk_rope_head_dim / 2]
  float mscale = 1.0f;          // cos/sin multiplier (1 when mscale == mscale_all_dim)

  static Rope from_config(const ModelConfig& c);
  // Rotates x [2 * inv_freq.size()] in place for absolute position `position`.
  void apply(float* x, int position) const;
  // cos/sin of every pair at `position` (so many heads can share one evaluation).
  void angles(int position, float* cos_out, float* sin_out) const;
  static void rotate(float* x, const float* cos_v, const float* sin_v, int n_pairs);
};

}  // namespace mlascope
