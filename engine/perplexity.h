// engine/perplexity.h — a model's quality on a text, measured the way llama.cpp's llama-perplexity
// does it, so the two engines can be compared number for number and token for token:
//   - the token stream (BOS + the text) is cut into chunks of n_ctx tokens; each chunk is evaluated
//     from an empty cache with its first token replaced by BOS;
//   - only the second half of each chunk is scored (positions n_ctx/2 .. n_ctx-2 predict the next
//     token), so every scored token has at least n_ctx/2 tokens of context;
//   - PPL = exp(mean NLL), its uncertainty PPL * stderr(NLL).
// Against a base run (another file, another MLA form, llama.cpp itself) the per-position KL
// divergence KL(base || this), top-1 agreement and the difference of the next token's log-prob are
// gathered. Base runs are stored in llama.cpp's `--kl-divergence-base` file format ("_logits_":
// n_ctx, n_vocab, n_chunk, the tokens, then per scored position the log-probs quantized to 16 bits
// over the top 16 nats), which both engines read and write.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace mlascope {

class Backend;
class MappedFile;

// -log softmax(logits)[tok], computed as llama.cpp does (max-shifted, sum of expf in double).
double token_nll(const float* logits, int n_vocab, int32_t tok);

// uint16 values per scored position in a logits file: 2 floats (scale, min log-prob) + n_vocab
// quantized log-probs, padded to an even count.
inline int64_t logits_row_values(int n_vocab) { return 2 * ((static_cast<int64_t>(n_vocab) + 1) / 2) + 4; }
// One row: log-probs of `logits` quantized over [max - 16, max] (what llama-perplexity writes).
void quantize_log_probs(const float* logits, int n_vocab, uint16_t* row);
// log-prob of token i of a quantized row.
float dequantized_log_prob(const uint16_t* row, int32_t i);

// Writes a llama.cpp-compatible logits file (to PATH.part, renamed into place by finish()).
class LogitsFileWriter {
 public:
  // tokens: n_chunk * n_ctx ids as evaluated (the first of each chunk before its BOS replacement).
  LogitsFileWriter(const std::filesystem::path& path, int n_ctx, int n_vocab, int n_chunk,
                   std::span<const int32_t> tokens);
  ~LogitsFileWriter();
  LogitsFileWriter(const LogitsFileWriter&) = delete;
  LogitsFileWriter& operator=(const LogitsFileWriter&) = delete;
  void add(const float* logits);  // the next scored position's logits [n_vocab]
  void finish();                  // throws "[perplexity] PATH: ..." when the rows are incomplete or a write failed

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A logits file (ours or llama-perplexity's --kl-divergence-base), memory-mapped; every size is
// checked against the file before use. Throws "[perplexity] FILE: ..." naming the field.
class LogitsFile {
 public:
  explicit LogitsFile(const std::filesystem::path& path);
  ~LogitsFile();
  int n_ctx() const { return n_ctx_; }
  int n_vocab() const { return n_vocab_; }
  int n_chunk() const { return n_chunk_; }
  int rows_per_chunk() const { return n_ctx_ - 1 - n_ctx_ / 2; }
  std::span<const int32_t> tokens() const { return tokens_; }  // [n_chunk * n_ctx]
  const uint16_t* row(int chunk, int i) const;                 // i < rows_per_chunk()
  const std::string& name() const { return name_; }

 private:
  std::shared_ptr<MappedFile> file_;
  std::string name_;
  int n_ctx_ = 0, n_vocab_ = 0, n_chunk_ = 0;
  std::vector<int32_t> tokens_;
  uint64_t rows_offset_ = 0;
};

// Mean and standard error of a sum of samples (the llama-perplexity formula).
struct RunningStat {
  double sum = 0, sum2 = 0;
  uint64_t n = 0;
  void add(double v) { sum += v, sum2 += v * v, ++n; }
  double mean() const { return n ? sum / static_cast<double>(n) : 0.0; }
  double stderr_of_mean() const;
};

// Percentiles of a sample (nearest rank on the sorted values), q in [0, 1].
double percentile(std::vector<float> values, double q);

struct KlComparison {
  uint64_t n = 0;
  RunningStat kld;          // KL(base || this) per position, nats
  RunningStat nll_base;     // the base run's NLL of the same tokens
  double sum_nll_nll_base = 0;
  uint64_t same_top = 0;    // positions whose argmax agrees
  std::vector<float> kld_values;    // per position
  std::vector<float> dlogprob;      // log p_this(next) - log p_base(next), per position
  RunningStat p_diff2;              // (p_this(next) - p_base(next))^2, for the RMS llama.cpp prints
};

struct PerplexityOptions {
  int n_ctx = 512;
  int n_chunks = -1;     // -1: every whole chunk of the text
  int n_batch = 128;     // tokens per forward call in the scored half (bounds the logits buffer)
  int32_t bos_id = -1;   // replaces the first token of each chunk when >= 0
};

struct PerplexityResult {
  int n_ctx = 0, n_chunk = 0, n_vocab = 0;
  int scored_per_chunk = 0;
  RunningStat nll;                  // per scored token
  std::vector<double> chunk_ppl;    // running PPL after each chunk (as llama-perplexity prints)
  bool has_base = false;
  KlComparison kl;
  double ppl() const;
  double ppl_stderr() const;        // PPL * stderr(NLL)
};

// Evaluates `tokens` (n_chunk * n_ctx of them are used) on `backend` (its context must hold n_ctx).
// save: rows written as computed; base: compared position by position (same n_ctx, n_vocab and at
// least n_chunk chunks). progress(chunk_done, n_chunk, result_so_far) after each chunk.
PerplexityResult run_perplexity(Backend& backend, int n_vocab, std::span<const int32_t> tokens,
                                const PerplexityOptions& opt, LogitsFileWriter* save, const LogitsFile* base,
                                const std::function<void(int, int, const PerplexityResult&)>& progress = {});

}  // namespace mlascope
