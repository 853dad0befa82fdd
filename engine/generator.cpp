// engine/generator.cpp — see generator.h. One forward call per feed (batched prefill) or per
// generated token; the StepCollector gathers routing/attention, this file adds ids, text,
// probabilities, timings and KV bytes.
#include "generator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>

#include "error.h"
#include "model/model.h"
#include "trace/step_collector.h"

#if __has_include("tokenizer/tokenizer.h")
#include "tokenizer/tokenizer.h"
#define MLASCOPE_HAVE_TOKENIZER 1
#endif

namespace mlascope {

struct Generator::Impl {
  std::shared_ptr<const Model> model;
  std::unique_ptr<Backend> backend;
  std::shared_ptr<const Tokenizer> tokenizer;
  Sampler sampler;
  StepCollector collector;
  std::vector<int32_t> history;
  std::vector<float> last_logits;  // [V] logits after the last cached position (empty when none)
  std::vector<float> logits;       // forward output
  // After a step whose logits stayed with the backend (forward_top): their top entries instead of
  // last_logits, which is then empty.
  TopLogits last_top;
  bool have_top = false;

  Impl(std::shared_ptr<const Model> m, std::unique_ptr<Backend> b, std::shared_ptr<const Tokenizer> t)
      : model(std::move(m)), backend(std::move(b)), tokenizer(std::move(t)), collector(model->config()) {}

  std::string text_of(int32_t id) const {
#ifdef MLASCOPE_HAVE_TOKENIZER
    if (tokenizer) return tokenizer->token_display(id);
#endif
    std::string s = "#";  // built by append: GCC 12 warns falsely (-Wrestrict) on "#" + to_string
    s += std::to_string(id);
    return s;
  }

  // The full logits of the last position when only its top entries reached the host: re-running the
  // last token rewrites the same cache row, one decode step for the whole vocabulary.
  void fetch_last_logits() {
    if (!have_top || history.empty()) return;
    const int n = static_cast<int>(history.size());
    backend->truncate(n - 1);
    ForwardRequest req;
    req.tokens = std::span<const int32_t>(&history.back(), 1);
    req.start_pos = n - 1;
    if (backend->forward(req, logits) != StepStatus::Ok) fail("generator", "logits", "could not recompute the last position");
    last_logits = logits;
    have_top = false;
  }

  uint64_t kv_bytes_at(int n_positions) const {
    const int cached = backend->n_cached();
    if (cached <= 0) return 0;
    return backend->kv_bytes_in_use() / static_cast<uint64_t>(cached) * static_cast<uint64_t>(n_positions);
  }
};

namespace {

using Clock = std::chrono::steady_clock;

// softmax(row)[id] and the top entries, the model's own view of a position.
void raw_view(const float* row, int V, int32_t id, float& prob, std::vector<TopEntry>& top) {
  const float m = *std::max_element(row, row + V);
  double sum = 0.0;
  for (int i = 0; i < V; ++i) sum += std::exp(static_cast<double>(row[i] - m));
  auto p = [&](int i) { return static_cast<float>(std::exp(static_cast<double>(row[i] - m)) / sum); };
  prob = (id >= 0 && id < V) ? p(id) : -1.0f;
  std::vector<int32_t> order(static_cast<size_t>(V));
  for (int i = 0; i < V; ++i) order[static_cast<size_t>(i)] = i;
  const size_t n = std::min(static_cast<size_t>(kTopLogits), order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                    [&](int32_t a, int32_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
  top.clear();
  for (size_t i = 0; i < n; ++i) top.push_back({order[i], p(order[i])});
}

}  // namespace

Generator::Generator(std::shared_ptr<const Model> model, std::unique_ptr<Backend> backend,
                     std::shared_ptr<const Tokenizer> tokenizer)
    : impl_(std::make_unique<Impl>(std::move(model), std::move(backend), std::move(tokenizer))) {}

Generator::~Generator() = default;

const Model& Generator::model() const { return *impl_->model; }
Backend& Generator::backend() { return *impl_->backend; }
Sampler& Generator::sampler() { return impl_->sampler; }
void Generator::set_capture(const CaptureSettings& c) { impl_->collector.set_capture(c); }
const CaptureSettings& Generator::capture() const { return impl_->collector.capture(); }
int Generator::n_positions() const { return static_cast<int>(impl_->history.size()); }
std::span<const int32_t> Generator::history() const { return impl_->history; }
std::span<const float> Generator::last_logits() const { return impl_->last_logits; }

StepStatus Generator::feed(std::span<const int32_t> ids, const std::function<void(StepRecord&&)>& emit, int message) {
  Impl& g = *impl_;
  if (ids.empty()) return StepStatus::Ok;
  const int start = n_positions();
  const int n = static_cast<int>(ids.size());
  if (start + n > g.backend->max_context()) return StepStatus::ContextFull;
  const int V = g.model->config().vocab_size;
  g.fetch_last_logits();  // the first fed token's probability under the previous position

  g.collector.begin(start, n);
  ForwardRequest req;
  req.tokens = ids;
  req.start_pos = start;
  req.all_logits = true;  // each prompt token's probability under the previous position's logits
  req.trace = g.collector.any() ? &g.collector : nullptr;
  const auto t0 = Clock::now();
  const StepStatus st = g.backend->forward(req, g.logits);
  const float ms = std::chrono::duration<float, std::milli>(Clock::now() - t0).count();
  if (st != StepStatus::Ok) return st;

  for (int i = 0; i < n; ++i) {
    StepRecord rec;
    rec.position = start + i;
    rec.id = ids[static_cast<size_t>(i)];
    rec.is_prompt = true;
    rec.message = message;
    rec.text = g.text_of(rec.id);
    const float* prev = i > 0 ? g.logits.data() + static_cast<size_t>(i - 1) * static_cast<size_t>(V)
                              : (g.last_logits.empty() ? nullptr : g.last_logits.data());
    if (prev) {
      raw_view(prev, V, rec.id, rec.raw_prob, rec.top_raw);
      rec.prob = rec.raw_prob;
    }
    rec.ms = ms / static_cast<float>(n);
    g.history.push_back(rec.id);
    g.collector.take(rec.position, rec);
    rec.kv_bytes = g.kv_bytes_at(rec.position + 1);
    if (emit) emit(std::move(rec));
  }
  g.last_logits.assign(g.logits.end() - V, g.logits.end());
  g.have_top = false;
  return StepStatus::Ok;
}

StopReason Generator::generate(int max_new_tokens, const std::function<void(StepRecord&&)>& emit,
                               const std::atomic<bool>* cancel, int message) {
  Impl& g = *impl_;
  const int eos = g.model->config().eos_token_id;
  for (int produced = 0; produced < max_new_tokens; ++produced) {
    if (cancel && cancel->load()) return StopReason::Cancelled;
    if (g.last_logits.empty() && !g.have_top) return StopReason::None;  // nothing fed yet: no distribution
    if (n_positions() >= g.backend->max_context()) return StopReason::ContextFull;
    const auto t0 = Clock::now();
    const int V = g.model->config().vocab_size;
    // Settings changed since that step (a penalty, a wider top_k) may need more than its top.
    if (g.have_top && g.sampler.top_needed(V, static_cast<int>(g.last_top.id.size())) == 0) g.fetch_last_logits();
    SampleResult s = g.have_top ? g.sampler.sample_top(g.last_top.id, g.last_top.logit, g.last_top.lse)
                                : g.sampler.sample(g.last_logits, g.history);
    const int32_t id = s.id;
    g.collector.begin(n_positions(), 1);
    ForwardRequest req;
    req.tokens = std::span<const int32_t>(&id, 1);
    req.start_pos = n_positions();
    req.trace = g.collector.any() ? &g.collector : nullptr;
    // Greedy and top-k need only the top of the next distribution: the backend selects it where
    // the logits are, and the vocabulary stays there.
    const int n_top = g.sampler.top_needed(V, kMaxTopLogits);
    if (n_top > 0) {
      if (g.backend->forward_top(req, n_top, g.last_top) != StepStatus::Ok) return StopReason::ContextFull;
      g.last_logits.clear();
      g.have_top = true;
    } else {
      if (g.backend->forward(req, g.logits) != StepStatus::Ok) return StopReason::ContextFull;
      g.last_logits = g.logits;
      g.have_top = false;
    }
    StepRecord rec;
    rec.position = req.start_pos;
    rec.id = id;
    rec.message = message;
    rec.text = g.text_of(id);
    rec.prob = s.prob;
    rec.raw_prob = s.raw_prob;
    rec.top_raw = std::move(s.top_raw);
    rec.top_sampled = std::move(s.top_sampled);
    g.history.push_back(id);
    g.collector.take(rec.position, rec);
    rec.kv_bytes = g.kv_bytes_at(rec.position + 1);
    rec.ms = std::chrono::duration<float, std::milli>(Clock::now() - t0).count();
    if (emit) emit(std::move(rec));
    if (id == eos) return StopReason::Eos;
  }
  return StopReason::Length;
}

void Generator::truncate(int n_positions) {
  Impl& g = *impl_;
  n_positions = std::clamp(n_positions, 0, this->n_positions());
  if (n_positions == this->n_positions()) return;
  g.history.resize(static_cast<size_t>(n_positions));
  g.last_logits.clear();
  g.have_top = false;
  if (n_positions == 0) {
    g.backend->truncate(0);
    return;
  }
  // The logits after position n-1 are not kept: recompute them by re-running that one token.
  g.backend->truncate(n_positions - 1);
  const int32_t id = g.history.back();
  ForwardRequest req;
  req.tokens = std::span<const int32_t>(&id, 1);
  req.start_pos = n_positions - 1;
  g.backend->forward(req, g.logits);
  g.last_logits = g.logits;
}

}  // namespace mlascope
