// engine/tokenizer/pre_tokenizer.cpp — HF pre-tokenizer steps on PCRE2 (UTF + UCP, JIT when the
// library has it). The split behaviors follow the HF documentation of SplitDelimiterBehavior.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "pre_tokenizer.h"

#include <pcre2.h>

#include <algorithm>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "unicode_util.h"

namespace mlascope::tok {

using nlohmann::json;

// PCRE2 steps (its match limit unit) a piece may cost: kPieceBudgetBase + kPieceBudgetPerByte per
// byte. Real tokenizer patterns use a few dozen per match; the first try of every match is charged
// kFirstMatchLimit, at most one match starts per byte, so honest pieces stay far inside.
constexpr uint64_t kFirstMatchLimit = 1000;
constexpr uint64_t kPieceBudgetBase = 1u << 16;
constexpr uint64_t kPieceBudgetPerByte = 4096;
constexpr uint32_t kHeapLimitKiB = 1u << 20;  // 1 GiB

class Regex {
 public:
  Regex(const std::string& pattern, bool literal, const std::string& file, const std::string& entry) {
    int err = 0;
    PCRE2_SIZE err_off = 0;
    // PCRE2 refuses UCP together with LITERAL (a literal has no classes to widen anyway).
    const uint32_t opts = literal ? (PCRE2_UTF | PCRE2_LITERAL) : (PCRE2_UTF | PCRE2_UCP);
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), opts, &err, &err_off, nullptr);
    if (!code_) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      fail("tokenizer", file,
           entry + ": regex does not compile at offset " + std::to_string(err_off) + ": " +
               reinterpret_cast<const char*>(msg));
    }
    jit_ = pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE) == 0;
  }
  ~Regex() { pcre2_code_free(code_); }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  enum class Found { Match, None, OverBudget };

  // The next match at or after `offset`. Every call runs under a PCRE2 match limit charged to
  // `budget`, the steps the caller allows for the whole piece: a first try with a small limit, then
  // doubling limits while PCRE2 reports MATCHLIMIT, each try's limit charged in full. The steps
  // PCRE2 really takes are at most what was charged, so a piece costs at most its budget, which is
  // linear in its length: a catastrophically backtracking pattern from a tokenizer.json
  // ("(?:(?:a|a){1,20}b)?." took 5-22 ms per character) ends in OverBudget instead.
  Found find(std::string_view s, size_t offset, pcre2_match_data* md, pcre2_match_context* mc, uint64_t& budget,
             size_t& b, size_t& e) const {
    const auto* subj = reinterpret_cast<PCRE2_SPTR>(s.data());
    uint64_t limit = kFirstMatchLimit;
    int rc = PCRE2_ERROR_MATCHLIMIT;
    while (rc == PCRE2_ERROR_MATCHLIMIT) {
      if (budget == 0) return Found::OverBudget;
      const uint64_t now = std::min(limit, budget);
      pcre2_set_match_limit(mc, static_cast<uint32_t>(now));
      budget -= now;
      limit = std::min<uint64_t>(limit * 2, UINT32_MAX);
      // The input was validated once up front, so PCRE2 need not re-check it on every piece.
      rc = jit_ ? pcre2_jit_match(code_, subj, s.size(), offset, PCRE2_NO_UTF_CHECK, md, mc)
                : pcre2_match(code_, subj, s.size(), offset, PCRE2_NO_UTF_CHECK, md, mc);
      // The JIT's fixed stack can run out on very long pieces (a megabyte of spaces); the
      // interpreter keeps its backtracking frames on the heap and gets through.
      if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(code_, subj, s.size(), offset, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, mc);
    }
    if (rc == PCRE2_ERROR_NOMATCH) return Found::None;
    if (rc < 0) return Found::OverBudget;  // depth or heap limit: the same verdict
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    b = ov[0];
    e = ov[1];
    return Found::Match;
  }

 private:
  pcre2_code* code_ = nullptr;
  bool jit_ = false;
};

PreTokenizer::Scratch::Scratch() {
  match_data = pcre2_match_data_create(1, nullptr);
  match_context = pcre2_match_context_create(nullptr);
  // The interpreter's backtracking frames live on the heap; PCRE2's default cap is 20 GB.
  pcre2_set_heap_limit(static_cast<pcre2_match_context*>(match_context), kHeapLimitKiB);
}
PreTokenizer::Scratch::~Scratch() {
  pcre2_match_context_free(static_cast<pcre2_match_context*>(match_context));
  pcre2_match_data_free(static_cast<pcre2_match_data*>(match_data));
}

namespace {

// GPT-2's pattern, used by ByteLevel when use_regex is true.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

const char* behavior_name(SplitBehavior b) {
  switch (b) {
    case SplitBehavior::Removed: return "Removed";
    case SplitBehavior::Isolated: return "Isolated";
    case SplitBehavior::MergedWithPrevious: return "MergedWithPrevious";
    case SplitBehavior::MergedWithNext: return "MergedWithNext";
    case SplitBehavior::Contiguous: return "Contiguous";
  }
  return "?";
}

PreTokenizerStep split_step(const std::string& pattern, bool literal, SplitBehavior behavior, bool invert,
                            const std::string& file, const std::string& entry) {
  PreTokenizerStep st;
  st.regex = std::make_shared<const Regex>(pattern, literal, file, entry);
  st.behavior = behavior;
  st.invert = invert;
  st.description = std::string("Split /") + pattern + "/ " + behavior_name(behavior) + (invert ? " inverted" : "");
  return st;
}

PreTokenizerStep byte_level_step(bool add_prefix_space, bool use_regex, const std::string& file,
                                 const std::string& entry) {
  PreTokenizerStep st;
  if (use_regex) st.regex = std::make_shared<const Regex>(kGpt2Pattern, false, file, entry);
  st.behavior = SplitBehavior::Isolated;
  st.add_prefix_space = add_prefix_space;
  st.description = std::string("ByteLevel") + (add_prefix_space ? " add_prefix_space" : "") + (use_regex ? " regex" : "");
  return st;
}

const json* member(const json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

bool bool_field(const json& j, const char* key, bool dflt, const std::string& file, const std::string& entry) {
  const json* v = member(j, key);
  if (!v || v->is_null()) return dflt;
  if (!v->is_boolean()) fail("tokenizer", file, entry + "." + key + ": expected true or false");
  return v->get<bool>();
}

void parse_step(const json& j, const std::string& file, const std::string& entry, PreTokenizer& out) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    fail("tokenizer", file, entry + ": expected an object with a \"type\"");
  const std::string type = j["type"].get<std::string>();
  if (out.byte_level)
    fail("tokenizer", file, entry + ": pre-tokenizer '" + type + "' after ByteLevel is not supported");
  if (type == "Sequence") {
    const json* list = member(j, "pretokenizers");
    if (!list || !list->is_array()) fail("tokenizer", file, entry + ".pretokenizers: expected an array");
    for (size_t i = 0; i < list->size(); ++i)
      parse_step((*list)[i], file, entry + ".pretokenizers[" + std::to_string(i) + "]", out);
  } else if (type == "Split") {
    const json* pat = member(j, "pattern");
    std::string pattern;
    bool literal = false;
    if (pat && pat->is_object() && pat->contains("Regex") && (*pat)["Regex"].is_string()) {
      pattern = (*pat)["Regex"].get<std::string>();
    } else if (pat && pat->is_object() && pat->contains("String") && (*pat)["String"].is_string()) {
      pattern = (*pat)["String"].get<std::string>();
      literal = true;
    } else {
      fail("tokenizer", file, entry + ".pattern: expected {\"Regex\": ...} or {\"String\": ...}");
    }
    const json* beh = member(j, "behavior");
    if (!beh || !beh->is_string()) fail("tokenizer", file, entry + ".behavior: expected a string");
    const std::string b = beh->get<std::string>();
    SplitBehavior behavior;
    if (b == "Removed") behavior = SplitBehavior::Removed;
    else if (b == "Isolated") behavior = SplitBehavior::Isolated;
    else if (b == "MergedWithPrevious") behavior = SplitBehavior::MergedWithPrevious;
    else if (b == "MergedWithNext") behavior = SplitBehavior::MergedWithNext;
    else if (b == "Contiguous") behavior = SplitBehavior::Contiguous;
    else fail("tokenizer", file, entry + ".behavior: '" + b + "' is not a split behavior");
    out.steps.push_back(split_step(pattern, literal, behavior, bool_field(j, "invert", false, file, entry), file,
                                   entry + ".pattern"));
  } else if (type == "Digits") {
    // Rust's char::is_numeric is the N categories, i.e. \p{N}.
    const bool individual = bool_field(j, "individual_digits", false, file, entry);
    PreTokenizerStep st = split_step(individual ? "\\p{N}" : "\\p{N}+", false, SplitBehavior::Isolated, false,
                                     file, entry);
    st.description = individual ? "Digits individual" : "Digits";
    out.steps.push_back(std::move(st));
  } else if (type == "ByteLevel") {
    out.steps.push_back(byte_level_step(bool_field(j, "add_prefix_space", true, file, entry),
                                        bool_field(j, "use_regex", true, file, entry), file, entry));
    out.byte_level = true;
  } else {
    fail("tokenizer", file, entry + ": pre-tokenizer type '" + type + "' is not supported");
  }
}

}  // namespace

PreTokenizer PreTokenizer::from_json(const json& j, const std::string& file) {
  PreTokenizer p;
  if (j.is_null()) return p;
  parse_step(j, file, "pre_tokenizer", p);
  // A ByteLevel step that neither splits nor adds a space does nothing but switch to bytes.
  if (!p.steps.empty() && !p.steps.back().regex && !p.steps.back().add_prefix_space) p.steps.pop_back();
  return p;
}

PreTokenizer PreTokenizer::from_gguf_name(const std::string& pre, const std::string& source) {
  PreTokenizer p;
  const std::string entry = "tokenizer.ggml.pre '" + pre + "'";
  std::vector<const char*> patterns;
  if (pre == "deepseek-v3") {
    // Verbatim from DeepSeek-V3's tokenizer.json.
    patterns = {R"(\p{N}{1,3})", "[一-龥぀-ゟ゠-ヿ]+",
                "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
                "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"};
  } else if (pre == "deepseek-llm") {
    // DeepSeek-LLM / V2 as llama.cpp splits it (llama-vocab.cpp). Six of its range ends are
    // characters that Unicode normalization replaces (U+1F7D becomes U+03CE, ...): they are escapes
    // here, since a normalized copy puts ranges out of order and the regex no longer compiles.
    patterns = {"[\r\n]",
                "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ"
                "-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\u1F7Dᾀ-ᾴᾶ-ᾼ\u1FBEῂ-ῄῆ-ῌῐ-\u1FD3ῖ-\u1FDBῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ"
                "\u2126ℨ\u212A-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+",
                "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$", "[一-龥ࠀ-一가-퟿]+", "\\p{N}+"};
  } else if (pre == "gpt2" || pre == "gpt-2") {
    p.steps.push_back(byte_level_step(false, true, source, entry));
    p.byte_level = true;
    return p;
  } else {
    fail("tokenizer", source, entry + " is not a supported pre-tokenizer (deepseek-v3, deepseek-llm, gpt2)");
  }
  for (const char* pat : patterns)
    p.steps.push_back(split_step(pat, false, SplitBehavior::Isolated, false, source, entry));
  p.byte_level = true;
  return p;
}

void PreTokenizer::run_impl(std::string_view piece, Scratch& s, size_t step, void (*emit)(void*, std::string_view),
                            void* ctx) const {
  if (piece.empty()) return;
  if (step == steps.size()) {
    emit(ctx, piece);
    return;
  }
  const PreTokenizerStep& st = steps[step];
  if (st.add_prefix_space && piece.front() != ' ') {
    std::string& spaced = s.arena.emplace_back();
    spaced.reserve(piece.size() + 1);
    spaced += ' ';
    spaced += piece;
    piece = spaced;
  }
  if (!st.regex) {
    run_impl(piece, s, step + 1, emit, ctx);
    return;
  }
  if (s.found.size() < steps.size()) {
    s.found.resize(steps.size());
    s.out.resize(steps.size());
  }
  auto* md = static_cast<pcre2_match_data*>(s.match_data);
  auto* mc = static_cast<pcre2_match_context*>(s.match_context);
  std::vector<Scratch::Segment>& found = s.found[step];
  found.clear();
  size_t prev = 0, offset = 0, b = 0, e = 0;
  uint64_t budget = kPieceBudgetBase + kPieceBudgetPerByte * piece.size();
  for (;;) {
    if (offset > piece.size()) break;
    const Regex::Found f = st.regex->find(piece, offset, md, mc, budget, b, e);
    if (f == Regex::Found::None) break;
    if (f == Regex::Found::OverBudget)
      fail("tokenizer", "pre-tokenizer " + st.description,
           "the regex needs more than " + std::to_string(kPieceBudgetBase + kPieceBudgetPerByte * piece.size()) +
               " backtracking steps on a piece of " + std::to_string(piece.size()) + " bytes (stopped at byte " +
               std::to_string(offset) + "); the pattern backtracks catastrophically on this text");
    if (e == b) {  // empty match: contributes nothing; step over one character
      if (b >= piece.size()) break;
      offset = b + std::max<size_t>(1, utf8_step(piece.substr(b)).len);
      continue;
    }
    if (b > prev) found.push_back({prev, b, st.invert});
    found.push_back({b, e, !st.invert});
    prev = offset = e;
  }
  if (prev < piece.size()) found.push_back({prev, piece.size(), st.invert});

  std::vector<Scratch::Segment>& out = s.out[step];
  out.clear();
  switch (st.behavior) {
    case SplitBehavior::Isolated:
      out = found;
      break;
    case SplitBehavior::Removed:
      for (const auto& g : found)
        if (!g.is_match) out.push_back(g);
      break;
    case SplitBehavior::MergedWithPrevious: {
      bool prev_match = false;
      for (const auto& g : found) {
        if (g.is_match && !prev_match && !out.empty()) out.back().end = g.end;
        else out.push_back(g);
        prev_match = g.is_match;
      }
      break;
    }
    case SplitBehavior::MergedWithNext: {
      // Mirror image of MergedWithPrevious: walk backwards, glue a delimiter to what follows it.
      bool next_match = false;
      for (size_t i = found.size(); i-- > 0;) {
        const auto& g = found[i];
        if (g.is_match && !next_match && !out.empty()) out.back().begin = g.begin;
        else out.push_back(g);
        next_match = g.is_match;
      }
      std::reverse(out.begin(), out.end());
      break;
    }
    case SplitBehavior::Contiguous: {
      bool prev_match = false;
      for (const auto& g : found) {
        if (g.is_match == prev_match && !out.empty()) out.back().end = g.end;
        else out.push_back(g);
        prev_match = g.is_match;
      }
      break;
    }
  }
  // The deeper steps reuse their own buffers, so iterating ours by index stays valid.
  for (size_t i = 0; i < s.out[step].size(); ++i) {
    const Scratch::Segment g = s.out[step][i];
    run_impl(piece.substr(g.begin, g.end - g.begin), s, step + 1, emit, ctx);
  }
}

}  // namespace mlascope::tok
