// vector_bench: one run measures in-process hnswlib, in-process FAISS and ragd over gRPC on the
// same embedding-like data against the same exact ground truth, and checks ragd against the
// targets of issue #2. See bench/README.md for what each figure means.
//
// Output: JSON lines (stdout and --out). Progress goes to stderr.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "bench/bench_util.h"
#include "bench/dataset.h"
#include "bench/paired_suite.h"
#include "bench/suites.h"

#ifndef RAGD_BENCH_SOURCE_DIR
#define RAGD_BENCH_SOURCE_DIR "."
#endif
#ifndef RAGD_BENCH_NATIVE_PATH
#define RAGD_BENCH_NATIVE_PATH ""
#endif
#ifndef RAGD_BENCH_RAGD_PATH
#define RAGD_BENCH_RAGD_PATH ""
#endif

namespace ragd::bench {
namespace {

// The generic and native variants exist only to measure hnswlib with other -march flags (generic
// x86-64: the SIMD choice; native: the best build for this machine): FAISS is a prebuilt library
// and ragd a separate binary, so neither would change.
#ifdef RAGD_BENCH_HNSWLIB_ONLY
constexpr bool kHnswlibOnly = true;
constexpr char kDefaultOut[] = "/bench/results/" RAGD_BENCH_VARIANT ".jsonl";
#else
constexpr bool kHnswlibOnly = false;
constexpr char kDefaultOut[] = "/bench/results/latest.jsonl";
#endif

constexpr double kRecallTarget = 0.95;
constexpr double kQpsRatioTarget = 0.8;
constexpr double kStartupTarget = 5.0;
constexpr double kMemoryRatioTarget = 1.2;

void Log(const std::string& message) { std::cerr << "vector_bench: " << message << std::endl; }

// The data set and its ground truth cached in one file, so that a rerun at 100k skips the
// generation and the exact search (about a minute on 2 cores). The name holds every knob that
// changes the data; the file starts with a magic, the sizes, and is checked against its length
// before anything is read into memory. Layout (little-endian, no padding; bench/README.md):
//   "RAGDBDS1"  u64 num_base  u64 num_queries  u64 dim  u64 k
//   f32 base[num_base][dim]  f32 queries[num_queries][dim]  i64 truth[num_queries][k]
// Readers outside this program (bench/usearch_peer.mjs) depend on it: change the magic if it
// changes.
constexpr char kCacheMagic[8] = {'R', 'A', 'G', 'D', 'B', 'D', 'S', '1'};

std::string CachePath(const std::string& dir, const DatasetOptions& o) {
  std::ostringstream name;
  name << dir << "/dataset-n" << o.num_base << "-q" << o.num_queries << "-d" << o.dim << "-s"
       << o.seed << "-t" << o.topics << "." << o.subtopics << "-z" << o.topic_zipf << "-e"
       << o.common << "_" << o.topic << "_" << o.subtopic << "_" << o.style << "_" << o.iso << "-r"
       << o.style_rank << "_" << o.style_decay << "-k" << kTopK << ".bin";
  return name.str();
}

// ragd_vector_bench_native's flags for the same data set (so the same cache file), graph and
// loads as this run's hnswlib suite.
std::vector<std::string> NativeArgs(const DatasetOptions& o, const std::string& cache_dir,
                                    const HnswlibOptions& h, const SuiteContext& ctx) {
  auto num = [](double v) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.17g", v);
    return std::string(buf);
  };
  auto list = [](const auto& values) {
    std::string out;
    for (const auto& v : values) out += (out.empty() ? "" : ",") + std::to_string(v);
    return out;
  };
  // Flag and value pairs, a few to a line.
  // clang-format off
  return {"--n", std::to_string(o.num_base), "--queries", std::to_string(o.num_queries),
          "--dim", std::to_string(o.dim), "--seed", std::to_string(o.seed),
          "--topics", std::to_string(o.topics), "--subtopics", std::to_string(o.subtopics),
          "--energy-common", num(o.common), "--energy-topic", num(o.topic),
          "--energy-subtopic", num(o.subtopic), "--energy-style", num(o.style),
          "--energy-iso", num(o.iso), "--style-rank", std::to_string(o.style_rank),
          "--style-decay", num(o.style_decay), "--cache-dir", cache_dir,
          "--ef-sweep", list(h.ef_sweep), "--search-threads", list(ctx.search_threads),
          "--build-threads", std::to_string(ctx.build_threads),
          "--min-seconds", num(ctx.load.min_seconds), "--max-passes",
          std::to_string(ctx.load.max_passes)};
  // clang-format on
}

bool LoadCache(const std::string& path, const DatasetOptions& o, Dataset* data,
               std::vector<int64_t>* truth) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return false;
  const uint64_t file_bytes = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  char magic[8];
  uint64_t header[4];
  if (!in.read(magic, 8) || !in.read(reinterpret_cast<char*>(header), sizeof(header)) ||
      std::memcmp(magic, kCacheMagic, 8) != 0 || header[0] != o.num_base ||
      header[1] != o.num_queries || header[2] != o.dim || header[3] != kTopK) {
    return false;
  }
  const uint64_t floats = (o.num_base + o.num_queries) * o.dim;
  const uint64_t ids = o.num_queries * kTopK;
  if (file_bytes != 8 + sizeof(header) + floats * sizeof(float) + ids * sizeof(int64_t)) {
    return false;
  }
  data->dim = o.dim;
  data->num_base = o.num_base;
  data->num_queries = o.num_queries;
  data->base.resize(o.num_base * o.dim);
  data->queries.resize(o.num_queries * o.dim);
  truth->resize(ids);
  return in.read(reinterpret_cast<char*>(data->base.data()), data->base.size() * sizeof(float)) &&
         in.read(reinterpret_cast<char*>(data->queries.data()),
                 data->queries.size() * sizeof(float)) &&
         in.read(reinterpret_cast<char*>(truth->data()), ids * sizeof(int64_t));
}

void SaveCache(const std::string& path, const Dataset& data, const std::vector<int64_t>& truth) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    const uint64_t header[4] = {data.num_base, data.num_queries, data.dim, kTopK};
    out.write(kCacheMagic, 8);
    out.write(reinterpret_cast<const char*>(header), sizeof(header));
    out.write(reinterpret_cast<const char*>(data.base.data()), data.base.size() * sizeof(float));
    out.write(reinterpret_cast<const char*>(data.queries.data()),
              data.queries.size() * sizeof(float));
    out.write(reinterpret_cast<const char*>(truth.data()), truth.size() * sizeof(int64_t));
    if (!out) {
      Log("cannot write the data set cache " + tmp);
      return;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) Log("cannot rename the data set cache: " + ec.message());
}

int Run(int argc, char** argv) {
  DatasetOptions data_options;
  SuiteContext ctx;
  HnswlibOptions hnswlib_options;
  FaissOptions faiss_options;
  RagdOptions ragd_options;
  ragd_options.binary = RAGD_BENCH_RAGD_PATH;
  GrpcFloorOptions floor_options;
  floor_options.binary = RAGD_BENCH_FLOOR_PATH;
  bool skip_grpc_floor = false;
  std::string out = std::string(RAGD_BENCH_SOURCE_DIR) + kDefaultOut;
  bool skip_ragd = false;
  bool skip_faiss = false;
  bool skip_hnswlib = false;
  bool with_index = false;
  std::vector<std::string> quantizations = {"none"};
  std::vector<float> oversampling = {0};
  std::vector<size_t> index_ef_sweep;
  std::vector<uint32_t> index_seeds = {100};
  std::vector<std::string> ragd_quantizations = {"none"};
  std::string cache_dir;
  ctx.build_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  CLI::App app("vector_bench: hnswlib, FAISS and ragd on embedding-like vectors", "vector_bench");
  app.add_option("--n", data_options.num_base, "base vectors")->capture_default_str();
  app.add_option("--queries", data_options.num_queries, "query vectors")->capture_default_str();
  app.add_option("--dim", data_options.dim, "dimension")->capture_default_str();
  app.add_option("--seed", data_options.seed, "data set seed")->capture_default_str();
  // The data model's knobs (dataset.h); the defaults give ada-002-like statistics.
  app.add_option("--topics", data_options.topics)->capture_default_str()->group("Data model");
  app.add_option("--subtopics", data_options.subtopics)->capture_default_str()->group("Data model");
  app.add_option("--energy-common", data_options.common)
      ->capture_default_str()
      ->group("Data model");
  app.add_option("--energy-topic", data_options.topic)->capture_default_str()->group("Data model");
  app.add_option("--energy-subtopic", data_options.subtopic)
      ->capture_default_str()
      ->group("Data model");
  app.add_option("--energy-style", data_options.style)->capture_default_str()->group("Data model");
  app.add_option("--energy-iso", data_options.iso)->capture_default_str()->group("Data model");
  app.add_option("--style-rank", data_options.style_rank)
      ->capture_default_str()
      ->group("Data model");
  app.add_option("--style-decay", data_options.style_decay)
      ->capture_default_str()
      ->group("Data model");
  app.add_option("--out", out, "JSON-lines results file ('' for stdout only)")
      ->capture_default_str();
  app.add_flag("--skip-ragd", skip_ragd, "do not measure ragd over gRPC");
  app.add_flag("--skip-faiss", skip_faiss, "do not measure FAISS");
  app.add_flag("--skip-hnswlib", skip_hnswlib, "do not measure in-process hnswlib");
  NativeHnswlibOptions native_options;
  native_options.binary = RAGD_BENCH_NATIVE_PATH;
  app.add_option("--hnswlib-native", native_options.binary,
                 "ragd_vector_bench_native: hnswlib built with -march=native, run beside the "
                 "project-flags hnswlib as the best build of the peer (needs --cache-dir; '' "
                 "skips)")
      ->capture_default_str();
  app.add_flag("--with-index", with_index,
               "also measure ragd's hnsw backend in process (where the service's overhead is)");
  app.add_option("--quantization", quantizations,
                 "--with-index: storage kinds of ragd's hnsw backend (none, f16, int8)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--oversampling", oversampling,
                 "--with-index, quantized kinds: re-scoring factors (the first is the figure; 0 is "
                 "ragd's default per kind: 1.5 for int8, 1 for f16)")
      ->delimiter(',')
      ->capture_default_str();
  bool no_rescore_file = false;
  app.add_flag("--no-rescore-file", no_rescore_file,
               "--with-index, quantized kinds: re-score from RocksDB only (no file cache, as "
               "engine.rescore_file: false)");
  app.add_option("--index-ef-sweep", index_ef_sweep,
                 "--with-index: single-thread ef values (default: hnswlib's --ef-sweep)")
      ->delimiter(',');
  app.add_option("--index-seeds", index_seeds,
                 "--with-index: seeds of the generator drawing HNSW node levels, one graph of "
                 "each --quantization kind per seed (100 is every index's; figures and targets "
                 "use the first)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--ragd-quantization", ragd_quantizations,
                 "storage kinds of the collection ragd serves over gRPC, one ragd run each "
                 "(none, f16, int8)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--cache-dir", cache_dir,
                 "keep the data set and its ground truth here and reuse them when the knobs match")
      ->capture_default_str();
  app.add_option("--batch-size", ragd_options.batch_size,
                 "queries per Points.SearchBatch call (one client; 0 skips)")
      ->capture_default_str();
  app.add_option("--ragd", ragd_options.binary, "ragd executable")->capture_default_str();
  app.add_option("--grpc-floor", floor_options.binary,
                 "ragd_grpc_floor executable (gRPC alone: Points.Search with fixed hits)")
      ->capture_default_str();
  std::string transport = "tcp";
  app.add_option("--transport", transport,
                 "how the clients reach ragd and the gRPC floor: tcp (127.0.0.1) or unix (a Unix "
                 "socket in the run's directory)")
      ->check(CLI::IsMember({"tcp", "unix"}))
      ->capture_default_str();
  app.add_flag("--skip-grpc-floor", skip_grpc_floor,
               "do not measure the gRPC floor (measured whenever ragd is, with its --clients)");
  int64_t floor_work_us = -1;
  app.add_option("--grpc-floor-work-us", floor_work_us,
                 "the gRPC floor also with a handler reading random 6 KiB rows for this long "
                 "(systems grpc-floor-*-walk); -1: as long as ragd's float32 walk in process at "
                 "the default ef when --with-index measured it, else not; 0: not")
      ->check(CLI::Range(int64_t{-1}, int64_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--work-dir", ragd_options.work_dir, "parent of ragd's temporary data dir");
  app.add_flag("--keep-data", ragd_options.keep_data, "keep ragd's data directory");
  app.add_option("--build-threads", ctx.build_threads, "threads inserting in-process")
      ->capture_default_str();
  app.add_option("--search-threads", ctx.search_threads, "in-process search thread counts")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--clients", ragd_options.clients, "concurrent ragd clients")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--settle-timeout", ragd_options.settle_timeout_seconds,
                 "longest wait for ragd to go idle after the load, seconds")
      ->capture_default_str();
  app.add_option("--upsert-clients", ragd_options.upsert_clients, "concurrent Upsert callers")
      ->capture_default_str();
  app.add_option("--upsert-batch", ragd_options.upsert_batch, "points per Upsert")
      ->capture_default_str();
  app.add_option("--ef-sweep", hnswlib_options.ef_sweep, "hnswlib ef values")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--faiss-ef-sweep", faiss_options.ef_sweep, "FAISS efSearch values")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--faiss-efc", faiss_options.ef_construction, "FAISS efConstruction")
      ->capture_default_str();
  app.add_option("--faiss-factories", faiss_options.factories,
                 "FAISS index_factory strings, separated by ';'")
      ->delimiter(';')
      ->capture_default_str();
  app.add_option("--min-seconds", ctx.load.min_seconds, "minimum duration of a query load")
      ->capture_default_str();
  app.add_option("--max-passes", ctx.load.max_passes, "maximum passes over the queries")
      ->capture_default_str();
  PairedOptions paired_options;
#ifndef RAGD_BENCH_HNSWLIB_ONLY
  AddPairedFlags(app, &paired_options);
#endif
  CLI11_PARSE(app, argc, argv);
  if (data_options.num_base < kTopK || data_options.num_queries == 0 || data_options.dim == 0) {
    std::cerr << "vector_bench: need --n >= " << kTopK << ", --queries >= 1, --dim >= 1\n";
    return 2;
  }
  if (ctx.search_threads.empty() || ragd_options.clients.empty() ||
      faiss_options.ef_sweep.empty() ||
      std::find(hnswlib_options.ef_sweep.begin(), hnswlib_options.ef_sweep.end(),
                hnswlib_options.default_ef) == hnswlib_options.ef_sweep.end()) {
    std::cerr << "vector_bench: --search-threads, --clients and --faiss-ef-sweep must be "
                 "non-empty and "
                 "--ef-sweep must contain the default ef "
              << hnswlib_options.default_ef << "\n";
    return 2;
  }
  ragd_options.unix_socket = transport == "unix";
  floor_options.unix_socket = transport == "unix";
  if (index_seeds.empty()) {
    std::cerr << "vector_bench: --index-seeds needs at least one seed\n";
    return 2;
  }
  if (kHnswlibOnly) {
    skip_ragd = true;
    skip_faiss = true;
    with_index = false;
  }

  Report report(out);
  ctx.report = &report;
  report.Write(HardwareRecord(RAGD_BENCH_SOURCE_DIR));

  Log("generating " + std::to_string(data_options.num_base) + " + " +
      std::to_string(data_options.num_queries) + " vectors of dim " +
      std::to_string(data_options.dim));
  Clock::time_point t0 = Clock::now();
  Dataset data;
  std::vector<int64_t> truth;
  const std::string cache = cache_dir.empty() ? "" : CachePath(cache_dir, data_options);
  const bool cached = !cache.empty() && LoadCache(cache, data_options, &data, &truth);
  if (cached) Log("data set and ground truth from " + cache);
  if (!cached) data = GenerateDataset(data_options);
  const double generate_seconds = SecondsSince(t0);
  CosineStats cos = RandomPairCosine(data, 100000, data_options.seed);
  t0 = Clock::now();
  if (!cached) {
    Log("ground truth");
    truth = ExactTopK(data, kTopK, ctx.build_threads);
  }
  const double truth_seconds = SecondsSince(t0);
  if (!cache.empty() && !cached) {
    std::error_code ec;
    std::filesystem::create_directories(cache_dir, ec);
    SaveCache(cache, data, truth);
  }
  NeighbourScores neighbours = MeanNeighbourScores(data, truth, kTopK);
  report.Write({
      {"bench", "dataset"},
      {"system", "synthetic"},
      {"threads", ctx.build_threads},
      {"n", data.num_base},
      {"queries", data.num_queries},
      {"dim", data.dim},
      {"seed", data_options.seed},
      {"model",
       {{"topics", data_options.topics},
        {"subtopics", data_options.subtopics},
        {"topic_zipf", data_options.topic_zipf},
        {"energy_common", data_options.common},
        {"energy_topic", data_options.topic},
        {"energy_subtopic", data_options.subtopic},
        {"energy_style", data_options.style},
        {"energy_iso", data_options.iso},
        {"style_rank", data_options.style_rank},
        {"style_decay", data_options.style_decay}}},
      {"generate_seconds", generate_seconds},
      {"from_cache", cached},
      // Where the data set and its ground truth are (the layout above SaveCache): the peers
      // run outside this process (bench/usearch_peer.mjs) read the same vectors and truth here.
      {"cache_file", cache.empty() ? cache : std::filesystem::absolute(cache).string()},
      {"mean_cosine_random_pairs", cos.mean},
      {"cosine_random_pairs_stddev", cos.stddev},
      {"cosine_random_pairs_p05", cos.p05},
      {"cosine_random_pairs_p95", cos.p95},
      {"mean_score_top1", neighbours.top1},
      {"mean_score_top10", neighbours.topk},
      {"ground_truth_seconds", truth_seconds},
      {"raw_bytes", data.base.size() * sizeof(float)},
  });

  ctx.data = &data;
  ctx.truth = &truth;

  HnswlibFigures hnswlib;
  if (!skip_hnswlib) {
    Log("hnswlib");
    hnswlib = RunHnswlibSuite(ctx, hnswlib_options);
  }
  // The best build of the peer for this machine, in a child process reading the same cached
  // data set (hnswlib_native.cc).
  HnswlibFigures hnswlib_native;
  if (!skip_hnswlib && !kHnswlibOnly && !native_options.binary.empty()) {
    if (cache_dir.empty()) {
      report.Write({{"bench", "error"},
                    {"system", kNativeHnswlibSystem},
                    {"threads", 0},
                    {"error", "not measured: needs --cache-dir (the data set it shares)"}});
    } else {
      Log("hnswlib -march=native (" + native_options.binary + ")");
      native_options.work_dir = cache_dir;
      native_options.default_ef = hnswlib_options.default_ef;
      native_options.args = NativeArgs(data_options, cache_dir, hnswlib_options, ctx);
      hnswlib_native = RunNativeHnswlibSuite(ctx, native_options);
    }
  }
  IndexFigures index_figures;  // float32 (quantization none), for the ratios below
  std::vector<std::pair<std::string, IndexFigures>> quantized_figures;
  if (with_index) {
    IndexOptions index_options;
    index_options.m = hnswlib_options.m;
    index_options.ef_construction = hnswlib_options.ef_construction;
    index_options.ef = hnswlib_options.default_ef;
    index_options.ef_sweep = index_ef_sweep.empty() ? hnswlib_options.ef_sweep : index_ef_sweep;
    if (std::find(index_options.ef_sweep.begin(), index_options.ef_sweep.end(), index_options.ef) ==
        index_options.ef_sweep.end()) {
      index_options.ef_sweep.push_back(index_options.ef);
    }
    index_options.oversampling = oversampling;
    index_options.rescore_file = !no_rescore_file;
#ifndef RAGD_BENCH_HNSWLIB_ONLY
    for (size_t s = 0; s < index_seeds.size(); ++s) {
      index_options.level_seed = index_seeds[s];
      for (const std::string& name : quantizations) {
        if (!ParseQuantization(name, &index_options.quantization) || oversampling.empty()) {
          std::cerr << "vector_bench: --quantization takes none, f16, int8; --oversampling a "
                       "non-empty list\n";
          return 2;
        }
        Log("ragd-index " + name + " (in process, level seed " + std::to_string(index_seeds[s]) +
            ")");
        IndexFigures f = RunIndexSuite(ctx, index_options);
        if (!f.ran) Log("ragd-index " + name + ": " + f.error);
        if (s > 0) continue;  // the other seeds' records are in the file; figures: the first
        if (index_options.quantization == index::Quantization::kNone) {
          index_figures = f;
        } else {
          quantized_figures.emplace_back(name, f);
        }
      }
    }
#endif
  }
  // Issue 16's ratios again from paired rounds (paired_suite.h), reported beside the ones above.
  nlohmann::json paired_targets = nlohmann::json::object();
#ifndef RAGD_BENCH_HNSWLIB_ONLY
  std::unique_ptr<PairedSuite> paired;
  if (with_index && paired_options.rounds > 0) {
    Log("paired rounds: hnswlib -march=native and ragd's backend per kind, then ragd over gRPC");
    paired_options.m = hnswlib_options.m;
    paired_options.ef_construction = hnswlib_options.ef_construction;
    paired_options.default_ef = hnswlib_options.default_ef;
    paired_options.ef_sweep = index_ef_sweep.empty() ? hnswlib_options.ef_sweep : index_ef_sweep;
    paired_options.rescore_file = !no_rescore_file;
    std::string error;
    paired = PairedSuite::Start(ctx, paired_options, &error);
    if (paired == nullptr) Log("paired rounds: " + error);
    if (paired != nullptr) {
      paired->RunInProcess(&paired_targets);
      paired->ReleaseIndexes();
      ragd_options.while_serving = [&](const std::string& system, const std::string& target) {
        paired->RunOverGrpc(system, target, &paired_targets);
      };
    }
  }
#endif
  RagdFigures ragd;  // float32 ("none", or the first kind when none is not measured)
  std::vector<std::pair<std::string, RagdFigures>> ragd_quantized;
  if (!skip_ragd) {
    ragd_options.m = hnswlib_options.m;
    ragd_options.ef_construction = hnswlib_options.ef_construction;
    ragd_options.ef = hnswlib_options.default_ef;
    ragd_options.ef_sweep = hnswlib_options.ef_sweep;
    for (const std::string& name : ragd_quantizations) {
      Log("ragd " + name);
      ragd_options.quantization = name;
      RagdFigures f = RunRagdSuite(ctx, ragd_options);
      if (!f.error.empty()) Log("ragd " + name + ": " + f.error);
      if (name == "none") {
        ragd = f;
      } else {
        ragd_quantized.emplace_back(name, f);
      }
    }
  }
  // The gRPC floor beside ragd (a few seconds): what a Search call costs gRPC alone here, with
  // the same client loop and client counts.
  GrpcFloorFigures grpc_floor;
  if (!skip_ragd && !skip_grpc_floor) {
    Log("grpc floor (callback, sync, async) and socket floor");
    floor_options.clients = ragd_options.clients;
    floor_options.work_us = floor_work_us;
    if (floor_work_us < 0) {
      floor_options.work_us =
          index_figures.ran ? std::llround(index_figures.cpu_ms_per_search * 1000) : 0;
    }
    grpc_floor = RunGrpcFloorSuite(ctx, floor_options);
    if (!grpc_floor.error.empty()) Log("grpc floor: " + grpc_floor.error);
  }
  // FAISS last: its builds are the slowest part of a run, and an interrupted run should still
  // have the ragd figures.
  if (!skip_faiss) {
    Log("faiss");
    RunFaissSuite(ctx, faiss_options);
  }

  nlohmann::json targets = {{"bench", "targets"},
                            {"system", "ragd"},
                            {"threads", 0},
                            {"n", data.num_base},
                            {"dim", data.dim}};
  if (ragd.ran) {
    targets["recall_at_10_default_ef"] = Target(ragd.recall_default_ef, kRecallTarget, true);
    targets["startup_seconds"] = Target(ragd.startup_seconds, kStartupTarget, false);
    // Resident memory once the server is idle after the load (steady state); the figure
    // right after the last Upsert (memtables not yet flushed) and the one after a restart are
    // reported beside it.
    targets["memory_ratio_vs_raw_plus_links"] =
        Target(ragd.rss_delta_bytes_per_vector_settled /
                   RawPlusLinksBytesPerVector(data.dim, hnswlib_options.m),
               kMemoryRatioTarget, false);
    targets["memory_ratio_vs_raw_plus_links_right_after_ingest"] = Target(
        ragd.rss_delta_bytes_per_vector / RawPlusLinksBytesPerVector(data.dim, hnswlib_options.m),
        kMemoryRatioTarget, false);
    targets["memory_ratio_vs_raw_plus_links_after_restart"] =
        Target(ragd.rss_delta_bytes_per_vector_after_restart /
                   RawPlusLinksBytesPerVector(data.dim, hnswlib_options.m),
               kMemoryRatioTarget, false);
    if (index_figures.ran) {
      // Not a target: ragd over gRPC against its own backend in process, i.e. what the service
      // (gRPC, threads, the engine) costs on top of the same graph walk.
      for (size_t i = 0; i < ctx.search_threads.size() && i < index_figures.qps_by_threads.size();
           ++i) {
        for (size_t j = 0; j < ragd.clients.size(); ++j) {
          if (ragd.clients[j] != ctx.search_threads[i] || index_figures.qps_by_threads[i] <= 0) {
            continue;
          }
          targets["service_qps_ratio_vs_index_" + std::to_string(ctx.search_threads[i])] =
              ragd.qps_by_clients[j] / index_figures.qps_by_threads[i];
        }
      }
      // Issue 16's service target (below) with the walk measured where it runs: ragd's whole
      // process per call minus the CPU its index searches took in that process (ragd's own
      // thread-CPU account, GetCollection). The in-process walk above runs in a tight loop; in
      // the server every walk starts after gRPC and the kernel have handled a request, and
      // whatever that costs the walk belongs to the walk, not to the service path. Reported
      // beside the original, never instead of it.
      if (ragd.server_index_cpu_ms_per_call > 0) {
        targets["service_cpu_us_per_search_beyond_index_in_server"] = Target(
            (ragd.server_cpu_ms_per_call - ragd.server_index_cpu_ms_per_call) * 1000, 80, false);
        targets["index_cpu_ms_per_search_in_server"] = ragd.server_index_cpu_ms_per_call;
      }
      // Issue 16: server CPU per Search beyond the index walk (ragd's whole process per call,
      // one client, minus the same walk's CPU in process), target <= 80 us.
      if (ragd.server_cpu_ms_per_call > 0 && index_figures.cpu_ms_per_search > 0) {
        const double beyond =
            (ragd.server_cpu_ms_per_call - index_figures.cpu_ms_per_search) * 1000;
        targets["service_cpu_us_per_search_beyond_index"] = Target(beyond, 80, false);
        // Not a target: the same figure less gRPC's own floor in this run (an empty callback
        // server, as ragd's API), i.e. what ragd's code and the server's cache misses add.
        if (grpc_floor.callback.cpu_ms_per_call > 0) {
          targets["service_cpu_us_per_search_beyond_index_and_grpc_floor"] =
              beyond - grpc_floor.callback.cpu_ms_per_call * 1000;
        }
        // Not a target: the same less the floor under a handler as long as the walk (its CPU
        // beyond its work), i.e. what ragd's own code adds to any gRPC server doing that walk.
        if (grpc_floor.callback.walk_cpu_ms_per_call > 0 && floor_options.work_us > 0) {
          targets["service_cpu_us_per_search_beyond_index_and_grpc_floor_walk"] =
              beyond - (grpc_floor.callback.walk_cpu_ms_per_call * 1000 -
                        static_cast<double>(floor_options.work_us));
        }
      }
    }
    if (ragd.batch_server_cpu_ms_per_query > 0 && ragd.server_cpu_ms_per_call > 0) {
      // Not a target: what a query costs the server in a SearchBatch against a Search call.
      targets["batch_server_cpu_ratio_vs_search"] =
          ragd.batch_server_cpu_ms_per_query / ragd.server_cpu_ms_per_call;
    }
  } else if (!skip_ragd) {
    targets["ragd_error"] = ragd.error;
  }
  if (grpc_floor.ran) AddGrpcFloorTargets(grpc_floor, floor_options, &targets);

  // Every ratio against in-process hnswlib, once per build of it: `hn` is "hnswlib" for the
  // build with this binary's flags (-march=x86-64-v3, as ragd's own) and "hnswlib_native" for
  // -march=native, the best build for this machine (issue 16's reference; ragd picks its
  // AVX-512 kernels at run time). Issue 16's targets: one search thread or client against
  // in-process float32 hnswlib at the default ef; memory ratios against ragd's own float32
  // figures.
  nlohmann::json quant;
  auto versus = [&](const HnswlibFigures& ref, const std::string& hn) {
    if (!ref.ran) return;
    const std::string vs = "_vs_" + hn;  // "_vs_hnswlib", "_vs_hnswlib_native"
    targets[hn + "_recall_at_10_default_ef"] = Target(ref.recall_default_ef, kRecallTarget, true);
    if (index_figures.ran) {
      // Not a target: how close the backend's own walk is to hnswlib's (the service's share of
      // the QPS gap is the rest).
      for (size_t i = 0; i < ctx.search_threads.size() && i < ref.qps_by_threads.size() &&
                         i < index_figures.qps_by_threads.size();
           ++i) {
        targets["index_qps_ratio" + vs + "_" + std::to_string(ctx.search_threads[i])] =
            ref.qps_by_threads[i] > 0 ? index_figures.qps_by_threads[i] / ref.qps_by_threads[i] : 0;
      }
    }
    const double ref_qps1 = !ref.qps_by_threads.empty() ? ref.qps_by_threads[0] : 0;
    auto ratio1 = [&](double qps) { return ref_qps1 > 0 ? qps / ref_qps1 : 0; };
    for (const auto& [name, f] : quantized_figures) {
      // Not targets of this run (issue 16's are at 100k): the quantized kinds against
      // in-process float32 hnswlib, at the default ef, one thread.
      if (!f.ran || f.qps_by_threads.empty()) continue;
      targets["index_" + name + "_qps_ratio" + vs + "_1"] = ratio1(f.qps_by_threads[0]);
    }
    if (ragd.ran) {
      // Same N on both sides: ragd with N clients against hnswlib with N search threads.
      for (size_t i = 0; i < ctx.search_threads.size() && i < ref.qps_by_threads.size(); ++i) {
        for (size_t j = 0; j < ragd.clients.size(); ++j) {
          if (ragd.clients[j] != ctx.search_threads[i]) continue;
          targets["qps_ratio" + vs + "_" + std::to_string(ctx.search_threads[i])] =
              Target(ref.qps_by_threads[i] > 0 ? ragd.qps_by_clients[j] / ref.qps_by_threads[i] : 0,
                     kQpsRatioTarget, true);
        }
      }
      // Bulk upsert: every Upsert of the data set (--upsert-clients callers; ragd links each
      // batch on its insert threads) against hnswlib's build on --build-threads threads, as a
      // ratio of rates (issue 16: >= 0.8).
      if (ragd.ingest_seconds > 0 && ref.build_seconds > 0) {
        targets["upsert_rate_ratio" + vs + "_build"] =
            Target(ref.build_seconds / ragd.ingest_seconds, 0.8, true);
      }
    }
    // A ragd-over-gRPC target again at equal recall, in this run: the lowest ef of the sweep at
    // which ragd with N clients reaches hnswlib's recall at the default ef (and >= 0.95),
    // against hnswlib with N threads at the default ef. Reported beside the original (same
    // ef). `prefix` names the record keys; nothing is written when no swept ef reaches that
    // recall.
    auto at_equal_recall = [&](const RagdFigures& f, const std::string& prefix, double goal,
                               nlohmann::json* out) {
      const double want = std::max(ref.recall_default_ef, kRecallTarget);
      for (size_t i = 0; i < ctx.search_threads.size() && i < ref.qps_by_threads.size(); ++i) {
        const int n = ctx.search_threads[i];
        const RagdFigures::EfPoint* best = LowestEfReaching(
            f.by_ef, want, [n](const RagdFigures::EfPoint& p) { return p.clients == n; });
        if (best == nullptr || ref.qps_by_threads[i] <= 0) continue;
        const std::string key = prefix + "qps_ratio" + vs + "_" + std::to_string(n);
        (*out)[key + "_at_equal_recall"] = Target(best->qps / ref.qps_by_threads[i], goal, true);
        (*out)[key + "_equal_recall_ef"] = best->ef;
        (*out)[key + "_equal_recall"] = best->recall;
      }
    };
    if (ragd.ran) at_equal_recall(ragd, "", kQpsRatioTarget, &targets);
    for (const auto& [name, f] : quantized_figures) {
      if (!f.ran || f.qps_by_threads.empty()) continue;
      const bool recall_ok = f.recall_default_ef >= kRecallTarget &&
                             f.recall_default_ef >= ref.recall_default_ef - 1e-9;
      if (name == "int8") {
        quant["index_int8_qps_ratio" + vs + "_1"] = Target(ratio1(f.qps_by_threads[0]), 2.0, true);
        quant["index_int8_recall_at_least_" + hn] = recall_ok;
        // The same target at equal recall, in this run: the lowest ef of the sweep at which
        // INT8 reaches hnswlib's recall at the default ef (and >= 0.95), against hnswlib at
        // the default ef (bench-quant.sh sweeps ragd's backend past the default for this).
        if (const IndexFigures::EfPoint* p =
                LowestEfReaching(f.one_thread_by_ef, std::max(ref.recall_default_ef, kRecallTarget),
                                 [](const IndexFigures::EfPoint&) { return true; })) {
          quant["index_int8_qps_ratio" + vs + "_1_at_equal_recall"] =
              Target(ratio1(p->qps), 2.0, true);
          quant["index_int8_equal_recall_ef" + vs] = p->ef;
          quant["index_int8_equal_recall" + vs] = p->recall;
        }
      }
      if (name == "f16") quant["index_f16_qps_ratio" + vs + "_1"] = ratio1(f.qps_by_threads[0]);
    }
    if (ragd.ran && ragd.batch_qps > 0) {
      quant["ragd_batch_qps_ratio" + vs + "_1"] = ratio1(ragd.batch_qps);
    }
    for (const auto& [name, f] : ragd_quantized) {
      if (!f.ran) continue;
      const std::string key = "ragd_" + name;
      const double goal = name == "int8" ? 1.3 : 1.0;
      if (!f.qps_by_clients.empty() && f.clients.front() == 1) {
        quant[key + "_qps_ratio" + vs + "_1"] =
            Target(ratio1(f.qps_by_clients.front()), goal, true);
      }
      at_equal_recall(f, key + "_", goal, &quant);
      if (f.batch_qps > 0) {
        quant[key + "_batch_qps_ratio" + vs + "_1"] =
            Target(ratio1(f.batch_qps), name == "int8" ? 1.8 : 1.0, true);
      }
    }
  };
  versus(hnswlib, "hnswlib");
  versus(hnswlib_native, "hnswlib_native");
  // Issue 16's targets that do not involve hnswlib: F16 against ragd's own float32 backend,
  // the quantized collections' recall, start-up and memory against the float32 collection.
  for (const auto& [name, f] : quantized_figures) {
    if (!f.ran || f.qps_by_threads.empty()) continue;
    targets["index_" + name + "_recall_at_10_default_ef"] = f.recall_default_ef;
    targets["index_" + name + "_bytes_per_vector"] = f.index_bytes_per_vector;
    if (index_figures.ran && index_figures.index_bytes_per_vector > 0) {
      targets["index_" + name + "_memory_ratio_vs_float32_index"] =
          f.index_bytes_per_vector / index_figures.index_bytes_per_vector;
    }
    if (name == "f16" && index_figures.ran && !index_figures.qps_by_threads.empty()) {
      quant["index_f16_recall_loss_vs_float32"] =
          Target(index_figures.recall_default_ef - f.recall_default_ef, 0.005, false);
      quant["index_f16_qps_ratio_vs_float32_index_1"] =
          Target(f.qps_by_threads[0] / index_figures.qps_by_threads[0], 1.2, true);
      quant["index_f16_memory_ratio_vs_float32_index"] =
          Target(f.index_bytes_per_vector / index_figures.index_bytes_per_vector, 0.55, false);
    }
  }
  for (const auto& [name, f] : ragd_quantized) {
    if (!f.ran) continue;
    const std::string key = "ragd_" + name;
    quant[key + "_recall_at_10_default_ef"] = Target(f.recall_default_ef, kRecallTarget, true);
    if (f.batch_qps > 0) quant[key + "_batch_recall_at_10"] = f.batch_recall;
    quant[key + "_startup_seconds"] = Target(f.startup_seconds, kStartupTarget, false);
    quant[key + "_shutdown_seconds"] = f.shutdown_seconds;
    if (ragd.ran && ragd.rss_delta_bytes_per_vector_after_restart > 0) {
      quant[key + "_rss_ratio_vs_float32_after_restart"] =
          Target(f.rss_delta_bytes_per_vector_after_restart /
                     ragd.rss_delta_bytes_per_vector_after_restart,
                 name == "int8" ? 0.35 : 0.55, false);
    }
  }
  if (ragd.ran) quant["ragd_shutdown_seconds"] = ragd.shutdown_seconds;
  if (!quant.empty()) targets["issue16"] = quant;
  if (!paired_targets.empty()) targets["issue16_paired"] = paired_targets;
  report.Write(targets);
  if (!report.path().empty()) Log("results in " + report.path());
  bool failed = !ragd.error.empty();
  for (const auto& [name, f] : ragd_quantized) failed = failed || !f.error.empty();
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace ragd::bench

int main(int argc, char** argv) {
  try {
    return ragd::bench::Run(argc, argv);
  } catch (const std::exception& e) {
    // hnswlib and FAISS report failures (out of memory, bad parameters) by throwing.
    std::cerr << "vector_bench: " << e.what() << "\n";
    return 1;
  }
}
