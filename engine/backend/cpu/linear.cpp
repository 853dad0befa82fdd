// engine/backend/cpu/linear.cpp — see linear.h.
#include "linear.h"

#include <algorithm>
#include <vector>

#include "matvec.h"
#include "matvec_quant.h"

namespace mlascope::cpu {

namespace {
// A chunk below ~64k multiply-adds costs less than waking another thread.
int64_t row_grain(int64_t cols, int64_t n) { return std::max<int64_t>(1, 65536 / std::max<int64_t>(1, cols * n)); }

// Block-quantized weights take x as int8 blocks. Quantizing here, once per product, keeps every
// thread chunk from quantizing the same tokens again (at decode that costs as much as the chunk).
bool integer_path(const TensorView& W, int64_t n) {
  return dtype_is_quantized(W.dtype) && (n == 1 || matmat_quant_preferred(W.dtype));
}

const Q8Activation* const* quantize_for(const float* X, int64_t cols, int64_t n, bool super_blocks, bool regrouped) {
  thread_local QuantizedTokens store;
  return quantize_tokens(X, cols, cols, n, super_blocks, regrouped, store);
}

void product(const TensorView& W, const float* X, const Q8Activation* const* xq, int64_t n, float* Y, int64_t r0,
             int64_t r1) {
  const int64_t rows = W.rows(), cols = W.cols();
  if (!xq)
    matmat(W, X, cols, n, Y, rows, r0, r1);
  else if (n == 1)
    matvec_quant(W, *xq[0], Y, r0, r1);
  else
    matmat_quant(W, xq, n, Y, rows, r0, r1);
}
}  // namespace

void linear(ThreadPool& pool, const TensorView& W, const float* X, int64_t n, float* Y) {
  const int64_t rows = W.rows(), cols = W.cols();
  const Q8Activation* const* xq =
      integer_path(W, n) ? quantize_for(X, cols, n, super_blocks_for(W.dtype), regrouped_for(W.dtype)) : nullptr;
  pool.parallel_for(rows, row_grain(cols, n), [&](int64_t r0, int64_t r1) { product(W, X, xq, n, Y, r0, r1); });
}

void linear2(ThreadPool& pool, const TensorView& A, const TensorView& B, const float* X, int64_t n, float* YA,
             float* YB) {
  const int64_t rows = A.rows(), cols = A.cols();
  const Q8Activation* const* xq =
      integer_path(A, n) && integer_path(B, n) && B.cols() == cols
          ? quantize_for(X, cols, n, super_blocks_for(A.dtype) || super_blocks_for(B.dtype),
                         regrouped_for(A.dtype) || regrouped_for(B.dtype))
          : nullptr;
  // One index space over both weights: [0, rows) is A, [rows, 2 rows) is B.
  pool.parallel_for(2 * rows, row_grain(cols, n), [&](int64_t i0, int64_t i1) {
    if (i0 < rows) product(A, X, xq, n, YA, i0, std::min(i1, rows));
    if (i1 > rows) product(B, X, xq, n, YB, std::max(i0, rows) - rows, i1 - rows);
  });
}

}  // namespace mlascope::cpu
