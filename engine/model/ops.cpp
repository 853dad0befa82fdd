// engine/model/ops.cpp — see ops.h. Reductions accumulate in float32 like the reference.
#include "ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace mlascope {

void rms_norm(const float* x, const float* w, int64_t n, float eps, float* out) {
  float ss = 0.0f;
  for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
  const float inv = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = w[i] * (x[i] * inv);
}

void rms_norm(const float* x, const TensorView& w, int64_t n, float eps, float* out) {
  if (w.dtype == DType::F32) {
    rms_norm(x, static_cast<const float*>(w.data), n, eps, out);
    return;
  }
  thread_local std::vector<float> wf;
  wf.resize(static_cast<size_t>(n));
  w.row_to_f32(0, wf.data());
  rms_norm(x, wf.data(), n, eps, out);
}

void softmax_inplace(float* x, int64_t n) {
  if (n <= 0) return;
  const float m = *std::max_element(x, x + n);
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    s += x[i];
  }
  const float inv = 1.0f / s;
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

float silu(float x) { return x / (1.0f + std::exp(-x)); }

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = silu(gate[i]) * up[i];
}

}  // namespace mlascope
