// tests/engine/test_error_line.cpp — error lines quote bytes from files (GGUF keys, tensor names,
// JSON tokens, session text): whatever those bytes are, the line that reaches the terminal is one
// printable line of readable length. Expected strings are written out by hand.
#include <gtest/gtest.h>

#include "engine/error.h"

using namespace mlascope;

TEST(ErrorLine, ControlCharactersAreEscaped) {
  EXPECT_EQ(printable_line("a\nb\rc\td"), "a\\nb\\rc\\td");
  // An ANSI escape sequence (ESC [ 2 J clears the screen) and a NUL, DEL.
  EXPECT_EQ(printable_line(std::string("x\x1b[2Jy\0z\x7f", 9)), "x\\x1b[2Jy\\x00z\\x7f");
}

TEST(ErrorLine, C1ControlsAndInvalidUtf8AreEscapedValidUtf8IsKept) {
  EXPECT_EQ(printable_line("\xc2\x9b" "31m"), "\\xc2\\x9b31m");  // U+009B: the 8-bit CSI
  EXPECT_EQ(printable_line("caf\xc3\xa9 \xe2\x96\x81 \xf0\x9f\x98\x80"), "caf\xc3\xa9 \xe2\x96\x81 \xf0\x9f\x98\x80");
  EXPECT_EQ(printable_line("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(printable_line("\xe2\x96"), "\\xe2\\x96");          // a character cut short
  EXPECT_EQ(printable_line("\xc0\xaf"), "\\xc0\\xaf");          // overlong '/'
  EXPECT_EQ(printable_line("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a UTF-16 surrogate
  EXPECT_EQ(printable_line("\xc2\xa0"), "\xc2\xa0");            // U+00A0 is printable
}

TEST(ErrorLine, LongLinesAreCutWithTheCountOfWhatWasLeftOut) {
  const std::string key(100000, 'k');
  const std::string line = printable_line("[gguf] f.gguf: metadata key '" + key + "' has unknown type 99");
  EXPECT_EQ(line.size(), kMaxErrorChars + std::string("... (99650 more bytes)").size());
  EXPECT_EQ(line.substr(0, 30), "[gguf] f.gguf: metadata key 'k");
  EXPECT_EQ(line.substr(kMaxErrorChars), "... (99650 more bytes)");
}

TEST(ErrorLine, EveryErrorIsPrintable) {
  try {
    fail("safetensors", "m.safetensors", "tensor 'evil\n\x1b]0;owned\x07' is bad");
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "[safetensors] m.safetensors: tensor 'evil\\n\\x1b]0;owned\\x07' is bad");
  }
}
