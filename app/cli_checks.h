// app/cli_checks.h — option checks with messages a person can read. CLI11's PositiveNumber and
// NonNegativeNumber are ranges up to DBL_MAX and print it in full ("Value 0 not in range 0.000000 to
// 179769313486231570814527..."); these say what the option wants ("--top-k: must be 0 or more, not -1").
#pragma once
#include <string>

#include <CLI/CLI.hpp>

namespace mlascope::app {

CLI::Validator non_negative();                          // 0 or more
CLI::Validator positive();                              // more than 0
CLI::Validator in_range(double lo, double hi);          // lo..hi, both included
CLI::Validator threads_check();                         // 0 (all cores) or 1..kMaxThreads

constexpr int kMaxThreads = 1024;

}  // namespace mlascope::app
