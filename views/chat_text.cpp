// views/chat_text.cpp — see chat_text.h.
#include "chat_text.h"

#include <algorithm>

namespace mlascope::views {

namespace {
constexpr std::string_view kBar = "\xEF\xBD\x9C";  // U+FF5C FULLWIDTH VERTICAL LINE, DeepSeek's special-token bars
constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// A special token starting at `p`: its length, 0 when there is none. Short, one line.
size_t special_at(std::string_view s, size_t p, std::string* label) {
  if (s.compare(p, 1 + kBar.size(), std::string("<") + std::string(kBar)) == 0) {
    const std::string_view open = s.substr(p, 1 + kBar.size());
    const size_t end = s.find(std::string(kBar) + ">", p + open.size());
    if (end == std::string_view::npos || end - p > 64) return 0;
    std::string_view inside = s.substr(p + open.size(), end - p - open.size());
    if (inside.find('\n') != std::string_view::npos || inside.empty()) return 0;
    if (label) *label = std::string(inside);
    return end + kBar.size() + 1 - p;
  }
  if (s.compare(p, 2, "<|") == 0) {
    const size_t end = s.find("|>", p + 2);
    if (end == std::string_view::npos || end - p > 64 || end == p + 2) return 0;
    std::string_view inside = s.substr(p + 2, end - p - 2);
    if (inside.find_first_of("\n <>") != std::string_view::npos) return 0;
    if (label) *label = std::string(inside);
    return end + 2 - p;
  }
  return 0;
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  size_t b = 0;
  for (size_t p = s.find(from); p != std::string_view::npos; p = s.find(from, b)) {
    out.append(s.substr(b, p - b));
    out.append(to);
    b = p + from.size();
  }
  out.append(s.substr(b));
  return out;
}

bool fence_at(std::string_view s, size_t p) { return (p == 0 || s[p - 1] == '\n') && s.compare(p, 3, "```") == 0; }

// Plain text (may contain special tokens) appended to `out` as Text and Special segments.
void add_text(std::string_view s, std::vector<ChatSegment>& out) {
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) out.push_back({ChatSegment::Text, expand_tabs(replace_all(cur, kSpaceMarker, " ")), {}, false});
    cur.clear();
  };
  for (size_t p = 0; p < s.size();) {
    std::string label;
    if (s[p] == '<') {
      if (const size_t n = special_at(s, p, &label)) {
        flush();
        out.push_back({ChatSegment::Special, replace_all(label, kSpaceMarker, " "), {}, false});
        p += n;
        continue;
      }
    }
    cur += s[p++];
  }
  flush();
}
}  // namespace

std::string special_token_label(std::string_view token_text) {
  std::string label;
  if (token_text.empty() || special_at(token_text, 0, &label) != token_text.size()) return {};
  return replace_all(label, kSpaceMarker, " ");
}

std::string expand_tabs(std::string_view s, int tab) {
  std::string out;
  int col = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\t') {
      const int n = tab - col % tab;
      out.append(static_cast<size_t>(n), ' ');
      col += n;
    } else {
      out += c;
      if (c == '\n') col = 0;
      else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++col;  // count characters, not continuation bytes
    }
  }
  return out;
}

std::vector<ChatSegment> segment_chat_text(std::string_view s) {
  std::vector<ChatSegment> out;
  size_t text_start = 0;
  for (size_t p = 0; p < s.size();) {
    if (!fence_at(s, p)) {
      const size_t nl = s.find('\n', p);
      if (nl == std::string_view::npos) break;
      p = nl + 1;
      continue;
    }
    // Text before the fence (without the newline that ends it).
    std::string_view before = s.substr(text_start, p - text_start);
    if (!before.empty() && before.back() == '\n') before.remove_suffix(1);
    add_text(before, out);
    const size_t info_end = std::min(s.find('\n', p), s.size());
    ChatSegment code{ChatSegment::Code, {}, std::string(s.substr(p + 3, info_end - p - 3)), true};
    while (!code.language.empty() && (code.language.back() == ' ' || code.language.back() == '\r')) code.language.pop_back();
    size_t body = std::min(info_end + 1, s.size());
    size_t q = body;
    size_t end = s.size(), next = s.size();
    while (q < s.size()) {
      if (fence_at(s, q)) {
        end = q;
        code.open = false;
        const size_t nl = s.find('\n', q);
        next = nl == std::string_view::npos ? s.size() : nl + 1;
        break;
      }
      const size_t nl = s.find('\n', q);
      if (nl == std::string_view::npos) break;
      q = nl + 1;
    }
    std::string_view lines = s.substr(body, end - body);
    if (!lines.empty() && lines.back() == '\n') lines.remove_suffix(1);
    code.text = expand_tabs(lines);
    out.push_back(std::move(code));
    p = text_start = next;
  }
  if (text_start < s.size()) add_text(s.substr(text_start), out);
  return out;
}

std::string unescape_token_display(std::string_view d) {
  std::string out;
  auto hex = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
  for (size_t i = 0; i < d.size(); ++i) {
    if (d[i] == '\\' && i + 1 < d.size()) {
      const char n = d[i + 1];
      if (n == 'n' || n == 't' || n == 'r') {
        out += n == 'n' ? '\n' : n == 't' ? '\t' : '\r';
        ++i;
        continue;
      }
      if (n == 'x' && i + 3 < d.size() && hex(d[i + 2]) >= 0 && hex(d[i + 3]) >= 0) {
        out += static_cast<char>(hex(d[i + 2]) * 16 + hex(d[i + 3]));
        i += 3;
        continue;
      }
    }
    out += d[i];
  }
  return out;
}

size_t message_prefix_bytes(std::string_view text, const std::vector<std::string_view>& tokens, size_t n) {
  size_t pos = 0;
  for (size_t i = 0; i < std::min(n, tokens.size()); ++i) {
    const std::string bytes = unescape_token_display(tokens[i]);
    if (text.compare(pos, bytes.size(), bytes) == 0) pos += bytes.size();
    else if (text.compare(pos, tokens[i].size(), tokens[i]) == 0) pos += tokens[i].size();
    else break;
  }
  return std::min(pos, text.size());
}

}  // namespace mlascope::views
