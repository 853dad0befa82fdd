// tests/fuzz/fuzz_util.h — what every fuzz target shares: one private temp directory per process
// (removed at exit; nothing is written anywhere else), writing the input there as a file, and the
// rule every target checks: bad input may only end in mlascope::Error, a one-line message prefixed
// by where ("[gguf] ..."). Any other exception, a crash or a sanitizer report is a finding.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace mlascope {
class Error;
}

namespace mlascope::fuzz {

// /tmp/mlascope-fuzz-<pid>-XXXXXX, made on first use, removed when the process exits.
const std::filesystem::path& temp_dir();
void write_file(const std::filesystem::path& path, std::string_view bytes);
std::string read_file(const std::filesystem::path& path);
// Aborts (a libFuzzer crash with the message) when an Error breaks the one-line rule.
void check_error(const Error& e);
// Splits the input at the first occurrence of `sep` (the rest is empty when there is none).
std::pair<std::string_view, std::string_view> split_at(std::string_view in, std::string_view sep);

}  // namespace mlascope::fuzz
