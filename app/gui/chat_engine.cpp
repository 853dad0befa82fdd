// app/gui/chat_engine.cpp — see chat_engine.h.
#include "chat_engine.h"

#include <algorithm>

#include "engine/chat_turn.h"
#include "engine/remote/remote_generator.h"
#include "engine/error.h"
#include "engine/model/model.h"
#include "sessions/fingerprint.h"

namespace mlascope::app::gui {

namespace fs = std::filesystem;

namespace {

// Attention rows grow with the square of the context; every layer's with its nope/rope parts is
// affordable for small models (the demo: 6 layers x 4 heads), three layers' probabilities otherwise.
CaptureSettings capture_for(const ModelConfig& c, bool attention) {
  CaptureSettings s;
  if (!attention) {
    s.policy = CapturePolicy::Routing;
    return s;
  }
  if (c.num_hidden_layers * c.num_attention_heads <= 256) {
    s.policy = CapturePolicy::Everything;
    return s;
  }
  s.policy = CapturePolicy::RoutingAttention;
  const int last = std::min(c.num_hidden_layers - 1, 63);
  s.attention_layers = (1ull << 0) | (1ull << (last / 2)) | (1ull << last);
  return s;
}

std::shared_ptr<const Tokenizer> open_tokenizer(const Model& m) {
  const fs::path dir = fs::is_directory(m.path()) ? m.path() : m.path().parent_path();
  std::error_code ec;
  if (fs::exists(dir / "tokenizer.json", ec)) return std::make_shared<Tokenizer>(Tokenizer::from_dir(dir));
  if (m.embedded_tokenizer()) return std::make_shared<Tokenizer>(Tokenizer::from_parts(*m.embedded_tokenizer(), m.name()));
  fail("gui", (dir / "tokenizer.json").string(), "missing, and the model file embeds no tokenizer; the chat needs one");
}

}  // namespace

ChatEngine::~ChatEngine() = default;

std::unique_ptr<ChatEngine> ChatEngine::open(const fs::path& path, const EngineOptions& opt, const LoadProgressFn& progress) {
  auto report = [&](float f, const std::string& what) {
    if (progress) progress(f, what);
  };
  report(0.0f, "opening " + path.string());
  ModelLoadOptions lo;
  lo.max_context = opt.backend.max_context;
  lo.host_compute = computes_on_host(opt.backend.device);
  // Weights are most of the wait: they fill the bar up to 85 %.
  lo.progress = [&](uint64_t done, uint64_t total) {
    report(total > 0 ? 0.85f * static_cast<float>(static_cast<double>(done) / static_cast<double>(total)) : 0.0f,
           "loading weights of " + path.filename().string());
  };
  std::unique_ptr<ChatEngine> e(new ChatEngine());
  std::shared_ptr<Model> model = Model::load(path, lo);
  e->model_ = model;
  report(0.88f, "reading the tokenizer");
  e->tokenizer_ = open_tokenizer(*model);
  e->template_ = e->tokenizer_->chat_template();
  report(0.92f, "starting the backend");
  std::unique_ptr<Backend> backend = make_backend(*model, opt.backend);
  const std::string backend_name = backend->name();
  const MlaMode mla = backend->mla_mode();
  const KvDType kv = backend->kv_dtype();
  e->generator_ = local_step_source(model, std::move(backend), e->tokenizer_);
  const CaptureSettings cap = capture_for(model->config(), opt.capture_attention);
  e->generator_->set_capture(cap);

  SessionMeta& m = e->meta_;
  m.model_name = model->name();
  m.model_path = fs::absolute(model->path()).string();
  m.model_hash = sessions::weights_fingerprint(model->path());
  m.config_json = model->config_json();
  m.config = model->config();
  m.backend = backend_name;
  m.mla_mode = to_string(mla);
  m.kv_dtype = to_string(kv);  // named by the status bar and the KV panel
  m.sampler_json = e->generator_->sampler().settings().to_json();
  m.engine_version = MLASCOPE_VERSION;
  m.capture = cap.policy;
  // The V3 router's load-balancing bias, for the routing panel's "why this expert".
  std::vector<std::vector<float>> bias;
  for (int l = 0; l < model->n_layers(); ++l) {
    const LayerWeights& w = model->layer(l);
    if (!w.is_moe) continue;
    if (!w.e_score_correction_bias) {
      bias.clear();
      break;
    }
    bias.push_back(w.e_score_correction_bias->to_f32());
  }
  m.gate_bias = std::move(bias);
  report(1.0f, "ready");
  return e;
}

std::unique_ptr<ChatEngine> ChatEngine::connect(const RemoteArgs& server, const fs::path& model, const EngineOptions& opt,
                                                const LoadProgressFn& progress) {
  if (progress) progress(0.1f, "connecting to " + server.server);
  RemoteSetup r = connect_remote(server, model, "gui");
  std::unique_ptr<ChatEngine> e(new ChatEngine());
  e->tokenizer_ = r.tokenizer;
  e->template_ = e->tokenizer_->chat_template();
  const CaptureSettings cap = capture_for(r.config, opt.capture_attention);  // mlascope serve honours it; others send routing at most
  e->meta_ = std::move(r.meta);
  e->generator_ = remote_step_source(std::move(r.gen));
  e->generator_->set_capture(cap);
  e->meta_.sampler_json = e->generator_->sampler().settings().to_json();
  e->meta_.capture = cap.policy;
  if (progress) progress(1.0f, "connected");
  return e;
}

bool ChatEngine::routing_reported() const { return generator_->routing_reported(); }

std::string ChatEngine::template_name() const { return chat_template_name(template_); }
int32_t ChatEngine::eos_id() const { return tokenizer_->eos_id(); }
std::string ChatEngine::decode(std::span<const int32_t> ids) const { return tokenizer_->decode(ids); }

ChatEngine::Turn ChatEngine::encode_turn(std::span<const int32_t> history, const std::string& system,
                                         std::span<const ChatMessage> previous, const std::string& user, bool plain) const {
  ChatTurn t = encode_chat_turn(*tokenizer_, history, system, previous, user, plain ? ChatTemplateKind::Plain : template_);
  return Turn{t.keep, std::move(t.ids)};
}

StepStatus ChatEngine::feed(std::span<const int32_t> ids, int message, const EmitFn& emit) {
  return generator_->feed(ids, emit, message);
}

std::string ChatEngine::prepare_sampler(const SamplerSettings& s) {
  if (s.to_json() != generator_->sampler().settings().to_json()) generator_->sampler().set_settings(s);
  return generator_->sampler().state_json();
}

StopReason ChatEngine::generate(const SamplerSettings& s, int max_new, int message, const EmitFn& emit,
                                const std::atomic<bool>& cancel) {
  // set_settings reseeds, so only a change of settings restarts the random stream: regenerate
  // with unchanged settings draws a different answer, a new seed replays from the start.
  if (s.to_json() != generator_->sampler().settings().to_json()) generator_->sampler().set_settings(s);
  return generator_->generate(max_new, emit, &cancel, message);
}

void ChatEngine::truncate(int n_positions) { generator_->truncate(n_positions); }
int ChatEngine::n_positions() const { return generator_->n_positions(); }
int ChatEngine::max_context() const { return generator_->max_context(); }

}  // namespace mlascope::app::gui
