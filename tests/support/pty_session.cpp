// tests/support/pty_session.cpp — see pty_session.h.
#include "pty_session.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <stdexcept>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

namespace mlascope::test {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

[[noreturn]] void exec_child(const std::vector<std::string>& argv, const EnvOverrides& env) {
  for (const auto& [k, v] : env) {
    if (v == "\x01unset") ::unsetenv(k.c_str());
    else ::setenv(k.c_str(), v.c_str(), 1);
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execv(args[0], args.data());
  std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
  ::_exit(127);
}

int decode_status(int st) {
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return -WTERMSIG(st);
  return -1;
}

}  // namespace

RunResult run_command(const std::vector<std::string>& argv, const EnvOverrides& env, double timeout_s) {
  int out_pipe[2], err_pipe[2];
  if (::pipe(out_pipe) != 0 || ::pipe(err_pipe) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::setpgid(0, 0);  // its own group, so a timeout takes what it started too (a shell's children)
    const int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    exec_child(argv, env);
  }
  ::setpgid(pid, pid);  // also here: whichever runs first, the group exists before any kill
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  RunResult r;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  const auto t0 = Clock::now();
  char buf[4096];
  while (open_fds > 0 && seconds_since(t0) < timeout_s) {
    if (::poll(fds, 2, 100) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  if (open_fds > 0) {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
  }
  for (pollfd& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  int st = 0;
  ::waitpid(pid, &st, 0);
  r.exit_code = decode_status(st);
  return r;
}

std::string strip_ansi(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\r') continue;
    if (c != '\x1b') {
      out += c;
      continue;
    }
    if (i + 1 >= s.size()) break;
    if (s[i + 1] == '[') {  // CSI: parameters, then one final byte in 0x40..0x7e
      i += 2;
      while (i < s.size() && !(s[i] >= 0x40 && s[i] <= 0x7e)) ++i;
    } else if (s[i + 1] == ']') {  // OSC: up to BEL or ESC '\'
      i += 2;
      while (i < s.size() && s[i] != '\x07' && !(s[i] == '\x1b' && i + 1 < s.size() && s[i + 1] == '\\')) ++i;
      if (i < s.size() && s[i] == '\x1b') ++i;
    } else {
      ++i;  // two-byte sequence
    }
  }
  return out;
}

PtySession::PtySession(const std::vector<std::string>& argv, const EnvOverrides& env, int cols, int rows) {
  winsize ws{};
  ws.ws_col = static_cast<unsigned short>(cols);
  ws.ws_row = static_cast<unsigned short>(rows);
  pid_ = ::forkpty(&master_, nullptr, nullptr, &ws);
  if (pid_ < 0) throw std::runtime_error(std::string("forkpty: ") + std::strerror(errno));
  if (pid_ == 0) exec_child(argv, env);
  ::fcntl(master_, F_SETFL, ::fcntl(master_, F_GETFL) | O_NONBLOCK);
}

PtySession::~PtySession() {
  if (!exited_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
  }
  if (master_ >= 0) ::close(master_);
}

void PtySession::send(std::string_view bytes) {
  size_t off = 0;
  const auto t0 = Clock::now();
  while (off < bytes.size() && seconds_since(t0) < 10) {
    const ssize_t n = ::write(master_, bytes.data() + off, bytes.size() - off);
    if (n > 0) off += static_cast<size_t>(n);
    else if (errno == EAGAIN || errno == EINTR) pump(0.01);  // the child is busy: keep reading its output
    else break;
  }
}

bool PtySession::pump(double timeout_s) {
  pollfd p{master_, POLLIN, 0};
  const int r = ::poll(&p, 1, static_cast<int>(timeout_s * 1000));
  if (r <= 0) return true;
  char buf[8192];
  const ssize_t n = ::read(master_, buf, sizeof buf);
  if (n > 0) {
    out_.append(buf, static_cast<size_t>(n));
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
  return false;  // EIO: the child closed the terminal (exited)
}

bool PtySession::wait_for(std::string_view needle, double timeout_s, size_t from) {
  const auto t0 = Clock::now();
  while (true) {
    if (text_since(from).find(needle) != std::string::npos) return true;
    if (seconds_since(t0) >= timeout_s) return false;
    if (!pump(0.05)) return text_since(from).find(needle) != std::string::npos;
  }
}

bool PtySession::wait_for_after(std::string_view first, std::string_view then, double timeout_s, size_t from) {
  const auto t0 = Clock::now();
  auto found = [&] {
    const std::string t = text_since(from);
    const size_t p = t.find(first);
    return p != std::string::npos && t.find(then, p + first.size()) != std::string::npos;
  };
  while (true) {
    if (found()) return true;
    if (seconds_since(t0) >= timeout_s) return false;
    if (!pump(0.05)) return found();
  }
}

void PtySession::drain(double seconds) {
  const auto t0 = Clock::now();
  while (seconds_since(t0) < seconds)
    if (!pump(0.05)) break;
}

int PtySession::wait_exit(double timeout_s) {
  const auto t0 = Clock::now();
  while (!exited_) {
    pump(0.05);
    const pid_t r = ::waitpid(pid_, &status_, WNOHANG);
    if (r == pid_) exited_ = true;
    else if (seconds_since(t0) >= timeout_s) return -1000;
  }
  while (pump(0.01) && seconds_since(t0) < timeout_s + 1) {
    pollfd p{master_, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) break;
  }
  return decode_status(status_);
}

}  // namespace mlascope::test
