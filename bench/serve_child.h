// bench/serve_child.h — `mlascope serve --port 0 ...` as a child process for serve_load and
// serve_fuzz: the port is read from its "listening on http://HOST:PORT" line, its RSS from
// /proc/PID/status, and it is stopped with SIGTERM (its drain) when the program ends.
#pragma once
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

namespace mlascope::bench {

class ServeChild {
 public:
  // argv: the full command line (argv[0] = the mlascope binary). Throws when it does not come up.
  explicit ServeChild(const std::vector<std::string>& argv, int timeout_s = 180) {
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::close(out[0]);
      ::close(out[1]);
      std::vector<char*> a;
      for (const std::string& s : argv) a.push_back(const_cast<char*>(s.c_str()));
      a.push_back(nullptr);
      ::execv(a[0], a.data());
      ::_exit(127);
    }
    ::close(out[1]);
    fd_ = out[0];
    std::string text;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    std::smatch m;
    while (!std::regex_search(text, m, std::regex("listening on (http://[^ ]+:(\\d+))"))) {
      if (std::chrono::steady_clock::now() > end) throw std::runtime_error("mlascope serve did not start: " + text);
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char buf[512];
      const ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n <= 0) throw std::runtime_error("mlascope serve exited before listening: " + text);
      text.append(buf, static_cast<size_t>(n));
    }
    url_ = m[1];
    port_ = std::stoi(m[2]);
  }
  ~ServeChild() { stop(); }
  ServeChild(const ServeChild&) = delete;
  ServeChild& operator=(const ServeChild&) = delete;

  const std::string& url() const { return url_; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  bool alive() {
    if (pid_ <= 0) return false;
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = st;
      pid_ = -1;
      return false;
    }
    return true;
  }
  int status() const { return status_; }  // waitpid status once it ended
  // SIGTERM, then wait for the drain (SIGKILL after 30 s).
  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      for (int i = 0; i < 300 && alive(); ++i) ::usleep(100000);
      if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status_, 0);
        pid_ = -1;
      }
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  int port_ = 0;
  int status_ = 0;
  std::string url_;
};

// Resident set of a process in MiB (VmRSS), -1 when unknown.
inline double rss_mib(pid_t pid) {
  if (pid <= 0) return -1;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return -1;
}

}  // namespace mlascope::bench
