// cluster_bench: what cluster mode costs and buys on one machine, single-node and cluster in
// one run (issue 14's benchmark; bench/README.md "Cluster mode"). The single node is one ragd
// without a cluster section; the cluster is 3 nats-server nodes (JetStream, R3 streams) and 2
// ragd pods on 127.0.0.1, all real processes (tests/testing/ragd_process.h, nats_server.h).
// For each: write throughput (points/s) with 1 and 2 clients (batches of --batch points; with
// 2 clients in the cluster, one per pod), write latency p50/p99 of single-point upserts, and
// search QPS and p99 (2 client threads, k=10) against 1 pod and spread over 2 pods. Then a third,
// empty pod joins: the time until it holds every point (catch-up from the log).
// Vectors: bench/dataset.h's ada-like 1536-d unit vectors, HNSW (M 16, ef_construction 200).
//
// Output: JSON lines (stdout and --out), the hardware line first, ratios last. Progress goes
// to stderr.

#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "bench/dataset.h"
#include "ragd/v1/collections.grpc.pb.h"
#include "ragd/v1/points.grpc.pb.h"
#include "tests/testing/nats_server.h"
#include "tests/testing/ragd_process.h"
#include "tests/testing/temp_dir.h"

#ifndef RAGD_BENCH_SOURCE_DIR
#define RAGD_BENCH_SOURCE_DIR "."
#endif

namespace ragd::bench {
namespace {

constexpr char kCollection[] = "bench";

void Log(const std::string& message) { std::cerr << "cluster_bench: " << message << std::endl; }

struct Options {
  size_t points = 100000;  // the size; --points 10000 for a quick run
  size_t dim = 1536;
  size_t batch = 100;          // points per Upsert in the throughput phases
  size_t latency_calls = 300;  // single-point upserts for the latency phase
  size_t queries = 1000;
  double search_seconds = 10;
  double catchup_timeout = 1800;
  std::string out = "bench/results/cluster.jsonl";
};

std::unique_ptr<grpc::ClientContext> Context(double seconds, const std::string& request_id = "") {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() +
                  std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)));
  if (!request_id.empty()) c->AddMetadata("x-request-id", request_id);
  return c;
}

bool CreateCollection(const std::shared_ptr<grpc::Channel>& ch, size_t dim) {
  auto stub = v1::Collections::NewStub(ch);
  v1::CreateCollectionRequest req;
  req.set_name(kCollection);
  req.set_dimension(static_cast<uint32_t>(dim));
  req.set_metric(v1::METRIC_COSINE);
  req.mutable_index()->mutable_hnsw()->set_m(16);
  req.mutable_index()->mutable_hnsw()->set_ef_construction(200);
  // The JetStream meta group may still be electing its leader: retried, bounded.
  for (int attempt = 0; attempt < 100; ++attempt) {
    v1::CreateCollectionResponse resp;
    auto ctx = Context(10, "create");
    grpc::Status st = stub->CreateCollection(ctx.get(), req, &resp);
    if (st.ok()) return true;
    Log("create: " + st.error_message());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

v1::UpsertRequest Batch(const Dataset& data, size_t from, size_t to) {
  v1::UpsertRequest req;
  req.set_collection(kCollection);
  for (size_t i = from; i < to; ++i) {
    v1::Point* p = req.add_points();
    p->set_id("p" + std::to_string(i));
    const float* row = data.base_row(i);
    p->mutable_vector()->Assign(row, row + data.dim);
  }
  return req;
}

struct WriteResult {
  size_t points = 0;
  size_t calls = 0;
  size_t errors = 0;
  double seconds = 0;
  std::vector<double> latencies_ms;
};

// Writes points [from, to) in batches of `batch`, split between `channels` (one client thread
// each, taking alternate batches). Every call carries a request id, as a client would.
WriteResult Write(const std::vector<std::shared_ptr<grpc::Channel>>& channels, const Dataset& data,
                  size_t from, size_t to, size_t batch, const std::string& tag) {
  WriteResult r;
  std::mutex mu;
  std::atomic<size_t> next{from};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (size_t c = 0; c < channels.size(); ++c) {
    threads.emplace_back([&, c] {
      auto stub = v1::Points::NewStub(channels[c]);
      std::vector<double> lat;
      size_t errors = 0, calls = 0;
      for (;;) {
        const size_t b = next.fetch_add(batch);
        if (b >= to) break;
        v1::UpsertRequest req = Batch(data, b, std::min(to, b + batch));
        const auto t0 = Clock::now();
        v1::UpsertResponse resp;
        auto ctx = Context(60, tag + "-" + std::to_string(b));
        grpc::Status st = stub->Upsert(ctx.get(), req, &resp);
        ++calls;
        if (st.ok()) {
          lat.push_back(SecondsSince(t0) * 1000);
        } else {
          ++errors;
          Log("upsert: " + st.error_message());
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      r.latencies_ms.insert(r.latencies_ms.end(), lat.begin(), lat.end());
      r.errors += errors;
      r.calls += calls;
    });
  }
  for (auto& t : threads) t.join();
  r.seconds = SecondsSince(start);
  r.points = to - from;
  std::sort(r.latencies_ms.begin(), r.latencies_ms.end());
  return r;
}

nlohmann::json WriteRecord(const std::string& system, const std::string& phase, int clients,
                           const WriteResult& r) {
  nlohmann::json j;
  j["bench"] = "cluster_write";
  j["system"] = system;
  j["phase"] = phase;
  j["clients"] = clients;
  j["points"] = r.points;
  j["calls"] = r.calls;
  j["errors"] = r.errors;
  j["seconds"] = r.seconds;
  j["points_per_s"] = r.seconds > 0 ? static_cast<double>(r.points) / r.seconds : 0;
  j["p50_ms"] = Percentile(r.latencies_ms, 0.50);
  j["p99_ms"] = Percentile(r.latencies_ms, 0.99);
  j["load_average_1m"] = LoadAverage1();
  return j;
}

// Searches the queries from 2 threads, thread t on channels[t % channels.size()].
LoadResult Search(const std::vector<std::shared_ptr<grpc::Channel>>& channels, const Dataset& data,
                  double seconds) {
  std::vector<std::unique_ptr<v1::Points::Stub>> stubs(2);
  LoadOptions lo;
  lo.threads = 2;
  lo.min_seconds = seconds;
  lo.max_seconds = seconds * 3;
  return RunQueryLoad(
      data.num_queries, 10, lo,
      [&](int t) { stubs[t] = v1::Points::NewStub(channels[t % channels.size()]); },
      [&](int t, size_t q, int64_t* ids) {
        v1::SearchRequest req;
        req.set_collection(kCollection);
        const float* row = data.query_row(q);
        req.mutable_vector()->Assign(row, row + data.dim);
        req.set_k(10);
        v1::SearchResponse resp;
        auto ctx = Context(30);
        if (!stubs[t]->Search(ctx.get(), req, &resp).ok()) return false;
        for (int i = 0; i < 10; ++i) {
          ids[i] = i < resp.hits_size() ? std::stoll(resp.hits(i).point().id().substr(1)) : -1;
        }
        return true;
      });
}

nlohmann::json SearchRecordOf(const std::string& system, int replicas, size_t n,
                              const LoadResult& r) {
  nlohmann::json j = SearchRecord(system, r.threads, 0, n, -1, r);
  j["bench"] = "cluster_search";
  j["replicas_serving"] = replicas;
  j.erase("recall_at_10");
  j.erase("ef");
  return j;
}

// Polls Count on `ch` until it reaches `want` or `timeout`; seconds waited, -1 on timeout.
double WaitForCount(const std::shared_ptr<grpc::Channel>& ch, size_t want, double timeout) {
  auto stub = v1::Points::NewStub(ch);
  const auto start = Clock::now();
  while (SecondsSince(start) < timeout) {
    v1::CountRequest req;
    req.set_collection(kCollection);
    v1::CountResponse resp;
    auto ctx = Context(5);
    if (stub->Count(ctx.get(), req, &resp).ok() && resp.count() >= want) {
      return SecondsSince(start);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return -1;
}

struct SystemResult {
  double write1 = 0, write2 = 0, lat_p50 = 0, lat_p99 = 0, qps1 = 0, qps2 = 0, p99_1 = 0, p99_2 = 0;
};

// Waits until every process in `pids` is idle (its background work after a load, e.g.
// RocksDB compactions, done), at most 60 s each, so that one phase does not pay for the last.
void Settle(const std::vector<int>& pids) {
  for (int pid : pids) {
    bool settled = false;
    WaitProcessIdle(pid, 1.0, 0.1, 60, &settled);
    if (!settled) Log("pid " + std::to_string(pid) + " still busy after 60 s");
  }
}

// One system's measurements over `pods` (1: single node; 2: cluster pods A and B), whose
// process ids (ragd and, in the cluster, nats-server) are `pids`.
SystemResult Measure(const std::string& system,
                     const std::vector<std::shared_ptr<grpc::Channel>>& pods,
                     const std::vector<int>& pids, const Dataset& data, const Options& o,
                     Report& report) {
  SystemResult s;
  const size_t half = data.num_base / 2;
  Log(system + ": writing " + std::to_string(half) + " points, 1 client");
  WriteResult w1 = Write({pods[0]}, data, 0, half, o.batch, system + "-w1");
  report.Write(WriteRecord(system, "throughput", 1, w1));
  Settle(pids);
  Log(system + ": writing " + std::to_string(data.num_base - half) + " points, 2 clients");
  std::vector<std::shared_ptr<grpc::Channel>> two = {pods[0], pods[pods.size() - 1]};
  WriteResult w2 = Write(two, data, half, data.num_base, o.batch, system + "-w2");
  report.Write(WriteRecord(system, "throughput", 2, w2));
  // Single-point upserts (overwriting existing points: the collection size stays the same).
  Settle(pids);
  const size_t lat_calls = std::min(o.latency_calls, data.num_base);
  WriteResult wl = Write({pods[0]}, data, 0, lat_calls, 1, system + "-lat");
  report.Write(WriteRecord(system, "latency_1_point", 1, wl));
  s.write1 = w1.seconds > 0 ? w1.points / w1.seconds : 0;
  s.write2 = w2.seconds > 0 ? w2.points / w2.seconds : 0;
  s.lat_p50 = Percentile(wl.latencies_ms, 0.5);
  s.lat_p99 = Percentile(wl.latencies_ms, 0.99);
  for (const auto& p : pods) {
    if (WaitForCount(p, data.num_base, o.catchup_timeout) < 0) Log(system + ": a pod lags");
  }
  Settle(pids);
  Log(system + ": searching, 1 replica serving");
  LoadResult r1 = Search({pods[0]}, data, o.search_seconds);
  report.Write(SearchRecordOf(system, 1, data.num_base, r1));
  s.qps1 = r1.qps;
  s.p99_1 = r1.p99_ms;
  if (pods.size() > 1) {
    Log(system + ": searching, 2 replicas serving");
    LoadResult r2 = Search(pods, data, o.search_seconds);
    report.Write(SearchRecordOf(system, 2, data.num_base, r2));
    s.qps2 = r2.qps;
    s.p99_2 = r2.p99_ms;
  }
  return s;
}

std::string ClusterConfig(const std::string& path, const std::vector<std::string>& urls,
                          const std::string& pod) {
  std::ofstream f(path);
  f << "cluster:\n  nats_urls: [";
  for (size_t i = 0; i < urls.size(); ++i) f << (i ? ", " : "") << '"' << urls[i] << '"';
  f << "]\n  pod_id: " << pod << "\n  replicas: 3\n";
  return path;
}

int Run(const Options& o) {
  Report report(o.out);
  report.Write(HardwareRecord(RAGD_BENCH_SOURCE_DIR));
  DatasetOptions dopt;
  dopt.num_base = o.points;
  dopt.num_queries = o.queries;
  dopt.dim = o.dim;
  Log("generating " + std::to_string(o.points) + " x " + std::to_string(o.dim) + " vectors");
  const Dataset data = GenerateDataset(dopt);
  testing::TempDir tmp;

  SystemResult single;
  {
    auto p = testing::RagdProcess::Start(testing::RagdProcess::OptionsFor(
        (tmp.path() / "single").string(), {"--log-level", "warn"}));
    if (!p.ok()) {
      Log("single node: " + p.status().ToString());
      return 1;
    }
    if (!CreateCollection((*p)->channel(), o.dim)) return 1;
    single = Measure("single", {(*p)->channel()}, {(*p)->pid()}, data, o, report);
    (*p)->Kill();
  }
  std::filesystem::remove_all(tmp.path() / "single");

  auto nodes = testing::NatsServer::StartCluster(3, (tmp.path() / "nats").string());
  if (!nodes.ok()) {
    Log("nats: " + nodes.status().ToString());
    return 1;
  }
  std::vector<std::string> urls;
  for (const auto& n : *nodes) urls.push_back(n->url());
  std::vector<std::unique_ptr<testing::RagdProcess>> pods;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (const std::string name : {"a", "b"}) {
    auto p = testing::RagdProcess::Start(testing::RagdProcess::OptionsFor(
        (tmp.path() / name).string(),
        {"--config", ClusterConfig((tmp.path() / (name + ".yaml")).string(), urls, name),
         "--log-level", "warn"}));
    if (!p.ok()) {
      Log("pod " + name + ": " + p.status().ToString());
      return 1;
    }
    channels.push_back((*p)->channel());
    pods.push_back(*std::move(p));
  }
  if (!CreateCollection(channels[0], o.dim)) return 1;
  std::vector<int> pids;
  for (const auto& p : pods) pids.push_back(p->pid());
  for (const auto& n : *nodes) pids.push_back(n->pid());
  SystemResult cluster = Measure("cluster", channels, pids, data, o, report);
  Settle(pids);

  // An empty pod joins: it replays the whole log (every batch, the overwrites too).
  Log("catch-up: an empty pod replays the log");
  const auto start = Clock::now();
  auto c = testing::RagdProcess::Start(testing::RagdProcess::OptionsFor(
      (tmp.path() / "c").string(),
      {"--config", ClusterConfig((tmp.path() / "c.yaml").string(), urls, "c"), "--log-level",
       "warn"},
      /*wait_for_serving=*/false));
  double catchup = -1, serving = -1;
  if (c.ok()) {
    const double counted = WaitForCount((*c)->channel(), data.num_base, o.catchup_timeout);
    catchup = counted < 0 ? -1 : SecondsSince(start);
    if ((*c)->WaitForServing(absl::Seconds(120)).ok()) serving = SecondsSince(start);
  } else {
    Log("pod c: " + c.status().ToString());
  }
  nlohmann::json cu;
  cu["bench"] = "cluster_catchup";
  cu["points"] = data.num_base;
  cu["dim"] = data.dim;
  cu["log_entries"] =
      (data.num_base + o.batch - 1) / o.batch + std::min(o.latency_calls, data.num_base);
  cu["seconds_to_all_points"] = catchup;
  cu["seconds_to_serving"] = serving;
  cu["points_per_s"] = catchup > 0 ? data.num_base / catchup : 0;
  cu["load_average_1m"] = LoadAverage1();
  report.Write(cu);

  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0; };
  nlohmann::json r;
  r["bench"] = "cluster_ratios";
  r["points"] = data.num_base;
  r["write_1_client_cluster_over_single"] = ratio(cluster.write1, single.write1);
  r["write_2_clients_cluster_over_single"] = ratio(cluster.write2, single.write2);
  r["write_p50_cluster_over_single"] = ratio(cluster.lat_p50, single.lat_p50);
  r["write_p99_cluster_over_single"] = ratio(cluster.lat_p99, single.lat_p99);
  r["search_qps_1_replica_cluster_over_single"] = ratio(cluster.qps1, single.qps1);
  r["search_qps_2_replicas_over_1"] = ratio(cluster.qps2, cluster.qps1);
  r["search_p99_2_replicas_over_1"] = ratio(cluster.p99_2, cluster.p99_1);
  report.Write(r);
  for (auto& p : pods) p->Kill();
  if (c.ok()) (*c)->Kill();
  return 0;
}

}  // namespace
}  // namespace ragd::bench

int main(int argc, char** argv) {
  ragd::bench::Options o;
  CLI::App app("cluster_bench: single-node ragd vs a 3-NATS + 2-pod cluster on loopback");
  app.add_option("--points", o.points, "points written (default 100000)");
  app.add_option("--dim", o.dim, "dimension (default 1536)");
  app.add_option("--batch", o.batch, "points per Upsert in the throughput phases (default 100)");
  app.add_option("--latency-calls", o.latency_calls, "single-point upserts timed (default 300)");
  app.add_option("--queries", o.queries, "distinct queries (default 1000)");
  app.add_option("--search-seconds", o.search_seconds, "seconds per search phase (default 10)");
  app.add_option("--out", o.out, "JSON-lines results file");
  CLI11_PARSE(app, argc, argv);
  return ragd::bench::Run(o);
}
