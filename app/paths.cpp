// app/paths.cpp — where the bundled assets are, for a build tree, an install, or an override.
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "commands.h"
#include "engine/error.h"

namespace mlascope::app {

namespace fs = std::filesystem;

namespace {
fs::path exe_dir() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::current_path() : p.parent_path();
}
}  // namespace

fs::path assets_dir() {
  if (const char* env = std::getenv("MLASCOPE_ASSETS"); env && *env) return env;
  const fs::path here = exe_dir();
  for (const fs::path& c : {here / "assets", here / ".." / "assets", here / ".." / ".." / "assets",
                            here / ".." / "share" / "mlascope" / "assets"}) {
    std::error_code ec;
    if (fs::is_directory(c / "models", ec)) return fs::weakly_canonical(c);
  }
#ifdef MLASCOPE_SOURCE_ASSETS
  if (fs::is_directory(MLASCOPE_SOURCE_ASSETS)) return MLASCOPE_SOURCE_ASSETS;
#endif
  return here / "assets";
}

fs::path default_model_dir() {
  if (const char* env = std::getenv("MLASCOPE_MODEL"); env && *env) return env;
  fs::path p = assets_dir() / "models" / "mla-moe-demo";
  std::error_code ec;
  if (!fs::exists(p / "config.json", ec))
    throw Error("[app] " + p.string() + ": the bundled demo model is missing; pass --model DIR or set MLASCOPE_MODEL");
  return p;
}

}  // namespace mlascope::app
