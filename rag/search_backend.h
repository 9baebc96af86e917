#pragma once
// SearchBackend: where the retriever's searches go when they must not go to the local engine
// alone. In a sharded cluster (cluster.shard_groups > 1) this pod's engine holds only its shard
// group's shards, and the server sets a backend that fans the search out over every group
// (cluster/router.h, through services/api). rag/ stays free of gRPC and of cluster types.
//
// Implementations are thread-safe.

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "index/engine/engine.h"

namespace ragd::rag {

// Which shards of the collection a search covered (ragd.v1.ShardCoverage): all of them
// unless the caller allowed a partial answer and some could not be reached.
struct ShardCoverage {
  uint32_t shards_total = 0;
  uint32_t shards_answered = 0;
  std::vector<uint32_t> missing_shards;  // ascending
};

struct BackendSearchResult {
  index::SearchResult result;
  ShardCoverage coverage;
};

class SearchBackend {
 public:
  virtual ~SearchBackend() = default;
  // As index::Engine::Search over the whole collection; plus UNAVAILABLE when part of it
  // cannot be reached, unless `allow_partial`: then the hits of the parts that answered, and
  // the coverage says which shards are missing. Every part is searched once it has applied at
  // least `min_sequence` of the collection's log (0: at once), so that a read-your-writes wait
  // made on this pod holds for the parts other pods hold too. The whole search, waits included,
  // ends by `deadline` (DEADLINE_EXCEEDED); an implementation may bound it sooner.
  virtual absl::StatusOr<BackendSearchResult> Search(const index::SearchRequest& request,
                                                     uint64_t min_sequence, bool allow_partial,
                                                     absl::Time deadline) = 0;
};

}  // namespace ragd::rag
