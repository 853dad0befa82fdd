// engine/backend/cpu/kv_rows.h — rows of the KV cache stored in f32, bf16 or f16 (KvDType) with
// float32 math: the attention reads cached rows only through these, widening in registers
// (AVX-512 or AVX2+F16C when the build targets them, a scalar path otherwise).
#pragma once
#include <cstdint>

#include "../backend.h"

namespace mlascope::cpu {

// dst[0:n] = src rounded to the cache dtype (bf16 and f16: round to nearest even, as torch's .to()).
void kv_store(const float* src, void* dst, int64_t n, KvDType t);
// dst[0:n] = the stored row as float32 (exact).
void kv_load(const void* src, float* dst, int64_t n, KvDType t);
// q . row
float kv_dot(const float* q, const void* row, int64_t n, KvDType t);
// y += a * row
void kv_axpy(float a, const void* row, float* y, int64_t n, KvDType t);

// The address `elems` elements past p in a row of dtype t.
inline const void* kv_advance(const void* p, int64_t elems, KvDType t) {
  return static_cast<const uint8_t*>(p) + elems * kv_dtype_bytes(t);
}
inline void* kv_advance(void* p, int64_t elems, KvDType t) {
  return static_cast<uint8_t*>(p) + elems * kv_dtype_bytes(t);
}

}  // namespace mlascope::cpu
