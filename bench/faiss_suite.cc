// In-process FAISS through index_factory, as ragd's FAISS backend builds it. Debian's libfaiss
// is compiled for generic x86-64, so its figures do not depend on this target's -march.

#include <omp.h>

#include <faiss/Index.h>
#include <faiss/IndexFlatCodes.h>
#include <faiss/IndexHNSW.h>
#include <faiss/index_factory.h>
#include <faiss/impl/HNSW.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "bench/suites.h"

namespace ragd::bench {
namespace {

// FAISS's own sizes: the stored codes (float32 or 8-bit) plus the HNSW arrays.
double AccountedBytes(const faiss::IndexHNSW& index) {
  double bytes = 0;
  if (const auto* codes = dynamic_cast<const faiss::IndexFlatCodes*>(index.storage)) {
    bytes += static_cast<double>(codes->codes.size());
  }
  const faiss::HNSW& h = index.hnsw;
  bytes += static_cast<double>(h.neighbors.size()) * sizeof(faiss::HNSW::storage_idx_t);
  bytes += static_cast<double>(h.levels.size()) * sizeof(int);
  bytes += static_cast<double>(h.offsets.size()) * sizeof(size_t);
  return bytes;
}

}  // namespace

void RunFaissSuite(const SuiteContext& ctx, const FaissOptions& options) {
  const Dataset& data = *ctx.data;
  const size_t n = data.num_base;
  const auto idx_n = static_cast<faiss::Index::idx_t>(n);
  for (const std::string& factory : options.factories) {
    TrimHeap();
    const uint64_t rss_before = SelfRssBytes();
    std::unique_ptr<faiss::Index> index(faiss::index_factory(
        static_cast<int>(data.dim), factory.c_str(), faiss::METRIC_INNER_PRODUCT));
    auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(index.get());
    if (hnsw == nullptr) {
      ctx.report->Write({{"bench", "build"}, {"system", "faiss " + factory}, {"threads", 0},
                         {"error", "not an HNSW index"}});
      continue;
    }
    hnsw->hnsw.efConstruction = options.ef_construction;
    // FAISS builds with OpenMP; give it the same number of threads as hnswlib's build.
    omp_set_num_threads(ctx.build_threads);
    Clock::time_point start = Clock::now();
    if (!index->is_trained) index->train(idx_n, data.base.data());  // SQ8: per-dim ranges
    index->add(idx_n, data.base.data());
    const double build_seconds = SecondsSince(start);
    const double rss_delta =
        static_cast<double>(SelfRssBytes()) - static_cast<double>(rss_before);
    ctx.report->Write({
        {"bench", "build"},
        {"system", "faiss " + factory},
        {"threads", ctx.build_threads},
        {"n", n},
        {"dim", data.dim},
        {"ef_construction", options.ef_construction},
        {"build_seconds", build_seconds},
        {"rss_delta_bytes_per_vector", rss_delta / static_cast<double>(n)},
        {"rss_source", "/proc/self/statm delta around the build"},
        {"index_bytes_per_vector", AccountedBytes(*hnsw) / static_cast<double>(n)},
        {"index_bytes_source", "faiss codes + hnsw neighbors/levels/offsets"},
        {"load_average_1m", LoadAverage1()},
    });

    // FAISS 1.7.3 sizes the candidate heap by the index's hnsw.efSearch and lets
    // SearchParametersHNSW::efSearch only stop earlier: the effective beam is
    // min(member, param), so a per-call efSearch above the member is silently ignored
    // (measured: member 16, param 256 gives the recall of 16). The member is raised once, before
    // any search runs (changing it during searches would be a data race), to the largest value
    // swept; each call then asks for its own efSearch.
    hnsw->hnsw.efSearch = *std::max_element(options.ef_sweep.begin(), options.ef_sweep.end());
    for (int threads : ctx.search_threads) {
      for (int ef : options.ef_sweep) {
        LoadOptions load = ctx.load;
        load.threads = threads;
        faiss::SearchParametersHNSW params;
        params.efSearch = ef;
        LoadResult r = RunQueryLoad(
            data.num_queries, kTopK, load,
            // One query per call from our own threads: FAISS must not open an OpenMP team of
            // its own inside each call, or the callers would fight over the cores.
            [](int) { omp_set_num_threads(1); },
            [&](int, size_t q, int64_t* ids) {
              float distances[kTopK];
              faiss::Index::idx_t labels[kTopK];
              index->search(1, data.query_row(q), kTopK, distances, labels, &params);
              for (size_t i = 0; i < kTopK; ++i) ids[i] = labels[i];
              return true;
            });
        ctx.report->Write(SearchRecord("faiss " + factory, threads, static_cast<size_t>(ef), n,
                                       RecallAtK(r.first_results, *ctx.truth, kTopK), r));
      }
    }
    index.reset();
    TrimHeap();
  }
}

}  // namespace ragd::bench
