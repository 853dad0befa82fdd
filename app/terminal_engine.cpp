// app/terminal_engine.cpp — the chat's engine on a real model: Model::load (with progress), a
// backend, the Generator and the model's tokenizer, and the turn encoding (plain continuation for
// base models, DeepSeek chat templates when the tokenizer recognises one).
#include "terminal_engine.h"

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "commands.h"
#include "engine_options.h"
#include "engine/chat_turn.h"
#include "engine/error.h"
#include "engine/model/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "sessions/fingerprint.h"

namespace mlascope::app {

namespace fs = std::filesystem;

namespace {

DeviceKind parse_device(const std::string& d) {
  if (d == "cpu") return DeviceKind::Cpu;
  if (d == "cuda") return DeviceKind::Cuda;
  return DeviceKind::Auto;
}

class GeneratorEngine : public ChatEngine {
 public:
  GeneratorEngine(std::shared_ptr<const Model> model, std::shared_ptr<const Tokenizer> tok, std::unique_ptr<Backend> backend,
                  CaptureSettings capture)
      : model_(model), tok_(tok), gen_(model, std::move(backend), tok), stream_(*tok_) {
    gen_.set_capture(capture);
    meta_.model_name = model_->name();
    meta_.model_path = fs::absolute(model_->path()).string();
    meta_.model_hash = sessions::weights_fingerprint(model_->path());
    meta_.config_json = model_->config_json();
    meta_.config = model_->config();
    meta_.backend = gen_.backend().name();
    meta_.mla_mode = to_string(gen_.backend().mla_mode());
    meta_.kv_dtype = to_string(gen_.backend().kv_dtype());
    meta_.engine_version = MLASCOPE_VERSION;
    meta_.capture = capture.policy;
    for (int l = 0; l < model_->n_layers(); ++l) {
      const LayerWeights& lw = model_->layer(l);
      if (lw.is_moe && lw.e_score_correction_bias) meta_.gate_bias.push_back(lw.e_score_correction_bias->to_f32());
    }
  }

  SessionMeta meta() const override {
    SessionMeta m = meta_;
    m.sampler_json = gen_sampler_json();
    return m;
  }
  int max_context() const override { return const_cast<Generator&>(gen_).backend().max_context(); }
  std::string template_name() const override { return chat_template_name(tok_->chat_template()); }

  Turn encode_turn(const std::string& system, std::span<const Message> previous, const std::string& user) override {
    return encode_chat_turn(*tok_, gen_.history(), system, previous, user);
  }

  StepStatus feed(std::span<const int32_t> ids, const EmitStep& emit, int message) override {
    return gen_.feed(ids, emit, message);
  }
  StopReason generate(int max_new, const EmitStep& emit, const std::atomic<bool>* cancel, int message) override {
    return gen_.generate(max_new, emit, cancel, message);
  }
  void truncate(int n) override { gen_.truncate(n); }
  int n_positions() const override { return gen_.n_positions(); }

  std::string stream_text(int32_t id) override {
    if (tok_->is_special(id)) return {};  // BOS/EOS and template markers are not part of the text
    return stream_.push(id);
  }
  std::string flush_text() override { return stream_.flush(); }

  void set_sampler(const std::string& key, const std::string& value) override {
    SamplerSettings s = gen_.sampler().settings();
    s.set(key, value);
    gen_.sampler().set_settings(s);
  }
  std::string sampler_json() const override { return gen_sampler_json(); }

 private:
  std::string gen_sampler_json() const { return const_cast<Generator&>(gen_).sampler().settings().to_json(); }

  std::shared_ptr<const Model> model_;
  std::shared_ptr<const Tokenizer> tok_;
  Generator gen_;
  StreamDecoder stream_;
  SessionMeta meta_;
};

}  // namespace

ChatEngine::Turn encode_chat_turn(const Tokenizer& tok, std::span<const int32_t> history, const std::string& system,
                                  std::span<const Message> previous, const std::string& user) {
  std::vector<ChatMessage> msgs;
  msgs.reserve(previous.size());
  for (const Message& m : previous) msgs.push_back({m.role, m.text});
  ChatTurn t = mlascope::encode_chat_turn(tok, history, system, msgs, user);
  return ChatEngine::Turn{t.keep, std::move(t.ids)};
}

std::unique_ptr<ChatEngine> load_chat_engine(const WorkbenchOptions& opt, const LoadProgressFn& progress) {
  const fs::path path = opt.model_dir.empty() ? default_model_dir() : opt.model_dir;
  ModelLoadOptions lo;
  lo.progress = progress;
  lo.host_compute = computes_on_host(parse_device(opt.device));
  lo.max_context = opt.max_context;
  lo.kv_bytes_per_value = kv_dtype_bytes(kv_dtype_of(opt.kv_type));
  std::shared_ptr<const Model> model = Model::load(path, lo);
  std::shared_ptr<const Tokenizer> tok;
  if (const TokenizerParts* parts = model->embedded_tokenizer()) {
    tok = std::make_shared<Tokenizer>(Tokenizer::from_parts(*parts, path.string()));
  } else {
    const fs::path dir = fs::is_directory(path) ? path : path.parent_path();
    tok = std::make_shared<Tokenizer>(Tokenizer::from_dir(dir));
  }
  BackendOptions bo;
  bo.device = parse_device(opt.device);
  bo.n_threads = opt.threads;
  bo.max_context = opt.max_context;
  bo.kv_dtype = kv_dtype_of(opt.kv_type);
  std::unique_ptr<Backend> backend = make_backend(*model, bo);
  // Attention rows cost n_heads x n_keys floats per captured layer and token: every layer for
  // small models, routing only for big ones (a DeepSeek-V3 token would carry megabytes).
  const ModelConfig& c = model->config();
  CaptureSettings cap;
  cap.policy = static_cast<int64_t>(c.num_hidden_layers) * c.num_attention_heads <= 512 ? CapturePolicy::RoutingAttention
                                                                                        : CapturePolicy::Routing;
  return std::make_unique<GeneratorEngine>(model, tok, std::move(backend), cap);
}

}  // namespace mlascope::app
