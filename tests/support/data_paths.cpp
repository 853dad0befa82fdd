#include "data_paths.h"

#include <atomic>
#include <cstdlib>
#include <unistd.h>

namespace mlascope::test {

namespace fs = std::filesystem;

fs::path data_path(const std::string& rel) { return rel.empty() ? fs::path(MLASCOPE_TEST_DATA) : fs::path(MLASCOPE_TEST_DATA) / rel; }
fs::path asset_path(const std::string& rel) { return rel.empty() ? fs::path(MLASCOPE_ASSETS) : fs::path(MLASCOPE_ASSETS) / rel; }
// $MLASCOPE_TEST_BINARY runs the tests against another build (e.g. main's, to see a new test fail there).
fs::path mlascope_binary() {
  if (const char* b = std::getenv("MLASCOPE_TEST_BINARY"); b && *b) return b;
  return MLASCOPE_BINARY;
}

fs::path temp_dir(const std::string& tag) {
  static std::atomic<int> counter{0};
  fs::path p = fs::temp_directory_path() /
               ("mlascope-test-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

}  // namespace mlascope::test
