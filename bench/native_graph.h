#pragma once
// hnswlib 0.6.2 built with -march=native inside ragd_vector_bench (native_graph.cc), so that the
// paired suite (paired_suite.cc) can alternate it with ragd's backend and ragd over gRPC in one
// process, round by round. It is the same build of the peer as ragd_vector_bench_native's
// (hnswlib_native.cc), which runs in a child process and so only one after the other.

#include <cstddef>
#include <cstdint>
#include <memory>

namespace ragd::bench {

class NativeGraph {
 public:
  virtual ~NativeGraph() = default;
  // Inner-product space (the data is unit-norm), level seed 100 as hnswlib's default; points
  // 0..n-1 of `rows` (n x dim floats), inserted by `threads` threads (parallel addPoint).
  static std::unique_ptr<NativeGraph> Build(const float* rows, size_t n, size_t dim, size_t m,
                                            size_t ef_construction, int threads);
  // hnswlib's ef is index state: set it between loads, never during one.
  virtual void SetEf(size_t ef) = 0;
  // The k nearest labels of `query` into ids (k entries, -1 padded), nearest first.
  virtual void Search(const float* query, size_t k, int64_t* ids) const = 0;
  // The compiler flags the graph was built with (the hardware record's form).
  static const char* Flags();
};

}  // namespace ragd::bench
