// sessions/fingerprint.h — a cheap identity for a model's weight files, stored with each session so
// `sessions verify` can tell when it re-runs on different weights than were recorded.
#pragma once
#include <filesystem>
#include <string>

namespace mlascope::sessions {

// "fnv1a:<16 hex digits>": FNV-1a (64-bit) over each weight file's name, byte size, first MiB and
// last MiB, files in name order. `model_path` is a model directory (its *.safetensors / *.gguf) or
// one weight file. Reads at most 2 MiB per file, so it costs milliseconds even on a 600 GB
// checkpoint; the price is that an edit strictly inside the middle of a file goes unnoticed.
// Returns "" when there is no weight file to read (the session then records no fingerprint).
std::string weights_fingerprint(const std::filesystem::path& model_path);

}  // namespace mlascope::sessions
