// app/server/serve_http.cpp — see serve_http.h.
#include "serve_http.h"

#include <unistd.h>

#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "serve_api.h"

namespace mlascope::app::server {

// httplib binds and listens in bind_to_*port but closes the socket only from a running listener's
// stop(): a server stopped (or destroyed) before run() listened would keep a listening socket whose
// backlog accepts connections nobody answers (a client then waits out its read timeout).
struct ListeningServer : httplib::Server {
  void close_unlistened_socket() {
    const auto s = svr_sock_.exchange(INVALID_SOCKET);
    if (s != INVALID_SOCKET) ::close(s);
  }
};

struct HttpServer::Impl {
  ListeningServer svr;
};

HttpServer::HttpServer(ServeApi& api, int n_threads) : impl_(std::make_unique<Impl>()), api_(api) {
  httplib::Server& svr = impl_->svr;
  const int threads = std::max(2, n_threads);
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  // httplib refuses larger bodies itself (413) before reading them.
  svr.set_payload_max_length(api.options().max_body_bytes + 1);
  svr.set_read_timeout(30, 0);
  svr.set_write_timeout(30, 0);
  svr.set_keep_alive_max_count(100);

  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    active_.fetch_add(1);
    HttpIn in;
    in.method = req.method;
    in.path = req.path;
    in.authorization = req.get_header_value("Authorization");
    in.body = req.body;
    HttpOut out;
    std::unique_ptr<ServeApi::Pending> p = api_.begin(in, out);
    res.status = out.status;
    for (const auto& [k, v] : out.headers) res.set_header(k, v);
    if (!p) {
      res.set_content(out.body, out.content_type);
      active_.fetch_sub(1);
      return;
    }
    if (out.content_type != "text/event-stream") {
      std::string body;
      api_.produce(*p, [&](std::string_view s) {
        body.append(s);
        return true;
      });
      res.set_content(body, out.content_type);
      active_.fetch_sub(1);
      return;
    }
    std::shared_ptr<ServeApi::Pending> sp(std::move(p));
    res.set_chunked_content_provider(
        out.content_type,
        [this, sp](size_t, httplib::DataSink& sink) {
          api_.produce(*sp, [&](std::string_view s) { return sink.is_writable() && sink.write(s.data(), s.size()); });
          sink.done();
          return true;
        },
        [this, sp](bool success) {
          if (!success) api_.cancel(*sp);
          active_.fetch_sub(1);
        });
  };
  for (const char* pattern : {".*"}) {
    svr.Get(pattern, handler);
    svr.Post(pattern, handler);
    svr.Put(pattern, handler);
    svr.Delete(pattern, handler);
    svr.Patch(pattern, handler);
    svr.Options(pattern, handler);
  }
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = std::string("internal error: ") + e.what();
    } catch (...) {
    }
    res.status = 500;
    res.set_content(nlohmann::json{{"error", {{"message", what}, {"code", 500}}}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                    "application/json");
  });
  svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    const char* msg = res.status == 413 ? "request body too large" : res.status == 400 ? "malformed HTTP request" : "request refused";
    res.set_content(std::string("{\"error\":{\"message\":\"") + msg + "\",\"code\":" + std::to_string(res.status) + "}}", "application/json");
  });
}

HttpServer::~HttpServer() {
  if (started_.load() && !finished_.load()) return;  // a running listener is for stop() to end
  impl_->svr.close_unlistened_socket();              // never run, or run after stop(): a socket nobody listens on
}

int HttpServer::bind(const std::string& host, int port) {
  httplib::Server& svr = impl_->svr;
  if (port == 0) {
    const int p = svr.bind_to_any_port(host.c_str());
    if (p <= 0) fail("serve", host, "cannot bind to any port on this address");
    return p;
  }
  if (!svr.bind_to_port(host.c_str(), port))
    fail("serve", host + ":" + std::to_string(port), "cannot listen here (address in use, or not an address of this machine)");
  return port;
}

void HttpServer::run() {
  started_.store(true);
  // stop() before the listener ran (a server stopped right after it started): do not listen at all.
  // stop() stores stop_requested_ before it reads started_, this the other way round, so at least
  // one of the two sees the other (seq_cst atomics).
  if (!stop_requested_.load()) impl_->svr.listen_after_bind();
  else impl_->svr.close_unlistened_socket();
  finished_.store(true);
}

void HttpServer::stop(std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (active_.load() > 0 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stop_requested_.store(true);
  if (!started_.load()) return;
  // httplib's stop() does nothing until the listener runs: repeat it until run() has returned.
  while (!finished_.load()) {
    if (impl_->svr.is_running()) impl_->svr.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace mlascope::app::server
