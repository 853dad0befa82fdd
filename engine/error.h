// engine/error.h — the one error type thrown at boundaries (loading, parsing, I/O, CLI).
// Messages are one line, prefixed by where: "[safetensors] model.safetensors: tensor 'x' ...".
// The hot path never throws; it returns status values (see StepStatus).
//
// Messages quote bytes from files a user did not write (tensor names, GGUF keys, JSON tokens,
// session text), so every Error is made printable when it is built: control characters, C1 controls
// and bytes that are not valid UTF-8 become escapes (a newline or an ANSI sequence from a file never
// reaches the terminal raw), and a message is cut to kMaxErrorChars with a note of how much was cut.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mlascope {

// An error line longer than this is a file's bytes, not a message: cut it (a 100 KB JSON key once
// made a 100,303-character line).
constexpr size_t kMaxErrorChars = 400;

namespace detail {
// Length of the valid UTF-8 character at s[i] (1..4), or 0 when the bytes there are not one.
inline size_t utf8_char_len(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  uint32_t cp = 0;
  if ((c & 0xe0) == 0xc0) n = 2, cp = c & 0x1fu;
  else if ((c & 0xf0) == 0xe0) n = 3, cp = c & 0x0fu;
  else if ((c & 0xf8) == 0xf0) n = 4, cp = c & 0x07u;
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3fu);
  }
  // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}
}  // namespace detail

// `s` as one printable line: \n \r \t and \xNN for other C0 controls, DEL, C1 controls (U+0080..U+009F,
// which some terminals obey as 8-bit escape sequences) and bytes that are not valid UTF-8; at most
// `max_chars` bytes of output, then "... (N more bytes)". For error lines and log lines quoting files.
inline std::string printable_line(std::string_view s, size_t max_chars = kMaxErrorChars) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() < max_chars ? s.size() + 16 : max_chars + 32);
  size_t i = 0;
  while (i < s.size()) {
    if (out.size() >= max_chars) break;
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = detail::utf8_char_len(s, i);
    const bool c1 = n == 2 && c == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0;
    if (n == 1 && c >= 0x20 && c != 0x7f) {
      out += static_cast<char>(c);
    } else if (n == 1 && c == '\n') {
      out += "\\n";
    } else if (n == 1 && c == '\r') {
      out += "\\r";
    } else if (n == 1 && c == '\t') {
      out += "\\t";
    } else if (n >= 2 && !c1) {
      out.append(s.substr(i, n));
    } else {
      // One escaped byte; a C1 control shows its two bytes.
      const size_t bytes = c1 ? 2 : 1;
      for (size_t k = 0; k < bytes; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        out += "\\x";
        out += kHex[b >> 4];
        out += kHex[b & 15];
      }
      i += bytes;
      continue;
    }
    i += n;
  }
  if (i < s.size()) out += "... (" + std::to_string(s.size() - i) + " more bytes)";
  return out;
}

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(printable_line(message)) {}
};

// "[where] subject: what"
[[noreturn]] inline void fail(std::string_view where, std::string_view subject, std::string_view what) {
  std::string m;
  m.reserve(where.size() + subject.size() + what.size() + 6);
  m += '[';
  m += where;
  m += "] ";
  if (!subject.empty()) {
    m += subject;
    m += ": ";
  }
  m += what;
  throw Error(m);
}

}  // namespace mlascope
