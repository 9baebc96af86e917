// ragd_shard_bench: what a collection's shard count costs one pod, in process, in one run
// (issue 14: "shard count is fixed at collection creation, cluster default chosen by
// measurement").
//
// Why it matters: the shard count S caps the number of shard groups G a collection can ever be
// spread over (a group holds the shards s with s mod G = g; groups beyond S hold nothing), and
// it cannot change without re-creating the collection. But every search walks each shard a pod
// holds, one HNSW graph after another, so S/G shards per pod cost search time for no capacity.
// This bench measures that trade on the ada-like data of the other benches.
//
// For each (S, G) configuration: a fresh collection with S shards (HNSW, M 16, ef_construction
// 200, cosine) in an engine that holds the shards of group 0 of G (WriteBatch::holds_shard, as
// a cluster pod applies the log), loaded with the N points through Engine::Apply in batches of
// 500 (points/s, of the points this pod holds). All configurations stay open; then the query
// set at each ef of --efs, k 10, in passes alternating over every (configuration, ef): p50, p99, QPS of the pod's local search and, for G = 1 (the pod
// holds everything), recall@10 against exact search. A shard's contents depend on S only, so a
// G > 1 cluster's merged recall equals the G = 1 row of the same S and ef.
// Results: JSON lines (bench/README.md "Shard count"), the hardware line first.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "bench/dataset.h"
#include "index/engine/engine.h"

namespace {

using ragd::bench::Clock;
using ragd::bench::SecondsSince;
using namespace ragd::index;

[[noreturn]] void Die(const absl::Status& s) {
  std::cerr << "ragd_shard_bench: " << s << "\n";
  std::exit(1);
}

struct Config {
  uint32_t shards;
  uint32_t groups;
};

std::vector<Config> ParseConfigs(const std::string& text) {
  // "S/G,S/G,...", e.g. "1/1,8/1,8/2".
  std::vector<Config> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(',', pos);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(pos, end - pos);
    const size_t slash = item.find('/');
    Config c{};
    try {
      c.shards = static_cast<uint32_t>(std::stoul(item.substr(0, slash)));
      c.groups = slash == std::string::npos
                     ? 1
                     : static_cast<uint32_t>(std::stoul(item.substr(slash + 1)));
    } catch (const std::exception&) {
      std::cerr << "ragd_shard_bench: bad --configs item '" << item << "' (want S/G)\n";
      std::exit(2);
    }
    if (c.shards < 1 || c.shards > 256 || c.groups < 1 || c.groups > c.shards) {
      std::cerr << "ragd_shard_bench: --configs item '" << item
                << "' needs 1 <= G <= S <= 256\n";
      std::exit(2);
    }
    out.push_back(c);
    pos = end + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ragd_shard_bench: one pod's search and ingest cost by shard count"};
  size_t n = 30000, dim = 1536, queries = 300;
  int passes = 3;
  std::string configs_text = "1/1,2/1,4/1,8/1,16/1,2/2,8/2,8/4";
  std::vector<int> efs = {16, 32, 64};
  std::string out = std::string(RAGD_BENCH_SOURCE_DIR) + "/bench/results/shards.jsonl";
  std::string dir;
  app.add_option("--n", n, "points in the collection (all groups together)")
      ->capture_default_str();
  app.add_option("--dim", dim, "vector dimension")->capture_default_str();
  app.add_option("--queries", queries, "queries per pass and ef")->capture_default_str();
  app.add_option("--passes", passes, "alternating passes over the efs")->capture_default_str();
  app.add_option("--configs", configs_text, "S/G pairs: shards / shard groups (this pod: group 0)")
      ->capture_default_str();
  app.add_option("--efs", efs, "HNSW ef values searched")->capture_default_str();
  app.add_option("--out", out, "JSON-lines results file ('' for stdout only)");
  app.add_option("--dir", dir, "data directory (default: a temporary one, removed after)");
  CLI11_PARSE(app, argc, argv);
  const std::vector<Config> configs = ParseConfigs(configs_text);

  const bool temporary = dir.empty();
  if (temporary) {
    dir = (std::filesystem::temp_directory_path() / ("ragd-shard-bench-" + std::to_string(getpid())))
              .string();
  }
  std::filesystem::remove_all(dir);
  ragd::bench::Report report(out);
  report.Write(ragd::bench::HardwareRecord(RAGD_BENCH_SOURCE_DIR));

  ragd::bench::DatasetOptions dopt;
  dopt.num_base = n;
  dopt.num_queries = queries;
  dopt.dim = dim;
  const ragd::bench::Dataset data = ragd::bench::GenerateDataset(dopt);
  const std::vector<int64_t> truth = ragd::bench::ExactTopK(data, 10, 0);
  std::cerr << "ragd_shard_bench: data ready (" << n << " x " << dim << ")\n";

  // Every configuration is loaded first and kept open; then the passes alternate over all
  // (configuration, ef) pairs, so that a busy spell of this shared machine slows every row
  // alike instead of the configurations that happened to run in it.
  struct Series {
    int ef;
    std::vector<double> ms;
    double seconds = 0;
    std::vector<int64_t> found;
  };
  struct Loaded {
    Config config;
    std::string dir;
    std::unique_ptr<Engine> engine;
    size_t held = 0;
    double load_seconds = 0;
    std::vector<Series> series;
  };
  std::vector<Loaded> loaded;
  for (const Config& config : configs) {
    Loaded l;
    l.config = config;
    l.dir = dir + "/r" + std::to_string(loaded.size());
    Engine::Options o;
    o.data_dir = l.dir;
    o.snapshot_interval_seconds = 0;
    o.idle_flush_seconds = 0;
    auto opened = Engine::Open(o);
    if (!opened.ok()) Die(opened.status());
    l.engine = *std::move(opened);

    CollectionSpec spec;
    spec.name = "s";
    spec.dimension = static_cast<uint32_t>(dim);
    spec.metric = Metric::kCosine;
    spec.index.kind = IndexKind::kHnsw;
    spec.index.m = 16;
    spec.index.ef_construction = 200;
    spec.shards = config.shards;
    if (absl::Status s = l.engine->CreateCollection(spec); !s.ok()) Die(s);

    const uint32_t groups = config.groups;
    auto holds = [groups](uint32_t shard, uint32_t) { return shard % groups == 0; };
    uint64_t sequence = 0;
    const auto load_start = Clock::now();
    WriteBatch batch;
    for (size_t i = 0; i < n; ++i) {
      Point p;
      p.id = "c" + std::to_string(i);
      p.vector.assign(data.base_row(i), data.base_row(i) + dim);
      if (ShardOfId(p.id, config.shards) % groups == 0) ++l.held;
      batch.upserts.push_back(std::move(p));
      if (batch.upserts.size() == 500 || i + 1 == n) {
        batch.collection = "s";
        batch.sequence = ++sequence;
        if (groups > 1) batch.holds_shard = holds;
        if (auto r = l.engine->Apply(std::move(batch)); !r.ok()) Die(r.status());
        batch = WriteBatch{};
      }
    }
    l.load_seconds = SecondsSince(load_start);
    std::cerr << "ragd_shard_bench: S=" << config.shards << " G=" << groups << " loaded "
              << l.held << " points in " << l.load_seconds << " s\n";
    for (int ef : efs) l.series.push_back({ef, {}, 0, std::vector<int64_t>(queries * 10, -1)});
    loaded.push_back(std::move(l));
  }

  for (int pass = 0; pass < passes; ++pass) {
    for (Loaded& l : loaded) {
      for (Series& s : l.series) {
        const auto pass_start = Clock::now();
        for (size_t q = 0; q < queries; ++q) {
          SearchRequest req;
          req.collection = "s";
          req.query.assign(data.query_row(q), data.query_row(q) + dim);
          req.k = 10;
          req.ef = s.ef;
          req.with_payload = false;
          const auto start = Clock::now();
          auto r = l.engine->Search(req);
          s.ms.push_back(SecondsSince(start) * 1000);
          if (!r.ok()) Die(r.status());
          if (pass == 0) {
            for (size_t j = 0; j < r->hits.size() && j < 10; ++j) {
              s.found[q * 10 + j] = std::stoll(r->hits[j].point.id.substr(1));
            }
          }
        }
        s.seconds += SecondsSince(pass_start);
      }
    }
  }

  // p50 of the (S=1, G=1) row per ef: the base of the ratios.
  std::map<int, double> base_p50;
  for (Loaded& l : loaded) {
    for (Series& s : l.series) {
      std::sort(s.ms.begin(), s.ms.end());
      if (l.config.shards == 1 && l.config.groups == 1) {
        base_p50[s.ef] = ragd::bench::Percentile(s.ms, 0.5);
      }
    }
  }
  for (Loaded& l : loaded) {
    const uint32_t groups = l.config.groups;
    for (Series& s : l.series) {
      const double p50 = ragd::bench::Percentile(s.ms, 0.5);
      const double p99 = ragd::bench::Percentile(s.ms, 0.99);
      nlohmann::json record = {{"bench", "shard_search"},
                               {"shards", l.config.shards},
                               {"groups", groups},
                               {"shards_on_pod", (l.config.shards + groups - 1) / groups},
                               {"n", n},
                               {"points_on_pod", l.held},
                               {"dim", dim},
                               {"ef", s.ef},
                               {"k", 10},
                               {"qps", static_cast<double>(s.ms.size()) / s.seconds},
                               {"p50_ms", p50},
                               {"p99_ms", p99},
                               {"calls", s.ms.size()},
                               {"load_points_per_s", static_cast<double>(l.held) / l.load_seconds},
                               {"load_average_1m", ragd::bench::LoadAverage1()}};
      // Recall only where the pod holds everything; a G > 1 cluster's merged answer is the
      // G = 1 row's (same shards, same graphs).
      if (groups == 1) record["recall_at_10"] = ragd::bench::RecallAtK(s.found, truth, 10);
      if (auto it = base_p50.find(s.ef); it != base_p50.end()) {
        record["p50_ratio_to_1_shard"] = p50 / it->second;
      }
      report.Write(record);
    }
  }
  loaded.clear();
  if (temporary) std::filesystem::remove_all(dir);
  return 0;
}
