// engine/backend/cpu/thread_pool.cpp — see thread_pool.h.
#include "thread_pool.h"

#include <algorithm>
#include <string>
#include <system_error>

#include "engine/error.h"

namespace mlascope::cpu {

namespace {
// Polls before a worker sleeps: 2000 pause polls (decode issues its loops microseconds apart and a
// condition-variable wake costs more), then yields so an oversubscribed core goes to someone else.
constexpr int kSpinPolls = 4000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}
}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  n_threads_ = n_threads;
  workers_.reserve(static_cast<size_t>(n_threads_ - 1));
  try {
    for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this] { worker_loop(); });
  } catch (const std::system_error& e) {
    // The system refused a thread (process or memory limits): stop the ones started, then say so
    // as a setup error the command prints as one line.
    const size_t started = workers_.size() + 1;
    stop_workers();
    fail("cpu", "threads", "could start only " + std::to_string(started) + " of " + std::to_string(n_threads_) +
                               " threads (" + e.code().message() + "); use a smaller --threads");
  }
}

ThreadPool::~ThreadPool() { stop_workers(); }

void ThreadPool::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::work(uint64_t gen) {
  for (;;) {
    uint64_t s = state_.load(std::memory_order_acquire);
    if ((s >> 32) != (gen & 0xffffffffu)) return;  // a later job: this generation is over
    const int idx = static_cast<int>(s & 0xffffffffu);
    if (idx >= job_parts_) return;
    if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) continue;
    // Chunk i covers [i*n/parts, (i+1)*n/parts): contiguous, so a thread streams its own weight rows.
    const int64_t begin = job_n_ * idx / job_parts_;
    const int64_t end = job_n_ * (idx + 1) / job_parts_;
    if (begin < end) (*job_)(begin, end);
    done_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    uint64_t g = generation_.load(std::memory_order_acquire);
    for (int spin = 0; g == seen && spin < kSpinPolls; ++spin) {
      if (spin < kSpinPolls / 2) cpu_relax();
      else std::this_thread::yield();
      g = generation_.load(std::memory_order_acquire);
    }
    if (g == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      g = generation_.load(std::memory_order_acquire);
    }
    seen = g;
    if (stop_.load()) return;
    work(g);
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t max_parts = (n + grain - 1) / grain;
  const int parts = static_cast<int>(std::min<int64_t>(n_threads_, max_parts));
  if (parts <= 1) {
    fn(0, n);
    return;
  }
  job_ = &fn;
  job_n_ = n;
  job_parts_ = parts;
  done_.store(0, std::memory_order_relaxed);
  const uint64_t gen = ++gen_;
  state_.store((gen & 0xffffffffu) << 32, std::memory_order_release);
  {
    // Taking the lock orders the bump against a worker that is about to sleep.
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.store(gen, std::memory_order_release);
  }
  wake_.notify_all();
  work(gen);
  // Only chunks a worker already claimed are waited for; unclaimed ones ran here.
  for (int spin = 0; done_.load(std::memory_order_acquire) != parts; ++spin) {
    if (spin < 2000) cpu_relax();
    else std::this_thread::yield();
  }
  job_ = nullptr;
}

}  // namespace mlascope::cpu
