// The playground's ingest jobs (playground_internal.h, README "Playground"): the files of one
// drop, sent in one multipart/form-data request, become one ingest job, run by the same
// ingest::Ingestor session as ragd.v1.Ingest/IngestDocuments (the job record GetIngestJob and
// `ragctl jobs get` read, the per-document locks, the embedding cache), with each file's
// result streamed back as NDJSON as its documents finish.
//
// Why one multipart request rather than one request per file under a job id: the job's life is
// the request's. Nothing is left half-open on the server when a browser tab closes between two
// files (no idle-job timeout, no job table shared across requests), the files arrive in one
// body whose size cpp-httplib bounds before the handler runs (server.http_max_body_bytes, 413),
// and the browser builds the body natively (FormData), with upload progress from
// XMLHttpRequest. The cost is that the whole drop is in memory at once, which that bound caps.

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/utf8.h"
#include "ingest/job.h"
#include "ingest/loaders/document_loader.h"
#include "services/http/playground_internal.h"
#include "services/http/routes_internal.h"

namespace ragd::services::http_internal {
namespace {

// Files in one drop. A folder of thousands belongs to `ragctl ingest`, which streams them.
constexpr size_t kMaxFilesPerJob = 1000;
constexpr size_t kMaxFileNameBytes = 512;
// The ada-002 list price, USD per 1,000 tokens: the cost estimate `ragctl ingest` prints
// (cli/ragctl_ingest.h, kEmbeddingPricePer1kTokens), so both edges report the same figure.
// The local embedder costs nothing.
constexpr double kEmbeddingPricePer1kTokens = 0.0001;
// How long the response writer waits for a result before checking that the client is still
// there (a poll, not a deadline: the job may take as long as its documents need).
constexpr auto kPollInterval = std::chrono::milliseconds(200);

// Jobs started through this front and running now, bounded by HttpFrontResources::
// max_ingest_jobs (ingest.max_streams, the bound of IngestDocuments streams).
std::atomic<size_t> running_jobs{0};

const char* JobStateWireName(ingest::JobState state) {
  // The names of ragd.v1.JobState, so that this record reads as GetIngestJob's (and as
  // `ragctl --json jobs get` prints it).
  switch (state) {
    case ingest::JobState::kRunning:
      return "JOB_STATE_RUNNING";
    case ingest::JobState::kCompleted:
      return "JOB_STATE_COMPLETED";
    case ingest::JobState::kInterrupted:
      return "JOB_STATE_INTERRUPTED";
  }
  return "JOB_STATE_UNSPECIFIED";
}

struct DropFile {
  std::string name;
  std::string content;
};

// One job's state, shared by the request handler, the thread that feeds the session and the
// response writer (cpp-httplib's content provider, on the HTTP thread).
class DropJob {
 public:
  DropJob(std::string collection, rag::IngestorCache::Bound bound, std::vector<DropFile> files)
      : collection_(std::move(collection)), bound_(std::move(bound)), files_(std::move(files)) {
    per_file_.resize(files_.size());
  }

  ~DropJob() {
    Cancel();
    if (feeder_.joinable()) feeder_.join();
    --running_jobs;
  }

  absl::Status Start() {
    ingest::Ingestor::SessionOptions options;
    options.job_id = ingest::NewJobId();
    options.on_document = [this](const ingest::DocumentResult& r) { OnDocument(r); };
    ASSIGN_OR_RETURN(session_, bound_.ingestor->StartSession(collection_, std::move(options)));
    start_ = std::chrono::steady_clock::now();
    Json files = Json::array();
    for (const DropFile& f : files_) files.push_back({{"name", f.name}, {"bytes", f.content.size()}});
    std::lock_guard<std::mutex> lock(mu_);
    Push({{"object", "ingest.job"},
          {"job_id", session_->id()},
          {"collection", collection_},
          {"state", "JOB_STATE_RUNNING"},
          {"files", std::move(files)}});
    // Started under mu_ only so that the first line is in place; the feeder takes mu_ itself.
    feeder_ = std::thread([this] { Feed(); });
    return absl::OkStatus();
  }

  // The response writer: waits (bounded by kPollInterval) for lines and hands them over;
  // `ended` after the last one.
  void Take(std::vector<std::string>* lines, bool* ended) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, kPollInterval, [this] { return !lines_.empty() || finished_; });
    while (!lines_.empty()) {
      lines->push_back(std::move(lines_.front()));
      lines_.pop_front();
    }
    *ended = finished_;
  }

  // The client went away: files not yet queued are not loaded; documents already queued are
  // finished (durable work) and the job record completes with what was done.
  void Cancel() {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
  }

 private:
  struct FileProgress {
    size_t expected = 0;  // documents queued or failed so far
    size_t reported = 0;  // results received
    bool loaded = false;  // every document of the file has been queued or failed
    bool sent = false;
    Json documents = Json::array();
    uint64_t chunks = 0, tokens = 0, failed = 0;
  };

  void Push(const Json& line) { lines_.push_back(absl::StrCat(Dump(line), "\n")); }

  bool cancelled() {
    std::lock_guard<std::mutex> lock(mu_);
    return cancelled_;
  }

  // Registers a document of file `i` before it reaches the session, so that its result (which
  // may come back at once, from a worker) is counted against the file.
  void Expect(size_t i, const std::string& document_id) {
    std::lock_guard<std::mutex> lock(mu_);
    file_of_[document_id] = i;
    ++per_file_[i].expected;
  }

  void Loaded(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    per_file_[i].loaded = true;
    MaybeSendFile(i);
  }

  // Called by the session's workers (and by AddFailure's caller, the feeder).
  void OnDocument(const ingest::DocumentResult& r) {
    std::lock_guard<std::mutex> lock(mu_);
    embedding_requests_ += r.embedding_requests;
    embedding_retries_ += r.embedding_retries;
    auto it = file_of_.find(r.document_id);
    if (it == file_of_.end()) return;  // not expected: every Add/AddFailure is registered first
    FileProgress& f = per_file_[it->second];
    ++f.reported;
    Json d = {{"id", r.document_id},
              {"outcome", std::string(ingest::DocumentOutcomeName(r.outcome))},
              {"chunks", r.chunks},
              {"tokens", r.tokens},
              {"embedded_chunks", r.embedded_chunks},
              {"cached_chunks", r.cached_chunks}};
    if (!r.status.ok()) d["error"] = std::string(r.status.message());
    f.chunks += r.chunks;
    f.tokens += r.tokens;
    if (r.outcome == ingest::DocumentOutcome::kFailed) ++f.failed;
    f.documents.push_back(std::move(d));
    MaybeSendFile(it->second);
  }

  // Under mu_: the file's line, once each of its documents has a result (or, `force`, when the
  // job has finished: two documents of one drop with the same id count as one result).
  void MaybeSendFile(size_t i, bool force = false) {
    FileProgress& f = per_file_[i];
    if (f.sent || (!force && (!f.loaded || f.reported < f.expected))) return;
    f.sent = true;
    Push({{"object", "ingest.file"},
          {"index", i},
          {"file", files_[i].name},
          {"bytes", files_[i].content.size()},
          {"documents", std::move(f.documents)},
          {"chunks", f.chunks},
          {"tokens", f.tokens},
          {"failed", f.failed}});
    cv_.notify_all();
  }

  // The feeder thread: loads each file with its extension's loader and queues its documents
  // (blocking while the session's queue is full), then finishes the job.
  void Feed() {
    for (size_t i = 0; i < files_.size() && !cancelled(); ++i) {
      const DropFile& file = files_[i];
      absl::StatusOr<Format> format = FormatForPath(std::filesystem::path(file.name));
      if (!format.ok()) {
        Expect(i, file.name);
        session_->AddFailure(file.name, format.status());
      } else {
        ingest::SourceInfo source{file.name, file.name};
        std::vector<absl::StatusOr<ingest::Document>> docs =
            ingest::LoadWithOverlay(*format, file.content, source, "", {});
        for (size_t d = 0; d < docs.size(); ++d) {
          if (!docs[d].ok()) {
            const std::string label =
                docs.size() == 1 ? file.name : absl::StrCat(file.name, "[", d, "]");
            Expect(i, label);
            session_->AddFailure(label, docs[d].status());
            continue;
          }
          const std::string id = docs[d]->id;
          Expect(i, id);
          if (absl::Status s = session_->Add(*std::move(docs[d])); !s.ok()) {
            session_->AddFailure(id, s);
          }
        }
      }
      Loaded(i);
    }
    absl::StatusOr<ingest::IngestJob> job = session_->Finish();
    std::lock_guard<std::mutex> lock(mu_);
    // Every file that was loaded has its line before the summary (a cancelled job's unread
    // files have none).
    for (size_t i = 0; i < files_.size(); ++i) {
      if (per_file_[i].loaded) MaybeSendFile(i, /*force=*/true);
    }
    if (!job.ok()) {
      // The status line is long gone: the error is the stream's last line.
      Json e = Json::parse(ErrorBody(job.status()), nullptr, /*allow_exceptions=*/false);
      Push({{"object", "error"}, {"error", e.is_object() ? e["error"] : Json()}});
    } else {
      const bool remote = bound_.binding.embedder.provider != "local";
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      Json summary = IngestJobJson(*job);
      summary["object"] = "ingest.summary";
      summary["files"] = files_.size();
      summary["embedding_requests"] = embedding_requests_;
      summary["embedding_retries"] = embedding_retries_;
      summary["embedder_provider"] = bound_.binding.embedder.provider;
      summary["embedder_model"] = bound_.binding.embedder.model;
      summary["cost_usd"] = remote ? static_cast<double>(job->embedded_tokens) / 1000.0 *
                                         kEmbeddingPricePer1kTokens
                                   : 0.0;
      summary["seconds"] = seconds;
      if (cancelled_) summary["cancelled"] = true;
      Push(summary);
    }
    finished_ = true;
    cv_.notify_all();
  }

  const std::string collection_;
  const rag::IngestorCache::Bound bound_;
  const std::vector<DropFile> files_;
  std::unique_ptr<ingest::IngestSession> session_;
  std::chrono::steady_clock::time_point start_;
  std::thread feeder_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> lines_;
  std::vector<FileProgress> per_file_;
  std::map<std::string, size_t> file_of_;  // document id -> file index
  uint64_t embedding_requests_ = 0;
  uint64_t embedding_retries_ = 0;
  bool cancelled_ = false;
  bool finished_ = false;
};

// A 413 in OpenAI's error JSON (absl has no code for "too large"; INVALID_ARGUMENT's body with
// the status HTTP gives it).
void SendTooLarge(httplib::Response& res, const std::string& message) {
  SendError(res, absl::InvalidArgumentError(message));
  res.status = 413;
}

// POST /v1/ragd/collections/{c}/ingest-jobs
void HandleStartJob(const HttpFrontResources& r, const std::atomic<bool>* stopping,
                    const httplib::Request& req, httplib::Response& res) {
  const std::string collection = req.matches[1];
  std::vector<DropFile> files;
  absl::Status s = [&]() -> absl::Status {
    RETURN_IF_ERROR(Admit(r, req, Method::kIngestDocuments, collection));
    if (!r.uploads_disabled_reason.empty()) {
      return absl::UnimplementedError(r.uploads_disabled_reason);
    }
    if (!req.is_multipart_form_data()) {
      return absl::InvalidArgumentError(
          "request body: send the files as multipart/form-data, one part per file with its "
          "filename (the extension picks the loader)");
    }
    for (const auto& [field, part] : req.files) {
      if (part.filename.empty()) continue;  // a plain form field: not a file
      if (files.size() == kMaxFilesPerJob) {
        return absl::InvalidArgumentError(absl::StrCat(
            "files: at most ", kMaxFilesPerJob, " per job; use `ragctl ingest` for more"));
      }
      if (!IsValidUtf8(part.filename) || part.filename.size() > kMaxFileNameBytes) {
        return absl::InvalidArgumentError(absl::StrCat(
            "files: a file's name must be 1 to ", kMaxFileNameBytes, " bytes of UTF-8"));
      }
      files.push_back({part.filename, part.content});
    }
    if (files.empty()) {
      return absl::InvalidArgumentError(
          "files: no file in the form (each part needs a filename, e.g. FormData.append('file', "
          "blob, 'notes.md'))");
    }
    return absl::OkStatus();
  }();
  if (!s.ok()) return SendError(res, s);
  // Too large is refused before anything is ingested, so that a drop is all or nothing in
  // this respect (a loader error, by contrast, is one failed document of the job).
  for (const DropFile& f : files) {
    if (f.content.size() > r.max_document_bytes) {
      return SendTooLarge(res, absl::StrCat("file ", EchoPrefix(f.name), ": ", f.content.size(),
                                            " bytes, more than ", r.max_document_bytes,
                                            " (ingest.max_document_bytes)"));
    }
  }
  absl::StatusOr<std::shared_ptr<DropJob>> job = [&]() -> absl::StatusOr<std::shared_ptr<DropJob>> {
    if (r.engine == nullptr || r.ingestors == nullptr) {
      return absl::UnavailableError("the playground API is not enabled");
    }
    ASSIGN_OR_RETURN(index::Engine * engine, r.engine->Get());
    ASSIGN_OR_RETURN(rag::IngestorCache::Bound bound, r.ingestors->For(engine, collection));
    if (++running_jobs > r.max_ingest_jobs) {
      --running_jobs;
      return absl::ResourceExhaustedError(absl::StrCat(
          "ingest.max_streams (", r.max_ingest_jobs, ") ingest jobs are running here; retry later"));
    }
    // From here the DropJob owns the slot (its destructor gives it back).
    auto j = std::make_shared<DropJob>(collection, std::move(bound), std::move(files));
    RETURN_IF_ERROR(j->Start());
    return j;
  }();
  if (!job.ok()) return SendError(res, job.status());

  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  // Not buffered by proxies that honour it (nginx), so that per-file lines arrive as they come.
  res.set_header("X-Accel-Buffering", "no");
  std::shared_ptr<DropJob> j = *job;
  res.set_chunked_content_provider(
      "application/x-ndjson",
      [j, stopping](size_t, httplib::DataSink& sink) -> bool {
        // The server is stopping: queue no more files, finish the queued documents and send
        // the summary (the job is bounded by the session's queue), as a client's hang-up does.
        if (stopping->load()) j->Cancel();
        std::vector<std::string> lines;
        bool ended = false;
        j->Take(&lines, &ended);
        for (const std::string& line : lines) {
          if (!sink.write(line.data(), line.size())) {
            j->Cancel();
            return false;
          }
        }
        if (ended) {
          sink.done();
          return true;
        }
        if (!sink.is_writable()) {
          j->Cancel();
          return false;
        }
        return true;
      },
      [j](bool success) {
        if (!success) j->Cancel();
      });
}

// GET /v1/ragd/ingest-jobs/{id}
void HandleGetJob(const HttpFrontResources& r, const httplib::Request& req,
                  httplib::Response& res) {
  const std::string id = req.matches[1];
  absl::Status s = [&]() -> absl::Status {
    RETURN_IF_ERROR(Admit(r, req, Method::kGetIngestJob, ""));
    if (r.engine == nullptr) return absl::UnavailableError("the playground API is not enabled");
    ASSIGN_OR_RETURN(index::Engine * engine, r.engine->Get());
    // As GetIngestJob: an id no job can have is simply not found, and so is a job of a
    // collection outside the key's scope (word for word: no tenant learns that another's job
    // exists).
    if (!ingest::ValidateJobId(id).ok()) return ingest::JobNotFound(id);
    ASSIGN_OR_RETURN(ingest::IngestJob job, ingest::LoadJob(*engine, id));
    const std::string scope = job.collection.empty() ? "/" : job.collection;
    if (!InScope(r, req, Method::kGetIngestJob, scope).ok()) return ingest::JobNotFound(id);
    Json out = IngestJobJson(job);
    out["object"] = "ingest.job";
    SendJson(res, out);
    return absl::OkStatus();
  }();
  if (!s.ok()) SendError(res, s);
}

}  // namespace

Json IngestJobJson(const ingest::IngestJob& job) {
  Json failures = Json::array();
  for (const ingest::JobFailure& f : job.failures) {
    failures.push_back({{"document_id", f.document_id}, {"reason", f.message}});
  }
  return {{"job_id", job.id},
          {"collection", job.collection},
          {"state", JobStateWireName(job.state)},
          {"documents_ok", job.documents_ok},
          {"documents_skipped", job.documents_skipped},
          {"documents_failed", job.documents_failed},
          {"chunks", job.chunks},
          {"tokens", job.tokens},
          {"cached_chunks", job.cached_chunks},
          {"embedded_chunks", job.embedded_chunks},
          {"embedded_tokens", job.embedded_tokens},
          {"failures", std::move(failures)},
          {"failures_dropped", job.failures_dropped},
          {"started_unix_ms", job.started_unix_ms},
          {"updated_unix_ms", job.updated_unix_ms},
          {"finished_unix_ms", job.finished_unix_ms}};
}

void AddIngestJobRoutes(httplib::Server& server, const HttpFrontResources* resources,
                        const std::atomic<bool>* stopping) {
  const HttpFrontResources* r = resources;
  server.Post("/v1/ragd/collections/([^/]+)/ingest-jobs",
              [r, stopping](const httplib::Request& req, httplib::Response& res) {
                HandleStartJob(*r, stopping, req, res);
              });
  server.Get("/v1/ragd/ingest-jobs/([^/]+)",
             [r](const httplib::Request& req, httplib::Response& res) {
               HandleGetJob(*r, req, res);
             });
}

}  // namespace ragd::services::http_internal
