// app/server/serve_http.h — ServeApi on sockets (Debian's cpp-httplib): a bounded thread pool,
// request size and read-time limits, chunked SSE bodies, and a drain that lets running answers
// finish before the listener closes.
#pragma once
#include <atomic>
#include <chrono>
#include <memory>
#include <string>

namespace mlascope::app::server {

class ServeApi;

class HttpServer {
 public:
  // n_threads: connections served at once (queued generations hold one each while they wait).
  HttpServer(ServeApi& api, int n_threads);
  ~HttpServer();
  // Binds; port 0 picks a free one. Returns the port. Throws Error when the address is taken.
  int bind(const std::string& host, int port);
  void run();   // serves until stop() (blocks)
  // Waits up to `limit` for answers in progress to finish, then closes the listener.
  void stop(std::chrono::milliseconds limit);
  int active() const { return active_.load(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  ServeApi& api_;
  std::atomic<int> active_{0};
  std::atomic<bool> started_{false}, finished_{false}, stop_requested_{false};
};

}  // namespace mlascope::app::server
