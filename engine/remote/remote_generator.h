// engine/remote/remote_generator.h — generation on a remote server (SGLang, vLLM, llama.cpp's
// llama-server, or `mlascope serve`), producing the same StepRecords as the local Generator so the
// TraceModel, the session recorder and every view take them unchanged. The model is described
// locally by config.json (+ tokenizer): the layer/expert axes, KV panel and chat template need no
// weights. Mirrors Generator's calls (feed, generate, truncate, history).
//
// The server is stateless for us: each generate() sends the whole conversation (SGLang's radix
// cache and mlascope serve's prefix cache reuse what they computed before). feed() only queues
// ids; their records (prompt probabilities, routing) come back with the next generate().
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "../backend/backend.h"
#include "../config.h"
#include "../generator.h"
#include "../sampler.h"
#include "../trace/step_record.h"
#include "http_client.h"
#include "wire.h"

namespace mlascope {
class Tokenizer;
}

namespace mlascope::remote {

struct RemoteOptions {
  std::string url;                     // http(s)://host:port
  ClientOptions client;
  Protocol protocol = Protocol::Auto;
  std::string model;                   // the server's model name; empty = the first of /v1/models
  bool trace_extension = true;         // ask mlascope serve for its full trace (false: plain SGLang fields only)
};

// What the server told us when we connected.
struct ServerInfo {
  std::string url;           // no credentials, ever
  std::string model;         // the server's name for its model
  std::string kind;          // sglang | mlascope | openai
  Protocol protocol = Protocol::Completions;
  int max_context = 0;       // context length the server reported (0 = unknown)
  std::string version;       // mlascope serve's version, when it is one
};

class RemoteGenerator {
 public:
  // Connects (GET /v1/models, /get_model_info) and picks the protocol. Throws Error with one line
  // for a refused connection, a 401, a server that is not an LLM server, ...
  RemoteGenerator(const ModelConfig& config, std::shared_ptr<const Tokenizer> tokenizer, RemoteOptions opt);
  ~RemoteGenerator();

  const ServerInfo& server() const { return info_; }
  const ModelConfig& config() const { return config_; }
  // "remote (sglang, http://host:30000)"
  std::string backend_name() const;
  Sampler& sampler() { return sampler_; }
  // What mlascope serve's trace extension should carry (other servers send routing ids at most).
  void set_capture(const CaptureSettings& c) { capture_ = c; }
  const CaptureSettings& capture() const { return capture_; }
  // The conversation for the Chat protocol (the server renders its own template). Other protocols
  // send token ids and ignore this.
  void set_chat_messages(std::vector<ChatMessage> m) { chat_messages_ = std::move(m); }
  // Whether the last generate() got routing from the server (false: it reports none).
  bool routing_reported() const { return routing_reported_; }

  StepStatus feed(std::span<const int32_t> ids, const std::function<void(StepRecord&&)>& emit, int message = -1);
  StopReason generate(int max_new_tokens, const std::function<void(StepRecord&&)>& emit,
                      const std::atomic<bool>* cancel = nullptr, int message = -1);
  void truncate(int n_positions);
  int n_positions() const { return static_cast<int>(history_.size() + pending_.size()); }
  std::span<const int32_t> history() const { return all_ids_; }
  int max_context() const;

 private:
  std::string text_of(int32_t id) const;

  ModelConfig config_;
  std::shared_ptr<const Tokenizer> tok_;
  RemoteOptions opt_;
  std::unique_ptr<HttpClient> http_;
  ServerInfo info_;
  Sampler sampler_;
  CaptureSettings capture_;
  std::vector<ChatMessage> chat_messages_;
  std::vector<int32_t> history_;   // positions whose records were emitted
  std::vector<int32_t> pending_;   // fed, records not yet emitted
  // One per feed() since the last generate(): its records go to that call's `emit` (which must stay
  // callable until the next generate or truncate), as the local Generator would have sent them.
  struct Feed {
    int count = 0;
    int message = -1;
    std::function<void(StepRecord&&)> emit;
  };
  std::vector<Feed> feeds_;
  std::vector<int32_t> all_ids_;   // history_ + pending_ (what history() shows)
  bool routing_reported_ = false;
};

}  // namespace mlascope::remote
