#pragma once
// ragd's hnsw backend as an engine shard holds it, built in process from the bench's data set
// (index_suite.cc builds it; index_suite.cc and paired_suite.cc measure it): the index and, for
// the quantized kinds, where the exact re-scoring reads the float32 vectors from, a RocksDB
// store (storage::Store, 64 MiB block cache, in a temporary directory) with the engine's
// read-through VectorFile in front (engine.rescore_file) unless IndexOptions::rescore_file is
// off.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "bench/suites.h"
#include "index/storage/store.h"
#include "index/storage/vector_file.h"
#include "index/vector_index.h"

namespace ragd::bench {

class IndexUnderTest {
 public:
  // Fills the store (quantized kinds), then builds the index in batches of 1,000 as the engine
  // does, linking each batch on ctx.build_threads threads.
  static absl::StatusOr<std::unique_ptr<IndexUnderTest>> Build(const SuiteContext& ctx,
                                                               const IndexOptions& options);
  IndexUnderTest(const IndexUnderTest&) = delete;
  IndexUnderTest& operator=(const IndexUnderTest&) = delete;
  ~IndexUnderTest();  // closes the store and removes its directory

  // One search as the engine runs it: the quantized kinds re-score from the store when
  // `rescore` (oversampling 0: the kind's default).
  absl::StatusOr<std::vector<index::SearchHit>> Search(const float* query, size_t ef, bool rescore,
                                                       float oversampling) const;

  index::VectorIndex& index() { return *index_; }
  bool quantized() const { return options_.quantization != index::Quantization::kNone; }
  double build_seconds() const { return build_seconds_; }
  // /proc/self/statm delta around the build (after malloc_trim), bytes.
  double rss_delta_bytes() const { return rss_delta_bytes_; }

 private:
  IndexUnderTest() = default;

  IndexOptions options_;
  size_t dim_ = 0;
  std::unique_ptr<index::storage::Store> store_;
  std::string store_dir_;
  std::unique_ptr<index::storage::VectorFile> vector_file_;
  index::ExactVectorFetcher fetch_;
  std::unique_ptr<index::VectorIndex> index_;
  double build_seconds_ = 0;
  double rss_delta_bytes_ = 0;
};

// "none", "f16", "int8".
std::string QuantizationName(index::Quantization q);

}  // namespace ragd::bench
