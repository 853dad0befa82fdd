// bench/bench_quant_rmse.cpp — weight error of mlascope's quantizer against llama.cpp's on the same
// tensors. Reads an unquantized GGUF (the source weights) and a file llama-quantize made from it;
// for every tensor that llama.cpp stored in a type mlascope can also produce, quantizes the source
// rows with quantize_row and prints both RMSEs against the source, per type and overall, with the
// ratio (ours / llama.cpp's; below 1 means less error).
// usage: bench_quant_rmse SOURCE-f16.gguf LLAMA-QUANTIZED.gguf [--per-tensor]
//   e.g. llama-quantize --pure demo-f16.gguf demo-q4_k.gguf Q4_K   (every matrix in Q4_K)
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/weights/gguf_file.h"
#include "engine/weights/quant.h"

using namespace mlascope;

namespace {
TensorView view_of(const GgufFile& f, const GgufTensorInfo& t) {
  TensorView v;
  v.name = t.name;
  v.dtype = t.dtype;
  int64_t rows = 1;
  for (size_t i = 1; i < t.ne.size(); ++i) rows *= t.ne[i];
  v.shape = {rows, t.ne[0]};
  v.data = f.tensor_data(t);
  v.nbytes = t.nbytes;
  return v;
}
bool producible(DType t) {
  switch (t) {
    case DType::Q8_0: case DType::Q4_0: case DType::Q4_1: case DType::Q5_0: case DType::Q5_1:
    case DType::Q4_K: case DType::Q5_K: case DType::Q6_K: return true;
    default: return false;
  }
}
struct Sum {
  double ours = 0, theirs = 0, n = 0;
};
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s SOURCE.gguf LLAMA-QUANTIZED.gguf [--per-tensor]\n", argv[0]);
    return 2;
  }
  const bool per_tensor = argc > 3 && std::strcmp(argv[3], "--per-tensor") == 0;
  try {
    const GgufFile src = GgufFile::open(argv[1]);
    const GgufFile q = GgufFile::open(argv[2]);
    std::map<std::string, Sum> by_type;
    Sum all;
    for (const GgufTensorInfo& tq : q.tensors()) {
      const GgufTensorInfo* ts = src.find_tensor(tq.name);
      if (!ts || !producible(tq.dtype) || ts->ne != tq.ne || dtype_is_quantized(ts->dtype)) continue;
      const TensorView vs = view_of(src, *ts), vq = view_of(q, tq);
      const int64_t rows = vs.shape[0], cols = vs.shape[1];
      std::vector<float> x(static_cast<size_t>(cols)), theirs(x.size()), ours(x.size());
      std::vector<uint8_t> block(dtype_bytes(tq.dtype, static_cast<size_t>(cols)));
      Sum s;
      for (int64_t r = 0; r < rows; ++r) {
        vs.row_to_f32(r, x.data());
        vq.row_to_f32(r, theirs.data());
        quantize_row(tq.dtype, x.data(), block.data(), cols);
        dequantize_row(tq.dtype, block.data(), ours.data(), cols);
        for (int64_t i = 0; i < cols; ++i) {
          const double a = ours[static_cast<size_t>(i)] - x[static_cast<size_t>(i)];
          const double b = theirs[static_cast<size_t>(i)] - x[static_cast<size_t>(i)];
          s.ours += a * a;
          s.theirs += b * b;
        }
        s.n += static_cast<double>(cols);
      }
      if (per_tensor)
        std::printf("%-36s %-6s rmse mlascope %.6g  llama.cpp %.6g  ratio %.4f\n", tq.name.c_str(), to_string(tq.dtype),
                    std::sqrt(s.ours / s.n), std::sqrt(s.theirs / s.n), std::sqrt(s.ours / s.theirs));
      Sum& t = by_type[to_string(tq.dtype)];
      for (Sum* acc : {&t, &all}) acc->ours += s.ours, acc->theirs += s.theirs, acc->n += s.n;
    }
    for (const auto& [type, s] : by_type)
      std::printf("%-6s %12.0f weights  rmse mlascope %.6g  llama.cpp %.6g  ratio %.4f\n", type.c_str(), s.n,
                  std::sqrt(s.ours / s.n), std::sqrt(s.theirs / s.n), std::sqrt(s.ours / s.theirs));
    if (all.n > 0)
      std::printf("all    %12.0f weights  rmse mlascope %.6g  llama.cpp %.6g  ratio %.4f\n", all.n,
                  std::sqrt(all.ours / all.n), std::sqrt(all.theirs / all.n), std::sqrt(all.ours / all.theirs));
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
