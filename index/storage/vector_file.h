#pragma once
// VectorFile: a read-through file cache of one shard's float32 vectors, for re-scoring the
// candidates of a quantized index (SearchOptions::exact_vectors).
//
// Why: a quantized index keeps no float32 vector in memory, so every search reads its best
// k x oversampling candidates' vectors (6 KiB each at 1536-d) from storage. Through RocksDB
// that is a MultiGet, which per key probes a filter in every level, binary-searches an index
// block and looks up the block cache (or preads a 6 KiB block): about 14% of the server's CPU
// per INT8 search at 100k points (bench/README.md, "Re-scoring reads"). Here a vector sits at
// a fixed offset computed from its label, so a read is one pread from the kernel's page cache.
// Page-cache memory is not the process's: resident memory stays the index's (issue 16's RSS
// targets), and the kernel drops these pages first under memory pressure.
//
// Correctness: RocksDB stays the source of truth; this is only a cache of it.
// - A label's vector never changes while the shard exists: a replacement gets a new label and
//   labels are never reused (the shard's persisted next_label).
// - The file lives exactly as long as the object: it is created unlinked (O_TMPFILE, or
//   created and unlinked at once), so nothing survives a restart, a crash or a restore from
//   backup, where labels could come back with other vectors. Each process starts cold and
//   fills it on first reads.
// - Each slot holds [label u64][XXH3-64 of label and vector][dim x float32]. A hole, a torn
//   write or a slot of another label reads as a miss, and the caller goes to RocksDB.
// - Every I/O error is a miss: the cache never fails a search. After kMaxWriteErrors failed
//   writes (a full disk), writing stops.
// Disk: slot i is at i x slot_bytes; slots never written are holes (no disk); Forget() punches
// out a removed label's pages (fallocate PUNCH_HOLE), so the space used follows the live
// vectors that were read, not the labels ever handed out.
//
// Thread safety: every method may be called concurrently (positional I/O on one descriptor;
// two writers of one label write the same bytes, and a reader that sees a partial write sees a
// checksum mismatch, i.e. a miss).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "index/storage/encoding.h"
#include "index/storage/store.h"

namespace ragd::index::storage {

class VectorFile {
 public:
  static constexpr size_t kHeaderBytes = 16;
  static constexpr uint64_t kMaxWriteErrors = 16;

  // An unnamed file in directory `dir` (which must exist), for vectors of `dim` floats.
  // INVALID_ARGUMENT for dim 0; UNAVAILABLE when the file cannot be created.
  static absl::StatusOr<std::unique_ptr<VectorFile>> Create(const std::string& dir, size_t dim);
  // Takes ownership of an open read-write descriptor (tests keep a named file to damage it).
  static std::unique_ptr<VectorFile> Adopt(int fd, size_t dim);
  ~VectorFile();
  VectorFile(const VectorFile&) = delete;
  VectorFile& operator=(const VectorFile&) = delete;

  // For each labels[i] whose slot holds that label's intact vector: copies it to
  // out[i * dim, (i + 1) * dim) and sets (*found)[i]; other entries are left as they are
  // (found is resized to labels.size(), false where missed). Returns the number found.
  size_t Read(std::span<const Label> labels, float* out, std::vector<bool>* found) const;
  // Stores label's vector (dim floats). Best effort: false when it was not written.
  bool Write(Label label, std::span<const float> vector) const;
  // The label is gone for good: frees the whole pages of its slot (best effort).
  void Forget(Label label) const;

  size_t dim() const { return dim_; }
  size_t slot_bytes() const { return slot_bytes_; }
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }

 private:
  VectorFile(int fd, size_t dim);
  // The slot's byte offset, or -1 when it would not fit in a file offset.
  int64_t Offset(Label label) const;

  const int fd_;
  const size_t dim_;
  const size_t slot_bytes_;
  mutable std::atomic<uint64_t> hits_{0};
  mutable std::atomic<uint64_t> misses_{0};
  mutable std::atomic<uint64_t> write_errors_{0};
};

// The float32 vectors of `labels` (shard k, dim floats each) into `vectors` (labels.size() x
// dim), found[i] set for each one present: from `file` where it has them (file may be null),
// the rest with one RocksDB MultiGet, then kept in `file`. `storage_reads` (may be null) is
// increased by the number of labels asked of RocksDB. Errors: the store's.
absl::Status ReadThroughVectors(const Store& store, ShardKey k, const VectorFile* file,
                                std::span<const Label> labels, size_t dim,
                                std::vector<float>* vectors, std::vector<bool>* found,
                                std::atomic<uint64_t>* storage_reads = nullptr);

}  // namespace ragd::index::storage
