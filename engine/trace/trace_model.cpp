// engine/trace/trace_model.cpp — append-only session model shared by live runs and replays.
#include "trace_model.h"

#include <algorithm>
#include <cassert>

#include "../error.h"

namespace mlascope {

const char* to_string(CapturePolicy p) {
  switch (p) {
    case CapturePolicy::Off: return "off";
    case CapturePolicy::Routing: return "routing";
    case CapturePolicy::RoutingAttention: return "routing+attention";
    case CapturePolicy::Everything: return "everything";
  }
  return "?";
}

void TraceModel::reset(SessionMeta meta) {
  meta_ = std::move(meta);
  moe_layers_.clear();
  for (int l = 0; l < meta_.config.num_hidden_layers; ++l)
    if (meta_.config.is_moe_layer(l)) moe_layers_.push_back(l);
  tokens_.clear();
  messages_.clear();
  bookmarks_.clear();
  annotations_.clear();
  ++version_;
}

void TraceModel::append(StepRecord rec) {
  if (rec.position != static_cast<int32_t>(tokens_.size()))
    throw Error("[trace] token at position " + std::to_string(rec.position) + " appended after " +
                std::to_string(tokens_.size()) + " tokens");
  tokens_.push_back(std::move(rec));
  ++version_;
}

void TraceModel::truncate(size_t n) {
  if (n >= tokens_.size()) return;
  tokens_.resize(n);
  // Messages past the cut are dropped; a message straddling it is shortened.
  while (!messages_.empty() && messages_.back().first_token >= static_cast<int32_t>(n)) messages_.pop_back();
  if (!messages_.empty()) messages_.back().end_token = std::min<int32_t>(messages_.back().end_token, static_cast<int32_t>(n));
  ++version_;
}

void TraceModel::add_message(Message m) {
  messages_.push_back(std::move(m));
  ++version_;
}

void TraceModel::update_message(size_t index, Message m) {
  if (index < messages_.size()) messages_[index] = std::move(m);
  ++version_;
}

void TraceModel::add_bookmark(Bookmark b) {
  bookmarks_.push_back(std::move(b));
  std::stable_sort(bookmarks_.begin(), bookmarks_.end(),
                   [](const Bookmark& a, const Bookmark& c) { return a.position < c.position; });
  ++version_;
}

void TraceModel::remove_bookmark(int64_t id) {
  std::erase_if(bookmarks_, [id](const Bookmark& b) { return b.id == id; });
  ++version_;
}

void TraceModel::add_annotation(Annotation a) {
  annotations_.push_back(std::move(a));
  std::stable_sort(annotations_.begin(), annotations_.end(),
                   [](const Annotation& x, const Annotation& y) { return x.position < y.position; });
  ++version_;
}

void TraceModel::set_title(std::string title) {
  meta_.title = std::move(title);
  ++version_;
}

int TraceModel::moe_index(int layer) const {
  auto it = std::lower_bound(moe_layers_.begin(), moe_layers_.end(), layer);
  return it != moe_layers_.end() && *it == layer ? static_cast<int>(it - moe_layers_.begin()) : -1;
}

const RouteRow* TraceModel::route(size_t token, int layer) const {
  if (token >= tokens_.size()) return nullptr;
  const int m = moe_index(layer);
  const auto& r = tokens_[token].routes;
  return m < 0 || static_cast<size_t>(m) >= r.size() ? nullptr : &r[static_cast<size_t>(m)];
}

namespace {
std::span<const float> layer_slice(const std::vector<float>& v, int m, int n_experts) {
  if (m < 0 || n_experts <= 0) return {};
  const size_t off = static_cast<size_t>(m) * static_cast<size_t>(n_experts);
  if (off + static_cast<size_t>(n_experts) > v.size()) return {};
  return std::span<const float>(v).subspan(off, static_cast<size_t>(n_experts));
}
}  // namespace

std::span<const float> TraceModel::scores(size_t token, int layer) const {
  if (token >= tokens_.size()) return {};
  return layer_slice(tokens_[token].scores, moe_index(layer), n_routed_experts());
}

std::span<const float> TraceModel::selection(size_t token, int layer) const {
  if (token >= tokens_.size()) return {};
  return layer_slice(tokens_[token].selection, moe_index(layer), n_routed_experts());
}

const AttentionRow* TraceModel::attention(size_t token, int layer) const {
  if (token >= tokens_.size()) return nullptr;
  for (const AttentionRow& a : tokens_[token].attention)
    if (a.layer == layer) return &a;
  return nullptr;
}

std::vector<double> TraceModel::expert_load(int layer, size_t begin, size_t end) const {
  std::vector<double> load(static_cast<size_t>(std::max(0, n_routed_experts())), 0.0);
  end = std::min(end, tokens_.size());
  for (size_t t = begin; t < end; ++t) {
    const RouteRow* r = route(t, layer);
    if (!r) continue;
    for (int i = 0; i < r->k; ++i)
      if (r->expert[i] >= 0 && static_cast<size_t>(r->expert[i]) < load.size()) load[static_cast<size_t>(r->expert[i])] += 1.0;
  }
  return load;
}

int TraceModel::dominant_expert(size_t token, int layer) const {
  const RouteRow* r = route(token, layer);
  if (!r || r->k == 0) return -1;
  int best = 0;
  for (int i = 1; i < r->k; ++i)
    if (r->weight[i] > r->weight[best]) best = i;
  return r->expert[best];
}

}  // namespace mlascope
