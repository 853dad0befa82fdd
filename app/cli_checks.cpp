// app/cli_checks.cpp — see cli_checks.h.
#include "cli_checks.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace mlascope::app {

namespace {

// The option's text as a number; false when it is not one (CLI11's conversion then reports it).
bool number_of(const std::string& s, double& v) {
  if (s.empty()) return false;
  char* end = nullptr;
  v = std::strtod(s.c_str(), &end);
  return end && *end == '\0' && std::isfinite(v);
}

std::string shown(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

CLI::Validator non_negative() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        double v = 0;
        if (!number_of(s, v)) return "'" + s + "' is not a number";
        return v >= 0 ? std::string() : "must be 0 or more, not " + s;
      },
      "0 or more", "NON-NEGATIVE");
}

CLI::Validator positive() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        double v = 0;
        if (!number_of(s, v)) return "'" + s + "' is not a number";
        return v > 0 ? std::string() : "must be more than 0, not " + s;
      },
      "more than 0", "POSITIVE");
}

CLI::Validator in_range(double lo, double hi) {
  const std::string range = shown(lo) + ".." + shown(hi);
  return CLI::Validator(
      [lo, hi, range](std::string& s) -> std::string {
        double v = 0;
        if (!number_of(s, v)) return "'" + s + "' is not a number";
        return v >= lo && v <= hi ? std::string() : "must be in " + range + ", not " + s;
      },
      range, "RANGE");
}

CLI::Validator threads_check() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        double v = 0;
        if (!number_of(s, v) || v != std::floor(v)) return "'" + s + "' is not a whole number of threads";
        if (v < 0 || v > kMaxThreads)
          return "must be 0 (all cores) or 1.." + std::to_string(kMaxThreads) + ", not " + s;
        return {};
      },
      "0 = all cores, else 1.." + std::to_string(kMaxThreads), "THREADS");
}

}  // namespace mlascope::app
