// app/cmd_bench.cpp — `mlascope bench --model PATH [--threads N] [--prompt-len P] [--gen G] [--kv-type T] [--json]`:
// prefill and decode speed of the CPU engine on any model (HF folder or GGUF), the bytes a decode
// step reads (active weights + latent cache) per second, and that rate as a fraction of the
// machine's streaming read bandwidth measured on the spot with the same threads.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli_checks.h"
#include "commands.h"
#include "engine_options.h"
#include "engine/backend/backend.h"
#include "engine/error.h"
#include "engine/model/model.h"
#include "engine/trace/step_collector.h"
#include "term_progress.h"
#include "terminal_views.h"

namespace mlascope::app {

namespace fs = std::filesystem;

namespace {

struct BenchArgs {
  fs::path model;
  int threads = 0;
  int prompt_len = 64;
  int gen = 32;
  int reps = 3;
  bool no_warmup = false;
  CapturePolicy capture = CapturePolicy::Off;  // what the trace collects while timing
  bool json = false;
  bool no_bandwidth = false;
  std::string kv_type = "bf16";
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// Streaming read bandwidth with n threads over a buffer far larger than the caches (GB/s, 1e9).
double stream_read_gbs(int n_threads) {
  const size_t n = (size_t(256) << 20) / sizeof(float);
  std::vector<float> buf(n, 1.0f);
  std::vector<double> rates;
  for (int rep = 0; rep < 5; ++rep) {
    std::vector<double> part(static_cast<size_t>(n_threads), 0.0);
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < n_threads; ++t)
      pool.emplace_back([&, t] {
        const size_t b = n * size_t(t) / size_t(n_threads), e = n * size_t(t + 1) / size_t(n_threads);
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        size_t i = b;
        for (; i + 8 <= e; i += 8) {  // eight independent sums: the compiler vectorises this
          s0 += buf[i]; s1 += buf[i + 1]; s2 += buf[i + 2]; s3 += buf[i + 3];
          s4 += buf[i + 4]; s5 += buf[i + 5]; s6 += buf[i + 6]; s7 += buf[i + 7];
        }
        part[size_t(t)] = double(s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7);
      });
    for (auto& th : pool) th.join();
    const double s = seconds_since(t0);
    if (part[0] < 0) return 0;  // keeps the sums alive
    rates.push_back(double(n * sizeof(float)) / s / 1e9);
  }
  return median(rates);
}

long peak_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;  // KiB on Linux
}

void run_bench(const BenchArgs& a) {
  const int threads = a.threads > 0 ? a.threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  ModelLoadOptions lo;
  const auto t_load = std::chrono::steady_clock::now();
  const auto model = Model::load(a.model, lo);
  const double load_s = seconds_since(t_load);
  const ModelConfig& c = model->config();
  if (a.prompt_len + a.gen + 1 > c.max_position_embeddings)
    fail("bench", a.model.string(), "--prompt-len + --gen exceed max_position_embeddings (" +
                                        std::to_string(c.max_position_embeddings) + ")");
  BackendOptions bo;
  bo.device = DeviceKind::Cpu;
  bo.n_threads = threads;
  bo.max_context = a.prompt_len + a.gen + 1;
  bo.kv_dtype = kv_dtype_of(a.kv_type);
  auto backend = make_cpu_backend(*model, bo);

  // Tracing as generate/chat do it: a StepCollector fed by the forward pass, its records taken
  // (and dropped) after every step, so the figures include what the workbench pays to see inside.
  StepCollector collector(c);
  collector.set_capture(CaptureSettings{a.capture, ~0ull});
  TraceSink* sink = a.capture == CapturePolicy::Off ? nullptr : &collector;
  StepRecord scratch_record;
  // One forward call as generate runs it: trace slots opened before, records taken after.
  std::vector<float> logits;
  auto forward = [&](std::span<const int32_t> tokens, int start_pos) {
    ForwardRequest req;
    req.tokens = tokens;
    req.start_pos = start_pos;
    req.trace = sink;
    const int n = static_cast<int>(tokens.size());
    if (sink) collector.begin(start_pos, n);
    backend->forward(req, logits);
    if (sink)
      for (int p = start_pos; p < start_pos + n; ++p) collector.take(p, scratch_record);
  };

  std::mt19937 rng(7);
  std::vector<int32_t> prompt(static_cast<size_t>(a.prompt_len));
  for (auto& id : prompt) id = static_cast<int32_t>(rng() % static_cast<uint32_t>(c.vocab_size));
  std::vector<double> prefill_s, decode_s;
  uint64_t kv_bytes_sum = 0;
  if (!a.no_warmup) {
    // Untimed, as llama-bench does: maps the weights' pages and sizes the scratch buffers, so
    // the timed runs measure the steady state rather than first-touch page faults.
    backend->truncate(0);
    forward(prompt, 0);
    const int32_t first = 0;
    if (a.gen > 0) forward(std::span<const int32_t>(&first, 1), a.prompt_len);
  }
  for (int rep = 0; rep < std::max(1, a.reps); ++rep) {
    backend->truncate(0);
    auto t0 = std::chrono::steady_clock::now();
    forward(prompt, 0);
    prefill_s.push_back(seconds_since(t0));
    kv_bytes_sum = 0;
    t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < a.gen; ++i) {
      const int32_t next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
      kv_bytes_sum += backend->kv_bytes_in_use();  // attention reads the whole cache each step
      forward(std::span<const int32_t>(&next, 1), a.prompt_len + i);
    }
    decode_s.push_back(seconds_since(t0));
  }
  const double pf = median(prefill_s), dc = median(decode_s);
  const double ms_per_token = a.gen > 0 ? dc * 1e3 / a.gen : 0.0;
  const double bytes_per_token = double(model->weight_bytes_per_token()) + (a.gen > 0 ? double(kv_bytes_sum) / a.gen : 0.0);
  const double decode_gbs = a.gen > 0 ? bytes_per_token / (dc / a.gen) / 1e9 : 0.0;
  const long rss_kib = peak_rss_kib();  // before the bandwidth buffer inflates it
  const double stream_gbs = a.no_bandwidth ? 0.0 : stream_read_gbs(threads);

  nlohmann::json j;
  j["model"] = a.model.string();
  j["backend"] = backend->name();
  j["threads"] = threads;
  j["capture"] = to_string(a.capture);
  j["kv_dtype"] = to_string(backend->kv_dtype());
  j["kv_bytes_at_end"] = backend->kv_bytes_in_use();
  j["prompt_len"] = a.prompt_len;
  j["gen"] = a.gen;
  j["load_s"] = load_s;
  j["prefill_tokens_per_s"] = a.prompt_len / pf;
  j["decode_tokens_per_s"] = a.gen > 0 ? a.gen / dc : 0.0;
  j["decode_ms_per_token"] = ms_per_token;
  j["weight_bytes"] = model->weight_bytes();
  j["decode_bytes_per_token"] = bytes_per_token;
  j["decode_effective_gb_per_s"] = decode_gbs;
  j["stream_read_gb_per_s"] = stream_gbs;
  j["bandwidth_ratio"] = stream_gbs > 0 ? decode_gbs / stream_gbs : 0.0;
  j["peak_rss_bytes"] = static_cast<uint64_t>(rss_kib) * 1024;
  if (a.json) {
    std::printf("%s\n", dump_json(j, -1).c_str());
    return;
  }
  std::printf("%s  (%s, %d threads, capture %s, KV cache %s)\n", a.model.string().c_str(), backend->name().c_str(),
              threads, to_string(a.capture), to_string(backend->kv_dtype()));
  std::printf("  prefill  %d tokens   %9.1f tokens/s\n", a.prompt_len, a.prompt_len / pf);
  if (a.gen > 0)
    std::printf("  decode   %d tokens   %9.1f tokens/s   %.2f ms/token\n", a.gen, a.gen / dc, ms_per_token);
  std::printf("  decode reads %s/token (active weights + latent cache in %s): %.2f GB/s", format_bytes(bytes_per_token).c_str(),
              to_string(backend->kv_dtype()), decode_gbs);
  if (stream_gbs > 0) std::printf(" = %.0f%% of streaming read bandwidth (%.2f GB/s)", 100.0 * decode_gbs / stream_gbs, stream_gbs);
  std::printf("\n  weights %s, load %.2fs, peak RSS %s\n", format_bytes(double(model->weight_bytes())).c_str(), load_s,
              format_bytes(double(rss_kib) * 1024).c_str());
}

}  // namespace

void register_bench(CLI::App& root, CommandContext& ctx) {
  auto a = std::make_shared<BenchArgs>();
  CLI::App* cmd = root.add_subcommand("bench", "CPU prefill/decode speed, effective GB/s and its ratio to memory bandwidth");
  cmd->add_option("--model", a->model, "HF folder or .gguf file")->required();
  add_threads_option(cmd, a->threads);
  cmd->add_option("--prompt-len", a->prompt_len, "prompt tokens (random ids) for prefill")->check(in_range(1, 1 << 20));
  cmd->add_option("--gen", a->gen, "tokens to decode (greedy)")->check(in_range(0, 1 << 20));
  cmd->add_option("--reps", a->reps, "repetitions; the median is reported")->check(in_range(1, 100));
  add_mmap_flag(cmd);
  add_capture_option(cmd, a->capture, "trace while timing, as a recording chat does: off, routing, attention, everything");
  add_kv_type_option(cmd, a->kv_type);
  cmd->add_flag("--no-warmup", a->no_warmup, "time the first run too (by default an untimed run comes first)");
  cmd->add_flag("--no-bandwidth", a->no_bandwidth, "skip the streaming-bandwidth measurement");
  cmd->add_flag("--json", a->json, "one JSON line");
  cmd->callback([a, &ctx] {
    run_bench(*a);
    ctx.exit_code = 0;
  });
}

}  // namespace mlascope::app
