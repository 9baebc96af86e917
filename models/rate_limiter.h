#pragma once
// A token bucket for client-side quotas ("tokens per minute", "requests per minute"), shared by
// all the threads that send requests to one deployment.

#include <chrono>
#include <cstdint>
#include <mutex>

namespace ragd::models {

// Refills at `per_minute` units per minute up to a capacity of `burst` worth of refill (at
// least one unit). Reservations are first come, first served: Reserve never refuses, it takes
// the units now (the level may go negative, i.e. into debt) and returns how long the caller
// must wait before spending them. A request larger than the capacity therefore waits until
// the bucket would have refilled enough, instead of starving.
//
// Thread safety: all methods may be called concurrently.
class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  // `per_minute` >= 1. The bucket starts full.
  TokenBucket(uint64_t per_minute, std::chrono::milliseconds burst, Clock::time_point now);

  // Reserves `units` at time `now`; the result is how long after `now` they may be spent
  // (zero when the bucket had them).
  Clock::duration Reserve(uint64_t units, Clock::time_point now);

  double capacity() const { return capacity_; }

 private:
  std::mutex mu_;
  const double rate_per_second_;
  const double capacity_;
  double level_;
  Clock::time_point last_;
};

}  // namespace ragd::models
