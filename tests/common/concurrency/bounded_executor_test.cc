// concurrency::BoundedExecutor: the bounded queue (refusal when full) and the inline fast path that
// Points.Search takes on an idle server (TryRunInline), including every case where it must
// decline so that queued work keeps its order and the gRPC threads stay free.

#include "common/concurrency/bounded_executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

namespace ragd::services {
namespace {

using namespace std::chrono_literals;

// Blocks one worker until released, and says when it has started.
struct Blocker {
  std::promise<void> started;
  std::promise<void> release;
  std::shared_future<void> released{release.get_future().share()};

  // The task holds its own copy of the shared future: the worker may still be inside wait()
  // when the test's Blocker goes out of scope (declared after the executor, it is destroyed
  // first; ASan caught the shared state being freed under the waiting worker).
  std::function<void()> Task() {
    return [this, released = released] {
      started.set_value();
      released.wait();
    };
  }
};

TEST(BoundedExecutorTest, RunsSubmittedTasksOnWorkers) {
  concurrency::BoundedExecutor executor(2, 16);
  std::promise<std::thread::id> ran;
  ASSERT_TRUE(executor.TrySubmit([&] { ran.set_value(std::this_thread::get_id()); }));
  EXPECT_NE(ran.get_future().get(), std::this_thread::get_id());
}

TEST(BoundedExecutorTest, RefusesWhenTheQueueIsFull) {
  concurrency::BoundedExecutor executor(1, 1);
  Blocker blocker;
  ASSERT_TRUE(executor.TrySubmit(blocker.Task()));
  blocker.started.get_future().wait();
  EXPECT_TRUE(executor.TrySubmit([] {}));   // waits in the queue (1 slot)
  EXPECT_FALSE(executor.TrySubmit([] {}));  // the queue is full: refused, not run
  blocker.release.set_value();
}

TEST(BoundedExecutorTest, RunsInlineOnTheCallersThreadWhenIdle) {
  concurrency::BoundedExecutor executor(2, 16, 1);
  std::thread::id ran_on;
  ASSERT_TRUE(executor.TryRunInline([&] { ran_on = std::this_thread::get_id(); }));
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST(BoundedExecutorTest, NeverRunsInlineWhenDisabled) {
  concurrency::BoundedExecutor executor(2, 16, 0);
  bool ran = false;
  EXPECT_FALSE(executor.TryRunInline([&] { ran = true; }));
  EXPECT_FALSE(ran);
}

TEST(BoundedExecutorTest, AtMostMaxInlineAtOnce) {
  concurrency::BoundedExecutor executor(4, 16, 1);
  bool inner_ran = false;
  bool inner_accepted = true;
  ASSERT_TRUE(executor.TryRunInline(
      [&] { inner_accepted = executor.TryRunInline([&] { inner_ran = true; }); }));
  EXPECT_FALSE(inner_accepted);
  EXPECT_FALSE(inner_ran);
  // The slot is free again once the first one returned.
  EXPECT_TRUE(executor.TryRunInline([] {}));
}

TEST(BoundedExecutorTest, DeclinesInlineWhenEveryWorkerIsBusy) {
  // One worker, busy: the cores it stands for are taken, so a caller must queue.
  concurrency::BoundedExecutor executor(1, 16, 1);
  Blocker blocker;
  ASSERT_TRUE(executor.TrySubmit(blocker.Task()));
  blocker.started.get_future().wait();
  bool ran = false;
  EXPECT_FALSE(executor.TryRunInline([&] { ran = true; }));
  EXPECT_FALSE(ran);
  blocker.release.set_value();
}

TEST(BoundedExecutorTest, DeclinesInlineWhileTasksAreQueued) {
  // Two workers, both busy, one task queued: running a newcomer inline would overtake it.
  concurrency::BoundedExecutor executor(2, 16, 2);
  Blocker a, b;
  ASSERT_TRUE(executor.TrySubmit(a.Task()));
  ASSERT_TRUE(executor.TrySubmit(b.Task()));
  a.started.get_future().wait();
  b.started.get_future().wait();
  std::atomic<bool> queued_ran{false};
  ASSERT_TRUE(executor.TrySubmit([&] { queued_ran = true; }));
  EXPECT_FALSE(executor.TryRunInline([] {}));
  a.release.set_value();
  b.release.set_value();
  for (int i = 0; i < 500 && !queued_ran; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(queued_ran);
}

TEST(BoundedExecutorTest, InlineCountsAgainstTheWorkersShare) {
  // Two workers, one busy and one task inline: no idle share is left for a second inline
  // task even though max_inline would allow it.
  concurrency::BoundedExecutor executor(2, 16, 2);
  Blocker blocker;
  ASSERT_TRUE(executor.TrySubmit(blocker.Task()));
  blocker.started.get_future().wait();
  bool inner_accepted = true;
  ASSERT_TRUE(executor.TryRunInline([&] { inner_accepted = executor.TryRunInline([] {}); }));
  EXPECT_FALSE(inner_accepted);
  blocker.release.set_value();
}

TEST(BoundedExecutorTest, DeclinesInlineAfterShutdown) {
  concurrency::BoundedExecutor executor(1, 16, 1);
  executor.Shutdown();
  EXPECT_FALSE(executor.TryRunInline([] {}));
  EXPECT_FALSE(executor.TrySubmit([] {}));
}

}  // namespace
}  // namespace ragd::services
