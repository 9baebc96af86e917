// ragd_load: open-loop load against a running ragd (bench/load_generator.h). With --ramp it
// first finds the sustainable rate (the highest step of a short ramp at which ragd answers
// nearly everything in time), then offers --multiplier times that rate for --seconds, then
// half the sustainable rate for a second to show that ragd recovered by itself. With --pid,
// ragd's resident memory is sampled during the main run (bounded queues: it should stay flat).
//
// Output: JSON lines (stdout and --out), one per ramp step and phase; progress goes to stderr.

#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "bench/load_generator.h"

#ifndef RAGD_BENCH_SOURCE_DIR
#define RAGD_BENCH_SOURCE_DIR "."
#endif

namespace ragd::bench {
namespace {

void Log(const std::string& message) { std::cerr << "ragd_load: " << message << std::endl; }

// Samples VmRSS of `pid` every 100 ms while alive; first and peak values in bytes.
class RssSampler {
 public:
  explicit RssSampler(int pid) : pid_(pid) {
    if (pid_ <= 0) return;
    first_ = peak_ = ProcessRssBytes(pid_);
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        peak_ = std::max<uint64_t>(peak_.load(), ProcessRssBytes(pid_));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  ~RssSampler() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t first() const { return first_; }
  uint64_t peak() const { return peak_; }

 private:
  int pid_;
  std::atomic<bool> stop_{false};
  uint64_t first_ = 0;
  std::atomic<uint64_t> peak_{0};
  std::thread thread_;
};

nlohmann::json Record(const std::string& phase, const LoadPlan& plan, const LoadSummary& s) {
  nlohmann::json j = s.ToJson();
  j["bench"] = "load";
  j["system"] = "ragd";
  j["threads"] = 1;
  j["phase"] = phase;
  j["target_rate"] = plan.rate;
  j["upsert_fraction"] = plan.upsert_fraction;
  j["load"] = LoadAverage1();
  return j;
}

int Run(int argc, char** argv) {
  const std::string source_dir = RAGD_BENCH_SOURCE_DIR;
  std::string address = "127.0.0.1:50051";
  std::string mix = "9:1";
  std::string out = source_dir + "/bench/results/load.jsonl";
  LoadWorkload workload;
  LoadPlan plan;
  RampOptions ramp;
  bool do_ramp = false;
  double multiplier = 2;
  uint64_t setup_points = 0;
  bool flat = false;
  int pid = 0;
  CLI::App app("ragd_load: open-loop load (searches and upserts) against a running ragd",
               "ragd_load");
  app.add_option("--address", address, "ragd's gRPC address")->capture_default_str();
  app.add_option("--rate", plan.rate, "offered requests/s (without --ramp)")->capture_default_str();
  app.add_option("--seconds", plan.seconds, "length of the main run")->capture_default_str();
  app.add_option("--max-requests", plan.max_requests, "most requests of the main run (0: any)")
      ->capture_default_str();
  app.add_option("--mix", mix, "search:upsert weights")->capture_default_str();
  app.add_option("--max-outstanding", plan.max_outstanding, "client-side cap on calls in flight")
      ->capture_default_str();
  app.add_option("--deadline", plan.deadline_seconds, "per-call deadline, s")
      ->capture_default_str();
  app.add_flag_function(
      "--uniform", [&](int64_t) { plan.poisson = false; },
      "uniform spacing instead of Poisson arrivals");
  app.add_option("--collection", workload.collection)->capture_default_str();
  app.add_option("--dim", workload.dimension)->capture_default_str();
  app.add_option("--k", workload.k)->capture_default_str();
  app.add_option("--id-prefix", workload.id_prefix, "prefix of the upserted ids")
      ->capture_default_str();
  app.add_option("--setup-points", setup_points,
                 "create the collection and upsert this many points first (0: use as is)")
      ->capture_default_str();
  app.add_flag("--flat", flat, "a flat (exact) index for --setup-points, else HNSW");
  app.add_flag("--ramp", do_ramp, "find the sustainable rate first, then run at --multiplier x");
  app.add_option("--multiplier", multiplier, "main rate / sustainable rate with --ramp")
      ->capture_default_str();
  app.add_option("--ramp-start", ramp.start_rate, "first ramp step, requests/s")
      ->capture_default_str();
  app.add_option("--ramp-factor", ramp.factor)->capture_default_str();
  app.add_option("--ramp-step-seconds", ramp.step_seconds)->capture_default_str();
  app.add_option("--ramp-max-p99-ms", ramp.max_p99_ms, "a step with a higher OK p99 fails")
      ->capture_default_str();
  app.add_option("--pid", pid, "ragd's process id, to sample its RSS (0: not sampled)");
  app.add_option("--out", out, "JSON-lines results file ('' for stdout only)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (!ParseMix(mix, &plan.upsert_fraction)) {
    std::cerr << "ragd_load: --mix must be SEARCH:UPSERT weights such as 9:1\n";
    return 2;
  }
  if (plan.rate <= 0 || plan.seconds <= 0 || multiplier <= 0 || ramp.factor <= 1 ||
      workload.dimension == 0 || workload.k == 0 || plan.max_outstanding == 0) {
    std::cerr << "ragd_load: need --rate, --seconds, --multiplier, --dim, --k, "
                 "--max-outstanding > 0 and --ramp-factor > 1\n";
    return 2;
  }

  Report report(out);
  report.Write(HardwareRecord(source_dir));
  grpc::ChannelArguments args;
  // One connection carries every call, as one client process would; the server's limits, not
  // the client's connection count, are under test.
  auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    Log("cannot connect to " + address);
    return 1;
  }
  // ragd writes its port file before it has recovered its collections: until then every
  // call is UNAVAILABLE "recovering".
  for (auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);;) {
    auto collections = v1::Collections::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ListCollectionsResponse response;
    grpc::Status s = collections->ListCollections(&context, {}, &response);
    if (s.error_code() != grpc::StatusCode::UNAVAILABLE) break;
    if (std::chrono::steady_clock::now() > give_up) {
      Log("ragd still unavailable: " + s.error_message());
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (setup_points > 0) {
    Log("creating " + workload.collection + " with " + std::to_string(setup_points) + " points");
    grpc::Status s = PrepareCollection(channel, workload, setup_points, flat);
    if (!s.ok()) {
      Log("setup: " + s.error_message());
      return 1;
    }
  }

  LoadGenerator generator(channel, workload);
  double sustainable = 0;
  if (do_ramp) {
    std::vector<LoadSummary> steps;
    sustainable = FindSustainableRate(&generator, plan, ramp, &steps);
    LoadPlan step_plan = plan;
    double rate = ramp.start_rate;
    for (const LoadSummary& s : steps) {
      step_plan.rate = rate;
      rate *= ramp.factor;
      report.Write(Record("ramp", step_plan, s));
    }
    if (sustainable <= 0) {
      Log("the first ramp step already failed: lower --ramp-start");
      return 1;
    }
    plan.rate = multiplier * sustainable;
    Log("sustainable rate " + std::to_string(sustainable) + "/s; offering " +
        std::to_string(plan.rate) + "/s for " + std::to_string(plan.seconds) + " s");
  }

  RssSampler rss(pid);
  LoadSummary result = generator.Run(plan);
  rss.Stop();
  nlohmann::json record = Record(do_ramp ? "overload" : "fixed", plan, result);
  if (do_ramp) {
    record["sustainable_rate"] = sustainable;
    record["multiplier"] = multiplier;
  }
  if (pid > 0) {
    record["ragd_rss_start_bytes"] = rss.first();
    record["ragd_rss_peak_bytes"] = rss.peak();
  }
  report.Write(record);
  if (do_ramp) {
    LoadPlan after = plan;
    after.rate = sustainable / 2;
    after.seconds = 1;
    after.max_requests = 0;
    report.Write(Record("recovery", after, generator.Run(after)));
  }
  return 0;
}

}  // namespace
}  // namespace ragd::bench

int main(int argc, char** argv) { return ragd::bench::Run(argc, argv); }
