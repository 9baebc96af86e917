// Quantized HNSW collections through the engine: the spec persists in the catalog (old
// records read as float32), searches re-score with the float32 vectors in RocksDB (exact
// scores, the same answers as an exact collection in every filter plan), per-call rescore and
// oversampling, and restart, deletes and compaction keep all of it.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "index/engine/engine.h"
#include "index/engine/validate.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace ragd::index {
namespace {

constexpr uint32_t kDim = 24;

std::vector<float> RandomVector(std::mt19937& rng) {
  std::normal_distribution<float> n(0, 1);
  std::vector<float> v(kDim);
  for (auto& x : v) x = n(rng) + 0.5f;  // a common direction, as embeddings have
  return v;
}

CollectionSpec QuantSpec(std::string name, Quantization q, IndexKind kind = IndexKind::kHnsw) {
  CollectionSpec s;
  s.name = std::move(name);
  s.dimension = kDim;
  s.metric = Metric::kCosine;
  s.index.kind = kind;
  s.index.quantization = q;
  s.shards = 2;
  return s;
}

class EngineQuantTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() {
    engine_.reset();
    Engine::Options o;
    o.data_dir = dir_.str();
    o.snapshot_interval_seconds = 0;
    o.brute_force_max_matches = 50;
    o.filter_plan_by_cost = false;  // exercise the restricted index walk on 1,500 points too
    o.compaction_min_removed = 100;
    o.rescore_file = rescore_file_;
    ASSERT_OK_AND_ASSIGN(engine_, Engine::Open(o));
  }
  void Restart() {
    ASSERT_OK(engine_->Close());
    Open();
  }
  void Fill(const std::string& name, int n) {
    std::mt19937 rng(11);
    std::vector<Point> batch;
    for (int i = 0; i < n; ++i) {
      Point p;
      p.id = "p" + std::to_string(i);
      p.vector = RandomVector(rng);
      p.metadata["mod100"] = int64_t{i % 100};
      batch.push_back(std::move(p));
      if (batch.size() == 400) {
        ASSERT_OK(engine_->Upsert(name, batch).status());
        batch.clear();
      }
    }
    if (!batch.empty()) ASSERT_OK(engine_->Upsert(name, batch).status());
  }
  // Searches `name` and the exact collection "exact" with the same request: same ids, and
  // scores equal to the exact ones when re-scored.
  void ExpectExact(const std::string& name, SearchRequest req, SearchPlan plan) {
    req.collection = name;
    ASSERT_OK_AND_ASSIGN(auto got, engine_->Search(req));
    EXPECT_EQ(got.plan, plan);
    req.collection = "exact";
    ASSERT_OK_AND_ASSIGN(auto want, engine_->Search(req));
    ASSERT_EQ(got.hits.size(), want.hits.size());
    size_t same = 0;
    for (size_t i = 0; i < got.hits.size(); ++i) {
      same += got.hits[i].point.id == want.hits[i].point.id;
      if (i > 0) EXPECT_GE(got.hits[i - 1].score, got.hits[i].score);
    }
    // Approximate walk, exact scores: nearly always the same list.
    EXPECT_GE(same + 1, got.hits.size()) << name;
    for (const auto& h : got.hits) {
      auto it = std::find_if(want.hits.begin(), want.hits.end(),
                             [&](const ScoredPoint& w) { return w.point.id == h.point.id; });
      if (it != want.hits.end()) EXPECT_NEAR(h.score, it->score, 1e-5) << h.point.id;
    }
  }

  ragd::testing::TempDir dir_;
  std::unique_ptr<Engine> engine_;
  bool rescore_file_ = true;
};

TEST_F(EngineQuantTest, SearchesRescoreExactlyInEveryPlanAndSurviveRestartAndCompaction) {
  ASSERT_OK(engine_->CreateCollection(QuantSpec("exact", Quantization::kNone, IndexKind::kFlat)));
  ASSERT_OK(engine_->CreateCollection(QuantSpec("f16", Quantization::kF16)));
  ASSERT_OK(engine_->CreateCollection(QuantSpec("int8", Quantization::kInt8)));
  for (const char* name : {"exact", "f16", "int8"}) Fill(name, 1500);

  auto check_all = [&](const char* when) {
    SCOPED_TRACE(when);
    std::mt19937 rng(5);
    for (const char* name : {"f16", "int8"}) {
      for (int q = 0; q < 10; ++q) {
        SearchRequest req;
        req.k = 10;
        req.query = RandomVector(rng);
        ExpectExact(name, req, SearchPlan::kIndex);
        req.filter = Filter::Cond(Equals("mod100", int64_t{3}));  // 15 points: brute force
        ExpectExact(name, req, SearchPlan::kBruteForce);
        req.filter = Filter::Cond(Range("mod100", 0.0, 60.0));  // 60%: filtered index search
        ExpectExact(name, req, SearchPlan::kIndexFiltered);
      }
    }
  };
  check_all("fresh");

  // Without re-scoring the scores come from the codes: close, not equal.
  std::mt19937 rng(8);
  SearchRequest req;
  req.collection = "int8";
  req.k = 10;
  req.query = RandomVector(rng);
  req.rescore = false;
  ASSERT_OK_AND_ASSIGN(auto approx, engine_->Search(req));
  req.rescore = true;
  req.oversampling = 5;
  ASSERT_OK_AND_ASSIGN(auto exact, engine_->Search(req));
  ASSERT_EQ(approx.hits.size(), 10u);
  ASSERT_EQ(exact.hits.size(), 10u);
  EXPECT_NEAR(approx.hits[0].score, exact.hits[0].score, 0.02);
  req.oversampling = 0.5f;
  EXPECT_EQ(engine_->Search(req).status().code(), absl::StatusCode::kInvalidArgument);
  req.oversampling = 101;
  EXPECT_EQ(engine_->Search(req).status().code(), absl::StatusCode::kInvalidArgument);

  Restart();  // from snapshots
  ASSERT_OK_AND_ASSIGN(auto info, engine_->GetCollection("int8"));
  EXPECT_EQ(info.spec.index.quantization, Quantization::kInt8);
  ASSERT_OK_AND_ASSIGN(info, engine_->GetCollection("f16"));
  EXPECT_EQ(info.spec.index.quantization, Quantization::kF16);
  EXPECT_EQ(info.points, 1500u);
  check_all("after restart");

  // Deleting most points compacts the shards (a new index, trained again on its first rows).
  std::vector<std::string> ids;
  for (int i = 0; i < 1100; ++i) ids.push_back("p" + std::to_string(i));
  for (const char* name : {"exact", "f16", "int8"}) ASSERT_OK(engine_->Delete(name, ids).status());
  engine_->WaitForCompactions();
  ASSERT_OK_AND_ASSIGN(info, engine_->GetCollection("int8"));
  EXPECT_EQ(info.deleted_points, 0u);
  EXPECT_EQ(info.points, 400u);
  check_all("after compaction");
  Restart();
  check_all("after compaction and restart");
  // The self-check (searches on codes, without re-scoring) finds every point of both kinds.
  for (const char* name : {"f16", "int8"}) {
    ASSERT_OK_AND_ASSIGN(VerifyReport report, engine_->Verify(name, VerifyOptions{}));
    EXPECT_TRUE(report.ok()) << name << ": " << report.unreachable << " unreachable, "
                             << report.missing_from_index << " missing from the index";
    EXPECT_EQ(report.searched, 400u) << name;
  }
}

// Re-scoring reads go to RocksDB once per vector, then to the file cache (storage/
// vector_file.h); a replaced or deleted point is never re-scored with its old vector; with the
// cache off (or after a restart, which starts it empty) the answers are the same bit for bit.
TEST_F(EngineQuantTest, RescoringReadsComeFromTheFileCacheOnceFilledAndAreNeverStale) {
  ASSERT_OK(engine_->CreateCollection(QuantSpec("exact", Quantization::kNone, IndexKind::kFlat)));
  ASSERT_OK(engine_->CreateCollection(QuantSpec("int8", Quantization::kInt8)));
  for (const char* name : {"exact", "int8"}) Fill(name, 1500);
  ASSERT_OK_AND_ASSIGN(CollectionInfo info, engine_->GetCollection("int8"));
  EXPECT_EQ(info.rescore_file_reads, 0u);
  EXPECT_EQ(info.rescore_storage_reads, 0u);
  std::mt19937 rng(21);
  std::vector<SearchRequest> queries;
  for (int q = 0; q < 10; ++q) {
    SearchRequest req;
    req.collection = "int8";
    req.k = 10;
    req.query = RandomVector(rng);
    queries.push_back(req);
  }
  auto run_all = [&] {
    std::vector<std::vector<std::pair<std::string, float>>> all;
    for (const SearchRequest& req : queries) {
      ExpectExact("int8", req, SearchPlan::kIndex);
      auto got = engine_->Search(req);
      EXPECT_TRUE(got.ok()) << got.status();
      if (!got.ok()) continue;
      all.emplace_back();
      for (const auto& h : got->hits) all.back().emplace_back(h.point.id, h.score);
    }
    return all;
  };
  const auto first = run_all();
  ASSERT_OK_AND_ASSIGN(CollectionInfo filled, engine_->GetCollection("int8"));
  EXPECT_GT(filled.rescore_storage_reads, 0u);
  // The same searches again: every vector they re-score was read once already.
  const auto second = run_all();
  EXPECT_EQ(second, first);
  ASSERT_OK_AND_ASSIGN(CollectionInfo warm, engine_->GetCollection("int8"));
  EXPECT_EQ(warm.rescore_storage_reads, filled.rescore_storage_reads);
  EXPECT_GE(warm.rescore_file_reads, filled.rescore_file_reads + 10 * 10);

  // Replace p7 and delete p8 (both were just re-scored from the cache): p7 is found by its
  // new vector with the exact score of that vector, p8 is gone.
  ASSERT_OK_AND_ASSIGN(auto old_p8, engine_->Get("int8", {"p8"}, /*with_vectors=*/true));
  ASSERT_EQ(old_p8.size(), 1u);
  Point p7;
  p7.id = "p7";
  p7.vector = RandomVector(rng);
  for (const char* name : {"exact", "int8"}) {
    ASSERT_OK(engine_->Upsert(name, {p7}).status());
    ASSERT_OK(engine_->Delete(name, {"p8"}).status());
  }
  SearchRequest by_p7;
  by_p7.k = 3;
  by_p7.query = p7.vector;
  ExpectExact("int8", by_p7, SearchPlan::kIndex);
  by_p7.collection = "int8";
  ASSERT_OK_AND_ASSIGN(auto found, engine_->Search(by_p7));
  ASSERT_FALSE(found.hits.empty());
  EXPECT_EQ(found.hits[0].point.id, "p7");
  EXPECT_NEAR(found.hits[0].score, 1.0f, 1e-5);  // cosine of the new vector with itself
  SearchRequest by_p8 = by_p7;
  by_p8.query = old_p8[0].vector;
  ASSERT_OK_AND_ASSIGN(auto gone, engine_->Search(by_p8));
  for (const auto& h : gone.hits) EXPECT_NE(h.point.id, "p8");

  // Without the cache: RocksDB only, the same answers.
  rescore_file_ = false;
  Restart();
  queries.resize(5);
  const auto off = run_all();
  ASSERT_OK_AND_ASSIGN(CollectionInfo uncached, engine_->GetCollection("int8"));
  EXPECT_EQ(uncached.rescore_file_reads, 0u);
  EXPECT_GT(uncached.rescore_storage_reads, 0u);
  rescore_file_ = true;
  Restart();
  const auto on = run_all();
  EXPECT_EQ(on, off);
}

TEST(CatalogRecordTest, QuantizationPersistsAndOldRecordsReadAsFloat32) {
  CollectionSpec spec = QuantSpec("c", Quantization::kNone);
  spec.attributes = "{}";
  const std::string plain = EncodeCollectionRecord(7, 1234, spec);
  EXPECT_EQ(plain[0], 3);  // format 3: lexical settings, then the quantization byte
  uint32_t id = 0;
  int64_t created = 0;
  CollectionSpec back;
  ASSERT_OK(DecodeCollectionRecord("c", plain, &id, &created, &back));
  EXPECT_EQ(back.index.quantization, Quantization::kNone);
  for (Quantization q : {Quantization::kF16, Quantization::kInt8}) {
    spec.index.quantization = q;
    const std::string record = EncodeCollectionRecord(7, 1234, spec);
    EXPECT_EQ(record[0], 3);
    ASSERT_OK(DecodeCollectionRecord("c", record, &id, &created, &back));
    EXPECT_EQ(back.index.quantization, q);
    EXPECT_EQ(back.attributes, "{}");
    std::string bad = record;
    bad.back() = 9;
    EXPECT_EQ(DecodeCollectionRecord("c", bad, &id, &created, &back).code(),
              absl::StatusCode::kDataLoss);
    EXPECT_EQ(DecodeCollectionRecord("c", record.substr(0, record.size() - 1), &id, &created, &back)
                  .code(),
              absl::StatusCode::kDataLoss);
    // A format-2 record (issue 15's, before quantization) is the same without the last byte:
    // it reads as float32.
    std::string format2 = record.substr(0, record.size() - 1);
    format2[0] = 2;
    ASSERT_OK(DecodeCollectionRecord("c", format2, &id, &created, &back));
    EXPECT_EQ(back.index.quantization, Quantization::kNone);
  }
  spec.index.kind = IndexKind::kFlat;
  EXPECT_EQ(spec.Validate().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ragd::index
