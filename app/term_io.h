// app/term_io.h — writing to the terminal when signals arrive: the chat installs a SIGINT handler,
// so a write() may return early (EINTR, or a partial count when the signal lands mid-write);
// write_all loops until every byte is out, so no token text is lost or cut.
#pragma once
#include <string_view>

namespace mlascope::app {

// Writes all of `bytes` to fd, retrying after EINTR and partial writes. False on another error
// (EPIPE, EIO: the terminal went away), with errno set.
bool write_all(int fd, std::string_view bytes);

}  // namespace mlascope::app
