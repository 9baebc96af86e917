#pragma once
// Shard: one slice of a collection (points routed by Hash64(id) % shards). It owns the
// in-memory vector index and the maps that filtered search and the write path need; RocksDB
// (through storage::Store) stays the source of truth.
//
// Locking: `mu_` is a reader-writer lock. Searches and counts take it shared; the write path
// takes it exclusive only to update the index and maps after RocksDB has committed. Writers
// are serialised by their collection's write mutex, which callers of the Writer* methods hold.

#include <atomic>
#include <mutex>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "index/engine/engine.h"
#include "index/filter.h"
#include "index/storage/store.h"
#include "index/vector_index.h"

namespace ragd::index {

class Shard {
 public:
  // What the in-memory side keeps per live point: enough to evaluate filters.
  struct LiveMeta {
    std::string id;
    std::string document_id;
    Metadata metadata;
  };
  // One upsert after RocksDB committed it.
  struct Added {
    Label label;
    const Point* point;  // vector already normalised for kCosine
  };
  struct Hit {
    Label label;
    std::string id;
    float score;
  };

  Shard(storage::Store* store, storage::ShardKey key, const CollectionSpec& spec,
        const Engine::Options& options);

  // Loads the maps from RocksDB, then the index snapshot (validated) reconciled with RocksDB,
  // or rebuilds the index from RocksDB when the snapshot is missing, stale or corrupt.
  absl::Status Recover();

  // --- write side: caller holds the collection's write mutex ---
  std::optional<Label> WriterLabelOf(std::string_view id) const;
  Label WriterAllocateLabel() { return next_label_++; }
  uint64_t WriterNextLabel() const { return next_label_; }
  // Ids of live points matching `filter` (the write mutex keeps the maps still).
  std::vector<std::string> WriterMatchingIds(const Filter& filter) const;
  // Makes committed changes visible: adds `added`, removes `removed` labels (replaced or
  // deleted points). Takes the exclusive lock.
  absl::Status WriterApply(const std::vector<Added>& added,
                           const std::vector<std::pair<Label, std::string>>& removed);

  // Quantized indexes: whether and how widely candidates are re-scored with the float32
  // vectors in RocksDB (SearchOptions::rescore, oversampling).
  struct Rescoring {
    bool rescore = true;
    float oversampling = 0;
  };

  // --- read side ---
  absl::StatusOr<std::vector<Hit>> Search(std::span<const float> query, size_t k, int ef,
                                          const Filter* filter, SearchPlan* plan,
                                          Rescoring rescoring) const;
  uint64_t Count(const Filter* filter) const;
  size_t live() const;
  size_t removed() const;
  size_t index_bytes() const;

  // True when the removed slots justify a rebuild (compaction_ratio, compaction_min_removed).
  bool NeedsCompaction() const;
  // Builds a new index from RocksDB and swaps it in, without blocking readers. `write_mu` is
  // the collection's write mutex: held briefly at the start (to pin a consistent RocksDB view
  // and start logging writes) and at the end (to replay logged writes and swap).
  absl::Status Compact(std::mutex& write_mu);

  // Engine::Verify for this shard: adds its findings to `report`, searching for at most
  // `max_searches` of its points (an even sample). `write_mu` is the collection's write mutex,
  // held only while a RocksDB view is pinned and the index's labels copied.
  absl::Status Verify(std::mutex& write_mu, const VerifyOptions& options, size_t max_searches,
                      VerifyReport* report) const;

  // Saves the index snapshot when anything changed since the last one; then sets `*attempted`
  // (when not null) to true, whether the save succeeded or not.
  absl::Status SaveSnapshotIfDirty(uint64_t sequence, bool* attempted = nullptr);

  storage::ShardKey key() const { return key_; }

 private:
  // Builds an index holding every vector of this shard in RocksDB (as of `view`).
  absl::StatusOr<std::unique_ptr<VectorIndex>> BuildFromStore(const storage::ReadView* view) const;
  uint64_t SpecFingerprint() const;

  storage::Store* store_;
  const storage::ShardKey key_;
  const CollectionSpec& spec_;
  const Engine::Options& options_;

  mutable std::shared_mutex mu_;
  std::unique_ptr<VectorIndex> index_;
  absl::flat_hash_map<Label, LiveMeta> live_;
  absl::flat_hash_map<std::string, Label> labels_;
  std::atomic<uint64_t> next_label_{1};
  std::atomic<bool> dirty_{false};
  std::atomic<bool> compacting_{false};

  // While a compaction builds its new index, the write path logs what it applies here so the
  // new index can catch up before the swap. Guarded by the collection's write mutex.
  struct Logged {
    std::vector<Label> labels;
    std::vector<float> vectors;
    std::vector<Label> removed;
  };
  std::unique_ptr<Logged> compaction_log_;
  std::mutex snapshot_mu_;  // one snapshot writer at a time
};

}  // namespace ragd::index
