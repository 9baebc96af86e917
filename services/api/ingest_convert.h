#pragma once
// Wire types of ragd.v1.Ingest (ingest.proto) to and from ingest types. A sibling of convert.h
// kept apart so that the core conversions do not depend on the ingest library.

#include <cstddef>
#include <vector>

#include "absl/status/statusor.h"
#include "ingest/job.h"
#include "ingest/pipeline.h"
#include "ragd/v1/ingest.pb.h"

namespace ragd::services {

// Loads the documents of one wire Document: runs the loader of its format over its text or
// raw content. The outer error (INVALID_ARGUMENT) is for a malformed message: no body, no id
// (except JSONL), an unknown format name or extension, content over `max_bytes`
// (ingest.max_document_bytes). The inner entries are the loader's, one per document found (JSONL:
// per line). Loaded documents get the message's title (when set) and metadata (over the
// loader's), and their content hash is computed after that.
absl::StatusOr<std::vector<absl::StatusOr<ingest::Document>>> LoadDocuments(
    const v1::Document& document, size_t max_bytes);

// The id to report a failure of `document` under: its id, else its name, else "(unnamed)".
std::string DocumentLabel(const v1::Document& document);

void ToProto(const ingest::DocumentResult& result, v1::DocumentResult* out);
void ToProto(const ingest::IngestJob& job, v1::IngestJob* out);

}  // namespace ragd::services
