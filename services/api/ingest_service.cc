#include "services/api/ingest_service.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "ingest/chunk_schema.h"
#include "ingest/job.h"
#include "services/api/convert.h"
#include "services/api/handler_util.h"
#include "services/api/ingest_convert.h"

namespace ragd::services {
namespace {

absl::Status CheckDocumentRef(const std::string& collection, const std::string& document_id) {
  RETURN_IF_ERROR(ValidateCollectionName("collection", collection));
  if (document_id.empty()) return absl::InvalidArgumentError("document_id: required");
  return absl::OkStatus();
}

}  // namespace

absl::Status IngestService::AcquireStream() {
  std::lock_guard<std::mutex> lock(mu_);
  if (streams_ >= options_.max_streams) {
    return absl::ResourceExhaustedError(absl::StrCat("ingest.max_streams (", options_.max_streams,
                                                     ") streams are running; retry later"));
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

void IngestService::Shutdown() { ingestors_.Clear(); }

grpc::ServerUnaryReactor* IngestService::UpsertDocument(grpc::CallbackServerContext* context,
                                                        const v1::UpsertDocumentRequest* request,
                                                        v1::UpsertDocumentResponse* response) {
  if (absl::Status s = Admit(context, authorizer_, Method::kUpsertDocument, request->collection());
      !s.ok())
    return FinishNow(context, s);
  absl::StatusOr<index::Engine*> engine = engine_->Get();
  if (!engine.ok()) return FinishNow(context, engine.status());
  if (absl::Status s = ValidateCollectionName("collection", request->collection()); !s.ok()) {
    return FinishNow(context, s);
  }
  return FinishOnExecutor(context, executor_, [this, engine = *engine, request, response] {
    ASSIGN_OR_RETURN(Bound bound, IngestorFor(engine, request->collection()));
    ASSIGN_OR_RETURN(auto docs, LoadDocuments(request->document(), options_.max_document_bytes));
    if (docs.size() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("document ", DocumentLabel(request->document()), ": holds ", docs.size(),
                       " documents; send them with IngestDocuments"));
    }
    if (!docs[0].ok()) return docs[0].status();
    ingest::DocumentResult result = bound.ingestor->IngestDocument(request->collection(), *docs[0]);
    if (result.outcome == ingest::DocumentOutcome::kFailed) {
      return absl::Status(result.status.code(), absl::StrCat("document ", result.document_id, ": ",
                                                             std::string(result.status.message())));
    }
    ToProto(result, response->mutable_result());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* IngestService::DeleteDocument(grpc::CallbackServerContext* context,
                                                        const v1::DeleteDocumentRequest* request,
                                                        v1::DeleteDocumentResponse* response) {
  if (absl::Status s = Admit(context, authorizer_, Method::kDeleteDocument, request->collection());
      !s.ok())
    return FinishNow(context, s);
  absl::StatusOr<index::Engine*> engine = engine_->Get();
  if (!engine.ok()) return FinishNow(context, engine.status());
  if (absl::Status s = CheckDocumentRef(request->collection(), request->document_id()); !s.ok()) {
    return FinishNow(context, s);
  }
  return FinishOnExecutor(context, executor_, [this, engine = *engine, request, response] {
    ASSIGN_OR_RETURN(Bound bound, IngestorFor(engine, request->collection()));
    ASSIGN_OR_RETURN(index::WriteResult deleted,
                     bound.ingestor->DeleteDocument(request->collection(), request->document_id()));
    response->set_deleted_chunks(deleted.applied);
    response->set_sequence(deleted.sequence);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* IngestService::GetDocument(grpc::CallbackServerContext* context,
                                                     const v1::GetDocumentRequest* request,
                                                     v1::GetDocumentResponse* response) {
  if (absl::Status s = Admit(context, authorizer_, Method::kGetDocument, request->collection());
      !s.ok())
    return FinishNow(context, s);
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(index::Engine * engine, engine_->Get());
    RETURN_IF_ERROR(CheckDocumentRef(request->collection(), request->document_id()));
    ASSIGN_OR_RETURN(ingest::StoredDocument doc,
                     ingest::ReadDocument(*engine, request->collection(), request->document_id(),
                                          request->with_vectors()));
    response->set_document_id(doc.id);
    response->set_title(doc.title);
    response->set_content_hash(doc.content_hash);
    for (index::Point& p : doc.chunks) ToProto(std::move(p), response->add_chunks());
    return absl::OkStatus();
  };
  return FinishNow(context, run());
}

grpc::ServerUnaryReactor* IngestService::GetIngestJob(grpc::CallbackServerContext* context,
                                                      const v1::GetIngestJobRequest* request,
                                                      v1::IngestJob* response) {
  if (absl::Status s = Admit(context, authorizer_, Method::kGetIngestJob, ""); !s.ok())
    return FinishNow(context, s);
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(index::Engine * engine, engine_->Get());
    if (request->job_id().empty()) return absl::InvalidArgumentError("job_id: required");
    // An id no job can have is simply not found (the message echoes a short prefix only).
    if (!ingest::ValidateJobId(request->job_id()).ok()) {
      return ingest::JobNotFound(request->job_id());
    }
    ASSIGN_OR_RETURN(ingest::IngestJob job, ingest::LoadJob(*engine, request->job_id()));
    // A key scoped to some collections sees only their jobs. A job of another collection is
    // NOT_FOUND, word for word as for an id nobody used: job ids may be chosen by clients
    // ("nightly-hr"), and PERMISSION_DENIED would confirm that another tenant's job exists
    // (as ListCollections lists only the key's collections). A record without a collection
    // (none is written so, but records are read leniently) is checked as "/", which no scope
    // holds: unscoped keys only.
    const std::string scope = job.collection.empty() ? "/" : job.collection;
    if (!AdmitCollection(context, authorizer_, Method::kGetIngestJob, scope).ok()) {
      return ingest::JobNotFound(request->job_id());
    }
    ToProto(job, response);
    return absl::OkStatus();
  };
  return FinishNow(context, run());
}

}  // namespace ragd::services
