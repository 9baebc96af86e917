#pragma once
// A fixed pool of threads with a bounded queue, for the work of the services that must not run
// on gRPC's few callback threads: writes that wait for a WAL fsync, collection creation and
// removal (one executor), and searches (another, so that a write backlog never delays them).

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ragd::services {

class BoundedExecutor {
 public:
  // Starts `threads` (>= 1) workers; at most `max_queued` tasks wait at any time.
  BoundedExecutor(int threads, size_t max_queued);
  // Runs every queued task, then joins the workers.
  ~BoundedExecutor();
  BoundedExecutor(const BoundedExecutor&) = delete;
  BoundedExecutor& operator=(const BoundedExecutor&) = delete;

  // Queues `task`; false (and `task` is dropped) when the queue is full or shut down, which the
  // caller reports as RESOURCE_EXHAUSTED or UNAVAILABLE. Thread-safe.
  bool TrySubmit(std::function<void()> task);

  // Stops accepting tasks, runs the queued ones and joins the workers. Idempotent.
  void Shutdown();

 private:
  void Work();

  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace ragd::services
