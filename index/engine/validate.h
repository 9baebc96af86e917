#pragma once
// Request validation of the engine: every check names the field and says what is wrong, so
// that a gRPC client gets an INVALID_ARGUMENT it can act on. Nothing is written before the
// whole request passed.

#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "index/engine/engine.h"

namespace ragd::index {

inline constexpr size_t kMaxIdBytes = 256;
inline constexpr size_t kMaxDocumentIdBytes = 1024;
inline constexpr size_t kMaxMetadataKeyBytes = 256;
inline constexpr size_t kMaxMetadataEntries = 256;
inline constexpr size_t kMaxMetadataValueBytes = 64 * 1024;
// The largest per-search ef; FAISS HNSW searches cannot go beyond it (see faiss_index.cc).
inline constexpr int kMaxEf = 4096;

// Checks every point of an upsert batch and, for kCosine, normalises the vectors in place.
absl::Status ValidateAndNormalizePoints(const CollectionSpec& spec,
                                        const Engine::Options& options,
                                        std::vector<Point>& points);
// Checks a query vector (dimension, finite, non-zero for cosine) and normalises it for kCosine.
absl::Status ValidateAndNormalizeQuery(const CollectionSpec& spec, std::vector<float>& query,
                                       std::string_view field);
absl::Status ValidateIds(const std::vector<std::string>& ids, std::string_view field);

// Scales `v` to unit length; false when its norm is zero.
bool NormalizeInPlace(std::span<float> v);

// Encodes a collection's catalog record (id, creation time and spec), format-versioned.
std::string EncodeCollectionRecord(uint32_t id, int64_t created_at_ms, const CollectionSpec& s);
absl::Status DecodeCollectionRecord(std::string_view name, std::string_view data, uint32_t* id,
                                    int64_t* created_at_ms, CollectionSpec* spec);

}  // namespace ragd::index
