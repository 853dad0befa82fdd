// engine/backend/cpu/matvec.h — products with stored weights, converted to float32 in registers.
// W is an HF linear weight [out_features, in_features] (row-major) in F32, BF16, F16, F8_E4M3
// (+ 128x128 block scales) or a GGUF block type (handed to matvec_quant). x and y are float32.
// Row ranges let a thread pool split the output rows; every function here is single-threaded.
#pragma once
#include <cstdint>

#include "../../tensor.h"

namespace mlascope::cpu {

// y[r] = W[r,:] . x for r in [row_begin, row_end). y is the full output vector (indexed by r).
void matvec(const TensorView& W, const float* x, float* y, int64_t row_begin, int64_t row_end);

// Batched form for prefill: Y[t, r] = W[r,:] . X[t,:] for t < n_tokens, r in [row_begin, row_end).
// X is [n_tokens, ldx], Y is [n_tokens, ldy]. Each weight row is converted once and used for every
// token of the batch, so the weights are read once per batch instead of once per token.
void matmat(const TensorView& W, const float* X, int64_t ldx, int64_t n_tokens, float* Y, int64_t ldy,
            int64_t row_begin, int64_t row_end);

// y[0:cols] += sum_{r in [row_begin, row_end)} x[r - row_begin] * W[r,:]  (a product with W^T over a
// block of rows; absorbed MLA folds W_UK into the query this way without a transposed copy).
void matvec_t_accumulate(const TensorView& W, const float* x, float* y, int64_t row_begin, int64_t row_end);

// Batched form: Y[t, 0:cols] += sum_r X[t, r - row_begin] * W[r,:] for t < n_tokens. Each row is
// widened once for all tokens; per token the rows are added in the same order as above.
void matmat_t_accumulate(const TensorView& W, const float* X, int64_t ldx, int64_t n_tokens, float* Y, int64_t ldy,
                         int64_t row_begin, int64_t row_end);

// Row r of W as float32 (FP8 scales and GGUF blocks applied). out has cols() floats.
void weight_row(const TensorView& W, int64_t r, float* out);

// Dot product of two float32 vectors (SIMD when built for AVX2/FMA).
float dot_f32(const float* a, const float* b, int64_t n);
// y += a * x
void axpy_f32(float a, const float* x, float* y, int64_t n);

}  // namespace mlascope::cpu
