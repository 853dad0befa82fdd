// tests/support/pty_session.h — drive a real program from tests: run it to completion with its
// output captured (pipes), or talk to it through a real pseudo-terminal (forkpty) the way a person
// at a terminal does: type lines, press Ctrl-C / Ctrl-D, read what it prints as it streams.
#pragma once
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace mlascope::test {

using EnvOverrides = std::vector<std::pair<std::string, std::string>>;  // value "\x01unset" removes

struct RunResult {
  int exit_code = -1;  // -signal when killed by a signal
  std::string out;
  std::string err;
};
// Runs argv[0] with argv, no stdin, stdout and stderr captured separately.
RunResult run_command(const std::vector<std::string>& argv, const EnvOverrides& env = {}, double timeout_s = 120);

// Removes ANSI escape sequences (CSI and OSC) and carriage returns.
std::string strip_ansi(std::string_view s);

class PtySession {
 public:
  PtySession(const std::vector<std::string>& argv, const EnvOverrides& env = {}, int cols = 120, int rows = 40);
  ~PtySession();  // SIGKILLs the child if it is still running
  PtySession(const PtySession&) = delete;
  PtySession& operator=(const PtySession&) = delete;

  void send(std::string_view bytes);
  void send_line(std::string_view line) { send(std::string(line) + "\r"); }
  void ctrl_c() { send("\x03"); }
  void ctrl_d() { send("\x04"); }

  // Raw output so far (escape sequences included).
  const std::string& output() const { return out_; }
  size_t mark() const { return out_.size(); }
  // Output since `from`, escape sequences removed.
  std::string text_since(size_t from) const { return strip_ansi(std::string_view(out_).substr(std::min(from, out_.size()))); }
  // Reads until the escape-stripped output after `from` contains `needle`; false on timeout or exit.
  bool wait_for(std::string_view needle, double timeout_s, size_t from = 0);
  // Like wait_for, but `then` must appear after `first` (e.g. a command's output, then the next prompt;
  // the echoed command line itself starts with the prompt, so waiting for the prompt alone races).
  bool wait_for_after(std::string_view first, std::string_view then, double timeout_s, size_t from = 0);
  // Reads whatever arrives for `seconds`.
  void drain(double seconds);
  // Waits for the child to exit; its exit code, -signal, or -1000 on timeout.
  int wait_exit(double timeout_s);
  pid_t pid() const { return pid_; }

 private:
  bool pump(double timeout_s);  // one read; false on EOF
  pid_t pid_ = -1;
  int master_ = -1;
  bool exited_ = false;
  int status_ = 0;
  std::string out_;
};

}  // namespace mlascope::test
