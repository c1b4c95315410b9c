// Thread helpers: parallel_for_each_index finishes every iteration even when
// it runs inside another parallel loop that is being cancelled (found by the
// crash-consistency test: an interrupt in one chunk cut another chunk's
// checksum and verification short, so they "passed" without reading).
#include "sp/threads.h"

#include <gtest/gtest.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

namespace sp {
namespace {

TEST(ParallelForEachIndex, RunsEveryIndexOnceAndRethrows) {
  std::vector<std::atomic<int>> seen(1000);
  parallel_for_each_index(seen.size(), [&](size_t i) { seen[i]++; });
  for (auto& s : seen) EXPECT_EQ(s.load(), 1);
  EXPECT_THROW(parallel_for_each_index(10, [](size_t i) { if (i == 7) throw std::runtime_error("x"); }),
               std::runtime_error);
  parallel_for_each_index(0, [](size_t) { FAIL(); });
}

TEST(ParallelForEachIndex, NestedLoopFinishesWhenTheEnclosingLoopIsCancelled) {
  int nested_runs = 0;
  for (int attempt = 0; attempt < 20 && nested_runs < 3; ++attempt) {
    std::atomic<bool> nested_started{false};
    std::atomic<size_t> done{0};
    tbb::task_arena arena(2);
    arena.execute([&] {
      EXPECT_THROW(tbb::parallel_for(tbb::blocked_range<size_t>(0, 2, 1),
                                     [&](const tbb::blocked_range<size_t>& r) {
                                       for (size_t i = r.begin(); i != r.end(); ++i) {
                                         if (i == 0) {  // fails while the other iteration is in its nested loop
                                           for (int k = 0; k < 2000 && !nested_started; ++k)
                                             std::this_thread::sleep_for(std::chrono::milliseconds(1));
                                           throw std::runtime_error("another task failed");
                                         }
                                         parallel_for_each_index(100, [&](size_t) {
                                           nested_started = true;
                                           std::this_thread::sleep_for(std::chrono::milliseconds(2));
                                           ++done;
                                         });
                                       }
                                     }),
                   std::runtime_error);
    });
    if (!nested_started) continue;  // both iterations ran on one thread: nothing nested was cancelled
    ++nested_runs;
    EXPECT_EQ(done.load(), 100u) << "the nested loop was cut short by the enclosing loop's cancellation";
  }
  EXPECT_GT(nested_runs, 0) << "never ran the two iterations at once";
}

// The tests' main holds one WorkerThreadsJoin (and fails the binary when its
// join at exit is skipped); a second one must skip at once, not wait forever,
// and leave oneTBB working.
TEST(WorkerThreadsJoin, SkipsWhileAnotherHoldsTheSchedulerAndLoopsStillRun) {
  WorkerThreadsJoin inner;
  parallel_for_each_index(64, [](size_t) { std::this_thread::sleep_for(std::chrono::microseconds(100)); });
  EXPECT_FALSE(inner.join());
  EXPECT_FALSE(inner.join());
  std::atomic<size_t> runs{0};
  parallel_for_each_index(1000, [&](size_t) { ++runs; });
  EXPECT_EQ(runs.load(), 1000u);
}

}  // namespace
}  // namespace sp
