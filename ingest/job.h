#pragma once
// Ingest job records: the progress and outcome of one ingestion stream (a `ragctl ingest` run,
// one IngestDocuments call), persisted as JSON in the engine's auxiliary records (namespace
// "ingest_jobs", key = job id) so that progress survives a restart and can be read by
// GetIngestJob while the job runs.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/ids.h"
#include "index/engine/engine.h"

namespace ragd::ingest {

inline constexpr std::string_view kIngestJobsNamespace = "ingest_jobs";

enum class JobState {
  kRunning,
  // Every document was handled; some may have failed (see documents_failed).
  kCompleted,
  // Found running when the process started: the process died during the job. Its written
  // chunks are intact; re-running the same input converges (unchanged documents are skipped).
  kInterrupted,
};

// "running", "completed", "interrupted".
std::string_view JobStateName(JobState s);

struct JobFailure {
  std::string document_id;
  std::string message;  // the status, e.g. "UNAVAILABLE: embedding endpoint: HTTP 503"
};

struct IngestJob {
  std::string id;
  std::string collection;
  JobState state = JobState::kRunning;
  uint64_t documents_ok = 0;
  uint64_t documents_failed = 0;
  uint64_t documents_skipped = 0;  // unchanged since the last ingestion
  uint64_t chunks = 0;             // chunks written by ok documents
  uint64_t tokens = 0;             // tokens of those chunks
  uint64_t cached_chunks = 0;      // of `chunks`, vectors found in the embedding cache
  uint64_t embedded_chunks = 0;    // of `chunks`, vectors computed by the embedder
  uint64_t embedded_tokens = 0;    // tokens of the embedded chunks (what a remote model bills)
  // The first failures (IngestorOptions::max_failures_recorded); failures_dropped counts the
  // rest, so that a run over millions of bad files keeps a small record.
  std::vector<JobFailure> failures;
  uint64_t failures_dropped = 0;
  int64_t started_unix_ms = 0;
  int64_t updated_unix_ms = 0;
  int64_t finished_unix_ms = 0;  // 0 while running
};

// JSON encoding of a record (stable field names; unknown fields are ignored when reading).
std::string JobToJson(const IngestJob& job);
// INVALID_ARGUMENT when `json` is not a job record.
absl::StatusOr<IngestJob> JobFromJson(std::string_view json);

// Durably writes `job` under its id.
absl::Status SaveJob(index::Engine& engine, const IngestJob& job);
// NOT_FOUND (JobNotFound) when there is no such job.
absl::StatusOr<IngestJob> LoadJob(const index::Engine& engine, std::string_view id);
// The NOT_FOUND of LoadJob for `id`; also what a caller not allowed to see a job gets, so that
// the two cannot be told apart.
absl::Status JobNotFound(std::string_view id);
// Job ids are chosen by clients ("nightly-hr") or made by NewJobId; both fit this bound.
inline constexpr size_t kMaxJobIdBytes = 128;
// INVALID_ARGUMENT unless `id` is 1..kMaxJobIdBytes of [A-Za-z0-9._:-] (the message echoes at
// most a short prefix of it).
absl::Status ValidateJobId(std::string_view id);
// All records, by id. Unreadable records are skipped.
absl::StatusOr<std::vector<IngestJob>> ListJobs(const index::Engine& engine);
// Marks every kRunning record kInterrupted; call once at start-up, before any job starts.
// Returns how many were marked.
absl::StatusOr<size_t> MarkInterruptedJobs(index::Engine& engine);

// NewJobId: common/ids.h.
using ragd::NewJobId;

}  // namespace ragd::ingest
