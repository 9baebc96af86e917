// ingest_bench: bulk ingestion of real HTML (Debian's python3.11-doc) through the real ragd over
// gRPC (ragd.v1.Ingest/IngestDocuments, one client stream), in two phases on one ragd process:
//   local   the built-in local embedder: documents/s, chunks/s, tokens/s, ragd CPU seconds per
//           1,000 chunks (target: >= 1,000 chunks/s end to end on 2 cores);
//   remote  an azure-openai embedder pointed at the fake embeddings server on 127.0.0.1 with a
//           fixed latency per request and a tokens-per-minute quota in ragd's embedder config:
//           the share of the quota used (target: >= 90%).
// Issue #3's benchmark; see bench/README.md for definitions.
//
// Output: JSON lines (stdout and --out). Progress goes to stderr.

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <grpcpp/grpcpp.h>

#include "bench/bench_util.h"
#include "ragd/v1/collections.grpc.pb.h"
#include "ragd/v1/ingest.grpc.pb.h"
#include "tests/testing/fake_openai_server.h"
#include "tests/testing/ragd_process.h"
#include "tests/testing/temp_dir.h"

#ifndef RAGD_BENCH_SOURCE_DIR
#define RAGD_BENCH_SOURCE_DIR "."
#endif

namespace ragd::bench {
namespace {

constexpr double kLocalChunksPerSecondTarget = 1000;
constexpr double kQuotaShareTarget = 0.9;
constexpr char kRemoteEmbedder[] = "fake-ada";

void Log(const std::string& message) { std::cerr << "ingest_bench: " << message << std::endl; }

struct Options {
  std::string html_dir = "/usr/share/doc/python3.11/html";
  size_t max_docs = 2000;
  double max_seconds = 60;    // per phase: no document is sent after this
  double drain_seconds = 60;  // then at most this long for the queued documents
  bool skip_local = false;
  bool skip_remote = false;
  int latency_ms = 50;
  uint64_t tokens_per_minute = 1000000;
  uint64_t burst_ms = 10000;  // ragd's default rate_limit_burst_ms, stated explicitly
  int max_concurrency = 4;    // ragd's default embedder max_concurrency
  int ingest_workers = 0;     // 0: ragd's default ingest.workers
};

struct Doc {
  std::string id;  // path relative to the HTML root
  std::string bytes;
};

std::chrono::system_clock::time_point Deadline(double seconds) {
  return std::chrono::system_clock::now() +
         std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

bool CreateCollection(const std::shared_ptr<grpc::Channel>& channel, const std::string& name,
                      const std::string& embedder, std::string* error) {
  auto stub = ragd::v1::Collections::NewStub(channel);
  ragd::v1::CreateCollectionRequest req;
  req.set_name(name);
  req.set_dimension(1536);
  req.mutable_embedder()->set_name(embedder);
  ragd::v1::CreateCollectionResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(60));
  grpc::Status s = stub->CreateCollection(&ctx, req, &resp);
  if (!s.ok()) *error = "CreateCollection " + name + ": " + s.error_message();
  return s.ok();
}

struct PhaseResult {
  bool ok = false;
  std::string error;
  ragd::v1::IngestSummary summary;  // from GetIngestJob when the stream was cut at the limit
  size_t documents_sent = 0;
  size_t bytes_sent = 0;
  Clock::time_point start;     // of the stream
  double seconds = 0;          // first Write to Finish
  double send_seconds = 0;     // first Write to WritesDone
  double cpu_seconds = 0;      // ragd's utime + stime over `seconds`
  bool time_bound = false;     // stopped sending at max_seconds (documents left)
  bool cut = false;            // cancelled at max_seconds + drain_seconds
};

// Counts of a job that was cut short, from its persisted record.
bool ReadJob(const std::shared_ptr<grpc::Channel>& channel, const std::string& job_id,
             ragd::v1::IngestSummary* summary, std::string* error) {
  auto stub = ragd::v1::Ingest::NewStub(channel);
  ragd::v1::GetIngestJobRequest req;
  req.set_job_id(job_id);
  ragd::v1::IngestJob job;
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(30));
  grpc::Status s = stub->GetIngestJob(&ctx, req, &job);
  if (!s.ok()) {
    *error = "GetIngestJob: " + s.error_message();
    return false;
  }
  summary->set_job_id(job.job_id());
  summary->set_documents_ok(job.documents_ok());
  summary->set_documents_skipped(job.documents_skipped());
  summary->set_documents_failed(job.documents_failed());
  summary->set_chunks(job.chunks());
  summary->set_tokens(job.tokens());
  summary->set_cached_chunks(job.cached_chunks());
  summary->set_embedded_chunks(job.embedded_chunks());
  summary->set_embedded_tokens(job.embedded_tokens());
  return true;
}

// Streams `docs` into `collection` until they run out or `max_seconds` have passed, then
// waits for the summary. The documents still queued in ragd then drain; if that takes more
// than `drain_seconds` (a few very large documents under a quota), the call is cancelled and
// the counts come from the job record. ragd's CPU time is read around the whole stream.
PhaseResult RunStream(const std::shared_ptr<grpc::Channel>& channel, int ragd_pid,
                      const std::string& collection, const std::vector<Doc>& docs,
                      double max_seconds, double drain_seconds) {
  PhaseResult r;
  auto stub = ragd::v1::Ingest::NewStub(channel);
  const std::string job_id = "bench-" + collection + "-" + std::to_string(getpid());
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(max_seconds + drain_seconds + 600));
  const double cpu_start = ProcessCpuSeconds(ragd_pid);
  Clock::time_point start = Clock::now();
  r.start = start;
  // Cancels the call at the hard limit: a blocked Write or Finish returns at once.
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::atomic<bool> cut{false};
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lock(mu);
    const auto limit = start + std::chrono::milliseconds(
                                   static_cast<int64_t>((max_seconds + drain_seconds) * 1000));
    if (!cv.wait_until(lock, limit, [&] { return done; })) {
      cut = true;
      ctx.TryCancel();
    }
  });
  std::unique_ptr<grpc::ClientWriter<ragd::v1::IngestDocumentsRequest>> writer =
      stub->IngestDocuments(&ctx, &r.summary);
  ragd::v1::IngestDocumentsRequest req;
  for (const Doc& d : docs) {
    if (SecondsSince(start) >= max_seconds) {
      r.time_bound = true;
      break;
    }
    req.Clear();
    if (r.documents_sent == 0) {
      req.set_collection(collection);
      req.set_job_id(job_id);
    }
    ragd::v1::Document* doc = req.mutable_document();
    doc->set_id(d.id);
    doc->set_name(d.id);
    doc->set_format("html");
    doc->set_content(d.bytes);
    if (!writer->Write(req)) break;  // the server ended the call: Finish says why
    ++r.documents_sent;
    r.bytes_sent += d.bytes.size();
  }
  writer->WritesDone();
  r.send_seconds = SecondsSince(start);
  grpc::Status s = writer->Finish();
  r.seconds = SecondsSince(start);
  r.cpu_seconds = ProcessCpuSeconds(ragd_pid) - cpu_start;
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_all();
  watchdog.join();
  r.cut = cut.load();
  if (r.cut) {
    r.time_bound = true;
    if (!ReadJob(channel, job_id, &r.summary, &r.error)) return r;
    r.ok = true;
    return r;
  }
  if (!s.ok()) {
    r.error = "IngestDocuments: " + std::to_string(s.error_code()) + " " + s.error_message();
    return r;
  }
  r.ok = true;
  return r;
}

nlohmann::json PhaseRecord(const std::string& embedder, const PhaseResult& r) {
  const ragd::v1::IngestSummary& s = r.summary;
  const double secs = std::max(r.seconds, 1e-9);
  return {{"bench", "ingest"},
          {"system", "ragd"},
          {"threads", 1},
          {"embedder", embedder},
          {"transport", "one IngestDocuments stream over gRPC on 127.0.0.1"},
          {"documents_sent", r.documents_sent},
          {"bytes_sent", r.bytes_sent},
          {"time_bound", r.time_bound},
          {"cut_at_limit", r.cut},
          {"documents_ok", s.documents_ok()},
          {"documents_skipped", s.documents_skipped()},
          {"documents_failed", s.documents_failed()},
          {"chunks", s.chunks()},
          {"tokens", s.tokens()},
          {"embedded_chunks", s.embedded_chunks()},
          {"embedded_tokens", s.embedded_tokens()},
          {"cached_chunks", s.cached_chunks()},
          {"embedding_requests", s.embedding_requests()},
          {"embedding_retries", s.embedding_retries()},
          {"seconds", r.seconds},
          {"send_seconds", r.send_seconds},
          {"documents_per_second", static_cast<double>(s.documents_ok()) / secs},
          {"chunks_per_second", static_cast<double>(s.chunks()) / secs},
          {"tokens_per_second", static_cast<double>(s.tokens()) / secs},
          {"mb_per_second", static_cast<double>(r.bytes_sent) / secs / 1e6},
          {"ragd_cpu_seconds", r.cpu_seconds},
          {"ragd_cpu_seconds_per_1000_chunks",
           s.chunks() > 0 ? r.cpu_seconds * 1000.0 / static_cast<double>(s.chunks()) : 0.0},
          {"ragd_cpu_utilization", r.cpu_seconds / secs},
          {"cpu_source", "/proc/<ragd pid>/stat utime+stime, all threads"},
          {"load_average_1m", LoadAverage1()}};
}

// Most tokens of successful requests that arrived within any window of `window` seconds.
uint64_t MaxTokensInWindow(const std::vector<testing::FakeOpenAiCounters::Request>& log,
                           double window) {
  uint64_t best = 0, sum = 0;
  size_t lo = 0;
  for (size_t hi = 0; hi < log.size(); ++hi) {
    if (log[hi].status == 200) sum += log[hi].tokens;
    while (std::chrono::duration<double>(log[hi].arrived - log[lo].arrived).count() > window) {
      if (log[lo].status == 200) sum -= log[lo].tokens;
      ++lo;
    }
    best = std::max(best, sum);
  }
  return best;
}

int Run(int argc, char** argv) {
  const std::string source_dir = RAGD_BENCH_SOURCE_DIR;
  Options o;
  std::string out = source_dir + "/bench/results/ingest.jsonl";
  CLI::App app("ingest_bench: bulk ingestion through ragd, local and remote embedders",
               "ingest_bench");
  app.add_option("--html-dir", o.html_dir, "HTML documents (*.html, recursive)")
      ->capture_default_str();
  app.add_option("--max-docs", o.max_docs, "most documents (sorted by path)")->capture_default_str();
  app.add_option("--max-seconds", o.max_seconds, "per phase: stop sending after this")
      ->capture_default_str();
  app.add_option("--drain-seconds", o.drain_seconds,
                 "per phase: then cancel if queued documents are still being ingested")
      ->capture_default_str();
  app.add_flag("--skip-local", o.skip_local, "skip the local-embedder phase");
  app.add_flag("--skip-remote", o.skip_remote, "skip the fake-Azure phase");
  app.add_option("--latency-ms", o.latency_ms, "fake embeddings latency per request")
      ->capture_default_str();
  app.add_option("--tpm", o.tokens_per_minute, "tokens-per-minute quota (ragd's embedder config)")
      ->capture_default_str();
  app.add_option("--burst-ms", o.burst_ms, "ragd's rate_limit_burst_ms")->capture_default_str();
  app.add_option("--max-concurrency", o.max_concurrency, "ragd's embedder max_concurrency")
      ->capture_default_str();
  app.add_option("--ingest-workers", o.ingest_workers, "ragd's ingest.workers (0: default)")
      ->capture_default_str();
  app.add_option("--out", out, "JSON-lines results file ('' for stdout only)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (o.max_seconds <= 0 || o.tokens_per_minute == 0 || o.latency_ms < 0 ||
      o.max_concurrency < 1) {
    std::cerr << "ingest_bench: need --max-seconds > 0, --tpm > 0, --latency-ms >= 0, "
                 "--max-concurrency >= 1\n";
    return 2;
  }

  std::vector<Doc> docs;
  size_t total_bytes = 0;
  for (const std::string& path : ListFiles(o.html_dir, ".html", o.max_docs)) {
    Doc d;
    d.id = std::filesystem::relative(path, o.html_dir).string();
    if (!ReadWholeFile(path, &d.bytes) || d.bytes.empty() || d.id.size() > 200) continue;
    total_bytes += d.bytes.size();
    docs.push_back(std::move(d));
  }
  if (docs.empty()) {
    std::cerr << "ingest_bench: no HTML under " << o.html_dir
              << " (apt-get install python3.11-doc, or --html-dir)\n";
    return 2;
  }

  Report report(out);
  report.Write(HardwareRecord(source_dir));
  report.Write({{"bench", "ingest_corpus"},
                {"system", "host"},
                {"threads", 1},
                {"source", o.html_dir},
                {"documents", docs.size()},
                {"bytes", total_bytes}});

  auto fail = [&](const std::string& why) {
    report.Write({{"bench", "error"}, {"system", "ragd"}, {"threads", 1}, {"error", why}});
    Log(why);
    return 1;
  };

  testing::FakeOpenAiServerOptions fake_options;
  fake_options.deployments = {"ada"};
  fake_options.latency = std::chrono::milliseconds(o.latency_ms);
  auto fake = testing::FakeOpenAiServer::Start(fake_options);
  if (!fake.ok()) return fail("fake embeddings server: " + std::string(fake.status().message()));

  testing::TempDir dir;
  std::string config =
      "embedders:\n"
      "  - name: " + std::string(kRemoteEmbedder) + "\n"
      "    provider: azure-openai\n"
      "    endpoint: " + (*fake)->endpoint() + "\n"
      "    deployment: ada\n"
      "    api_key: " + fake_options.api_key + "\n"
      "    dimension: 1536\n"
      "    tokens_per_minute: " + std::to_string(o.tokens_per_minute) + "\n"
      "    rate_limit_burst_ms: " + std::to_string(o.burst_ms) + "\n"
      "    max_concurrency: " + std::to_string(o.max_concurrency) + "\n";
  if (o.ingest_workers > 0) {
    config += "ingest:\n  workers: " + std::to_string(o.ingest_workers) + "\n";
  }
  const std::string config_path = (dir.path() / "ragd.yaml").string();
  std::ofstream(config_path) << config;
  auto ragd = testing::RagdProcess::Start(testing::RagdProcess::OptionsFor(
      (dir.path() / "data").string(), {"--config", config_path, "--log-level", "warn"}));
  if (!ragd.ok()) return fail("ragd: " + std::string(ragd.status().message()));
  std::shared_ptr<grpc::Channel> channel = (*ragd)->channel();
  std::string error;
  int status = 0;

  nlohmann::json targets = {{"bench", "targets"}, {"system", "ragd"}, {"threads", 1}};
  if (!o.skip_local) {
    Log("local embedder: " + std::to_string(docs.size()) + " documents");
    if (!CreateCollection(channel, "ingest_local", "local", &error)) return fail(error);
    PhaseResult r = RunStream(channel, (*ragd)->pid(), "ingest_local", docs, o.max_seconds,
                              o.drain_seconds);
    if (!r.ok) return fail("local: " + r.error);
    nlohmann::json rec = PhaseRecord("local", r);
    report.Write(rec);
    const double cps = rec["chunks_per_second"].get<double>();
    targets["local_chunks_per_second"] = {{"value", cps},
                                          {"target", kLocalChunksPerSecondTarget},
                                          {"met", cps >= kLocalChunksPerSecondTarget}};
  }

  if (!o.skip_remote) {
    Log("azure-openai embedder on the fake, " + std::to_string(o.latency_ms) + " ms/request, " +
        std::to_string(o.tokens_per_minute) + " tokens/min, up to " +
        std::to_string(o.max_seconds) + " s");
    if (!CreateCollection(channel, "ingest_remote", kRemoteEmbedder, &error)) return fail(error);
    (*fake)->ResetCounters();
    PhaseResult r = RunStream(channel, (*ragd)->pid(), "ingest_remote", docs, o.max_seconds,
                              o.drain_seconds);
    if (!r.ok) return fail("remote: " + r.error);
    testing::FakeOpenAiCounters c = (*fake)->counters();
    if (r.cut) {
      // Requests of the cancelled job that arrived after the end of the measurement are not
      // part of it.
      const auto end =
          r.start + std::chrono::milliseconds(static_cast<int64_t>(r.seconds * 1000));
      c.tokens = 0;
      for (const auto& req : c.log) {
        if (req.arrived <= end && req.status == 200) c.tokens += req.tokens;
      }
    }
    const double minutes = r.seconds / 60.0;
    const double quota = static_cast<double>(o.tokens_per_minute);
    // ragd's token bucket starts full: the first `burst_ms` of quota are free, on top of the
    // steady rate. The steady share leaves that credit out, so a pipeline that only spent the
    // burst and then idled cannot reach the target.
    const double burst_tokens = quota * static_cast<double>(o.burst_ms) / 60000.0;
    const double share = static_cast<double>(c.tokens) / (quota * minutes);
    const double steady_share =
        (static_cast<double>(c.tokens) - burst_tokens) / (quota * minutes);
    uint64_t not_ok = 0;
    for (const auto& req : c.log) not_ok += req.status != 200 ? 1 : 0;
    nlohmann::json rec = PhaseRecord(std::string("azure-openai (fake, ") +
                                         std::to_string(o.latency_ms) + " ms)",
                                     r);
    rec["latency_ms"] = o.latency_ms;
    rec["quota_tokens_per_minute"] = o.tokens_per_minute;
    rec["rate_limit_burst_ms"] = o.burst_ms;
    rec["max_concurrency"] = o.max_concurrency;
    rec["fake_requests"] = c.embeddings;
    rec["fake_requests_not_200"] = not_ok;
    rec["fake_inputs"] = c.inputs;
    rec["fake_tokens"] = c.tokens;
    rec["fake_max_in_flight"] = c.max_in_flight;
    rec["tokens_embedded_per_minute"] = static_cast<double>(c.tokens) / minutes;
    rec["quota_share"] = share;
    rec["quota_share_steady"] = steady_share;
    rec["quota_share_definition"] =
        "fake's tokens / (quota x minutes); steady: minus the bucket's initial burst credit";
    rec["max_tokens_any_10s_over_quota_10s"] =
        static_cast<double>(MaxTokensInWindow(c.log, 10.0)) / (quota / 6.0);
    if (r.seconds >= 60) {
      rec["max_tokens_any_60s_over_quota"] =
          static_cast<double>(MaxTokensInWindow(c.log, 60.0)) / quota;
    }
    report.Write(rec);
    targets["remote_quota_share_steady"] = {{"value", steady_share},
                                            {"target", kQuotaShareTarget},
                                            {"met", steady_share >= kQuotaShareTarget}};
    if (!r.time_bound) {
      Log("remote: every document was sent before --max-seconds; the share includes the idle "
          "tail (raise --max-docs or lower --tpm)");
    }
  }

  // A clean stop, so that no ragd outlives the benchmark and its exit code is checked.
  absl::StatusOr<int> exit_code = (*ragd)->Terminate(absl::Seconds(60));
  if (!exit_code.ok() || *exit_code != 0) {
    Log("ragd did not exit cleanly: " +
        (exit_code.ok() ? std::to_string(*exit_code) : std::string(exit_code.status().message())));
    status = 1;
  }
  report.Write(targets);
  return status;
}

}  // namespace
}  // namespace ragd::bench

int main(int argc, char** argv) { return ragd::bench::Run(argc, argv); }
