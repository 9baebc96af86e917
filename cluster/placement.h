#pragma once
// Placement: which shards of a collection a pod holds in cluster mode (README "Cluster mode",
// issue 14 "Placement"). The shard count of a collection is fixed at its creation; the pods
// form `groups` shard groups and group g holds every shard s with s mod groups = g, so that
// more pods per group add read capacity and availability, more groups add data capacity.
// groups = 1 (the default) is every pod holding every shard, as before shard groups existed.
//
// Plain values: copy freely, thread-safe to read.

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ragd::cluster {

struct Placement {
  // The number of shard groups (G), 1..256. Default: 1.
  uint32_t groups = 1;
  // This pod's group, 0..groups-1. Default: 0.
  uint32_t group = 0;

  // INVALID_ARGUMENT naming the field.
  absl::Status Validate() const;

  // The group that holds shard `shard`.
  uint32_t GroupOf(uint32_t shard) const { return shard % groups; }
  bool Holds(uint32_t shard) const { return GroupOf(shard) == group; }
  // The shards of a collection with `shards` shards that group `g` holds, ascending (empty
  // when the collection has fewer shards than g + 1).
  std::vector<uint32_t> ShardsOf(uint32_t g, uint32_t shards) const;
};

// The trailing decimal ordinal of a pod id (a StatefulSet pod "ragd-2" -> 2) modulo `groups`:
// the default group. INVALID_ARGUMENT when the id does not end in digits.
absl::StatusOr<uint32_t> GroupFromPodId(std::string_view pod_id, uint32_t groups);

}  // namespace ragd::cluster
