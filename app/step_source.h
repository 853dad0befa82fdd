// app/step_source.h — what a chat or `generate` drives to produce tokens: the local Generator (a
// model and a backend in this process) or a RemoteGenerator (SGLang, vLLM, llama-server, `mlascope
// serve`). Both emit the same StepRecords; the front ends (terminal chat, GUI chat, generate) hold
// a StepSource and never ask which one it is, except to say "this server reports no routing".
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "engine/backend/backend.h"
#include "engine/generator.h"
#include "engine/sampler.h"
#include "engine/trace/step_record.h"

namespace mlascope {
class Model;
class Tokenizer;
namespace remote {
class RemoteGenerator;
}
}  // namespace mlascope

namespace mlascope::app {

using EmitStep = std::function<void(StepRecord&&)>;

class StepSource {
 public:
  virtual ~StepSource() = default;
  virtual StepStatus feed(std::span<const int32_t> ids, const EmitStep& emit, int message) = 0;
  virtual StopReason generate(int max_new_tokens, const EmitStep& emit, const std::atomic<bool>* cancel, int message) = 0;
  virtual void truncate(int n_positions) = 0;
  virtual int n_positions() const = 0;
  virtual std::span<const int32_t> history() const = 0;
  virtual int max_context() const = 0;
  virtual Sampler& sampler() = 0;
  virtual void set_capture(const CaptureSettings& c) = 0;
  // "cpu (2 threads)", "remote (sglang SGLang, http://host:30000)"
  virtual std::string backend_name() const = 0;
  // False when the last generation came from a server that sends no expert routing.
  virtual bool routing_reported() const { return true; }
  // The local backend (KV bytes, MLA form); null for a remote server.
  virtual Backend* backend() { return nullptr; }
};

std::unique_ptr<StepSource> local_step_source(std::shared_ptr<const Model> model, std::unique_ptr<Backend> backend,
                                              std::shared_ptr<const Tokenizer> tokenizer);
std::unique_ptr<StepSource> remote_step_source(std::unique_ptr<remote::RemoteGenerator> gen);

// The plain words every front end uses for a server without routing.
inline constexpr const char* kNoRoutingNote = "this server reports no routing";

}  // namespace mlascope::app
