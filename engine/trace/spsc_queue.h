// engine/trace/spsc_queue.h — bounded lock-free single-producer single-consumer ring.
// The generator thread pushes one StepRecord (or a small event) per token; the UI, terminal or
// session-recorder thread pops them. Neither side ever takes a lock or waits on the other: a full
// ring makes try_push return false and the producer decides what to do (keep it for later, drop).
//
// Exactly one thread may call the producer functions (try_push) and exactly one other thread the
// consumer functions (try_pop, front); size_approx/capacity are safe from anywhere.
#pragma once
#include <atomic>
#include <cstddef>
#include <memory>
#include <new>
#include <optional>
#include <utility>

namespace mlascope {

template <typename T>
class SpscQueue {
 public:
  // capacity is rounded up to a power of two so indices wrap with a mask instead of a division.
  explicit SpscQueue(size_t capacity = 1024) {
    size_t c = 2;
    while (c < capacity) c <<= 1;
    mask_ = c - 1;
    slots_ = std::make_unique<Slot[]>(c);
  }
  ~SpscQueue() {
    // Destroy whatever the consumer never took.
    T tmp;
    while (try_pop(tmp)) {
    }
  }
  SpscQueue(const SpscQueue&) = delete;
  SpscQueue& operator=(const SpscQueue&) = delete;

  size_t capacity() const { return mask_ + 1; }

  // Producer. Leaves `v` untouched and returns false when the ring is full.
  bool try_push(T&& v) {
    const size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_cache_ > mask_) {
      // Only re-read the consumer's index when our cached copy says full: one shared cache line
      // touched per wrap rather than per push.
      head_cache_ = head_.load(std::memory_order_acquire);
      if (tail - head_cache_ > mask_) return false;
    }
    Slot& s = slots_[tail & mask_];
    new (s.storage) T(std::move(v));
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }
  bool try_push(const T& v) {
    T copy(v);
    return try_push(std::move(copy));
  }

  // Consumer. Moves the oldest element into `out`; false when empty.
  bool try_pop(T& out) {
    const size_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_cache_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (head == tail_cache_) return false;
    }
    Slot& s = slots_[head & mask_];
    T* p = std::launder(reinterpret_cast<T*>(s.storage));
    out = std::move(*p);
    p->~T();
    head_.store(head + 1, std::memory_order_release);
    return true;
  }
  std::optional<T> try_pop() {
    T v;
    if (!try_pop(v)) return std::nullopt;
    return v;
  }

  // Either side; exact only when the other side is idle.
  size_t size_approx() const {
    const size_t t = tail_.load(std::memory_order_acquire);
    const size_t h = head_.load(std::memory_order_acquire);
    return t - h;
  }
  bool empty_approx() const { return size_approx() == 0; }

 private:
  static constexpr size_t kLine = 64;  // keep producer and consumer indices on separate cache lines
  struct Slot {
    alignas(T) unsigned char storage[sizeof(T)];
  };

  std::unique_ptr<Slot[]> slots_;
  size_t mask_ = 0;
  alignas(kLine) std::atomic<size_t> tail_{0};  // written by the producer
  size_t head_cache_ = 0;                        // producer's last view of head_
  alignas(kLine) std::atomic<size_t> head_{0};  // written by the consumer
  size_t tail_cache_ = 0;                        // consumer's last view of tail_
};

}  // namespace mlascope
