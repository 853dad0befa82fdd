// engine/tokenizer/unicode_util.h — the small pieces of UTF-8 and byte-level (GPT-2) alphabet
// handling the tokenizer needs; the Unicode property work itself is left to PCRE2.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mlascope::tok {

// What sits at the front of a byte string, read as UTF-8.
struct Utf8Step {
  enum Kind { Valid, Invalid, Incomplete } kind;
  size_t len;  // Valid: bytes of the character; Invalid: bytes of the maximal ill-formed prefix (>= 1)
  uint32_t cp;  // Valid only
};
// Follows the Unicode "maximal subpart" rule: overlongs, surrogates and > U+10FFFF are Invalid.
// Incomplete means a well-formed prefix that ran into the end of the input.
Utf8Step utf8_step(std::string_view s);

void append_utf8(std::string& out, uint32_t cp);

// Rust's char::is_whitespace (Unicode White_Space), which the reference uses for lstrip/rstrip.
bool is_unicode_whitespace(uint32_t cp);

// GPT-2 byte-level alphabet: every byte has a printable stand-in character.
struct ByteLevelAlphabet {
  std::array<uint32_t, 256> byte_to_cp{};
  std::array<int16_t, 512> cp_to_byte{};  // -1 when the code point is not a stand-in
  ByteLevelAlphabet();
  // Raw bytes of a vocab string written in the alphabet; false when a character is not a stand-in.
  bool decode(std::string_view token, std::string& out) const;
  std::string encode(std::string_view bytes) const;
};
const ByteLevelAlphabet& byte_level_alphabet();

}  // namespace mlascope::tok
