// ragd_filter_bench: filtered search in process, the engine answering filters from its metadata
// index against the same engine scanning every live point's metadata per call (as before
// issue 15; Engine::Options::metadata_index = false), on one data directory in one run.
//
// N points (default 100,000) of dimension D (default 256; the filter's cost does not depend on
// it, the exact scoring of a small matching set does) in one HNSW shard, each with metadata
// {"mod100": i % 100, "lang": "ko"|"en", "year": 2000 + i % 25, "tags": [...]}; filters
// matching 1%, 10% and 90% of the points, and a 1% AND of two conditions. For each: QPS, p50
// and p99 of Engine::Search (k 10), both ways, alternating the two engines pass by pass so that
// both see the same machine, and the speed-up. Results: JSON lines (bench/README.md).

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include <CLI/CLI.hpp>
#include "bench/bench_util.h"
#include "index/engine/engine.h"

namespace {

using ragd::bench::Clock;
using ragd::bench::SecondsSince;
using namespace ragd::index;

struct Case {
  std::string name;
  double matching;  // fraction of points
  Filter filter;
};

std::vector<Case> Cases() {
  return {
      {"1%", 0.01, Filter::Cond(Equals("mod100", int64_t{42}))},
      {"1% AND", 0.01,
       Filter::And({Filter::Cond(Range("mod100", 40.0, 42.0)),
                    Filter::Cond(Equals("lang", std::string("ko")))})},
      {"10%", 0.10, Filter::Cond(Range("mod100", 10.0, 20.0))},
      {"90%", 0.90, Filter::Not(Filter::Cond(Range("mod100", std::nullopt, 10.0)))},
  };
}

struct Timing {
  std::vector<double> ms;
  double seconds = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ragd_filter_bench: filtered search, metadata index vs scan"};
  size_t n = 100000, dim = 256, queries = 200;
  int passes = 5;
  std::string out = std::string(RAGD_BENCH_SOURCE_DIR) + "/bench/results/filter.jsonl";
  std::string dir;
  app.add_option("--n", n, "points")->capture_default_str();
  app.add_option("--dim", dim, "dimension")->capture_default_str();
  app.add_option("--queries", queries, "queries per case and pass")->capture_default_str();
  app.add_option("--passes", passes, "alternating passes per case")->capture_default_str();
  app.add_option("--out", out, "JSON-lines results file ('' for stdout only)");
  app.add_option("--dir", dir, "data directory (default: a temporary one, removed after)");
  CLI11_PARSE(app, argc, argv);

  const bool temporary = dir.empty();
  if (temporary) {
    dir = (std::filesystem::temp_directory_path() / ("ragd-filter-bench-" + std::to_string(getpid())))
              .string();
  }
  std::filesystem::remove_all(dir);
  ragd::bench::Report report(out);
  report.Write(ragd::bench::HardwareRecord(RAGD_BENCH_SOURCE_DIR));

  auto open = [&](bool metadata_index) {
    Engine::Options o;
    o.data_dir = metadata_index ? dir : dir + "-scan";
    o.snapshot_interval_seconds = 0;
    o.idle_flush_seconds = 0;
    o.metadata_index = metadata_index;
    auto e = Engine::Open(o);
    if (!e.ok()) {
      std::cerr << "ragd_filter_bench: " << e.status() << "\n";
      std::exit(1);
    }
    return *std::move(e);
  };

  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0, 1);
  {
    auto engine = open(true);
    CollectionSpec spec;
    spec.name = "f";
    spec.dimension = static_cast<uint32_t>(dim);
    spec.metric = Metric::kCosine;
    spec.index.kind = IndexKind::kHnsw;
    spec.index.ef_construction = 64;  // a quick load: the graph's quality is not measured here
    if (absl::Status s = engine->CreateCollection(spec); !s.ok()) {
      std::cerr << "ragd_filter_bench: " << s << "\n";
      return 1;
    }
    const auto start = Clock::now();
    std::vector<Point> batch;
    for (size_t i = 0; i < n; ++i) {
      Point p;
      p.id = "p" + std::to_string(i);
      p.vector.resize(dim);
      for (float& x : p.vector) x = normal(rng);
      p.document_id = "doc" + std::to_string(i / 20);
      p.metadata["mod100"] = static_cast<int64_t>(i % 100);
      p.metadata["lang"] = std::string(i % 2 ? "ko" : "en");
      p.metadata["year"] = static_cast<int64_t>(2000 + i % 25);
      p.metadata["tags"] = std::vector<std::string>{"t" + std::to_string(i % 7), "all"};
      batch.push_back(std::move(p));
      if (batch.size() == 5000 || i + 1 == n) {
        if (auto r = engine->Upsert("f", std::move(batch)); !r.ok()) {
          std::cerr << "ragd_filter_bench: " << r.status() << "\n";
          return 1;
        }
        batch.clear();
      }
    }
    std::cerr << "ragd_filter_bench: loaded " << n << " x " << dim << " in "
              << SecondsSince(start) << " s\n";
    (void)engine->Close();  // saves the snapshot both engines then load
  }
  // RocksDB locks its directory: the scanning engine opens a copy.
  std::filesystem::remove_all(dir + "-scan");
  std::filesystem::copy(dir, dir + "-scan", std::filesystem::copy_options::recursive);

  std::vector<std::vector<float>> qs(queries, std::vector<float>(dim));
  for (auto& q : qs) {
    for (float& x : q) x = normal(rng);
  }
  auto indexed = open(true);
  auto scanned = open(false);
  for (const Case& c : Cases()) {
    Timing t[2];  // 0: index, 1: scan
    uint64_t matching = 0;
    bool same = true;
    for (int pass = 0; pass < passes; ++pass) {
      for (int which = 0; which < 2; ++which) {
        Engine* engine = which == 0 ? indexed.get() : scanned.get();
        const auto pass_start = Clock::now();
        for (size_t qi = 0; qi < qs.size(); ++qi) {
          SearchRequest req;
          req.collection = "f";
          req.query = qs[qi];
          req.k = 10;
          req.filter = c.filter;
          req.with_payload = false;
          const auto start = Clock::now();
          auto r = engine->Search(req);
          t[which].ms.push_back(SecondsSince(start) * 1000);
          if (!r.ok()) {
            std::cerr << "ragd_filter_bench: " << r.status() << "\n";
            return 1;
          }
          if (pass == 0 && qi == 0) {
            if (which == 0) matching = r->hits.size();
            same = same && r->hits.size() == matching;
          }
        }
        t[which].seconds += SecondsSince(pass_start);
      }
    }
    auto count = indexed->Count("f", c.filter);
    double qps[2], p50[2], p99[2];
    for (int which = 0; which < 2; ++which) {
      std::sort(t[which].ms.begin(), t[which].ms.end());
      qps[which] = static_cast<double>(t[which].ms.size()) / t[which].seconds;
      p50[which] = ragd::bench::Percentile(t[which].ms, 0.5);
      p99[which] = ragd::bench::Percentile(t[which].ms, 0.99);
    }
    nlohmann::json record = {{"bench", "filter"},
                             {"case", c.name},
                             {"n", n},
                             {"dim", dim},
                             {"matching_fraction", c.matching},
                             {"matching_points", count.ok() ? *count : 0},
                             {"index_qps", qps[0]},
                             {"index_p50_ms", p50[0]},
                             {"index_p99_ms", p99[0]},
                             {"scan_qps", qps[1]},
                             {"scan_p50_ms", p50[1]},
                             {"scan_p99_ms", p99[1]},
                             {"speedup_qps", qps[0] / qps[1]},
                             {"speedup_p50", p50[1] / p50[0]},
                             {"same_hit_count", same},
                             {"calls_each", t[0].ms.size()},
                             {"load_average_1m", ragd::bench::LoadAverage1()}};
    report.Write(record);
  }
  indexed.reset();
  scanned.reset();
  std::filesystem::remove_all(dir + "-scan");
  if (temporary) std::filesystem::remove_all(dir);
  return 0;
}
