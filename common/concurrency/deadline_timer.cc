#include "common/concurrency/deadline_timer.h"

namespace ragd::concurrency {

DeadlineTimer::DeadlineTimer() : thread_([this] { Run(); }) {}

DeadlineTimer::~DeadlineTimer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

uint64_t DeadlineTimer::Schedule(Clock::time_point deadline, std::function<void()> callback) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t id = next_id_++;
  const bool first = due_.empty() || deadline < due_.begin()->first.first;
  due_.emplace(std::make_pair(deadline, id), std::move(callback));
  by_id_.emplace(id, deadline);
  if (first) cv_.notify_all();
  return id;
}

void DeadlineTimer::Cancel(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  due_.erase(std::make_pair(it->second, id));
  by_id_.erase(it);
}

void DeadlineTimer::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (due_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto first = due_.begin();
    if (Clock::now() < first->first.first) {
      // A copy: wait_until reads its deadline again after waking, and a Cancel() meanwhile
      // frees the map node (a use-after-free that ASan found).
      const Clock::time_point next = first->first.first;
      cv_.wait_until(lock, next);
      continue;
    }
    std::function<void()> callback = std::move(first->second);
    by_id_.erase(first->first.second);
    due_.erase(first);
    // Unlocked, so that the callback may Schedule or Cancel.
    lock.unlock();
    callback();
    lock.lock();
  }
}

}  // namespace ragd::concurrency
