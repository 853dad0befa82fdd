// tests/engine/test_perplexity.cpp — perplexity and the logits-file comparison against independent
// computations: the official reference's logits of a golden prompt (log-softmax taken here, in
// double), a second formulation (each chunk evaluated with plain forward calls and scored here),
// llama.cpp's file layout read back by hand, and the identities a comparison must satisfy (a run
// against its own saved logits: KL 0, top-1 100 %).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/error.h"
#include "engine/model/model.h"
#include "engine/perplexity.h"
#include "support/data_paths.h"
#include "support/golden.h"

using namespace mlascope;
namespace fs = std::filesystem;

namespace {

double nll_ref(const float* logits, int V, int tok) {
  double m = logits[0];
  for (int i = 1; i < V; ++i) m = std::max(m, double(logits[i]));
  double s = 0;
  for (int i = 0; i < V; ++i) s += std::exp(double(logits[i]) - m);
  return m + std::log(s) - logits[tok];
}

std::unique_ptr<Backend> cpu_backend(const Model& m, int ctx, MlaMode mode = MlaMode::Absorbed) {
  BackendOptions o;
  o.device = DeviceKind::Cpu;
  o.n_threads = 2;
  o.max_context = ctx;
  o.mla = mode;
  return make_cpu_backend(m, o);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Perplexity, TokenNllIsMinusLogSoftmax) {
  std::mt19937 rng(3);
  std::normal_distribution<float> n(0.0f, 4.0f);
  std::vector<float> l(1000);
  for (float& x : l) x = n(rng);
  l[17] = 40.0f;  // a dominant logit: the max shift must keep exp() finite
  for (int tok : {0, 17, 999})
    EXPECT_NEAR(token_nll(l.data(), 1000, tok), nll_ref(l.data(), 1000, tok), 1e-4) << tok;
}

// One chunk = the golden prompt: the scored positions' NLL must be those of the official
// implementation's logits for the same prompt.
TEST(Perplexity, MatchesTheReferenceLogitsOfAGoldenPrompt) {
  const auto dir = test::data_path("golden/v3-tiny");
  const test::Golden g(dir);
  std::shared_ptr<Model> m = Model::load(dir);
  const std::vector<int32_t> ids = g.prompt_ids();
  const test::GoldenTensor& ref = g.tensor("logits");
  const int T = static_cast<int>(ids.size()), V = static_cast<int>(ref.dim(1));
  ASSERT_EQ(V, m->config().vocab_size);
  double sum = 0;
  int n = 0;
  for (int pos = T / 2; pos <= T - 2; ++pos, ++n) sum += nll_ref(ref.row(pos), V, ids[size_t(pos + 1)]);
  const double want_ppl = std::exp(sum / n);

  auto be = cpu_backend(*m, T);
  PerplexityOptions o;
  o.n_ctx = T;
  o.n_batch = 7;  // uneven batches through the scored half
  const PerplexityResult r = run_perplexity(*be, V, ids, o, nullptr, nullptr);
  EXPECT_EQ(r.n_chunk, 1);
  EXPECT_EQ(r.scored_per_chunk, T - 1 - T / 2);
  EXPECT_EQ(r.nll.n, uint64_t(n));
  EXPECT_NEAR(r.ppl(), want_ppl, 2e-3 * want_ppl);
  EXPECT_GT(r.ppl_stderr(), 0.0);
}

// Several chunks, BOS in front of each: the same numbers from plain forward calls scored here.
TEST(Perplexity, ChunksWithBosEqualPlainForwardCallsScoredByHand) {
  const auto dir = test::asset_path("models/mla-moe-demo");
  std::shared_ptr<Model> m = Model::load(dir);
  const int V = m->config().vocab_size, ctx = 24;
  std::mt19937 rng(11);
  std::vector<int32_t> tokens(3 * ctx + 5);  // 3 whole chunks and a remainder that is not used
  for (int32_t& t : tokens) t = static_cast<int32_t>(2 + rng() % uint32_t(V - 2));
  const int32_t bos = 0;

  double sum = 0, sum2 = 0;
  int n = 0;
  {
    auto be = cpu_backend(*m, ctx);
    std::vector<float> logits;
    for (int c = 0; c < 3; ++c) {
      std::vector<int32_t> chunk(tokens.begin() + c * ctx, tokens.begin() + (c + 1) * ctx);
      chunk[0] = bos;
      be->truncate(0);
      ForwardRequest req;
      req.tokens = chunk;
      req.all_logits = true;
      ASSERT_EQ(be->forward(req, logits), StepStatus::Ok);
      for (int pos = ctx / 2; pos <= ctx - 2; ++pos, ++n) {
        const double v = nll_ref(logits.data() + size_t(pos) * size_t(V), V, chunk[size_t(pos + 1)]);
        sum += v, sum2 += v * v;
      }
    }
  }
  auto be = cpu_backend(*m, ctx);
  PerplexityOptions o;
  o.n_ctx = ctx;
  o.bos_id = bos;
  o.n_batch = 5;
  std::vector<int> seen;
  const PerplexityResult r =
      run_perplexity(*be, V, tokens, o, nullptr, nullptr, [&](int d, int t, const PerplexityResult&) { seen.push_back(d * 10 + t); });
  EXPECT_EQ(seen, (std::vector<int>{13, 23, 33}));
  EXPECT_EQ(r.n_chunk, 3);
  ASSERT_EQ(r.nll.n, uint64_t(n));
  EXPECT_NEAR(r.nll.mean(), sum / n, 1e-4);
  const double var = sum2 / n - (sum / n) * (sum / n);
  EXPECT_NEAR(r.nll.stderr_of_mean(), std::sqrt(var / (n - 1)), 1e-5);
  EXPECT_NEAR(r.chunk_ppl.back(), r.ppl(), 1e-9);

  // --chunks 2 stops after two
  o.n_chunks = 2;
  EXPECT_EQ(run_perplexity(*be, V, tokens, o, nullptr, nullptr).n_chunk, 2);
  // a text shorter than one chunk is an error, not a PPL of nothing
  const std::vector<int32_t> few(tokens.begin(), tokens.begin() + ctx - 1);
  EXPECT_NE(error_of([&] { run_perplexity(*be, V, few, o, nullptr, nullptr); }).find("fewer than one chunk"), std::string::npos);
}

// The saved file has llama.cpp's layout (read here by hand), and a run compared with its own saved
// logits shows no divergence.
TEST(Perplexity, SavedLogitsFollowLlamaCppLayoutAndSelfComparisonIsZero) {
  const auto dir = test::asset_path("models/mla-moe-demo");
  std::shared_ptr<Model> m = Model::load(dir);
  const int V = m->config().vocab_size, ctx = 16;
  std::mt19937 rng(5);
  std::vector<int32_t> tokens(2 * ctx);
  for (int32_t& t : tokens) t = static_cast<int32_t>(2 + rng() % uint32_t(V - 2));
  const fs::path out = test::temp_dir("ppl") / "base.kld";
  auto be = cpu_backend(*m, ctx);
  PerplexityOptions o;
  o.n_ctx = ctx;
  o.bos_id = 0;
  PerplexityResult first;
  {
    LogitsFileWriter w(out, ctx, V, 2, tokens);
    first = run_perplexity(*be, V, tokens, o, &w, nullptr);
    w.finish();
  }
  // By hand: "_logits_", n_ctx, n_vocab, n_chunk, tokens, then rows of 2*((V+1)/2)+4 uint16.
  std::ifstream f(out, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const int rows = 2 * (ctx - 1 - ctx / 2);
  const size_t nv = size_t(2 * ((V + 1) / 2) + 4);
  ASSERT_EQ(bytes.size(), 8 + 12 + tokens.size() * 4 + size_t(rows) * nv * 2);
  EXPECT_EQ(std::string(bytes.data(), 8), "_logits_");
  int32_t h[3];
  std::memcpy(h, bytes.data() + 8, 12);
  EXPECT_EQ(h[0], ctx);
  EXPECT_EQ(h[1], V);
  EXPECT_EQ(h[2], 2);
  std::vector<int32_t> back(tokens.size());
  std::memcpy(back.data(), bytes.data() + 20, back.size() * 4);
  EXPECT_EQ(back, tokens);
  // The first row's log-probs against a direct evaluation: within one quantization step.
  {
    std::vector<int32_t> chunk(tokens.begin(), tokens.begin() + ctx);
    chunk[0] = 0;
    be->truncate(0);
    std::vector<float> logits;
    ForwardRequest req;
    req.tokens = chunk;
    req.all_logits = true;
    ASSERT_EQ(be->forward(req, logits), StepStatus::Ok);
    const float* l = logits.data() + size_t(ctx / 2) * size_t(V);
    const char* row = bytes.data() + 20 + tokens.size() * 4;
    float scale, min_lp;
    std::memcpy(&scale, row, 4);
    std::memcpy(&min_lp, row + 4, 4);
    EXPECT_GT(scale, 0.0f);
    EXPECT_LE(scale, 16.0f / 65535 + 1e-7f);
    int checked = 0;
    for (int i = 0; i < V; ++i) {
      const double lp = -nll_ref(l, V, i);
      if (lp < min_lp + 1e-3) continue;  // clamped: below max - 16 nats
      uint16_t q;
      std::memcpy(&q, row + 8 + 2 * i, 2);
      EXPECT_NEAR(scale * q + min_lp, lp, scale * 0.51 + 1e-5) << i;
      ++checked;
    }
    EXPECT_GT(checked, V / 4);
  }

  const LogitsFile base(out);
  EXPECT_EQ(base.n_ctx(), ctx);
  EXPECT_EQ(base.rows_per_chunk(), ctx - 1 - ctx / 2);
  const PerplexityResult r = run_perplexity(*be, V, base.tokens(), o, nullptr, &base);
  ASSERT_TRUE(r.has_base);
  EXPECT_EQ(r.kl.n, uint64_t(rows));
  EXPECT_EQ(r.kl.same_top, r.kl.n);
  // what remains is the 16-bit quantization of the saved log-probs (steps of at most 16/65535 nats)
  EXPECT_LT(r.kl.kld.mean(), 2e-5);
  std::printf("self comparison: KL mean %.3g; naive MLA + bf16 cache: ", r.kl.kld.mean());
  EXPECT_NEAR(r.ppl(), first.ppl(), 1e-9);
  EXPECT_NEAR(std::exp(r.kl.nll_base.mean()), r.ppl(), 1e-3 * r.ppl());
  for (float d : r.kl.dlogprob) EXPECT_LE(std::fabs(d), 16.0 / 65535 + 1e-5);

  // A different computation (naive MLA, bf16 cache) shows a small but non-zero divergence.
  BackendOptions bo;
  bo.device = DeviceKind::Cpu;
  bo.n_threads = 2;
  bo.max_context = ctx;
  bo.mla = MlaMode::Naive;
  bo.kv_dtype = KvDType::BF16;
  auto other = make_cpu_backend(*m, bo);
  const PerplexityResult d = run_perplexity(*other, V, base.tokens(), o, nullptr, &base);
  std::printf("KL mean %.3g, top-1 %.4f\n", d.kl.kld.mean(), double(d.kl.same_top) / double(d.kl.n));
  EXPECT_GT(d.kl.kld.mean(), r.kl.kld.mean());
  EXPECT_LT(d.kl.kld.mean(), 1e-2);
  EXPECT_GE(double(d.kl.same_top) / double(d.kl.n), 0.9);
  fs::remove_all(out.parent_path());
}

TEST(Perplexity, BadLogitsFilesAreOneLineErrors) {
  const fs::path dir = test::temp_dir("ppl-bad");
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir / name, std::ios::binary) << bytes;
    return dir / name;
  };
  auto expect = [&](const fs::path& p, const std::string& what) {
    const std::string e = error_of([&] { LogitsFile f(p); });
    EXPECT_EQ(e.rfind("[perplexity] " + p.string() + ": ", 0), 0u) << e;
    EXPECT_NE(e.find(what), std::string::npos) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  };
  auto header = [](int32_t ctx, int32_t vocab, int32_t chunks) {
    std::string s = "_logits_";
    for (int32_t v : {ctx, vocab, chunks}) s.append(reinterpret_cast<const char*>(&v), 4);
    return s;
  };
  expect(write("magic", "_logitz_" + std::string(20, '\0')), "not a logits file");
  expect(write("short", "_log"), "not a logits file");
  expect(write("ctx", header(1 << 30, 10, 1)), "n_ctx");
  expect(write("vocab", header(8, -3, 1)), "n_vocab");
  // header promises 1 chunk of 8 tokens and 3 rows of 10 values: give fewer bytes
  expect(write("trunc", header(8, 6, 1) + std::string(8 * 4, '\0')), "truncated");
  std::string toks;
  for (int32_t t : {0, 1, 2, 3, 4, 5, 99, 1}) toks.append(reinterpret_cast<const char*>(&t), 4);
  expect(write("tok", header(8, 6, 1) + toks + std::string(3 * 10 * 2, '\0')), "token #6 = 99");
  fs::remove_all(dir);
}
