// bench/bench_matvec_quant.cpp — quantized matvec throughput per GGUF type on one thread:
// a [rows, cols] matrix larger than the caches, median time per product, weight bytes read per
// second, and the speedup over dequantize-row-then-dot (what a kernel without block support does).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/backend/cpu/matvec.h"
#include "engine/backend/cpu/matvec_quant.h"
#include "engine/weights/quant.h"

using namespace mlascope;

namespace {
template <class F>
double median_seconds(F&& f, int reps) {
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}
}  // namespace

// usage: bench_matvec_quant [ROWS] [COLS] [TYPE]   (TYPE: only that block type, e.g. Q5_0; Q4_K_R, Q5_0_R,
// Q8_0_R, Q6_K_R: Q4_K, Q5_0, Q8_0, Q6_K reordered as the engine holds them in memory)
int main(int argc, char** argv) {
  const int64_t rows = argc > 1 ? std::atoll(argv[1]) : 8192, cols = argc > 2 ? std::atoll(argv[2]) : 4096;
  const char* only = argc > 3 ? argv[3] : nullptr;
  std::mt19937 rng(1);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> row(static_cast<size_t>(cols)), x(static_cast<size_t>(cols)), y(static_cast<size_t>(rows));
  for (float& v : x) v = g(rng);
  std::printf("matvec_quant %lld x %lld, 1 thread, SIMD %s\n", static_cast<long long>(rows),
              static_cast<long long>(cols), matvec_quant_has_simd() ? "AVX2" : "none");
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::IQ4_NL, DType::Q2_K,
                  DType::Q3_K, DType::Q4_K, DType::Q4_K_R, DType::Q5_0_R, DType::Q8_0_R, DType::Q5_K, DType::Q6_K, DType::Q6_K_R, DType::IQ4_XS}) {
    // Q4_K_R / Q5_0_R / Q8_0_R / Q6_K_R: Q4_K / Q5_0 / Q8_0 / Q6_K as the engine holds them after loading into memory (reordered
    // for these kernels).
    const DType file_type = t == DType::Q4_K_R ? DType::Q4_K : t == DType::Q5_0_R ? DType::Q5_0 : t == DType::Q8_0_R ? DType::Q8_0
                            : t == DType::Q6_K_R ? DType::Q6_K : t;
    const std::string label = file_type != t ? std::string(to_string(t)) + "_R" : std::string(to_string(t));
    if (only && label != only) continue;
    const size_t row_bytes = dtype_bytes(t, static_cast<size_t>(cols));
    std::vector<uint8_t> w(row_bytes * static_cast<size_t>(rows));
    if (t == DType::Q2_K || t == DType::Q3_K || t == DType::IQ4_NL || t == DType::IQ4_XS) {
      // types the exporter does not produce: random codes, sane f16 scales (speed does not depend on values)
      for (uint8_t& b : w) b = static_cast<uint8_t>(rng());
      const size_t bb = static_cast<size_t>(dtype_block_bytes(t));
      const uint16_t h = f32_to_f16(0.01f);
      for (size_t off = 0; off < w.size(); off += bb)
        for (size_t at : t == DType::Q2_K ? std::vector<size_t>{80, 82} : t == DType::Q3_K ? std::vector<size_t>{108} : std::vector<size_t>{0})
          std::memcpy(&w[off + at], &h, 2);
    } else {
      for (int64_t r = 0; r < rows; ++r) {
        for (float& v : row) v = g(rng);
        quantize_row(file_type, row.data(), w.data() + static_cast<size_t>(r) * row_bytes, cols);
      }
      if (file_type != t) {
        std::vector<uint8_t> reordered(row_bytes);
        for (int64_t r = 0; r < rows; ++r) {
          row_to_cpu_layout(file_type, w.data() + static_cast<size_t>(r) * row_bytes, reordered.data(), cols);
          std::memcpy(w.data() + static_cast<size_t>(r) * row_bytes, reordered.data(), row_bytes);
        }
      }
    }
    TensorView v;
    v.name = "w";
    v.dtype = t;
    v.shape = {rows, cols};
    v.data = w.data();
    v.nbytes = w.size();
    const double s = median_seconds([&] { matvec_quant(v, x.data(), y.data(), 0, rows); }, 15);
    const double s_deq = median_seconds(
        [&] {
          for (int64_t r = 0; r < rows; ++r) {
            dequantize_row(t, w.data() + static_cast<size_t>(r) * row_bytes, row.data(), cols);
            float acc = 0.0f;
            for (int64_t i = 0; i < cols; ++i) acc += row[static_cast<size_t>(i)] * x[static_cast<size_t>(i)];
            y[static_cast<size_t>(r)] = acc;
          }
        },
        5);
    // Prefill: a batch of tokens at once, integer block dots vs converting each row once and float
    // dots. 6 tokens is what one routed expert sees of a 64-token prompt at top-6 of 64 (V2-Lite).
    for (const int64_t kTokens : {int64_t{6}, int64_t{32}}) {
      std::vector<float> X(static_cast<size_t>(kTokens * cols)), Y(static_cast<size_t>(kTokens * rows));
      for (float& e : X) e = g(rng);
      const double s_mm = median_seconds([&] { matmat_quant(v, X.data(), cols, kTokens, Y.data(), rows, 0, rows); }, 5);
      const double s_mm_f = median_seconds(
          [&] {
            for (int64_t r = 0; r < rows; ++r) {
              cpu::weight_row(v, r, row.data());
              for (int64_t k = 0; k < kTokens; ++k)
                Y[static_cast<size_t>(k * rows + r)] = cpu::dot_f32(row.data(), X.data() + k * cols, cols);
            }
          },
          5);
      // What the engine runs for a prompt (cpu::matmat picks integer tiles or widened float tiles).
      const double s_engine = median_seconds([&] { cpu::matmat(v, X.data(), cols, kTokens, Y.data(), rows, 0, rows); }, 5);
      std::printf("%-6s %2lld-token batch: integer %7.2f ms, row-to-float %7.2f ms, ratio %.2fx; cpu::matmat %7.2f ms (%s)\n",
                  label.c_str(), static_cast<long long>(kTokens), s_mm * 1e3, s_mm_f * 1e3, s_mm_f / s_mm, s_engine * 1e3,
                  matmat_quant_preferred(t) ? "integer tiles" : "float tiles");
    }
    std::printf("%-6s %7.1f MB  median %7.3f ms  %6.2f GB/s of weights  (dequantize+dot %7.3f ms, ratio %.2fx)\n",
                label.c_str(), static_cast<double>(w.size()) / 1e6, s * 1e3, static_cast<double>(w.size()) / s / 1e9,
                s_deq * 1e3, s_deq / s);
  }
  // The stored float types: decode matvec (GB/s of weights) and the 32-token prefill tile
  // (GFLOP/s), through the same cpu::matvec / cpu::matmat the engine calls.
  for (DType t : {DType::F32, DType::BF16, DType::F16}) {
    if (only && std::string(to_string(t)) != only) continue;
    const size_t esz = t == DType::F32 ? 4 : 2;
    std::vector<uint8_t> w(esz * static_cast<size_t>(rows * cols));
    for (size_t i = 0; i < static_cast<size_t>(rows * cols); ++i) {
      const float f = g(rng);
      if (t == DType::F32) {
        std::memcpy(&w[i * 4], &f, 4);
      } else {
        const uint16_t h = t == DType::BF16 ? f32_to_bf16(f) : f32_to_f16(f);
        std::memcpy(&w[i * 2], &h, 2);
      }
    }
    TensorView v;
    v.name = "w";
    v.dtype = t;
    v.shape = {rows, cols};
    v.data = w.data();
    v.nbytes = w.size();
    const double s = median_seconds([&] { cpu::matvec(v, x.data(), y.data(), 0, rows); }, 15);
    constexpr int64_t kTokens = 32;
    std::vector<float> X(static_cast<size_t>(kTokens * cols)), Y(static_cast<size_t>(kTokens * rows));
    for (float& e : X) e = g(rng);
    const double s_mm = median_seconds([&] { cpu::matmat(v, X.data(), cols, kTokens, Y.data(), rows, 0, rows); }, 5);
    std::printf("%-5s %7.1f MB  matvec median %7.3f ms  %6.2f GB/s of weights; 32-token matmat %7.2f ms  %6.1f GFLOP/s\n",
                to_string(t), static_cast<double>(w.size()) / 1e6, s * 1e3, static_cast<double>(w.size()) / s / 1e9,
                s_mm * 1e3, 2.0 * kTokens * static_cast<double>(rows * cols) / s_mm / 1e9);
  }
  return 0;
}
