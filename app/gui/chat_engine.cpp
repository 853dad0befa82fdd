// app/gui/chat_engine.cpp — the synthetic engine and the choice of engine for a model folder.
// The forward pass (Generator) is being written in parallel; until it is linked here, a model
// folder's config.json drives a synthetic engine with the same architecture, labelled as such.
#include "chat_engine.h"

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "engine/error.h"
#include "views/synthetic_trace.h"

namespace mlascope::app::gui {

namespace {
class SyntheticEngine final : public ChatEngine {
 public:
  SyntheticEngine(const ModelConfig& cfg, std::string name, std::string json, int delay_ms)
      : stepper_(cfg, 7), name_(std::move(name)), json_(std::move(json)), delay_ms_(delay_ms) {}
  std::string model_name() const override { return name_; }
  std::string backend() const override { return "synthetic (no forward pass linked)"; }
  const ModelConfig& config() const override { return stepper_.config(); }
  std::string config_json() const override { return json_; }
  std::vector<std::vector<float>> gate_bias() const override { return stepper_.gate_bias(); }

  void feed_text(const std::string&, const std::string& text, int message, const EmitFn& emit) override {
    // Whitespace pre-tokenisation with the ▁ marker, like the real tokenizer's display strings.
    const bool code = text.find('(') != std::string::npos || text.find("def") != std::string::npos || text.find('=') != std::string::npos;
    last_code_ = code;
    std::string word;
    auto flush = [&] {
      if (!word.empty()) emit(stepper_.next(word, code, true, message));
      word.clear();
    };
    for (char ch : text) {
      if (ch == ' ' || ch == '\n') {
        flush();
        word = ch == ' ' ? "\xE2\x96\x81" : "\n";
        if (ch == '\n') flush();
      } else {
        word += ch;
      }
    }
    flush();
  }
  void feed_id(int32_t id, int message, const EmitFn& emit) override {
    emit(stepper_.next("#" + std::to_string(id), last_code_, false, message));
  }
  void generate(const SamplerSettings&, int max_new, int message, const EmitFn& emit, const std::atomic<bool>& cancel) override {
    for (int i = 0; i < max_new && !cancel.load(); ++i) {
      if (stepper_.size() >= static_cast<size_t>(std::max(1, config().max_position_embeddings))) break;
      if (delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
      emit(stepper_.next(stepper_.sample_text(last_code_), last_code_, false, message));
    }
  }
  void truncate(int n) override { stepper_.truncate(static_cast<size_t>(std::max(0, n))); }

 private:
  views::SyntheticStepper stepper_;
  std::string name_, json_;
  int delay_ms_;
  bool last_code_ = false;
};
}  // namespace

std::unique_ptr<ChatEngine> make_synthetic_engine(const ModelConfig& cfg, std::string name, std::string json, int delay_ms) {
  return std::make_unique<SyntheticEngine>(cfg, std::move(name), std::move(json), delay_ms);
}

std::unique_ptr<ChatEngine> open_chat_engine(const std::filesystem::path& dir, const LoadProgressFn& progress) {
  const std::filesystem::path cfg_path = dir / "config.json";
  if (progress) progress(0.1f, "reading " + cfg_path.string());
  std::ifstream in(cfg_path, std::ios::binary);
  if (!in) fail("gui", cfg_path.string(), "cannot open (is this a model folder?)");
  std::stringstream ss;
  ss << in.rdbuf();
  const ModelConfig cfg = ModelConfig::from_json_text(ss.str(), cfg_path.string());
  // TODO(forward engine): Model::load + Generator here, reporting weight-loading progress.
  if (progress) progress(1.0f, "ready");
  return make_synthetic_engine(cfg, dir.filename().string(), ss.str(), 15);
}

}  // namespace mlascope::app::gui
