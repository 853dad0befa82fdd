// engine/model/transformer.cpp — layer loop, embedding, final norm and lm_head (see transformer.h).
// Attention lives in mla_attention.cpp, the FFNs in moe_experts.cpp.
#include "transformer.h"

#include <algorithm>

#include "../backend/cpu/linear.h"
#include "../backend/cpu/matvec.h"
#include "../kv_cache.h"
#include "model.h"
#include "ops.h"
#include "transformer_scratch.h"

namespace mlascope {

Transformer::Transformer(const Model& model, MlaMode mode)
    : model_(model), mode_(mode), rope_(Rope::from_config(model.config())),
      softmax_scale_(static_cast<float>(model.config().softmax_scale())), s_(std::make_unique<Scratch>()) {
  const ModelConfig& c = model.config();
  s_->bias.resize(static_cast<size_t>(c.num_hidden_layers));
  for (int l = 0; l < model.n_layers(); ++l) {
    const TensorView* b = model.layer(l).e_score_correction_bias;
    if (b) s_->bias[static_cast<size_t>(l)] = b->to_f32();
  }
}

Transformer::~Transformer() = default;

void Transformer::forward(cpu::ThreadPool& pool, KvCache& cache, std::span<const int32_t> tokens, int start_pos,
                          bool all_logits, TraceSink* trace, std::vector<float>& logits) {
  const ModelConfig& c = model_.config();
  const int n = static_cast<int>(tokens.size());
  const int64_t D = c.hidden_size;
  const size_t nD = static_cast<size_t>(n) * static_cast<size_t>(D);
  const float eps = static_cast<float>(c.rms_norm_eps);
  Scratch& s = *s_;
  if (trace && !trace->any()) trace = nullptr;

  float* h = sized(s.h, nD);
  float* xn = sized(s.xn, nD);
  float* out = sized(s.out, nD);
  for (int t = 0; t < n; ++t) {
    cpu::weight_row(model_.embed_tokens(), tokens[static_cast<size_t>(t)], h + t * D);
    if (trace && trace->wants(TracePoint::Embed)) trace->on_vector(TracePoint::Embed, 0, start_pos + t, {h + t * D, static_cast<size_t>(D)});
  }

  for (int l = 0; l < model_.n_layers(); ++l) {
    const LayerWeights& w = model_.layer(l);
    for (int t = 0; t < n; ++t) rms_norm(h + t * D, *w.input_layernorm, D, eps, xn + t * D);
    attention(pool, cache, l, n, start_pos, trace);
    for (size_t i = 0; i < nD; ++i) h[i] += out[i];
    for (int t = 0; t < n; ++t) rms_norm(h + t * D, *w.post_attention_layernorm, D, eps, xn + t * D);
    if (w.is_moe) moe_ffn(pool, l, n, start_pos, trace);
    else dense_ffn(pool, l, n);
    for (size_t i = 0; i < nD; ++i) h[i] += out[i];
    if (trace && trace->wants(TracePoint::Hidden, l))
      for (int t = 0; t < n; ++t) trace->on_vector(TracePoint::Hidden, l, start_pos + t, {h + t * D, static_cast<size_t>(D)});
  }

  // Final norm and lm_head: every row when asked (eval, prompt probabilities, tracing), else the last.
  const bool want_norm = trace && trace->wants(TracePoint::FinalNorm);
  const bool want_logits = trace && trace->wants(TracePoint::Logits);
  const int first = (all_logits || want_logits || want_norm) ? 0 : n - 1;
  for (int t = first; t < n; ++t) {
    rms_norm(h + t * D, model_.norm(), D, eps, xn + t * D);
    if (want_norm) trace->on_vector(TracePoint::FinalNorm, 0, start_pos + t, {xn + t * D, static_cast<size_t>(D)});
  }
  const int64_t V = c.vocab_size;
  const int first_logit = (all_logits || want_logits) ? 0 : n - 1;
  const int n_rows = n - first_logit;
  logits.resize(static_cast<size_t>(n_rows) * static_cast<size_t>(V));
  cpu::linear(pool, model_.lm_head(), xn + first_logit * D, n_rows, logits.data());
  if (want_logits)
    for (int t = 0; t < n_rows; ++t)
      trace->on_vector(TracePoint::Logits, 0, start_pos + first_logit + t, {logits.data() + t * V, static_cast<size_t>(V)});
  if (!all_logits && n_rows > 1) logits.erase(logits.begin(), logits.end() - V);
}

}  // namespace mlascope
