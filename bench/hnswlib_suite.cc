// In-process hnswlib: the reference that ragd's own hnswlib backend is held against. hnswlib is
// header-only, so this file is compiled with the benchmark target's -march (or without one in
// the _generic variant), which is exactly the choice being measured.
//
// hnswlib.h defines non-inline functions: it may be included by this one file only.

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wtype-limits"
#include <hnswlib/hnswlib.h>
#pragma GCC diagnostic pop

#include "bench/suites.h"

namespace ragd::bench {
namespace {

using Graph = hnswlib::HierarchicalNSW<float>;

// What hnswlib allocates, from its own fields: the level-0 block (links + vector + label per
// element), upper-level link lists, per-element level and lock, the label map and one visited
// list. The unordered_map node size is glibc's (next pointer + pair + cached hash) plus one
// bucket pointer.
double AccountedBytes(const Graph& g) {
  double bytes = static_cast<double>(g.max_elements_) * static_cast<double>(g.size_data_per_element_);
  for (size_t i = 0; i < g.cur_element_count; ++i) {
    bytes += static_cast<double>(g.size_links_per_element_) * g.element_levels_[i];
  }
  const double n = static_cast<double>(g.max_elements_);
  bytes += n * (sizeof(int) + sizeof(std::mutex) + sizeof(char*));
  bytes += static_cast<double>(g.label_lookup_.size()) * (8 + 16 + 8 + 8);
  bytes += n * sizeof(unsigned short);  // one VisitedList of the pool
  return bytes;
}

// Exact paper-term floor for this graph: vectors + level-0 links + the upper levels it drew.
double RawPlusLinksBytes(const Graph& g, size_t dim) {
  double bytes = static_cast<double>(g.cur_element_count) *
                 (static_cast<double>(dim) * sizeof(float) + g.size_links_level0_);
  for (size_t i = 0; i < g.cur_element_count; ++i) {
    bytes += static_cast<double>(g.size_links_per_element_) * g.element_levels_[i];
  }
  return bytes;
}

}  // namespace

HnswlibFigures RunHnswlibSuite(const SuiteContext& ctx, const HnswlibOptions& options) {
  HnswlibFigures figures;
  const Dataset& data = *ctx.data;
  const size_t n = data.num_base;

  TrimHeap();
  const uint64_t rss_before = SelfRssBytes();
  hnswlib::InnerProductSpace space(data.dim);
  auto graph = std::make_unique<Graph>(&space, n, options.m, options.ef_construction, 100);

  // Parallel addPoint with distinct labels is safe in hnswlib (its per-node locks); the
  // order of insertion differs from run to run, which moves recall in the third decimal.
  Clock::time_point build_start = Clock::now();
  std::atomic<size_t> next{0};
  auto insert = [&] {
    for (;;) {
      size_t i = next.fetch_add(1);
      if (i >= n) return;
      graph->addPoint(data.base_row(i), static_cast<hnswlib::labeltype>(i));
    }
  };
  std::vector<std::thread> builders;
  for (int t = 1; t < ctx.build_threads; ++t) builders.emplace_back(insert);
  insert();
  for (std::thread& th : builders) th.join();
  const double build_seconds = SecondsSince(build_start);
  const uint64_t rss_after = SelfRssBytes();

  const double rss_delta = static_cast<double>(rss_after) - static_cast<double>(rss_before);
  const double floor = RawPlusLinksBytes(*graph, data.dim);
  figures.build_seconds = build_seconds;
  figures.rss_bytes_per_vector = rss_delta / static_cast<double>(n);
  ctx.report->Write({
      {"bench", "build"},
      {"system", "hnswlib"},
      {"threads", ctx.build_threads},
      {"n", n},
      {"dim", data.dim},
      {"m", options.m},
      {"ef_construction", options.ef_construction},
      {"build_seconds", build_seconds},
      {"rss_delta_bytes_per_vector", figures.rss_bytes_per_vector},
      {"rss_source", "/proc/self/statm delta around the build"},
      {"index_bytes_per_vector", AccountedBytes(*graph) / static_cast<double>(n)},
      {"index_bytes_source", "hnswlib fields (level-0 block, link lists, locks, label map)"},
      {"raw_plus_links_bytes_per_vector", floor / static_cast<double>(n)},
      {"memory_ratio_vs_raw_plus_links", rss_delta / floor},
      {"load_average_1m", LoadAverage1()},
  });

  for (int threads : ctx.search_threads) {
    for (size_t ef : options.ef_sweep) {
      // setEf is index state (a data race if changed during searches: hnswlib#64); here it
      // is set only between loads, while no search runs.
      graph->setEf(ef);
      LoadOptions load = ctx.load;
      load.threads = threads;
      LoadResult r = RunQueryLoad(
          data.num_queries, kTopK, load, nullptr, [&](int, size_t q, int64_t* ids) {
            auto top = graph->searchKnn(data.query_row(q), kTopK);
            // The queue pops worst first: fill from the back.
            size_t pos = top.size();
            for (size_t i = pos; i < kTopK; ++i) ids[i] = -1;
            while (!top.empty()) {
              ids[--pos] = static_cast<int64_t>(top.top().second);
              top.pop();
            }
            return true;
          });
      const double recall = RecallAtK(r.first_results, *ctx.truth, kTopK);
      ctx.report->Write(SearchRecord("hnswlib", threads, ef, n, recall, r));
      if (ef == options.default_ef) {
        if (threads == ctx.search_threads.front()) figures.recall_default_ef = recall;
        figures.qps_by_threads.push_back(r.qps);
      }
    }
  }
  figures.ran = true;
  graph.reset();
  TrimHeap();
  return figures;
}

}  // namespace ragd::bench
