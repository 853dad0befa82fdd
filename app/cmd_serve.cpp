// app/cmd_serve.cpp — `mlascope serve`: the local engine (CPU or CUDA) behind SGLang's /generate
// and the OpenAI routes, so a workbench on another machine can connect with --server. SIGTERM or
// SIGINT drains: new requests get 503, answers in progress finish, then the process exits 0.
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

#include <CLI/CLI.hpp>

#include "cli_checks.h"
#include "commands.h"
#include "engine/error.h"
#include "engine_options.h"
#include "server/serve_api.h"
#include "server/serve_engine.h"
#include "server/serve_http.h"

namespace mlascope::app {

namespace {

struct ServeArgs {
  EngineArgs engine;
  std::string host = "127.0.0.1";
  int port = 30000;
  std::string api_key;
  size_t max_queue = 16;
  int request_timeout_s = 300;
  int max_body_mib = 8;
  int max_prompt_tokens = 0;
  int max_new_tokens = 4096;
  std::string served_model_name;
  bool incremental = false;
  int drain_timeout_s = 60;
};

int run_serve(const ServeArgs& a) {
  // Every thread started from here on (engine worker, HTTP pool) inherits this mask, so the two
  // signals reach only the sigwait below.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that hangs up mid-stream is a failed write, not a dead server

  server::EngineSetup setup;
  setup.model = a.engine.model.empty() ? default_model_dir() : a.engine.model;
  setup.backend = backend_options(a.engine);
  setup.max_queue = a.max_queue;
  server::ServeEngine engine(setup);

  server::ApiOptions api_opt;
  api_opt.api_key = a.api_key;
  if (api_opt.api_key.empty())
    if (const char* k = std::getenv("MLASCOPE_API_KEY")) api_opt.api_key = k;
  api_opt.max_body_bytes = static_cast<size_t>(a.max_body_mib) << 20;
  api_opt.max_prompt_tokens = a.max_prompt_tokens;
  api_opt.max_new_tokens = a.max_new_tokens;
  api_opt.request_timeout_s = a.request_timeout_s;
  api_opt.served_model_name = a.served_model_name;
  api_opt.incremental_stream = a.incremental;
  server::ServeApi api(engine, api_opt);
  // One connection per queued request plus the running one, and a few for health checks.
  server::HttpServer http(api, static_cast<int>(a.max_queue) + 4);
  const int port = http.bind(a.host, a.port);
  std::printf("mlascope serve: %s on %s, listening on http://%s:%d (queue %zu, %s)\n", engine.model_name().c_str(),
              engine.backend_name().c_str(), a.host.c_str(), port, a.max_queue, api_opt.api_key.empty() ? "no API key" : "API key required");
  std::fflush(stdout);
  std::thread listener([&] { http.run(); });

  int sig = 0;
  sigwait(&set, &sig);
  std::fprintf(stderr, "mlascope serve: %s received, draining (%zu queued)\n", sig == SIGTERM ? "SIGTERM" : "SIGINT", engine.queued());
  const bool drained = engine.drain(std::chrono::seconds(a.drain_timeout_s));
  http.stop(std::chrono::seconds(5));
  listener.join();
  std::fprintf(stderr, "mlascope serve: %s after %llu requests\n", drained ? "drained, exiting" : "drain timed out, exiting",
               static_cast<unsigned long long>(engine.completed()));
  return 0;
}

}  // namespace

void register_serve(CLI::App& root, CommandContext& ctx) {
  auto a = std::make_shared<ServeArgs>();
  CLI::App* cmd = root.add_subcommand("serve", "serve the local engine over HTTP: SGLang's /generate (routed experts) and OpenAI-compatible routes");
  add_engine_options(cmd, a->engine);
  cmd->add_option("--host", a->host, "address to listen on (default 127.0.0.1: this machine only)");
  cmd->add_option("--port", a->port, "port (0 = any free port; the chosen one is printed)")->check(in_range(0, 65535));
  cmd->add_option("--api-key", a->api_key, "require 'Authorization: Bearer KEY' (default: $MLASCOPE_API_KEY)");
  cmd->add_option("--max-queue", a->max_queue, "requests that may wait while one runs; more get 503 with Retry-After")->check(in_range(1, 4096));
  cmd->add_option("--request-timeout", a->request_timeout_s, "seconds from queueing to the last token")->check(positive());
  cmd->add_option("--max-body", a->max_body_mib, "largest request body in MiB")->check(in_range(1, 1024));
  cmd->add_option("--max-prompt-tokens", a->max_prompt_tokens, "longest prompt (0 = the context length - 1)")->check(non_negative());
  cmd->add_option("--max-new-tokens", a->max_new_tokens, "cap on tokens generated per request")->check(positive());
  cmd->add_option("--served-model-name", a->served_model_name, "model name in /v1/models (default: the model folder's name)");
  cmd->add_flag("--incremental-streaming-output", a->incremental, "/generate streams deltas instead of SGLang's default cumulative chunks");
  cmd->add_option("--drain-timeout", a->drain_timeout_s, "seconds SIGTERM waits for queued answers")->check(non_negative());
  cmd->callback([a, &ctx] { ctx.exit_code = run_serve(*a); });
}

}  // namespace mlascope::app
