// Consistency under concurrent writes: a filtered search never returns a payload that fails
// its filter while the points are rewritten.

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "index/engine/engine.h"
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

}  // namespace
}  // namespace ragd::index
