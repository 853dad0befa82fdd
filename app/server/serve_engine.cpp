// app/server/serve_engine.cpp — see serve_engine.h.
#include "serve_engine.h"

#include <algorithm>

#include "engine/error.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"

namespace mlascope::app::server {

namespace fs = std::filesystem;

bool Ticket::next(JobEvent& ev, int timeout_ms) {
  std::unique_lock<std::mutex> lk(m_);
  if (!cv_.wait_for(lk, std::chrono::milliseconds(timeout_ms), [&] { return !events_.empty(); })) return false;
  ev = std::move(events_.front());
  events_.pop_front();
  return true;
}

void Ticket::push(JobEvent ev) {
  {
    std::lock_guard<std::mutex> lk(m_);
    events_.push_back(std::move(ev));
  }
  cv_.notify_one();
}

ServeEngine::ServeEngine(const EngineSetup& setup) : max_queue_(setup.max_queue) {
  ModelLoadOptions lo;
  lo.max_context = setup.backend.max_context;
  lo.host_compute = computes_on_host(setup.backend.device);
  std::shared_ptr<Model> model = Model::load(setup.model, lo);
  model_ = model;
  const fs::path dir = fs::is_directory(model->path()) ? model->path() : model->path().parent_path();
  std::error_code ec;
  if (fs::exists(dir / "tokenizer.json", ec)) tokenizer_ = std::make_shared<Tokenizer>(Tokenizer::from_dir(dir));
  else if (model->embedded_tokenizer()) tokenizer_ = std::make_shared<Tokenizer>(Tokenizer::from_parts(*model->embedded_tokenizer(), model->name()));
  gen_ = std::make_unique<Generator>(model, make_backend(*model, setup.backend), tokenizer_);
  backend_name_ = gen_->backend().name();
  max_context_ = gen_->backend().max_context();
  thread_ = std::thread([this] { worker(); });
}

ServeEngine::~ServeEngine() {
  {
    std::lock_guard<std::mutex> lk(m_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& t : queue_) {
    JobEvent ev;
    ev.error = "the server is shutting down";
    t->push(std::move(ev));
  }
}

const ModelConfig& ServeEngine::config() const { return model_->config(); }
std::string ServeEngine::model_name() const { return model_->name(); }
std::string ServeEngine::model_path() const { return fs::absolute(model_->path()).string(); }

std::shared_ptr<Ticket> ServeEngine::submit(GenJob job) {
  auto t = std::make_shared<Ticket>(std::move(job));
  {
    std::lock_guard<std::mutex> lk(m_);
    if (draining_.load() || stop_ || queue_.size() >= max_queue_) return nullptr;
    queue_.push_back(t);
  }
  cv_.notify_one();
  return t;
}

size_t ServeEngine::queued() const {
  std::lock_guard<std::mutex> lk(m_);
  return queue_.size();
}

bool ServeEngine::drain(std::chrono::milliseconds limit) {
  draining_.store(true);
  std::unique_lock<std::mutex> lk(m_);
  return idle_cv_.wait_for(lk, limit, [&] { return queue_.empty() && !busy_; });
}

void ServeEngine::worker() {
  while (true) {
    std::shared_ptr<Ticket> t;
    {
      std::unique_lock<std::mutex> lk(m_);
      cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      t = queue_.front();
      queue_.pop_front();
      busy_ = true;
    }
    try {
      run(*t);
    } catch (const std::exception& e) {
      // An engine error ends this request, not the server; the cache may be half-written.
      cache_records_.clear();
      gen_->truncate(0);
      JobEvent ev;
      ev.error = e.what();
      t->push(std::move(ev));
    }
    completed_.fetch_add(1);
    {
      std::lock_guard<std::mutex> lk(m_);
      busy_ = false;
    }
    idle_cv_.notify_all();
  }
}

void ServeEngine::run(Ticket& t) {
  const GenJob& job = t.job();
  JobEvent done;
  done.kind = JobEvent::Kind::Done;
  if (t.cancelled()) {
    done.stop = StopReason::Cancelled;
    t.push(std::move(done));
    return;
  }
  if (Clock::now() > job.deadline) {
    done.error = "timed out while waiting in the queue";
    t.push(std::move(done));
    return;
  }
  // Reuse the longest common prefix when it was captured the same way.
  const bool same_capture =
      cache_capture_.policy == job.capture.policy && cache_capture_.attention_layers == job.capture.attention_layers;
  size_t common = 0;
  if (same_capture) {
    const auto hist = gen_->history();
    const size_t n = std::min(hist.size(), job.input_ids.size());
    while (common < n && hist[common] == job.input_ids[common]) ++common;
    // The last prompt position is always re-fed: its logits start the generation.
    if (common == job.input_ids.size()) --common;
  }
  gen_->truncate(static_cast<int>(common));
  cache_records_.resize(common);
  gen_->set_capture(job.capture);
  cache_capture_ = job.capture;
  gen_->sampler().set_settings(job.sampler);  // reseeds: the same request draws the same tokens

  const std::span<const int32_t> rest(job.input_ids.data() + common, job.input_ids.size() - common);
  const StepStatus st = gen_->feed(rest, [&](StepRecord&& r) { cache_records_.push_back(std::move(r)); }, 0);
  if (st != StepStatus::Ok) {
    cache_records_.resize(common);
    done.error = std::to_string(job.input_ids.size()) + " prompt tokens do not fit the context of " + std::to_string(max_context_);
    t.push(std::move(done));
    return;
  }
  JobEvent prompt;
  prompt.kind = JobEvent::Kind::Prompt;
  prompt.cached = static_cast<int>(common);
  if (job.prompt_records) prompt.records = cache_records_;
  t.push(std::move(prompt));

  std::atomic<bool> stop{false};
  bool timed_out = false;
  const int budget = std::min(job.max_new, max_context_ - gen_->n_positions());
  const StopReason why = gen_->generate(
      std::max(0, budget),
      [&](StepRecord&& r) {
        cache_records_.push_back(r);
        JobEvent ev;
        ev.kind = JobEvent::Kind::Token;
        ev.records.push_back(std::move(r));
        t.push(std::move(ev));
        if (t.cancelled()) stop.store(true);
        if (Clock::now() > job.deadline) {
          timed_out = true;
          stop.store(true);
        }
      },
      &stop, 1);
  done.stop = why;
  if (timed_out) done.error = "timed out";
  t.push(std::move(done));
}

}  // namespace mlascope::app::server
