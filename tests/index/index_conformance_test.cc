// One conformance suite for every VectorIndex backend and metric, against brute force computed
// here in double precision (knowhere's test_search.cc pattern). Each backend has a named recall
// threshold; the measured recall is printed and recorded as a test property.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/hash.h"
#include "index/vector_index.h"
#include "tests/index/exact_vectors.h"
#include "tests/testing/status_matchers.h"

namespace ragd::index {
namespace {

constexpr size_t kDim = 32;
constexpr size_t kNumVectors = 2000;
constexpr size_t kNumClusters = 20;
constexpr size_t kNumQueries = 50;
constexpr size_t kTopK = 10;

constexpr double kMinRecallAt10Exact = 1.0;
constexpr double kMinRecallAt10Hnsw = 0.95;
// Quantized HNSW, the walk on codes and the top_k x 3 candidates re-scored with float32.
constexpr double kMinRecallAt10HnswF16 = 0.95;
constexpr double kMinRecallAt10HnswInt8 = 0.93;
constexpr double kMinRecallAt10FaissHnsw = 0.95;
constexpr double kMinRecallAt10FaissHnswSq8 = 0.90;
constexpr double kMinRecallAt10FaissIvf = 0.85;  // nprobe 4 of 16 lists
// Filtered search (selectivity 50%, 10%, 1%): true top-k among the matching labels.
constexpr double kMinFilteredRecallAt10Approx = 0.90;
// After a third of the labels are removed (tombstones stay in the graphs), recall@30 may drop
// by this much; inner-product graphs (kDot) are the ones that need it.
constexpr double kRemovalRecallSlack = 0.10;

struct Backend {
  std::string name;
  IndexSpec spec;
  double min_recall;
  bool exact;
};

IndexSpec Spec(IndexKind kind, std::string factory = "",
               Quantization quantization = Quantization::kNone) {
  IndexSpec s;
  s.quantization = quantization;
  s.kind = kind;
  s.m = 16;
  s.ef_construction = 100;
  s.ef = 64;
  s.faiss_factory = std::move(factory);
  s.nprobe = 4;
  return s;
}

// FAISS's HNSW build is several times slower than hnswlib's: a smaller efConstruction keeps
// the suite fast and still meets the thresholds.
IndexSpec FaissHnswSpec(std::string factory) {
  IndexSpec s = Spec(IndexKind::kFaiss, std::move(factory));
  s.ef_construction = 40;
  return s;
}

std::vector<Backend> Backends() {
  return {
      {"Flat", Spec(IndexKind::kFlat), kMinRecallAt10Exact, true},
      {"Hnsw", Spec(IndexKind::kHnsw), kMinRecallAt10Hnsw, false},
      {"HnswF16", Spec(IndexKind::kHnsw, "", Quantization::kF16), kMinRecallAt10HnswF16, false},
      {"HnswInt8", Spec(IndexKind::kHnsw, "", Quantization::kInt8), kMinRecallAt10HnswInt8,
       false},
      {"FaissHnsw32", FaissHnswSpec("HNSW32"), kMinRecallAt10FaissHnsw, false},
      {"FaissHnsw32Sq8", FaissHnswSpec("HNSW32,SQ8"), kMinRecallAt10FaissHnswSq8,
       false},
      {"FaissIvf16Flat", Spec(IndexKind::kFaiss, "IVF16,Flat"), kMinRecallAt10FaissIvf, false},
      {"FaissFlat", Spec(IndexKind::kFaiss, "Flat"), kMinRecallAt10Exact, true},
  };
}

struct Param {
  Backend backend;
  Metric metric;
};

std::string MetricName(Metric m) {
  switch (m) {
    case Metric::kCosine:
      return "Cosine";
    case Metric::kDot:
      return "Dot";
    case Metric::kL2:
      return "L2";
  }
  return "?";
}

void PrintTo(const Param& p, std::ostream* os) {
  *os << p.backend.name << "/" << MetricName(p.metric);
}

std::vector<Param> AllParams() {
  std::vector<Param> out;
  for (const Backend& b : Backends()) {
    for (Metric m : {Metric::kCosine, Metric::kDot, Metric::kL2}) out.push_back({b, m});
  }
  return out;
}

// Gaussian clusters around random centres, with a per-vector scale so that kDot differs from
// kCosine.
std::vector<float> ClusteredData(size_t n, uint32_t seed) {
  return ClusteredVectors(n, kDim, seed, 0.0f, kNumClusters);
}

double ExactScore(Metric metric, const float* a, const float* b) {
  return BruteForceScore(metric, a, b, kDim);
}

std::vector<float> Scaled(std::span<const float> v, float factor) {
  std::vector<float> out(v.begin(), v.end());
  for (float& x : out) x *= factor;
  return out;
}

class HashFilter final : public LabelFilter {
 public:
  explicit HashFilter(double selectivity) : per_mille_(selectivity * 1000) {}
  bool Accept(Label label) const override {
    return Hash64(&label, sizeof(label)) % 1000 < per_mille_;
  }

 private:
  uint64_t per_mille_;
};

class IndexConformanceTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    data_ = ClusteredData(kNumVectors, 1);
    queries_ = ClusteredData(kNumQueries, 2);
    labels_.resize(kNumVectors);
    // Sparse, large labels: the engine's labels are not dense row numbers.
    for (size_t i = 0; i < kNumVectors; ++i) labels_[i] = 1'000'003 * (i + 1);
  }

  Metric metric() const { return GetParam().metric; }
  const Backend& backend() const { return GetParam().backend; }
  std::span<const float> Row(size_t i) const { return {data_.data() + i * kDim, kDim}; }
  std::span<const float> Query(size_t q) const { return {queries_.data() + q * kDim, kDim}; }

  std::unique_ptr<VectorIndex> Build() {
    auto index = Make();
    EXPECT_TRUE(index.ok()) << index.status();
    if (!index.ok()) return nullptr;
    EXPECT_TRUE((*index)->Add(labels_, data_).ok());
    return std::move(index).value();
  }
  // Indexes that re-score with store_'s vectors.
  absl::StatusOr<std::unique_ptr<VectorIndex>> Make() {
    return Wrap(MakeIndex(backend().spec, kDim, metric()), store_);
  }
  absl::StatusOr<std::unique_ptr<VectorIndex>> Load(std::string_view bytes) {
    return Wrap(LoadIndex(backend().spec, kDim, metric(), bytes), store_);
  }

  std::shared_ptr<VectorStore> store_ = std::make_shared<VectorStore>(kDim);

  // True top-k labels among rows that are live and accepted.
  std::vector<Label> GroundTruth(size_t q, size_t k, const std::set<Label>& removed,
                                 const LabelFilter* filter) const {
    std::vector<std::pair<double, Label>> scored;
    for (size_t i = 0; i < kNumVectors; ++i) {
      if (removed.contains(labels_[i]) || (filter && !filter->Accept(labels_[i]))) continue;
      scored.emplace_back(-ExactScore(metric(), Query(q).data(), Row(i).data()), labels_[i]);
    }
    std::sort(scored.begin(), scored.end());
    std::vector<Label> out;
    for (size_t i = 0; i < std::min(k, scored.size()); ++i) out.push_back(scored[i].second);
    return out;
  }

  // Mean recall@k of `index` over all queries; checks the invariants of every result.
  double MeasureRecall(const VectorIndex& index, const SearchOptions& options,
                       const std::set<Label>& removed = {}) {
    double hits = 0, total = 0;
    for (size_t q = 0; q < kNumQueries; ++q) {
      auto result = index.Search(Query(q), options);
      EXPECT_TRUE(result.ok()) << result.status();
      if (!result.ok()) return 0;
      std::vector<Label> truth = GroundTruth(q, options.top_k, removed, options.filter);
      EXPECT_LE(result->size(), options.top_k);
      std::set<Label> got;
      for (size_t i = 0; i < result->size(); ++i) {
        const SearchHit& hit = (*result)[i];
        EXPECT_FALSE(removed.contains(hit.label)) << hit.label;
        if (options.filter) {
          EXPECT_TRUE(options.filter->Accept(hit.label));
        }
        if (i > 0) {
          EXPECT_GE((*result)[i - 1].score, hit.score);
        }
        EXPECT_TRUE(got.insert(hit.label).second) << "duplicate label " << hit.label;
      }
      for (Label l : truth) hits += got.contains(l);
      total += truth.size();
    }
    return total == 0 ? 1.0 : hits / total;
  }

  void Report(const std::string& what, double recall) {
    RecordProperty(what, std::to_string(recall));
    std::printf("[ recall   ] %s/%s %s = %.4f\n", backend().name.c_str(),
                MetricName(metric()).c_str(), what.c_str(), recall);
  }

  std::vector<float> data_, queries_;
  std::vector<Label> labels_;
};

TEST_P(IndexConformanceTest, RecallAgainstBruteForce) {
  auto index = Build();
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->size(), kNumVectors);
  EXPECT_EQ(index->removed_count(), 0u);
  EXPECT_EQ(index->dim(), kDim);
  EXPECT_EQ(index->metric(), metric());
  EXPECT_GT(index->MemoryBytes(), kNumVectors * kDim);
  std::vector<Label> all = index->Labels();
  EXPECT_EQ(std::set<Label>(all.begin(), all.end()),
            std::set<Label>(labels_.begin(), labels_.end()));
  EXPECT_TRUE(index->Contains(labels_[5]));
  EXPECT_FALSE(index->Contains(12345));

  const double recall = MeasureRecall(*index, SearchOptions{.top_k = kTopK});
  Report("recall@10", recall);
  EXPECT_GE(recall, backend().min_recall);

  // A larger per-call ef never hurts an HNSW index.
  const double recall_ef = MeasureRecall(*index, SearchOptions{.top_k = kTopK, .ef = 256});
  EXPECT_GE(recall_ef + 0.02, recall);
}

TEST_P(IndexConformanceTest, ScoresAreExact) {
  auto index = Build();
  ASSERT_NE(index, nullptr);
  for (size_t q = 0; q < 5; ++q) {
    ASSERT_OK_AND_ASSIGN(auto hits, index->Search(Query(q), SearchOptions{.top_k = kTopK}));
    ASSERT_FALSE(hits.empty());
    for (const SearchHit& hit : hits) {
      const size_t row = hit.label / 1'000'003 - 1;
      EXPECT_NEAR(hit.score, ExactScore(metric(), Query(q).data(), Row(row).data()),
                  1e-3 * (1 + std::abs(hit.score)));
    }
  }
}

TEST_P(IndexConformanceTest, ScoreLabelsIsExact) {
  auto index = Build();
  ASSERT_NE(index, nullptr);
  ASSERT_OK(index->Remove(std::vector<Label>{labels_[3]}));
  // Known, unknown, removed and duplicated labels.
  std::vector<Label> ask = {labels_[1], labels_[2], 777, labels_[3], labels_[10], labels_[1],
                            labels_[500], labels_[1999]};
  ASSERT_OK_AND_ASSIGN(auto hits, index->ScoreLabels(Query(0), ask, 100));
  ASSERT_EQ(hits.size(), 5u);
  std::vector<std::pair<double, Label>> expected;
  for (size_t row : {1, 2, 10, 500, 1999}) {
    expected.emplace_back(ExactScore(metric(), Query(0).data(), Row(row).data()), labels_[row]);
  }
  std::sort(expected.rbegin(), expected.rend());
  for (size_t i = 0; i < hits.size(); ++i) {
    EXPECT_EQ(hits[i].label, expected[i].second);
    EXPECT_NEAR(hits[i].score, expected[i].first, 1e-4 * (1 + std::abs(expected[i].first)));
  }
  ASSERT_OK_AND_ASSIGN(auto top2, index->ScoreLabels(Query(0), ask, 2));
  ASSERT_EQ(top2.size(), 2u);
  EXPECT_EQ(top2[0].label, hits[0].label);
  EXPECT_EQ(top2[1].label, hits[1].label);
}

TEST_P(IndexConformanceTest, RemovedLabelsAreNeverReturned) {
  auto index = Build();
  ASSERT_NE(index, nullptr);
  std::set<Label> removed;
  std::vector<Label> to_remove;
  for (size_t i = 0; i < kNumVectors; i += 3) {
    to_remove.push_back(labels_[i]);
    removed.insert(labels_[i]);
  }
  to_remove.push_back(424242);  // unknown: ignored
  ASSERT_OK(index->Remove(to_remove));
  ASSERT_OK(index->Remove(to_remove));  // twice: ignored
  EXPECT_EQ(index->size(), kNumVectors - removed.size());
  EXPECT_FALSE(index->Contains(labels_[0]));
  EXPECT_TRUE(index->Contains(labels_[1]));
  EXPECT_EQ(index->Labels().size(), kNumVectors - removed.size());

  const SearchOptions options{.top_k = 30};
  const double recall = MeasureRecall(*index, options, removed);
  Report("recall@30 after removing 1/3", recall);
  EXPECT_GE(recall, backend().min_recall - kRemovalRecallSlack);

  std::string bytes;
  ASSERT_OK(index->Save(&bytes));
  ASSERT_OK_AND_ASSIGN(auto loaded, Load(bytes));
  EXPECT_EQ(loaded->size(), index->size());
  EXPECT_EQ(loaded->removed_count(), index->removed_count());
  EXPECT_FALSE(loaded->Contains(labels_[0]));
  EXPECT_GE(MeasureRecall(*loaded, options, removed), backend().min_recall - kRemovalRecallSlack);
}

TEST_P(IndexConformanceTest, ReplacingALabelKeepsOneVector) {
  auto index = Build();
  ASSERT_NE(index, nullptr);
  const Label label = labels_[42];
  // Move label 42 to 4 x query 0 (far from its old cluster; for kDot the long vector is its
  // own best match).
  const std::vector<float> moved = Scaled(Query(0), 4);
  ASSERT_OK(index->Add(std::vector<Label>{label}, moved));
  EXPECT_EQ(index->size(), kNumVectors);
  ASSERT_OK_AND_ASSIGN(auto hits, index->Search(moved, SearchOptions{.top_k = kTopK}));
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].label, label);
  ASSERT_OK_AND_ASSIGN(auto scored, index->ScoreLabels(moved, std::vector<Label>{label}, 1));
  ASSERT_EQ(scored.size(), 1u);
  EXPECT_NEAR(scored[0].score, ExactScore(metric(), moved.data(), moved.data()),
              1e-3 * (1 + std::abs(scored[0].score)));
  // Searching at the old position returns the label at most once, with its new score.
  ASSERT_OK_AND_ASSIGN(auto old_hits, index->Search(Row(42), SearchOptions{.top_k = 50}));
  int seen = 0;
  for (const SearchHit& h : old_hits) {
    if (h.label == label) {
      ++seen;
      EXPECT_NEAR(h.score, ExactScore(metric(), Row(42).data(), moved.data()),
                  1e-3 * (1 + std::abs(h.score)));
    }
  }
  EXPECT_LE(seen, 1);
}

TEST_P(IndexConformanceTest, FilteredSearchFindsTrueTopK) {
  auto index = Build();
  ASSERT_NE(index, nullptr);
  for (double selectivity : {0.5, 0.1, 0.01}) {
    HashFilter filter(selectivity);
    SearchOptions options{.top_k = kTopK, .filter = &filter, .filter_selectivity = selectivity};
    const double recall = MeasureRecall(*index, options);
    Report("filtered recall@10 at selectivity " + std::to_string(selectivity), recall);
    EXPECT_GE(recall, backend().exact ? kMinRecallAt10Exact : kMinFilteredRecallAt10Approx)
        << "selectivity " << selectivity;
  }
  // A filter that rejects everything returns nothing.
  HashFilter none(0);
  ASSERT_OK_AND_ASSIGN(auto hits, index->Search(Query(0), SearchOptions{.filter = &none}));
  EXPECT_TRUE(hits.empty());
}

TEST_P(IndexConformanceTest, SaveLoadRoundTripGivesIdenticalResults) {
  auto index = Build();
  ASSERT_NE(index, nullptr);
  ASSERT_OK(index->Remove(std::vector<Label>{labels_[7], labels_[8]}));
  std::string bytes = "prefix";  // Save appends
  ASSERT_OK(index->Save(&bytes));
  ASSERT_EQ(bytes.substr(0, 6), "prefix");
  ASSERT_OK_AND_ASSIGN(auto loaded, Load(std::string_view(bytes).substr(6)));
  EXPECT_EQ(loaded->size(), index->size());
  HashFilter filter(0.3);
  for (size_t q = 0; q < kNumQueries; ++q) {
    for (const LabelFilter* f : {static_cast<const LabelFilter*>(nullptr),
                                 static_cast<const LabelFilter*>(&filter)}) {
      SearchOptions options{.top_k = kTopK, .filter = f};
      ASSERT_OK_AND_ASSIGN(auto a, index->Search(Query(q), options));
      ASSERT_OK_AND_ASSIGN(auto b, loaded->Search(Query(q), options));
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].label, b[i].label);
        EXPECT_EQ(a[i].score, b[i].score);
      }
    }
  }
  // The loaded index keeps accepting writes.
  const std::vector<float> fresh = Scaled(Query(3), 4);
  ASSERT_OK(loaded->Add(std::vector<Label>{1}, fresh));
  ASSERT_OK_AND_ASSIGN(auto hits, loaded->Search(fresh, SearchOptions{.top_k = 1}));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].label, 1u);
}

TEST_P(IndexConformanceTest, LoadRejectsMalformedBytes) {
  auto index = Build();
  ASSERT_NE(index, nullptr);
  ASSERT_OK(index->Remove(std::vector<Label>{labels_[0]}));
  std::string bytes;
  ASSERT_OK(index->Save(&bytes));
  for (size_t len : {size_t{0}, size_t{1}, size_t{12}, size_t{30}, bytes.size() / 3,
                     bytes.size() / 2, bytes.size() - 1}) {
    auto r = LoadIndex(backend().spec, kDim, metric(), std::string_view(bytes).substr(0, len));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << "length " << len;
  }
  EXPECT_EQ(LoadIndex(backend().spec, kDim, metric(), bytes + "x").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(LoadIndex(backend().spec, kDim + 1, metric(), bytes).status().code(),
            absl::StatusCode::kDataLoss);
  const Metric other = metric() == Metric::kL2 ? Metric::kDot : Metric::kL2;
  EXPECT_EQ(LoadIndex(backend().spec, kDim, other, bytes).status().code(),
            absl::StatusCode::kDataLoss);
  std::mt19937 rng(3);
  std::string garbage(bytes.size(), '\0');
  for (char& c : garbage) c = static_cast<char>(rng());
  EXPECT_EQ(LoadIndex(backend().spec, kDim, metric(), garbage).status().code(),
            absl::StatusCode::kDataLoss);
  // Random corruption anywhere: either detected, or an index that searches without crashing.
  for (int i = 0; i < 40; ++i) {
    std::string bad = bytes;
    for (int j = 0; j < 4; ++j) bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
    auto r = LoadIndex(backend().spec, kDim, metric(), bad);
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
      continue;
    }
    auto hits = (*r)->Search(Query(0), SearchOptions{.top_k = kTopK});
    EXPECT_TRUE(hits.ok() || hits.status().code() == absl::StatusCode::kInternal);
  }
}

TEST_P(IndexConformanceTest, ConcurrentSearchesMatchSerialResults) {
  auto index = Build();
  ASSERT_NE(index, nullptr);
  ASSERT_OK(index->Remove(std::vector<Label>{labels_[1], labels_[2]}));
  HashFilter filter(0.2);
  std::vector<std::vector<SearchHit>> expected(kNumQueries);
  for (size_t q = 0; q < kNumQueries; ++q) {
    ASSERT_OK_AND_ASSIGN(expected[q],
                         index->Search(Query(q), SearchOptions{.top_k = kTopK,
                                                               .ef = static_cast<int>(16 + q),
                                                               .filter = q % 2 ? &filter : nullptr}));
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (size_t i = 0; i < kNumQueries; ++i) {
          const size_t q = (i + t * 13) % kNumQueries;
          auto hits = index->Search(Query(q), SearchOptions{.top_k = kTopK,
                                                            .ef = static_cast<int>(16 + q),
                                                            .filter = q % 2 ? &filter : nullptr});
          if (!hits.ok() || hits->size() != expected[q].size()) {
            ++mismatches;
            continue;
          }
          for (size_t j = 0; j < hits->size(); ++j) {
            if ((*hits)[j].label != expected[q][j].label) ++mismatches;
          }
          auto scored = index->ScoreLabels(Query(q), labels_, 3);
          if (!scored.ok() || scored->size() != 3) ++mismatches;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST_P(IndexConformanceTest, BadArgumentsAreInvalidArgument) {
  auto index = Build();
  ASSERT_NE(index, nullptr);
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  std::vector<float> short_vector(kDim - 1, 1.0f);
  EXPECT_EQ(index->Add(std::vector<Label>{1}, short_vector).code(), kInvalid);
  EXPECT_EQ(index->Add(std::vector<Label>{1, 2}, Query(0)).code(), kInvalid);
  std::vector<float> nan_vector(kDim, 1.0f);
  nan_vector[3] = std::nanf("");
  EXPECT_EQ(index->Add(std::vector<Label>{1}, nan_vector).code(), kInvalid);
  EXPECT_FALSE(index->Contains(1));
  EXPECT_EQ(index->Search(short_vector, {}).status().code(), kInvalid);
  EXPECT_EQ(index->Search(nan_vector, {}).status().code(), kInvalid);
  EXPECT_EQ(index->Search(Query(0), SearchOptions{.ef = -1}).status().code(), kInvalid);
  EXPECT_EQ(index->ScoreLabels(short_vector, labels_, 3).status().code(), kInvalid);
  EXPECT_EQ(index->size(), kNumVectors);
  ASSERT_OK_AND_ASSIGN(auto none, index->Search(Query(0), SearchOptions{.top_k = 0}));
  EXPECT_TRUE(none.empty());
  // top_k above the number of live labels returns them all.
  ASSERT_OK(index->Add({}, {}));
  EXPECT_EQ(MakeIndex(backend().spec, 0, metric()).status().code(), kInvalid);
  IndexSpec bad = backend().spec;
  bad.m = 1;
  EXPECT_EQ(MakeIndex(bad, kDim, metric()).status().code(), kInvalid);
}

TEST_P(IndexConformanceTest, GrowsFromEmptyInSmallBatches) {
  ASSERT_OK_AND_ASSIGN(auto index, Make());
  ASSERT_OK_AND_ASSIGN(auto empty, index->Search(Query(0), {}));
  EXPECT_TRUE(empty.empty());
  std::string empty_bytes;
  ASSERT_OK(index->Save(&empty_bytes));
  ASSERT_OK_AND_ASSIGN(auto empty_loaded, LoadIndex(backend().spec, kDim, metric(), empty_bytes));
  EXPECT_EQ(empty_loaded->size(), 0u);
  constexpr size_t kBatch = 250;
  for (size_t start = 0; start < kNumVectors; start += kBatch) {
    ASSERT_OK(index->Add(std::span<const Label>(labels_).subspan(start, kBatch),
                         std::span<const float>(data_).subspan(start * kDim, kBatch * kDim)));
    EXPECT_EQ(index->size(), start + kBatch);
    EXPECT_TRUE(index->Contains(labels_[start + kBatch - 1]));
    // The first vector of the batch is its own nearest neighbour (not so for kDot, where a
    // longer vector in the same direction scores higher).
    if (metric() != Metric::kDot) {
      ASSERT_OK_AND_ASSIGN(auto hits, index->Search(Row(start), SearchOptions{.top_k = 1}));
      ASSERT_EQ(hits.size(), 1u);
      EXPECT_EQ(hits[0].label, labels_[start]);
    }
  }
  EXPECT_GE(MeasureRecall(*index, SearchOptions{.top_k = kTopK}), backend().min_recall - 0.03);
}

INSTANTIATE_TEST_SUITE_P(AllBackends, IndexConformanceTest, ::testing::ValuesIn(AllParams()),
                         [](const ::testing::TestParamInfo<Param>& info) {
                           return info.param.backend.name + "_" + MetricName(info.param.metric);
                         });

// Churn: upserts that replace ids (a new label, the old one removed, as the engine does),
// in-place replacements of a label, deletes and re-inserts, over many rounds. Graph indexes
// that only mark removed nodes and prune neighbour lists on insert can leave live nodes
// without any path from the entry point; such a node is never returned, at any ef. Every live
// label must be found by a search with its own vector. Cosine only (with kDot a longer vector
// in the same direction outranks a vector's own), dim 64 as in the reported workload.
constexpr size_t kChurnDim = 64;
constexpr size_t kChurnIds = 1000;
constexpr size_t kChurnRounds = 12;
constexpr size_t kChurnOpsPerRound = 400;
constexpr int kChurnEf = 1024;  // above the live count: the walk is exhaustive

void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

class IndexChurnTest : public ::testing::TestWithParam<Backend> {
 protected:
  // Searches every live label with its own vector; returns the labels not in the top 10.
  std::vector<Label> Unfound(const VectorIndex& index,
                             const std::map<Label, std::vector<float>>& live) {
    std::vector<Label> missing;
    for (const auto& [label, vector] : live) {
      auto hits = index.Search(vector, SearchOptions{.top_k = kTopK, .ef = kChurnEf});
      EXPECT_TRUE(hits.ok()) << hits.status();
      if (!hits.ok()) return missing;
      const bool found = std::any_of(hits->begin(), hits->end(),
                                     [&](const SearchHit& h) { return h.label == label; });
      if (!found) missing.push_back(label);
    }
    return missing;
  }
};

TEST_P(IndexChurnTest, EveryLivePointIsFoundByItsOwnVector) {
  const IndexSpec& spec = GetParam().spec;
  auto store = std::make_shared<VectorStore>(kChurnDim);
  ASSERT_OK_AND_ASSIGN(auto index, Wrap(MakeIndex(spec, kChurnDim, Metric::kCosine), store));
  std::mt19937_64 rng(20261201);
  std::normal_distribution<float> normal(0, 1);
  // Half of the vectors come from a few tight clusters (re-embedded edits of similar chunks),
  // half are spread out.
  std::vector<float> centres(8 * kChurnDim);
  for (float& c : centres) c = normal(rng);
  auto random_vector = [&]() {
    std::vector<float> v(kChurnDim);
    const bool clustered = rng() % 2 == 0;
    const size_t c = rng() % 8;
    for (size_t d = 0; d < kChurnDim; ++d) {
      v[d] = clustered ? centres[c * kChurnDim + d] + 0.15f * normal(rng) : normal(rng);
    }
    return v;
  };
  Label next_label = 1;
  std::vector<std::optional<Label>> label_of(kChurnIds);  // id -> live label
  std::map<Label, std::vector<float>> live;               // live label -> its vector
  for (size_t id = 0; id < kChurnIds; ++id) {
    const Label label = next_label++;
    std::vector<float> v = random_vector();
    ASSERT_OK(index->Add(std::vector<Label>{label}, v));
    label_of[id] = label;
    live[label] = std::move(v);
  }
  for (size_t round = 0; round < kChurnRounds; ++round) {
    // One batch per round, applied the way the engine applies it: adds, then removes.
    std::vector<Label> add_labels, remove_labels;
    std::vector<float> add_vectors;
    std::set<size_t> touched;
    for (size_t op = 0; op < kChurnOpsPerRound; ++op) {
      const size_t id = rng() % kChurnIds;
      if (!touched.insert(id).second) continue;  // one change per id and batch
      const uint64_t kind = rng() % 10;
      std::optional<Label>& current = label_of[id];
      if (current && kind < 2) {  // delete
        remove_labels.push_back(*current);
        live.erase(*current);
        current.reset();
        continue;
      }
      std::vector<float> v = random_vector();
      if (current && kind < 4) {  // replace the label's vector in place
        add_labels.push_back(*current);
      } else {  // upsert under a new label, retiring the old one
        if (current) {
          remove_labels.push_back(*current);
          live.erase(*current);
        }
        current = next_label++;
        add_labels.push_back(*current);
      }
      add_vectors.insert(add_vectors.end(), v.begin(), v.end());
      live[*current] = std::move(v);
    }
    ASSERT_OK(index->Add(add_labels, add_vectors));
    ASSERT_OK(index->Remove(remove_labels));
    ASSERT_EQ(index->size(), live.size());
    if (round % 8 == 3) {
      const std::vector<Label> missing = Unfound(*index, live);
      EXPECT_TRUE(missing.empty())
          << missing.size() << " of " << live.size() << " live labels unreachable after round "
          << round << ", first " << missing.front();
    }
  }
  std::printf("[ churn    ] %s: %zu live, %zu removed slots\n", GetParam().name.c_str(),
              index->size(), index->removed_count());
  // A snapshot keeps every live label reachable.
  std::string bytes;
  ASSERT_OK(index->Save(&bytes));
  ASSERT_OK_AND_ASSIGN(auto loaded, Wrap(LoadIndex(spec, kChurnDim, Metric::kCosine, bytes), store));
  const std::vector<Label> missing = Unfound(*loaded, live);
  EXPECT_TRUE(missing.empty()) << missing.size() << " of " << live.size()
                               << " live labels unreachable after Save/Load";
}

INSTANTIATE_TEST_SUITE_P(AllBackends, IndexChurnTest, ::testing::ValuesIn(Backends()),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param.name;
                         });

// Backend-specific behaviour outside the shared contract.

TEST(FaissIndexTest, RejectsBadFactoryStrings) {
  IndexSpec spec = Spec(IndexKind::kFaiss, "NotAnIndex");
  EXPECT_EQ(MakeIndex(spec, kDim, Metric::kL2).status().code(),
            absl::StatusCode::kInvalidArgument);
  spec.faiss_factory = "IDMap,Flat";
  EXPECT_EQ(MakeIndex(spec, kDim, Metric::kL2).status().code(),
            absl::StatusCode::kInvalidArgument);
  spec.faiss_factory = "";
  EXPECT_EQ(MakeIndex(spec, kDim, Metric::kL2).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FaissIndexTest, UntrainedIvfAnswersExactlyFromItsBuffer) {
  ASSERT_OK_AND_ASSIGN(auto index, MakeIndex(Spec(IndexKind::kFaiss, "IVF16,Flat"), kDim,
                                             Metric::kL2));
  std::vector<float> data = ClusteredData(300, 9);
  std::vector<Label> labels(300);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = i + 1;
  ASSERT_OK(index->Add(labels, data));
  // Below the training threshold every search is exhaustive: each vector finds itself.
  for (size_t i = 0; i < labels.size(); i += 17) {
    ASSERT_OK_AND_ASSIGN(auto hits, index->Search(std::span<const float>(data).subspan(i * kDim, kDim),
                                                  SearchOptions{.top_k = 1}));
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].label, labels[i]);
    EXPECT_NEAR(hits[0].score, 0.0f, 1e-4);
  }
  std::string bytes;
  ASSERT_OK(index->Save(&bytes));
  ASSERT_OK_AND_ASSIGN(auto loaded,
                       LoadIndex(Spec(IndexKind::kFaiss, "IVF16,Flat"), kDim, Metric::kL2, bytes));
  EXPECT_EQ(loaded->size(), 300u);
}

TEST(HnswIndexTest, RemovedLabelAddedAgainIsLive) {
  ASSERT_OK_AND_ASSIGN(auto index, MakeIndex(Spec(IndexKind::kHnsw), kDim, Metric::kCosine));
  std::vector<float> data = ClusteredData(50, 4);
  std::vector<Label> labels(50);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = i;
  ASSERT_OK(index->Add(labels, data));
  ASSERT_OK(index->Remove(std::vector<Label>{7}));
  EXPECT_EQ(index->removed_count(), 1u);
  ASSERT_OK(index->Add(std::vector<Label>{7}, std::span<const float>(data).subspan(7 * kDim, kDim)));
  EXPECT_TRUE(index->Contains(7));
  EXPECT_EQ(index->size(), 50u);
  // The label lives on a new node; the old one is a removed slot until a rebuild.
  EXPECT_EQ(index->removed_count(), 1u);
  ASSERT_OK_AND_ASSIGN(auto hits, index->Search(std::span<const float>(data).subspan(7 * kDim, kDim),
                                                SearchOptions{.top_k = 1}));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].label, 7u);
  std::string bytes;
  ASSERT_OK(index->Save(&bytes));
  ASSERT_OK_AND_ASSIGN(auto loaded, LoadIndex(Spec(IndexKind::kHnsw), kDim, Metric::kCosine, bytes));
  EXPECT_TRUE(loaded->Contains(7));
  EXPECT_EQ(loaded->size(), 50u);
  EXPECT_EQ(loaded->removed_count(), 1u);
}

TEST(IndexSpecTest, ValidateNamesTheField) {
  IndexSpec spec;
  EXPECT_OK(spec.Validate());
  spec.m = 200;
  EXPECT_NE(spec.Validate().message().find("index.m must be in [2, 128]"), std::string::npos);
  spec = IndexSpec{};
  spec.ef = 0;
  EXPECT_NE(spec.Validate().message().find("index.ef"), std::string::npos);
  spec = IndexSpec{};
  spec.ef_construction = 0;
  EXPECT_NE(spec.Validate().message().find("index.ef_construction"), std::string::npos);
  spec = IndexSpec{};
  spec.nprobe = 0;
  EXPECT_NE(spec.Validate().message().find("index.nprobe"), std::string::npos);
  spec = IndexSpec{};
  spec.faiss_factory = "HNSW32";
  EXPECT_EQ(spec.Validate().code(), absl::StatusCode::kInvalidArgument);
  spec.kind = IndexKind::kFaiss;
  EXPECT_OK(spec.Validate());
  spec.faiss_factory.clear();
  EXPECT_NE(spec.Validate().message().find("index.faiss_factory is required"), std::string::npos);
  spec.kind = static_cast<IndexKind>(9);
  EXPECT_EQ(spec.Validate().code(), absl::StatusCode::kInvalidArgument);
  spec = IndexSpec{};
  spec.quantization = Quantization::kInt8;
  EXPECT_OK(spec.Validate());
  spec.kind = IndexKind::kFlat;
  EXPECT_NE(spec.Validate().message().find("index.quantization"), std::string::npos);
  spec = IndexSpec{};
  spec.quantization = static_cast<Quantization>(7);
  EXPECT_NE(spec.Validate().message().find("index.quantization"), std::string::npos);
}

}  // namespace
}  // namespace ragd::index
