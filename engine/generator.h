// engine/generator.h — one conversation with a model: prefill, sample, decode, fork; emits one
// StepRecord per token (routing, attention, top-k, timings, KV bytes) for the TraceModel and the
// session recorder. Runs on whatever thread calls it; hand the records over through an SPSC queue.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "sampler.h"
#include "trace/step_record.h"

namespace mlascope {

class Model;
class Tokenizer;

enum class StopReason { None, Eos, Length, ContextFull, Cancelled };

class Generator {
 public:
  // tokenizer may be null (ids-only use: eval, tests); then StepRecord::text is "#<id>".
  Generator(std::shared_ptr<const Model> model, std::unique_ptr<Backend> backend,
            std::shared_ptr<const Tokenizer> tokenizer = nullptr);
  ~Generator();

  const Model& model() const;
  Backend& backend();
  Sampler& sampler();
  void set_capture(const CaptureSettings& c);
  const CaptureSettings& capture() const;

  // Feeds tokens (prompt or a user turn) after what is cached; one record per token through `emit`.
  // Returns ContextFull (and feeds nothing) when they do not fit.
  StepStatus feed(std::span<const int32_t> ids, const std::function<void(StepRecord&&)>& emit, int message = -1);
  // Samples the next token from the last logits, feeds it, emits its record. Stops on EOS (the EOS
  // record is still emitted), when `cancel` becomes true, or when the context is full.
  StopReason generate(int max_new_tokens, const std::function<void(StepRecord&&)>& emit,
                      const std::atomic<bool>* cancel = nullptr, int message = -1);
  // Drop everything from position n on (regenerate, edit-and-resend, fork at a token).
  void truncate(int n_positions);
  int n_positions() const;
  std::span<const int32_t> history() const;
  // Empty after a generated step whose logits stayed with the backend (greedy and top-k sampling
  // use Backend::forward_top); the next feed or truncate brings them back.
  std::span<const float> last_logits() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mlascope
