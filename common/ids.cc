#include "common/ids.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>

namespace ragd {

std::string NewJobId() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &utc);
  thread_local std::mt19937_64 rng(std::random_device{}() ^
                                   static_cast<uint64_t>(now.time_since_epoch().count()));
  char suffix[16];
  std::snprintf(suffix, sizeof(suffix), "%08x", static_cast<unsigned>(rng() & 0xFFFFFFFFu));
  return std::string("job-") + stamp + "-" + suffix;
}

}  // namespace ragd
