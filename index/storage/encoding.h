#pragma once
// Byte encodings of everything ragd persists in RocksDB. Keys start with fixed-width big-endian
// integers so that RocksDB's bytewise order groups a collection's (and a shard's) records and
// prefix iteration is ordered. Values start with a format byte so that a future layout can be
// read side by side with this one. Decoders never trust a length: every read is bounds-checked
// and a malformed value is DATA_LOSS, never a crash.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "index/types.h"

namespace ragd::index::storage {

using Label = uint64_t;

// --- primitive writers / a bounds-checked reader -----------------------------------------
void PutFixed16BE(std::string* out, uint16_t v);
void PutFixed32BE(std::string* out, uint32_t v);
void PutFixed64BE(std::string* out, uint64_t v);
void PutFixed32LE(std::string* out, uint32_t v);
void PutFixed64LE(std::string* out, uint64_t v);
void PutVarint64(std::string* out, uint64_t v);
void PutLengthPrefixed(std::string* out, std::string_view s);

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool ReadU8(uint8_t* v);
  bool ReadFixed16BE(uint16_t* v);
  bool ReadFixed32BE(uint32_t* v);
  bool ReadFixed64BE(uint64_t* v);
  bool ReadFixed32LE(uint32_t* v);
  bool ReadFixed64LE(uint64_t* v);
  bool ReadVarint64(uint64_t* v);
  bool ReadLengthPrefixed(std::string_view* s);
  bool ReadBytes(size_t n, std::string_view* s);
  size_t remaining() const { return data_.size() - pos_; }
  bool done() const { return pos_ == data_.size(); }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

// --- keys ----------------------------------------------------------------------------------
// A shard's key prefix: collection id (u32 BE) then shard number (u16 BE).
struct ShardKey {
  uint32_t collection = 0;
  uint16_t shard = 0;
};
std::string ShardPrefix(ShardKey k);
// [collection][shard][id bytes]: the points column family.
std::string PointKey(ShardKey k, std::string_view id);
// [collection][shard][label u64 BE]: the vectors column family.
std::string VectorKey(ShardKey k, Label label);
// The first and one-past-last key of a collection in any column family.
std::string CollectionBegin(uint32_t collection);
std::string CollectionEnd(uint32_t collection);
std::string ShardEnd(ShardKey k);

// --- values --------------------------------------------------------------------------------
// What the points column family holds for one point (its vector lives under VectorKey(label)).
struct PointRecord {
  Label label = 0;
  std::string text;
  std::string document_id;
  Metadata metadata;
};
std::string EncodePointRecord(const PointRecord& r);
absl::StatusOr<PointRecord> DecodePointRecord(std::string_view data);

// What the lexical column family holds for one label of a collection with a lexical index:
// the analysed text of the point, distinct terms with their frequencies (sorted by term, the
// output of index::lexical::CountTerms), and which analyzer produced them. Keyed like vectors
// (VectorKey); a record is a pure function of (text, analyzer), so writing it again on a
// replay writes the same bytes. No statistics are stored: N, lengths and document frequencies
// are sums over the records.
struct TermRecord {
  // Identifies the analyzer kind and analysis version (the engine's, opaque here).
  uint32_t analyzer = 0;
  std::vector<std::pair<std::string, uint32_t>> terms;
};
// Format 1: u8 format | varint analyzer | varint length (sum of tf) | varint term count |
// (length-prefixed term, varint tf) per term.
std::string EncodeTermRecord(const TermRecord& r);
// DATA_LOSS when truncated, a frequency is 0 or above 2^32-1, the length does not add up or
// bytes trail.
absl::StatusOr<TermRecord> DecodeTermRecord(std::string_view data);

// Vectors are stored as little-endian IEEE-754 float32, dim × 4 bytes, no header (the
// dimension is the collection's).
std::string EncodeVector(std::span<const float> v);
absl::Status DecodeVector(std::string_view data, size_t dim, std::vector<float>* out);

// --- index snapshots -------------------------------------------------------------------------
// A snapshot is framed by this header, itself checksummed; the payload (the backend's own
// Save() bytes) is stored in chunks and checksummed as a whole. Everything is validated before
// the payload is allocated or parsed.
struct SnapshotHeader {
  static constexpr char kMagic[9] = "RAGDSNAP";
  static constexpr uint32_t kFormatVersion = 1;
  uint32_t format_version = kFormatVersion;
  uint64_t spec_fingerprint = 0;  // hash of (index spec, dim, metric): a mismatch means rebuild
  uint64_t generation = 0;        // chunks are keyed by generation so a new one never overwrites
  uint64_t payload_bytes = 0;
  uint32_t chunk_bytes = 0;
  uint64_t payload_checksum = 0;  // XXH3-64 of the payload
  uint64_t next_label = 0;        // the shard's label counter when the snapshot was taken
  uint64_t sequence = 0;          // the collection's last applied sequence at that time
};
std::string EncodeSnapshotHeader(const SnapshotHeader& h);
absl::StatusOr<SnapshotHeader> DecodeSnapshotHeader(std::string_view data);
std::string SnapshotHeaderKey(ShardKey k);
std::string SnapshotChunkKey(ShardKey k, uint64_t generation, uint32_t chunk);

}  // namespace ragd::index::storage
