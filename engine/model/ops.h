// engine/model/ops.h — small float32 building blocks shared by the layers (and their tests).
#pragma once
#include <cstdint>

#include "../tensor.h"

namespace mlascope {

// out = w * x * rsqrt(mean(x^2) + eps); w is a stored [n] vector (any float dtype). out may be x.
void rms_norm(const float* x, const TensorView& w, int64_t n, float eps, float* out);
// Same with a float32 weight (tests, precomputed weights).
void rms_norm(const float* x, const float* w, int64_t n, float eps, float* out);
// In-place numerically stable softmax over n values.
void softmax_inplace(float* x, int64_t n);
float silu(float x);
// out[i] = silu(gate[i]) * up[i]
void swiglu(const float* gate, const float* up, float* out, int64_t n);

}  // namespace mlascope
