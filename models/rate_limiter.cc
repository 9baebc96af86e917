#include "models/rate_limiter.h"

#include <algorithm>

namespace ragd::models {

TokenBucket::TokenBucket(uint64_t per_minute, std::chrono::milliseconds burst,
                         Clock::time_point now)
    : rate_per_second_(static_cast<double>(per_minute) / 60.0),
      capacity_(std::max(1.0, rate_per_second_ * static_cast<double>(burst.count()) / 1000.0)),
      level_(capacity_),
      last_(now) {}

TokenBucket::Clock::duration TokenBucket::Reserve(uint64_t units, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  // Callers pass their own `now`; one that raced ahead of another must not move time back.
  if (now > last_) {
    double elapsed = std::chrono::duration<double>(now - last_).count();
    level_ = std::min(capacity_, level_ + elapsed * rate_per_second_);
    last_ = now;
  }
  level_ -= static_cast<double>(units);
  if (level_ >= 0) return Clock::duration::zero();
  // The debt is paid back at the refill rate; `last_` may be ahead of `now`.
  double wait_seconds = -level_ / rate_per_second_;
  auto wait =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(wait_seconds));
  return (last_ - now) + wait;
}

}  // namespace ragd::models
