// engine/tokenizer/unicode_util.cpp — UTF-8 stepping and the GPT-2 byte-level alphabet.
#include "unicode_util.h"

namespace mlascope::tok {

Utf8Step utf8_step(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  if (n == 0) return {Utf8Step::Incomplete, 0, 0};
  const unsigned char b0 = p[0];
  if (b0 < 0x80) return {Utf8Step::Valid, 1, b0};
  size_t need;
  uint32_t cp;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
    cp = b0 & 0x1Fu;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    cp = b0 & 0x0Fu;
    if (b0 == 0xE0) lo = 0xA0;  // no overlongs
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    cp = b0 & 0x07u;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // <= U+10FFFF
  } else {
    return {Utf8Step::Invalid, 1, 0};
  }
  for (size_t i = 1; i < need; ++i) {
    if (i >= n) return {Utf8Step::Incomplete, i, 0};
    const unsigned char b = p[i];
    const unsigned char l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
    if (b < l || b > h) return {Utf8Step::Invalid, i, 0};
    cp = (cp << 6) | (b & 0x3Fu);
  }
  return {Utf8Step::Valid, need, cp};
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool is_unicode_whitespace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
         cp == 0x3000;
}

ByteLevelAlphabet::ByteLevelAlphabet() {
  cp_to_byte.fill(-1);
  // Printable Latin-1 bytes stand for themselves; the others (controls, space, 0x7F-0xA0, 0xAD)
  // take the code points from 256 upwards in byte order, so every stand-in is visible.
  uint32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const uint32_t cp = printable ? static_cast<uint32_t>(b) : next++;
    byte_to_cp[static_cast<size_t>(b)] = cp;
    cp_to_byte[cp] = static_cast<int16_t>(b);
  }
}

bool ByteLevelAlphabet::decode(std::string_view token, std::string& out) const {
  out.clear();
  while (!token.empty()) {
    Utf8Step st = utf8_step(token);
    if (st.kind != Utf8Step::Valid || st.cp >= cp_to_byte.size() || cp_to_byte[st.cp] < 0) return false;
    out += static_cast<char>(static_cast<unsigned char>(cp_to_byte[st.cp]));
    token.remove_prefix(st.len);
  }
  return true;
}

std::string ByteLevelAlphabet::encode(std::string_view bytes) const {
  std::string out;
  for (char c : bytes) append_utf8(out, byte_to_cp[static_cast<unsigned char>(c)]);
  return out;
}

const ByteLevelAlphabet& byte_level_alphabet() {
  static const ByteLevelAlphabet a;
  return a;
}

}  // namespace mlascope::tok
