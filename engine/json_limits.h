// engine/json_limits.h — JSON from files (config.json, tokenizer files, session fields, safetensors
// headers) is untrusted. nlohmann's parser keeps its own stack, but copying, comparing and dumping a
// value recurse once per level, so 200,000 nested '[' overflowed the stack; the nesting depth is
// therefore checked on the text before nlohmann sees it. And nlohmann's exceptions (parse_error,
// out_of_range for 1e999, type_error for a wrong type) never leave a loader raw: they become the
// one-line Error naming the file (engine/error.h also escapes and cuts the token it quotes).
// Header-only: the tokenizer library uses it too and does not link the engine.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "error.h"

namespace mlascope {

// Deeper than any file we read (tokenizer.json nests 5 levels, config.json 3); far below what
// recursion over a value can survive.
constexpr int kMaxJsonDepth = 128;

// Byte offset of the bracket that opens level max_depth + 1, or npos when the text stays within
// max_depth. Strings (with their escapes) are skipped; malformed text is the parser's business.
inline size_t json_depth_exceeded_at(std::string_view text, int max_depth = kMaxJsonDepth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return i;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::string_view::npos;
}

// Throws Error "[where] subject: JSON nested deeper than 128 levels (at byte N)".
inline void check_json_depth(std::string_view text, std::string_view where, std::string_view subject,
                             int max_depth = kMaxJsonDepth) {
  const size_t at = json_depth_exceeded_at(text, max_depth);
  if (at != std::string_view::npos)
    fail(where, subject,
         "JSON nested deeper than " + std::to_string(max_depth) + " levels (at byte " + std::to_string(at) + ")");
}

// Depth-checked parse; any nlohmann error is "[where] subject: malformed JSON: ...".
inline nlohmann::json parse_json_bounded(std::string_view text, std::string_view where, std::string_view subject,
                                         int max_depth = kMaxJsonDepth) {
  check_json_depth(text, where, subject, max_depth);
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    fail(where, subject, std::string("malformed JSON: ") + e.what());
  }
}

// Runs `f` (which reads a parsed value) and turns a nlohmann exception it lets out (a wrong type,
// a missing key read with at()) into "[where] subject: unexpected JSON: ...". Loaders check types
// field by field; this is the net under the checks they missed.
template <typename F>
auto with_json_errors(std::string_view where, std::string_view subject, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const nlohmann::json::exception& e) {
    fail(where, subject, std::string("unexpected JSON: ") + e.what());
  }
}

}  // namespace mlascope
