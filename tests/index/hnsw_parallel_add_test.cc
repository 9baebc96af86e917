// HnswIndex::Add linking a batch's nodes by batch insertion on several threads
// (SetAddThreads): the graph must be a function of the inputs and the order of Add calls only,
// so these tests compare the snapshot bytes (Save) of builds with 1, 2, 3 and 4 threads and of
// repeated builds, through inserts, replacements and removals. Against the serial insert
// (hnswlib's, one node at a time: Adds of fewer than HnswIndex::kMinBatchNodes) they compare
// what batch insertion may change but must not worsen: recall against brute force, every live
// node reachable, replacement semantics (a label repeated in a batch or already present), and
// the snapshot loading back. The test names carry "Concurrent": ctest labels them
// `concurrency`, and the Makefile's test-tsan-core runs them under ThreadSanitizer.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "index/hnsw/hnsw_index.h"
#include "index/vector_index.h"
#include "tests/index/exact_vectors.h"
#include "tests/testing/status_matchers.h"

namespace ragd::index {
namespace {

constexpr size_t kDim = 32;
constexpr size_t kNumVectors = 3000;
// The determinism test's writes (five builds; sanitizer builds run it too).
constexpr size_t kDeterminismVectors = 1600;
constexpr size_t kBatch = 500;  // several sub-batches once the graph has 256 nodes
constexpr size_t kNumQueries = 100;
constexpr size_t kTopK = 10;
constexpr size_t kThreads = 4;
// The serial reference adds this many at a time: each Add inserts node by node.
constexpr size_t kSerialChunk = HnswIndex::kMinBatchNodes - 1;
// A batch build may lose at most this much recall@10 against the serial build of the same
// data (both measured against brute force). Both graphs are deterministic, so the figures are
// the same in every run; they are compared at ef 128, where the graph's quality is what
// counts (hnswlib's concurrent insert, which this replaced, depended on thread timing, and at
// ef 64 its f16 inner-product graph moved by up to 0.03 between builds), and at ef 32, where
// a poorly linked graph shows.
constexpr double kRecallSlack = 0.02;
constexpr double kMinRecall = 0.9;
constexpr int kSearchEf = 128;
constexpr int kLowSearchEf = 32;
constexpr double kLowEfMinRecall = 0.8;

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

// Adds rows [0, n) of `data` (label = row) in Adds of `batch` rows.
void AddInBatches(VectorIndex& index, const std::vector<float>& data, size_t batch) {
  const size_t n = data.size() / kDim;
  for (size_t begin = 0; begin < n; begin += batch) {
    const size_t end = std::min(n, begin + batch);
    std::vector<Label> labels;
    for (size_t i = begin; i < end; ++i) labels.push_back(i);
    EXPECT_OK(index.Add(labels, std::span<const float>(&data[begin * kDim], (end - begin) * kDim)));
  }
}

// Builds an index of `data` in Adds of `batch` rows with `threads` add threads.
std::unique_ptr<VectorIndex> Build(const Case& c, const std::vector<float>& data, size_t threads,
                                   size_t batch = kBatch) {
  auto made = MakeIndex(Spec(c.quantization), kDim, c.metric);
  EXPECT_OK(made.status());
  if (!made.ok()) return nullptr;
  std::unique_ptr<VectorIndex> index = std::move(*made);
  index->SetAddThreads(threads);
  AddInBatches(*index, data, batch);
  return index;
}

// Recall@10 of `index` on queries drawn like the data, exact vectors for re-scoring given.
double Recall(const Case& c, const VectorIndex& index, const std::vector<float>& data,
              const std::vector<float>& queries, int ef = kSearchEf) {
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
    SearchOptions options{.top_k = kTopK, .ef = ef};
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

// The same writes with 1, 2, 3 and 4 add threads, and with 4 again, leave the same bytes: a
// first Add that starts an empty graph (one entry, a serial prefix, then sub-batches), one
// that replaces labels (some repeated within it), removals, a batch just above the serial
// cutoff and one below it, and a last large batch into the churned graph.
TEST_P(HnswParallelAddTest, ConcurrentAddIsDeterministic) {
  const Case& c = GetParam();
  const std::vector<float> data = ClusteredData(kDeterminismVectors, 31);
  auto build = [&](size_t threads) -> std::string {
    auto made = MakeIndex(Spec(c.quantization), kDim, c.metric);
    EXPECT_OK(made.status());
    if (!made.ok()) return "";
    VectorIndex& index = **made;
    index.SetAddThreads(threads);
    auto add = [&](Label first_label, size_t first_row, size_t n) {
      std::vector<Label> labels;
      for (size_t i = 0; i < n; ++i) labels.push_back(first_label + i);
      EXPECT_OK(index.Add(labels, std::span<const float>(&data[first_row * kDim], n * kDim)));
    };
    add(0, 0, 700);
    {  // labels 0..99 rewritten with rows 700.., each twice (the earlier row loses)
      std::vector<Label> labels;
      std::vector<float> rows;
      for (size_t i = 0; i < 100; ++i) {
        for (size_t copy = 0; copy < 2; ++copy) {
          labels.push_back(i);
          const size_t row = 700 + i + copy;
          rows.insert(rows.end(), data.begin() + row * kDim, data.begin() + (row + 1) * kDim);
        }
      }
      EXPECT_OK(index.Add(labels, rows));
    }
    std::vector<Label> removed;
    for (Label l = 150; l < 250; l += 2) removed.push_back(l);
    EXPECT_OK(index.Remove(removed));
    add(5000, 801, HnswIndex::kMinBatchNodes);
    add(6000, 833, HnswIndex::kMinBatchNodes - 1);
    add(7000, 864, kDeterminismVectors - 864);
    std::string bytes;
    EXPECT_OK(index.Save(&bytes));
    return bytes;
  };
  const std::string one = build(1);
  ASSERT_FALSE(one.empty());
  for (size_t threads : {2, 3, 4, 4}) {
    const std::string other = build(threads);
    EXPECT_EQ(other.size(), one.size()) << threads << " threads";
    EXPECT_TRUE(other == one) << threads << " threads: the snapshot differs from 1 thread's";
  }
}

TEST_P(HnswParallelAddTest, ConcurrentAddKeepsSerialRecall) {
  const Case& c = GetParam();
  const std::vector<float> data = ClusteredData(kNumVectors, 11);
  const std::vector<float> queries = ClusteredData(kNumQueries, 12);
  std::unique_ptr<VectorIndex> serial = Build(c, data, 1, kSerialChunk);
  std::unique_ptr<VectorIndex> batched = Build(c, data, kThreads);
  ASSERT_NE(serial, nullptr);
  ASSERT_NE(batched, nullptr);
  EXPECT_EQ(batched->size(), kNumVectors);
  EXPECT_EQ(batched->removed_count(), 0u);
  for (int ef : {kSearchEf, kLowSearchEf}) {
    const double serial_recall = Recall(c, *serial, data, queries, ef);
    const double batched_recall = Recall(c, *batched, data, queries, ef);
    RecordProperty("serial_recall_ef" + std::to_string(ef), std::to_string(serial_recall));
    RecordProperty("batched_recall_ef" + std::to_string(ef), std::to_string(batched_recall));
    const double floor = ef == kSearchEf ? kMinRecall : kLowEfMinRecall;
    EXPECT_GE(serial_recall, floor) << "ef " << ef;
    EXPECT_GE(batched_recall, floor) << "ef " << ef;
    EXPECT_GE(batched_recall, serial_recall - kRecallSlack)
        << "ef " << ef << ": serial " << serial_recall << ", batched " << batched_recall;
  }
  const std::vector<float> probe(queries.begin(), queries.begin() + kDim);
  // Every live node is reachable (a batch Add ends with the whole-graph pass), except with
  // kDot, where a few cannot be linked back (no list accepts them) and a serial build of this
  // data strands more (~230 of 3,000): there the batch build must not strand more.
  if (c.metric != Metric::kDot) {
    EXPECT_EQ(Reachable(*batched, probe), kNumVectors);
  }
  EXPECT_GE(Reachable(*batched, probe), Reachable(*serial, probe));

  // The snapshot of a batch build passes Load's checks and searches the same.
  std::string bytes;
  ASSERT_OK(batched->Save(&bytes));
  auto loaded = LoadIndex(Spec(c.quantization), kDim, c.metric, bytes);
  ASSERT_OK(loaded.status());
  EXPECT_EQ((*loaded)->size(), kNumVectors);
  EXPECT_DOUBLE_EQ(Recall(c, **loaded, data, queries), Recall(c, *batched, data, queries));
}

// Replacements inside a batch Add: a label present in the index gets its new vector (the old
// node is removed), a label repeated within the batch keeps its last vector only, and the
// index counts the same live and removed nodes as serial Adds of the same rows.
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
  std::unique_ptr<VectorIndex> serial = Build(c, data, 1, kSerialChunk);
  std::unique_ptr<VectorIndex> batched = Build(c, data, kThreads);
  ASSERT_NE(serial, nullptr);
  ASSERT_NE(batched, nullptr);
  // Serially in chunks that keep a label's two rows together (the pair is never split).
  for (size_t begin = 0; begin < labels.size(); begin += kSerialChunk - 1) {
    const size_t end = std::min(labels.size(), begin + kSerialChunk - 1);
    ASSERT_OK(serial->Add(std::span<const Label>(labels).subspan(begin, end - begin),
                          std::span<const float>(rows).subspan(begin * kDim, (end - begin) * kDim)));
  }
  ASSERT_OK(batched->Add(labels, rows));
  EXPECT_EQ(batched->size(), kNumVectors + kBatch / 2);
  EXPECT_EQ(batched->size(), serial->size());
  EXPECT_EQ(batched->removed_count(), serial->removed_count());
  EXPECT_EQ(batched->removed_count(), kBatch / 2);
  // Each replaced or new label holds its last vector: ScoreLabels with that vector gives the
  // label's score against itself (from the codes for f16/int8: close, not exact), which the
  // losing earlier row would not.
  for (size_t i = 0; i < kBatch; ++i) {
    const Label label = i < kBatch / 2 ? i : kNumVectors + i;
    const float* v = &fresh[i * kDim];
    const Label one[] = {label};
    auto scored = batched->ScoreLabels(std::span<const float>(v, kDim), one, 1);
    ASSERT_OK(scored.status());
    ASSERT_EQ(scored->size(), 1u) << "label " << label;
    const double self = ExactScore(c.metric, v, v);
    const double norm2 = ExactScore(Metric::kDot, v, v);  // the codes' error scales with it
    EXPECT_NEAR((*scored)[0].score, self, 0.05 * norm2 + 0.02) << "label " << label;
  }
  const std::vector<float> probe(fresh.begin(), fresh.begin() + kDim);
  // kDot: some nodes stay unreachable (a serial build of this data strands ~280 of 3,250,
  // and the pass cannot link a few back: no list accepts them); the batch Add must not strand
  // more.
  if (c.metric != Metric::kDot) {
    EXPECT_EQ(Reachable(*batched, probe), batched->size());
  }
  EXPECT_GE(Reachable(*batched, probe), Reachable(*serial, probe));
}

INSTANTIATE_TEST_SUITE_P(
    Storage, HnswParallelAddTest,
    ::testing::Values(Case{Quantization::kNone, Metric::kCosine, "Float32Cosine"},
                      Case{Quantization::kF16, Metric::kDot, "F16Dot"},
                      Case{Quantization::kInt8, Metric::kL2, "Int8L2"}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace ragd::index
