// tests/support/fp8_checkpoint.h — build a DeepSeek-V3-style FP8 checkpoint from a golden case, the
// way the released V3 weights are laid out: every linear weight of attention and FFN/experts as
// F8_E4M3 with an F32 `<name>_scale_inv` of 128x128 block scales [ceil(out/128), ceil(in/128)];
// embeddings, lm_head, norms, the router gate and its bias stay as stored.
// The E4M3 encoder here is written from the format's definition, independent of the engine.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mlascope::test {

// OCP E4M3 "fn": 1 sign, 4 exponent (bias 7), 3 mantissa bits, no infinities, 0x7f/0xff NaN, max 448.
float e4m3_value(uint8_t code);
uint8_t e4m3_encode(float x);  // round to nearest, ties to even code; saturates at +-448
constexpr int kFp8Block = 128;

// Quantizes a row-major [rows, cols] matrix; fills `codes` and `scale_inv` [ceil(rows/128), ceil(cols/128)].
void quantize_fp8_blocks(const std::vector<float>& w, int64_t rows, int64_t cols, std::vector<uint8_t>& codes,
                         std::vector<float>& scale_inv);

bool fp8_should_quantize(const std::string& tensor_name);

// Writes dst/config.json (copied) and dst/model.safetensors (FP8 where fp8_should_quantize).
// Returns the names of the quantized tensors.
std::vector<std::string> make_fp8_checkpoint(const std::filesystem::path& src_dir, const std::filesystem::path& dst_dir);

}  // namespace mlascope::test
