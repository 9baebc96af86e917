#pragma once
// The systems measured by vector_bench. Each suite builds its index from the same data set,
// measures it against the same ground truth and writes its records to the report.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "bench/dataset.h"
#include "index/types.h"

namespace ragd::bench {

constexpr size_t kTopK = 10;

// What every suite needs besides its own knobs.
struct SuiteContext {
  const Dataset* data = nullptr;
  const std::vector<int64_t>* truth = nullptr;  // ExactTopK(data, kTopK)
  Report* report = nullptr;
  LoadOptions load;       // threads overridden per measurement
  int build_threads = 2;  // threads that insert while building in-process indexes
  std::vector<int> search_threads = {1, 2};
};

// Memory of HNSW in the paper's terms: float32 vectors plus graph links, the floor that the
// ≤ 1.2x memory target is measured against. Level 0 has 2M links + a count, upper levels M + a
// count, and a node reaches level >= 1 with probability 1/M (mult = 1/ln M), so upper levels
// add (M + 1) * 4 / (M - 1) bytes on average.
inline double RawPlusLinksBytesPerVector(size_t dim, size_t m) {
  const double md = static_cast<double>(m);
  return static_cast<double>(dim) * 4.0 + (2.0 * md + 1.0) * 4.0 + (md + 1.0) * 4.0 / (md - 1.0);
}

// Figures the final "targets" record compares.
struct HnswlibFigures {
  bool ran = false;
  double recall_default_ef = 0;
  // qps_by_threads[i] pairs with SuiteContext::search_threads[i], at the default ef.
  std::vector<double> qps_by_threads;
  double build_seconds = 0;
  double rss_bytes_per_vector = 0;
};

struct RagdFigures {
  bool ran = false;
  std::string error;  // why the suite stopped early, if it did
  double recall_default_ef = 0;
  std::vector<int> clients;
  std::vector<double> qps_by_clients;
  double startup_seconds = 0;
  double ingest_seconds = 0;  // every Upsert of the data set, RagdOptions::upsert_clients
  double rss_delta_bytes_per_vector = 0;  // VmRSS after load minus VmRSS when empty, / N
  // The same once ragd is idle after the load (flushes, compactions, memory release done).
  double rss_delta_bytes_per_vector_settled = 0;
  // The same after a restart from the snapshot: no ingest garbage (memtables, freed batches).
  double rss_delta_bytes_per_vector_after_restart = 0;
  double shutdown_seconds = 0;  // SIGTERM to exit, after the searches
  // Points.SearchBatch, one client, RagdOptions::batch_size queries per call: queries/s.
  double batch_qps = 0;
  double batch_recall = 0;
  double batch_server_cpu_ms_per_query = 0;
  // ragd's CPU per Search call with one client (/proc/<pid>/stat, whole process).
  double server_cpu_ms_per_call = 0;
  // The part of it that ragd's index searches took, as ragd measures it (thread CPU time in
  // Shard::Search, GetCollection's vector_search_cpu_seconds); 0 when it could not be read.
  double server_index_cpu_ms_per_call = 0;
  // Every Search load of the ef sweep: {ef, clients, recall@10, calls/s}, in run order (the
  // collection's default ef first). For targets at equal recall.
  struct EfPoint {
    size_t ef = 0;
    int clients = 0;
    double recall = 0;
    double qps = 0;
  };
  std::vector<EfPoint> by_ef;
};

struct HnswlibOptions {
  size_t m = 16;
  size_t ef_construction = 200;
  // ragd's default collection ef (index/types.h): the bench measures recall there.
  size_t default_ef = 128;
  std::vector<size_t> ef_sweep = {32, 64, 128};
};
HnswlibFigures RunHnswlibSuite(const SuiteContext& ctx, const HnswlibOptions& options);

// The same suite in ragd_vector_bench_native, a child process (hnswlib_native.cc): hnswlib built
// with -march=native, the best build of the peer for the machine. Its rows are copied into this
// run's report with system "hnswlib-native".
inline constexpr char kNativeHnswlibSystem[] = "hnswlib-native";
struct NativeHnswlibOptions {
  std::string binary;    // ragd_vector_bench_native
  std::string work_dir;  // where the child's results file is written, then removed
  size_t default_ef = 128;
  // The child's data, graph and load flags (--n, --cache-dir, --ef-sweep, ...): the same as
  // this run's, so that it reads the same cached data set and truth.
  std::vector<std::string> args;
};
HnswlibFigures RunNativeHnswlibSuite(const SuiteContext& ctx, const NativeHnswlibOptions& options);

// ragd's hnsw backend in process (index_suite.cc), with the ragd suite's graph parameters.
struct IndexOptions {
  size_t m = 16;
  size_t ef_construction = 200;
  size_t ef = 128;  // the collection default the ragd suite uses; every thread count runs here
  // Single-thread searches also at these ef values (must contain `ef`).
  std::vector<size_t> ef_sweep = {128};
  index::Quantization quantization = index::Quantization::kNone;
  // Quantized kinds: re-scored at each of these (the first is the one figures report), and
  // without re-scoring.
  std::vector<float> oversampling = {2};
  // Quantized kinds: re-scoring reads through a storage::VectorFile in front of RocksDB, as
  // the engine's shards do with engine.rescore_file (the default); false: RocksDB only.
  bool rescore_file = true;
  // The seed of the generator drawing node levels (HnswIndex::SetLevelSeed; 100 is what every
  // index uses): other seeds give other graphs of the same data, to tell a systematic recall
  // difference from one graph's luck.
  uint32_t level_seed = 100;
};
struct IndexFigures {
  bool ran = false;
  std::string error;
  std::vector<double> qps_by_threads;  // pairs with SuiteContext::search_threads
  double recall_default_ef = 0;        // one thread
  // One thread, every ef of the sweep, the figure's setting (float32, or re-scored at the first
  // oversampling): {ef, recall@10, QPS}, in sweep order.
  struct EfPoint {
    size_t ef = 0;
    double recall = 0;
    double qps = 0;
  };
  std::vector<EfPoint> one_thread_by_ef;
  // Process CPU per search at the default ef, one search thread (the index walk's cost,
  // compared with ragd's server CPU per call: RagdFigures::server_cpu_ms_per_call).
  double cpu_ms_per_search = 0;
  double index_bytes_per_vector = 0;
};
IndexFigures RunIndexSuite(const SuiteContext& ctx, const IndexOptions& options);
// "none", "f16", "int8".
bool ParseQuantization(const std::string& name, index::Quantization* out);

struct FaissOptions {
  std::vector<std::string> factories = {"HNSW32", "HNSW32,SQ8"};
  // ragd's FAISS backend builds with efConstruction 200 too (FAISS's own default is 40).
  int ef_construction = 200;
  std::vector<int> ef_sweep = {32, 64, 128, 256};
};
void RunFaissSuite(const SuiteContext& ctx, const FaissOptions& options);

struct RagdOptions {
  std::string binary;      // path of the ragd executable
  std::string work_dir;    // parent of the temporary data directory; "" = $TMPDIR or /tmp
  bool keep_data = false;  // leave the data directory behind
  size_t m = 16;
  size_t ef_construction = 200;
  size_t ef = 64;
  size_t upsert_batch = 1000;  // points per Upsert (1000 x 1536 floats = 6 MiB)
  int upsert_clients = 2;      // concurrent Upsert callers
  std::vector<int> clients = {1, 2, 8};
  double startup_timeout_seconds = 300;
  double settle_timeout_seconds = 300;  // longest wait for ragd to go idle after the load
  // HnswSpec.quantization of the collection: "none", "f16", "int8". Records name the system
  // "ragd" for none, "ragd-<kind>" otherwise.
  std::string quantization = "none";
  // Queries per Points.SearchBatch call for the batch measurement (one client); 0 skips it.
  size_t batch_size = 64;
  // Listen on a Unix socket in the run's directory instead of 127.0.0.1 (--transport unix).
  bool unix_socket = false;
  // Per-request ef values (SearchRequest.ef) searched with every client count besides the
  // collection's default `ef`, which the targets use. Empty: the default only.
  std::vector<size_t> ef_sweep;
  // Called with (system, target) once the loads above are done and before ragd is stopped for
  // the restart: more measurements against the loaded server (the paired rounds).
  std::function<void(const std::string& system, const std::string& target)> while_serving;
};
RagdFigures RunRagdSuite(const SuiteContext& ctx, const RagdOptions& options);

// The gRPC floor (bench/grpc_floor_server.cc): a server answering Points.Search with fixed hits
// and nothing else, driven by the same client loop as ragd. Its CPU per call is what gRPC
// alone costs on this machine, so that ragd's figure beyond its walk splits into gRPC's share
// and ragd's own, within one run.
struct GrpcFloorOptions {
  std::string binary;  // path of ragd_grpc_floor
  std::vector<int> clients = {1, 2};
  double startup_timeout_seconds = 30;
  bool unix_socket = false;  // as RagdOptions::unix_socket
  // > 0: each API is also measured with a handler that reads random 6 KiB rows of a 512 MiB
  // buffer for this long before answering (ragd_grpc_floor --work-us), systems
  // "grpc-floor-<api>-walk": the floor under a handler as long as ragd's walk, whose memory
  // traffic leaves gRPC's and the kernel's data as cold as the walk leaves them.
  int64_t work_us = 0;
};
struct GrpcFloorFigures {
  bool ran = false;
  std::string error;
  // One client, by API: server CPU per call; the same with GrpcFloorOptions::work_us of work
  // per call, and the calls/s then (0 when not measured).
  struct Api {
    double cpu_ms_per_call = 0;
    double walk_cpu_ms_per_call = 0;
    double walk_qps = 0;
  };
  Api callback, async, sync;
  // The async floor with work_us of work, one client, on a server given as many threads as
  // the most clients measured (what a server must run to serve them at once), on a queue each
  // and on one shared queue: walk_* only (0 when not measured, e.g. with clients 1 alone).
  int async_wide_threads = 0;
  Api async_wide, async_wide_one_queue;
  // The one-thread async server under that many clients, with work_us of work: calls/s.
  int async_one_thread_widest_clients = 0;
  double async_one_thread_widest_walk_qps = 0;
  // The socket floor (ragd_grpc_floor --api socket, no gRPC), by GrpcFloorOptions::clients in
  // order: server CPU per call without and with work_us of work, and calls/s with it. Empty
  // when not measured (--transport unix).
  std::vector<double> socket_cpu_ms_per_call_by_clients;
  std::vector<double> socket_walk_cpu_ms_per_call_by_clients;
  std::vector<double> socket_walk_qps_by_clients;
};
GrpcFloorFigures RunGrpcFloorSuite(const SuiteContext& ctx, const GrpcFloorOptions& options);
// The floors' figures as keys of the targets record (none of them a target).
void AddGrpcFloorTargets(const GrpcFloorFigures& floor, const GrpcFloorOptions& options,
                         nlohmann::json* targets);

}  // namespace ragd::bench
