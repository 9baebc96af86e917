#pragma once
// The ingestion pipeline: document → chunks → embeddings (through the embedding cache) → one
// atomic engine write per document. Used for single documents (UpsertDocument) and for
// streams of documents processed by a bounded worker pool with backpressure (IngestDocuments,
// `ragctl ingest`), whose progress is kept in a persisted job record (job.h).
//
// Stored chunks: point id, document_id, the chunk text, the vector and the metadata of
// chunk_schema.h (the one definition of ids and keys).
//
// Guarantees:
//   - Replacement is atomic: the new chunks and the deletion of old chunks past the new count
//     (read from the old chunk #0's chunk_count) are one Engine::Write; a search sees either
//     all old or all new chunks of a document.
//   - A document whose content_hash and chunk_settings equal those stored is skipped without
//     embedding.
//   - Vectors come from the embedding cache when present; re-ingesting unchanged text makes no
//     embedder call. New vectors are cached (possibly in the cache's write buffer) before the
//     chunks are written.
//   - If embedding or writing fails, nothing of that document is written: its previous chunks
//     stay as they were, and the failure is reported for that document only.
//   - Documents with the same id are never processed concurrently by one Ingestor.
//
// Thread safety: an Ingestor may be used from any number of threads; an IngestSession's Add
// and Finish must be called from one thread (the producer), progress() from any.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "index/engine/engine.h"
#include "ingest/chunk_schema.h"
#include "ingest/chunker.h"
#include "ingest/document.h"
#include "ingest/embedding_cache.h"
#include "ingest/job.h"
#include "models/embedder.h"

namespace ragd::ingest {

enum class DocumentOutcome { kOk, kSkipped, kFailed };

// "ok", "skipped", "failed".
std::string_view DocumentOutcomeName(DocumentOutcome o);

struct DocumentResult {
  std::string document_id;
  DocumentOutcome outcome = DocumentOutcome::kOk;
  // Why it failed (kFailed); OK otherwise.
  absl::Status status;
  size_t chunks = 0;           // chunks written (kOk)
  size_t tokens = 0;           // tokens of those chunks
  size_t cached_chunks = 0;    // of `chunks`, vectors from the embedding cache
  size_t embedded_chunks = 0;  // of `chunks`, vectors from the embedder
  size_t embedded_tokens = 0;  // tokens of the embedded chunks
  size_t deleted_chunks = 0;   // old chunks past the new count, removed in the same write
  // The embedder's HTTP requests for this document and the retries among them (also when it
  // failed), so that callers can report retries absorbed; 0 for the local embedder.
  uint64_t embedding_requests = 0;
  uint64_t embedding_retries = 0;
  // The write's sequence (its consistency token in cluster mode); 0 when nothing was written.
  uint64_t sequence = 0;
};

// How an Ingestor writes; an unset member uses the engine directly (single-node mode). Cluster
// mode routes them through the replicated log (services/api), so that every pod applies the
// same batches. Called from the Ingestor's worker threads; must not throw.
struct IngestWriteHooks {
  // Before a document's stored state (its old chunk count) is read: cluster mode waits until
  // this pod has applied the collection's log head, so the chunks to replace are known.
  std::function<absl::Status(std::string_view collection)> before_document;
  // One document's chunks: upserts and deletes in one atomic batch (Engine::Write).
  std::function<absl::StatusOr<index::WriteResult>(std::string_view collection,
                                                   std::vector<index::Point> upserts,
                                                   std::vector<std::string> deletes)>
      write;
  // A document's removal (Engine::DeleteByFilter on its document id).
  std::function<absl::StatusOr<index::WriteResult>(std::string_view collection,
                                                   const index::Filter& filter)>
      delete_by_filter;
};

struct IngestorOptions {
  ChunkingOptions chunking;
  // Default: the engine's own writes.
  IngestWriteHooks hooks;
  // Threads of a session's worker pool, each processing one document at a time. 1..64.
  // Default: 2.
  size_t workers = 2;
  // Documents a session holds waiting for a worker; Add blocks while it is full, so memory is
  // bounded by (workers + queue_capacity) documents whatever the stream's length. 1..4096.
  // Default: 8.
  size_t queue_capacity = 8;
  // Skip documents stored with the same content_hash and chunk_settings. Default: true.
  bool skip_unchanged = true;
  // A session persists its job record at most this often while running (and always when it
  // finishes), so that a crash loses at most this much of the record's progress (never
  // chunks). 0: after every document. Default: 200.
  int64_t progress_interval_ms = 200;
  // Failures listed in a job record; further ones are only counted. Default: 1000.
  size_t max_failures_recorded = 1000;
  // New embedding-cache entries held in memory and written together (see embedding_cache.h),
  // saving a durable write per document; flushed when full, when a session finishes and after
  // every IngestDocument call. 0: written with each document. 0..100000. Default: 512.
  size_t cache_write_buffer_entries = 512;
  // Most embedding-cache entries kept in the engine; past it the oldest-stored are evicted
  // (see embedding_cache.h; the first Ingestor created over an engine sets it for all).
  // 0: no bound. Default: 1,000,000 (about 6.2 GB of 1536-dimensional vectors).
  uint64_t cache_max_entries = 1'000'000;

  absl::Status Validate() const;
};

class IngestSession;

class Ingestor {
 public:
  // `engine` and `embedder` must outlive the Ingestor and its sessions. INVALID_ARGUMENT for
  // invalid options.
  static absl::StatusOr<std::unique_ptr<Ingestor>> Create(index::Engine* engine,
                                                          models::Embedder* embedder,
                                                          IngestorOptions options);
  ~Ingestor();
  Ingestor(const Ingestor&) = delete;
  Ingestor& operator=(const Ingestor&) = delete;

  // Ingests one document now (in the calling thread). Failures are in the result:
  // NOT_FOUND (collection), FAILED_PRECONDITION (the collection's dimension differs from the
  // embedder's), INVALID_ARGUMENT (id, UTF-8, too many chunks for one write), or the
  // embedder's and engine's codes.
  DocumentResult IngestDocument(std::string_view collection, const Document& doc);

  // Removes every chunk of the document. Returns how many were removed (`applied`, 0 for an
  // unknown id) and the write's sequence (its consistency token in cluster mode; for an
  // unknown id there, the log sequence at which it was found absent). NOT_FOUND (collection).
  absl::StatusOr<index::WriteResult> DeleteDocument(std::string_view collection,
                                                    std::string_view document_id);

  struct SessionOptions {
    // The job id; empty: NewJobId(). Reusing the id of an earlier job starts a new record
    // under that id (the re-run of an interrupted job).
    std::string job_id;
    // Called after each document, in completion order, from the worker that handled it (or
    // from AddFailure's caller), for progress reporting and per-document summaries. Must be
    // thread-safe and quick: a slow callback slows the workers.
    std::function<void(const DocumentResult&)> on_document;
  };
  // Starts a job over `collection`: persists its record (state running) and starts the
  // workers. NOT_FOUND (collection), FAILED_PRECONDITION (dimension mismatch).
  absl::StatusOr<std::unique_ptr<IngestSession>> StartSession(std::string_view collection,
                                                              SessionOptions options);

  const IngestorOptions& options() const { return options_; }

  // The embedding cache's size and counters (shared by every Ingestor over the same engine,
  // see embedding_cache.h), for metrics.
  EmbeddingCache::Stats cache_stats() const;

  class Impl;

 private:
  Ingestor(std::unique_ptr<Impl> impl, IngestorOptions options);
  std::unique_ptr<Impl> impl_;
  IngestorOptions options_;
};

// One running job. Destroying a session that was not finished finishes it (waits for the
// queued documents).
class IngestSession {
 public:
  ~IngestSession();
  IngestSession(const IngestSession&) = delete;
  IngestSession& operator=(const IngestSession&) = delete;

  // Queues a document; blocks while the queue is full (backpressure). FAILED_PRECONDITION
  // after Finish.
  absl::Status Add(Document doc);
  // Records a document that never reached the pipeline (e.g. a loader error) as failed.
  void AddFailure(std::string document_id, absl::Status status);
  // Waits for every queued document, marks the job completed, persists and returns the final
  // record. Errors: the engine's, when the final record cannot be written. Idempotent.
  absl::StatusOr<IngestJob> Finish();
  // A snapshot of the job's progress.
  IngestJob progress() const;
  const std::string& id() const;

  class Impl;

 private:
  friend class Ingestor;
  explicit IngestSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ragd::ingest
