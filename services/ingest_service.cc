#include "services/ingest_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "ingest/job.h"
#include "services/convert.h"
#include "services/handler_util.h"
#include "services/ingest_convert.h"

namespace ragd::services {
namespace {

absl::Status CheckDocumentRef(const std::string& collection, const std::string& document_id) {
  RETURN_IF_ERROR(ValidateCollectionName("collection", collection));
  if (document_id.empty()) return absl::InvalidArgumentError("document_id: required");
  return absl::OkStatus();
}

// Stored chunk ids, as ingest/pipeline.h documents them.
std::string ChunkId(const std::string& document_id, int64_t ordinal) {
  return absl::StrCat(document_id, "#", ordinal);
}

// Keeps the embedder alive as long as the Ingestor that points to it.
struct IngestorHolder {
  std::shared_ptr<models::Embedder> embedder;
  std::unique_ptr<ingest::Ingestor> ingestor;
};

}  // namespace

absl::StatusOr<IngestService::Bound> IngestService::IngestorFor(index::Engine* engine,
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

absl::Status IngestService::AcquireStream() {
  std::lock_guard<std::mutex> lock(mu_);
  if (streams_ >= options_.max_streams) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "ingest.max_streams (", options_.max_streams, ") streams are running; retry later"));
  }
  ++streams_;
  return absl::OkStatus();
}

void IngestService::ReleaseStream() {
  std::lock_guard<std::mutex> lock(mu_);
  --streams_;
}

absl::Status IngestService::AcquireJob(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!jobs_.insert(job_id).second) {
    return absl::AlreadyExistsError(absl::StrCat("job ", job_id, " is running"));
  }
  return absl::OkStatus();
}

void IngestService::ReleaseJob(const std::string& job_id) {
  std::lock_guard<std::mutex> lock(mu_);
  jobs_.erase(job_id);
}

void IngestService::Shutdown() {
  std::map<std::pair<std::string, int64_t>, Bound> dropped;
  std::lock_guard<std::mutex> lock(mu_);
  dropped.swap(ingestors_);
}

grpc::ServerUnaryReactor* IngestService::UpsertDocument(grpc::CallbackServerContext* context,
                                                        const v1::UpsertDocumentRequest* request,
                                                        v1::UpsertDocumentResponse* response) {
  if (absl::Status s = Authorize(context, "Ingest.UpsertDocument", request->collection()); !s.ok()) return FinishNow(context, s);
  absl::StatusOr<index::Engine*> engine = engine_->Get();
  if (!engine.ok()) return FinishNow(context, engine.status());
  if (absl::Status s = ValidateCollectionName("collection", request->collection()); !s.ok()) {
    return FinishNow(context, s);
  }
  return FinishOnExecutor(context, executor_, [this, engine = *engine, request, response] {
    ASSIGN_OR_RETURN(Bound bound, IngestorFor(engine, request->collection()));
    ASSIGN_OR_RETURN(auto docs, LoadDocuments(request->document(), options_.max_document_bytes));
    if (docs.size() != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "document ", DocumentLabel(request->document()), ": holds ", docs.size(),
          " documents; send them with IngestDocuments"));
    }
    if (!docs[0].ok()) return docs[0].status();
    ingest::DocumentResult result =
        bound.ingestor->IngestDocument(request->collection(), *docs[0]);
    if (result.outcome == ingest::DocumentOutcome::kFailed) {
      return absl::Status(result.status.code(),
                          absl::StrCat("document ", result.document_id, ": ",
                                       std::string(result.status.message())));
    }
    ToProto(result, response->mutable_result());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* IngestService::DeleteDocument(grpc::CallbackServerContext* context,
                                                        const v1::DeleteDocumentRequest* request,
                                                        v1::DeleteDocumentResponse* response) {
  if (absl::Status s = Authorize(context, "Ingest.DeleteDocument", request->collection()); !s.ok()) return FinishNow(context, s);
  absl::StatusOr<index::Engine*> engine = engine_->Get();
  if (!engine.ok()) return FinishNow(context, engine.status());
  if (absl::Status s = CheckDocumentRef(request->collection(), request->document_id());
      !s.ok()) {
    return FinishNow(context, s);
  }
  return FinishOnExecutor(context, executor_, [this, engine = *engine, request, response] {
    ASSIGN_OR_RETURN(Bound bound, IngestorFor(engine, request->collection()));
    ASSIGN_OR_RETURN(uint64_t deleted,
                     bound.ingestor->DeleteDocument(request->collection(),
                                                    request->document_id()));
    response->set_deleted_chunks(deleted);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* IngestService::GetDocument(grpc::CallbackServerContext* context,
                                                     const v1::GetDocumentRequest* request,
                                                     v1::GetDocumentResponse* response) {
  if (absl::Status s = Authorize(context, "Ingest.GetDocument", request->collection()); !s.ok()) return FinishNow(context, s);
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(index::Engine * engine, engine_->Get());
    RETURN_IF_ERROR(CheckDocumentRef(request->collection(), request->document_id()));
    const std::string& id = request->document_id();
    // Chunk #0 says how many there are; the rest are read by id in one call.
    ASSIGN_OR_RETURN(std::vector<index::Point> first,
                     engine->Get(request->collection(), {ChunkId(id, 0)}, false));
    if (first.empty()) {
      return absl::NotFoundError(absl::StrCat("document ", id, " has no chunks in collection ",
                                              request->collection()));
    }
    int64_t count = 1;
    if (auto it = first[0].metadata.find("chunk_count"); it != first[0].metadata.end()) {
      if (const int64_t* n = std::get_if<int64_t>(&it->second)) count = *n;
    }
    std::vector<std::string> ids;
    for (int64_t i = 0; i < count; ++i) ids.push_back(ChunkId(id, i));
    ASSIGN_OR_RETURN(std::vector<index::Point> chunks,
                     engine->Get(request->collection(), ids, request->with_vectors()));
    if (chunks.empty()) return absl::NotFoundError(absl::StrCat("document ", id, " was deleted"));
    response->set_document_id(id);
    if (auto it = chunks[0].metadata.find("title"); it != chunks[0].metadata.end()) {
      if (const auto* t = std::get_if<std::string>(&it->second)) response->set_title(*t);
    }
    if (auto it = chunks[0].metadata.find("content_hash"); it != chunks[0].metadata.end()) {
      if (const auto* h = std::get_if<std::string>(&it->second)) response->set_content_hash(*h);
    }
    for (index::Point& p : chunks) ToProto(std::move(p), response->add_chunks());
    return absl::OkStatus();
  };
  return FinishNow(context, run());
}

grpc::ServerUnaryReactor* IngestService::GetIngestJob(grpc::CallbackServerContext* context,
                                                      const v1::GetIngestJobRequest* request,
                                                      v1::IngestJob* response) {
  if (absl::Status s = Authorize(context, "Ingest.GetIngestJob", ""); !s.ok()) return FinishNow(context, s);
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(index::Engine * engine, engine_->Get());
    if (request->job_id().empty()) return absl::InvalidArgumentError("job_id: required");
    ASSIGN_OR_RETURN(ingest::IngestJob job, ingest::LoadJob(*engine, request->job_id()));
    // A key scoped to some collections sees only their jobs. A job of another collection is
    // NOT_FOUND, word for word as for an id nobody used: job ids may be chosen by clients
    // ("nightly-hr"), and PERMISSION_DENIED would confirm that another tenant's job exists
    // (as ListCollections lists only the key's collections). A record without a collection
    // (none is written so, but records are read leniently) is checked as "/", which no scope
    // holds: unscoped keys only.
    const std::string scope = job.collection.empty() ? "/" : job.collection;
    if (!AuthorizeCollection(context, "Ingest.GetIngestJob", scope).ok()) {
      return ingest::JobNotFound(request->job_id());
    }
    ToProto(job, response);
    return absl::OkStatus();
  };
  return FinishNow(context, run());
}

}  // namespace ragd::services
