// app/terminal_engine.cpp — the chat's engine on a real model: Model::load (with progress), a
// backend, the Generator and the model's tokenizer, and the turn encoding (plain continuation for
// base models, DeepSeek chat templates when the tokenizer recognises one).
#include "terminal_engine.h"

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "commands.h"
#include "engine_options.h"
#include "remote_setup.h"
#include "step_source.h"
#include "engine/remote/remote_generator.h"
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
  // `meta` names the model and the run; its backend and sampler fields are filled here.
  GeneratorEngine(std::unique_ptr<StepSource> gen, std::shared_ptr<const Tokenizer> tok, SessionMeta meta, CaptureSettings capture)
      : tok_(std::move(tok)), gen_(std::move(gen)), stream_(*tok_), meta_(std::move(meta)) {
    gen_->set_capture(capture);
    meta_.backend = gen_->backend_name();
    if (Backend* b = gen_->backend()) {
      meta_.mla_mode = to_string(b->mla_mode());
      meta_.kv_dtype = to_string(b->kv_dtype());
    }
    meta_.engine_version = MLASCOPE_VERSION;
    meta_.capture = capture.policy;
  }

  SessionMeta meta() const override {
    SessionMeta m = meta_;
    m.sampler_json = gen_sampler_json();
    return m;
  }
  int max_context() const override { return gen_->max_context(); }
  bool routing_reported() const override { return gen_->routing_reported(); }
  std::string template_name() const override { return chat_template_name(tok_->chat_template()); }

  Turn encode_turn(const std::string& system, std::span<const Message> previous, const std::string& user) override {
    return encode_chat_turn(*tok_, gen_->history(), system, previous, user);
  }

  StepStatus feed(std::span<const int32_t> ids, const EmitStep& emit, int message) override {
    return gen_->feed(ids, emit, message);
  }
  StopReason generate(int max_new, const EmitStep& emit, const std::atomic<bool>* cancel, int message) override {
    return gen_->generate(max_new, emit, cancel, message);
  }
  void truncate(int n) override { gen_->truncate(n); }
  int n_positions() const override { return gen_->n_positions(); }

  std::string stream_text(int32_t id) override {
    if (tok_->is_special(id)) return {};  // BOS/EOS and template markers are not part of the text
    return stream_.push(id);
  }
  std::string flush_text() override { return stream_.flush(); }

  void set_sampler(const std::string& key, const std::string& value) override {
    SamplerSettings s = gen_->sampler().settings();
    s.set(key, value);
    gen_->sampler().set_settings(s);
  }
  std::string sampler_json() const override { return gen_sampler_json(); }
  std::string sampler_state_json() const override { return gen_->sampler().state_json(); }

 private:
  std::string gen_sampler_json() const { return gen_->sampler().settings().to_json(); }

  std::shared_ptr<const Tokenizer> tok_;
  std::unique_ptr<StepSource> gen_;
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
  if (opt.remote.enabled()) {
    RemoteSetup r = connect_remote(opt.remote, opt.model_dir, "chat");
    // Servers other than mlascope serve send routing at most; ask mlascope serve for attention of small models.
    CaptureSettings cap;
    cap.policy = static_cast<int64_t>(r.config.num_hidden_layers) * r.config.num_attention_heads <= 512 ? CapturePolicy::RoutingAttention
                                                                                                      : CapturePolicy::Routing;
    return std::make_unique<GeneratorEngine>(remote_step_source(std::move(r.gen)), r.tokenizer, r.meta, cap);
  }
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
  SessionMeta meta;
  meta.model_name = model->name();
  meta.model_path = fs::absolute(model->path()).string();
  meta.model_hash = sessions::weights_fingerprint(model->path());
  meta.config_json = model->config_json();
  meta.config = c;
  for (int l = 0; l < model->n_layers(); ++l) {
    const LayerWeights& lw = model->layer(l);
    if (lw.is_moe && lw.e_score_correction_bias) meta.gate_bias.push_back(lw.e_score_correction_bias->to_f32());
  }
  return std::make_unique<GeneratorEngine>(local_step_source(model, std::move(backend), tok), tok, std::move(meta), cap);
}

}  // namespace mlascope::app
