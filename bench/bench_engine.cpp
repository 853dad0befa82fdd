// bench/bench_engine.cpp — CPU engine speed on the bundled demo model: prefill and decode tokens/s
// with 1 and 2 threads for both MLA forms (median of several runs), peak RSS, the bytes of weights
// and KV cache one decode step reads, the effective GB/s that implies, and a plain streaming-read
// bandwidth of this machine to compare it with. Prints figures; asserts nothing.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/model/model.h"

using namespace mlascope;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kPrompt = 128;
constexpr int kDecode = 64;
constexpr int kRuns = 5;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// GB/s of summing a buffer much larger than the caches, split over `threads`.
double stream_read_gbps(int threads) {
  const size_t n = size_t{64} << 20;  // 64 Mi floats = 256 MiB
  std::vector<float> buf(n, 1.0f);
  std::vector<double> rates;
  for (int run = 0; run < kRuns; ++run) {
    std::vector<double> sums(static_cast<size_t>(threads));
    const auto t0 = Clock::now();
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
      ts.emplace_back([&, t] {
        const size_t b = n * static_cast<size_t>(t) / static_cast<size_t>(threads);
        const size_t e = n * static_cast<size_t>(t + 1) / static_cast<size_t>(threads);
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (size_t i = b; i + 8 <= e; i += 8)
          for (int k = 0; k < 8; ++k) acc[k] += buf[i + static_cast<size_t>(k)];
        sums[static_cast<size_t>(t)] = std::accumulate(acc, acc + 8, 0.0);
      });
    for (auto& t : ts) t.join();
    const double s = seconds_since(t0);
    if (std::accumulate(sums.begin(), sums.end(), 0.0) != static_cast<double>(n)) std::printf("(bad sum)\n");
    rates.push_back(static_cast<double>(n * sizeof(float)) / s / 1e9);
  }
  return median(rates);
}

struct Figures {
  double prefill_tps = 0, decode_tps = 0;
  uint64_t kv_bytes_per_token_read = 0;
};

Figures measure(const Model& model, MlaMode mode, int threads, const std::vector<int32_t>& prompt) {
  BackendOptions o;
  o.device = DeviceKind::Cpu;
  o.n_threads = threads;
  o.mla = mode;
  o.max_context = kPrompt + kDecode + 1;
  auto be = make_cpu_backend(model, o);
  std::vector<double> prefill, decode;
  std::vector<float> logits;
  uint64_t kv_mid = 0;
  for (int run = 0; run < kRuns + 1; ++run) {  // run 0 warms caches and page-ins
    be->truncate(0);
    ForwardRequest r;
    r.tokens = prompt;
    auto t0 = Clock::now();
    be->forward(r, logits);
    const double tp = seconds_since(t0);
    std::vector<double> steps;
    for (int i = 0; i < kDecode; ++i) {
      const int32_t id = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      ForwardRequest d;
      d.tokens = std::span<const int32_t>(&id, 1);
      d.start_pos = kPrompt + i;
      t0 = Clock::now();
      be->forward(d, logits);
      steps.push_back(seconds_since(t0));
      if (i == kDecode / 2) kv_mid = be->kv_bytes_in_use();
    }
    if (run == 0) continue;
    prefill.push_back(kPrompt / tp);
    decode.push_back(1.0 / median(steps));
  }
  Figures f;
  f.prefill_tps = median(prefill);
  f.decode_tps = median(decode);
  f.kv_bytes_per_token_read = kv_mid;  // a decode step reads the whole cache once
  return f;
}

}  // namespace

int main() {
  const auto model = Model::load(std::string(MLASCOPE_ASSETS) + "/models/mla-moe-demo");
  const ModelConfig& c = model->config();
  std::mt19937 rng(1);
  std::vector<int32_t> prompt(kPrompt);
  for (auto& id : prompt) id = static_cast<int32_t>(rng() % static_cast<uint32_t>(c.vocab_size));

  const double w_bytes = static_cast<double>(model->weight_bytes_per_token());
  std::printf("demo model: %s, weights %.1f MiB stored, %.2f MiB read per decode step (active experts only)\n",
              model->name().c_str(), model->weight_bytes() / 1048576.0, w_bytes / 1048576.0);
  std::printf("prompt %d tokens, then %d decode steps; median of %d runs\n\n", kPrompt, kDecode, kRuns);
  std::printf("%-9s %7s %12s %12s %16s %12s\n", "mla", "threads", "prefill t/s", "decode t/s", "bytes/token", "eff. GB/s");
  for (MlaMode mode : {MlaMode::Naive, MlaMode::Absorbed})
    for (int threads : {1, 2}) {
      const Figures f = measure(*model, mode, threads, prompt);
      const double bytes = w_bytes + static_cast<double>(f.kv_bytes_per_token_read);
      std::printf("%-9s %7d %12.1f %12.1f %10.2f MiB %12.2f\n", to_string(mode), threads, f.prefill_tps, f.decode_tps,
                  bytes / 1048576.0, bytes * f.decode_tps / 1e9);
    }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("\npeak RSS after the engine runs: %.1f MiB\n", static_cast<double>(ru.ru_maxrss) / 1024.0);
  std::printf("streaming read bandwidth: %.2f GB/s (1 thread), %.2f GB/s (2 threads)\n", stream_read_gbps(1),
              stream_read_gbps(2));
  return 0;
}
