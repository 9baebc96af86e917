#pragma once
// The Ingestor of each collection that is bound to an embedder, built on first use from the
// collection's stored binding (collection_binding.h) and kept while the collection lives: all
// streams and calls into one collection share its per-document locks and embedding-cache
// buffer. A collection deleted and created again under the same name is a different key
// (its creation time), so a stale Ingestor is never reused.
//
// Thread safety: every method may be called concurrently.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "index/engine/engine.h"
#include "ingest/pipeline.h"
#include "rag/collection_binding.h"

namespace ragd::rag {

struct IngestorCacheOptions {
  // Worker threads and queue of each Ingestor (ingest::IngestorOptions). Default: 2 and 8.
  size_t workers = 2;
  size_t queue_capacity = 8;
  // The embedding cache's bound, entries (ingest::IngestorOptions::cache_max_entries).
  // Default: 1,000,000 (about 6.2 GB of 1536-d vectors on disk).
  uint64_t cache_max_entries = 1'000'000;
  // How the Ingestors write (ingest::IngestWriteHooks). Default: to the engine.
  ingest::IngestWriteHooks hooks;
};

class IngestorCache {
 public:
  // `embedders` is not owned and must outlive the cache.
  IngestorCache(EmbedderRegistry* embedders, IngestorCacheOptions options)
      : embedders_(embedders), options_(options) {}

  struct Bound {
    std::shared_ptr<ingest::Ingestor> ingestor;  // keeps its embedder alive
    CollectionBinding binding;
  };
  // The Ingestor of `collection` in `engine`. NOT_FOUND (no such collection),
  // FAILED_PRECONDITION (no embedder binding, or the embedder cannot be built).
  absl::StatusOr<Bound> For(index::Engine* engine, const std::string& collection);

  // The embedding cache's numbers (shared by every Ingestor of one engine, see
  // ingest/embedding_cache.h); nullopt until the first Ingestor is built.
  std::optional<ingest::EmbeddingCache::Stats> CacheStats() const;

  // Drops every cached Ingestor (each flushes its embedding-cache buffer as it goes). Call
  // once no call uses them any more and before the engine closes.
  void Clear();

 private:
  EmbedderRegistry* const embedders_;
  const IngestorCacheOptions options_;
  mutable std::mutex mu_;
  // By (collection, created_at_unix_ms).
  std::map<std::pair<std::string, int64_t>, Bound> ingestors_;
};

}  // namespace ragd::rag
