// app/cmd_generate.cpp — `mlascope generate`: prefill a prompt (ids, or text through the model's
// tokenizer) and stream sampled tokens to stdout; a one-line summary with speeds goes to stderr.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "cli_checks.h"
#include "commands.h"
#include "engine/error.h"
#include "engine/generator.h"
#include "engine/model/model.h"
#include "engine_options.h"
#include "remote_setup.h"
#include "step_source.h"
#include "engine/remote/remote_generator.h"
#include "sessions/fingerprint.h"
#include "sessions/recorder.h"
#include "sessions/session_db.h"

#if __has_include("engine/tokenizer/tokenizer.h")
#include "engine/tokenizer/tokenizer.h"
#define MLASCOPE_HAVE_TOKENIZER 1
#endif

namespace mlascope::app {

namespace fs = std::filesystem;

namespace {

struct GenerateArgs {
  EngineArgs engine;
  std::string prompt;
  std::string prompt_ids;
  int n = 64;
  SamplerSettings sampler;
  bool show_ids = false;
  RemoteArgs remote;        // --server
  bool record = false;      // --record: keep the session in the database
  std::string title;
  std::string session_db;
  CapturePolicy capture = CapturePolicy::Routing;  // what --record keeps besides the tokens
  std::vector<int> attention_layers;               // --capture attention: these layers (empty = all)
};

const char* stop_name(StopReason r) {
  switch (r) {
    case StopReason::None: return "none";
    case StopReason::Eos: return "eos";
    case StopReason::Length: return "length";
    case StopReason::ContextFull: return "context full";
    case StopReason::Cancelled: return "cancelled";
  }
  return "?";
}

void run_generate(const GenerateArgs& a) {
  // --record into an existing file that is not a sessions database: refused before the model loads.
  if (a.record) sessions::check_session_db(sessions::resolve_session_db(a.session_db));
  // The model: local weights, or a server with config.json + tokenizer here (--server).
  std::unique_ptr<StepSource> gen;
  std::shared_ptr<const Tokenizer> tokenizer;
  SessionMeta meta;
  std::string model_name;
  if (a.remote.enabled()) {
    RemoteSetup r = connect_remote(a.remote, a.engine.model, "generate");
    tokenizer = r.tokenizer;
    meta = std::move(r.meta);
    gen = remote_step_source(std::move(r.gen));
  } else {
    std::shared_ptr<Model> model = load_model(a.engine, "generate");
#ifdef MLASCOPE_HAVE_TOKENIZER
    const fs::path model_dir = fs::is_directory(model->path()) ? model->path() : model->path().parent_path();
    if (fs::exists(model_dir / "tokenizer.json")) tokenizer = std::make_shared<Tokenizer>(Tokenizer::from_dir(model_dir));
    else if (model->embedded_tokenizer())
      tokenizer = std::make_shared<Tokenizer>(Tokenizer::from_parts(*model->embedded_tokenizer(), model->name()));
#endif
    meta.model_name = model->name();
    meta.model_path = fs::absolute(model->path()).string();
    meta.model_hash = sessions::weights_fingerprint(model->path());
    meta.config_json = model->config_json();
    meta.config = model->config();
    meta.engine_version = MLASCOPE_VERSION;
    std::unique_ptr<Backend> backend = make_backend(*model, backend_options(a.engine));
    meta.backend = backend->name();
    meta.mla_mode = to_string(backend->mla_mode());
    meta.kv_dtype = to_string(backend->kv_dtype());
    gen = local_step_source(model, std::move(backend), tokenizer);
  }
  const ModelConfig& c = meta.config;
  std::vector<int32_t> prompt;
  if (!a.prompt_ids.empty()) {
    prompt = parse_token_ids(a.prompt_ids, c.vocab_size, "generate", "--prompt-ids");
  } else {
#ifdef MLASCOPE_HAVE_TOKENIZER
    if (!tokenizer) fail("generate", meta.model_name, "has no tokenizer.json; use --prompt-ids");
    if (tokenizer->add_bos() && tokenizer->bos_id() >= 0) prompt.push_back(tokenizer->bos_id());
    const std::vector<int32_t> enc = tokenizer->encode(a.prompt);
    prompt.insert(prompt.end(), enc.begin(), enc.end());
    if (prompt.empty()) fail("generate", "--prompt", "the prompt encodes to no tokens");
#else
    fail("generate", "--prompt", "this build has no tokenizer; use --prompt-ids");
#endif
  }

  gen->sampler().set_settings(a.sampler);
  // Capture costs time on every step; without --record nobody would read it.
  CaptureSettings capture{a.record ? a.capture : CapturePolicy::Off, ~0ull};
  if (!a.attention_layers.empty()) {
    capture.attention_layers = 0;
    for (int l : a.attention_layers) {
      if (l < 0 || l >= c.num_hidden_layers || l >= 64)
        fail("generate", "--attention-layers", "layer " + std::to_string(l) + " is not in [0, " +
                                                   std::to_string(std::min(c.num_hidden_layers, 64)) + ")");
      capture.attention_layers |= 1ull << l;
    }
  }
  gen->set_capture(capture);

  // Recording never stops generation: a database that cannot be written only costs a warning.
  std::unique_ptr<sessions::SessionRecorder> recorder;
  if (a.record) {
    meta.title = a.title.empty() ? (a.prompt.empty() ? "ids " + a.prompt_ids.substr(0, 56) : a.prompt.substr(0, 60)) : a.title;
    meta.sampler_json = a.sampler.to_json();
    meta.capture = capture.policy;
    // A database that cannot be created or written costs a warning: recording never stops the
    // generation (an existing file that is not one was refused above).
    const fs::path db = sessions::resolve_session_db(a.session_db);
    std::string why;
    recorder = sessions::try_start_recording(db, meta, {}, why);
    if (!recorder) std::fprintf(stderr, "mlascope: warning: not recording: %s\n", why.c_str());
    else recorder->add_message(0, {"user", a.prompt, 0, static_cast<int32_t>(prompt.size())});
  }
  const auto keep = [&](StepRecord&& r) {
    if (recorder) recorder->record(std::move(r));
  };

  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  if (gen->feed(prompt, recorder ? std::function<void(StepRecord&&)>(keep) : nullptr, 0) != StepStatus::Ok)
    fail("generate", "--prompt", std::to_string(prompt.size()) + " tokens do not fit the context of " +
                                     std::to_string(gen->max_context()));
  const double prefill_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();

#ifdef MLASCOPE_HAVE_TOKENIZER
  std::unique_ptr<StreamDecoder> decoder;
  if (tokenizer && !a.show_ids) decoder = std::make_unique<StreamDecoder>(*tokenizer);
#endif
  int produced = 0;
  const auto t1 = Clock::now();
  const StopReason stop = gen->generate(a.n, [&](StepRecord&& r) {
    ++produced;
    const int32_t id = r.id;
    keep(std::move(r));
#ifdef MLASCOPE_HAVE_TOKENIZER
    if (decoder) {
      const std::string s = decoder->push(id);
      std::fwrite(s.data(), 1, s.size(), stdout);
      std::fflush(stdout);
      return;
    }
#endif
    std::printf("%d ", id);
    std::fflush(stdout);
  }, nullptr, 1);
#ifdef MLASCOPE_HAVE_TOKENIZER
  if (decoder) {
    const std::string s = decoder->flush();
    std::fwrite(s.data(), 1, s.size(), stdout);
  }
#endif
  std::printf("\n");
  std::fflush(stdout);
  const double decode_ms = std::chrono::duration<double, std::milli>(Clock::now() - t1).count();
  if (recorder) {
    recorder->add_message(1, {"assistant", "", static_cast<int32_t>(prompt.size()),
                              static_cast<int32_t>(prompt.size()) + produced});
    recorder->flush();
    const sessions::RecorderStatus st = recorder->status();
    if (st.recording)
      std::fprintf(stderr, "[generate] recorded session %lld (%llu tokens) in %s\n",
                   static_cast<long long>(recorder->session_id()), static_cast<unsigned long long>(st.tokens_committed),
                   recorder->path().c_str());
    else
      std::fprintf(stderr, "mlascope: warning: %s\n", st.message.c_str());
  }
  if (!gen->backend()) {  // a server: the prompt is sent with the generation, so one time covers both
    std::fprintf(stderr, "[generate] %s: prompt %zu tokens + %d tokens in %.1f ms (%.1f tok/s end to end), stop: %s%s\n",
                 gen->backend_name().c_str(), prompt.size(), produced, decode_ms,
                 decode_ms > 0 ? 1000.0 * produced / decode_ms : 0.0, stop_name(stop),
                 gen->routing_reported() ? "" : (std::string("; ") + kNoRoutingNote).c_str());
    return;
  }
  Backend& be = *gen->backend();
  std::fprintf(stderr,
               "[generate] %s, %s MLA: prompt %zu tokens in %.1f ms (%.1f tok/s), %d tokens in %.1f ms (%.1f tok/s), "
               "stop: %s, KV cache %.1f KiB\n",
               be.name().c_str(), to_string(be.mla_mode()), prompt.size(), prefill_ms,
               prefill_ms > 0 ? 1000.0 * static_cast<double>(prompt.size()) / prefill_ms : 0.0, produced, decode_ms,
               decode_ms > 0 ? 1000.0 * produced / decode_ms : 0.0, stop_name(stop),
               static_cast<double>(be.kv_bytes_in_use()) / 1024.0);
}

}  // namespace

void register_generate(CLI::App& root, CommandContext& ctx) {
  auto a = std::make_shared<GenerateArgs>();
  CLI::App* cmd = root.add_subcommand("generate", "Generate text from a prompt, streaming tokens to stdout");
  add_engine_options(cmd, a->engine);
  add_remote_options(cmd, a->remote);
  auto* p = cmd->add_option("--prompt", a->prompt, "prompt text (encoded with the model's tokenizer)");
  auto* pi = cmd->add_option("--prompt-ids", a->prompt_ids, "prompt token ids, e.g. 1,2,3");
  p->excludes(pi);
  cmd->add_option("-n,--max-tokens", a->n, "tokens to generate (1 or more)")->check(positive());
  cmd->add_option("--temperature", a->sampler.temperature, "0 = greedy")->check(non_negative());
  cmd->add_option("--top-k", a->sampler.top_k, "keep the k most likely tokens (0 = off)")->check(non_negative());
  cmd->add_option("--top-p", a->sampler.top_p, "nucleus: smallest set with this much probability (1 = off)")
      ->check(in_range(0.0, 1.0));
  cmd->add_option("--min-p", a->sampler.min_p, "drop tokens below min_p * p(best) (0 = off)")->check(in_range(0.0, 1.0));
  cmd->add_option("--repeat-penalty", a->sampler.repetition_penalty, "penalise tokens seen in the last 256 (1 = off)")
      ->check(positive());
  cmd->add_option("--seed", a->sampler.seed, "random seed (same seed, same tokens)");
  cmd->add_flag("--ids", a->show_ids, "print token ids instead of text");
  cmd->add_flag("--record", a->record, "record the session (tokens + routing) in the session database");
  add_capture_option(cmd, a->capture,
                     "what --record keeps besides tokens: off, routing (default), attention (routing + attention "
                     "probabilities), everything (+ nope/rope parts of every layer)");
  cmd->add_option("--attention-layers", a->attention_layers, "with --capture attention: only these layers, e.g. 0,2")
      ->delimiter(',');
  cmd->add_option("--title", a->title, "title of the recorded session (default: the prompt)");
  cmd->add_option("--session-db", a->session_db, "session database (default $MLASCOPE_SESSION_DB or ~/.local/share/mlascope/sessions.db)");
  cmd->callback([a, &ctx] {
    if (a->prompt.empty() && a->prompt_ids.empty()) fail("generate", "", "pass --prompt TEXT or --prompt-ids 1,2,3");
    run_generate(*a);
    ctx.exit_code = 0;
  });
}

}  // namespace mlascope::app
