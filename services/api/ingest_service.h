#pragma once
// ragd.v1.Ingest over the gRPC callback API (ingest.proto): documents sent by clients are
// loaded here (raw bytes + format, so that binary formats like PDF need nothing on the client),
// then chunked, embedded with the collection's embedder and written by ingest::Ingestor.
//
// One Ingestor per collection (per incarnation: a re-created collection gets a new one),
// built on first use from the collection's binding (collection_binding.h) and shared by every
// call, so that its per-document locks serialise concurrent ingestions of one document.
//
// IngestDocuments runs each stream on its own thread (at most ingest.max_streams of them):
// the thread loads a message, hands it to the session (which blocks while the pipeline's
// queue is full) and only then asks gRPC for the next message, so a stream holds at most two
// messages plus the session's bounded queue, and HTTP/2 flow control stops the client.
// Unary writes run on the bounded executor; reads run inline.

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "common/concurrency/bounded_executor.h"
#include "ingest/pipeline.h"
#include "rag/collection_binding.h"
#include "rag/engine_handle.h"
#include "rag/ingestors.h"
#include "ragd/v1/ingest.grpc.pb.h"
#include "services/api/cluster_writes.h"
#include "services/api/methods.h"

namespace ragd::services {

struct IngestServiceOptions {
  // Each collection's Ingestor: workers, queue and the embedding cache's bound
  // (rag/ingestors.h).
  rag::IngestorCacheOptions ingestors;
  // Largest document body (text or raw bytes). Default: 32 MiB.
  size_t max_document_bytes = 32u << 20;
  // IngestDocuments streams running at once; more get RESOURCE_EXHAUSTED. Default: 8.
  size_t max_streams = 8;
  // Ok and skipped results listed in an IngestSummary (failures are always listed, up to
  // the job record's limit). Default: 10000.
  size_t max_summary_results = 10000;
};

// IngestDocuments is registered raw (bytes in, bytes out): a typed stream reader cannot tell a
// message that does not parse from the end of the stream (unparsed_request.h), and would end
// the job early with OK. The stream parses each message itself and answers INVALID_ARGUMENT.
class IngestService final
    : public v1::Ingest::WithRawCallbackMethod_IngestDocuments<v1::Ingest::CallbackService> {
 public:
  // No pointer is owned; all must outlive the server.
  // `authorizer` may be null (every call allowed).
  // `cluster` may be null (single-node mode); set, documents are loaded, chunked and embedded
  // on this pod and their chunks written through the replicated log
  // (WithClusterIngestHooks, cluster_writes.h).
  IngestService(const Authorizer* authorizer, const rag::EngineHandle* engine,
                concurrency::BoundedExecutor* executor, rag::EmbedderRegistry* embedders,
                IngestServiceOptions options, const ClusterWrites* cluster = nullptr)
      : authorizer_(authorizer),
        engine_(engine),
        cluster_(cluster),
        executor_(executor),
        options_(options),
        ingestors_(embedders, WithClusterIngestHooks(options.ingestors, cluster)) {}

  // Reads serialized v1::IngestDocumentsRequest messages; `response` receives the serialized
  // v1::IngestSummary.
  grpc::ServerReadReactor<grpc::ByteBuffer>* IngestDocuments(grpc::CallbackServerContext* context,
                                                             grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* UpsertDocument(grpc::CallbackServerContext* context,
                                           const v1::UpsertDocumentRequest* request,
                                           v1::UpsertDocumentResponse* response) override;
  grpc::ServerUnaryReactor* DeleteDocument(grpc::CallbackServerContext* context,
                                           const v1::DeleteDocumentRequest* request,
                                           v1::DeleteDocumentResponse* response) override;
  grpc::ServerUnaryReactor* GetDocument(grpc::CallbackServerContext* context,
                                        const v1::GetDocumentRequest* request,
                                        v1::GetDocumentResponse* response) override;
  grpc::ServerUnaryReactor* GetIngestJob(grpc::CallbackServerContext* context,
                                         const v1::GetIngestJobRequest* request,
                                         v1::IngestJob* response) override;

  // Drops the cached Ingestors (flushing their embedding-cache buffers). Call after the gRPC
  // server has stopped and before the engine closes.
  void Shutdown();

  // The embedding cache's numbers (rag/ingestors.h), for metrics; nullopt before any ingestion.
  std::optional<ingest::EmbeddingCache::Stats> cache_stats() const {
    return ingestors_.CacheStats();
  }

  // What a stream needs from the service (used by the stream reactor in ingest_stream.cc).
  using Bound = rag::IngestorCache::Bound;
  // The Ingestor of `collection` (rag/ingestors.h). NOT_FOUND, FAILED_PRECONDITION (no
  // embedder binding, or the embedder cannot be built).
  absl::StatusOr<Bound> IngestorFor(index::Engine* engine, const std::string& collection) {
    return ingestors_.For(engine, collection);
  }
  // The per-collection Ingestors, shared with the HTTP front's uploads (services/http), so that
  // ingestions of one document serialise on one lock whichever edge they came through.
  rag::IngestorCache* ingestors() { return &ingestors_; }
  const rag::EngineHandle* engine() const { return engine_; }
  const Authorizer* authorizer() const { return authorizer_; }
  const IngestServiceOptions& options() const { return options_; }
  // Registers a running stream of `job_id` ("" before the id is known: only counted).
  // RESOURCE_EXHAUSTED over max_streams.
  absl::Status AcquireStream();
  void ReleaseStream();
  // ALREADY_EXISTS when a stream of that job runs.
  absl::Status AcquireJob(const std::string& job_id);
  void ReleaseJob(const std::string& job_id);

 private:
  const Authorizer* authorizer_;
  const rag::EngineHandle* engine_;
  const ClusterWrites* cluster_;
  concurrency::BoundedExecutor* executor_;
  const IngestServiceOptions options_;
  rag::IngestorCache ingestors_;

  std::mutex mu_;
  size_t streams_ = 0;
  std::set<std::string> jobs_;
};

}  // namespace ragd::services
