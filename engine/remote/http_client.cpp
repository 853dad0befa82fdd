// engine/remote/http_client.cpp — see http_client.h.
#include "http_client.h"

#include <chrono>
#include <filesystem>
#include <thread>

#include <httplib.h>

#include "../error.h"

namespace mlascope::remote {

std::string Endpoint::origin() const { return scheme + "://" + host + ":" + std::to_string(port); }
std::string Endpoint::url(std::string_view path) const { return origin() + base_path + std::string(path); }

Endpoint parse_url(std::string_view url) {
  const std::string u(url);
  Endpoint e;
  size_t p = u.find("://");
  if (p == std::string::npos) fail("remote", u, "not a URL: expected http://HOST:PORT or https://HOST:PORT");
  e.scheme = u.substr(0, p);
  for (char& c : e.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (e.scheme != "http" && e.scheme != "https") fail("remote", u, "scheme '" + e.scheme + "' is not http or https");
  std::string rest = u.substr(p + 3);
  const size_t slash = rest.find('/');
  std::string hostport = slash == std::string::npos ? rest : rest.substr(0, slash);
  e.base_path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!e.base_path.empty() && e.base_path.back() == '/') e.base_path.pop_back();
  if (hostport.find('@') != std::string::npos) fail("remote", u, "credentials in the URL are not supported; use --api-key");
  e.port = e.scheme == "https" ? 443 : 80;
  if (!hostport.empty() && hostport[0] == '[') {  // [::1]:8080
    const size_t close = hostport.find(']');
    if (close == std::string::npos) fail("remote", u, "unclosed '[' in the host");
    e.host = hostport.substr(1, close - 1);
    hostport = hostport.substr(close + 1);
    if (!hostport.empty() && hostport[0] != ':') fail("remote", u, "unexpected text after the host");
    if (!hostport.empty()) hostport = hostport.substr(1);
    else hostport.clear();
    if (!hostport.empty()) {
      int port = 0;
      for (char c : hostport) {
        if (c < '0' || c > '9') fail("remote", u, "port '" + hostport + "' is not a number");
        port = port * 10 + (c - '0');
        if (port > 65535) break;
      }
      if (port <= 0 || port > 65535) fail("remote", u, "port '" + hostport + "' is not in 1..65535");
      e.port = port;
    }
  } else {
    const size_t colon = hostport.rfind(':');
    e.host = colon == std::string::npos ? hostport : hostport.substr(0, colon);
    if (colon != std::string::npos) {
      const std::string ps = hostport.substr(colon + 1);
      int port = 0;
      if (ps.empty()) fail("remote", u, "empty port");
      for (char c : ps) {
        if (c < '0' || c > '9') fail("remote", u, "port '" + ps + "' is not a number");
        port = port * 10 + (c - '0');
        if (port > 65535) break;
      }
      if (port <= 0 || port > 65535) fail("remote", u, "port '" + ps + "' is not in 1..65535");
      e.port = port;
    }
  }
  if (e.host.empty()) fail("remote", u, "no host");
  return e;
}

struct HttpClient::Impl {
  std::unique_ptr<httplib::Client> cli;
};

HttpClient::HttpClient(const std::string& url, ClientOptions opt) : ep_(parse_url(url)), opt_(std::move(opt)), impl_(std::make_unique<Impl>()) {
  const std::string host = ep_.host.find(':') != std::string::npos ? "[" + ep_.host + "]" : ep_.host;
  impl_->cli = std::make_unique<httplib::Client>(ep_.scheme + "://" + host + ":" + std::to_string(ep_.port));
  if (!impl_->cli->is_valid()) fail("remote", ep_.origin(), "cannot create a client for this URL (TLS support missing?)");
  impl_->cli->set_connection_timeout(opt_.connect_timeout_s, 0);
  impl_->cli->set_read_timeout(opt_.read_timeout_s, 0);
  impl_->cli->set_write_timeout(opt_.connect_timeout_s, 0);
  if (!opt_.api_key.empty()) impl_->cli->set_bearer_token_auth(opt_.api_key);
  if (ep_.scheme == "https") {
    impl_->cli->enable_server_certificate_verification(opt_.verify_tls);
    // Debian's CA bundle (ca-certificates); OpenSSL's default paths are tried as well.
    std::error_code ec;
    if (std::filesystem::exists("/etc/ssl/certs/ca-certificates.crt", ec))
      impl_->cli->set_ca_cert_path("/etc/ssl/certs/ca-certificates.crt");
  }
}

HttpClient::~HttpClient() = default;

namespace {

std::string describe(httplib::Error e, const Endpoint& ep) {
  switch (e) {
    case httplib::Error::Connection: return "connection refused or host unreachable (is the server running on " + ep.host + ":" + std::to_string(ep.port) + "?)";
    case httplib::Error::ConnectionTimeout: return "connection timed out";
    case httplib::Error::Read: return "the connection broke or timed out while reading the response";
    case httplib::Error::Write: return "the connection broke while sending the request";
    case httplib::Error::SSLConnection: return "TLS handshake failed";
    case httplib::Error::SSLLoadingCerts: return "could not load the CA certificates";
    case httplib::Error::SSLServerVerification: return "the server's TLS certificate did not verify";
    case httplib::Error::Canceled: return "cancelled";
    default: return httplib::to_string(e);
  }
}

bool retryable(httplib::Error e) { return e == httplib::Error::Connection || e == httplib::Error::ConnectionTimeout; }

}  // namespace

HttpResponse HttpClient::get(const std::string& path) {
  const std::string full = ep_.base_path + path;
  for (int attempt = 0;; ++attempt) {
    httplib::Result r = impl_->cli->Get(full.c_str());
    if (r) {
      HttpResponse out;
      out.status = r->status;
      out.body = r->body;
      out.content_type = r->get_header_value("Content-Type");
      return out;
    }
    if (!retryable(r.error()) || attempt >= opt_.connect_retries) fail("remote", ep_.url(path), describe(r.error(), ep_));
    std::this_thread::sleep_for(std::chrono::milliseconds(250 << attempt));
  }
}

HttpResponse HttpClient::post_json(const std::string& path, const std::string& body,
                                   const std::function<bool(std::string_view)>& on_data) {
  const std::string full = ep_.base_path + path;
  for (int attempt = 0;; ++attempt) {
    HttpResponse out;
    bool stopped = false;       // on_data asked to stop
    bool got_response = false;  // a status line arrived: never retry after that
    httplib::Request req;
    req.method = "POST";
    req.path = full;
    req.body = body;
    req.set_header("Content-Type", "application/json");
    req.set_header("Accept", on_data ? "text/event-stream, application/json" : "application/json");
    req.response_handler = [&](const httplib::Response& res) {
      got_response = true;
      out.status = res.status;
      out.content_type = res.get_header_value("Content-Type");
      return true;
    };
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      if (on_data && out.status >= 200 && out.status < 300) {
        if (!on_data(std::string_view(data, n))) {
          stopped = true;
          return false;
        }
        return true;
      }
      if (out.body.size() < (64u << 20)) out.body.append(data, n);
      return true;
    };
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    const bool ok = impl_->cli->send(req, res, err);
    if (ok || stopped || (got_response && err == httplib::Error::Canceled)) {
      if (out.status == 0) out.status = res.status;
      return out;
    }
    if (got_response || !retryable(err) || attempt >= opt_.connect_retries) fail("remote", ep_.url(path), describe(err, ep_));
    std::this_thread::sleep_for(std::chrono::milliseconds(250 << attempt));
  }
}

}  // namespace mlascope::remote
