// engine/remote/sse.cpp — see sse.h. Lines end with CRLF, LF or CR; a line starting with ':' is a
// comment; "field: value" drops one space after the colon; a blank line dispatches the event
// (one without data is dropped); a UTF-8 BOM at the very start is skipped.
#include "sse.h"

#include "../error.h"

namespace mlascope::remote {

SseParser::SseParser(OnEvent on_event, size_t max_event_bytes)
    : on_event_(std::move(on_event)), max_event_bytes_(max_event_bytes) {}

void SseParser::feed(std::string_view bytes) {
  size_t i = 0;
  if (skip_lf_ && !bytes.empty()) {
    if (bytes[0] == '\n') i = 1;
    skip_lf_ = false;
  }
  while (i < bytes.size()) {
    size_t j = i;
    while (j < bytes.size() && bytes[j] != '\n' && bytes[j] != '\r') ++j;
    pending_.append(bytes.data() + i, j - i);
    if (pending_.size() + cur_.data.size() > max_event_bytes_)
      fail("remote", "event stream", "an event is larger than " + std::to_string(max_event_bytes_ >> 20) + " MiB");
    if (j == bytes.size()) break;  // line continues in the next chunk
    if (bytes[j] == '\r') {
      if (j + 1 < bytes.size()) {
        if (bytes[j + 1] == '\n') ++j;
      } else {
        skip_lf_ = true;
      }
    }
    line(pending_);
    pending_.clear();
    i = j + 1;
  }
}

void SseParser::finish() {
  if (!pending_.empty()) {
    line(pending_);
    pending_.clear();
  }
  dispatch();
}

void SseParser::line(std::string_view l) {
  if (first_line_) {
    first_line_ = false;
    if (l.substr(0, 3) == "\xEF\xBB\xBF") l.remove_prefix(3);
  }
  if (l.empty()) {
    dispatch();
    return;
  }
  if (l[0] == ':') return;
  std::string_view field = l, value;
  const size_t colon = l.find(':');
  if (colon != std::string_view::npos) {
    field = l.substr(0, colon);
    value = l.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (have_data_) cur_.data += '\n';
    cur_.data.append(value);
    have_data_ = true;
  } else if (field == "event") {
    cur_.event.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) cur_.id.assign(value);
  }
  // "retry" and unknown fields are ignored, as the format says.
}

void SseParser::dispatch() {
  if (have_data_) {
    if (cur_.event.empty()) cur_.event = "message";
    on_event_(cur_);
  }
  cur_.event.clear();
  cur_.data.clear();
  have_data_ = false;
  // The last event id persists across events (per the format); keep it.
}

}  // namespace mlascope::remote
