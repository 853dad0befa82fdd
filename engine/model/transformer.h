// engine/model/transformer.h — the CPU forward pass of a DeepSeek-V2/V3 model, float32 compute over
// the stored (mmapped) weights: embed -> [RMSNorm, MLA, residual, RMSNorm, dense SwiGLU or MoE,
// residual] x L -> final norm -> lm_head. The same code runs a whole prompt (batched prefill,
// causal) or one token (decode) against the KV cache. Trace points are reported through TraceSink.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "../backend/backend.h"
#include "../trace/trace_hooks.h"
#include "rope.h"

namespace mlascope {

class Model;
class KvCache;
struct LayerWeights;
namespace cpu {
class ThreadPool;
}

class Transformer {
 public:
  Transformer(const Model& model, MlaMode mode);
  ~Transformer();
  Transformer(const Transformer&) = delete;
  Transformer& operator=(const Transformer&) = delete;

  MlaMode mode() const { return mode_; }
  // Runs tokens at positions start_pos.. (the cache must hold exactly start_pos positions and have
  // room for the rest). logits: [n_tokens, V] with all_logits, else [1, V] for the last token.
  void forward(cpu::ThreadPool& pool, KvCache& cache, std::span<const int32_t> tokens, int start_pos,
               bool all_logits, TraceSink* trace, std::vector<float>& logits);

 private:
  struct Scratch;
  void attention(cpu::ThreadPool& pool, KvCache& cache, int layer, int n, int start_pos, TraceSink* trace);
  void dense_ffn(cpu::ThreadPool& pool, int layer, int n);
  void moe_ffn(cpu::ThreadPool& pool, int layer, int n, int start_pos, TraceSink* trace);

  const Model& model_;
  MlaMode mode_;
  Rope rope_;
  float softmax_scale_ = 1.0f;
  std::unique_ptr<Scratch> s_;
};

}  // namespace mlascope
