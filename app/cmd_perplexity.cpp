// app/cmd_perplexity.cpp — `mlascope perplexity --model M --file TEXT [--ctx 512] [--chunks N]
// [--save-logits F] [--kl-base F] [--json]`: perplexity by llama-perplexity's method (BOS per chunk,
// the second half of each chunk scored; engine/perplexity.h), and with --kl-base the KL divergence,
// top-1 agreement and next-token log-prob differences against another run's logits. --save-logits
// and --kl-base use llama.cpp's --kl-divergence-base file format, so either engine can be the base.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli_checks.h"
#include "commands.h"
#include "engine_options.h"
#include "engine/backend/backend.h"
#include "engine/error.h"
#include "engine/model/model.h"
#include "engine/perplexity.h"
#include "engine/tokenizer/tokenizer.h"
#include "term_progress.h"
#include "terminal_views.h"

namespace mlascope::app {

namespace fs = std::filesystem;

namespace {

constexpr int kDefaultCtx = 512;

struct PerplexityArgs {
  EngineArgs engine;
  fs::path file;
  int chunks = -1;
  int batch = 128;
  fs::path save_logits;
  fs::path kl_base;
  bool json = false;
};

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary | std::ios::ate);
  if (!f) fail("perplexity", p.string(), "cannot open the file");
  std::string s(static_cast<size_t>(std::max<std::streamoff>(0, f.tellg())), '\0');
  f.seekg(0);
  if (!f.read(s.data(), static_cast<std::streamsize>(s.size()))) fail("perplexity", p.string(), "read error");
  // llama-perplexity -f drops one final newline; so do we, so both engines see the same text.
  if (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

Tokenizer model_tokenizer(const Model& m) {
  if (const TokenizerParts* parts = m.embedded_tokenizer()) return Tokenizer::from_parts(*parts, m.name());
  const fs::path dir = fs::is_directory(m.path()) ? m.path() : m.path().parent_path();
  return Tokenizer::from_dir(dir);
}

// Chunks done, running PPL and ETA on one redrawn line (terminals only).
class ChunkProgress {
 public:
  explicit ChunkProgress(bool on) : on_(on), t0_(std::chrono::steady_clock::now()) {}
  void update(int done, int total, double ppl) {
    if (!on_) return;
    const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    const double eta = done > 0 ? el / done * (total - done) : -1;
    constexpr int kWidth = 30;
    const int fill = total > 0 ? kWidth * done / total : 0;
    std::fprintf(stderr, "\rperplexity [%s%s] %d/%d chunks  PPL %.4f  ETA %s   ", std::string(static_cast<size_t>(fill), '#').c_str(),
                 std::string(static_cast<size_t>(kWidth - fill), '.').c_str(), done, total, ppl,
                 format_duration(eta).c_str());
    if (done == total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }

 private:
  bool on_;
  std::chrono::steady_clock::time_point t0_;
};

double covariance(double sum_a, double sum_b, double sum_ab, uint64_t n) {
  if (n < 2) return 0.0;
  const double na = static_cast<double>(n);
  return (sum_ab / na - (sum_a / na) * (sum_b / na)) / (na - 1);
}

std::vector<float> absolute(std::vector<float> v) {
  for (float& x : v) x = std::fabs(x);
  return v;
}

int run_perplexity_cmd(const PerplexityArgs& a) {
  if (a.file.empty() && a.kl_base.empty()) fail("perplexity", "", "give --file TEXT (or --kl-base F, whose tokens are scored)");
  std::unique_ptr<LogitsFile> base;
  if (!a.kl_base.empty()) base = std::make_unique<LogitsFile>(a.kl_base);

  std::shared_ptr<Model> model = load_model(a.engine, "perplexity");
  const ModelConfig& c = model->config();
  int n_ctx = a.engine.max_context > 0 ? a.engine.max_context : std::min(kDefaultCtx, c.max_position_embeddings);
  if (base) {
    if (a.engine.max_context > 0 && a.engine.max_context != base->n_ctx())
      fail("perplexity", "--ctx", std::to_string(a.engine.max_context) + " differs from the " + std::to_string(base->n_ctx()) +
                                      " of " + a.kl_base.string() + " (leave --ctx out to use it)");
    n_ctx = base->n_ctx();
    if (base->n_vocab() != c.vocab_size)
      fail("perplexity", a.kl_base.string(), "n_vocab = " + std::to_string(base->n_vocab()) + " but the model's vocab_size is " +
                                                 std::to_string(c.vocab_size));
  }
  if (n_ctx > c.max_position_embeddings)
    fail("perplexity", "--ctx", std::to_string(n_ctx) + " exceeds the model's max_position_embeddings " +
                                    std::to_string(c.max_position_embeddings));
  const Tokenizer tok = model_tokenizer(*model);
  const int32_t bos = tok.add_bos() ? tok.bos_id() : -1;

  // The tokens: BOS + the text, or the base file's own (so both runs score identical ids).
  std::vector<int32_t> tokens;
  std::string token_note;
  if (!a.file.empty()) {
    const std::string text = read_text(a.file);
    if (bos >= 0) tokens.push_back(bos);
    const std::vector<int32_t> body = tok.encode(text);
    tokens.insert(tokens.end(), body.begin(), body.end());
  }
  if (base) {
    const auto bt = base->tokens();
    if (!tokens.empty()) {
      size_t i = 0;
      while (i < bt.size() && i < tokens.size() && bt[i] == tokens[i]) ++i;
      token_note = i == bt.size() ? "the text tokenizes to the base file's ids"
                                  : "the text's ids differ from the base file's at token #" + std::to_string(i) +
                                        "; scoring the base file's ids";
    }
    tokens.assign(bt.begin(), bt.end());
  }

  BackendOptions bo = backend_options(a.engine);
  bo.max_context = n_ctx;
  std::unique_ptr<Backend> backend = make_backend(*model, bo);

  PerplexityOptions po;
  po.n_ctx = n_ctx;
  po.n_chunks = a.chunks;
  po.n_batch = a.batch;
  // With a base file, BOS goes in front of each chunk exactly when the base run put one first
  // (llama.cpp decides by its vocabulary's add_bos; its saved ids start with BOS when it did).
  po.bos_id = base ? (!tokens.empty() && tok.bos_id() >= 0 && tokens.front() == tok.bos_id() ? tok.bos_id() : -1) : bos;
  const int n_chunk_max = static_cast<int>(tokens.size() / static_cast<size_t>(n_ctx));
  const int n_chunk = a.chunks < 0 ? n_chunk_max : std::min(a.chunks, n_chunk_max);
  std::unique_ptr<LogitsFileWriter> save;
  if (!a.save_logits.empty() && n_chunk > 0)
    save = std::make_unique<LogitsFileWriter>(a.save_logits, n_ctx, c.vocab_size, n_chunk,
                                              std::span<const int32_t>(tokens.data(), static_cast<size_t>(n_chunk) * n_ctx));
  ChunkProgress bar(!a.json && isatty(STDERR_FILENO));
  const auto t0 = std::chrono::steady_clock::now();
  const PerplexityResult r = run_perplexity(*backend, c.vocab_size, tokens, po, save.get(), base.get(),
                                            [&](int d, int t, const PerplexityResult& so_far) { bar.update(d, t, so_far.ppl()); });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (save) save->finish();

  const std::string scored = "second half of each chunk (" + std::to_string(r.scored_per_chunk) + " of " +
                             std::to_string(n_ctx) + " positions; BOS first in every chunk), as llama-perplexity";
  nlohmann::json j;
  j["model"] = model->name();
  j["text"] = a.file.empty() ? a.kl_base.string() : a.file.string();
  j["backend"] = backend->name();
  j["mla"] = to_string(backend->mla_mode());
  j["kv_dtype"] = to_string(backend->kv_dtype());
  j["n_ctx"] = n_ctx;
  j["n_chunk"] = r.n_chunk;
  j["n_tokens"] = tokens.size();
  j["scored"] = scored;
  j["scored_tokens"] = r.nll.n;
  j["nll_mean"] = r.nll.mean();
  j["ppl"] = r.ppl();
  j["ppl_stderr"] = r.ppl_stderr();
  j["chunk_ppl"] = r.chunk_ppl;
  j["seconds"] = seconds;
  if (!a.save_logits.empty()) j["saved_logits"] = a.save_logits.string();
  if (base) {
    const KlComparison& k = r.kl;
    const double ppl_base = std::exp(k.nll_base.mean());
    const double se = r.nll.stderr_of_mean(), se_base = k.nll_base.stderr_of_mean();
    const double cov = covariance(r.nll.sum, k.nll_base.sum, k.sum_nll_nll_base, k.n);
    const double ratio_unc = std::sqrt(std::max(0.0, se * se + se_base * se_base - 2.0 * cov));
    const double top1 = k.n ? static_cast<double>(k.same_top) / static_cast<double>(k.n) : 0.0;
    const std::vector<float> abs_d = absolute(k.dlogprob);
    double abs_mean = 0, d_mean = 0;
    for (float x : k.dlogprob) d_mean += x;
    for (float x : abs_d) abs_mean += x;
    if (k.n) d_mean /= static_cast<double>(k.n), abs_mean /= static_cast<double>(k.n);
    nlohmann::json kl;
    kl["base"] = a.kl_base.string();
    if (!token_note.empty()) kl["tokens"] = token_note;
    kl["positions"] = k.n;
    kl["ppl_base"] = ppl_base;
    kl["ln_ppl_ratio"] = r.nll.mean() - k.nll_base.mean();
    kl["ln_ppl_ratio_stderr"] = ratio_unc;
    kl["kld_mean"] = k.kld.mean();
    kl["kld_stderr"] = k.kld.stderr_of_mean();
    kl["kld_median"] = percentile(k.kld_values, 0.5);
    kl["kld_p90"] = percentile(k.kld_values, 0.9);
    kl["kld_p99"] = percentile(k.kld_values, 0.99);
    kl["kld_max"] = percentile(k.kld_values, 1.0);
    kl["top1_agreement"] = top1;
    kl["top1_stderr"] = k.n > 1 ? std::sqrt(top1 * (1 - top1) / static_cast<double>(k.n - 1)) : 0.0;
    kl["dlogprob_mean"] = d_mean;
    kl["dlogprob_abs_mean"] = abs_mean;
    kl["dlogprob_abs_median"] = percentile(abs_d, 0.5);
    kl["dlogprob_abs_p90"] = percentile(abs_d, 0.9);
    kl["dlogprob_abs_p99"] = percentile(abs_d, 0.99);
    kl["dlogprob_abs_max"] = percentile(abs_d, 1.0);
    kl["dlogprob_p01"] = percentile(k.dlogprob, 0.01);
    kl["dlogprob_p99"] = percentile(k.dlogprob, 0.99);
    kl["p_diff_rms"] = std::sqrt(k.p_diff2.mean());
    j["kl"] = kl;
  }
  if (a.json) {
    std::printf("%s\n", dump_json(j, -1).c_str());
    return 0;
  }
  std::printf("perplexity of %s on %s\n", model->name().c_str(), j["text"].get<std::string>().c_str());
  std::printf("  %zu tokens, %d chunks of %d; scored: %s; %s, MLA %s, KV cache %s\n", tokens.size(), r.n_chunk, n_ctx,
              scored.c_str(), backend->name().c_str(), to_string(backend->mla_mode()), to_string(backend->kv_dtype()));
  std::printf("  PPL = %.4f +/- %.5f  (mean NLL %.5f nats over %llu scored tokens, %.1f s)\n", r.ppl(), r.ppl_stderr(),
              r.nll.mean(), static_cast<unsigned long long>(r.nll.n), seconds);
  if (save) std::printf("  log-probs saved to %s (llama.cpp --kl-divergence-base format)\n", a.save_logits.string().c_str());
  if (base) {
    const nlohmann::json& kl = j["kl"];
    std::printf("against %s (%llu positions%s%s)\n", a.kl_base.string().c_str(),
                static_cast<unsigned long long>(r.kl.n), token_note.empty() ? "" : "; ", token_note.c_str());
    std::printf("  base PPL %.4f;  ln(PPL/PPL_base) = %.5f +/- %.5f\n", kl["ppl_base"].get<double>(),
                kl["ln_ppl_ratio"].get<double>(), kl["ln_ppl_ratio_stderr"].get<double>());
    std::printf("  KL(base||this) nats: mean %.6f +/- %.6f, median %.6f, p90 %.6f, p99 %.6f, max %.6f\n",
                kl["kld_mean"].get<double>(), kl["kld_stderr"].get<double>(), kl["kld_median"].get<double>(),
                kl["kld_p90"].get<double>(), kl["kld_p99"].get<double>(), kl["kld_max"].get<double>());
    std::printf("  top-1 agreement: %.2f %% +/- %.2f %%\n", 100.0 * kl["top1_agreement"].get<double>(),
                100.0 * kl["top1_stderr"].get<double>());
    std::printf("  next-token log-prob, this - base (nats): mean %+.5f; |diff| mean %.5f, median %.5f, p90 %.5f, p99 %.5f, max %.5f\n",
                kl["dlogprob_mean"].get<double>(), kl["dlogprob_abs_mean"].get<double>(),
                kl["dlogprob_abs_median"].get<double>(), kl["dlogprob_abs_p90"].get<double>(),
                kl["dlogprob_abs_p99"].get<double>(), kl["dlogprob_abs_max"].get<double>());
    std::printf("  next-token probability difference: RMS %.3f %%\n", 100.0 * kl["p_diff_rms"].get<double>());
  }
  return 0;
}

}  // namespace

void register_perplexity(CLI::App& root, CommandContext& ctx) {
  auto a = std::make_shared<PerplexityArgs>();
  CLI::App* cmd = root.add_subcommand(
      "perplexity", "perplexity on a text (llama-perplexity's method), and KL divergence against another run's logits. Local weights "
      "only: there is no --server, because KL divergence and --save-logits need every logit, which servers do not "
      "return (their prompt logprobs cover a few top tokens)");
  add_engine_options(cmd, a->engine);
  cmd->add_option("--file", a->file, "the text (raw bytes; one final newline dropped, as llama-perplexity does)");
  cmd->add_option("--chunks", a->chunks, "evaluate at most N chunks (default: all whole chunks)")->check(positive());
  cmd->add_option("--batch", a->batch, "tokens per forward call in the scored half")->check(in_range(1, 1 << 16));
  cmd->add_option("--save-logits", a->save_logits,
                  "write the scored positions' log-probs (llama.cpp --kl-divergence-base format) for a later --kl-base");
  cmd->add_option("--kl-base", a->kl_base,
                  "compare with a saved run (ours or llama-perplexity --kl-divergence-base): KL divergence, top-1 "
                  "agreement, log-prob differences; its tokens and n_ctx are used");
  cmd->add_flag("--json", a->json, "one JSON object");
  cmd->callback([a, &ctx] { ctx.exit_code = run_perplexity_cmd(*a); });
}

}  // namespace mlascope::app
