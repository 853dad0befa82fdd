// engine/tokenizer/pre_tokenizer.h — the HF pre-tokenizer pipeline (Split / Digits / ByteLevel
// regex steps) on PCRE2 with UTF + UCP (+ JIT). Each step re-splits every piece the previous step
// produced, and its regex sees only that piece (lookaheads stop at the piece's end), as in HF.
#pragma once
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace mlascope::tok {

class Regex;  // PCRE2 code, compiled once, shared read-only between threads

enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

struct PreTokenizerStep {
  std::shared_ptr<const Regex> regex;
  SplitBehavior behavior = SplitBehavior::Isolated;
  bool invert = false;
  bool add_prefix_space = false;  // ByteLevel: a piece not starting with ' ' gets one
  std::string description;        // for messages: "Split /\p{N}{1,3}/ Isolated"
};

struct PreTokenizer {
  std::vector<PreTokenizerStep> steps;
  bool byte_level = false;  // a ByteLevel step was present: BPE symbols are bytes, not characters

  // Parses tokenizer.json's "pre_tokenizer" (null, Sequence, Split, Digits, ByteLevel); throws
  // Error naming `file` and the entry for anything else.
  static PreTokenizer from_json(const nlohmann::json& j, const std::string& file);
  // GGUF tokenizer.ggml.pre names ("deepseek-v3", "deepseek-llm", "gpt2", ...).
  static PreTokenizer from_gguf_name(const std::string& pre, const std::string& source);

  struct Scratch;  // match data and per-step buffers, reused across pieces of one call

  // Calls emit(piece) for every final piece, in order. `text` must be valid UTF-8.
  // Pieces are views into `text` or into `s.arena` (prefix spaces). Every regex runs under a step
  // budget linear in the piece's length; a pattern that backtracks past it throws Error naming
  // the step (no input costs more than linear time).
  template <class Emit>
  void run(std::string_view text, Scratch& s, Emit&& emit) const;

  void run_impl(std::string_view text, Scratch& s, size_t step, void (*emit)(void*, std::string_view),
                void* ctx) const;
};

// Owns the PCRE2 match data; one per encode call (PCRE2 match data is not shareable between threads).
struct PreTokenizer::Scratch {
  Scratch();
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  void* match_data = nullptr;
  void* match_context = nullptr;  // PCRE2 match/heap limits (see pre_tokenizer.cpp)
  struct Segment {
    size_t begin, end;
    bool is_match;
  };
  std::vector<std::vector<Segment>> found;  // per step: matches and the gaps between them
  std::vector<std::vector<Segment>> out;    // per step: the pieces after the split behavior
  std::deque<std::string> arena;            // pieces that are not views of the input (prefix space)
};

template <class Emit>
void PreTokenizer::run(std::string_view text, Scratch& s, Emit&& emit) const {
  auto thunk = [](void* ctx, std::string_view piece) { (*static_cast<std::remove_reference_t<Emit>*>(ctx))(piece); };
  run_impl(text, s, 0, thunk, &emit);
}

}  // namespace mlascope::tok
