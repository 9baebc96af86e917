#include "rag/retriever.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/utf8.h"

namespace ragd::rag {

namespace {

// The embedder's full identity, not only its model label: two Azure resources with the same
// deployment name (or an OpenAI and an Azure model named alike) make different vectors.
std::string CacheKey(const models::Embedder& embedder, const std::string& text) {
  const models::EmbedderIdentity id = embedder.identity();
  const std::string sep(1, '\0');
  return absl::StrCat(id.provider, sep, id.endpoint, sep, id.model, sep, id.dimension, sep, text);
}

}  // namespace

bool Retriever::IsCpuBound(const std::string& collection, const std::string& text) {
  absl::StatusOr<index::Engine*> engine = engine_->Get();
  if (!engine.ok()) return false;
  absl::StatusOr<index::CollectionSpec> spec = (*engine)->GetCollectionSpec(collection);
  if (!spec.ok()) return false;
  absl::StatusOr<std::shared_ptr<models::Embedder>> embedder = embedders_->ForCollection(*spec);
  if (!embedder.ok()) return false;
  if ((*embedder)->in_process()) return true;
  if (options_.query_cache_entries == 0) return false;
  const std::string key = CacheKey(**embedder, text);
  std::lock_guard<std::mutex> lock(mu_);
  return by_key_.find(key) != by_key_.end();
}

absl::StatusOr<std::vector<float>> Retriever::EmbedQuery(models::Embedder& embedder,
                                                         const std::string& text) {
  std::string key = CacheKey(embedder, text);
  if (options_.query_cache_entries > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_key_.find(key);
    if (it != by_key_.end()) {
      ++hits_;
      lru_.splice(lru_.begin(), lru_, it->second);
      return it->second->second;
    }
    ++misses_;
  }
  // Embedded outside the lock: a remote embedder may take a network round trip.
  ASSIGN_OR_RETURN(std::vector<std::vector<float>> vectors, embedder.Embed({text}));
  if (vectors.size() != 1) return absl::InternalError("embedder returned no vector for the query");
  if (options_.query_cache_entries > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    if (by_key_.find(key) == by_key_.end()) {
      lru_.emplace_front(key, vectors[0]);
      by_key_.emplace(std::move(key), lru_.begin());
      if (lru_.size() > options_.query_cache_entries) {
        by_key_.erase(lru_.back().first);
        lru_.pop_back();
        ++evictions_;
      }
    }
  }
  return std::move(vectors[0]);
}

Retriever::CacheStats Retriever::cache_stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  CacheStats s;
  s.entries = lru_.size();
  s.max_entries = options_.query_cache_entries;
  s.hits = hits_;
  s.misses = misses_;
  s.evictions = evictions_;
  return s;
}

absl::StatusOr<TextQueryResult> Retriever::Retrieve(const TextQuery& query) {
  if (query.text.empty()) return absl::InvalidArgumentError("query: empty");
  if (!IsValidUtf8(query.text)) return absl::InvalidArgumentError("query: not valid UTF-8");
  size_t k = query.k == 0 ? options_.default_k : query.k;
  if (k > options_.max_k) {
    return absl::InvalidArgumentError(
        absl::StrCat("k: ", k, " is above retrieval.max_k (", options_.max_k, ")"));
  }
  ASSIGN_OR_RETURN(index::Engine * engine, engine_->Get());
  ASSIGN_OR_RETURN(index::CollectionSpec spec, engine->GetCollectionSpec(query.collection));
  ASSIGN_OR_RETURN(std::shared_ptr<models::Embedder> embedder, embedders_->ForCollection(spec));
  const index::SearchMode mode = query.mode.value_or(
      spec.lexical.enabled ? index::SearchMode::kHybrid : index::SearchMode::kVector);
  if (mode != index::SearchMode::kVector && !spec.lexical.enabled) {
    return absl::FailedPreconditionError(absl::StrCat(
        "collection \"", query.collection,
        "\" has no lexical index: text and hybrid retrieval need one (set at creation)"));
  }

  index::SearchRequest search;
  search.collection = query.collection;
  search.mode = mode;
  search.hybrid = query.hybrid;
  if (!search.hybrid.fusion) {
    search.hybrid.fusion = options_.hybrid_fusion;
    if (!search.hybrid.alpha) search.hybrid.alpha = options_.hybrid_alpha;
  }
  search.text = query.text;
  if (mode != index::SearchMode::kVector) search.feedback = options_.text_feedback;
  if (mode != index::SearchMode::kText) {
    ASSIGN_OR_RETURN(search.query, EmbedQuery(*embedder, query.text));
  }
  search.k = k;
  search.filter = query.filter;
  search.min_score = query.min_score;
  search.with_vectors = query.with_vectors;
  SearchBackend* backend = backend_.load(std::memory_order_acquire);
  TextQueryResult out;
  if (backend != nullptr) {
    // The shard transport does not carry feedback: off for every group alike, so that the
    // groups' legs stay comparable.
    search.feedback = {};
    ASSIGN_OR_RETURN(
        BackendSearchResult routed,
        backend->Search(search, query.min_sequence, query.allow_partial, query.deadline));
    out.hits = std::move(routed.result.hits);
    out.coverage = std::move(routed.coverage);
  } else {
    ASSIGN_OR_RETURN(index::SearchResult result, engine->Search(search));
    out.hits = std::move(result.hits);
  }
  if (mode != index::SearchMode::kText) out.embedder = embedder->model_id();
  out.mode = mode;
  return out;
}

}  // namespace ragd::rag
