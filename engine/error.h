// engine/error.h — the one error type thrown at boundaries (loading, parsing, I/O, CLI).
// Messages are one line, prefixed by where: "[safetensors] model.safetensors: tensor 'x' ...".
// The hot path never throws; it returns status values (see StepStatus).
#pragma once
#include <stdexcept>
#include <string>
#include <string_view>

namespace mlascope {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// "[where] subject: what"
[[noreturn]] inline void fail(std::string_view where, std::string_view subject, std::string_view what) {
  std::string m;
  m.reserve(where.size() + subject.size() + what.size() + 6);
  m += '[';
  m += where;
  m += "] ";
  if (!subject.empty()) {
    m += subject;
    m += ": ";
  }
  m += what;
  throw Error(m);
}

}  // namespace mlascope
