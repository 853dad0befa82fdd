// tests/app/test_term_io.cpp — write_all under signals: a writer blocked on a full pipe is hit by
// signals whose handler has no SA_RESTART (the worst case: write() returns EINTR or a partial
// count); every byte must still arrive, in order. A single write() here delivers a fraction.
#include <gtest/gtest.h>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

#include "app/term_io.h"

using namespace mlascope::app;

namespace {
std::atomic<int> g_signals{0};
extern "C" void count_signal(int) { g_signals.fetch_add(1); }
}  // namespace

TEST(TermIo, WriteAllDeliversEveryByteThroughSignals) {
  struct sigaction sa {}, old {};
  sa.sa_handler = count_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: interrupted writes return early
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);

  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::string data(1 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);

  std::atomic<bool> done{false};
  bool ok = false;
  std::thread writer([&] {
    ok = write_all(fds[1], data);
    done = true;
  });
  // Read slowly so the writer blocks on the full pipe, and interrupt it while it waits.
  std::string got;
  char buf[4096];
  const pthread_t wt = writer.native_handle();
  while (got.size() < data.size()) {
    if (!done) pthread_kill(wt, SIGUSR1);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    const ssize_t n = read(fds[0], buf, sizeof buf);
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<size_t>(n));
  }
  writer.join();
  close(fds[0]);
  close(fds[1]);
  sigaction(SIGUSR1, &old, nullptr);
  EXPECT_TRUE(ok);
  EXPECT_GT(g_signals.load(), 10);
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data) << "bytes lost or reordered";
}

TEST(TermIo, WriteAllReportsAClosedReader) {
  signal(SIGPIPE, SIG_IGN);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  close(fds[0]);
  EXPECT_FALSE(write_all(fds[1], "x"));
  EXPECT_EQ(errno, EPIPE);
  close(fds[1]);
}
