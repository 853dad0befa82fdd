// engine/trace/step_collector.cpp — see step_collector.h.
#include "step_collector.h"

#include <algorithm>

namespace mlascope {

StepCollector::StepCollector(const ModelConfig& config) : n_experts_(config.n_routed_experts) {
  moe_index_.assign(static_cast<size_t>(config.num_hidden_layers), -1);
  for (int l = 0; l < config.num_hidden_layers; ++l)
    if (config.is_moe_layer(l)) moe_index_[static_cast<size_t>(l)] = n_moe_layers_++;
  set_capture(capture_);
}

void StepCollector::set_capture(const CaptureSettings& c) {
  capture_ = c;
  points = 0;
  layer_mask = ~0ull;
  if (c.policy >= CapturePolicy::Routing && n_moe_layers_ > 0) points |= uint32_t(TracePoint::Route);
  if (c.policy >= CapturePolicy::RoutingAttention) points |= uint32_t(TracePoint::AttnProbs);
  if (c.policy >= CapturePolicy::Everything) points |= uint32_t(TracePoint::AttnParts);
}

void StepCollector::begin(int start_pos, int n) {
  start_ = start_pos;
  slots_.assign(static_cast<size_t>(std::max(n, 0)), Slot{});
}

StepCollector::Slot* StepCollector::slot(int position) {
  const int i = position - start_;
  if (i < 0 || i >= static_cast<int>(slots_.size())) return nullptr;
  return &slots_[static_cast<size_t>(i)];
}

void StepCollector::on_attention(int layer, int position, int n_heads, int n_keys, const float* probs,
                                 const float* nope, const float* rope) {
  Slot* s = slot(position);
  if (!s) return;
  const bool everything = capture_.policy >= CapturePolicy::Everything;
  if (!everything) {
    const int bit = layer < 63 ? layer : 63;
    if (((capture_.attention_layers >> bit) & 1ull) == 0) return;
  }
  AttentionRow row;
  row.layer = layer;
  row.n_heads = n_heads;
  row.n_keys = n_keys;
  const size_t n = static_cast<size_t>(n_heads) * static_cast<size_t>(n_keys);
  row.probs.assign(probs, probs + n);
  if (everything && nope) row.nope.assign(nope, nope + n);
  if (everything && rope) row.rope.assign(rope, rope + n);
  s->attention.push_back(std::move(row));
}

void StepCollector::on_route(const RouteRecord& r) {
  Slot* s = slot(r.position);
  if (!s || r.layer < 0 || r.layer >= static_cast<int>(moe_index_.size())) return;
  const int m = moe_index_[static_cast<size_t>(r.layer)];
  if (m < 0) return;
  if (s->routes.empty()) {
    s->routes.resize(static_cast<size_t>(n_moe_layers_));
    s->scores.assign(static_cast<size_t>(n_moe_layers_) * static_cast<size_t>(n_experts_), 0.0f);
    s->selection.assign(static_cast<size_t>(n_moe_layers_) * static_cast<size_t>(n_experts_), 0.0f);
  }
  RouteRow& row = s->routes[static_cast<size_t>(m)];
  row.k = static_cast<uint8_t>(std::min(r.k, kMaxTopK));
  for (int i = 0; i < row.k; ++i) {
    row.expert[static_cast<size_t>(i)] = static_cast<int16_t>(r.expert[i]);
    row.weight[static_cast<size_t>(i)] = r.weight[i];
  }
  row.kept_groups = r.kept_groups;
  row.margin = r.margin;
  const size_t off = static_cast<size_t>(m) * static_cast<size_t>(n_experts_);
  const size_t ne = std::min(r.scores.size(), static_cast<size_t>(n_experts_));
  std::copy_n(r.scores.begin(), ne, s->scores.begin() + static_cast<std::ptrdiff_t>(off));
  std::copy_n(r.selection.begin(), std::min(r.selection.size(), ne), s->selection.begin() + static_cast<std::ptrdiff_t>(off));
}

void StepCollector::take(int position, StepRecord& rec) {
  Slot* s = slot(position);
  if (!s) return;
  rec.routes = std::move(s->routes);
  rec.scores = std::move(s->scores);
  rec.selection = std::move(s->selection);
  rec.attention = std::move(s->attention);
  std::sort(rec.attention.begin(), rec.attention.end(), [](const AttentionRow& a, const AttentionRow& b) { return a.layer < b.layer; });
}

}  // namespace mlascope
