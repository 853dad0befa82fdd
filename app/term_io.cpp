// app/term_io.cpp — see term_io.h.
#include "term_io.h"

#include <cerrno>
#include <unistd.h>

namespace mlascope::app {

bool write_all(int fd, std::string_view bytes) {
  const char* p = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace mlascope::app
