#include "services/api/ingest_convert.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ingest/loaders/document_loader.h"
#include "services/api/convert.h"

namespace ragd::services {

std::string DocumentLabel(const v1::Document& document) {
  if (!document.id().empty()) return document.id();
  if (!document.name().empty()) return document.name();
  return "(unnamed)";
}

absl::StatusOr<std::vector<absl::StatusOr<ingest::Document>>> LoadDocuments(
    const v1::Document& document, size_t max_bytes) {
  const std::string& body =
      document.body_case() == v1::Document::kText ? document.text() : document.content();
  if (document.body_case() == v1::Document::BODY_NOT_SET) {
    return absl::InvalidArgumentError(
        absl::StrCat("document ", DocumentLabel(document), ": set text or content"));
  }
  if (body.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("document ", DocumentLabel(document), ": ", body.size(),
                     " bytes exceed ingest.max_document_bytes (", max_bytes, ")"));
  }
  ingest::Format format = ingest::Format::kText;
  if (!document.format().empty()) {
    absl::StatusOr<ingest::Format> f = ingest::FormatByName(document.format());
    if (!f.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "document ", DocumentLabel(document), ": format: ", std::string(f.status().message())));
    }
    format = *f;
  } else if (!document.name().empty()) {
    absl::StatusOr<ingest::Format> f = ingest::FormatForPath(document.name());
    if (!f.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("document ", DocumentLabel(document), ": ",
                                                     std::string(f.status().message()),
                                                     "; set format to load it anyway"));
    }
    format = *f;
  } else if (document.body_case() == v1::Document::kContent) {
    return absl::InvalidArgumentError(
        absl::StrCat("document ", DocumentLabel(document),
                     ": content needs a format or a name with an extension"));
  }
  if (format != ingest::Format::kJsonl && document.id().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("document ", DocumentLabel(document), ": id is required"));
  }

  index::Metadata metadata;
  for (const auto& [key, value] : document.metadata()) {
    absl::StatusOr<index::MetadataValue> v =
        FromProto(value, absl::StrCat("document.metadata[\"", key, "\"]"));
    if (!v.ok()) return v.status();
    metadata[key] = *std::move(v);
  }

  ingest::SourceInfo source;
  source.id = document.id();
  source.name = document.name().empty() ? document.id() : document.name();
  return ingest::LoadWithOverlay(format, body, source, document.title(), metadata);
}

void ToProto(const ingest::DocumentResult& result, v1::DocumentResult* out) {
  out->set_document_id(result.document_id);
  switch (result.outcome) {
    case ingest::DocumentOutcome::kOk:
      out->set_status(v1::DOCUMENT_STATUS_OK);
      break;
    case ingest::DocumentOutcome::kSkipped:
      out->set_status(v1::DOCUMENT_STATUS_SKIPPED);
      break;
    case ingest::DocumentOutcome::kFailed:
      out->set_status(v1::DOCUMENT_STATUS_FAILED);
      out->set_reason(result.status.ToString());
      break;
  }
  out->set_chunks(result.chunks);
  out->set_tokens(result.tokens);
  out->set_cached_chunks(result.cached_chunks);
  out->set_embedded_chunks(result.embedded_chunks);
  out->set_embedded_tokens(result.embedded_tokens);
  out->set_deleted_chunks(result.deleted_chunks);
  out->set_embedding_requests(result.embedding_requests);
  out->set_sequence(result.sequence);
  out->set_embedding_retries(result.embedding_retries);
}

void ToProto(const ingest::IngestJob& job, v1::IngestJob* out) {
  out->set_job_id(job.id);
  out->set_collection(job.collection);
  switch (job.state) {
    case ingest::JobState::kRunning:
      out->set_state(v1::JOB_STATE_RUNNING);
      break;
    case ingest::JobState::kCompleted:
      out->set_state(v1::JOB_STATE_COMPLETED);
      break;
    case ingest::JobState::kInterrupted:
      out->set_state(v1::JOB_STATE_INTERRUPTED);
      break;
  }
  out->set_documents_ok(job.documents_ok);
  out->set_documents_skipped(job.documents_skipped);
  out->set_documents_failed(job.documents_failed);
  out->set_chunks(job.chunks);
  out->set_tokens(job.tokens);
  out->set_cached_chunks(job.cached_chunks);
  out->set_embedded_chunks(job.embedded_chunks);
  out->set_embedded_tokens(job.embedded_tokens);
  for (const ingest::JobFailure& f : job.failures) {
    v1::JobFailure* failure = out->add_failures();
    failure->set_document_id(f.document_id);
    failure->set_reason(f.message);
  }
  out->set_failures_dropped(job.failures_dropped);
  out->set_started_unix_ms(job.started_unix_ms);
  out->set_updated_unix_ms(job.updated_unix_ms);
  out->set_finished_unix_ms(job.finished_unix_ms);
}

}  // namespace ragd::services
