// app/gui/chat_engine.h — what the GUI needs from a model to chat: feed text or ids, generate,
// truncate. Calls run on the chat worker thread; records go out through `emit`. The synthetic
// engine stands in until the Generator (engine/generator.h) is linked; open_chat_engine() is the
// one place that chooses.
#pragma once
#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "engine/config.h"
#include "engine/sampler.h"
#include "engine/trace/step_record.h"

namespace mlascope::app::gui {

using EmitFn = std::function<void(StepRecord&&)>;

class ChatEngine {
 public:
  virtual ~ChatEngine() = default;
  virtual std::string model_name() const = 0;
  virtual std::string backend() const = 0;
  virtual const ModelConfig& config() const = 0;
  virtual std::string config_json() const = 0;
  virtual std::vector<std::vector<float>> gate_bias() const { return {}; }
  // Tokenizes `text` (with the chat template for `role` unless plain) and feeds it.
  virtual void feed_text(const std::string& role, const std::string& text, int message, const EmitFn& emit) = 0;
  virtual void feed_id(int32_t id, int message, const EmitFn& emit) = 0;
  virtual void generate(const SamplerSettings& s, int max_new, int message, const EmitFn& emit, const std::atomic<bool>& cancel) = 0;
  virtual void truncate(int n_positions) = 0;
};

using LoadProgressFn = std::function<void(float fraction, const std::string& what)>;

// Opens `model_dir` (config.json + weights); throws Error naming the file and field on failure.
std::unique_ptr<ChatEngine> open_chat_engine(const std::filesystem::path& model_dir, const LoadProgressFn& progress);
// A made-up engine over `cfg` for --demo-synthetic and for tests.
std::unique_ptr<ChatEngine> make_synthetic_engine(const ModelConfig& cfg, std::string name, std::string config_json, int token_delay_ms);

}  // namespace mlascope::app::gui
