// tests/engine/test_spsc_queue.cpp — the SPSC ring under two real threads.
#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include "engine/trace/spsc_queue.h"
#include "engine/trace/step_record.h"

using namespace mlascope;

TEST(SpscQueue, CapacityRoundsUpAndFullRefuses) {
  SpscQueue<int> q(5);
  EXPECT_EQ(q.capacity(), 8u);
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(q.try_push(int{i}));
  int v = 99;
  EXPECT_FALSE(q.try_push(std::move(v)));
  EXPECT_EQ(v, 99);  // a refused element stays with the producer
  EXPECT_EQ(q.size_approx(), 8u);
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(q.try_pop(v));
    EXPECT_EQ(v, i);
  }
  EXPECT_FALSE(q.try_pop(v));
  EXPECT_TRUE(q.try_push(int{42}));  // wraps around
  EXPECT_EQ(q.try_pop().value(), 42);
}

TEST(SpscQueue, DestroysWhatWasNeverPopped) {
  auto token = std::make_shared<int>(1);
  {
    SpscQueue<std::shared_ptr<int>> q(4);
    q.try_push(token);
    q.try_push(token);
    EXPECT_EQ(token.use_count(), 3);
  }
  EXPECT_EQ(token.use_count(), 1);
}

// A producer and a consumer thread through a small ring, so it wraps and fills many times: every
// record arrives once, in order, with its payload intact.
TEST(SpscQueue, TwoThreadsDeliverEveryRecordInOrder) {
  constexpr int kN = 200000;
  SpscQueue<StepRecord> q(64);
  std::thread producer([&] {
    for (int i = 0; i < kN; ++i) {
      StepRecord r;
      r.position = i;
      r.id = i * 7 + 1;
      r.routes.resize(static_cast<size_t>(i % 3));
      if (i % 1000 == 0) r.text = std::string(static_cast<size_t>(i % 50), 'x');
      while (!q.try_push(std::move(r))) std::this_thread::yield();
    }
  });
  int expected = 0;
  bool ok = true;
  StepRecord r;
  while (expected < kN) {
    if (!q.try_pop(r)) {
      std::this_thread::yield();
      continue;
    }
    if (r.position != expected || r.id != expected * 7 + 1 || r.routes.size() != static_cast<size_t>(expected % 3) ||
        (expected % 1000 == 0 && r.text.size() != static_cast<size_t>(expected % 50))) {
      ok = false;
      break;
    }
    ++expected;
  }
  producer.join();
  EXPECT_TRUE(ok) << "first bad record at " << expected;
  EXPECT_EQ(expected, kN);
  EXPECT_FALSE(q.try_pop(r));
}
