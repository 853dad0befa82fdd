// engine/backend/cpu/linear.cpp — see linear.h.
#include "linear.h"

#include <algorithm>

#include "matvec.h"

namespace mlascope::cpu {

namespace {
// A chunk below ~64k multiply-adds costs less than waking another thread.
int64_t row_grain(int64_t cols, int64_t n) { return std::max<int64_t>(1, 65536 / std::max<int64_t>(1, cols * n)); }
}  // namespace

void linear(ThreadPool& pool, const TensorView& W, const float* X, int64_t n, float* Y) {
  const int64_t rows = W.rows(), cols = W.cols();
  pool.parallel_for(rows, row_grain(cols, n), [&](int64_t r0, int64_t r1) { matmat(W, X, cols, n, Y, rows, r0, r1); });
}

void linear2(ThreadPool& pool, const TensorView& A, const TensorView& B, const float* X, int64_t n, float* YA,
             float* YB) {
  const int64_t rows = A.rows(), cols = A.cols();
  // One index space over both weights: [0, rows) is A, [rows, 2 rows) is B.
  pool.parallel_for(2 * rows, row_grain(cols, n), [&](int64_t i0, int64_t i1) {
    if (i0 < rows) matmat(A, X, cols, n, YA, rows, i0, std::min(i1, rows));
    if (i1 > rows) matmat(B, X, cols, n, YB, rows, std::max(i0, rows) - rows, i1 - rows);
  });
}

}  // namespace mlascope::cpu
