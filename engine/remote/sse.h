// engine/remote/sse.h — a Server-Sent Events parser (the WHATWG "event stream" format): bytes in,
// whole events out. Every streaming API we speak (SGLang /generate, OpenAI-compatible routes)
// sends `data: <json>` events separated by a blank line and ends with `data: [DONE]`.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace mlascope::remote {

struct SseEvent {
  std::string event;  // "message" unless an `event:` field named it
  std::string data;   // the data lines joined with '\n'
  std::string id;
};

class SseParser {
 public:
  using OnEvent = std::function<void(const SseEvent&)>;
  // max_event_bytes bounds what one event may accumulate (a server that never sends a blank line).
  explicit SseParser(OnEvent on_event, size_t max_event_bytes = 64u << 20);
  // Any split of the stream is fine: lines and events may span calls. Throws Error when an
  // event grows past the limit.
  void feed(std::string_view bytes);
  // End of stream: a final event without its blank line is dispatched too (as browsers do not,
  // but servers that close right after the last data line are common).
  void finish();

 private:
  void line(std::string_view l);
  void dispatch();

  OnEvent on_event_;
  size_t max_event_bytes_;
  std::string pending_;  // an incomplete line
  bool skip_lf_ = false; // the last chunk ended with '\r': a '\n' opening the next is part of it
  bool first_line_ = true;
  bool have_data_ = false;
  SseEvent cur_;
};

}  // namespace mlascope::remote
