#include "cluster/placement.h"

#include <string>

namespace ragd::cluster {

absl::Status Placement::Validate() const {
  if (groups < 1 || groups > 256) {
    return absl::InvalidArgumentError("shard_groups: must be in [1, 256], got " +
                                      std::to_string(groups));
  }
  if (group >= groups) {
    return absl::InvalidArgumentError("shard_group: must be in [0, shard_groups - 1 = " +
                                      std::to_string(groups - 1) + "], got " +
                                      std::to_string(group));
  }
  return absl::OkStatus();
}

std::vector<uint32_t> Placement::ShardsOf(uint32_t g, uint32_t shards) const {
  std::vector<uint32_t> out;
  for (uint32_t s = g; s < shards; s += groups) out.push_back(s);
  return out;
}

absl::StatusOr<uint32_t> GroupFromPodId(std::string_view pod_id, uint32_t groups) {
  if (groups == 0) return absl::InvalidArgumentError("shard_groups: must be at least 1");
  size_t start = pod_id.size();
  while (start > 0 && pod_id[start - 1] >= '0' && pod_id[start - 1] <= '9') --start;
  const std::string_view digits = pod_id.substr(start);
  if (digits.empty() || digits.size() > 9) {
    return absl::InvalidArgumentError(
        "pod_id \"" + std::string(pod_id) +
        "\" does not end in an ordinal (like a StatefulSet's ragd-2): set cluster.shard_group");
  }
  uint32_t ordinal = 0;
  for (char ch : digits) ordinal = ordinal * 10 + static_cast<uint32_t>(ch - '0');
  return ordinal % groups;
}

}  // namespace ragd::cluster
