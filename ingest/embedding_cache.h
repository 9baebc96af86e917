#pragma once
// The embedding cache: vectors already computed, keyed by (embedder model_id, Hash64 of the
// text, text length), kept in the engine's auxiliary records (namespace "embedding_cache"), so
// that re-ingesting unchanged text costs no embedding call and survives restarts.
//
// A value is the vector's dimension and floats (little-endian), after a format byte. Entries
// of another dimension or format are treated as misses. Entries are never evicted: their size
// is that of the vectors of the collections' chunks, which the engine stores anyway.
//
// Thread safety: all methods may be called concurrently (the engine is thread-safe).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "index/engine/engine.h"

namespace ragd::ingest {

inline constexpr std::string_view kEmbeddingCacheNamespace = "embedding_cache";

class EmbeddingCache {
 public:
  // `engine` must outlive the cache.
  explicit EmbeddingCache(index::Engine* engine) : engine_(engine) {}

  // The cached vector of every text (nullopt for a miss), in order. Errors of the engine are
  // returned as they are (e.g. UNAVAILABLE after Close).
  absl::StatusOr<std::vector<std::optional<std::vector<float>>>> Lookup(
      std::string_view model_id, size_t dimension, const std::vector<std::string>& texts) const;

  // Stores vectors[i] as the embedding of texts[i] under `model_id`, durably, in one write.
  absl::Status Store(std::string_view model_id, const std::vector<std::string>& texts,
                     const std::vector<std::vector<float>>& vectors);

  // The aux key of (model_id, text): model_id, a NUL byte, the big-endian Hash64 of the text
  // and its length (12 bytes).
  static std::string Key(std::string_view model_id, std::string_view text);

 private:
  index::Engine* engine_;
};

}  // namespace ragd::ingest
