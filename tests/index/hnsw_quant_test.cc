// Quantized HNSW storage outside the shared conformance contract: searches without the float32
// vectors (scores from the codes), snapshots only loading under their own storage kind, and
// int8's exact float32 phase before training. (The conformance suite runs HnswF16 and
// HnswInt8 through every shared case, re-scored; quant_kernels_test checks the kernels.)

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
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
constexpr size_t kNumVectors = 2000;
constexpr size_t kNumQueries = 50;
constexpr size_t kTopK = 10;

IndexSpec Spec(IndexKind kind, std::string factory = "",
               Quantization quantization = Quantization::kNone) {
  IndexSpec s;
  s.kind = kind;
  s.m = 16;
  s.ef_construction = 100;
  s.ef = 64;
  s.faiss_factory = std::move(factory);
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

// Quantized HNSW without the float32 vectors: scores come from the codes (close to exact),
// recall stays high; a snapshot only loads under the spec's own storage kind; int8 keeps its
// first vectors float32 (exact) until it has enough to train on.
TEST(HnswIndexTest, QuantizedWithoutRescoringAndAcrossSpecs) {
  std::vector<float> data = ClusteredData(kNumVectors, 1);
  std::vector<float> queries = ClusteredData(kNumQueries, 2);
  std::vector<Label> labels(kNumVectors);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = i + 1;
  for (Quantization quantization : {Quantization::kF16, Quantization::kInt8}) {
    for (Metric metric : {Metric::kCosine, Metric::kL2}) {
      const IndexSpec spec = Spec(IndexKind::kHnsw, "", quantization);
      ASSERT_OK_AND_ASSIGN(auto index, MakeIndex(spec, kDim, metric));
      ASSERT_OK(index->Add(labels, data));
      double hits = 0;
      for (size_t q = 0; q < kNumQueries; ++q) {
        std::span<const float> query(queries.data() + q * kDim, kDim);
        ASSERT_OK_AND_ASSIGN(auto got, index->Search(query, SearchOptions{.top_k = kTopK}));
        ASSERT_EQ(got.size(), kTopK);
        std::vector<std::pair<double, Label>> truth;
        for (size_t i = 0; i < kNumVectors; ++i) {
          truth.emplace_back(-ExactScore(metric, query.data(), data.data() + i * kDim), labels[i]);
        }
        std::sort(truth.begin(), truth.end());
        for (const SearchHit& h : got) {
          const double exact = ExactScore(metric, query.data(), data.data() + (h.label - 1) * kDim);
          // Approximate: within a few per cent of the score's scale.
          EXPECT_NEAR(h.score, exact, 0.03 * (1 + std::abs(exact)));
          for (size_t t = 0; t < kTopK; ++t) hits += truth[t].second == h.label;
        }
      }
      const double recall = hits / (kNumQueries * kTopK);
      std::printf("[ recall   ] Hnsw quantization %d metric %d, no re-scoring: %.4f\n",
                  static_cast<int>(quantization), static_cast<int>(metric), recall);
      EXPECT_GE(recall, 0.85);
      std::string bytes;
      ASSERT_OK(index->Save(&bytes));
      EXPECT_EQ(LoadIndex(Spec(IndexKind::kHnsw), kDim, metric, bytes).status().code(),
                absl::StatusCode::kDataLoss);
      ASSERT_OK(LoadIndex(spec, kDim, metric, bytes).status());
    }
  }
  // Float32 snapshots do not load as quantized ones either.
  ASSERT_OK_AND_ASSIGN(auto plain, MakeIndex(Spec(IndexKind::kHnsw), kDim, Metric::kL2));
  ASSERT_OK(plain->Add(labels, data));
  std::string bytes;
  ASSERT_OK(plain->Save(&bytes));
  EXPECT_EQ(LoadIndex(Spec(IndexKind::kHnsw, "", Quantization::kF16), kDim, Metric::kL2, bytes)
                .status()
                .code(),
            absl::StatusCode::kDataLoss);
  // int8 below the training size: exact, and so after Save/Load.
  const IndexSpec int8 = Spec(IndexKind::kHnsw, "", Quantization::kInt8);
  ASSERT_OK_AND_ASSIGN(auto small, MakeIndex(int8, kDim, Metric::kL2));
  ASSERT_OK(small->Add(std::span<const Label>(labels).subspan(0, 100),
                       std::span<const float>(data).subspan(0, 100 * kDim)));
  ASSERT_OK(small->Remove(std::vector<Label>{labels[5]}));
  EXPECT_EQ(small->size(), 99u);
  std::string small_bytes;
  ASSERT_OK(small->Save(&small_bytes));
  ASSERT_OK_AND_ASSIGN(auto small_loaded, LoadIndex(int8, kDim, Metric::kL2, small_bytes));
  EXPECT_EQ(small_loaded->size(), 99u);
  EXPECT_FALSE(small_loaded->Contains(labels[5]));
  for (size_t i : {0, 50, 99}) {
    ASSERT_OK_AND_ASSIGN(auto hits, small_loaded->Search(
                                        std::span<const float>(data).subspan(i * kDim, kDim),
                                        SearchOptions{.top_k = 1}));
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].label, labels[i]);
    EXPECT_EQ(hits[0].score, 0.0f);
  }
}

// int8 trains on the first vectors, and the largest deviation a few hundred of them show
// understates what later vectors hold: the range is at least 4.5 standard deviations, so a
// later value at 3 standard deviations, beyond every training value, keeps its code instead
// of being clamped to the training's largest (which would put it 2 per dimension away).
TEST(HnswIndexTest, Int8CodesCoverValuesBeyondTheTrainingSample) {
  std::mt19937 rng(7);
  std::vector<float> training(256 * kDim);
  for (float& x : training) x = (rng() & 1) ? 1.0f : -1.0f;  // every deviation ~1, sigma ~1
  std::vector<Label> labels(256);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = i + 1;
  const IndexSpec int8 = Spec(IndexKind::kHnsw, "", Quantization::kInt8);
  ASSERT_OK_AND_ASSIGN(auto index, MakeIndex(int8, kDim, Metric::kL2));
  ASSERT_OK(index->Add(labels, training));  // trains here
  std::vector<float> far(kDim);
  for (size_t d = 0; d < kDim; ++d) far[d] = (d % 2 == 0) ? 3.0f : -3.0f;
  ASSERT_OK(index->Add(std::vector<Label>{1000}, far));
  // No exact vectors given: the score is the code's own distance to the query.
  ASSERT_OK_AND_ASSIGN(auto hits, index->Search(far, SearchOptions{.top_k = 1}));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].label, 1000u);
  // A step is 4.5 / 127 ~ 0.035, so each coordinate decodes within 0.018 of 3: the squared
  // distance is at most 32 x 0.018^2 ~ 0.01 (clamped to the training's 1 it would be 128).
  EXPECT_NEAR(hits[0].score, ExactScore(Metric::kL2, far.data(), far.data()), 0.02);
}

// How many candidates a search re-scores: k x oversampling, where 0 means the kind's default,
// DefaultOversampling: INT8 1.5 (its codes lose recall without the extra candidates), F16 1
// (only the k results, for exact scores: F16 codes rank like float32). Counted at the fetcher,
// the one place a re-scored candidate's float32 vector comes from.
TEST(HnswIndexTest, DefaultOversamplingIsPerStorageKind) {
  std::vector<float> data = ClusteredData(kNumVectors, 1);
  std::vector<Label> labels(kNumVectors);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = i + 1;
  VectorStore store(kDim);
  store.Put(labels, data);
  std::vector<size_t> fetched;
  const ExactVectorFetcher counting = [&](std::span<const Label> wanted, std::vector<float>* out,
                                          std::vector<bool>* found) {
    fetched.push_back(wanted.size());
    return store.fetcher()(wanted, out, found);
  };
  EXPECT_EQ(DefaultOversampling(Quantization::kInt8), 1.5f);
  EXPECT_EQ(DefaultOversampling(Quantization::kF16), 1.0f);
  struct Case {
    Quantization kind;
    float oversampling;
    size_t want;  // candidates fetched for k = 10
  };
  for (const Case& c : {Case{Quantization::kInt8, 0, 15}, Case{Quantization::kF16, 0, 10},
                        Case{Quantization::kF16, 3, 30}, Case{Quantization::kInt8, 2, 20},
                        Case{Quantization::kInt8, 1.25f, 13}}) {
    SCOPED_TRACE(::testing::Message()
                 << "kind " << static_cast<int>(c.kind) << " oversampling " << c.oversampling);
    ASSERT_OK_AND_ASSIGN(auto index,
                         MakeIndex(Spec(IndexKind::kHnsw, "", c.kind), kDim, Metric::kL2));
    ASSERT_OK(index->Add(labels, data));
    fetched.clear();
    SearchOptions options{
        .top_k = kTopK, .oversampling = c.oversampling, .exact_vectors = &counting};
    ASSERT_OK_AND_ASSIGN(auto hits,
                         index->Search(std::span<const float>(data).subspan(0, kDim), options));
    ASSERT_EQ(fetched.size(), 1u);
    EXPECT_EQ(fetched[0], c.want);
    ASSERT_EQ(hits.size(), kTopK);
    EXPECT_EQ(hits[0].label, labels[0]);
    // Re-scored: every returned score is the exact float32 one.
    for (const SearchHit& hit : hits) {
      EXPECT_FLOAT_EQ(hit.score,
                      static_cast<float>(ExactScore(Metric::kL2, data.data(),
                                                    data.data() + (hit.label - 1) * kDim)));
    }
  }
}

// Snapshots written before storage kinds existed (format 1: no kind field) load as float32.
TEST(HnswIndexTest, FormatOneSnapshotsLoadAsFloat32) {
  std::vector<float> data = ClusteredData(500, 3);
  std::vector<Label> labels(500);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = i + 1;
  ASSERT_OK_AND_ASSIGN(auto index, MakeIndex(Spec(IndexKind::kHnsw), kDim, Metric::kL2));
  ASSERT_OK(index->Add(labels, data));
  ASSERT_OK(index->Remove(std::vector<Label>{labels[9]}));
  std::string v2;
  ASSERT_OK(index->Save(&v2));
  // magic u32 | version u32 | dim u64 | metric u32 = 20 bytes, then (format 2) the kind u32.
  std::string v1 = v2.substr(0, 20) + v2.substr(24);
  const uint32_t one = 1;
  std::memcpy(v1.data() + 4, &one, sizeof(one));
  ASSERT_OK_AND_ASSIGN(auto loaded, LoadIndex(Spec(IndexKind::kHnsw), kDim, Metric::kL2, v1));
  EXPECT_EQ(loaded->size(), 499u);
  EXPECT_EQ(loaded->removed_count(), 1u);
  for (size_t i : {0, 100, 499}) {
    std::span<const float> row(data.data() + i * kDim, kDim);
    ASSERT_OK_AND_ASSIGN(auto a, index->Search(row, SearchOptions{.top_k = 5}));
    ASSERT_OK_AND_ASSIGN(auto b, loaded->Search(row, SearchOptions{.top_k = 5}));
    ASSERT_EQ(a.size(), b.size());
    for (size_t j = 0; j < a.size(); ++j) EXPECT_EQ(a[j].label, b[j].label);
  }
  EXPECT_EQ(LoadIndex(Spec(IndexKind::kHnsw, "", Quantization::kF16), kDim, Metric::kL2, v1)
                .status()
                .code(),
            absl::StatusCode::kDataLoss);
}

// The walk's prefetch rule (hnsw_index.h, WalkPrefetchLines): whole rows up to 3 KiB, the
// first 8 lines of larger ones. At 1536 dimensions: F16 codes 3,072 bytes, INT8 codes 1,540
// (a float and a byte per dimension), float32 rows 6,144.
TEST(HnswIndexTest, WalkPrefetchesWholeCodeRowsAndTheHeadOfLargeRows) {
  EXPECT_EQ(WalkPrefetchLines(1536 * 2), 48u);
  EXPECT_EQ(WalkPrefetchLines(4 + 1536), 25u);
  EXPECT_EQ(WalkPrefetchLines(1536 * 4), 8u);
  EXPECT_EQ(WalkPrefetchLines(768 * 4), 48u);
  EXPECT_EQ(WalkPrefetchLines(3073), 8u);
  EXPECT_EQ(WalkPrefetchLines(100), 2u);
  EXPECT_EQ(WalkPrefetchLines(1), 1u);
}

}  // namespace
}  // namespace ragd::index
