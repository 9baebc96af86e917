#include "common/concurrency/stream_threads.h"

#include <utility>

namespace ragd::concurrency {

StreamThreads::StreamThreads(size_t max_threads)
    : max_threads_(max_threads < 1 ? 1 : max_threads) {}

StreamThreads::~StreamThreads() { Shutdown(); }

bool StreamThreads::TrySubmit(std::function<void()> task) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return false;
  if (idle_ > queue_.size()) {
    queue_.push_back(std::move(task));
    cv_.notify_one();
    return true;
  }
  if (threads_.size() >= max_threads_) return false;
  queue_.push_back(std::move(task));
  // The new thread takes this task (or another one that an idle thread left): either way every
  // queued task has a thread that will take it without waiting for a busy one.
  threads_.emplace_back([this] { Work(); });
  return true;
}

void StreamThreads::Shutdown() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    threads.swap(threads_);
  }
  cv_.notify_all();
  for (std::thread& t : threads) t.join();
}

size_t StreamThreads::threads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return threads_.size();
}

size_t StreamThreads::idle() const {
  std::lock_guard<std::mutex> lock(mu_);
  return idle_;
}

void StreamThreads::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (!queue_.empty()) {
      std::function<void()> task = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      task();
      task = nullptr;  // the task's captures are released before the thread waits again
      lock.lock();
      continue;
    }
    if (stopping_) return;
    ++idle_;
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    --idle_;
  }
}

}  // namespace ragd::concurrency
