// tests/fuzz/fuzz_util.cpp — see fuzz_util.h.
#include "fuzz_util.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

#include "engine/error.h"

namespace mlascope::fuzz {

namespace fs = std::filesystem;

namespace {
struct TempDir {
  fs::path path;
  TempDir() {
    std::error_code ec;
    std::string tmpl = (fs::temp_directory_path(ec) / ("mlascope-fuzz-" + std::to_string(::getpid()) + "-XXXXXX")).string();
    if (!::mkdtemp(tmpl.data())) {
      std::perror("mkdtemp");
      std::abort();
    }
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};
}  // namespace

const fs::path& temp_dir() {
  static TempDir d;
  return d.path;
}

void write_file(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void check_error(const Error& e) {
  const std::string_view m = e.what();
  // "[where] subject: what" with a subject (the file): "[gguf] : ..." names nothing a user can find.
  const size_t close = m.find("] ");
  const bool no_subject = close != std::string_view::npos && m.substr(close + 2, 2) == ": ";
  if (m.empty() || m[0] != '[' || no_subject || m.find('\n') != std::string_view::npos || m.size() > kMaxErrorChars + 100) {
    std::fprintf(stderr, "fuzz: an Error that is not one line prefixed by where: '%s'\n", e.what());
    std::abort();
  }
}

std::pair<std::string_view, std::string_view> split_at(std::string_view in, std::string_view sep) {
  const size_t at = in.find(sep);
  if (at == std::string_view::npos) return {in, {}};
  return {in.substr(0, at), in.substr(at + sep.size())};
}

}  // namespace mlascope::fuzz
