#pragma once
// Store: ragd's RocksDB database. One column family per kind of record:
//   default    small metadata: format version, id counters, per-collection applied sequence
//   catalog    collection name -> encoded collection record (owned by the engine)
//   points     [collection][shard][id]    -> PointRecord (label, text, document_id, metadata)
//   vectors    [collection][shard][label] -> float32 × dim
//   snapshots  [collection][shard]'H'     -> SnapshotHeader; ...'D'[generation][chunk] -> bytes
//   aux        [namespace length u8][namespace][key] -> bytes of upper layers (embedding cache,
//              ingest jobs)
//   lexical    [collection][shard][label] -> TermRecord (the analysed text of the point that
//              holds the label; only for collections with a lexical index)
// Vectors are kept apart from payloads so that recovery scans the small points family and
// reads vectors only for what the index snapshot lacks.
//
// Thread safety: every method may be called concurrently (RocksDB's DB is thread-safe).
// Errors: RocksDB failures map to INTERNAL (IO errors to UNAVAILABLE), corruption to DATA_LOSS.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "index/storage/encoding.h"

namespace rocksdb {
class DB;
class Env;
class ColumnFamilyHandle;
class WriteBatch;
class Snapshot;
}  // namespace rocksdb

namespace ragd::index::storage {

class Store;

// A set of writes committed atomically by Store::Commit (one RocksDB WriteBatch).
class Batch {
 public:
  explicit Batch(Store* store);
  ~Batch();
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  void PutMeta(std::string_view key, std::string_view value);
  void DeleteMeta(std::string_view key);
  void PutCatalog(std::string_view name, std::string_view record);
  void DeleteCatalog(std::string_view name);
  void PutPoint(ShardKey k, std::string_view id, const PointRecord& record);
  void DeletePoint(ShardKey k, std::string_view id);
  void PutVector(ShardKey k, Label label, std::span<const float> vector);
  void DeleteVector(ShardKey k, Label label);
  void PutTerms(ShardKey k, Label label, const TermRecord& record);
  // The same with the record already encoded (EncodeTermRecord), e.g. off the write lock.
  void PutEncodedTerms(ShardKey k, Label label, std::string_view encoded);
  void DeleteTerms(ShardKey k, Label label);
  // Deletes every point, vector, term record and snapshot of the collection (range tombstones).
  void DropCollection(uint32_t collection);
  void PutAux(std::string_view ns, std::string_view key, std::string_view value);
  void DeleteAux(std::string_view ns, std::string_view key);
  size_t count() const;

 private:
  friend class Store;
  Store* store_;
  std::unique_ptr<rocksdb::WriteBatch> batch_;
};

// A consistent point-in-time view for reads (a RocksDB snapshot), released on destruction.
class ReadView {
 public:
  ~ReadView();
  ReadView(const ReadView&) = delete;
  ReadView& operator=(const ReadView&) = delete;

 private:
  friend class Store;
  ReadView(rocksdb::DB* db, const rocksdb::Snapshot* s) : db_(db), snapshot_(s) {}
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
};

class Store {
 public:
  struct Options {
    std::string path;
    // fsync the WAL on every Commit. Default: true.
    bool sync_writes = true;
    // Block cache size. Default: 256 MiB.
    size_t block_cache_bytes = 256u << 20;
    // The RocksDB environment (file system, threads, clock) to open the database with; not
    // owned, must outlive the Store. For tests that inject faults (tests/index/power_cut_fs.h).
    // Default: nullptr, RocksDB's default environment.
    rocksdb::Env* env = nullptr;
  };

  static absl::StatusOr<std::unique_ptr<Store>> Open(const Options& options);
  ~Store();

  // Writes the batch atomically; durable on return when sync_writes.
  absl::Status Commit(Batch& batch);

  absl::StatusOr<std::optional<std::string>> GetMeta(std::string_view key) const;
  // Every catalog entry as (name, record).
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ListCatalog() const;

  absl::StatusOr<std::optional<PointRecord>> GetPoint(ShardKey k, std::string_view id) const;
  // Looks up several ids of one shard at once; result[i] is empty when ids[i] is absent.
  absl::StatusOr<std::vector<std::optional<PointRecord>>> MultiGetPoints(
      ShardKey k, std::span<const std::string_view> ids) const;
  absl::StatusOr<std::optional<std::vector<float>>> GetVector(ShardKey k, Label label,
                                                              size_t dim) const;
  // Reads the vectors of several labels of one shard at once (one MultiGet, through the block
  // cache) into `vectors` (labels.size() x dim, row-major); found[i] is false when labels[i]
  // has no vector (its row is zeros). Quantized indexes re-score their candidates with this.
  absl::Status MultiGetVectors(ShardKey k, std::span<const Label> labels, size_t dim,
                               std::vector<float>* vectors, std::vector<bool>* found) const;

  // Calls fn for every point of the shard in id order, reading `view` when given; stops at the
  // first non-OK status.
  absl::Status ScanPoints(
      ShardKey k,
      const std::function<absl::Status(std::string_view id, PointRecord&& record)>& fn,
      const ReadView* view = nullptr) const;
  // Calls fn for every vector of the shard in label order, reading `view` when given.
  absl::Status ScanVectors(
      ShardKey k, size_t dim,
      const std::function<absl::Status(Label label, std::span<const float> vector)>& fn,
      const ReadView* view = nullptr) const;
  // Calls fn for every term record of the shard in label order, reading `view` when given.
  absl::Status ScanTerms(ShardKey k,
                         const std::function<absl::Status(Label label, TermRecord&& record)>& fn,
                         const ReadView* view = nullptr) const;
  std::unique_ptr<ReadView> NewReadView() const;

  absl::StatusOr<std::optional<std::string>> GetAux(std::string_view ns,
                                                    std::string_view key) const;
  absl::Status ScanAux(std::string_view ns, std::string_view prefix,
                       const std::function<bool(std::string_view, std::string_view)>& fn) const;

  // Writes `payload` as the shard's new snapshot: chunks first (flushed), then the header
  // (synced), then the previous generation is dropped. A crash at any point leaves either the
  // old or the new snapshot readable. header.generation/payload_* are filled in here.
  absl::Status WriteSnapshot(ShardKey k, SnapshotHeader header, std::string_view payload);
  // NOT_FOUND when the shard has no snapshot; DATA_LOSS when any check fails.
  absl::StatusOr<std::string> ReadSnapshot(ShardKey k, SnapshotHeader* header) const;

  // Approximate bytes on disk and in memtables of a collection's records.
  uint64_t ApproximateBytes(uint32_t collection) const;
  // Compacts a collection's ranges so that dropped data leaves the disk now.
  absl::Status CompactCollection(uint32_t collection);

  // Writes every column family's memtables to SST files and waits.
  absl::Status Flush();
  // Writes a consistent point-in-time copy of the whole database (every column family, one
  // sequence number) to `dir`, which must not exist yet. Immutable SST files are hard-linked
  // when `dir` is on the same filesystem and copied otherwise; memtables are flushed first, so
  // the copy needs no WAL replay. The copy is a database Store::Open() opens as is. Returns
  // the RocksDB sequence number the copy holds. INVALID_ARGUMENT (`dir` exists), UNAVAILABLE
  // (I/O), RESOURCE_EXHAUSTED (no space).
  absl::StatusOr<uint64_t> CreateCheckpoint(const std::string& dir);

 private:
  friend class Batch;
  Store() = default;
  rocksdb::ColumnFamilyHandle* cf(int i) const { return handles_[i]; }

  Options options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace ragd::index::storage
