#include "cli/ragctl_ingest.h"

#include <fnmatch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "cli/cli_json.h"
#include "cli/cli_output.h"
#include "cli/ragctl_channel.h"
#include "common/document_format.h"
#include "common/ids.h"

namespace ragd::cli {
namespace fs = std::filesystem;
namespace {

struct InputFile {
  fs::path path;
  std::string id;  // relative to its argument, '/'-separated
};

bool Hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.' && name != "." && name != "..";
}

bool Matches(const std::vector<std::string>& globs, const std::string& rel,
             const std::string& name) {
  for (const std::string& g : globs) {
    if (fnmatch(g.c_str(), rel.c_str(), 0) == 0 || fnmatch(g.c_str(), name.c_str(), 0) == 0) {
      return true;
    }
  }
  return false;
}

// Files under `paths`, in a stable order (sorted per argument), filtered by the globs.
absl::StatusOr<std::vector<InputFile>> CollectFiles(const IngestOptions& o) {
  std::vector<InputFile> files;
  auto consider = [&](const fs::path& path, const std::string& rel) {
    const std::string name = path.filename().string();
    if (!o.include.empty() && !Matches(o.include, rel, name)) return;
    if (Matches(o.exclude, rel, name)) return;
    files.push_back({path, rel});
  };
  for (const std::string& arg : o.paths) {
    std::error_code ec;
    fs::path root(arg);
    if (fs::is_regular_file(root, ec)) {
      consider(root, root.filename().string());
      continue;
    }
    if (!fs::is_directory(root, ec)) {
      return absl::InvalidArgumentError(absl::StrCat(arg, ": no such file or directory"));
    }
    std::vector<InputFile> found;
    const size_t before = files.size();
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat(arg, ": ", ec.message()));
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) return absl::InvalidArgumentError(absl::StrCat(arg, ": ", ec.message()));
      if (Hidden(it->path())) {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      // Regular files and symlinks to them (ConfigMap keys are symlinks into ..data).
      if (!it->is_regular_file(ec)) continue;
      consider(it->path(), fs::relative(it->path(), root, ec).generic_string());
    }
    std::sort(files.begin() + static_cast<std::ptrdiff_t>(before), files.end(),
              [](const InputFile& a, const InputFile& b) { return a.id < b.id; });
  }
  return files;
}

absl::StatusOr<std::string> ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(path.string(), ": cannot open"));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string Duration(double seconds) {
  if (seconds < 0 || seconds > 360000) return "--";
  const int s = static_cast<int>(seconds + 0.5);
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

// Reports the job's progress while the stream runs, from GetIngestJob polls (the server
// persists progress a few times a second).
class ProgressReporter {
 public:
  ProgressReporter(v1::Ingest::Stub* stub, std::string job_id, size_t total_files, bool tty,
                   std::ostream& err)
      : stub_(stub),
        job_id_(std::move(job_id)),
        total_(total_files),
        tty_(tty),
        err_(err),
        start_(std::chrono::steady_clock::now()) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~ProgressReporter() { Stop(); }

  void FileSent() { sent_.fetch_add(1, std::memory_order_relaxed); }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    // A last redraw, so that the bar ends at the final counts even for a job shorter than one
    // refresh interval.
    if (tty_) Report();
    if (tty_ && drawn_) err_ << "\n";
  }

 private:
  void Loop() {
    const auto interval = tty_ ? std::chrono::milliseconds(500) : std::chrono::seconds(2);
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, interval, [this] { return stop_; })) {
      lock.unlock();
      Report();
      lock.lock();
    }
  }

  void Report() {
    v1::GetIngestJobRequest request;
    request.set_job_id(job_id_);
    v1::IngestJob job;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!stub_->GetIngestJob(&context, request, &job).ok()) return;  // not started yet
    const uint64_t done = job.documents_ok() + job.documents_skipped() + job.documents_failed();
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(job.chunks()) / elapsed : 0;
    const double eta =
        done > 0 ? elapsed * static_cast<double>(total_ - std::min<uint64_t>(done, total_)) /
                       static_cast<double>(done)
                 : -1;
    const std::string counts = absl::StrFormat(
        "files %d/%d (sent %d, failed %d)  chunks %d  tokens %d  %.0f chunks/s  ETA %s", done,
        total_, sent_.load(), job.documents_failed(), job.chunks(), job.tokens(), rate,
        Duration(eta));
    if (tty_) {
      constexpr int kWidth = 24;
      const int filled = total_ == 0
                             ? kWidth
                             : static_cast<int>(kWidth * std::min<uint64_t>(done, total_) / total_);
      err_ << "\r[" << std::string(filled, '#') << std::string(kWidth - filled, '.') << "] "
           << counts << "\x1b[K" << std::flush;
      drawn_ = true;
    } else {
      err_ << "progress: " << counts << "\n" << std::flush;
    }
  }

  v1::Ingest::Stub* stub_;
  const std::string job_id_;
  const uint64_t total_;
  const bool tty_;
  std::ostream& err_;
  const std::chrono::steady_clock::time_point start_;
  std::atomic<uint64_t> sent_{0};
  bool drawn_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

IngestCommands::IngestCommands(GlobalOptions options, std::ostream& out, std::ostream& err)
    : options_(std::move(options)), out_(out), err_(err) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(512 << 20);
  args.SetMaxSendMessageSize(512 << 20);
  stub_ = v1::Ingest::NewStub(CreateRagdChannel(options_, args));
}

int IngestCommands::Fail(const grpc::Status& status) {
  err_ << "ragctl: " << StatusCodeName(status.error_code()) << ": "
       << OneLine(status.error_message(), 1000) << "\n";
  return ExitCodeFor(status.error_code());
}

int IngestCommands::Ingest(const IngestOptions& o) {
  if (!o.format.empty()) {
    if (absl::Status s = FormatByName(o.format).status(); !s.ok()) {
      err_ << "ragctl: --format: " << std::string(s.message()) << "\n";
      return kExitUsage;
    }
  }
  absl::StatusOr<std::vector<InputFile>> collected = CollectFiles(o);
  if (!collected.ok()) {
    err_ << "ragctl: " << std::string(collected.status().message()) << "\n";
    return kExitUsage;
  }
  std::vector<InputFile> files;
  std::vector<std::string> unsupported;
  for (InputFile& f : *collected) {
    if (o.format.empty() && !FormatForPath(f.path).ok()) {
      unsupported.push_back(f.id);
    } else {
      files.push_back(std::move(f));
    }
  }
  const std::string job_id = o.job_id.empty() ? NewJobId() : o.job_id;

  grpc::ClientContext context;  // no deadline: a bulk ingestion takes as long as it takes
  v1::IngestSummary summary;
  std::unique_ptr<grpc::ClientWriter<v1::IngestDocumentsRequest>> writer =
      stub_->IngestDocuments(&context, &summary);
  ProgressReporter progress(stub_.get(), job_id, files.size(), o.progress_tty, err_);
  bool first = true;
  for (const InputFile& f : files) {
    v1::IngestDocumentsRequest request;
    if (first) {
      request.set_collection(o.collection);
      request.set_job_id(job_id);
      first = false;
    }
    v1::Document* doc = request.mutable_document();
    doc->set_id(f.id);
    doc->set_name(f.id);
    doc->set_format(o.format);
    absl::StatusOr<std::string> content = ReadAll(f.path);
    // An unreadable file is sent without a body, so that the server lists it as failed.
    if (content.ok()) doc->set_content(*std::move(content));
    // Write blocks while the server's pipeline is full (flow control): the backpressure.
    if (!writer->Write(request)) break;  // the server ended the call; Finish says why
    progress.FileSent();
  }
  if (first) {  // nothing to send: still open (and close) the job, so that it is recorded
    v1::IngestDocumentsRequest request;
    request.set_collection(o.collection);
    request.set_job_id(job_id);
    writer->Write(request);
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  progress.Stop();
  if (status.error_code() == grpc::StatusCode::NOT_FOUND &&
      absl::StartsWith(status.error_message(), "collection \"")) {
    // Ingest never creates a collection (its dimension, embedder and chunking are choices):
    // say which command does, as a first-time user's next step. (Other NOT_FOUNDs, such as a
    // bound embedder missing from the configuration, say what to fix themselves.)
    const int code = Fail(status);
    err_ << "ragctl: create it first: ragctl collections create " << o.collection
         << " (the local embedder unless --embedder names a configured one)\n";
    return code;
  }
  if (!status.ok()) return Fail(status);
  // The summary lists ok results (up to ingest.max_summary_results): the latest write's
  // sequence is the token of a later SESSION read.
  uint64_t last_sequence = 0;
  for (const v1::DocumentResult& r : summary.results()) {
    last_sequence = std::max<uint64_t>(last_sequence, r.sequence());
  }
  RememberWrite(options_, o.collection, last_sequence);

  if (options_.json) {
    out_ << ProtoJsonLine(summary, /*with_defaults=*/true) << "\n";
  } else {
    const bool remote = summary.embedder_provider() != "local";
    const double cost = remote ? static_cast<double>(summary.embedded_tokens()) / 1000.0 *
                                     kEmbeddingPricePer1kTokens
                               : 0.0;
    out_ << "job " << summary.job_id() << " → collection " << summary.collection() << " ("
         << summary.embedder_provider() << " " << summary.embedder_model() << ")\n";
    out_ << absl::StrFormat(
        "documents: %d ok, %d skipped (unchanged), %d failed; files: %d sent, %d unsupported\n",
        summary.documents_ok(), summary.documents_skipped(), summary.documents_failed(),
        files.size(), unsupported.size());
    out_ << absl::StrFormat("chunks: %d (%d tokens); embedded %d chunks, %d tokens; cached %d\n",
                            summary.chunks(), summary.tokens(), summary.embedded_chunks(),
                            summary.embedded_tokens(), summary.cached_chunks());
    out_ << absl::StrFormat("embedding requests: %d (retries %d); estimated cost: $%.4f%s\n",
                            summary.embedding_requests(), summary.embedding_retries(), cost,
                            remote ? " (ada-002 list price)" : " (local embedder)");
  }
  if (!unsupported.empty()) {
    err_ << "skipped " << unsupported.size()
         << " file(s) with no known format (use --format or --include): "
         << absl::StrJoin(unsupported.begin(),
                          unsupported.begin() + std::min<size_t>(unsupported.size(), 20), ", ")
         << (unsupported.size() > 20 ? ", ..." : "") << "\n";
  }
  if (summary.documents_failed() > 0) {
    err_ << "failed documents:\n";
    for (const v1::DocumentResult& r : summary.results()) {
      if (r.status() == v1::DOCUMENT_STATUS_FAILED) {
        err_ << "  " << r.document_id() << ": " << OneLine(r.reason(), 500) << "\n";
      }
    }
    return 1;
  }
  return 0;
}

int IngestCommands::GetDocument(const std::string& collection, const std::string& document_id) {
  v1::GetDocumentRequest request;
  request.set_collection(collection);
  request.set_document_id(document_id);
  v1::GetDocumentResponse response;
  grpc::ClientContext context;
  context.set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(options_.timeout_seconds * 1000)));
  grpc::Status status = stub_->GetDocument(&context, request, &response);
  if (!status.ok()) return Fail(status);
  if (options_.json) {
    out_ << ProtoJsonLine(response, /*with_defaults=*/true) << "\n";
    return 0;
  }
  out_ << "document " << response.document_id() << ": " << response.title() << " ("
       << response.chunks_size() << " chunks, content hash " << response.content_hash() << ")\n";
  Table table({"ID", "TOKENS", "BYTES", "PAGE", "HEADING", "TEXT"});
  for (const v1::Point& p : response.chunks()) {
    auto meta = [&](const std::string& key) -> std::string {
      auto it = p.metadata().find(key);
      if (it == p.metadata().end()) return "";
      if (it->second.has_list_value())
        return absl::StrJoin(it->second.list_value().values(), " > ");
      if (it->second.has_string_value()) return it->second.string_value();
      return ToJson(it->second).dump();
    };
    table.AddRow({p.id(), meta("token_count"),
                  absl::StrCat(meta("byte_begin"), "-", meta("byte_end")), meta("page"),
                  OneLine(meta("heading_path"), 40), OneLine(p.text(), 50)});
  }
  table.Print(out_, options_.tty);
  return 0;
}

int IngestCommands::DeleteDocument(const std::string& collection, const std::string& document_id) {
  v1::DeleteDocumentRequest request;
  request.set_collection(collection);
  request.set_document_id(document_id);
  v1::DeleteDocumentResponse response;
  grpc::ClientContext context;
  context.set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(options_.timeout_seconds * 1000)));
  grpc::Status status = stub_->DeleteDocument(&context, request, &response);
  if (!status.ok()) return Fail(status);
  // The removal's sequence is the token of a later SESSION read, as for every other write.
  RememberWrite(options_, collection, response.sequence());
  if (options_.json) {
    out_ << ProtoJsonLine(response, /*with_defaults=*/true) << "\n";
  } else {
    out_ << "deleted " << response.deleted_chunks() << " chunks of " << document_id << "\n";
  }
  return 0;
}

int IngestCommands::GetJob(const std::string& job_id) {
  v1::GetIngestJobRequest request;
  request.set_job_id(job_id);
  v1::IngestJob job;
  grpc::ClientContext context;
  context.set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(options_.timeout_seconds * 1000)));
  grpc::Status status = stub_->GetIngestJob(&context, request, &job);
  if (!status.ok()) return Fail(status);
  if (options_.json) {
    out_ << ProtoJsonLine(job, /*with_defaults=*/true) << "\n";
    return 0;
  }
  std::string state = v1::JobState_Name(job.state());
  if (state.rfind("JOB_STATE_", 0) == 0) state = state.substr(10);
  Table table({"FIELD", "VALUE"});
  table.AddRow({"job", job.job_id()});
  table.AddRow({"collection", job.collection()});
  table.AddRow({"state", absl::AsciiStrToLower(state)});
  table.AddRow({"documents_ok", absl::StrCat(job.documents_ok())});
  table.AddRow({"documents_skipped", absl::StrCat(job.documents_skipped())});
  table.AddRow({"documents_failed", absl::StrCat(job.documents_failed())});
  table.AddRow({"chunks", absl::StrCat(job.chunks())});
  table.AddRow({"tokens", absl::StrCat(job.tokens())});
  table.AddRow({"embedded_tokens", absl::StrCat(job.embedded_tokens())});
  table.AddRow({"cached_chunks", absl::StrCat(job.cached_chunks())});
  table.Print(out_, options_.tty);
  for (const v1::JobFailure& f : job.failures()) {
    out_ << "failed: " << f.document_id() << ": " << OneLine(f.reason(), 500) << "\n";
  }
  return 0;
}

int CountTokens(const GlobalOptions& options, const std::vector<std::string>& files,
                const std::string& encoding, bool ids, std::ostream& out, std::ostream& err) {
  if (encoding != "cl100k_base" && encoding != "o200k_base") {
    err << "ragctl: --encoding: expected cl100k_base or o200k_base, got \"" << encoding << "\"\n";
    return kExitUsage;
  }
  v1::CountTokensRequest request;
  request.set_encoding(encoding);
  request.set_with_ids(ids);
  for (const std::string& file : files) {
    if (file == "-") {
      request.add_texts()->assign(std::istreambuf_iterator<char>(std::cin),
                                  std::istreambuf_iterator<char>());
      continue;
    }
    absl::StatusOr<std::string> read = ReadAll(file);
    if (!read.ok()) {
      err << "ragctl: " << std::string(read.status().message()) << "\n";
      return kExitUsage;
    }
    request.add_texts(*std::move(read));
  }
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(80 << 20);
  args.SetMaxReceiveMessageSize(512 << 20);
  std::unique_ptr<v1::Retrieval::Stub> stub =
      v1::Retrieval::NewStub(CreateRagdChannel(options, args));
  grpc::ClientContext context;
  context.set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(options.timeout_seconds * 1000)));
  v1::CountTokensResponse response;
  grpc::Status status = stub->CountTokens(&context, request, &response);
  if (!status.ok()) {
    err << "ragctl: " << StatusCodeName(status.error_code()) << ": "
        << OneLine(status.error_message(), 1000) << "\n";
    return ExitCodeFor(status.error_code());
  }
  if (response.counts_size() != static_cast<int>(files.size())) {
    err << "ragctl: INTERNAL: ragd returned " << response.counts_size() << " counts for "
        << files.size() << " files\n";
    return 1;
  }
  uint64_t total = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    const v1::TokenCount& count = response.counts(static_cast<int>(i));
    if (ids) {
      out << files[i] << "\t" << absl::StrJoin(count.ids(), " ") << "\n";
    } else {
      total += count.tokens();
      out << count.tokens() << "\t" << files[i] << "\n";
    }
  }
  if (!ids && files.size() > 1) out << total << "\ttotal\n";
  return 0;
}

}  // namespace ragd::cli
