// app/terminal_engine.h — what the terminal chat needs from a loaded model, as one small
// interface: the chat loop (terminal_chat.cpp) never sees Model/Backend/Tokenizer directly, so it
// runs the same against the real engine and against the scripted engine of the pty tests.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/generator.h"
#include "engine/trace/trace_model.h"
#include "workbench.h"

namespace mlascope {
class Tokenizer;
}

namespace mlascope::app {

using EmitStep = std::function<void(StepRecord&&)>;

class ChatEngine {
 public:
  virtual ~ChatEngine() = default;

  // Identity of the model and run for TraceModel::reset and the session recorder.
  virtual SessionMeta meta() const = 0;
  virtual int max_context() const = 0;
  // False after a generation on a server that sends no expert routing (llama-server, plain vLLM).
  virtual bool routing_reported() const { return true; }
  // "plain" (base model: the text continues the document) or the recognised chat template.
  virtual std::string template_name() const = 0;

  // The user's next turn: keep the first `keep` cached positions (a chat template may render the
  // previous reply differently from what was generated, e.g. a closing EOS after an interrupted
  // reply), then feed `ids`. `previous` = the conversation so far (user/assistant, in order);
  // `system` is used when the conversation starts.
  struct Turn {
    int keep = 0;
    std::vector<int32_t> ids;
  };
  virtual Turn encode_turn(const std::string& system, std::span<const Message> previous, const std::string& user) = 0;
  virtual StepStatus feed(std::span<const int32_t> ids, const EmitStep& emit, int message) = 0;
  virtual StopReason generate(int max_new_tokens, const EmitStep& emit, const std::atomic<bool>* cancel, int message) = 0;
  virtual void truncate(int n_positions) = 0;  // forget cached positions >= n
  virtual int n_positions() const = 0;

  // Bytes ready to print for token `id` (complete UTF-8 only; held back bytes come later).
  virtual std::string stream_text(int32_t id) = 0;
  virtual std::string flush_text() = 0;

  // "/sampler key=value"; throws Error on an unknown key or bad value.
  virtual void set_sampler(const std::string& key, const std::string& value) = 0;
  virtual std::string sampler_json() const = 0;
  // The sampler's settings and random-stream position (Sampler::state_json) as the next generated
  // turn starts: recorded with the turn so `sessions verify` re-draws the same tokens.
  virtual std::string sampler_state_json() const { return sampler_json(); }
};

// How a user line becomes the next ids after `history` (the cached ids): a base model (Plain)
// continues the document, with BOS at the start and again after an end-of-text; a chat template
// renders the whole conversation and keeps the longest cached prefix that agrees with it.
ChatEngine::Turn encode_chat_turn(const Tokenizer& tok, std::span<const int32_t> history, const std::string& system,
                                  std::span<const Message> previous, const std::string& user);

using LoadProgressFn = std::function<void(uint64_t done, uint64_t total)>;
// The real engine on opt.model_dir (or the demo model), with progress reported while loading.
std::unique_ptr<ChatEngine> load_chat_engine(const WorkbenchOptions& opt, const LoadProgressFn& progress);

}  // namespace mlascope::app
