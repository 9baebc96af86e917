// ragd's own hnsw backend (index::VectorIndex from MakeIndex), in process: the middle row between
// in-process hnswlib and ragd over gRPC. It separates what the backend's graph walk costs
// against hnswlib's searchKnn at the same ef (same graph parameters, same data) from what the
// service (gRPC, threads, the engine's bookkeeping) adds on top.

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "bench/suites.h"
#include "index/vector_index.h"

namespace ragd::bench {

IndexFigures RunIndexSuite(const SuiteContext& ctx, const IndexOptions& options) {
  IndexFigures figures;
  const Dataset& data = *ctx.data;
  const size_t n = data.num_base;

  index::IndexSpec spec;
  spec.kind = index::IndexKind::kHnsw;
  spec.m = static_cast<int>(options.m);
  spec.ef_construction = static_cast<int>(options.ef_construction);
  spec.ef = static_cast<int>(options.ef);
  // COSINE as the ragd suite's collection: the data is unit-norm, so the walk is the same
  // inner-product walk as hnswlib's (the backend normalises the query once per search).
  auto made = index::MakeIndex(spec, data.dim, index::Metric::kCosine);
  if (!made.ok()) {
    figures.error = std::string(made.status().message());
    return figures;
  }
  std::unique_ptr<index::VectorIndex> idx = std::move(*made);

  // Add needs exclusive access (vector_index.h): one writer, in batches like the engine's.
  TrimHeap();
  const uint64_t rss_before = SelfRssBytes();
  Clock::time_point build_start = Clock::now();
  constexpr size_t kBatch = 1000;
  std::vector<index::Label> labels;
  for (size_t begin = 0; begin < n; begin += kBatch) {
    const size_t end = std::min(n, begin + kBatch);
    labels.clear();
    for (size_t i = begin; i < end; ++i) labels.push_back(i);
    absl::Status s = idx->Add(labels, std::span<const float>(data.base_row(begin),
                                                             (end - begin) * data.dim));
    if (!s.ok()) {
      figures.error = std::string(s.message());
      return figures;
    }
  }
  const double build_seconds = SecondsSince(build_start);
  const double rss_delta =
      static_cast<double>(SelfRssBytes()) - static_cast<double>(rss_before);
  ctx.report->Write({
      {"bench", "build"},
      {"system", "ragd-index"},
      {"threads", 1},
      {"n", n},
      {"dim", data.dim},
      {"m", options.m},
      {"ef_construction", options.ef_construction},
      {"build_seconds", build_seconds},
      {"rss_delta_bytes_per_vector", rss_delta / static_cast<double>(n)},
      {"rss_source", "/proc/self/statm delta around the build"},
      {"index_bytes_per_vector",
       static_cast<double>(idx->MemoryBytes()) / static_cast<double>(n)},
      {"index_bytes_source", "VectorIndex::MemoryBytes (ragd's own accounting)"},
      {"load_average_1m", LoadAverage1()},
  });

  for (int threads : ctx.search_threads) {
    index::SearchOptions search;
    search.top_k = kTopK;
    search.ef = static_cast<int>(options.ef);
    LoadOptions load = ctx.load;
    load.threads = threads;
    LoadResult r = RunQueryLoad(
        data.num_queries, kTopK, load, nullptr, [&](int, size_t q, int64_t* ids) {
          auto hits = idx->Search(std::span<const float>(data.query_row(q), data.dim), search);
          if (!hits.ok()) return false;
          for (size_t i = 0; i < kTopK; ++i) {
            ids[i] = i < hits->size() ? static_cast<int64_t>((*hits)[i].label) : -1;
          }
          return true;
        });
    const double recall = RecallAtK(r.first_results, *ctx.truth, kTopK);
    ctx.report->Write(SearchRecord("ragd-index", threads, options.ef, n, recall, r));
    figures.qps_by_threads.push_back(r.qps);
  }
  figures.ran = true;
  idx.reset();
  TrimHeap();
  return figures;
}

}  // namespace ragd::bench
