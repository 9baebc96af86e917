#pragma once
// The embedding cache: vectors already computed, keyed by (embedder model_id, Hash64 of the
// text, text length), kept in the engine's auxiliary records (namespace "embedding_cache"), so
// that re-ingesting unchanged text costs no embedding call and survives restarts.
//
// A value is the vector's dimension and floats (little-endian), after a format byte. Entries
// of another dimension or format are treated as misses. Entries are never evicted: their size
// is that of the vectors of the collections' chunks, which the engine stores anyway.
//
// Writes may be buffered (Options::write_buffer_entries) so that a stream of documents pays one
// durable write per buffer instead of one per document: with synced writes that halves the
// fsyncs of ingestion. Buffered entries are visible to Lookup at once. What a crash loses from
// the buffer is only a cache: the documents whose chunks were written are skipped as unchanged
// when the input is re-run, so nothing is embedded twice for them.
//
// Thread safety: all methods may be called concurrently.

#include <map>
#include <mutex>
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
  struct Options {
    // Store() keeps up to this many entries in memory before writing them all in one durable
    // write; 0 writes through on every Store. Default: 0.
    size_t write_buffer_entries = 0;
  };

  // `engine` must outlive the cache.
  explicit EmbeddingCache(index::Engine* engine) : EmbeddingCache(engine, Options{}) {}
  EmbeddingCache(index::Engine* engine, Options options) : engine_(engine), options_(options) {}
  // Flushes (errors are dropped: the cache is best effort once its owner goes away).
  ~EmbeddingCache();
  EmbeddingCache(const EmbeddingCache&) = delete;
  EmbeddingCache& operator=(const EmbeddingCache&) = delete;

  // The cached vector of every text (nullopt for a miss), in order. Errors of the engine are
  // returned as they are (e.g. UNAVAILABLE after Close).
  absl::StatusOr<std::vector<std::optional<std::vector<float>>>> Lookup(
      std::string_view model_id, size_t dimension, const std::vector<std::string>& texts) const;

  // Stores vectors[i] as the embedding of texts[i] under `model_id`: durably in one write, or
  // into the write buffer (which is written when it reaches its size).
  absl::Status Store(std::string_view model_id, const std::vector<std::string>& texts,
                     const std::vector<std::vector<float>>& vectors);

  // Writes the buffered entries durably. Returns the engine's error; the entries then stay
  // buffered for the next attempt.
  absl::Status Flush();

  // The aux key of (model_id, text): model_id, a NUL byte, the big-endian Hash64 of the text
  // and its length (12 bytes).
  static std::string Key(std::string_view model_id, std::string_view text);

 private:
  index::Engine* engine_;
  const Options options_;
  std::mutex flush_mu_;  // one flush at a time; taken before mu_
  mutable std::mutex mu_;
  // Entries not yet durable, by key. They stay here until their write has succeeded, so a
  // Lookup during a flush still finds them.
  std::map<std::string, std::string> buffer_;
};

}  // namespace ragd::ingest
