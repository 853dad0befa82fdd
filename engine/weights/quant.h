// engine/weights/quant.h — GGUF block formats (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K): dequantization of
// rows and the quantizers used by `mlascope convert`. Layouts follow the GGUF specification.
#pragma once
#include <cstdint>

#include "../tensor.h"

namespace mlascope {

// n values (a multiple of the block size) from the blocks at `src` into `dst`.
void dequantize_row(DType t, const void* src, float* dst, int64_t n);

}  // namespace mlascope
