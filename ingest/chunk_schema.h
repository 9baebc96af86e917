#pragma once
// The schema of the chunks the ingestion pipeline stores, defined once: their point ids and the
// metadata keys that every layer reads back (retrieval's citations, prompts, GetDocument).
//
// Point id: "{document_id}#{ordinal}", ordinal 0-based. Metadata = the document's own metadata
// plus these keys, which win over the document's:
//   title (string), heading_path (list of strings), page (int, only when known), ordinal,
//   byte_begin, byte_end, token_count, chunk_count (int), content_hash (16 hex digits of
//   ContentHash(document)), chunk_settings (ChunkingOptions::Fingerprint() + "|" + the
//   embedder's model_id()).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "index/engine/engine.h"

namespace ragd::ingest {

inline constexpr std::string_view kTitleKey = "title";
inline constexpr std::string_view kHeadingPathKey = "heading_path";
inline constexpr std::string_view kPageKey = "page";
inline constexpr std::string_view kOrdinalKey = "ordinal";
inline constexpr std::string_view kByteBeginKey = "byte_begin";
inline constexpr std::string_view kByteEndKey = "byte_end";
inline constexpr std::string_view kTokenCountKey = "token_count";
inline constexpr std::string_view kChunkCountKey = "chunk_count";
inline constexpr std::string_view kContentHashKey = "content_hash";
inline constexpr std::string_view kChunkSettingsKey = "chunk_settings";

// "{document_id}#{ordinal}".
std::string ChunkId(std::string_view document_id, size_t ordinal);

// A stored document, rebuilt from its chunks.
struct StoredDocument {
  std::string id;
  std::string title;                 // chunk #0's title, "" when none
  std::string content_hash;          // chunk #0's content_hash, "" when none
  std::vector<index::Point> chunks;  // in ordinal order
};

// Reads every chunk of `document_id` (chunk #0 says how many there are; the rest are read in
// one call). NOT_FOUND: no such collection, or the document has no chunks (message names both).
absl::StatusOr<StoredDocument> ReadDocument(const index::Engine& engine,
                                            std::string_view collection,
                                            std::string_view document_id, bool with_vectors);

}  // namespace ragd::ingest
