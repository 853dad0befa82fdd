// tests/support/alloc_meter.h — counts the heap a piece of code allocates, to check that a lying
// size in a file is refused before anything is allocated from it. Replaces the global operator
// new/delete, so include it in exactly ONE file of a test executable (each tests/*/test_*.cpp is
// its own executable). Bytes go through malloc as before (sanitizers still see every block).
//
//   AllocMeter m;            // starts counting from zero
//   load_something();
//   EXPECT_LT(m.peak(), 64 << 20);
#pragma once
#include <malloc.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace mlascope::test {

struct AllocCounters {
  static inline std::atomic<long long> live{0};
  static inline std::atomic<long long> peak{0};
  static void add(void* p) {
    const auto n = static_cast<long long>(malloc_usable_size(p));
    const long long now = live.fetch_add(n) + n;
    long long old = peak.load();
    while (now > old && !peak.compare_exchange_weak(old, now)) {
    }
  }
  static void sub(void* p) { live.fetch_sub(static_cast<long long>(malloc_usable_size(p))); }
};

// Peak heap (operator new) above the level at construction.
class AllocMeter {
 public:
  AllocMeter() : base_(AllocCounters::live.load()) { AllocCounters::peak.store(base_); }
  long long peak() const { return AllocCounters::peak.load() - base_; }

 private:
  long long base_;
};

}  // namespace mlascope::test

void* operator new(std::size_t n) {
  void* p = std::malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  mlascope::test::AllocCounters::add(p);
  return p;
}
void* operator new[](std::size_t n) { return ::operator new(n); }
// The nothrow forms too (std::stable_sort's temporary buffer uses them): under ASan, which replaces
// every form, a nothrow new left to it paired with the delete above was an alloc-dealloc mismatch,
// and its bytes went uncounted.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  void* p = std::malloc(n ? n : 1);
  if (p) mlascope::test::AllocCounters::add(p);
  return p;
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return ::operator new(n, t); }
void operator delete(void* p) noexcept {
  if (!p) return;
  mlascope::test::AllocCounters::sub(p);
  std::free(p);
}
void operator delete[](void* p) noexcept { ::operator delete(p); }
void operator delete(void* p, std::size_t) noexcept { ::operator delete(p); }
void operator delete[](void* p, std::size_t) noexcept { ::operator delete(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { ::operator delete(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { ::operator delete(p); }
