#pragma once
// Threads for blocking model streams. ChatModel::Stream holds its thread for the whole answer
// (seconds to minutes of HTTP), so model streams cannot share a small fixed pool with searches;
// but creating a thread per stream costs a clone, a fresh stack and the page faults to touch it
// on every Answer. These threads are created on demand, up to a cap, and then kept and reused:
// in a steady state an Answer call starts no thread.
//
// There is no queue: a task runs at once on an idle thread or on a new one, or is refused.
// Answer's admission (retrieval.max_concurrent_answers) already bounds how many streams run, so
// the cap is a backstop, not a tuning knob.
//
// Thread safety: every method may be called from any thread.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ragd::concurrency {

class StreamThreads {
 public:
  // At most `max_threads` (>= 1) threads are ever created.
  explicit StreamThreads(size_t max_threads);
  // Shutdown().
  ~StreamThreads();
  StreamThreads(const StreamThreads&) = delete;
  StreamThreads& operator=(const StreamThreads&) = delete;

  // Runs `task` at once on an idle thread, or on a new one while fewer than max_threads exist.
  // False (and `task` is dropped) when every thread is busy or after Shutdown.
  bool TrySubmit(std::function<void()> task);

  // Refuses new tasks, lets the running ones finish and joins the threads. Idempotent.
  void Shutdown();

  // Threads created so far (busy or idle).
  size_t threads() const;
  // Threads waiting for a task right now (a thread that has just finished one counts only once
  // it waits again).
  size_t idle() const;

 private:
  void Work();

  const size_t max_threads_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Never more tasks than threads free to take them (idle, or just created for one).
  std::deque<std::function<void()>> queue_;
  size_t idle_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace ragd::concurrency
