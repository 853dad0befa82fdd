// engine/tensor.h — dtypes and a non-owning view of a stored tensor (mmapped weights).
// Weights stay in their stored type; kernels convert in registers (see backend/cpu).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace mlascope {

enum class DType : uint8_t {
  F32,
  F16,
  BF16,
  F8_E4M3,  // DeepSeek-V3 FP8 weights, with a [ceil(out/128), ceil(in/128)] F32 weight_scale_inv
  I32,
  I64,
  U8,
  I8,
  // GGUF block-quantized types (block of `block_elems` values stored in `block_bytes`)
  Q8_0,
  Q4_0,
  Q4_K,
  Q5_K,
  Q6_K,
  Q4_1,
  Q5_0,
  Q5_1,
  Q2_K,
  Q3_K,
  IQ4_NL,
  IQ4_XS,
  // Not a file type: Q4_K blocks whose nibbles are reordered for the CPU's integer dot products
  // (weights/quant.h, q4_k_to_cpu_layout), made at load from Q4_K held in memory the process owns.
  // Same values, scales and size; reported as "Q4_K" everywhere a user reads a dtype.
  Q4_K_R,
  // Not a file type either: Q5_0 rows with each run of 8 blocks (256 values) regrouped so that
  // 32-bit lane j of a register is block j (weights/quant.h, q5_0_row_to_cpu_layout). Reads as "Q5_0".
  Q5_0_R,
  // Q8_0 rows regrouped the same way (8 blocks per group, codes stored + 128). Reads as "Q8_0".
  Q8_0_R,
  // Q6_K blocks with their 6-bit codes regrouped as Q4_K_R's nibbles (lane j = 32 values j), scales
  // and d where the file has them (weights/quant.h, q6_k_to_cpu_layout). Reads as "Q6_K".
  Q6_K_R,
};

const char* to_string(DType t);
// Elements per block and bytes per block (1 and the element size for plain types).
int dtype_block_elems(DType t);
int dtype_block_bytes(DType t);
inline bool dtype_is_quantized(DType t) { return dtype_block_elems(t) > 1; }
// Bytes for n elements of type t; n must be a multiple of the block size for quantized types.
inline size_t dtype_bytes(DType t, size_t n) {
  return n / static_cast<size_t>(dtype_block_elems(t)) * static_cast<size_t>(dtype_block_bytes(t));
}

// ---- scalar conversions (exact; used by the reference paths and tests) ----
inline float bf16_to_f32(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
// Round to nearest even, as torch does; NaN stays NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
// OCP FP8 E4M3 (fn: no infinities, 0x7f/0xff are NaN), as torch.float8_e4m3fn.
float f8e4m3_to_f32(uint8_t v);

// A non-owning view of a tensor's stored bytes. Shape is in the file's order: HF linear
// weights are [out_features, in_features] (row-major, last dim contiguous).
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t nbytes = 0;
  // FP8 block scales (DeepSeek-V3 `*.weight_scale_inv`), F32 [ceil(rows/128), ceil(cols/128)].
  const float* scale_inv = nullptr;
  int64_t scale_rows = 0, scale_cols = 0;

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  int64_t rows() const { return shape.empty() ? 0 : (shape.size() == 1 ? 1 : shape[0]); }
  int64_t cols() const { return shape.empty() ? 0 : shape.back(); }
  std::string shape_string() const;
  // Row r of a 2-D tensor converted to float32 (dequantized, FP8 scales applied).
  void row_to_f32(int64_t r, float* out) const;
  // Whole tensor to float32 (tests, small tensors; the hot path never does this for matrices).
  std::vector<float> to_f32() const;
};

}  // namespace mlascope
