#pragma once
// Keys of the engine's small records in the storage "default" column family.

#include <cstdint>
#include <string>
#include <string_view>

#include "index/storage/encoding.h"

namespace ragd::index {

inline constexpr std::string_view kNextCollectionIdKey = "next_collection_id";
inline constexpr std::string_view kFormatVersionKey = "format_version";
inline constexpr uint32_t kFormatVersion = 1;

// The last applied write-batch sequence of a collection.
inline std::string SequenceKey(uint32_t collection) {
  std::string k = "seq/";
  storage::PutFixed32BE(&k, collection);
  return k;
}
// A shard's label counter (labels are never reused, also across restarts).
inline std::string NextLabelKey(storage::ShardKey s) {
  std::string k = "next_label/";
  storage::PutFixed32BE(&k, s.collection);
  storage::PutFixed16BE(&k, s.shard);
  return k;
}
inline std::string EncodeU64(uint64_t v) {
  std::string out;
  storage::PutFixed64BE(&out, v);
  return out;
}
inline uint64_t DecodeU64(std::string_view s) {
  storage::Reader r(s);
  uint64_t v = 0;
  r.ReadFixed64BE(&v);
  return v;
}

}  // namespace ragd::index
