// tests/support/temp_cleanup.h — removes, when the test process exits, the temp_dir()s it made
// (their names carry the pid), so crafted checkpoints do not pile up in /tmp between runs.
// Use: `const mlascope::test::TempCleanup kTempCleanup;` at namespace scope in a test file.
#pragma once
#include <filesystem>
#include <string>
#include <system_error>
#include <cstdlib>
#include <unistd.h>

namespace mlascope::test {

struct TempCleanup {
  TempCleanup() = default;
  TempCleanup(const TempCleanup&) = delete;
  TempCleanup& operator=(const TempCleanup&) = delete;
  ~TempCleanup() {
    if (std::getenv("MLASCOPE_KEEP_TEMP")) return;  // to inspect what a failing test wrote
    namespace fs = std::filesystem;
    const std::string mark = "-" + std::to_string(::getpid()) + "-";
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(fs::temp_directory_path(ec), ec)) {
      const std::string n = e.path().filename().string();
      if (n.rfind("mlascope-test-", 0) == 0 && n.find(mark) != std::string::npos) fs::remove_all(e.path(), ec);
    }
  }
};

}  // namespace mlascope::test
