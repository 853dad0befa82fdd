// app/term_progress.cpp — see term_progress.h.
#include "term_progress.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sys/ioctl.h>
#include <unistd.h>

namespace mlascope::app {

std::string format_bytes(double bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  if (!std::isfinite(bytes) || bytes < 0) return "--";
  int u = 0;
  while (bytes >= 1024.0 && u < 4) {
    bytes /= 1024.0;
    ++u;
  }
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%.0f B", bytes);
  else std::snprintf(buf, sizeof buf, bytes < 10 ? "%.2f %s" : bytes < 100 ? "%.1f %s" : "%.0f %s", bytes, kUnits[u]);
  return buf;
}

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "--";
  char buf[32];
  if (s < 10) {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  } else if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.0fs", std::floor(s));
  } else if (s < 3600) {
    const long t = std::lround(std::floor(s));
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  } else {
    const long t = std::lround(std::floor(s));
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
  }
  return buf;
}

void ProgressMeter::sample(uint64_t done, uint64_t total, double t) {
  if (samples_.empty()) first_t_ = t;
  last_t_ = t;
  done_ = done;
  total_ = total;
  samples_.push_back({t, done});
  // Keep one sample older than the window so the rate always spans at least window_s.
  while (samples_.size() > 2 && samples_[1].t <= t - window_s_) samples_.pop_front();
}

double ProgressMeter::fraction() const {
  if (total_ == 0) return 0.0;
  return std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
}

double ProgressMeter::bytes_per_second() const {
  if (samples_.size() < 2) return 0.0;
  const Sample& a = samples_.front();
  const Sample& b = samples_.back();
  if (b.t <= a.t || b.done < a.done) return 0.0;
  return static_cast<double>(b.done - a.done) / (b.t - a.t);
}

double ProgressMeter::eta_seconds() const {
  if (total_ == 0) return -1.0;
  if (done_ >= total_) return 0.0;
  const double r = bytes_per_second();
  if (r <= 0) return -1.0;
  return static_cast<double>(total_ - done_) / r;
}

std::string render_progress_line(const std::string& label, const ProgressMeter& m, int width) {
  const double f = m.fraction();
  char pct[8];
  std::snprintf(pct, sizeof pct, "%3d%%", static_cast<int>(std::floor(f * 100.0 + 1e-9)));
  std::string tail = std::string(pct) + "  " + format_bytes(static_cast<double>(m.done())) + " / " +
                     format_bytes(static_cast<double>(m.total())) + "  " + format_bytes(m.bytes_per_second()) + "/s";
  tail += m.done() >= m.total() && m.total() > 0 ? "  in " + format_duration(m.elapsed())
                                                  : "  ETA " + format_duration(m.eta_seconds());
  // The bar takes whatever the label and the numbers leave, between 10 and 40 cells.
  const int bar = std::clamp(width - static_cast<int>(label.size() + tail.size()) - 6, 10, 40);
  const int filled = static_cast<int>(std::floor(f * bar));
  std::string line = label + "  [" + std::string(static_cast<size_t>(filled), '#') +
                     std::string(static_cast<size_t>(bar - filled), '.') + "]  " + tail;
  return line;
}

namespace {
int terminal_width(std::FILE* out) {
  winsize ws{};
  if (::ioctl(::fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}
}  // namespace

ProgressBar::ProgressBar(std::string label, std::FILE* out)
    : label_(std::move(label)), out_(out), tty_(::isatty(::fileno(out)) == 1), width_(terminal_width(out)),
      t0_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() {
  if (started_ && !finished_ && tty_) std::fputc('\n', out_);  // leave the cursor on a fresh line
}

double ProgressBar::now() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
}

void ProgressBar::update(uint64_t done, uint64_t total) {
  if (finished_) return;
  const double t = now();
  meter_.sample(done, total, t);
  if (!tty_) {
    if (!started_) std::fprintf(out_, "%s: %s\n", label_.c_str(), format_bytes(static_cast<double>(total)).c_str());
    started_ = true;
    return;
  }
  started_ = true;
  if (t - last_draw_ < 1.0 / 15.0 && done < total) return;
  last_draw_ = t;
  // -1: never write into the last column, some terminals wrap there.
  std::fprintf(out_, "\r%s\x1b[K", render_progress_line(label_, meter_, width_ - 1).c_str());
  std::fflush(out_);
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (!started_) return;
  if (tty_) {
    std::fprintf(out_, "\r%s\x1b[K\n", render_progress_line(label_, meter_, width_ - 1).c_str());
  } else {
    std::fprintf(out_, "%s: done, %s in %s\n", label_.c_str(), format_bytes(static_cast<double>(meter_.done())).c_str(),
                 format_duration(meter_.elapsed()).c_str());
  }
  std::fflush(out_);
}

}  // namespace mlascope::app
