// bench/serve_load.cpp — load on `mlascope serve`: 1, 4 and 16 concurrent streaming clients (SGLang's
// POST /generate with "stream": true, greedy, random prompts) for N seconds each; prints requests
// completed, p50/p99 time to first token, aggregate tokens/s, errors (non-200 answers, 503s from a
// full queue, broken streams) and the server's RSS before and after. Starts the server itself (the
// built mlascope on the demo model) unless --url names one (--pid then lets it read that one's RSS).
//
//   build/bench/serve_load [--seconds 60] [--clients 1,4,16] [--max-new 32] [--prompt-len 32]
//                          [--threads N] [--max-queue 16] [--model DIR] [--url URL --pid PID]
// Errors must stay 0 while clients <= --max-queue + 1 (one runs, the rest wait in the queue).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/remote/http_client.h"
#include "engine/remote/sse.h"
#include "serve_child.h"

using namespace mlascope;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  int seconds = 60;
  std::vector<int> clients = {1, 4, 16};
  int max_new = 32;
  int prompt_len = 32;
  int threads = 0;
  int max_queue = 16;
  std::string model = std::string(MLASCOPE_ASSETS) + "/models/mla-moe-demo";
  std::string url;
  int pid = -1;
};

struct Level {
  int requests = 0;
  long tokens = 0;
  int errors = 0, busy_503 = 0;
  std::vector<double> ttft_ms;
  std::string first_error;
};

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

// One streamed request; returns its tokens, fills ttft (ms) or the error.
long one_request(remote::HttpClient& http, const std::vector<int32_t>& prompt, int max_new, double& ttft, std::string& error, int& status) {
  const nlohmann::json body = {{"input_ids", prompt},
                               {"sampling_params", {{"max_new_tokens", max_new}, {"temperature", 0.0}}},
                               {"stream", true}};
  const auto t0 = Clock::now();
  long tokens = 0;
  ttft = -1;
  bool done = false;
  remote::SseParser sse([&](const remote::SseEvent& ev) {
    if (ev.data.rfind("[DONE]", 0) == 0) {
      done = true;
      return;
    }
    const nlohmann::json j = nlohmann::json::parse(ev.data, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      error = "malformed chunk";
      return;
    }
    if (j.contains("error")) error = j["error"].dump();
    const auto mi = j.find("meta_info");
    if (mi == j.end() || !mi->is_object()) return;
    const long ct = mi->value("completion_tokens", 0L);
    if (ct > 0 && ttft < 0) ttft = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    tokens = std::max(tokens, ct);
  });
  const remote::HttpResponse r = http.post_json("/generate", body.dump(), [&](std::string_view b) {
    sse.feed(b);
    return true;
  });
  status = r.status;
  if (r.status != 200) {
    error = "HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 120);
    return 0;
  }
  sse.finish();
  if (!done && error.empty()) error = "stream ended without [DONE]";
  return tokens;
}

Level run_level(const std::string& url, int n_clients, const Args& a) {
  Level total;
  std::mutex mu;
  const auto deadline = Clock::now() + std::chrono::seconds(a.seconds);
  std::vector<std::thread> th;
  for (int c = 0; c < n_clients; ++c) {
    th.emplace_back([&, c] {
      remote::ClientOptions co;
      co.connect_retries = 0;
      co.read_timeout_s = 600;
      remote::HttpClient http(url, co);
      std::mt19937 rng(static_cast<uint32_t>(1000 * n_clients + c));
      std::uniform_int_distribution<int32_t> tok(4, 4000);
      Level mine;
      while (Clock::now() < deadline) {
        std::vector<int32_t> prompt = {0};  // BOS, then random ids
        while (prompt.size() < static_cast<size_t>(a.prompt_len)) prompt.push_back(tok(rng));
        double ttft = -1;
        std::string err;
        int status = 0;
        long tokens = 0;
        try {
          tokens = one_request(http, prompt, a.max_new, ttft, err, status);
        } catch (const std::exception& e) {
          err = e.what();
        }
        if (!err.empty()) {
          ++mine.errors;
          if (status == 503) ++mine.busy_503;
          if (mine.first_error.empty()) mine.first_error = err;
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          continue;
        }
        ++mine.requests;
        mine.tokens += tokens;
        if (ttft >= 0) mine.ttft_ms.push_back(ttft);
      }
      std::lock_guard lk(mu);
      total.requests += mine.requests;
      total.tokens += mine.tokens;
      total.errors += mine.errors;
      total.busy_503 += mine.busy_503;
      total.ttft_ms.insert(total.ttft_ms.end(), mine.ttft_ms.begin(), mine.ttft_ms.end());
      if (total.first_error.empty()) total.first_error = mine.first_error;
    });
  }
  for (std::thread& t : th) t.join();
  return total;
}

std::vector<int> parse_list(const char* s) {
  std::vector<int> v;
  for (const char* p = s; *p;) {
    v.push_back(std::atoi(p));
    while (*p && *p != ',') ++p;
    if (*p == ',') ++p;
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (!v) {
      std::fprintf(stderr, "serve_load: %s needs a value\n", k.c_str());
      return 2;
    }
    if (k == "--seconds") a.seconds = std::atoi(v);
    else if (k == "--clients") a.clients = parse_list(v);
    else if (k == "--max-new") a.max_new = std::atoi(v);
    else if (k == "--prompt-len") a.prompt_len = std::max(1, std::atoi(v));
    else if (k == "--threads") a.threads = std::atoi(v);
    else if (k == "--max-queue") a.max_queue = std::atoi(v);
    else if (k == "--model") a.model = v;
    else if (k == "--url") a.url = v;
    else if (k == "--pid") a.pid = std::atoi(v);
    else {
      std::fprintf(stderr, "serve_load: unknown option %s (see the comment at the top of bench/serve_load.cpp)\n", k.c_str());
      return 2;
    }
    ++i;
  }
  std::unique_ptr<bench::ServeChild> child;
  std::string url = a.url;
  pid_t pid = a.pid;
  try {
    if (url.empty()) {
      child = std::make_unique<bench::ServeChild>(std::vector<std::string>{
          MLASCOPE_BINARY, "serve", "--model", a.model, "--port", "0", "--device", "cpu", "--threads", std::to_string(a.threads),
          "--max-queue", std::to_string(a.max_queue), "--kv-type", "bf16"});
      url = child->url();
      pid = child->pid();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "serve_load: %s\n", e.what());
    return 1;
  }
  std::printf("serve_load: %s, %d s per level, prompts of %d random ids, %d new tokens each (greedy; mlascope serve refuses ignore_eos, so an EOS may end one early), %u CPU cores\n",
              url.c_str(), a.seconds, a.prompt_len, a.max_new, std::thread::hardware_concurrency());
  const double rss0 = bench::rss_mib(pid);
  std::printf("server RSS before: %.1f MiB\n", rss0);
  std::printf("%7s %9s %7s %6s %12s %12s %9s %10s\n", "clients", "requests", "errors", "503s", "ttft p50 ms", "ttft p99 ms", "tok/s", "RSS MiB");
  int bad = 0;
  for (int n : a.clients) {
    const auto t0 = Clock::now();
    const Level l = run_level(url, n, a);
    const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("%7d %9d %7d %6d %12.1f %12.1f %9.1f %10.1f\n", n, l.requests, l.errors, l.busy_503, pct(l.ttft_ms, 0.5),
                pct(l.ttft_ms, 0.99), static_cast<double>(l.tokens) / wall, bench::rss_mib(pid));
    if (!l.first_error.empty()) std::printf("        first error: %s\n", l.first_error.c_str());
    if (l.errors > 0 && n <= a.max_queue + 1) ++bad;
    std::fflush(stdout);
  }
  std::printf("server RSS after: %.1f MiB\n", bench::rss_mib(pid));
  if (bad) std::printf("serve_load: errors below the queue limit (%d waiting + 1 running)\n", a.max_queue);
  return bad ? 1 : 0;
}
