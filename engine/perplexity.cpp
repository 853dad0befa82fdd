// engine/perplexity.cpp — see perplexity.h. The formulas follow llama.cpp's
// tools/perplexity/perplexity.cpp (log_softmax, process_logits, the KL loop) so that a figure
// printed here and one printed by llama-perplexity mean the same thing.
#include "perplexity.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

#include "backend/backend.h"
#include "error.h"
#include "weights/mapped_file.h"

namespace mlascope {

namespace {

constexpr const char* kWhere = "perplexity";
constexpr char kMagic[8] = {'_', 'l', 'o', 'g', 'i', 't', 's', '_'};

// llama.cpp's nearest_int: round to nearest (ties to even) through the float mantissa.
inline int nearest_int(float v) {
  float x = v + 12582912.f;
  int i;
  std::memcpy(&i, &x, sizeof(int));
  return (i & 0x007fffff) - 0x00400000;
}

struct Softmax {
  float max_logit = 0;
  int argmax = 0;
  float log_sum_exp = 0;  // log(sum exp(l - max))
};
Softmax softmax_of(const float* logits, int n) {
  Softmax s;
  s.max_logit = logits[0];
  for (int i = 1; i < n; ++i)
    if (logits[i] > s.max_logit) s.max_logit = logits[i], s.argmax = i;
  double sum = 0.0;
  for (int i = 0; i < n; ++i) sum += std::exp(logits[i] - s.max_logit);
  s.log_sum_exp = static_cast<float>(std::log(sum));
  return s;
}

}  // namespace

double token_nll(const float* logits, int n_vocab, int32_t tok) {
  const Softmax s = softmax_of(logits, n_vocab);
  return static_cast<double>(s.max_logit) + s.log_sum_exp - logits[tok];
}

void quantize_log_probs(const float* logits, int n_vocab, uint16_t* row) {
  float max_logit = logits[0], min_logit = logits[0];
  for (int i = 1; i < n_vocab; ++i) {
    max_logit = std::max(max_logit, logits[i]);
    min_logit = std::min(min_logit, logits[i]);
  }
  min_logit = std::max(min_logit, max_logit - 16);
  double sum = 0.0;
  for (int i = 0; i < n_vocab; ++i) sum += std::exp(logits[i] - max_logit);
  const float log_sum_exp = static_cast<float>(std::log(sum));
  const float min_log_prob = min_logit - max_logit - log_sum_exp;
  const float scale = (max_logit - min_logit) / 65535.f;
  std::memcpy(row, &scale, 4);
  std::memcpy(row + 2, &min_log_prob, 4);
  uint16_t* q = row + 4;
  if (scale > 0) {
    const float inv = 1 / scale;
    for (int i = 0; i < n_vocab; ++i)
      q[i] = logits[i] > min_logit ? static_cast<uint16_t>(nearest_int(inv * (logits[i] - min_logit))) : 0;
  } else {
    std::memset(q, 0, static_cast<size_t>(n_vocab) * sizeof(uint16_t));
  }
  if (n_vocab % 2) q[n_vocab] = 0;  // the padding value llama.cpp leaves is unspecified; ours is 0
}

float dequantized_log_prob(const uint16_t* row, int32_t i) {
  float scale, min_log_prob;
  std::memcpy(&scale, row, 4);
  std::memcpy(&min_log_prob, row + 2, 4);
  return scale * row[4 + i] + min_log_prob;
}

// ---- writer ----

struct LogitsFileWriter::Impl {
  std::filesystem::path path, tmp;
  std::ofstream out;
  int n_vocab = 0;
  uint64_t rows_expected = 0, rows = 0;
  std::vector<uint16_t> row;
  bool finished = false;
};

LogitsFileWriter::LogitsFileWriter(const std::filesystem::path& path, int n_ctx, int n_vocab, int n_chunk,
                                   std::span<const int32_t> tokens)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.path = path;
  m.tmp = path.string() + ".part";
  m.n_vocab = n_vocab;
  m.rows_expected = static_cast<uint64_t>(n_chunk) * static_cast<uint64_t>(n_ctx - 1 - n_ctx / 2);
  m.row.resize(static_cast<size_t>(logits_row_values(n_vocab)));
  if (tokens.size() != static_cast<size_t>(n_chunk) * static_cast<size_t>(n_ctx))
    fail(kWhere, path.string(), "internal: " + std::to_string(tokens.size()) + " tokens for " + std::to_string(n_chunk) +
                                    " chunks of " + std::to_string(n_ctx));
  m.out.open(m.tmp, std::ios::binary | std::ios::trunc);
  if (!m.out) fail(kWhere, path.string(), "cannot create the file");
  const int32_t header[3] = {n_ctx, n_vocab, n_chunk};
  m.out.write(kMagic, 8);
  m.out.write(reinterpret_cast<const char*>(header), sizeof header);
  m.out.write(reinterpret_cast<const char*>(tokens.data()), static_cast<std::streamsize>(tokens.size_bytes()));
}

LogitsFileWriter::~LogitsFileWriter() {
  if (impl_ && !impl_->finished) {
    impl_->out.close();
    std::error_code ec;
    std::filesystem::remove(impl_->tmp, ec);
  }
}

void LogitsFileWriter::add(const float* logits) {
  Impl& m = *impl_;
  quantize_log_probs(logits, m.n_vocab, m.row.data());
  m.out.write(reinterpret_cast<const char*>(m.row.data()), static_cast<std::streamsize>(m.row.size() * sizeof(uint16_t)));
  ++m.rows;
}

void LogitsFileWriter::finish() {
  Impl& m = *impl_;
  if (m.rows != m.rows_expected)
    fail(kWhere, m.path.string(), "internal: " + std::to_string(m.rows) + " rows written, " +
                                      std::to_string(m.rows_expected) + " expected");
  m.out.flush();
  if (!m.out) fail(kWhere, m.path.string(), "write failed (disk full?)");
  m.out.close();
  std::error_code ec;
  std::filesystem::rename(m.tmp, m.path, ec);
  if (ec) fail(kWhere, m.path.string(), "cannot move the written file into place: " + ec.message());
  m.finished = true;
}

// ---- reader ----

LogitsFile::LogitsFile(const std::filesystem::path& path) {
  name_ = path.string();
  file_ = std::make_shared<MappedFile>(path, kWhere, MapOptions{});
  const uint8_t* p = file_->data();
  const uint64_t size = file_->size();
  if (size < 20 || std::memcmp(p, kMagic, 8) != 0)
    fail(kWhere, name_, "not a logits file (it does not start with '_logits_' and the three counts)");
  int32_t h[3];
  std::memcpy(h, p + 8, sizeof h);
  n_ctx_ = h[0], n_vocab_ = h[1], n_chunk_ = h[2];
  if (n_ctx_ < 4 || n_ctx_ > (1 << 24)) fail(kWhere, name_, "n_ctx = " + std::to_string(n_ctx_) + " is outside [4, 2^24]");
  if (n_vocab_ < 2 || n_vocab_ > (1 << 24))
    fail(kWhere, name_, "n_vocab = " + std::to_string(n_vocab_) + " is outside [2, 2^24]");
  if (n_chunk_ < 1 || n_chunk_ > (1 << 24))
    fail(kWhere, name_, "n_chunk = " + std::to_string(n_chunk_) + " is outside [1, 2^24]");
  const uint64_t n_tokens = static_cast<uint64_t>(n_ctx_) * static_cast<uint64_t>(n_chunk_);
  const uint64_t token_bytes = n_tokens * 4;
  rows_offset_ = 20 + token_bytes;
  const uint64_t row_bytes = static_cast<uint64_t>(logits_row_values(n_vocab_)) * 2;
  const uint64_t want = rows_offset_ + static_cast<uint64_t>(n_chunk_) * static_cast<uint64_t>(rows_per_chunk()) * row_bytes;
  if (size != want)
    fail(kWhere, name_,
         "holds " + std::to_string(size) + " bytes but n_ctx = " + std::to_string(n_ctx_) + ", n_vocab = " +
             std::to_string(n_vocab_) + ", n_chunk = " + std::to_string(n_chunk_) + " imply " + std::to_string(want) +
             (size < want ? " (truncated?)" : ""));
  tokens_.resize(static_cast<size_t>(n_tokens));
  std::memcpy(tokens_.data(), p + 20, static_cast<size_t>(token_bytes));
  for (size_t i = 0; i < tokens_.size(); ++i)
    if (tokens_[i] < 0 || tokens_[i] >= n_vocab_)
      fail(kWhere, name_, "token #" + std::to_string(i) + " = " + std::to_string(tokens_[i]) + " is outside [0, n_vocab)");
}

LogitsFile::~LogitsFile() = default;

const uint16_t* LogitsFile::row(int chunk, int i) const {
  const uint64_t idx = static_cast<uint64_t>(chunk) * static_cast<uint64_t>(rows_per_chunk()) + static_cast<uint64_t>(i);
  // Rows are 2-byte values at an even offset (20 + 4 * tokens): aligned for uint16_t.
  return reinterpret_cast<const uint16_t*>(file_->data() + rows_offset_) + idx * static_cast<uint64_t>(logits_row_values(n_vocab_));
}

// ---- statistics ----

double RunningStat::stderr_of_mean() const {
  if (n < 2) return 0.0;
  const double m = mean();
  const double var = sum2 / static_cast<double>(n) - m * m;
  return var > 0 ? std::sqrt(var / static_cast<double>(n - 1)) : 0.0;
}

double percentile(std::vector<float> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const double pos = std::clamp(q, 0.0, 1.0) * static_cast<double>(v.size() - 1);
  return v[static_cast<size_t>(std::llround(pos))];
}

double PerplexityResult::ppl() const { return std::exp(nll.mean()); }
double PerplexityResult::ppl_stderr() const { return ppl() * nll.stderr_of_mean(); }

namespace {

// One scored position against the base row (llama.cpp's log_softmax(..., base_log_prob, ...)).
void compare(const float* logits, int n_vocab, const uint16_t* base, int32_t tok, double nll, KlComparison& kl) {
  const Softmax s = softmax_of(logits, n_vocab);
  const float norm = s.max_logit + s.log_sum_exp;
  const float nll_base = -dequantized_log_prob(base, tok);
  double sum = 0.0;
  int imax_base = 0;
  float best = 0;
  for (int i = 0; i < n_vocab; ++i) {
    const float lp_base = dequantized_log_prob(base, i);
    if (i == 0 || lp_base > best) best = lp_base, imax_base = i;
    if (lp_base > -16.f) sum += std::exp(lp_base) * (lp_base - (logits[i] - norm));
  }
  ++kl.n;
  kl.kld.add(sum);
  kl.kld_values.push_back(static_cast<float>(sum));
  kl.nll_base.add(nll_base);
  kl.sum_nll_nll_base += nll * nll_base;
  kl.same_top += s.argmax == imax_base;
  kl.dlogprob.push_back(static_cast<float>(nll_base - nll));
  const double p_diff = std::exp(-nll) - std::exp(-static_cast<double>(nll_base));
  kl.p_diff2.add(p_diff * p_diff);
}

}  // namespace

PerplexityResult run_perplexity(Backend& backend, int n_vocab, std::span<const int32_t> tokens,
                                const PerplexityOptions& opt, LogitsFileWriter* save, const LogitsFile* base,
                                const std::function<void(int, int, const PerplexityResult&)>& progress) {
  const int n_ctx = opt.n_ctx;
  if (n_ctx < 4) fail(kWhere, "--ctx", "must be at least 4 (half of each chunk is context, half is scored)");
  if (n_ctx > backend.max_context())
    fail(kWhere, "--ctx", std::to_string(n_ctx) + " exceeds the backend's context of " + std::to_string(backend.max_context()));
  const int n_chunk_max = static_cast<int>(tokens.size() / static_cast<size_t>(n_ctx));
  const int n_chunk = opt.n_chunks < 0 ? n_chunk_max : std::min(opt.n_chunks, n_chunk_max);
  if (n_chunk < 1)
    fail(kWhere, "text", std::to_string(tokens.size()) + " tokens are fewer than one chunk of " + std::to_string(n_ctx) +
                             " (use a longer text or a smaller --ctx)");
  if (base) {
    if (base->n_ctx() != n_ctx || base->n_vocab() != n_vocab || base->n_chunk() < n_chunk)
      fail(kWhere, base->name(),
           "was made with n_ctx " + std::to_string(base->n_ctx()) + ", n_vocab " + std::to_string(base->n_vocab()) + ", " +
               std::to_string(base->n_chunk()) + " chunks; this run has n_ctx " + std::to_string(n_ctx) + ", n_vocab " +
               std::to_string(n_vocab) + ", " + std::to_string(n_chunk) + " chunks");
  }
  PerplexityResult r;
  r.n_ctx = n_ctx;
  r.n_chunk = n_chunk;
  r.n_vocab = n_vocab;
  const int first = n_ctx / 2;
  r.scored_per_chunk = n_ctx - 1 - first;
  r.has_base = base != nullptr;
  const int batch = std::max(1, opt.n_batch);

  std::vector<int32_t> chunk(static_cast<size_t>(n_ctx));
  std::vector<float> logits;
  for (int c = 0; c < n_chunk; ++c) {
    const int32_t* src = tokens.data() + static_cast<size_t>(c) * static_cast<size_t>(n_ctx);
    std::copy(src, src + n_ctx, chunk.begin());
    if (opt.bos_id >= 0) chunk[0] = opt.bos_id;
    backend.truncate(0);
    auto forward = [&](int b, int e, bool all) {
      ForwardRequest req;
      req.tokens = std::span<const int32_t>(chunk.data() + b, static_cast<size_t>(e - b));
      req.start_pos = b;
      req.all_logits = all;
      if (backend.forward(req, logits) != StepStatus::Ok)
        fail(kWhere, "--ctx", "chunk " + std::to_string(c + 1) + " does not fit the backend's context");
    };
    if (first > 0) forward(0, first, false);  // context only: no logits needed
    int row = 0;
    for (int b = first; b < n_ctx; b += batch) {
      const int e = std::min(n_ctx, b + batch);
      forward(b, e, true);
      for (int pos = b; pos < e && pos <= n_ctx - 2; ++pos, ++row) {
        const float* l = logits.data() + static_cast<size_t>(pos - b) * static_cast<size_t>(n_vocab);
        const int32_t next = src[pos + 1];
        const double nll = token_nll(l, n_vocab, next);
        r.nll.add(nll);
        if (save) save->add(l);
        if (base) compare(l, n_vocab, base->row(c, row), next, nll, r.kl);
      }
    }
    r.chunk_ppl.push_back(r.ppl());
    if (progress) progress(c + 1, n_chunk, r);
  }
  return r;
}

}  // namespace mlascope
