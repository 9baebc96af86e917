#include "ingest/pipeline.h"

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "common/hash.h"
#include "common/status.h"
#include "common/utf8.h"
#include "index/filter.h"
#include "ingest/embedding_cache.h"

namespace ragd::ingest {
namespace {

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// Prefixes a status message with what was being done, keeping the code.
absl::Status Annotate(const absl::Status& s, std::string_view what) {
  return absl::Status(s.code(), std::string(what) + ": " + std::string(s.message()));
}

template <typename T>
const T* MetaGet(const index::Metadata& m, std::string_view key) {
  auto it = m.find(std::string(key));
  return it == m.end() ? nullptr : std::get_if<T>(&it->second);
}

}  // namespace

std::string_view DocumentOutcomeName(DocumentOutcome o) {
  switch (o) {
    case DocumentOutcome::kOk:
      return "ok";
    case DocumentOutcome::kSkipped:
      return "skipped";
    case DocumentOutcome::kFailed:
      return "failed";
  }
  return "unknown";
}

absl::Status IngestorOptions::Validate() const {
  RETURN_IF_ERROR(chunking.Validate());
  if (workers < 1 || workers > 64) {
    return absl::InvalidArgumentError("ingest.workers must be between 1 and 64, got " +
                                      std::to_string(workers));
  }
  if (queue_capacity < 1 || queue_capacity > 4096) {
    return absl::InvalidArgumentError("ingest.queue_capacity must be between 1 and 4096, got " +
                                      std::to_string(queue_capacity));
  }
  if (cache_write_buffer_entries > 100000) {
    return absl::InvalidArgumentError(
        "ingest.cache_write_buffer_entries must be at most 100000, got " +
        std::to_string(cache_write_buffer_entries));
  }
  if (progress_interval_ms < 0) {
    return absl::InvalidArgumentError("ingest.progress_interval_ms must not be negative");
  }
  return absl::OkStatus();
}

class Ingestor::Impl {
 public:
  Impl(index::Engine* engine, models::Embedder* embedder, const IngestorOptions& options)
      : engine_(engine),
        embedder_(embedder),
        options_(options),
        cache_(engine, EmbeddingCache::Options{options.cache_write_buffer_entries,
                                               options.cache_max_entries}),
        model_id_(embedder->model_id()),
        identity_(embedder->identity()),
        settings_(options.chunking.Fingerprint() + "|" + model_id_) {}

  index::Engine* engine() const { return engine_; }
  EmbeddingCache& cache() { return cache_; }
  const EmbeddingCache& cache() const { return cache_; }
  const IngestorOptions& options() const { return options_; }

  absl::Status CheckCollection(std::string_view collection) const {
    absl::StatusOr<index::CollectionInfo> info = engine_->GetCollection(collection);
    if (!info.ok()) return info.status();
    if (info->spec.dimension != embedder_->dimension()) {
      return absl::FailedPreconditionError(
          "collection \"" + std::string(collection) + "\" has dimension " +
          std::to_string(info->spec.dimension) + " but embedder " + model_id_ + " makes " +
          std::to_string(embedder_->dimension()) + "-dimensional vectors");
    }
    return absl::OkStatus();
  }

  // Serialises work on one document (striped by hash, so memory stays constant).
  std::mutex& DocumentLock(std::string_view collection, std::string_view document_id) {
    std::string key(collection);
    key.push_back('\0');
    key.append(document_id);
    return doc_locks_[Hash64(key) % doc_locks_.size()];
  }

  absl::StatusOr<index::WriteResult> Delete(std::string_view collection,
                                            std::string_view document_id) {
    std::lock_guard<std::mutex> doc_lock(DocumentLock(collection, document_id));
    const index::Filter filter =
        index::Filter::Cond(index::DocumentIdEquals(std::string(document_id)));
    return options_.hooks.delete_by_filter ? options_.hooks.delete_by_filter(collection, filter)
                                           : engine_->DeleteByFilter(collection, filter);
  }

  DocumentResult Ingest(std::string_view collection, const Document& doc) {
    DocumentResult r;
    r.document_id = doc.id;
    absl::Status s = IngestInto(collection, doc, &r);
    if (!s.ok()) {
      DocumentResult failed;
      failed.document_id = doc.id;
      failed.outcome = DocumentOutcome::kFailed;
      failed.status = std::move(s);
      failed.embedding_requests = r.embedding_requests;
      failed.embedding_retries = r.embedding_retries;
      return failed;
    }
    return r;
  }

 private:
  absl::Status IngestInto(std::string_view collection, const Document& doc, DocumentResult* r) {
    if (doc.id.empty() || doc.id.size() > kMaxDocumentIdBytes || !IsValidUtf8(doc.id)) {
      return absl::InvalidArgumentError("document id must be 1.." +
                                        std::to_string(kMaxDocumentIdBytes) + " bytes of UTF-8");
    }
    // Two concurrent ingestions of one document would both read the old chunk count and one
    // could leave the other's extra chunks behind.
    std::lock_guard<std::mutex> doc_lock(DocumentLock(collection, doc.id));

    const std::string content_hash = Hex64(ContentHash(doc));
    if (options_.hooks.before_document) {
      if (absl::Status s = options_.hooks.before_document(collection); !s.ok()) {
        return Annotate(s, "catching up with the log");
      }
    }
    absl::StatusOr<std::vector<index::Point>> old =
        engine_->Get(collection, {ChunkId(doc.id, 0)}, /*with_vectors=*/false);
    if (!old.ok()) return old.status();
    size_t old_count = 0;
    if (!old->empty()) {
      const index::Metadata& m = old->front().metadata;
      if (const int64_t* c = MetaGet<int64_t>(m, kChunkCountKey); c != nullptr && *c > 0) {
        old_count = static_cast<size_t>(*c);
      } else {
        old_count = 1;
      }
      const std::string* h = MetaGet<std::string>(m, kContentHashKey);
      const std::string* st = MetaGet<std::string>(m, kChunkSettingsKey);
      if (options_.skip_unchanged && h != nullptr && *h == content_hash && st != nullptr &&
          *st == settings_) {
        r->outcome = DocumentOutcome::kSkipped;
        return absl::OkStatus();
      }
    }

    absl::StatusOr<std::vector<Chunk>> chunks = ChunkDocument(doc, options_.chunking);
    if (!chunks.ok()) return chunks.status();

    std::vector<std::string> texts;
    texts.reserve(chunks->size());
    for (const Chunk& c : *chunks) texts.push_back(c.text);
    auto cached = cache_.Lookup(identity_, texts);
    if (!cached.ok()) return Annotate(cached.status(), "embedding cache");

    std::vector<std::string> miss_texts;
    std::vector<size_t> miss_index;
    for (size_t i = 0; i < texts.size(); ++i) {
      if (!(*cached)[i].has_value()) {
        miss_index.push_back(i);
        miss_texts.push_back(texts[i]);
      }
    }
    std::vector<std::vector<float>> vectors(texts.size());
    for (size_t i = 0; i < texts.size(); ++i) {
      if ((*cached)[i].has_value()) vectors[i] = std::move(*(*cached)[i]);
    }
    if (!miss_texts.empty()) {
      models::EmbeddingUsage usage;
      auto embedded = embedder_->Embed(miss_texts, &usage);
      r->embedding_requests += usage.requests;
      r->embedding_retries += usage.retries;
      if (!embedded.ok()) return Annotate(embedded.status(), "embedding");
      if (embedded->size() != miss_texts.size()) {
        return absl::InternalError("embedding: the embedder returned " +
                                   std::to_string(embedded->size()) + " vectors for " +
                                   std::to_string(miss_texts.size()) + " texts");
      }
      for (const auto& v : *embedded) {
        if (v.size() != embedder_->dimension()) {
          return absl::InternalError("embedding: a vector of dimension " +
                                     std::to_string(v.size()) + " instead of " +
                                     std::to_string(embedder_->dimension()));
        }
      }
      // Cached before the write: if the write fails, the paid-for vectors are not lost.
      if (absl::Status st = cache_.Store(identity_, miss_texts, *embedded); !st.ok()) {
        return Annotate(st, "embedding cache");
      }
      for (size_t k = 0; k < miss_index.size(); ++k) {
        vectors[miss_index[k]] = std::move((*embedded)[k]);
      }
    }

    const auto count = static_cast<int64_t>(chunks->size());
    std::vector<index::Point> points;
    points.reserve(chunks->size());
    size_t tokens = 0;
    for (size_t i = 0; i < chunks->size(); ++i) {
      Chunk& c = (*chunks)[i];
      index::Point p;
      p.id = ChunkId(doc.id, c.ordinal);
      p.vector = std::move(vectors[i]);
      p.document_id = doc.id;
      p.metadata = doc.metadata;
      p.metadata[std::string(kTitleKey)] = doc.title;
      p.metadata[std::string(kHeadingPathKey)] = c.heading_path;
      if (c.page > 0) {
        p.metadata[std::string(kPageKey)] = int64_t{c.page};
      } else {
        p.metadata.erase(std::string(kPageKey));
      }
      p.metadata[std::string(kOrdinalKey)] = static_cast<int64_t>(c.ordinal);
      p.metadata[std::string(kByteBeginKey)] = static_cast<int64_t>(c.begin);
      p.metadata[std::string(kByteEndKey)] = static_cast<int64_t>(c.end);
      p.metadata[std::string(kTokenCountKey)] = static_cast<int64_t>(c.token_count);
      p.metadata[std::string(kChunkCountKey)] = count;
      p.metadata[std::string(kContentHashKey)] = content_hash;
      p.metadata[std::string(kChunkSettingsKey)] = settings_;
      p.text = std::move(c.text);
      tokens += c.token_count;
      points.push_back(std::move(p));
    }
    std::vector<std::string> deletes;
    for (size_t k = chunks->size(); k < old_count; ++k) deletes.push_back(ChunkId(doc.id, k));
    if (!points.empty() || !deletes.empty()) {
      auto written =
          options_.hooks.write
              ? options_.hooks.write(collection, std::move(points), std::move(deletes))
              : engine_->Write(collection, std::move(points), std::move(deletes));
      if (!written.ok()) return Annotate(written.status(), "write");
      r->sequence = written->sequence;
    }

    r->outcome = DocumentOutcome::kOk;
    r->chunks = chunks->size();
    r->tokens = tokens;
    r->embedded_chunks = miss_index.size();
    r->cached_chunks = r->chunks - r->embedded_chunks;
    for (size_t i : miss_index) r->embedded_tokens += (*chunks)[i].token_count;
    r->deleted_chunks = old_count > chunks->size() ? old_count - chunks->size() : 0;
    return absl::OkStatus();
  }

  index::Engine* engine_;
  models::Embedder* embedder_;
  IngestorOptions options_;
  EmbeddingCache cache_;
  const std::string model_id_;
  const models::EmbedderIdentity identity_;  // the embedding cache's key
  const std::string settings_;
  std::array<std::mutex, 64> doc_locks_;
};

Ingestor::Ingestor(std::unique_ptr<Impl> impl, IngestorOptions options)
    : impl_(std::move(impl)), options_(std::move(options)) {}
Ingestor::~Ingestor() = default;

EmbeddingCache::Stats Ingestor::cache_stats() const { return impl_->cache().stats(); }

absl::StatusOr<std::unique_ptr<Ingestor>> Ingestor::Create(index::Engine* engine,
                                                           models::Embedder* embedder,
                                                           IngestorOptions options) {
  if (engine == nullptr || embedder == nullptr) {
    return absl::InvalidArgumentError("Ingestor needs an engine and an embedder");
  }
  RETURN_IF_ERROR(options.Validate());
  auto impl = std::make_unique<Impl>(engine, embedder, options);
  return std::unique_ptr<Ingestor>(new Ingestor(std::move(impl), std::move(options)));
}

DocumentResult Ingestor::IngestDocument(std::string_view collection, const Document& doc) {
  if (absl::Status s = impl_->CheckCollection(collection); !s.ok()) {
    DocumentResult r;
    r.document_id = doc.id;
    r.outcome = DocumentOutcome::kFailed;
    r.status = std::move(s);
    return r;
  }
  DocumentResult r = impl_->Ingest(collection, doc);
  // A single call is not part of a stream: make its cache entries durable now.
  if (absl::Status s = impl_->cache().Flush(); !s.ok() && r.outcome == DocumentOutcome::kOk) {
    r.outcome = DocumentOutcome::kFailed;
    r.status = Annotate(s, "embedding cache");
  }
  return r;
}

absl::StatusOr<index::WriteResult> Ingestor::DeleteDocument(std::string_view collection,
                                                            std::string_view document_id) {
  return impl_->Delete(collection, document_id);
}

// ---------------------------------------------------------------------------------------------
// Sessions: a bounded queue in front of a fixed pool of workers.

class IngestSession::Impl {
 public:
  Impl(Ingestor::Impl* ingestor, std::string collection, Ingestor::SessionOptions options)
      : ingestor_(ingestor),
        collection_(std::move(collection)),
        on_document_(std::move(options.on_document)) {
    job_.id = options.job_id.empty() ? NewJobId() : std::move(options.job_id);
    job_.collection = collection_;
    job_.state = JobState::kRunning;
    job_.started_unix_ms = NowUnixMs();
    job_.updated_unix_ms = job_.started_unix_ms;
  }

  ~Impl() { (void)Finish(); }

  absl::Status Start() {
    if (absl::Status s = SaveJob(*ingestor_->engine(), job_); !s.ok()) {
      finished_ = true;  // nothing to finish: no record, no workers
      final_ = s;
      return s;
    }
    last_persist_ms_ = NowUnixMs();
    for (size_t i = 0; i < ingestor_->options().workers; ++i) {
      workers_.emplace_back([this] { WorkerLoop(); });
    }
    return absl::OkStatus();
  }

  absl::Status Add(Document doc) {
    std::unique_lock<std::mutex> lock(queue_mu_);
    if (closing_) return absl::FailedPreconditionError("ingest session already finished");
    not_full_.wait(
        lock, [this] { return queue_.size() < ingestor_->options().queue_capacity || closing_; });
    if (closing_) return absl::FailedPreconditionError("ingest session already finished");
    queue_.push_back(std::move(doc));
    not_empty_.notify_one();
    return absl::OkStatus();
  }

  void AddFailure(std::string document_id, absl::Status status) {
    DocumentResult r;
    r.document_id = std::move(document_id);
    r.outcome = DocumentOutcome::kFailed;
    r.status = std::move(status);
    Record(r);
  }

  absl::StatusOr<IngestJob> Finish() {
    std::lock_guard<std::mutex> finish_lock(finish_mu_);
    if (finished_) return final_;
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      closing_ = true;
    }
    not_empty_.notify_all();
    not_full_.notify_all();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
    const absl::Status cache_status = ingestor_->cache().Flush();
    std::lock_guard<std::mutex> lock(job_mu_);
    job_.state = JobState::kCompleted;
    job_.finished_unix_ms = NowUnixMs();
    job_.updated_unix_ms = job_.finished_unix_ms;
    finished_ = true;
    absl::Status s = SaveJob(*ingestor_->engine(), job_);
    if (s.ok() && !cache_status.ok()) s = Annotate(cache_status, "embedding cache");
    final_ = s.ok() ? absl::StatusOr<IngestJob>(job_) : absl::StatusOr<IngestJob>(s);
    return final_;
  }

  IngestJob progress() const {
    std::lock_guard<std::mutex> lock(job_mu_);
    return job_;
  }
  const std::string& id() const { return job_.id; }  // immutable after construction

 private:
  void WorkerLoop() {
    while (true) {
      Document doc;
      {
        std::unique_lock<std::mutex> lock(queue_mu_);
        not_empty_.wait(lock, [this] { return !queue_.empty() || closing_; });
        if (queue_.empty()) return;  // closing and drained
        doc = std::move(queue_.front());
        queue_.pop_front();
      }
      not_full_.notify_one();
      Record(ingestor_->Ingest(collection_, doc));
    }
  }

  void Record(const DocumentResult& r) {
    {
      std::lock_guard<std::mutex> lock(job_mu_);
      switch (r.outcome) {
        case DocumentOutcome::kOk:
          ++job_.documents_ok;
          job_.chunks += r.chunks;
          job_.tokens += r.tokens;
          job_.cached_chunks += r.cached_chunks;
          job_.embedded_chunks += r.embedded_chunks;
          job_.embedded_tokens += r.embedded_tokens;
          break;
        case DocumentOutcome::kSkipped:
          ++job_.documents_skipped;
          break;
        case DocumentOutcome::kFailed:
          ++job_.documents_failed;
          if (job_.failures.size() < ingestor_->options().max_failures_recorded) {
            job_.failures.push_back(JobFailure{r.document_id, r.status.ToString()});
          } else {
            ++job_.failures_dropped;
          }
          break;
      }
      const int64_t now = NowUnixMs();
      job_.updated_unix_ms = now;
      // Saved under job_mu_ so that records reach storage in the order they were made.
      if (now - last_persist_ms_ >= ingestor_->options().progress_interval_ms) {
        (void)SaveJob(*ingestor_->engine(), job_);  // best effort: Finish reports errors
        last_persist_ms_ = now;
      }
    }
    if (on_document_) on_document_(r);
  }

  Ingestor::Impl* const ingestor_;
  const std::string collection_;
  const std::function<void(const DocumentResult&)> on_document_;

  std::mutex queue_mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<Document> queue_;
  bool closing_ = false;
  std::vector<std::thread> workers_;

  mutable std::mutex job_mu_;
  IngestJob job_;
  int64_t last_persist_ms_ = 0;

  std::mutex finish_mu_;
  bool finished_ = false;
  absl::StatusOr<IngestJob> final_ = absl::UnknownError("not finished");
};

absl::StatusOr<std::unique_ptr<IngestSession>> Ingestor::StartSession(std::string_view collection,
                                                                      SessionOptions options) {
  RETURN_IF_ERROR(impl_->CheckCollection(collection));
  auto impl = std::make_unique<IngestSession::Impl>(impl_.get(), std::string(collection),
                                                    std::move(options));
  RETURN_IF_ERROR(impl->Start());
  return std::unique_ptr<IngestSession>(new IngestSession(std::move(impl)));
}

IngestSession::IngestSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
IngestSession::~IngestSession() = default;
absl::Status IngestSession::Add(Document doc) { return impl_->Add(std::move(doc)); }
void IngestSession::AddFailure(std::string document_id, absl::Status status) {
  impl_->AddFailure(std::move(document_id), std::move(status));
}
absl::StatusOr<IngestJob> IngestSession::Finish() { return impl_->Finish(); }
IngestJob IngestSession::progress() const { return impl_->progress(); }
const std::string& IngestSession::id() const { return impl_->id(); }

}  // namespace ragd::ingest
