// views/chat_text.h — chat message text for display, free of ImGui so tests can check it: the
// message cut into plain text, fenced code blocks and special tokens (drawn as chips, not as
// "<｜begin▁of▁sentence｜>"), tabs expanded, and the byte length of a message's first N tokens (replay
// and the teaching pace show a message up to a token).
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mlascope::views {

struct ChatSegment {
  enum Kind { Text, Code, Special } kind = Text;
  std::string text;      // Text: with tabs expanded; Code: the block's lines (no fences); Special: the chip label
  std::string language;  // Code: the fence's info string ("python"), may be empty
  bool open = false;     // Code: the closing fence has not arrived yet (streaming)
};

// Splits message text. Code blocks are ``` fences at a line start (the rest of the opening line
// is the language); special tokens are DeepSeek's <｜...｜> markers (U+FF5C bars) and <|...|>,
// labelled with their inside (▁ as a space). Tabs become spaces to the next multiple of 4 columns.
std::vector<ChatSegment> segment_chat_text(std::string_view text);

// The chip label when the whole of `token_text` is one special token ("begin of sentence" for
// "<｜begin▁of▁sentence｜>", "im_end" for "<|im_end|>"), else empty: the token strip, tooltips and tables
// show such tokens as «label» instead of the raw marker.
std::string special_token_label(std::string_view token_text);

// Tabs to spaces at 4-column stops (columns counted in UTF-8 characters, restarting at newlines).
std::string expand_tabs(std::string_view s, int tab = 4);

// The inverse of Tokenizer::token_display for what it escapes: \n \t \r and \xNN back to bytes.
std::string unescape_token_display(std::string_view display);

// How many bytes of `message_text` the message's first `n` tokens make, given every token's
// display text in order. Each token's bytes are found by matching its unescaped display text (or,
// for sessions stored before message text was real, the display text itself) at the cursor; the
// walk stops at the first token that does not match.
size_t message_prefix_bytes(std::string_view message_text, const std::vector<std::string_view>& token_display, size_t n);

}  // namespace mlascope::views
