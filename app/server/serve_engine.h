// app/server/serve_engine.h — the local engine behind `mlascope serve`: one Model + backend +
// Generator driven by one worker thread, fed from a bounded queue. One request runs at a time (a
// Generator is one KV cache); the queue is what makes concurrent clients safe. The worker keeps the
// last request's tokens and records, so a follow-up request that extends them (the next chat turn)
// prefills only what is new, as SGLang's radix cache does.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/config.h"
#include "engine/generator.h"
#include "engine/sampler.h"
#include "engine/trace/step_record.h"

namespace mlascope {
class Model;
class Tokenizer;
}  // namespace mlascope

namespace mlascope::app::server {

using Clock = std::chrono::steady_clock;

struct GenJob {
  std::vector<int32_t> input_ids;
  int max_new = 0;
  SamplerSettings sampler;
  CaptureSettings capture;  // routing at least: SGLang's routed_experts come from it
  Clock::time_point deadline;
  bool prompt_records = true;  // send the records of every prompt position (routing rows start at 0)
};

// What the worker hands back for one job, in order: Prompt once, Token per generated token, Done.
struct JobEvent {
  enum class Kind { Prompt, Token, Done } kind = Kind::Done;
  std::vector<StepRecord> records;  // Prompt: positions [0, n_prompt); Token: the one token
  int cached = 0;                   // Prompt: positions reused from the previous request
  StopReason stop = StopReason::None;
  std::string error;                // Done: why it ended early ("timed out after 300 s", an engine error)
};

// One queued request, shared by the HTTP thread (reader) and the worker (writer).
class Ticket {
 public:
  explicit Ticket(GenJob job) : job_(std::move(job)) {}
  const GenJob& job() const { return job_; }
  // HTTP side: the next event, waiting up to `timeout_ms`; false when none arrived in time.
  bool next(JobEvent& ev, int timeout_ms);
  // HTTP side: the client is gone; the worker drops the job or stops generating at the next token.
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }
  // Worker side.
  void push(JobEvent ev);

 private:
  GenJob job_;
  std::atomic<bool> cancelled_{false};
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<JobEvent> events_;
};

struct EngineSetup {
  std::filesystem::path model;  // HF folder or .gguf
  BackendOptions backend;
  size_t max_queue = 16;        // requests waiting (the running one not counted)
};

class ServeEngine {
 public:
  explicit ServeEngine(const EngineSetup& setup);  // loads the model; throws Error
  ~ServeEngine();                                  // stops the worker (queued jobs end with an error)

  const ModelConfig& config() const;
  const Tokenizer* tokenizer() const { return tokenizer_.get(); }
  std::string model_name() const;
  std::string model_path() const;
  std::string backend_name() const { return backend_name_; }
  int max_context() const { return max_context_; }

  // Queues a job; null when the queue is full or the engine drains (the caller answers 503).
  std::shared_ptr<Ticket> submit(GenJob job);
  // Stops taking jobs and waits until the queue is empty and the running job is done, at most `limit`.
  bool drain(std::chrono::milliseconds limit);
  size_t queued() const;
  bool draining() const { return draining_.load(); }
  uint64_t completed() const { return completed_.load(); }

 private:
  void worker();
  void run(Ticket& t);

  std::shared_ptr<const Model> model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::unique_ptr<Generator> gen_;
  std::string backend_name_;
  int max_context_ = 0;
  size_t max_queue_ = 16;

  // Prefix cache: the tokens the generator holds and their records, and the capture they were made with.
  std::vector<StepRecord> cache_records_;
  CaptureSettings cache_capture_{};

  mutable std::mutex m_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<std::shared_ptr<Ticket>> queue_;
  bool busy_ = false;
  bool stop_ = false;
  std::atomic<bool> draining_{false};
  std::atomic<uint64_t> completed_{0};
  std::thread thread_;
};

}  // namespace mlascope::app::server
