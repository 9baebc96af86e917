#include "services/api/cluster_writes.h"

#include <algorithm>

namespace ragd::services {

std::string RequestIdOf(const grpc::ServerContextBase& context) {
  const auto& md = context.client_metadata();
  auto it = md.find("x-request-id");
  if (it == md.end() || it->second.empty() || it->second.size() > 128) return "";
  return std::string(it->second.data(), it->second.size());
}

absl::Time WriteDeadlineOf(const grpc::ServerContextBase& context, absl::Duration cap) {
  const absl::Time capped = absl::Now() + cap;
  const auto deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return capped;
  return std::min(absl::FromChrono(deadline), capped);
}

absl::Time ReadDeadlineOf(const grpc::ServerContextBase& context, absl::Duration cap) {
  return WriteDeadlineOf(context, cap);
}

absl::Status NotInClusterMode(const char* what) {
  return absl::UnimplementedError(std::string(what) +
                                  " is not supported in cluster mode yet (issue 14)");
}

}  // namespace ragd::services
