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

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "ingest/pipeline.h"
#include "ragd/v1/ingest.grpc.pb.h"
#include "services/bounded_executor.h"
#include "services/collection_binding.h"
#include "services/engine_handle.h"

namespace ragd::services {

struct IngestServiceOptions {
  // Worker threads and queue of each stream's session (ingest::IngestorOptions).
  // Default: 2 and 8.
  size_t workers = 2;
  size_t queue_capacity = 8;
  // Largest document body (text or raw bytes). Default: 32 MiB.
  size_t max_document_bytes = 32u << 20;
  // IngestDocuments streams running at once; more get RESOURCE_EXHAUSTED. Default: 8.
  size_t max_streams = 8;
  // Ok and skipped results listed in an IngestSummary (failures are always listed, up to
  // the job record's limit). Default: 10000.
  size_t max_summary_results = 10000;
};

class IngestService final : public v1::Ingest::CallbackService {
 public:
  // No pointer is owned; all must outlive the server.
  IngestService(const EngineHandle* engine, BoundedExecutor* executor,
                EmbedderRegistry* embedders, IngestServiceOptions options)
      : engine_(engine), executor_(executor), embedders_(embedders), options_(options) {}

  grpc::ServerReadReactor<v1::IngestDocumentsRequest>* IngestDocuments(
      grpc::CallbackServerContext* context, v1::IngestSummary* response) override;
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

  // What a stream needs from the service (used by the stream reactor in ingest_stream.cc).
  struct Bound {
    std::shared_ptr<ingest::Ingestor> ingestor;
    CollectionBinding binding;
  };
  // The Ingestor of `collection`. NOT_FOUND, FAILED_PRECONDITION (no embedder binding, or
  // the embedder cannot be built).
  absl::StatusOr<Bound> IngestorFor(index::Engine* engine, const std::string& collection);
  const EngineHandle* engine() const { return engine_; }
  const IngestServiceOptions& options() const { return options_; }
  // Registers a running stream of `job_id` ("" before the id is known: only counted).
  // RESOURCE_EXHAUSTED over max_streams.
  absl::Status AcquireStream();
  void ReleaseStream();
  // ALREADY_EXISTS when a stream of that job runs.
  absl::Status AcquireJob(const std::string& job_id);
  void ReleaseJob(const std::string& job_id);

 private:
  const EngineHandle* engine_;
  BoundedExecutor* executor_;
  EmbedderRegistry* embedders_;
  const IngestServiceOptions options_;

  std::mutex mu_;
  // By (collection, created_at_unix_ms).
  std::map<std::pair<std::string, int64_t>, Bound> ingestors_;
  size_t streams_ = 0;
  std::set<std::string> jobs_;
};

}  // namespace ragd::services
