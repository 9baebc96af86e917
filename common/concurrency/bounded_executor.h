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

namespace ragd::concurrency {

class BoundedExecutor {
 public:
  // Starts `threads` (>= 1) workers; at most `max_queued` tasks wait at any time; at most
  // `max_inline` tasks run on their callers' threads at once (TryRunInline).
  BoundedExecutor(int threads, size_t max_queued, int max_inline = 0);
  // Runs every queued task, then joins the workers.
  ~BoundedExecutor();
  BoundedExecutor(const BoundedExecutor&) = delete;
  BoundedExecutor& operator=(const BoundedExecutor&) = delete;

  // Queues `task`; false (and `task` is dropped) when the queue is full or shut down, which the
  // caller reports as RESOURCE_EXHAUSTED or UNAVAILABLE. Thread-safe.
  bool TrySubmit(std::function<void()> task);

  // Runs `task` on the calling thread, now, when that takes nothing from anyone: nothing is
  // queued, the tasks running (on workers or inline) leave a worker's share of the cores idle,
  // and fewer than `max_inline` run inline already. Returns false without running it
  // otherwise; the caller then uses TrySubmit. Why: a hand-off to a sleeping worker costs a
  // thread wake-up on each call (tens of microseconds on a virtual machine, where waking an
  // idle vCPU exits to the hypervisor), which for a 1 ms search is most of what a service adds
  // to the library. Keeping `max_inline` below gRPC's callback thread count leaves one of them
  // free to read the next requests and to refuse them when the executor is full.
  template <typename Task>
  bool TryRunInline(Task&& task) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_ || inline_ >= max_inline_ || !queue_.empty() ||
          running_ + inline_ >= static_cast<int>(workers_.size())) {
        return false;
      }
      ++inline_;
    }
    struct Leave {
      BoundedExecutor* self;
      ~Leave() {
        std::lock_guard<std::mutex> lock(self->mu_);
        --self->inline_;
      }
    } leave{this};
    task();
    return true;
  }

  // The number of worker threads (fixed at construction).
  int threads() const { return static_cast<int>(workers_.size()); }

  // Stops accepting tasks, runs the queued ones and joins the workers. Idempotent.
  void Shutdown();

 private:
  void Work();

  const size_t max_queued_;
  const int max_inline_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  int running_ = 0;  // tasks running on workers
  int inline_ = 0;   // tasks running on callers' threads
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace ragd::concurrency
