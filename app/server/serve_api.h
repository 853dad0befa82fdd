// app/server/serve_api.h — the HTTP API of `mlascope serve`, independent of sockets: a request
// (method, path, headers, body) goes in, a response (status, headers, body pieces) comes out. The
// httplib adapter (serve_http.cpp) and the tests/fuzzer call the same code.
//
// Routes: POST /generate (SGLang's native API, routed experts exactly as SGLang encodes them, plus
// the opt-in `mlascope_trace` extension), POST /v1/completions and /v1/chat/completions (OpenAI,
// SSE streaming, logprobs), GET /v1/models, /get_model_info, /health. See
// engine/remote/PROTOCOLS.md for every field.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mlascope::app::server {

class ServeEngine;
class Ticket;
enum class ApiRoute { Generate, Completions, Chat };

struct ApiOptions {
  std::string api_key;              // required as "Authorization: Bearer KEY" when not empty (not on /health)
  size_t max_body_bytes = 8u << 20; // larger bodies: 413
  int max_prompt_tokens = 0;        // 0 = the context length - 1
  int max_new_tokens = 4096;        // cap on max_new_tokens / max_tokens
  int request_timeout_s = 300;      // from queueing to the last token
  int retry_after_s = 1;            // Retry-After of a 503 when the queue is full
  std::string served_model_name;    // empty = the model folder's name
  bool incremental_stream = false;  // /generate streams deltas (SGLang --incremental-streaming-output)
};

struct HttpIn {
  std::string method;  // GET | POST | ...
  std::string path;    // without the query string
  std::string authorization;
  std::string body;
};

struct HttpOut {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // the whole body for immediate answers; streamed bodies go through `write`
};

class ServeApi {
 public:
  ServeApi(ServeEngine& engine, ApiOptions opt);
  ~ServeApi();

  // A queued generation and how its answer is to be written.
  struct Pending {
    ApiRoute route = ApiRoute::Generate;
    std::shared_ptr<Ticket> ticket;
    bool stream = false;
    std::string rid;
    std::string model;
    int64_t created = 0;
    int n_prompt = 0;
    // /generate
    bool return_logprob = false;
    int logprob_start = -1;
    int top_n = 0;
    bool return_text_in_logprobs = false;
    bool routed = false;
    int routed_start = 0;
    bool trace = false;
    int trace_start = 0;
    // OpenAI
    int oa_logprobs = -1;  // completions: alternatives per token (-1 = no logprobs); chat: top_logprobs
    bool oa_chat_logprobs = false;
    bool token_ids = false;  // return_tokens_as_token_ids
    std::chrono::steady_clock::time_point t0;
  };
  // Validates and answers at once (errors, GET routes, a full queue), or queues the generation and
  // returns it with `out` holding the status and headers of the answer to come. Never throws.
  std::unique_ptr<Pending> begin(const HttpIn& in, HttpOut& out);
  // Writes the body of a queued generation through `write` (false = the client went away, which
  // cancels the generation). Returns when the answer is complete. Never throws.
  void produce(Pending& p, const std::function<bool(std::string_view)>& write);
  // The connection closed before produce() could write everything.
  void cancel(Pending& p);
  // begin + produce with the body collected: the whole request -> response function.
  HttpOut handle(const HttpIn& in);

  const ApiOptions& options() const { return opt_; }

 private:
  ServeEngine& engine_;
  ApiOptions opt_;
};

}  // namespace mlascope::app::server
