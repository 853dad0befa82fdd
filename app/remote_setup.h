// app/remote_setup.h — `--server URL` for chat, generate and the workbench: one set of options and
// one function that turns them (with --model naming a folder of config.json + tokenizer files, no
// weights needed) into a connected RemoteGenerator and the session meta a remote session records.
#pragma once
#include <filesystem>
#include <memory>
#include <string>

#include "engine/config.h"
#include "engine/trace/trace_model.h"

namespace CLI {
class App;
}

namespace mlascope {
class Tokenizer;
namespace remote {
class RemoteGenerator;
}
}  // namespace mlascope

namespace mlascope::app {

struct RemoteArgs {
  std::string server;        // http(s)://host:port; empty = run locally
  std::string api_key;       // --api-key, else $MLASCOPE_API_KEY (never recorded or logged)
  std::string protocol = "auto";  // auto | sglang | completions | chat
  std::string server_model;  // the server's model name (default: the first of /v1/models)
  bool enabled() const { return !server.empty(); }
};

// Adds --server, --api-key, --protocol, --server-model.
void add_remote_options(CLI::App* cmd, RemoteArgs& a);

struct RemoteSetup {
  ModelConfig config;
  std::string config_json;
  std::filesystem::path model_dir;   // where config.json and the tokenizer were read
  std::shared_ptr<const Tokenizer> tokenizer;
  std::unique_ptr<remote::RemoteGenerator> gen;
  SessionMeta meta;                  // backend "remote", server_url, server_model, no weights hash
  RemoteSetup();
  ~RemoteSetup();
  RemoteSetup(RemoteSetup&&) noexcept;
  RemoteSetup& operator=(RemoteSetup&&) noexcept;
};

// Reads config.json and the tokenizer from `model` (a folder; a .gguf file's folder; empty = the
// bundled demo model's) and connects. Throws Error with one line naming the file or the URL.
RemoteSetup connect_remote(const RemoteArgs& a, const std::filesystem::path& model, const char* where);

// True for a session recorded from a server.
inline bool is_remote_session(const SessionMeta& m) { return !m.server_url.empty() || m.backend.rfind("remote", 0) == 0; }

}  // namespace mlascope::app
