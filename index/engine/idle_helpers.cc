#include "index/engine/idle_helpers.h"

namespace ragd::index {

IdleHelpers::IdleHelpers(int threads) {
  threads_.reserve(threads > 0 ? static_cast<size_t>(threads) : 0);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

IdleHelpers::~IdleHelpers() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

bool IdleHelpers::TryHandOff(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || idle_ == 0) return false;
    --idle_;  // that helper is now spoken for
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
  return true;
}

void IdleHelpers::Work() {
  std::unique_lock lock(mu_);
  for (;;) {
    ++idle_;
    cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stopping, and nothing was handed off
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    task();
    task = nullptr;  // what it captured goes before the helper counts itself idle again
    lock.lock();
  }
}

}  // namespace ragd::index
