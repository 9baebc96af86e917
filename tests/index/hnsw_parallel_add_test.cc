// HnswIndex::Add linking a batch's nodes with several threads (SetAddThreads): the graph it
// builds depends on thread timing, so these tests compare what must not depend on it with a
// serial build of the same data: recall against brute force, every live node reachable,
// replacement semantics (a label repeated in a batch or already present), and the snapshot
// loading back. The test names carry "Concurrent": ctest labels them `concurrency`, and the
// Makefile's test-tsan-core runs them under ThreadSanitizer.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "index/vector_index.h"
#include "tests/index/exact_vectors.h"
#include "tests/testing/status_matchers.h"

namespace ragd::index {
namespace {

constexpr size_t kDim = 32;
constexpr size_t kNumVectors = 3000;
constexpr size_t kBatch = 500;  // 31 nodes per thread at 4 threads: above the serial cutoff
constexpr size_t kNumQueries = 100;
constexpr size_t kTopK = 10;
constexpr size_t kThreads = 4;
// A parallel build may lose at most this much recall@10 against the serial build of the
// same data (both measured against brute force). The graph depends on thread timing, so the
// recall is measured where the graph's quality is what counts, not luck: at ef 128 (at ef 64,
// f16 with the inner product moved by up to 0.03 between builds, one CI run failing at 0.02).
constexpr double kRecallSlack = 0.02;
constexpr double kMinRecall = 0.9;
constexpr int kSearchEf = 128;

struct Case {
  Quantization quantization;
  Metric metric;
  std::string name;
};

IndexSpec Spec(Quantization quantization) {
  IndexSpec s;
  s.kind = IndexKind::kHnsw;
  s.m = 16;
  s.ef_construction = 100;
  s.ef = 64;
  s.quantization = quantization;
  return s;
}

// Gaussian clusters with a common offset and per-vector scale (as the conformance suite's).
std::vector<float> ClusteredData(size_t n, uint32_t seed) {
  return ClusteredVectors(n, kDim, seed, 1.0f);
}

double ExactScore(Metric metric, const float* a, const float* b) {
  return BruteForceScore(metric, a, b, kDim);
}

// The true top k labels of `query` among rows [0, n) of `data` (label = row).
std::set<Label> TrueTopK(Metric metric, const std::vector<float>& data, size_t n,
                         const float* query) {
  std::vector<std::pair<double, Label>> scored(n);
  for (size_t i = 0; i < n; ++i) scored[i] = {ExactScore(metric, query, &data[i * kDim]), i};
  std::partial_sort(scored.begin(), scored.begin() + kTopK, scored.end(),
                    [](const auto& a, const auto& b) { return a.first > b.first; });
  std::set<Label> out;
  for (size_t i = 0; i < kTopK; ++i) out.insert(scored[i].second);
  return out;
}

// Builds an index of `data` in batches of kBatch with `threads` add threads.
std::unique_ptr<VectorIndex> Build(const Case& c, const std::vector<float>& data, size_t threads) {
  auto made = MakeIndex(Spec(c.quantization), kDim, c.metric);
  EXPECT_OK(made.status());
  if (!made.ok()) return nullptr;
  std::unique_ptr<VectorIndex> index = std::move(*made);
  index->SetAddThreads(threads);
  const size_t n = data.size() / kDim;
  for (size_t begin = 0; begin < n; begin += kBatch) {
    const size_t end = std::min(n, begin + kBatch);
    std::vector<Label> labels;
    for (size_t i = begin; i < end; ++i) labels.push_back(i);
    EXPECT_OK(index->Add(labels, std::span<const float>(&data[begin * kDim], (end - begin) * kDim)));
  }
  return index;
}

// Recall@10 of `index` on queries drawn like the data, exact vectors for re-scoring given.
double Recall(const Case& c, const VectorIndex& index, const std::vector<float>& data,
              const std::vector<float>& queries) {
  const size_t n = data.size() / kDim;
  // Re-scoring reads the rows as added (the quantized cases use kDot and kL2: no
  // normalisation).
  const ExactVectorFetcher exact = [&data](std::span<const Label> labels,
                                           std::vector<float>* vectors,
                                           std::vector<bool>* found) {
    vectors->clear();
    found->assign(labels.size(), true);
    for (Label l : labels) {
      vectors->insert(vectors->end(), data.begin() + l * kDim, data.begin() + (l + 1) * kDim);
    }
    return absl::OkStatus();
  };
  size_t hits = 0;
  for (size_t q = 0; q < kNumQueries; ++q) {
    const float* query = &queries[q * kDim];
    SearchOptions options{.top_k = kTopK, .ef = kSearchEf};
    options.exact_vectors = &exact;
    auto found = index.Search(std::span<const float>(query, kDim), options);
    EXPECT_OK(found.status());
    if (!found.ok()) continue;
    const std::set<Label> truth = TrueTopK(c.metric, data, n, query);
    for (const SearchHit& h : *found) hits += truth.count(h.label);
  }
  return static_cast<double>(hits) / static_cast<double>(kNumQueries * kTopK);
}

// Every live label is reached by a walk that may visit the whole graph.
size_t Reachable(const VectorIndex& index, const std::vector<float>& query) {
  auto all = index.Search(query, SearchOptions{.top_k = index.size(),
                                               .ef = static_cast<int>(index.size())});
  EXPECT_OK(all.status());
  return all.ok() ? all->size() : 0;
}

class HnswParallelAddTest : public ::testing::TestWithParam<Case> {};

TEST_P(HnswParallelAddTest, ConcurrentAddKeepsSerialRecall) {
  const Case& c = GetParam();
  const std::vector<float> data = ClusteredData(kNumVectors, 11);
  const std::vector<float> queries = ClusteredData(kNumQueries, 12);
  std::unique_ptr<VectorIndex> serial = Build(c, data, 1);
  std::unique_ptr<VectorIndex> parallel = Build(c, data, kThreads);
  ASSERT_NE(serial, nullptr);
  ASSERT_NE(parallel, nullptr);
  EXPECT_EQ(parallel->size(), kNumVectors);
  EXPECT_EQ(parallel->removed_count(), 0u);
  const double serial_recall = Recall(c, *serial, data, queries);
  const double parallel_recall = Recall(c, *parallel, data, queries);
  RecordProperty("serial_recall", std::to_string(serial_recall));
  RecordProperty("parallel_recall", std::to_string(parallel_recall));
  EXPECT_GE(serial_recall, kMinRecall);
  EXPECT_GE(parallel_recall, kMinRecall);
  EXPECT_GE(parallel_recall, serial_recall - kRecallSlack)
      << "serial " << serial_recall << ", parallel " << parallel_recall;
  const std::vector<float> probe(queries.begin(), queries.begin() + kDim);
  // Every live node is reachable (the parallel Add ends with the whole-graph pass), except
  // with kDot, where a few cannot be linked back (no list accepts them) and a serial build
  // of this data strands more (~230 of 3,000): there the parallel build must not strand more.
  if (c.metric != Metric::kDot) EXPECT_EQ(Reachable(*parallel, probe), kNumVectors);
  EXPECT_GE(Reachable(*parallel, probe), Reachable(*serial, probe));

  // The snapshot of a parallel build passes Load's checks and searches the same.
  std::string bytes;
  ASSERT_OK(parallel->Save(&bytes));
  auto loaded = LoadIndex(Spec(c.quantization), kDim, c.metric, bytes);
  ASSERT_OK(loaded.status());
  EXPECT_EQ((*loaded)->size(), kNumVectors);
  EXPECT_DOUBLE_EQ(Recall(c, **loaded, data, queries), parallel_recall);
}

// Replacements inside a parallel Add: a label present in the index gets its new vector (the
// old node is removed), a label repeated within the batch keeps its last vector only, and
// the index counts the same live and removed nodes as a serial Add of the same batches.
TEST_P(HnswParallelAddTest, ConcurrentAddReplacesLikeSerial) {
  const Case& c = GetParam();
  const std::vector<float> data = ClusteredData(kNumVectors, 21);
  const std::vector<float> fresh = ClusteredData(kBatch, 22);
  // The second batch: labels 0..kBatch/2-1 again (replacing), each written twice in a row
  // with the `fresh` vector last, then new labels.
  std::vector<Label> labels;
  std::vector<float> rows;
  for (size_t i = 0; i < kBatch; ++i) {
    const Label label = i < kBatch / 2 ? i : kNumVectors + i;
    if (i < kBatch / 2) {  // an earlier row for the same label, which must lose
      labels.push_back(label);
      rows.insert(rows.end(), data.begin() + (i + 1) * kDim, data.begin() + (i + 2) * kDim);
    }
    labels.push_back(label);
    rows.insert(rows.end(), fresh.begin() + i * kDim, fresh.begin() + (i + 1) * kDim);
  }
  std::unique_ptr<VectorIndex> serial = Build(c, data, 1);
  std::unique_ptr<VectorIndex> parallel = Build(c, data, kThreads);
  ASSERT_NE(serial, nullptr);
  ASSERT_NE(parallel, nullptr);
  ASSERT_OK(serial->Add(labels, rows));
  ASSERT_OK(parallel->Add(labels, rows));
  EXPECT_EQ(parallel->size(), kNumVectors + kBatch / 2);
  EXPECT_EQ(parallel->size(), serial->size());
  EXPECT_EQ(parallel->removed_count(), serial->removed_count());
  EXPECT_EQ(parallel->removed_count(), kBatch / 2);
  // Each replaced or new label holds its last vector: ScoreLabels with that vector gives the
  // label's score against itself (from the codes for f16/int8: close, not exact), which the
  // losing earlier row would not.
  for (size_t i = 0; i < kBatch; ++i) {
    const Label label = i < kBatch / 2 ? i : kNumVectors + i;
    const float* v = &fresh[i * kDim];
    const Label one[] = {label};
    auto scored = parallel->ScoreLabels(std::span<const float>(v, kDim), one, 1);
    ASSERT_OK(scored.status());
    ASSERT_EQ(scored->size(), 1u) << "label " << label;
    const double self = ExactScore(c.metric, v, v);
    const double norm2 = ExactScore(Metric::kDot, v, v);  // the codes' error scales with it
    EXPECT_NEAR((*scored)[0].score, self, 0.05 * norm2 + 0.02) << "label " << label;
  }
  const std::vector<float> probe(fresh.begin(), fresh.begin() + kDim);
  // kDot: some nodes stay unreachable (a serial build of this data strands ~280 of 3,250,
  // and the pass cannot link a few back: no list accepts them); the parallel Add must not
  // strand more.
  if (c.metric != Metric::kDot) EXPECT_EQ(Reachable(*parallel, probe), parallel->size());
  EXPECT_GE(Reachable(*parallel, probe), Reachable(*serial, probe));
}

INSTANTIATE_TEST_SUITE_P(
    Storage, HnswParallelAddTest,
    ::testing::Values(Case{Quantization::kNone, Metric::kCosine, "Float32Cosine"},
                      Case{Quantization::kF16, Metric::kDot, "F16Dot"},
                      Case{Quantization::kInt8, Metric::kL2, "Int8L2"}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace ragd::index
