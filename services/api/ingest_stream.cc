// IngestDocuments: one client stream of documents → one ingest job (see ingest_service.h for
// the threading and backpressure design).

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "ingest/job.h"
#include "services/api/convert.h"
#include "services/api/handler_util.h"
#include "services/api/ingest_convert.h"
#include "services/api/ingest_service.h"
#include "services/api/unparsed_request.h"

namespace ragd::services {
namespace {

class IngestStream final : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  IngestStream(IngestService* service, grpc::CallbackServerContext* context,
               grpc::ByteBuffer* response)
      : service_(service), context_(context), response_(response) {
    if (absl::Status s = service_->AcquireStream(); !s.ok()) {
      Finish(ToGrpcStatus(s));
      return;
    }
    thread_ = std::thread([this] { Run(); });
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (ok) {
      has_message_ = true;
    } else {
      ended_ = true;
    }
    cv_.notify_all();
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }

  void OnDone() override {
    // Finish() is the stream thread's last action; should gRPC run OnDone on that very thread,
    // it cannot join itself.
    if (thread_.joinable()) {
      if (thread_.get_id() == std::this_thread::get_id()) {
        thread_.detach();
      } else {
        thread_.join();
      }
    }
    delete this;
  }

 private:
  // The stream thread: runs the job, then finishes the call (touching nothing afterwards).
  void Run() {
    absl::Status status = Stream();
    IngestService* service = service_;
    service->ReleaseStream();
    // gRPC sends no response with an error status; the summary is serialized only for OK.
    if (status.ok()) status = SerializeResponse(summary_, response_);
    Finish(ToGrpcStatus(status));
  }

  // The next message, or nullopt at the end of the stream, on cancellation or when a message
  // does not parse (then parse_error_ says which and why, and nothing more is read). Asks gRPC
  // for the following message at once, so that reading overlaps processing by exactly one
  // message.
  std::optional<v1::IngestDocumentsRequest> Next() {
    grpc::ByteBuffer bytes;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return has_message_ || ended_ || cancelled_; });
      if (cancelled_ || !has_message_) return std::nullopt;
      bytes.Swap(&request_);
      has_message_ = false;
    }
    ++messages_;
    v1::IngestDocumentsRequest out;
    parse_error_ = ParseRequest(bytes, &out, absl::StrCat("message ", messages_, " of the stream"));
    if (!parse_error_.ok()) return std::nullopt;
    StartRead(&request_);
    return out;
  }

  bool cancelled() {
    std::lock_guard<std::mutex> lock(mu_);
    return cancelled_;
  }

  absl::Status Stream() {
    ASSIGN_OR_RETURN(index::Engine * engine, service_->engine()->Get());
    std::optional<v1::IngestDocumentsRequest> message = Next();
    if (!message) {
      if (!parse_error_.ok()) return parse_error_;
      if (cancelled()) return absl::CancelledError("cancelled by the client");
      return absl::InvalidArgumentError("collection: the stream had no message");
    }
    const std::string collection = message->collection();
    RETURN_IF_ERROR(ValidateCollectionName("collection", collection));
    // The key's collection scope (its role was checked when the stream started).
    RETURN_IF_ERROR(
        AdmitCollection(context_, service_->authorizer(), Method::kIngestDocuments, collection));
    ASSIGN_OR_RETURN(IngestService::Bound bound, service_->IngestorFor(engine, collection));
    if (!message->job_id().empty()) RETURN_IF_ERROR(ingest::ValidateJobId(message->job_id()));
    const std::string job_id = message->job_id().empty() ? ingest::NewJobId() : message->job_id();
    RETURN_IF_ERROR(service_->AcquireJob(job_id));
    if (!message->job_id().empty()) {
      // A job id names one collection's job for good: re-running it in the same collection
      // replaces its record, but a stream for another collection must not overwrite it (a
      // key scoped to collection A could otherwise clobber B's job history).
      absl::StatusOr<ingest::IngestJob> previous = ingest::LoadJob(*engine, job_id);
      if (previous.ok() && previous->collection != collection) {
        service_->ReleaseJob(job_id);
        return absl::AlreadyExistsError(
            absl::StrCat("job_id: \"", job_id,
                         "\" is already used by another collection's job; choose another"));
      }
      if (!previous.ok() && !absl::IsNotFound(previous.status())) {
        service_->ReleaseJob(job_id);
        return previous.status();
      }
    }
    absl::Status status = RunJob(bound, collection, job_id, std::move(*message));
    service_->ReleaseJob(job_id);
    return status;
  }

  absl::Status RunJob(const IngestService::Bound& bound, const std::string& collection,
                      const std::string& job_id, v1::IngestDocumentsRequest first) {
    ingest::Ingestor::SessionOptions options;
    options.job_id = job_id;
    options.on_document = [this](const ingest::DocumentResult& r) { Record(r); };
    ASSIGN_OR_RETURN(std::unique_ptr<ingest::IngestSession> session,
                     bound.ingestor->StartSession(collection, std::move(options)));

    absl::Status protocol = absl::OkStatus();
    std::optional<v1::IngestDocumentsRequest> message = std::move(first);
    while (message) {
      if (!message->collection().empty() && message->collection() != collection) {
        protocol = absl::InvalidArgumentError(
            absl::StrCat("collection: a stream ingests into one collection (", collection,
                         "), got ", message->collection()));
        break;
      }
      if (!message->job_id().empty() && message->job_id() != job_id) {
        protocol = absl::InvalidArgumentError(
            absl::StrCat("job_id: set it in the first message only (", job_id, ")"));
        break;
      }
      Add(session.get(), message->document());
      message = Next();
    }
    // Documents already queued are finished either way: they are durable work, not lost.
    if (protocol.ok()) protocol = parse_error_;
    ASSIGN_OR_RETURN(ingest::IngestJob job, session->Finish());
    FillSummary(bound, job);
    if (!protocol.ok()) return protocol;
    if (cancelled()) return absl::CancelledError("cancelled by the client");
    return absl::OkStatus();
  }

  void Add(ingest::IngestSession* session, const v1::Document& document) {
    absl::StatusOr<std::vector<absl::StatusOr<ingest::Document>>> docs =
        LoadDocuments(document, service_->options().max_document_bytes);
    if (!docs.ok()) {
      session->AddFailure(DocumentLabel(document), docs.status());
      return;
    }
    for (absl::StatusOr<ingest::Document>& doc : *docs) {
      if (!doc.ok()) {
        session->AddFailure(DocumentLabel(document), doc.status());
        continue;
      }
      // Blocks while the session's queue is full: the backpressure that reaches the client.
      if (absl::Status s = session->Add(*std::move(doc)); !s.ok()) {
        session->AddFailure(DocumentLabel(document), s);
      }
    }
  }

  // Called by the session's workers.
  void Record(const ingest::DocumentResult& r) {
    std::lock_guard<std::mutex> lock(results_mu_);
    embedding_requests_ += r.embedding_requests;
    embedding_retries_ += r.embedding_retries;
    const bool failed = r.outcome == ingest::DocumentOutcome::kFailed;
    const size_t limit = failed ? ingest::IngestorOptions{}.max_failures_recorded
                                : service_->options().max_summary_results;
    size_t& listed = failed ? failures_listed_ : others_listed_;
    if (listed >= limit) {
      summary_.set_results_dropped(summary_.results_dropped() + 1);
      return;
    }
    ++listed;
    ToProto(r, summary_.add_results());
  }

  void FillSummary(const IngestService::Bound& bound, const ingest::IngestJob& job) {
    std::lock_guard<std::mutex> lock(results_mu_);
    summary_.set_job_id(job.id);
    summary_.set_collection(job.collection);
    summary_.set_documents_ok(job.documents_ok);
    summary_.set_documents_skipped(job.documents_skipped);
    summary_.set_documents_failed(job.documents_failed);
    summary_.set_chunks(job.chunks);
    summary_.set_tokens(job.tokens);
    summary_.set_cached_chunks(job.cached_chunks);
    summary_.set_embedded_chunks(job.embedded_chunks);
    summary_.set_embedded_tokens(job.embedded_tokens);
    summary_.set_embedding_requests(embedding_requests_);
    summary_.set_embedding_retries(embedding_retries_);
    summary_.set_embedder_provider(bound.binding.embedder.provider);
    summary_.set_embedder_model(bound.binding.embedder.model);
  }

  IngestService* const service_;
  grpc::CallbackServerContext* const context_;  // valid until OnDone
  grpc::ByteBuffer* const response_;            // the serialized summary_, set before Finish
  std::thread thread_;
  // Read and written by the stream thread only.
  size_t messages_ = 0;
  absl::Status parse_error_;

  std::mutex mu_;
  std::condition_variable cv_;
  grpc::ByteBuffer request_;  // filled by gRPC between StartRead and OnReadDone
  bool has_message_ = false;
  bool ended_ = false;
  bool cancelled_ = false;

  std::mutex results_mu_;
  uint64_t embedding_requests_ = 0;
  uint64_t embedding_retries_ = 0;
  size_t failures_listed_ = 0;
  size_t others_listed_ = 0;
  v1::IngestSummary summary_;  // under results_mu_ while the session's workers run
};

}  // namespace

grpc::ServerReadReactor<grpc::ByteBuffer>* IngestService::IngestDocuments(
    grpc::CallbackServerContext* context, grpc::ByteBuffer* response) {
  if (absl::Status s = Admit(context, authorizer_, Method::kIngestDocuments, ""); !s.ok()) {
    return RefuseReader<grpc::ByteBuffer>(s);
  }
  return new IngestStream(this, context, response);
}

}  // namespace ragd::services
