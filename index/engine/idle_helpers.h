#pragma once
// IdleHelpers: a few threads that take a task only if one of them is idle at that moment. A
// hybrid search hands its text leg to one and runs its vector leg on the calling thread, so
// that the legs overlap; when every helper is busy (other
// searches have them) the caller runs both legs itself, as before. Nothing queues, so a hand-off
// never waits behind other calls, and each search uses at most one helper: the threads a search
// can occupy stay bounded by the callers' own executor plus these.
//
// Thread safety: TryHandOff may be called from any thread. The destructor joins the threads
// after the tasks handed off have run.

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ragd::index {

class IdleHelpers {
 public:
  // Starts `threads` (>= 0) helper threads; 0: TryHandOff always returns false.
  explicit IdleHelpers(int threads);
  ~IdleHelpers();
  IdleHelpers(const IdleHelpers&) = delete;
  IdleHelpers& operator=(const IdleHelpers&) = delete;

  // Runs `task` on an idle helper and returns true; returns false (and drops `task`) when no
  // helper is idle. `task` must not throw, and what it refers to must outlive it: the caller
  // waits for its result before leaving.
  bool TryHandOff(std::function<void()> task);

 private:
  void Work();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // each taken by a helper counted idle when queued
  int idle_ = 0;                              // helpers waiting, less the tasks queued for them
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace ragd::index
