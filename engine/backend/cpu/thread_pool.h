// engine/backend/cpu/thread_pool.h — a fixed set of worker threads created once per backend.
// Decode runs dozens of tiny parallel loops per token, so the pool never creates threads on the hot
// path: workers spin briefly on a generation counter, then sleep on a condition variable. Chunks
// are claimed, not assigned: when a worker is descheduled (an oversubscribed machine) the caller
// runs its chunk instead of waiting for it to wake up.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mlascope::cpu {

class ThreadPool {
 public:
  // n_threads counts the calling thread; 0 = hardware concurrency. Throws Error when the system
  // cannot start that many threads.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Splits [0, n) into contiguous chunks (at least `grain` items each) and calls fn(begin, end)
  // on them from all threads, the caller included. Returns when every chunk is done.
  // Not reentrant: fn must not call parallel_for.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void worker_loop();
  void stop_workers();  // wakes, stops and joins the workers started so far
  // Claims and runs chunks of generation `gen` until none are left.
  void work(uint64_t gen);

  int n_threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};  // bumped per parallel_for; workers wake on a change
  std::atomic<uint64_t> state_{0};       // (generation << 32) | next unclaimed chunk
  std::atomic<int> done_{0};             // chunks finished in the current generation
  std::atomic<bool> stop_{false};
  uint64_t gen_ = 0;                     // caller side copy of generation_
  // The job of the current generation (published by the release store of state_).
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_n_ = 0;
  int job_parts_ = 0;
};

}  // namespace mlascope::cpu
