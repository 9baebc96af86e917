// Consistency under concurrent writes and the engine's self-check: a filtered search never
// returns a payload that fails its filter while the points are rewritten; Engine::Verify
// compares storage with the indexes and finds points the index holds but cannot reach.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "index/engine/engine.h"
#include "index/engine/verify.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace ragd::index {
namespace {

std::vector<float> RandomVector(std::mt19937& rng, uint32_t dim) {
  std::normal_distribution<float> n(0, 1);
  std::vector<float> v(dim);
  for (auto& x : v) x = n(rng);
  return v;
}

CollectionSpec Spec(std::string name, uint32_t dim, uint32_t shards) {
  CollectionSpec s;
  s.name = std::move(name);
  s.dimension = dim;
  s.metric = Metric::kCosine;
  s.index.kind = IndexKind::kHnsw;
  s.shards = shards;
  return s;
}

class EngineVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() {
    engine_.reset();
    Engine::Options o;
    o.data_dir = dir_.str();
    o.snapshot_interval_seconds = 0;
    o.idle_flush_seconds = 0;
    o.sync_writes = false;  // the workloads below are about memory, not durability
    o.compaction_min_removed = 200;
    ASSERT_OK_AND_ASSIGN(engine_, Engine::Open(o));
  }

  ragd::testing::TempDir dir_;
  std::unique_ptr<Engine> engine_;
};

// Issue 13 item 2: one writer flips points between grp 1 and 2 while three searchers filter
// on grp == 1. The filter is evaluated on the version the index holds; the payload must be
// that very version, never a newer one read from storage afterwards.
TEST_F(EngineVerifyTest, FilteredSearchNeverReturnsAPayloadThatFailsTheFilter) {
  constexpr uint32_t kDim = 16;
  constexpr int kPoints = 20;
  constexpr int kFlips = 2000;
  constexpr int kMaxSearchesPerThread = 200000;
  ASSERT_OK(engine_->CreateCollection(Spec("flip", kDim, 1)));
  std::mt19937 rng(13);
  std::vector<Point> points;
  for (int i = 0; i < kPoints; ++i) {
    Point p;
    p.id = "f" + std::to_string(i);
    p.vector = RandomVector(rng, kDim);
    p.text = "chunk " + std::to_string(i);
    p.metadata["grp"] = int64_t{1 + i % 2};
    points.push_back(p);
  }
  ASSERT_OK(engine_->Upsert("flip", points));

  std::atomic<bool> done{false};
  std::atomic<int64_t> hits{0}, bad{0}, failures{0};
  std::vector<std::thread> searchers;
  for (int t = 0; t < 3; ++t) {
    searchers.emplace_back([&, t] {
      std::mt19937 qrng(100 + t);
      SearchRequest req;
      req.collection = "flip";
      req.k = kPoints;
      req.filter = Filter::Cond(Equals("grp", int64_t{1}));
      for (int i = 0; i < kMaxSearchesPerThread && !done; ++i) {
        req.query = RandomVector(qrng, kDim);
        auto r = engine_->Search(req);
        if (!r.ok()) {
          ++failures;
          continue;
        }
        for (const ScoredPoint& h : r->hits) {
          ++hits;
          auto it = h.point.metadata.find("grp");
          if (it == h.point.metadata.end() || it->second != MetadataValue(int64_t{1})) ++bad;
        }
      }
    });
  }
  for (int i = 0; i < kFlips; ++i) {
    Point& p = points[i % kPoints];
    const int64_t grp = std::get<int64_t>(p.metadata["grp"]);
    p.metadata["grp"] = int64_t{3 - grp};
    ASSERT_OK(engine_->Upsert("flip", std::vector<Point>{p}));
  }
  done = true;
  for (auto& t : searchers) t.join();
  std::printf("[ flips    ] %d flips, %lld hits, %lld failing the filter\n", kFlips,
              static_cast<long long>(hits.load()), static_cast<long long>(bad.load()));
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(hits.load(), 0);
  EXPECT_EQ(bad.load(), 0);
}

// The reported churn, bounded by counts: writers own disjoint ids, upsert batches of 1-50
// points that replace existing ids, delete by ids and by filter. Then Verify finds storage
// and indexes in agreement and every point reachable, before and after a restart.
TEST_F(EngineVerifyTest, VerifyFindsEveryPointAfterChurnAndRestart) {
  constexpr uint32_t kDim = 64;
  constexpr int kWriters = 3;
  constexpr int kIdsPerWriter = 400;
  constexpr int kRounds = 150;
  ASSERT_OK(engine_->CreateCollection(Spec("churn", kDim, 2)));
  std::mt19937 rng(1312);
  for (int round = 0; round < kRounds; ++round) {
    const int writer = round % kWriters;
    auto id = [&](int i) { return "w" + std::to_string(writer) + "-" + std::to_string(i); };
    switch (rng() % 6) {
      case 0: {  // delete by ids
        std::vector<std::string> ids;
        for (int n = 1 + rng() % 30; n > 0; --n) ids.push_back(id(rng() % kIdsPerWriter));
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        ASSERT_OK(engine_->Delete("churn", ids));
        break;
      }
      case 1: {  // delete by filter: one writer's ids in a bucket
        Filter f = Filter::And({Filter::Cond(Equals("writer", int64_t{writer})),
                                Filter::Cond(Equals("bucket", int64_t(rng() % 20)))});
        ASSERT_OK(engine_->DeleteByFilter("churn", f));
        break;
      }
      default: {  // upsert 1-50 points, most of them replacing existing ids
        std::vector<Point> batch;
        std::set<int> used;
        for (int n = 1 + rng() % 50; n > 0; --n) {
          const int i = rng() % kIdsPerWriter;
          if (!used.insert(i).second) continue;
          Point p;
          p.id = id(i);
          p.vector = RandomVector(rng, kDim);
          p.text = "text of " + p.id;
          p.metadata["writer"] = int64_t{writer};
          p.metadata["bucket"] = int64_t{i % 20};
          batch.push_back(std::move(p));
        }
        ASSERT_OK(engine_->Upsert("churn", batch));
      }
    }
  }
  engine_->WaitForCompactions();
  ASSERT_OK_AND_ASSIGN(const uint64_t count, engine_->Count("churn", std::nullopt));
  ASSERT_GT(count, 0u);
  for (int pass = 0; pass < 2; ++pass) {
    ASSERT_OK_AND_ASSIGN(VerifyReport r, engine_->Verify("churn"));
    EXPECT_TRUE(r.ok()) << "pass " << pass << ": " << r.unreachable << " unreachable, "
                        << r.missing_from_index << " missing from index, " << r.missing_from_storage
                        << " missing from storage";
    EXPECT_EQ(r.storage_points, count);
    EXPECT_EQ(r.index_points, count);
    EXPECT_EQ(r.searched, count);
    EXPECT_EQ(r.unreachable, 0u);
    EXPECT_TRUE(r.unreachable_ids.empty());
    if (pass == 0) {
      ASSERT_OK(engine_->Close());
      Open();
    }
  }
  // A smaller budget searches an even sample (per shard, rounded up).
  ASSERT_OK_AND_ASSIGN(VerifyReport sampled,
                       engine_->Verify("churn", VerifyOptions{.max_searches = 10}));
  EXPECT_GE(sampled.searched, 10u);
  EXPECT_LE(sampled.searched, 12u);
  EXPECT_EQ(engine_->Verify("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(engine_->Verify("churn", VerifyOptions{.ef = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(VerifyCompareShardTest, CountsEachKindOfDisagreement) {
  const std::vector<std::pair<std::string, Label>> points = {
      {"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}};
  const absl::flat_hash_set<Label> vectors = {1, 3, 4};  // b's vector is gone
  const std::vector<Label> index_labels = {1, 2, 4, 9};  // c missing; 9 is stray
  VerifyReport r;
  CompareShard(points, vectors, index_labels, &r);
  EXPECT_EQ(r.storage_points, 4u);
  EXPECT_EQ(r.index_points, 4u);
  EXPECT_EQ(r.missing_vectors, 1u);
  EXPECT_EQ(r.missing_vector_ids, std::vector<std::string>{"b"});
  EXPECT_EQ(r.missing_from_index, 1u);
  EXPECT_EQ(r.missing_from_index_ids, std::vector<std::string>{"c"});
  EXPECT_EQ(r.missing_from_storage, 1u);
  EXPECT_EQ(r.missing_from_storage_labels, std::vector<uint64_t>{9});
  EXPECT_FALSE(r.ok());

  VerifyReport clean;
  CompareShard(points, {1, 2, 3, 4}, {4, 3, 2, 1}, &clean);
  EXPECT_TRUE(clean.ok());
}

// An index that holds a label but whose searches never return it: what an unreachable HNSW
// node looks like from outside.
class HidingIndex final : public VectorIndex {
 public:
  HidingIndex(std::unique_ptr<VectorIndex> inner, Label hidden)
      : inner_(std::move(inner)), hidden_(hidden) {}
  size_t dim() const override { return inner_->dim(); }
  Metric metric() const override { return inner_->metric(); }
  const IndexSpec& spec() const override { return inner_->spec(); }
  size_t size() const override { return inner_->size(); }
  size_t removed_count() const override { return inner_->removed_count(); }
  size_t MemoryBytes() const override { return inner_->MemoryBytes(); }
  absl::Status Add(std::span<const Label> l, std::span<const float> v) override {
    return inner_->Add(l, v);
  }
  absl::Status Remove(std::span<const Label> l) override { return inner_->Remove(l); }
  absl::StatusOr<std::vector<SearchHit>> Search(std::span<const float> q,
                                                const SearchOptions& o) const override {
    SearchOptions wider = o;
    wider.top_k = o.top_k + 1;
    ASSIGN_OR_RETURN(auto hits, inner_->Search(q, wider));
    std::erase_if(hits, [&](const SearchHit& h) { return h.label == hidden_; });
    if (hits.size() > o.top_k) hits.resize(o.top_k);
    return hits;
  }
  absl::StatusOr<std::vector<SearchHit>> ScoreLabels(std::span<const float> q,
                                                     std::span<const Label> l,
                                                     size_t k) const override {
    return inner_->ScoreLabels(q, l, k);
  }
  bool Contains(Label l) const override { return inner_->Contains(l); }
  std::vector<Label> Labels() const override { return inner_->Labels(); }
  absl::Status Save(std::string* out) const override { return inner_->Save(out); }

 private:
  std::unique_ptr<VectorIndex> inner_;
  Label hidden_;
};

TEST(VerifyFoundByOwnVectorTest, MissIsUnreachableUnlessTiesFillTheTopK) {
  constexpr size_t kDim = 8;
  IndexSpec spec;
  spec.kind = IndexKind::kFlat;
  ASSERT_OK_AND_ASSIGN(auto flat, MakeIndex(spec, kDim, Metric::kCosine));
  HidingIndex index(std::move(flat), 5);
  std::mt19937 rng(5);
  std::map<Label, std::vector<float>> vectors;
  for (Label l = 1; l <= 30; ++l) {
    vectors[l] = RandomVector(rng, kDim);
    ASSERT_OK(index.Add(std::vector<Label>{l}, vectors[l]));
  }
  // Labels 100..111: twelve copies of one vector.
  const std::vector<float> same = RandomVector(rng, kDim);
  for (Label l = 100; l <= 111; ++l) ASSERT_OK(index.Add(std::vector<Label>{l}, same));

  ASSERT_OK_AND_ASSIGN(bool found, FoundByOwnVector(index, 1, vectors[1], 100));
  EXPECT_TRUE(found);
  ASSERT_OK_AND_ASSIGN(found, FoundByOwnVector(index, 5, vectors[5], 100));
  EXPECT_FALSE(found);  // held (ScoreLabels scores it) but never returned
  // Twelve equal vectors: a copy left out of the top 10 is not reported.
  for (Label l = 100; l <= 111; ++l) {
    ASSERT_OK_AND_ASSIGN(found, FoundByOwnVector(index, l, same, 100));
    EXPECT_TRUE(found) << l;
  }
  // A label the index does not hold is CompareShard's business, not unreachable.
  ASSERT_OK_AND_ASSIGN(found, FoundByOwnVector(index, 777, vectors[1], 100));
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace ragd::index
