// bench/bench_membw.cpp — the machine's streaming read bandwidth (the ceiling for batch-1 decode,
// which reads every active weight once per token). Sums a buffer much larger than the caches with
// 1 and 2 threads; prints the median of several passes in GB/s (1 GB = 1e9 bytes).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <thread>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace {

float sum_range(const float* p, size_t n) {
#if defined(__AVX2__)
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(p + i + 24));
  }
  alignas(32) float t[8];
  _mm256_store_ps(t, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  float s = t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
  for (; i < n; ++i) s += p[i];
  return s;
#else
  return std::accumulate(p, p + n, 0.0f);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  const size_t mib = argc > 1 ? static_cast<size_t>(std::atoi(argv[1])) : 1024;
  const size_t n = mib * 1024 * 1024 / sizeof(float);
  std::vector<float> buf(n, 1.0f);
  for (int threads : {1, 2}) {
    std::vector<double> gbs;
    volatile float sink = 0;
    for (int rep = 0; rep < 7; ++rep) {
      std::vector<float> part(static_cast<size_t>(threads));
      const auto t0 = std::chrono::steady_clock::now();
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
          const size_t b = n * static_cast<size_t>(t) / static_cast<size_t>(threads);
          const size_t e = n * static_cast<size_t>(t + 1) / static_cast<size_t>(threads);
          part[static_cast<size_t>(t)] = sum_range(buf.data() + b, e - b);
        });
      for (auto& th : pool) th.join();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      sink = sink + part[0];
      gbs.push_back(static_cast<double>(n * sizeof(float)) / s / 1e9);
    }
    std::sort(gbs.begin(), gbs.end());
    std::printf("membw threads=%d buffer=%zu MiB median %.2f GB/s (min %.2f, max %.2f)\n", threads, mib,
                gbs[gbs.size() / 2], gbs.front(), gbs.back());
  }
  return 0;
}
