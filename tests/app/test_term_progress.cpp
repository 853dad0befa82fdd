// tests/app/test_term_progress.cpp — progress meter arithmetic on a synthetic clock, and the
// formatting of sizes and durations.
#include <gtest/gtest.h>

#include "app/term_progress.h"

using namespace mlascope::app;

TEST(TermProgress, FormatBytes) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1536), "1.50 KiB");
  EXPECT_EQ(format_bytes(23524824), "22.4 MiB");  // the demo model.safetensors
  EXPECT_EQ(format_bytes(3.5 * 1024 * 1024 * 1024), "3.50 GiB");
  EXPECT_EQ(format_bytes(-1), "--");
}

TEST(TermProgress, FormatDuration) {
  EXPECT_EQ(format_duration(0.42), "0.4s");
  EXPECT_EQ(format_duration(42.7), "42s");
  EXPECT_EQ(format_duration(185), "3m05s");
  EXPECT_EQ(format_duration(3720), "1h02m");
  EXPECT_EQ(format_duration(-1), "--");
}

TEST(TermProgress, RateAndEta) {
  ProgressMeter m(2.0);
  const uint64_t MiB = 1 << 20;
  m.sample(0, 200 * MiB, 10.0);
  EXPECT_EQ(m.bytes_per_second(), 0.0);
  EXPECT_LT(m.eta_seconds(), 0.0);  // unknown until time passes
  m.sample(50 * MiB, 200 * MiB, 11.0);
  m.sample(100 * MiB, 200 * MiB, 12.0);
  EXPECT_DOUBLE_EQ(m.bytes_per_second(), 50.0 * MiB);
  EXPECT_DOUBLE_EQ(m.eta_seconds(), 2.0);
  EXPECT_DOUBLE_EQ(m.fraction(), 0.5);
  EXPECT_DOUBLE_EQ(m.elapsed(), 2.0);
  // The window forgets the fast start: 10 MiB/s over the last 2 s.
  m.sample(110 * MiB, 200 * MiB, 13.0);
  m.sample(120 * MiB, 200 * MiB, 14.0);
  EXPECT_DOUBLE_EQ(m.bytes_per_second(), 10.0 * MiB);
  EXPECT_DOUBLE_EQ(m.eta_seconds(), 8.0);
  m.sample(200 * MiB, 200 * MiB, 15.0);
  EXPECT_DOUBLE_EQ(m.eta_seconds(), 0.0);
  EXPECT_DOUBLE_EQ(m.fraction(), 1.0);
}

TEST(TermProgress, UnknownTotal) {
  ProgressMeter m;
  m.sample(10, 0, 0.0);
  m.sample(20, 0, 1.0);
  EXPECT_EQ(m.fraction(), 0.0);
  EXPECT_LT(m.eta_seconds(), 0.0);
  EXPECT_DOUBLE_EQ(m.bytes_per_second(), 10.0);
}

TEST(TermProgress, RenderedLine) {
  ProgressMeter m;
  m.sample(0, 4096, 0.0);
  m.sample(1024, 4096, 1.0);
  const std::string line = render_progress_line("loading", m, 80);
  EXPECT_LE(line.size(), 80u);
  EXPECT_NE(line.find(" 25%"), std::string::npos) << line;
  EXPECT_NE(line.find("1.00 KiB / 4.00 KiB"), std::string::npos) << line;
  EXPECT_NE(line.find("1.00 KiB/s"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA 3.0s"), std::string::npos) << line;
  // A quarter of the bar is filled.
  const size_t open = line.find('['), close = line.find(']');
  ASSERT_NE(open, std::string::npos);
  const std::string bar = line.substr(open + 1, close - open - 1);
  const auto hashes = static_cast<size_t>(std::count(bar.begin(), bar.end(), '#'));
  EXPECT_EQ(hashes, bar.size() / 4) << bar;
}
