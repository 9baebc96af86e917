#pragma once
// Text search over a collection: embeds the query with the collection's embedder (through a
// bounded in-memory cache of query vectors) and searches the engine: by default in hybrid mode
// when the collection has a lexical index (the embedding goes to the vector leg, the query text
// to the BM25 leg), else by vector; TextQuery::mode overrides (kText needs no embedding). Used by
// Retrieve and by Answer (ragd.v1.Retrieval); knows nothing of protobuf.
//
// Why not the ingest embedding cache (ingest/embedding_cache.h) for queries: its entries are
// durable (written to RocksDB, evicted only at a bound sized for the collections' chunks).
// Queries are an unbounded stream of mostly unique texts; storing each would churn that cache
// and add a write per query. A small LRU in memory catches the repeats (the same question asked by
// several users, a retried call) at no I/O cost, keyed like the ingest cache by the embedder's full
// identity (provider, endpoint, model, dimension) and the text; the local embedder is fast enough
// that it hardly matters, a remote one saves an HTTP round trip (tens to hundreds of ms) per hit.
//
// Thread safety: Retrieve may be called concurrently.

#include <atomic>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "index/engine/engine.h"
#include "index/filter.h"
#include "rag/collection_binding.h"
#include "rag/engine_handle.h"
#include "rag/search_backend.h"

namespace ragd::rag {

struct RetrieverOptions {
  // k when a query says 0, and the largest k accepted. Default: 8 and 100.
  size_t default_k = 8;
  size_t max_k = 100;
  // Query vectors kept (LRU); 0 disables the cache. Default: 4096.
  size_t query_cache_entries = 4096;
  // Hybrid fusion when a query leaves the method unset (retrieval.hybrid_fusion,
  // retrieval.hybrid_alpha). Default: a weighted sum of min-max normalised leg scores with the
  // vector leg at 0.4. Chosen by measurement (bench/results/eval.jsonl, README "Hybrid
  // retrieval"): with the built-in local embedder it beat reciprocal rank fusion (k 60) on
  // every slice of both evaluation sets, by 4-7 points of hit@1 overall, because RRF gives
  // the weaker leg's ranks as much say as the stronger's; ada-002 could not be measured here.
  index::Fusion hybrid_fusion = index::Fusion::kWeighted;
  double hybrid_alpha = 0.4;
  // Pseudo-relevance feedback (RM3) for the text leg of text and hybrid retrievals
  // (retrieval.text_feedback_docs, _terms, _weight; index/lexical/feedback.h). Not sent to
  // other pods: in a sharded cluster (a SearchBackend is set) it does not apply. Default: off
  // (docs 0); measured in bench/README.md, "Pseudo-relevance feedback".
  index::lexical::FeedbackOptions text_feedback;
};

struct TextQuery {
  std::string collection;
  // UTF-8, non-empty.
  std::string text;
  // 0: RetrieverOptions::default_k.
  size_t k = 0;
  std::optional<index::Filter> filter;
  std::optional<float> min_score;
  // Return the chunks' vectors (for MMR by cosine similarity).
  bool with_vectors = false;
  // Unset: kHybrid when the collection has a lexical index, else kVector.
  std::optional<index::SearchMode> mode;
  // Sharded cluster (a SearchBackend is set): the log sequence every shard group's replica
  // must have applied before it searches (search_backend.h). 0: none. Default: 0.
  uint64_t min_sequence = 0;
  // Sharded cluster: a shard group that cannot be reached leaves its shards out of the hits
  // (TextQueryResult::coverage names them) instead of failing with UNAVAILABLE.
  // Default: false.
  bool allow_partial = false;
  // Sharded cluster: when the backend's search (other pods' waits included) must end, e.g. the
  // call's deadline. Default: none (the backend's own bound).
  absl::Time deadline = absl::InfiniteFuture();
  // kHybrid only. Fusion method unset: RetrieverOptions::hybrid_fusion (and hybrid_alpha when
  // alpha is unset too).
  index::HybridOptions hybrid;
};

struct TextQueryResult {
  // Best first, at most k.
  std::vector<index::ScoredPoint> hits;
  // The model_id() of the embedder that embedded the query (empty in kText mode).
  std::string embedder;
  // The mode the engine searched in.
  index::SearchMode mode = index::SearchMode::kVector;
  // Set when the search went to a SearchBackend (a sharded cluster): the shards it covered.
  std::optional<ShardCoverage> coverage;
};

class Retriever {
 public:
  // Neither pointer is owned; both must outlive the Retriever.
  Retriever(const EngineHandle* engine, EmbedderRegistry* embedders, RetrieverOptions options)
      : engine_(engine), embedders_(embedders), options_(options) {}

  // Status codes: INVALID_ARGUMENT (empty or non-UTF-8 text, k above max_k, bad filter),
  // NOT_FOUND (collection), FAILED_PRECONDITION (no embedder binding, remote embedder
  // misconfigured; or kText / kHybrid asked of a collection without a lexical index), and
  // the embedder's RESOURCE_EXHAUSTED / UNAVAILABLE / DEADLINE_EXCEEDED; UNAVAILABLE while
  // ragd recovers or shuts down.
  absl::StatusOr<TextQueryResult> Retrieve(const TextQuery& query);

  // True when retrieving `text` from `collection` costs only CPU here: the collection's
  // embedder runs in process or the query's vector is cached. Such a call may run on gRPC's own
  // thread (BoundedExecutor::TryRunInline); a remote embedder's round trip must not hold one.
  // False also for an unknown collection (the executor path then reports the error).
  bool IsCpuBound(const std::string& collection, const std::string& text);

  const RetrieverOptions& options() const { return options_; }

  // Sends searches to `backend` instead of the local engine (null: the engine again). Not
  // owned; must outlive every Retrieve that may use it. Thread-safe.
  void SetSearchBackend(SearchBackend* backend) {
    backend_.store(backend, std::memory_order_release);
  }

  // The query-vector cache: vectors kept, and lookups since start. Thread-safe.
  struct CacheStats {
    uint64_t entries = 0;
    uint64_t max_entries = 0;
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t evictions = 0;
  };
  CacheStats cache_stats() const;

 private:
  absl::StatusOr<std::vector<float>> EmbedQuery(models::Embedder& embedder,
                                                const std::string& text);

  const EngineHandle* engine_;
  EmbedderRegistry* embedders_;
  std::atomic<SearchBackend*> backend_{nullptr};
  const RetrieverOptions options_;

  // LRU of (embedder identity + text) -> vector; most recent at the front.
  mutable std::mutex mu_;
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
  uint64_t evictions_ = 0;
  std::list<std::pair<std::string, std::vector<float>>> lru_;
  std::unordered_map<std::string, decltype(lru_)::iterator> by_key_;
};

}  // namespace ragd::rag
