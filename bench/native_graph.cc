// hnswlib compiled with -march=native (bench/CMakeLists.txt sets it on this file only).
// hnswlib.h defines non-inline functions: cpuid, xgetbv, AVXCapable, AVX512Capable at global
// scope and its distance functions in namespace hnswlib. ragd's own backend and
// hnswlib_suite.cc define the same names compiled for x86-64-v3, and the linker would keep one
// copy of each. Renaming them here keeps this file's -march=native copies apart.
#define hnswlib ragd_bench_native_hnswlib
#define cpuid ragd_bench_native_cpuid
#define xgetbv ragd_bench_native_xgetbv
#define AVXCapable ragd_bench_native_AVXCapable
#define AVX512Capable ragd_bench_native_AVX512Capable

#include "bench/native_graph.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include <hnswlib/hnswlib.h>
#pragma GCC diagnostic pop

#ifndef RAGD_BENCH_NATIVE_GRAPH_FLAGS
#define RAGD_BENCH_NATIVE_GRAPH_FLAGS "-march=native"
#endif

namespace ragd::bench {
namespace {

class NativeGraphImpl final : public NativeGraph {
 public:
  NativeGraphImpl(size_t dim, size_t n, size_t m, size_t ef_construction)
      : space_(dim), graph_(&space_, n, m, ef_construction, 100) {}

  void Add(const float* row, size_t label) { graph_.addPoint(row, label); }
  void SetEf(size_t ef) override { graph_.setEf(ef); }
  void Search(const float* query, size_t k, int64_t* ids) const override {
    auto found = graph_.searchKnn(query, k);
    std::fill(ids, ids + k, -1);
    // A max-heap on distance: the farthest first.
    for (size_t i = found.size(); i > 0; --i) {
      ids[i - 1] = static_cast<int64_t>(found.top().second);
      found.pop();
    }
  }

 private:
  hnswlib::InnerProductSpace space_;
  hnswlib::HierarchicalNSW<float> graph_;
};

}  // namespace

std::unique_ptr<NativeGraph> NativeGraph::Build(const float* rows, size_t n, size_t dim, size_t m,
                                                size_t ef_construction, int threads) {
  auto graph = std::make_unique<NativeGraphImpl>(dim, n, m, ef_construction);
  // As hnswlib_suite.cc: parallel addPoint with distinct labels (hnswlib's per-node locks).
  std::atomic<size_t> next{0};
  auto insert = [&] {
    for (;;) {
      const size_t i = next.fetch_add(1);
      if (i >= n) return;
      graph->Add(rows + i * dim, i);
    }
  };
  std::vector<std::thread> builders;
  for (int t = 1; t < threads; ++t) builders.emplace_back(insert);
  insert();
  for (std::thread& th : builders) th.join();
  return graph;
}

const char* NativeGraph::Flags() { return RAGD_BENCH_NATIVE_GRAPH_FLAGS; }

}  // namespace ragd::bench
