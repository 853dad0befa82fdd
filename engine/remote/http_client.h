// engine/remote/http_client.h — a small HTTP(S) client over Debian's cpp-httplib: one base URL,
// optional bearer token, timeouts, retries with backoff while connecting, streamed bodies.
// Every failure becomes one Error line naming the URL ("[remote] http://h:30000/generate: ...").
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace mlascope::remote {

struct Endpoint {
  std::string scheme;     // http | https
  std::string host;
  int port = 0;
  std::string base_path;  // "" or "/prefix" (no trailing '/')
  std::string origin() const;  // scheme://host:port
  std::string url(std::string_view path) const;
};
// "http://host[:port][/prefix]" (https too); throws Error naming the URL otherwise.
Endpoint parse_url(std::string_view url);

struct ClientOptions {
  std::string api_key;          // "Authorization: Bearer ..." when not empty (never logged or recorded)
  int connect_timeout_s = 10;
  int read_timeout_s = 600;     // between two reads of a response (a long prefill sends nothing)
  int connect_retries = 3;      // extra attempts when the connection fails, 0.25 s, 0.5 s, 1 s apart
  bool verify_tls = true;
};

struct HttpResponse {
  int status = 0;
  std::string body;          // whole body (non-streamed calls, and error bodies of streamed ones)
  std::string content_type;
};

class HttpClient {
 public:
  HttpClient(const std::string& url, ClientOptions opt);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  const Endpoint& endpoint() const { return ep_; }
  // GET; the status is returned, not checked. Throws Error when no connection could be made.
  HttpResponse get(const std::string& path);
  // POST a JSON body. With on_data, a 2xx body is handed over as it arrives (return false to stop
  // reading: the call then returns normally) and HttpResponse::body stays empty.
  HttpResponse post_json(const std::string& path, const std::string& body,
                         const std::function<bool(std::string_view)>& on_data = nullptr);

 private:
  struct Impl;
  Endpoint ep_;
  ClientOptions opt_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mlascope::remote
