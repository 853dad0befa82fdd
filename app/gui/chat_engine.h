// app/gui/chat_engine.h — the real engine behind the GUI chat: Model::load, the model's tokenizer
// (tokenizer.json beside the weights or the one embedded in a GGUF file), a backend and a
// Generator, or a server (RemoteGenerator) through the same StepSource. Generation calls run on the chat worker thread; encode_turn() and decode() only read
// the immutable tokenizer, so the UI thread may call them while the worker generates.
#pragma once
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/generator.h"
#include "engine/sampler.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/trace/trace_model.h"
#include "app/remote_setup.h"
#include "app/step_source.h"

namespace mlascope::app::gui {

using EmitFn = std::function<void(StepRecord&&)>;
// fraction in [0, 1] and what is happening ("mapping model.safetensors").
using LoadProgressFn = std::function<void(float fraction, const std::string& what)>;

struct EngineOptions {
  BackendOptions backend;
  // Off keeps routing only; the GUI wants attention too when the model is small enough (see .cpp).
  bool capture_attention = true;
  // Set: generate on this server (the path then names config.json + tokenizer files, no weights).
  RemoteArgs server;
};

class ChatEngine {
 public:
  // `path`: an HF folder (config.json + safetensors + tokenizer.json) or a .gguf file. Throws Error
  // naming the file and the field when anything is wrong.
  static std::unique_ptr<ChatEngine> open(const std::filesystem::path& path, const EngineOptions& opt,
                                          const LoadProgressFn& progress);
  // A server instead of local weights (File > Connect to server..., --server): `model` names the
  // folder with the served model's config.json and tokenizer. Throws Error with one line.
  static std::unique_ptr<ChatEngine> connect(const RemoteArgs& server, const std::filesystem::path& model, const EngineOptions& opt,
                                             const LoadProgressFn& progress);
  ~ChatEngine();

  // Model identity for TraceModel::reset and the session recorder (title left empty).
  const SessionMeta& meta() const { return meta_; }
  // "plain" for a base model (no chat template: the conversation is one growing document), else
  // the recognised DeepSeek template.
  std::string template_name() const;
  bool plain() const { return template_ == ChatTemplateKind::Plain; }

  // The ids that continue `history` (the ids cached now) with the user's next turn. With a chat
  // template the whole conversation is rendered and compared with the history: `keep` is the
  // common prefix (a template may render an earlier reply differently from how it was generated,
  // e.g. with a closing EOS after an interrupted answer). Plain: the text is appended (BOS first).
  struct Turn {
    int keep = 0;
    std::vector<int32_t> ids;
  };
  Turn encode_turn(std::span<const int32_t> history, const std::string& system, std::span<const ChatMessage> previous,
                   const std::string& user, bool plain) const;
  std::string decode(std::span<const int32_t> ids) const;
  // Display text of a token id (Tokenizer::token_display); the function keeps the tokenizer alive.
  std::function<std::string(int32_t)> token_text() const {
    return [t = tokenizer_](int32_t id) { return t ? t->token_display(id) : std::string(); };
  }
  int32_t eos_id() const;

  // UI thread, worker idle: apply the settings the next answer uses (a change reseeds) and return the
  // sampler's state as that answer starts (Sampler::state_json), which the answer's message records.
  std::string prepare_sampler(const SamplerSettings& s);

  // Worker thread only.
  StepStatus feed(std::span<const int32_t> ids, int message, const EmitFn& emit);
  StopReason generate(const SamplerSettings& s, int max_new, int message, const EmitFn& emit, const std::atomic<bool>& cancel);
  void truncate(int n_positions);
  int n_positions() const;
  int max_context() const;
  // False after a generation on a server that sends no routing.
  bool routing_reported() const;

 private:
  ChatEngine() = default;
  std::shared_ptr<const Model> model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::unique_ptr<StepSource> generator_;
  ChatTemplateKind template_ = ChatTemplateKind::Plain;
  SessionMeta meta_;
};

}  // namespace mlascope::app::gui
