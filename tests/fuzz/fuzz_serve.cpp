// tests/fuzz/fuzz_serve.cpp — the HTTP API of `mlascope serve` as a pure function of a request
// (ServeApi::handle: validation, the three generation routes with streaming, logprobs, routed
// experts and the trace extension, the GET routes), on a real engine: the tiny DeepSeek-V3
// checkpoint of tests/data/golden/v3-tiny with a small DeepSeek-like tokenizer, CPU, one thread.
// No socket is opened. Input: "METHOD PATH\nAUTHORIZATION\nBODY"; a non-empty authorization line
// selects a server that requires the key "Bearer k". Every answer must be a valid HTTP status and,
// for JSON answers, valid JSON.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include <nlohmann/json.hpp>

#include "app/server/serve_api.h"
#include "app/server/serve_engine.h"
#include "engine/error.h"
#include "fuzz_util.h"

using namespace mlascope;
using namespace mlascope::app::server;
namespace fs = std::filesystem;

namespace {
struct Server {
  std::unique_ptr<ServeEngine> engine;
  std::unique_ptr<ServeApi> open_api, keyed_api;
  Server() {
    const fs::path dir = fuzz::temp_dir() / "model";
    fs::create_directories(dir);
    const fs::path tiny = fs::path(MLASCOPE_TEST_DATA) / "golden/v3-tiny";
    fs::copy_file(tiny / "config.json", dir / "config.json");
    fs::copy_file(tiny / "model.safetensors", dir / "model.safetensors");
    fs::copy_file(fs::path(MLASCOPE_FUZZ_SEEDS) / "tokenizer_json/deepseek_small.json", dir / "tokenizer.json");
    fs::copy_file(fs::path(MLASCOPE_TEST_DATA) / "tokenizers/deepseek-v3/tokenizer_config.json", dir / "tokenizer_config.json");
    EngineSetup s;
    s.model = dir;
    s.backend.device = DeviceKind::Cpu;
    s.backend.n_threads = 1;
    s.backend.max_context = 64;
    s.max_queue = 4;
    engine = std::make_unique<ServeEngine>(s);
    ApiOptions o;
    o.max_new_tokens = 4;  // a fuzzer's max_tokens of 10^9 must not make an execution slow
    o.max_prompt_tokens = 48;
    o.request_timeout_s = 20;
    open_api = std::make_unique<ServeApi>(*engine, o);
    o.api_key = "k";
    keyed_api = std::make_unique<ServeApi>(*engine, o);
  }
};

Server& server() {
  static Server s;
  return s;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto [line, rest] = fuzz::split_at(in, "\n");
  auto [auth, body] = fuzz::split_at(rest, "\n");
  HttpIn req;
  auto [method, path] = fuzz::split_at(line, " ");
  req.method = std::string(method);
  req.path = std::string(path);
  req.authorization = std::string(auth);
  req.body = std::string(body);
  Server& s = server();
  const HttpOut out = (auth.empty() ? s.open_api : s.keyed_api)->handle(req);
  if (out.status < 100 || out.status > 599) {
    std::fprintf(stderr, "fuzz: HTTP status %d\n", out.status);
    std::abort();
  }
  if (out.content_type == "application/json" && !out.body.empty() && !nlohmann::json::accept(out.body)) {
    std::fprintf(stderr, "fuzz: status %d with a JSON content type but a body that is not JSON: %.300s\n", out.status, out.body.c_str());
    std::abort();
  }
  return 0;
}
