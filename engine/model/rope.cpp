// engine/model/rope.cpp — see rope.h. Angles are formed in float32 (position * inv_freq) exactly as
// the reference's torch.outer does, so large positions round the same way.
#include "rope.h"

#include <cmath>

namespace mlascope {

Rope Rope::from_config(const ModelConfig& c) {
  Rope r;
  r.inv_freq = c.rope_inv_freq();
  r.mscale = static_cast<float>(c.rope_mscale());
  return r;
}

void Rope::angles(int position, float* cos_out, float* sin_out) const {
  const float p = static_cast<float>(position);
  for (size_t j = 0; j < inv_freq.size(); ++j) {
    const float a = p * inv_freq[j];
    cos_out[j] = std::cos(a) * mscale;
    sin_out[j] = std::sin(a) * mscale;
  }
}

void Rope::rotate(float* x, const float* cos_v, const float* sin_v, int n_pairs) {
  for (int j = 0; j < n_pairs; ++j) {
    const float x0 = x[2 * j], x1 = x[2 * j + 1];
    x[2 * j] = x0 * cos_v[j] - x1 * sin_v[j];
    x[2 * j + 1] = x0 * sin_v[j] + x1 * cos_v[j];
  }
}

void Rope::apply(float* x, int position) const {
  const int n = static_cast<int>(inv_freq.size());
  std::vector<float> c(static_cast<size_t>(n)), s(static_cast<size_t>(n));
  angles(position, c.data(), s.data());
  rotate(x, c.data(), s.data(), n);
}

}  // namespace mlascope
