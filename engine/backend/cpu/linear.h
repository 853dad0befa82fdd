// engine/backend/cpu/linear.h — multithreaded products with a weight: the output rows of W are
// split across the pool (each thread streams its own contiguous slice of the weight).
#pragma once
#include <cstdint>

#include "../../tensor.h"
#include "thread_pool.h"

namespace mlascope::cpu {

// Y[n, W.rows()] = X[n, W.cols()] · W^T (decode n = 1 uses matvec, prefill the token-blocked matmat).
void linear(ThreadPool& pool, const TensorView& W, const float* X, int64_t n, float* Y);
// Two weights of the same shape over the same input in one pass (gate_proj and up_proj).
void linear2(ThreadPool& pool, const TensorView& A, const TensorView& B, const float* X, int64_t n, float* YA,
             float* YB);

}  // namespace mlascope::cpu
