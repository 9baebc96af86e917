#include "ingest/job.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <random>

#include "common/utf8.h"

namespace ragd::ingest {
namespace {

using Json = nlohmann::json;

}  // namespace

std::string_view JobStateName(JobState s) {
  switch (s) {
    case JobState::kRunning:
      return "running";
    case JobState::kCompleted:
      return "completed";
    case JobState::kInterrupted:
      return "interrupted";
  }
  return "unknown";
}

std::string JobToJson(const IngestJob& job) {
  Json j;
  j["id"] = job.id;
  j["collection"] = job.collection;
  j["state"] = std::string(JobStateName(job.state));
  j["documents_ok"] = job.documents_ok;
  j["documents_failed"] = job.documents_failed;
  j["documents_skipped"] = job.documents_skipped;
  j["chunks"] = job.chunks;
  j["tokens"] = job.tokens;
  j["cached_chunks"] = job.cached_chunks;
  j["embedded_chunks"] = job.embedded_chunks;
  j["embedded_tokens"] = job.embedded_tokens;
  Json failures = Json::array();
  for (const JobFailure& f : job.failures) {
    failures.push_back({{"document_id", f.document_id}, {"message", f.message}});
  }
  j["failures"] = std::move(failures);
  j["failures_dropped"] = job.failures_dropped;
  j["started_unix_ms"] = job.started_unix_ms;
  j["updated_unix_ms"] = job.updated_unix_ms;
  j["finished_unix_ms"] = job.finished_unix_ms;
  // Replacement characters instead of an exception: messages quote user input.
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

absl::StatusOr<IngestJob> JobFromJson(std::string_view json) {
  try {
    Json j = Json::parse(json);
    IngestJob job;
    job.id = j.at("id").get<std::string>();
    job.collection = j.value("collection", "");
    const std::string state = j.value("state", "running");
    if (state == "completed") {
      job.state = JobState::kCompleted;
    } else if (state == "interrupted") {
      job.state = JobState::kInterrupted;
    } else {
      job.state = JobState::kRunning;
    }
    job.documents_ok = j.value("documents_ok", uint64_t{0});
    job.documents_failed = j.value("documents_failed", uint64_t{0});
    job.documents_skipped = j.value("documents_skipped", uint64_t{0});
    job.chunks = j.value("chunks", uint64_t{0});
    job.tokens = j.value("tokens", uint64_t{0});
    job.cached_chunks = j.value("cached_chunks", uint64_t{0});
    job.embedded_chunks = j.value("embedded_chunks", uint64_t{0});
    job.embedded_tokens = j.value("embedded_tokens", uint64_t{0});
    if (auto f = j.find("failures"); f != j.end() && f->is_array()) {
      for (const Json& e : *f) {
        job.failures.push_back(JobFailure{e.value("document_id", ""), e.value("message", "")});
      }
    }
    job.failures_dropped = j.value("failures_dropped", uint64_t{0});
    job.started_unix_ms = j.value("started_unix_ms", int64_t{0});
    job.updated_unix_ms = j.value("updated_unix_ms", int64_t{0});
    job.finished_unix_ms = j.value("finished_unix_ms", int64_t{0});
    return job;
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(std::string("malformed ingest job record: ") + e.what());
  }
}

absl::Status SaveJob(index::Engine& engine, const IngestJob& job) {
  return engine.PutAux(kIngestJobsNamespace, {{job.id, JobToJson(job)}});
}

absl::Status JobNotFound(std::string_view id) {
  return absl::NotFoundError("ingest job \"" + EchoPrefix(id) + "\" not found");
}

absl::Status ValidateJobId(std::string_view id) {
  if (id.empty() || id.size() > kMaxJobIdBytes) {
    return absl::InvalidArgumentError("job_id: must be 1 to " + std::to_string(kMaxJobIdBytes) +
                                      " bytes, got " + std::to_string(id.size()));
  }
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) {
      return absl::InvalidArgumentError("job_id: must match [A-Za-z0-9._:-]{1," +
                                        std::to_string(kMaxJobIdBytes) + "}, got \"" +
                                        EchoPrefix(id) + "\"");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<IngestJob> LoadJob(const index::Engine& engine, std::string_view id) {
  absl::StatusOr<std::optional<std::string>> v = engine.GetAux(kIngestJobsNamespace, id);
  if (!v.ok()) return v.status();
  if (!v->has_value()) return JobNotFound(id);
  return JobFromJson(**v);
}

absl::StatusOr<std::vector<IngestJob>> ListJobs(const index::Engine& engine) {
  std::vector<IngestJob> jobs;
  absl::Status s =
      engine.ScanAux(kIngestJobsNamespace, "", [&jobs](std::string_view, std::string_view value) {
        absl::StatusOr<IngestJob> job = JobFromJson(value);
        if (job.ok()) jobs.push_back(*std::move(job));
        return true;
      });
  if (!s.ok()) return s;
  return jobs;
}

absl::StatusOr<size_t> MarkInterruptedJobs(index::Engine& engine) {
  absl::StatusOr<std::vector<IngestJob>> jobs = ListJobs(engine);
  if (!jobs.ok()) return jobs.status();
  size_t marked = 0;
  for (IngestJob& job : *jobs) {
    if (job.state != JobState::kRunning) continue;
    job.state = JobState::kInterrupted;
    if (absl::Status s = SaveJob(engine, job); !s.ok()) return s;
    ++marked;
  }
  return marked;
}

}  // namespace ragd::ingest
