#include "index/engine/leg_governor.h"

#include <algorithm>

namespace ragd::index {

LegGovernor::Way LegGovernor::Choose() {
  std::lock_guard lock(mu_);
  const uint64_t call = calls_++;
  if (!hand_off_.seeded) return Way::kHandOff;
  if (!sequential_.seeded) return Way::kSequential;
  const Way preferred =
      hand_off_.value <= sequential_.value ? Way::kHandOff : Way::kSequential;
  const uint32_t every = std::max<uint32_t>(options_.explore_every, 2);
  if (call % every != every - 1) return preferred;
  return preferred == Way::kHandOff ? Way::kSequential : Way::kHandOff;
}

void LegGovernor::Record(Way way, int64_t nanos) {
  const double sample = static_cast<double>(std::max<int64_t>(nanos, 0));
  std::lock_guard lock(mu_);
  Average& a = of(way);
  if (!a.seeded) {
    a.value = sample;
    a.seeded = true;
    return;
  }
  const double w = std::clamp(options_.weight, 1e-6, 1.0);
  a.value += w * (sample - a.value);
}

double LegGovernor::average_nanos(Way way) const {
  std::lock_guard lock(mu_);
  return of(way).value;
}

}  // namespace ragd::index
