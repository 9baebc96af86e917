#pragma once
// The embedding cache: vectors already computed, kept in the engine's auxiliary records
// (namespace "embedding_cache"), so that re-ingesting unchanged text costs no embedding call and
// survives restarts.
//
// Key: the embedder's full identity (models::EmbedderIdentity: provider, endpoint, deployment or
// model, dimension) and the SHA-256 of the text. Two Azure resources with the same deployment
// name, or an OpenAI and an Azure model named alike, never share an entry. SHA-256 rather than a
// fast 64- or 128-bit hash (XXH3): the texts come from documents anyone may write, and a
// non-cryptographic hash lets a crafted text collide with another's key and be served its
// vector; SHA-256 makes that infeasible, and hashing costs far less than the embedding call or
// the RocksDB write of the vector it saves.
//
// Layout (all keys start with byte 0x01, which no key of the first format could: those started
// with the printable model id; they are deleted, never read, the first time a cache of this
// format opens the engine: they were keyed without the endpoint and may hold another
// resource's vectors):
//   0x01 'e' identity digest (16 bytes: SHA-256 of the identity, truncated) SHA-256(text) (32)
//        -> format byte 1, dimension (u32 LE), floats (LE)
//   0x01 'o' sequence (u64 BE) -> the entry key stored with that sequence (the eviction order)
//   0x01 'm' -> format byte 1, next sequence (u64 BE), oldest live sequence (u64 BE)
// An entry and its order record and the new meta record are written in one atomic batch.
//
// Bound: at most Options::max_entries entries. Past it the entries stored longest ago are
// deleted first (FIFO by store time: a hit does not refresh an entry, as that would rewrite a
// 6 KB vector per hit; the cache serves re-ingestion, where what was stored long ago is what is
// least likely to come back). Eviction runs after each durable write. The count is
// next - oldest sequence, an upper bound of the live entries (a text stored twice by two
// concurrent ingestions counts twice until its older order record is evicted). A crash between
// an eviction's delete and its meta write only makes the next eviction re-read deleted records.
//
// The bookkeeping (meta, write buffer, counters) is one per engine and shared by every
// EmbeddingCache object over that engine in the process (services build one Ingestor per
// collection, each with its own EmbeddingCache object, and all write the same namespace); the
// options of the first object created for an engine apply to all of them while any exists.
//
// Writes may be buffered (Options::write_buffer_entries) so that a stream of documents pays one
// durable write per buffer instead of one per document: with synced writes that halves the
// fsyncs of ingestion. Buffered entries are visible to Lookup at once. What a crash loses from
// the buffer is only a cache: the documents whose chunks were written are skipped as unchanged
// when the input is re-run, so nothing is embedded twice for them.
//
// Thread safety: all methods may be called concurrently.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "index/engine/engine.h"
#include "models/embedder.h"

namespace ragd::ingest {

inline constexpr std::string_view kEmbeddingCacheNamespace = "embedding_cache";

class EmbeddingCache {
 public:
  struct Options {
    // Store() keeps up to this many entries in memory before writing them all in one durable
    // write; 0 writes through on every Store. Default: 0.
    size_t write_buffer_entries = 0;
    // Most entries kept; past it the oldest-stored are evicted. 0: no bound.
    // Default: 1,000,000 (about 6.2 GB of 1536-dimensional vectors on disk; memory use does
    // not depend on it).
    uint64_t max_entries = 1'000'000;
  };

  // Counters since the engine's bookkeeping was created (the first EmbeddingCache object over
  // it in this process); for metrics.
  struct Stats {
    // Entries stored and not evicted (an upper bound, see above), buffered ones included.
    uint64_t entries = 0;
    uint64_t max_entries = 0;
    // Texts looked up that were found / not found (a wrong-dimension entry is a miss).
    uint64_t hits = 0;
    uint64_t misses = 0;
    // Entries written durably, and entries evicted.
    uint64_t stores = 0;
    uint64_t evictions = 0;
    // Entries of the first key format deleted when this format first opened the engine.
    uint64_t legacy_dropped = 0;
    // hits / (hits + misses); 0 before any lookup.
    double hit_rate() const {
      return hits + misses == 0 ? 0.0 : static_cast<double>(hits) / (hits + misses);
    }
  };

  // `engine` must outlive the cache.
  explicit EmbeddingCache(index::Engine* engine) : EmbeddingCache(engine, Options{}) {}
  EmbeddingCache(index::Engine* engine, Options options);
  // Flushes (errors are dropped: the cache is best effort once its owner goes away).
  ~EmbeddingCache();
  EmbeddingCache(const EmbeddingCache&) = delete;
  EmbeddingCache& operator=(const EmbeddingCache&) = delete;

  // The cached vector of every text (nullopt for a miss), in order; a vector whose length is
  // not identity.dimension is a miss. Errors of the engine are returned as they are (e.g.
  // UNAVAILABLE after Close).
  absl::StatusOr<std::vector<std::optional<std::vector<float>>>> Lookup(
      const models::EmbedderIdentity& identity, const std::vector<std::string>& texts) const;

  // Stores vectors[i] as the embedding of texts[i] by `identity`: durably in one write (and
  // evicts past the bound), or into the write buffer (written when it reaches its size).
  // INVALID_ARGUMENT when the counts differ; the engine's errors otherwise.
  absl::Status Store(const models::EmbedderIdentity& identity,
                     const std::vector<std::string>& texts,
                     const std::vector<std::vector<float>>& vectors);

  // Writes the buffered entries durably, then evicts past the bound. Returns the engine's
  // error; the entries then stay buffered for the next attempt.
  absl::Status Flush();

  Stats stats() const;

  // The aux key of (identity, text): 0x01 'e', 16 bytes of identity digest, 32 bytes of
  // SHA-256(text).
  static std::string Key(const models::EmbedderIdentity& identity, std::string_view text);

  struct State;  // the per-engine bookkeeping (embedding_cache.cc)

 private:
  index::Engine* engine_;
  const Options options_;
  std::shared_ptr<State> state_;
};

}  // namespace ragd::ingest
