// app/remote_setup.cpp — see remote_setup.h.
#include "remote_setup.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "engine/error.h"
#include "engine/remote/remote_generator.h"
#include "engine/tokenizer/tokenizer.h"

namespace mlascope::app {

namespace fs = std::filesystem;

RemoteSetup::RemoteSetup() = default;
RemoteSetup::~RemoteSetup() = default;
RemoteSetup::RemoteSetup(RemoteSetup&&) noexcept = default;
RemoteSetup& RemoteSetup::operator=(RemoteSetup&&) noexcept = default;

void add_remote_options(CLI::App* cmd, RemoteArgs& a) {
  cmd->add_option("--server", a.server,
                  "generate on a server instead of locally: SGLang, vLLM, llama-server or `mlascope serve` "
                  "(http://host:port); --model then needs only config.json + tokenizer files");
  cmd->add_option("--api-key", a.api_key, "bearer token for --server (default: $MLASCOPE_API_KEY; never recorded)");
  cmd->add_option("--protocol", a.protocol,
                  "with --server: auto (SGLang's /generate when the server has it, else /v1/completions), sglang, "
                  "completions or chat")
      ->check(CLI::IsMember({"auto", "sglang", "completions", "chat"}))
      ->capture_default_str();
  cmd->add_option("--server-model", a.server_model, "with --server: the server's model name (default: the first it lists)");
}

RemoteSetup connect_remote(const RemoteArgs& a, const fs::path& model, const char* where) {
  RemoteSetup s;
  fs::path dir = model.empty() ? default_model_dir() : model;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) dir = dir.parent_path();
  s.model_dir = dir;
  const fs::path cfg = dir / "config.json";
  if (!fs::exists(cfg, ec))
    fail(where, cfg.string(), "missing: --server needs --model DIR holding the served model's config.json and tokenizer files");
  {
    std::ifstream in(cfg, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    s.config_json = ss.str();
  }
  s.config = ModelConfig::from_json_text(s.config_json, cfg.string());
  if (fs::exists(dir / "tokenizer.json", ec)) s.tokenizer = std::make_shared<Tokenizer>(Tokenizer::from_dir(dir));
  else fail(where, (dir / "tokenizer.json").string(), "missing: --server needs the served model's tokenizer files beside config.json");

  remote::RemoteOptions o;
  o.url = a.server;
  o.model = a.server_model;
  o.client.api_key = a.api_key;
  if (o.client.api_key.empty())
    if (const char* k = std::getenv("MLASCOPE_API_KEY"); k && *k) o.client.api_key = k;
  if (!remote::parse_protocol(a.protocol, o.protocol)) fail(where, "--protocol", "'" + a.protocol + "' is not auto, sglang, completions or chat");
  s.gen = std::make_unique<remote::RemoteGenerator>(s.config, s.tokenizer, o);

  SessionMeta& m = s.meta;
  m.model_name = fs::absolute(dir).filename().string();
  m.model_path = fs::absolute(dir).string();
  m.config_json = s.config_json;
  m.config = s.config;
  m.backend = s.gen->backend_name();
  m.mla_mode = "server";
  m.server_url = s.gen->server().url;
  m.server_model = s.gen->server().model;
  m.engine_version = MLASCOPE_VERSION;
  return s;
}

}  // namespace mlascope::app
