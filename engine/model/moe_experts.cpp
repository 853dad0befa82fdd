// engine/model/moe_experts.cpp — the FFN half of a decoder layer.
//   dense (layers < first_k_dense_replace) and every expert: down_proj(silu(gate_proj(x)) * up_proj(x))
//   MoE: sum_i route_w[i] * expert_{route_idx[i]}(x) + shared_experts(x)
// The routed experts run as one loop over the experts that some token of the batch chose: each
// active expert gathers its tokens and reads its weights once for all of them.
#include <algorithm>
#include <cstring>
#include <vector>

#include "../backend/cpu/linear.h"
#include "../backend/cpu/matvec.h"
#include "model.h"
#include "moe_router.h"
#include "ops.h"
#include "transformer.h"
#include "transformer_scratch.h"

namespace mlascope {

namespace {

// y[m, D] = ffn(x[m, D]) using the scratch buffers for the intermediate activations.
void swiglu_ffn(cpu::ThreadPool& pool, const FfnWeights& f, const float* x, int m, float* y, std::vector<float>& gate,
                std::vector<float>& up, std::vector<float>& act) {
  const int64_t ff = f.gate_proj->rows();
  const size_t sz = static_cast<size_t>(m) * static_cast<size_t>(ff);
  float* g = sized(gate, sz);
  float* u = sized(up, sz);
  float* a = sized(act, sz);
  cpu::linear2(pool, *f.gate_proj, *f.up_proj, x, m, g, u);
  swiglu(g, u, a, static_cast<int64_t>(sz));
  cpu::linear(pool, *f.down_proj, a, m, y);
}

}  // namespace

void Transformer::dense_ffn(cpu::ThreadPool& pool, int layer, int n) {
  Scratch& s = *s_;
  swiglu_ffn(pool, model_.layer(layer).dense, s.xn.data(), n, s.out.data(), s.gate, s.up, s.act);
}

void Transformer::moe_ffn(cpu::ThreadPool& pool, int layer, int n, int start_pos, TraceSink* trace) {
  const ModelConfig& c = model_.config();
  const LayerWeights& w = model_.layer(layer);
  Scratch& s = *s_;
  const int E = c.n_routed_experts;
  const int64_t D = c.hidden_size;
  const auto N = static_cast<size_t>(n);
  const float* X = s.xn.data();
  float* out = s.out.data();

  float* scores = sized(s.router, N * static_cast<size_t>(E));
  float* selection = sized(s.selection, N * static_cast<size_t>(E));
  cpu::linear(pool, *w.gate, X, n, scores);
  const std::vector<float>& bias = s.bias[static_cast<size_t>(layer)];
  const bool want_probs = trace && trace->wants(TracePoint::RouterProbs, layer);
  const bool want_route = trace && trace->wants(TracePoint::Route, layer);

  // Per expert: the tokens that chose it and their weights.
  std::vector<std::vector<std::pair<int, float>>> assigned(static_cast<size_t>(E));
  for (int t = 0; t < n; ++t) {
    float* sc = scores + t * E;
    float* sel = selection + t * E;
    router_scores(c, sc);
    const RouteDecision d = route_experts(c, sc, bias.empty() ? nullptr : bias.data(), sel);
    for (int i = 0; i < d.k; ++i)
      assigned[static_cast<size_t>(d.expert[static_cast<size_t>(i)])].emplace_back(t, d.weight[static_cast<size_t>(i)]);
    if (want_probs) trace->on_vector(TracePoint::RouterProbs, layer, start_pos + t, {sc, static_cast<size_t>(E)});
    if (want_route) {
      RouteRecord rec;
      rec.layer = layer;
      rec.position = start_pos + t;
      rec.k = d.k;
      rec.expert = d.expert.data();
      rec.weight = d.weight.data();
      rec.scores = {sc, static_cast<size_t>(E)};
      rec.selection = {sel, static_cast<size_t>(E)};
      rec.kept_groups = d.kept_groups;
      rec.margin = d.margin;
      trace->on_route(rec);
    }
  }

  std::fill(out, out + N * static_cast<size_t>(D), 0.0f);
  for (int e = 0; e < E; ++e) {
    const auto& tokens = assigned[static_cast<size_t>(e)];
    if (tokens.empty()) continue;
    const int m = static_cast<int>(tokens.size());
    float* xe = sized(s.xe, static_cast<size_t>(m) * static_cast<size_t>(D));
    float* ye = sized(s.ye, static_cast<size_t>(m) * static_cast<size_t>(D));
    for (int i = 0; i < m; ++i)
      std::memcpy(xe + i * D, X + tokens[static_cast<size_t>(i)].first * D, sizeof(float) * static_cast<size_t>(D));
    swiglu_ffn(pool, w.experts[static_cast<size_t>(e)], xe, m, ye, s.gate, s.up, s.act);
    for (int i = 0; i < m; ++i)
      cpu::axpy_f32(tokens[static_cast<size_t>(i)].second, ye + i * D, out + tokens[static_cast<size_t>(i)].first * D, D);
  }

  if (w.shared_experts) {
    float* ys = sized(s.ye, N * static_cast<size_t>(D));
    swiglu_ffn(pool, *w.shared_experts, X, n, ys, s.gate, s.up, s.act);
    for (size_t i = 0; i < N * static_cast<size_t>(D); ++i) out[i] += ys[i];
  }
}

}  // namespace mlascope
