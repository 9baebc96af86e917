#include "rag/ingestors.h"

#include "common/status.h"

namespace ragd::rag {
namespace {

// Keeps the embedder alive as long as the Ingestor that points to it.
struct IngestorHolder {
  std::shared_ptr<models::Embedder> embedder;
  std::unique_ptr<ingest::Ingestor> ingestor;
};

}  // namespace

absl::StatusOr<IngestorCache::Bound> IngestorCache::For(index::Engine* engine,
                                                        const std::string& collection) {
  ASSIGN_OR_RETURN(index::CollectionInfo info, engine->GetCollection(collection));
  const auto key = std::make_pair(collection, info.created_at_unix_ms);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = ingestors_.find(key); it != ingestors_.end()) return it->second;
  }
  ASSIGN_OR_RETURN(CollectionBinding binding, DecodeBinding(info.spec.attributes));
  ASSIGN_OR_RETURN(std::shared_ptr<models::Embedder> embedder,
                   embedders_->ForCollection(info.spec));
  ingest::IngestorOptions options;
  options.chunking.max_tokens = static_cast<size_t>(binding.chunking.max_tokens);
  options.chunking.overlap_tokens = static_cast<size_t>(binding.chunking.overlap_tokens);
  options.workers = options_.workers;
  options.queue_capacity = options_.queue_capacity;
  options.cache_max_entries = options_.cache_max_entries;
  options.hooks = options_.hooks;
  auto holder = std::make_shared<IngestorHolder>();
  holder->embedder = std::move(embedder);
  ASSIGN_OR_RETURN(holder->ingestor,
                   ingest::Ingestor::Create(engine, holder->embedder.get(), options));
  Bound bound{std::shared_ptr<ingest::Ingestor>(holder, holder->ingestor.get()),
              std::move(binding)};
  std::lock_guard<std::mutex> lock(mu_);
  // Another call may have built one meanwhile: keep the first, so that all share its locks.
  auto [it, inserted] = ingestors_.emplace(key, std::move(bound));
  return it->second;
}

std::optional<ingest::EmbeddingCache::Stats> IngestorCache::CacheStats() const {
  std::shared_ptr<ingest::Ingestor> any;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ingestors_.empty()) return std::nullopt;
    any = ingestors_.begin()->second.ingestor;
  }
  return any->cache_stats();
}

void IngestorCache::Clear() {
  std::map<std::pair<std::string, int64_t>, Bound> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dropped.swap(ingestors_);
  }
  // `dropped` goes here, outside the lock: an Ingestor's destructor flushes its buffer.
}

}  // namespace ragd::rag
