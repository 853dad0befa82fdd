// engine/backend/cpu/matvec_quant.h — y = W x for GGUF block-quantized W (Q8_0, Q4_0, Q4_1, Q5_0,
// Q5_1, IQ4_NL, Q2_K..Q6_K, IQ4_XS), working on the blocks directly: x is quantized once to int8 blocks of 32 (one float scale
// each), then every weight block is an integer dot product scaled in float. AVX2 when compiled
// for it, a portable path otherwise; both are checked against dequantize + float dot in tests.
// The CPU matvec dispatcher (matvec.h) calls this for quantized dtypes; threads split rows.
#pragma once
#include <cstdint>
#include <vector>

#include "../../tensor.h"

namespace mlascope {

// x as int8 blocks of 32: x[i] ≈ d[i/32] * q[i]; sum16 = sums of q over each 16 values.
// When n is a multiple of 256, the same x also in blocks of 256 (one scale per super-block, as
// llama.cpp's Q8_K): the K-quant and IQ4_XS kernels then sum integers across a whole super-block
// before a single float multiply, instead of converting and scaling every 32 values.
struct Q8Activation {
  int64_t n = 0;
  std::vector<int8_t> q;      // [n]
  std::vector<float> d;       // [n / 32]
  std::vector<int16_t> sum16; // [n / 16]
  std::vector<int8_t> qk;     // [n] or empty: x[i] ≈ dk[i/256] * qk[i]
  std::vector<float> dk;      // [n / 256]
  std::vector<int16_t> ksum16;  // [n / 16] sums of qk over each 16 values
  std::vector<int8_t> qp;       // qk in Q4_K_R's order: per super-block, four-value group (j, m) at 8m + j
  std::vector<int16_t> ksum32;  // [n / 32] sums of qk over each 32 values (a Q4_K sub-block)
  // q in Q5_0_R's and Q8_0_R's order over the first n / 256 * 256 values (the same transpose as qp, of q), and
  // the sums of q over each 32 (a block).
  std::vector<int8_t> qt;
  std::vector<int16_t> sum32;   // [n / 32]
};

// n must be a multiple of 32. super_blocks: also fill qk/dk/ksum16 (when n % 256 == 0); only the
// kernels of super_blocks_for(W.dtype) read them, so other products skip that work. regrouped:
// also fill the CPU layouts' orders (qt/sum32, and qp with super_blocks), read only by the kernels
// of regrouped_for(W.dtype).
void quantize_activation(const float* x, int64_t n, Q8Activation& out, bool super_blocks = true, bool regrouped = true);
bool super_blocks_for(DType t);
bool regrouped_for(DType t);

// Tokens X[t, 0:cols] (row stride ldx) quantized into `store`; returns one pointer per token, the
// form matmat_quant takes.
struct QuantizedTokens {
  std::vector<Q8Activation> q;
  std::vector<const Q8Activation*> ptr;
};
const Q8Activation* const* quantize_tokens(const float* X, int64_t ldx, int64_t cols, int64_t n, bool super_blocks,
                                           bool regrouped, QuantizedTokens& store);

// y[r] for r in [row_begin, row_end) (y is indexed by row, not offset by row_begin).
// W: [rows, cols] of a block type; cols must be a multiple of its block size.
void matvec_quant(const TensorView& W, const float* x, float* y, int64_t row_begin, int64_t row_end);
void matvec_quant(const TensorView& W, const Q8Activation& x, float* y, int64_t row_begin, int64_t row_end);

// Batched form for prefill (same contract as cpu::matmat): Y[t, r] = W[r,:] . X[t,:] for t < n_tokens,
// r in [row_begin, row_end); X is [n_tokens, ldx], Y is [n_tokens, ldy]. Each token is quantized
// once; each weight row is read once and dotted with every token while it sits in L1.
void matmat_quant(const TensorView& W, const float* X, int64_t ldx, int64_t n_tokens, float* Y, int64_t ldy,
                  int64_t row_begin, int64_t row_end);

// Whether a prompt's product should use matmat_quant rather than cpu::matmat's widened
// float tiles. Q8_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K and the CPU layouts Q4_K_R, Q5_0_R, Q8_0_R, Q6_K_R have
// tiled integer kernels (a row's codes unpacked once for 4 tokens); bench_matvec_quant 1408x2048 (a V2-Lite expert), 1 thread, idle:
// Q4_K 6 tokens 0.33 vs 0.89 ms, 32 tokens 1.84 vs 3.54 ms; Q5_0 0.48 vs 0.77, 2.53 vs 3.45 ms.
bool matmat_quant_preferred(DType t);
// The same with the tokens already quantized (xs[t] for token t): linear() quantizes each token
// once per product instead of once per thread chunk.
void matmat_quant(const TensorView& W, const Q8Activation* const* xs, int64_t n_tokens, float* Y, int64_t ldy,
                  int64_t row_begin, int64_t row_end);

// The portable kernels (always compiled), for tests and for comparing with the SIMD path.
void matvec_quant_portable(const TensorView& W, const Q8Activation& x, float* y, int64_t row_begin, int64_t row_end);
// True when matvec_quant uses AVX2 kernels in this build.
bool matvec_quant_has_simd();

}  // namespace mlascope
