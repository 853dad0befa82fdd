// app/term_progress.h — loading progress: a meter (fraction, bytes/s, ETA) fed by the loader's
// LoadProgress callback, and a one-line bar drawn with it. The meter has no I/O so the GUI's
// progress bar can show the same numbers.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <string>

namespace mlascope::app {

// "0 B", "512 B", "1.5 KiB", "22.4 MiB", "3.20 GiB"
std::string format_bytes(double bytes);
// "0.4s", "42s", "3m05s", "1h02m"; "--" for negative or non-finite values (unknown).
std::string format_duration(double seconds);

class ProgressMeter {
 public:
  // Rate over the last `window_s` seconds of samples, so a stall shows up quickly but a single
  // slow read does not swing the ETA.
  explicit ProgressMeter(double window_s = 2.0) : window_s_(window_s) {}

  // `t` = seconds since any fixed origin (monotonic).
  void sample(uint64_t done, uint64_t total, double t);

  uint64_t done() const { return done_; }
  uint64_t total() const { return total_; }
  double fraction() const;          // 0..1; 0 while total is unknown
  double bytes_per_second() const;  // 0 until two samples span time
  double eta_seconds() const;       // -1 when unknown
  double elapsed() const { return samples_.empty() ? 0.0 : last_t_ - first_t_; }

 private:
  struct Sample {
    double t;
    uint64_t done;
  };
  double window_s_;
  std::deque<Sample> samples_;
  double first_t_ = 0, last_t_ = 0;
  uint64_t done_ = 0, total_ = 0;
};

// "label  [#########.........]  45%  10.0 MiB / 22.4 MiB  5.0 MiB/s  ETA 3s" fitted to `width` columns.
std::string render_progress_line(const std::string& label, const ProgressMeter& m, int width);

// Draws the bar on a terminal (redrawn in place with \r, at most ~15 times a second) or, when the
// stream is not a terminal, prints one line at the start and one at the end.
class ProgressBar {
 public:
  ProgressBar(std::string label, std::FILE* out);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Matches LoadProgress: (bytes done, bytes total).
  void update(uint64_t done, uint64_t total);
  void finish();
  const ProgressMeter& meter() const { return meter_; }

 private:
  double now() const;
  std::string label_;
  std::FILE* out_;
  bool tty_;
  int width_;
  bool started_ = false, finished_ = false;
  double last_draw_ = -1;
  std::chrono::steady_clock::time_point t0_;
  ProgressMeter meter_;
};

}  // namespace mlascope::app
