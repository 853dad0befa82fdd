// sessions/fingerprint.cpp — see fingerprint.h.
#include "fingerprint.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <vector>

namespace mlascope::sessions {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;  // FNV-1a 64 offset basis
constexpr uint64_t kFnvPrime = 0x100000001b3ull;
constexpr size_t kEdgeBytes = size_t{1} << 20;

bool is_weight_file(const fs::path& p) { return p.extension() == ".safetensors" || p.extension() == ".gguf"; }

}  // namespace

std::string weights_fingerprint(const fs::path& model_path) {
  std::vector<fs::path> files;
  std::error_code ec;
  if (fs::is_directory(model_path, ec)) {
    for (const auto& e : fs::directory_iterator(model_path, ec))
      if (e.is_regular_file(ec) && is_weight_file(e.path())) files.push_back(e.path());
  } else if (fs::is_regular_file(model_path, ec)) {
    files.push_back(model_path);
  }
  if (files.empty()) return {};
  // Directory order differs between file systems; the fingerprint must not.
  std::sort(files.begin(), files.end());

  uint64_t h = kFnvOffset;
  auto mix = [&h](const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * kFnvPrime;
  };
  std::vector<char> buf(kEdgeBytes);
  for (const fs::path& f : files) {
    const std::string name = f.filename().string();
    mix(name.data(), name.size());
    const uint64_t size = fs::file_size(f, ec);
    mix(&size, sizeof size);
    std::ifstream in(f, std::ios::binary);
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    mix(buf.data(), static_cast<size_t>(in.gcount()));
    // A file of at most 2 MiB is fully covered by the head (<= 1 MiB) or head + tail (overlap allowed).
    if (size > kEdgeBytes) {
      in.clear();
      in.seekg(static_cast<std::streamoff>(size - kEdgeBytes));
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      mix(buf.data(), static_cast<size_t>(in.gcount()));
    }
  }
  char out[24];
  std::snprintf(out, sizeof out, "fnv1a:%016llx", static_cast<unsigned long long>(h));
  return out;
}

}  // namespace mlascope::sessions
