#pragma once
// Engine internals shared by the engine's .cc files (not part of its interface): a collection
// as the engine holds it, and Engine::Impl. engine.cc has the catalog and the write path;
// engine_read.cc the reads (Get, searches, counts, Verify); maintenance.cc the background work
// (compactions, periodic snapshots), snapshots and backups, and the events they report
// (engine_events.h).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/hash.h"
#include "index/engine/engine.h"
#include "index/engine/idle_helpers.h"
#include "index/engine/leg_governor.h"
#include "index/engine/shard.h"
#include "index/storage/store.h"

namespace ragd::index {

struct Collection {
  uint32_t id = 0;
  int64_t created_at_ms = 0;
  CollectionSpec spec;
  // The collection's analyzer (spec.lexical), null without a lexical index. Shared by its
  // shards, the write path (analysis before the write mutex) and text searches.
  std::unique_ptr<lexical::Analyzer> analyzer;
  std::vector<std::unique_ptr<Shard>> shards;
  // Serialises the collection's write batches: sequence assignment, the RocksDB commit and the
  // index update happen in log order.
  std::mutex write_mu;
  std::atomic<uint64_t> last_sequence{0};
  // Exclusive while the collection is dropped; shared by snapshot writers, so that no snapshot
  // lands after the range delete.
  std::shared_mutex lifecycle_mu;
  bool dropped = false;  // guarded by write_mu and lifecycle_mu (both taken to set it)

  size_t ShardOf(std::string_view id) const {
    return ShardOfId(id, static_cast<uint32_t>(shards.size()));
  }
};

class Engine::Impl {
 public:
  explicit Impl(const Options& options) : options_(options) {}
  ~Impl() { (void)Close(); }

  absl::Status Open();
  absl::Status CreateCollection(const CollectionSpec& spec);
  absl::StatusOr<CollectionInfo> GetCollection(std::string_view name) const;
  absl::StatusOr<CollectionSpec> GetCollectionSpec(std::string_view name) const;
  absl::StatusOr<uint64_t> LastSequence(std::string_view name) const;
  std::vector<CollectionInfo> ListCollections() const;
  absl::Status DeleteCollection(std::string_view name);
  absl::StatusOr<WriteResult> Upsert(std::string_view name, std::vector<Point> points);
  absl::StatusOr<WriteResult> Delete(std::string_view name, const std::vector<std::string>& ids);
  absl::StatusOr<WriteResult> DeleteByFilter(std::string_view name, const Filter& filter);
  absl::StatusOr<Engine::MatchingIds> FindMatchingIds(std::string_view name,
                                                      const Filter& filter) const;
  absl::StatusOr<WriteResult> Apply(WriteBatch batch);
  absl::StatusOr<WriteResult> Write(std::string_view name, std::vector<Point> upserts,
                                    std::vector<std::string> deletes,
                                    const std::vector<AuxWrite>& aux);
  absl::StatusOr<std::optional<std::string>> GetAux(std::string_view ns,
                                                    std::string_view key) const;
  absl::Status PutAux(std::string_view ns,
                      const std::vector<std::pair<std::string, std::string>>& entries);
  absl::Status DeleteAux(std::string_view ns, const std::vector<std::string>& keys);
  absl::Status ScanAux(std::string_view ns, std::string_view prefix,
                       const std::function<bool(std::string_view, std::string_view)>& fn) const;
  absl::StatusOr<std::vector<Point>> Get(std::string_view name, const std::vector<std::string>& ids,
                                         bool with_vectors) const;
  absl::StatusOr<SearchResult> Search(const SearchRequest& request) const;
  absl::StatusOr<uint64_t> Count(std::string_view name, const std::optional<Filter>& f) const;
  absl::StatusOr<VerifyReport> Verify(std::string_view name, const VerifyOptions& options) const;
  absl::Status SaveSnapshots();
  absl::StatusOr<BackupManifest> CreateBackup(const std::string& dir);
  void WaitForCompactions();
  absl::Status Close();

 private:
  absl::StatusOr<std::shared_ptr<Collection>> Find(std::string_view name) const;
  // Validates a mixed batch (upserts normalised in place); the sequence is not looked at.
  static absl::Status ValidateAux(const std::vector<AuxWrite>& aux);
  absl::Status ValidateBatch(const Collection& c, std::vector<Point>& upserts,
                             const std::vector<std::string>& deletes) const;
  absl::Status LoadCollection(std::string_view name, std::string_view record);
  // The analysed text of each upsert (collections with a lexical index; else empty). Pure,
  // run before the write mutex is taken.
  // Per upsert: its distinct terms and their term record, encoded (storage::EncodeTermRecord)
  // with the collection's analyzer id, both made before the write mutex.
  struct AnalysedText {
    std::vector<lexical::TermFreq> terms;
    std::string record;
  };
  using Analysed = std::vector<AnalysedText>;
  absl::StatusOr<Analysed> AnalyzeUpserts(const Collection& c,
                                          const std::vector<Point>& upserts) const;
  // Builds the shards (and the analyzer) of a collection whose spec is set.
  absl::Status MakeShards(Collection& c);
  // Applies a validated batch; the caller holds c.write_mu and checked the sequence.
  // `analysed` is AnalyzeUpserts' result for `upserts`.
  absl::StatusOr<WriteResult> ApplyLocked(Collection& c, std::vector<Point>& upserts,
                                          const Analysed& analysed,
                                          const std::vector<std::string>& deletes,
                                          uint64_t sequence,
                                          const std::vector<AuxWrite>* aux = nullptr);
  CollectionInfo Info(const Collection& c) const;
  void ScheduleCompactions(const std::shared_ptr<Collection>& c);
  void BackgroundLoop();
  // Flushes the memtables and trims the heap once writes have stopped (idle_flush_seconds).
  void ReleaseIdleMemory();
  // Called after every committed write of about `bytes` (points' vectors and text): arms
  // ReleaseIdleMemory, and wakes the background loop for a bulk-load trim once
  // options_.trim_after_written_bytes have been written since the last one.
  void NoteWrite(size_t bytes) {
    last_write_ns_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                         std::memory_order_relaxed);
    writes_since_flush_.store(true, std::memory_order_release);
    const size_t threshold = options_.trim_after_written_bytes;
    if (threshold > 0 && bytes_since_trim_.fetch_add(bytes, std::memory_order_relaxed) < threshold &&
        bytes_since_trim_.load(std::memory_order_relaxed) >= threshold) {
      bg_cv_.notify_all();
    }
  }
  absl::Status SaveCollectionSnapshots(Collection& c);
  // CreateBackup without the event.
  absl::StatusOr<BackupManifest> WriteBackup(const std::string& dir);
  // Calls options_.on_event, when set, for work of `kind` that began at `start`.
  void Report(EngineEventKind kind, std::string_view collection,
              std::chrono::steady_clock::time_point start, bool ok) const;
  absl::Status CheckOpen() const {
    if (closed_) return absl::UnavailableError("engine is closed");
    return absl::OkStatus();
  }

  const Options options_;
  std::unique_ptr<storage::Store> store_;

  mutable std::shared_mutex catalog_mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<Collection>> collections_;
  uint32_t next_collection_id_ = 1;  // guarded by catalog_mu_ (exclusive)

  // Background work: compactions (queued by writers) and periodic snapshots.
  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  std::deque<std::pair<std::weak_ptr<Collection>, size_t>> compactions_;
  absl::flat_hash_set<Shard*> queued_;
  bool bg_busy_ = false;
  bool stop_ = false;
  // When the last write committed (steady_clock ticks) and whether any came since the last
  // idle flush: written by writers without bg_mu_, read by the background loop.
  std::atomic<int64_t> last_write_ns_{0};
  std::atomic<bool> writes_since_flush_{false};
  // Bytes committed since the last heap trim (NoteWrite; reset by the background loop).
  std::atomic<size_t> bytes_since_trim_{0};
  std::thread bg_thread_;
  std::atomic<bool> closed_{false};
  // Hybrid searches' text legs (Options::search_leg_threads); set by Open.
  std::unique_ptr<IdleHelpers> leg_helpers_;
  // Whether a hybrid search hands its text leg to a helper, by what each way costs here.
  mutable LegGovernor leg_governor_;  // learns from const searches; its own lock
};

}  // namespace ragd::index
