// ragd end to end: the real binary on loopback, driven through the generated stubs exactly as
// a client would, so that the figures include protobuf, gRPC, the engine's locking and storage.

#include <fcntl.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/server_harness.h"
#include "bench/suites.h"
#include "ragd/v1/collections.grpc.pb.h"
#include "ragd/v1/points.grpc.pb.h"

namespace ragd::bench {
namespace {

// grpc.health.v1.Health/Check for the overall service "". Debian's gRPC ships no generated
// health stubs, and the messages are tiny, so the call goes through the generic stub with the
// bytes written by hand: the request {service: ""} is the empty message, and the response
// {status: N} is the field-1 varint 0x08 N. Returns the status (1 = SERVING) or -1.
int HealthStatus(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 1.0);
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  grpc::Status status = done.get_future().get();
  if (!status.ok()) return -1;
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return -1;
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  if (bytes.empty()) return 0;  // UNKNOWN: proto3 omits the default
  if (bytes.size() >= 2 && bytes[0] == 0x08) return static_cast<unsigned char>(bytes[1]);
  return -1;
}

// Waits for the port file, then for SERVING. Returns the port, or 0 with `error` set.
int WaitServing(RagdProcess& proc, const std::string& port_file, const std::string& unix_socket,
                double timeout, std::string* error) {
  Clock::time_point start = Clock::now();
  int port = 0;
  while (SecondsSince(start) < timeout) {
    if (!proc.Alive()) {
      *error = "ragd exited during start-up";
      return 0;
    }
    if (port == 0) {
      std::ifstream in(port_file);
      if (!(in >> port)) port = 0;
      if (port == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
    }
    // A fresh channel each time: a channel that failed to connect backs off for up to a
    // second, which would be counted as start-up time.
    if (HealthStatus(MakeChannel(TargetOf(port, unix_socket), 0)) == 1) return port;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  *error = "ragd not SERVING within the start-up timeout";
  return 0;
}

// Points.SearchBatch with one client: the queries in calls of `batch` (the last one shorter),
// each call's results parsed into the query's row; passes as RunQueryLoad (the first one for
// recall, then until min_seconds, at most max_passes or max_seconds). QPS counts queries.
LoadResult RunBatchLoad(const SuiteContext& ctx, const std::string& target, size_t batch,
                        const LoadOptions& load) {
  const Dataset& data = *ctx.data;
  LoadResult result;
  result.threads = 1;
  result.first_results.assign(data.num_queries * kTopK, -1);
  auto stub = ragd::v1::Points::NewStub(MakeChannel(target, 3000));
  ragd::v1::SearchBatchRequest request;
  ragd::v1::SearchBatchResponse response;
  request.set_collection(kCollection);
  std::vector<double> latencies;
  std::vector<int64_t> scratch(kTopK);
  auto call = [&](size_t begin, size_t end, bool first_pass) {
    request.clear_searches();
    for (size_t q = begin; q < end; ++q) {
      ragd::v1::SearchRequest* s = request.add_searches();
      s->set_k(kTopK);
      s->set_with_payload(false);
      s->mutable_vector()->Add(data.query_row(q), data.query_row(q) + data.dim);
    }
    grpc::ClientContext context;
    SetDeadline(&context, 60);
    Clock::time_point t0 = Clock::now();
    grpc::Status s = stub->SearchBatch(&context, request, &response);
    latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (!s.ok() || response.results_size() != static_cast<int>(end - begin)) {
      result.errors += end - begin;
      return;
    }
    for (size_t q = begin; q < end; ++q) {
      int64_t* ids = first_pass ? &result.first_results[q * kTopK] : scratch.data();
      if (!ParseHits(response.results(static_cast<int>(q - begin)), ids)) ++result.errors;
    }
    result.ops += end - begin;
  };
  // Warm-up (connection, server threads) outside the timed window.
  call(0, std::min(batch, data.num_queries), false);
  result.ops = 0;
  result.errors = 0;
  latencies.clear();
  Clock::time_point start = Clock::now();
  for (int pass = 0; pass < std::max(1, load.max_passes); ++pass) {
    const double elapsed = SecondsSince(start);
    if (pass > 0 && (elapsed >= load.min_seconds || elapsed >= load.max_seconds)) break;
    for (size_t begin = 0; begin < data.num_queries; begin += batch) {
      call(begin, std::min(data.num_queries, begin + batch), pass == 0);
    }
  }
  result.seconds = SecondsSince(start);
  result.qps = static_cast<double>(result.ops) / result.seconds;
  std::sort(latencies.begin(), latencies.end());
  result.p50_ms = Percentile(latencies, 0.5);
  result.p99_ms = Percentile(latencies, 0.99);
  double total_ms = 0;
  for (double ms : latencies) total_ms += ms;
  result.mean_ms = latencies.empty() ? 0 : total_ms / static_cast<double>(latencies.size());
  return result;
}

// Reads the collection's counts; false on error.
bool GetCollection(const std::shared_ptr<grpc::Channel>& channel, ragd::v1::CollectionInfo* info,
                   std::string* error) {
  auto stub = ragd::v1::Collections::NewStub(channel);
  ragd::v1::GetCollectionRequest req;
  req.set_name(kCollection);
  ragd::v1::GetCollectionResponse resp;
  grpc::ClientContext call;
  SetDeadline(&call, 30);
  grpc::Status s = stub->GetCollection(&call, req, &resp);
  if (!s.ok()) {
    *error = "GetCollection: " + s.error_message();
    return false;
  }
  *info = resp.collection();
  return true;
}

}  // namespace

RagdFigures RunRagdSuite(const SuiteContext& ctx, const RagdOptions& options) {
  RagdFigures figures;
  const Dataset& data = *ctx.data;
  const std::string system =
      options.quantization == "none" ? std::string("ragd") : "ragd-" + options.quantization;
  ragd::v1::Quantization quantization = ragd::v1::QUANTIZATION_NONE;
  if (options.quantization == "f16") {
    quantization = ragd::v1::QUANTIZATION_F16;
  } else if (options.quantization == "int8") {
    quantization = ragd::v1::QUANTIZATION_INT8;
  } else if (options.quantization != "none") {
    figures.error = "unknown quantization " + options.quantization;
    return figures;
  }
  const size_t n = data.num_base;
  auto fail = [&](const std::string& why) {
    figures.error = why;
    ctx.report->Write({{"bench", "error"}, {"system", system}, {"threads", 0}, {"error", why}});
    return figures;
  };
  if (options.binary.empty() || !std::filesystem::exists(options.binary)) {
    return fail("ragd binary not found (build target ragd or pass --ragd): " + options.binary);
  }

  std::string parent = options.work_dir;
  if (parent.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    parent = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  std::string pattern = parent + "/ragd-bench-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) return fail("cannot create a directory in " + parent);
  const std::string dir = pattern;
  const std::string data_dir = dir + "/data";
  const std::string port_file = dir + "/port";
  const std::string log_path = dir + "/ragd.log";
  // Removes the data directory on every exit path of this function.
  struct Cleanup {
    std::string dir;
    bool keep;
    ~Cleanup() {
      std::error_code ec;
      if (!keep) std::filesystem::remove_all(dir, ec);
    }
  } cleanup{dir, options.keep_data};
  // A Unix socket (--transport unix) lives in the run's directory; its path stays well under
  // sun_path's 108 bytes with the default TMPDIR.
  const std::string unix_socket = options.unix_socket ? dir + "/ragd.sock" : "";
  const std::string listen = unix_socket.empty() ? "127.0.0.1:0" : "unix:" + unix_socket;
  const std::string transport =
      unix_socket.empty() ? "gRPC over 127.0.0.1" : "gRPC over a Unix socket";
  const std::vector<std::string> args = {"--listen",   listen,   "--port-file", port_file,
                                         "--data-dir", data_dir, "--log-level", "warn"};

  std::string error;
  auto proc = std::make_unique<RagdProcess>();
  if (!proc->Start(options.binary, args, log_path, &error)) return fail(error);
  int port = WaitServing(*proc, port_file, unix_socket, options.startup_timeout_seconds, &error);
  if (port == 0) return fail(error + "; log: " + RagdLogTail(log_path));
  std::string target = TargetOf(port, unix_socket);
  const uint64_t rss_empty = ProcessRssBytes(proc->pid());
  std::shared_ptr<grpc::Channel> channel = MakeChannel(target, 1);

  {
    auto collections = ragd::v1::Collections::NewStub(channel);
    ragd::v1::CreateCollectionRequest req;
    req.set_name(kCollection);
    req.set_dimension(static_cast<uint32_t>(data.dim));
    req.set_metric(ragd::v1::METRIC_COSINE);
    ragd::v1::HnswSpec* hnsw = req.mutable_index()->mutable_hnsw();
    hnsw->set_m(static_cast<uint32_t>(options.m));
    hnsw->set_ef_construction(static_cast<uint32_t>(options.ef_construction));
    hnsw->set_ef(static_cast<uint32_t>(options.ef));
    hnsw->set_quantization(quantization);
    ragd::v1::CreateCollectionResponse resp;
    grpc::ClientContext call;
    SetDeadline(&call, 60);
    grpc::Status s = collections->CreateCollection(&call, req, &resp);
    if (!s.ok()) return fail("CreateCollection: " + s.error_message());
  }

  // Upsert: batches handed out to `upsert_clients` threads, each on its own connection.
  const size_t batches = (n + options.upsert_batch - 1) / options.upsert_batch;
  std::atomic<size_t> next_batch{0};
  std::atomic<bool> upsert_failed{false};
  std::string upsert_error;
  std::mutex error_mu;
  Clock::time_point ingest_start = Clock::now();
  auto upserter = [&](int t) {
    auto stub = ragd::v1::Points::NewStub(MakeChannel(target, 100 + t));
    ragd::v1::UpsertRequest req;
    ragd::v1::UpsertResponse resp;
    for (;;) {
      size_t b = next_batch.fetch_add(1);
      if (b >= batches || upsert_failed.load()) return;
      req.Clear();
      req.set_collection(kCollection);
      const size_t begin = b * options.upsert_batch;
      const size_t end = std::min(n, begin + options.upsert_batch);
      for (size_t i = begin; i < end; ++i) {
        ragd::v1::Point* p = req.add_points();
        p->set_id(std::to_string(i));
        p->mutable_vector()->Add(data.base_row(i), data.base_row(i) + data.dim);
      }
      grpc::ClientContext call;
      SetDeadline(&call, 600);
      grpc::Status s = stub->Upsert(&call, req, &resp);
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(error_mu);
        upsert_error = "Upsert batch " + std::to_string(b) + ": " + s.error_message();
        upsert_failed = true;
        return;
      }
    }
  };
  {
    std::vector<std::thread> pool;
    for (int t = 0; t < options.upsert_clients; ++t) pool.emplace_back(upserter, t);
    for (std::thread& th : pool) th.join();
  }
  const double ingest_seconds = SecondsSince(ingest_start);
  figures.ingest_seconds = ingest_seconds;
  if (upsert_failed) return fail(upsert_error);

  ragd::v1::CollectionInfo info;
  if (!GetCollection(channel, &info, &error)) return fail(error);
  const uint64_t rss_loaded = ProcessRssBytes(proc->pid());
  const double floor = RawPlusLinksBytesPerVector(data.dim, options.m);
  figures.rss_delta_bytes_per_vector =
      (static_cast<double>(rss_loaded) - static_cast<double>(rss_empty)) / static_cast<double>(n);
  ctx.report->Write({
      {"bench", "build"},
      {"system", system},
      {"threads", options.upsert_clients},
      {"n", n},
      {"dim", data.dim},
      {"m", options.m},
      {"ef_construction", options.ef_construction},
      {"upsert_batch", options.upsert_batch},
      {"build_seconds", ingest_seconds},
      {"points_per_second", static_cast<double>(n) / ingest_seconds},
      {"points_reported", info.points()},
      {"rss_bytes_per_vector", static_cast<double>(rss_loaded) / static_cast<double>(n)},
      {"rss_delta_bytes_per_vector", figures.rss_delta_bytes_per_vector},
      {"rss_empty_bytes", rss_empty},
      {"rss_source", "/proc/<ragd pid>/status VmRSS; delta = loaded - empty server"},
      {"index_bytes_per_vector", static_cast<double>(info.index_bytes()) / static_cast<double>(n)},
      {"index_bytes_source", "GetCollection index_bytes (ragd's own accounting)"},
      {"storage_bytes_per_vector",
       static_cast<double>(info.storage_bytes()) / static_cast<double>(n)},
      {"raw_plus_links_bytes_per_vector", floor},
      {"memory_ratio_vs_raw_plus_links", figures.rss_delta_bytes_per_vector / floor},
      {"load_average_1m", LoadAverage1()},
  });
  if (info.points() != n) {
    return fail("collection reports " + std::to_string(info.points()) + " points, expected " +
                std::to_string(n));
  }

  // A bulk load leaves background work behind: RocksDB flushes and compacts what was just
  // written, and ragd flushes its memtables and trims its heap once writes have stopped for
  // engine.idle_flush_seconds (5 s by default). In-process hnswlib has none of that, so
  // searches and the steady-state memory are measured once ragd is idle again: at least the
  // idle-flush delay plus a second after the last write, then its own CPU below 2% of a core
  // for a whole second. The wait is reported.
  bool settled = false;
  const double min_settle = std::min(options.settle_timeout_seconds, 6.0);
  std::this_thread::sleep_for(std::chrono::duration<double>(min_settle));
  const double settle_seconds =
      min_settle + WaitProcessIdle(proc->pid(), 1.0, 0.02,
                                   options.settle_timeout_seconds - min_settle, &settled);
  const uint64_t rss_settled = ProcessRssBytes(proc->pid());
  figures.rss_delta_bytes_per_vector_settled =
      (static_cast<double>(rss_settled) - static_cast<double>(rss_empty)) / static_cast<double>(n);
  ctx.report->Write({
      {"bench", "settle"},
      {"system", system},
      {"threads", 0},
      {"n", n},
      {"settle_seconds", settle_seconds},
      {"settled", settled},
      {"settle_definition", "ragd's CPU below 2% of one core over a 1 s window"},
      {"rss_delta_bytes_per_vector", figures.rss_delta_bytes_per_vector_settled},
      {"memory_ratio_vs_raw_plus_links", figures.rss_delta_bytes_per_vector_settled / floor},
      {"load_average_1m", LoadAverage1()},
  });

  // The collection's default ef first (the targets' rows), then the other ef values of the
  // sweep, each per request.
  std::vector<size_t> efs = {options.ef};
  for (size_t ef : options.ef_sweep) {
    if (std::find(efs.begin(), efs.end(), ef) == efs.end()) efs.push_back(ef);
  }
  for (size_t ef : efs) {
    const bool default_ef = ef == options.ef;
    for (int clients : options.clients) {
      // CPU per search on each side of the connection: on a small machine the clients' gRPC
      // work competes with the server for the same cores, which in-process hnswlib never pays.
      // ragd's own account of the CPU its index searches took (CollectionInfo), read outside
      // the measured window: the walk as it runs in the server, with the caches the request's
      // handling leaves it, against the whole process's CPU per call.
      ragd::v1::CollectionInfo index_before;
      ragd::v1::CollectionInfo index_after;
      const bool index_cpu_known = GetCollection(channel, &index_before, &error);
      const double client_cpu_start = ProcessCpuSeconds(static_cast<int>(getpid()));
      ServerCost cost;
      LoadResult r = MeasureServer(proc->pid(), &cost, [&] {
        return RunSearchLoad(ctx, target, clients, ctx.load, default_ef ? 0 : ef);
      });
      const double client_cpu = ProcessCpuSeconds(static_cast<int>(getpid())) - client_cpu_start;
      const bool index_cpu_after = GetCollection(channel, &index_after, &error);
      // Every pass counts: the first pass (recall) runs in the same window as the timed ones.
      const double calls = static_cast<double>(std::max<size_t>(1, r.ops));
      const double recall = RecallAtK(r.first_results, *ctx.truth, kTopK);
      nlohmann::json record = SearchRecord(system, clients, ef, n, recall, r);
      record["transport"] = transport + ", one connection per client thread";
      record["ef_source"] = default_ef ? "collection default" : "SearchRequest.ef";
      AddServerCost(cost, calls, &record);
      record["client_cpu_ms_per_call"] = client_cpu * 1000 / calls;
      double index_cpu_ms_per_call = 0;
      if (index_cpu_known && index_cpu_after) {
        index_cpu_ms_per_call =
            (index_after.vector_search_cpu_seconds() - index_before.vector_search_cpu_seconds()) *
            1000 / calls;
        record["server_index_cpu_ms_per_call"] = index_cpu_ms_per_call;
        record["server_index_searches_per_call"] =
            static_cast<double>(index_after.vector_searches() - index_before.vector_searches()) /
            calls;
        record["server_index_cpu_source"] =
            "GetCollection vector_search_cpu_seconds (thread CPU time in Shard::Search)";
      }
      ctx.report->Write(record);
      figures.by_ef.push_back({ef, clients, recall, r.qps});
      if (!default_ef) continue;
      if (clients == options.clients.front()) figures.recall_default_ef = recall;
      if (clients == 1) {
        figures.server_cpu_ms_per_call = cost.cpu_seconds * 1000 / calls;
        figures.server_index_cpu_ms_per_call = index_cpu_ms_per_call;
      }
      figures.clients.push_back(clients);
      figures.qps_by_clients.push_back(r.qps);
    }
  }

  if (options.batch_size > 0) {
    const double server_cpu_start = ProcessCpuSeconds(proc->pid());
    const ContextSwitches switches_start = ProcessContextSwitches(proc->pid());
    LoadResult r = RunBatchLoad(ctx, target, options.batch_size, ctx.load);
    const double server_cpu = ProcessCpuSeconds(proc->pid()) - server_cpu_start;
    const ContextSwitches switches =
        SwitchesBetween(switches_start, ProcessContextSwitches(proc->pid()));
    figures.batch_recall = RecallAtK(r.first_results, *ctx.truth, kTopK);
    figures.batch_qps = r.qps;
    nlohmann::json record =
        SearchRecord(system + "-batch", 1, options.ef, n, figures.batch_recall, r);
    record["transport"] = transport + ", one connection, Points.SearchBatch";
    record["batch_size"] = options.batch_size;
    record["latency_unit"] = "one SearchBatch call";
    record["server_cpu_ms_per_query"] = server_cpu * 1000 / std::max<double>(1, r.ops);
    figures.batch_server_cpu_ms_per_query = server_cpu * 1000 / std::max<double>(1, r.ops);
    record["server_voluntary_switches_per_query"] =
        static_cast<double>(switches.voluntary) / std::max<double>(1, r.ops);
    record["errors"] = r.errors;
    ctx.report->Write(record);
  }

  if (options.while_serving) options.while_serving(system, target);

  // Start-up from snapshot: a clean SIGTERM saves the snapshots; the clock for the restart
  // runs from the spawn to the first SERVING answer of the health service.
  double stop_seconds = 0;
  const int exit_code = proc->Terminate(120, &stop_seconds);
  figures.shutdown_seconds = stop_seconds;
  std::error_code ec;
  std::filesystem::remove(port_file, ec);
  proc = std::make_unique<RagdProcess>();
  Clock::time_point restart = Clock::now();
  if (!proc->Start(options.binary, args, log_path, &error)) return fail(error);
  port = WaitServing(*proc, port_file, unix_socket, options.startup_timeout_seconds, &error);
  if (port == 0) return fail("restart: " + error + "; log: " + RagdLogTail(log_path));
  figures.startup_seconds = SecondsSince(restart);
  target = TargetOf(port, unix_socket);
  channel = MakeChannel(target, 2);
  if (!GetCollection(channel, &info, &error)) return fail("after restart: " + error);
  const uint64_t rss_restarted = ProcessRssBytes(proc->pid());
  figures.rss_delta_bytes_per_vector_after_restart =
      (static_cast<double>(rss_restarted) - static_cast<double>(rss_empty)) /
      static_cast<double>(n);
  // One pass of the queries on the restarted server: the snapshot must give the same answers.
  LoadOptions once = ctx.load;
  once.min_seconds = 0;
  once.max_passes = 1;
  LoadResult after = RunSearchLoad(ctx, target, 1, once);
  double stop2_seconds = 0;
  const int exit_code2 = proc->Terminate(120, &stop2_seconds);
  ctx.report->Write({
      {"bench", "startup"},
      {"system", system},
      {"threads", 1},
      {"n", n},
      {"startup_seconds", figures.startup_seconds},
      {"startup_definition", "spawn to grpc.health.v1 SERVING, snapshot saved by SIGTERM"},
      {"shutdown_seconds", stop_seconds},
      {"shutdown_exit_code", exit_code},
      {"second_shutdown_exit_code", exit_code2},
      {"points_after_restart", info.points()},
      {"recall_at_10_after_restart", RecallAtK(after.first_results, *ctx.truth, kTopK)},
      {"qps_after_restart", after.qps},
      {"rss_bytes_per_vector_after_restart",
       static_cast<double>(rss_restarted) / static_cast<double>(n)},
      {"rss_delta_bytes_per_vector_after_restart",
       figures.rss_delta_bytes_per_vector_after_restart},
      {"data_dir_bytes",
       [&] {
         uint64_t total = 0;
         std::error_code walk_ec;
         for (auto it = std::filesystem::recursive_directory_iterator(data_dir, walk_ec);
              !walk_ec && it != std::filesystem::recursive_directory_iterator();
              it.increment(walk_ec)) {
           std::error_code size_ec;
           if (it->is_regular_file(size_ec)) total += it->file_size(size_ec);
         }
         return total;
       }()},
      {"load_average_1m", LoadAverage1()},
  });
  figures.ran = true;
  return figures;
}

}  // namespace ragd::bench
