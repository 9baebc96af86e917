#pragma once
// Runs callbacks at deadlines, on one thread of its own: the answer deadline of every Answer
// call (retrieval.answer_deadline_ms) without a thread per call that only waits.
//
// Thread safety: every method may be called from any thread, also from a callback.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace ragd::concurrency {

class DeadlineTimer {
 public:
  using Clock = std::chrono::steady_clock;

  DeadlineTimer();
  // Drops the callbacks not yet run and joins the thread.
  ~DeadlineTimer();
  DeadlineTimer(const DeadlineTimer&) = delete;
  DeadlineTimer& operator=(const DeadlineTimer&) = delete;

  // Runs `callback` on the timer's thread at `deadline` (at once if it has passed), unless
  // Cancel(id) comes first. Callbacks must be short: they delay the ones after them.
  uint64_t Schedule(Clock::time_point deadline, std::function<void()> callback);

  // Forgets the callback of `id` if it has not started; a no-op otherwise.
  void Cancel(uint64_t id);

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  // Ordered by deadline, then by id (unique), so the first entry is the next one due.
  std::map<std::pair<Clock::time_point, uint64_t>, std::function<void()>> due_;
  std::map<uint64_t, Clock::time_point> by_id_;
  uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace ragd::concurrency
