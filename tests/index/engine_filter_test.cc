// Filtered search in the engine: the three plans, the metadata index against brute force at
// 1%, 10% and 90% matching (fresh, after replacements and compaction, after a restart; with the
// index and by scan), the planner's cost model, and delete-by-filter.

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "tests/index/engine_test_fixture.h"

namespace ragd::index {
namespace engine_testing {

// The metadata index answers filters (issue 15): at 1%, 10% and 90% matching, counts equal a
// scan of the points and searches equal brute force over the matching set — fresh, after
// replacements that move points between sets and a compaction, and after a restart (the
// index is rebuilt from RocksDB).
void EngineTest::CheckFilterRegimes() {
  ASSERT_OK(engine_->CreateCollection(Spec("reg", IndexKind::kHnsw, /*shards=*/2)));
  std::vector<Point> pts = Fill("reg", 3000, 11);
  auto mod = [](const Point& p) { return std::get<int64_t>(p.metadata.at("mod100")); };
  struct Regime {
    const char* name;
    Filter filter;
    std::function<bool(const Point&)> keep;
  };
  const std::vector<Regime> regimes = {
      {"1%", Filter::Cond(Equals("mod100", int64_t{42})), [&](const Point& p) { return mod(p) == 42; }},
      {"10%", Filter::Cond(Range("mod100", 10.0, 20.0)),
       [&](const Point& p) { return mod(p) >= 10 && mod(p) < 20; }},
      {"90%", Filter::Not(Filter::Cond(Range("mod100", std::nullopt, 10.0))),
       [&](const Point& p) { return !(mod(p) < 10); }},
  };
  auto check = [&](const std::string& when) {
    std::mt19937 rng(5);
    for (const Regime& regime : regimes) {
      const uint64_t want = std::count_if(pts.begin(), pts.end(), regime.keep);
      ASSERT_OK_AND_ASSIGN(uint64_t count, engine_->Count("reg", regime.filter));
      EXPECT_EQ(count, want) << regime.name << " " << when;
      size_t found = 0, expected = 0;
      for (int q = 0; q < 10; ++q) {
        SearchRequest req;
        req.collection = "reg";
        req.query = RandomVector(rng);
        req.k = 10;
        req.ef = 256;
        req.filter = regime.filter;
        ASSERT_OK_AND_ASSIGN(auto r, engine_->Search(req));
        std::vector<std::string> truth = BruteForce(pts, req.query, 10, regime.keep);
        std::vector<std::string> ids = Ids(r);
        for (const std::string& id : ids) {
          auto it = std::find_if(pts.begin(), pts.end(), [&](const Point& p) { return p.id == id; });
          ASSERT_NE(it, pts.end());
          EXPECT_TRUE(regime.keep(*it)) << id << " fails the " << regime.name << " filter " << when;
        }
        expected += truth.size();
        for (const std::string& t : truth) found += std::count(ids.begin(), ids.end(), t);
      }
      EXPECT_GE(static_cast<double>(found) / static_cast<double>(expected), 0.95)
          << regime.name << " " << when;
    }
  };
  check("fresh");
  // Move a third of the points to other sets (a replacement is a new label) and delete some.
  std::mt19937 rng(17);
  std::vector<Point> moved;
  for (size_t i = 0; i < pts.size(); i += 3) {
    pts[i].metadata["mod100"] = int64_t{(mod(pts[i]) + 37) % 100};
    moved.push_back(pts[i]);
  }
  for (size_t off = 0; off < moved.size(); off += 500) {
    ASSERT_OK(engine_->Upsert("reg", std::vector<Point>(moved.begin() + off,
                                                        moved.begin() + std::min(moved.size(), off + 500))));
  }
  ASSERT_OK(engine_->DeleteByFilter("reg", Filter::Cond(Equals("mod100", int64_t{99}))));
  pts.erase(std::remove_if(pts.begin(), pts.end(), [&](const Point& p) { return mod(p) == 99; }),
            pts.end());
  engine_->WaitForCompactions();  // 1,000 removed slots: compaction_min_removed is 100
  check("after replacements and compaction");
  Restart();
  check("after a restart");
}

}  // namespace engine_testing

namespace {

using namespace engine_testing;

TEST_F(EngineTest, FilteredSearchInAllThreeRegimes) {
  for (IndexKind kind : {IndexKind::kHnsw, IndexKind::kFaiss, IndexKind::kFlat}) {
    const std::string name = "f" + std::to_string(static_cast<int>(kind));
    ASSERT_OK(engine_->CreateCollection(Spec(name, kind)));
    auto pts = Fill(name, 2000, 7);
    struct Regime {
      Filter filter;
      std::function<bool(const Point&)> keep;
      SearchPlan plan;
    };
    auto mod = [](const Point& p) { return std::get<int64_t>(p.metadata.at("mod100")); };
    std::vector<Regime> regimes = {
        // 1%: 20 points <= brute_force_max_matches (50): exact scoring of the set.
        {Filter::Cond(Equals("mod100", int64_t{7})), [&](const Point& p) { return mod(p) == 7; },
         SearchPlan::kBruteForce},
        // 10%: 200 points through the index with a label filter.
        {Filter::Cond(Range("mod100", 0.0, 10.0)), [&](const Point& p) { return mod(p) < 10; },
         SearchPlan::kIndexFiltered},
        // 50%, combining operators.
        {Filter::And({Filter::Cond(Equals("lang", std::string("ko"))),
                      Filter::Not(Filter::Cond(DocumentIdEquals("doc3")))}),
         [](const Point& p) {
           return std::get<std::string>(p.metadata.at("lang")) == "ko" && p.document_id != "doc3";
         },
         SearchPlan::kIndexFiltered},
    };
    std::mt19937 rng(99);
    for (const auto& regime : regimes) {
      size_t found = 0, expected = 0;
      for (int q = 0; q < 20; ++q) {
        SearchRequest req;
        req.collection = name;
        req.query = RandomVector(rng);
        req.k = 10;
        req.ef = 128;
        req.filter = regime.filter;
        ASSERT_OK_AND_ASSIGN(auto r, engine_->Search(req));
        EXPECT_EQ(r.plan, regime.plan);
        for (const auto& h : r.hits) {
          auto it = std::find_if(pts.begin(), pts.end(),
                                 [&](const Point& p) { return p.id == h.point.id; });
          ASSERT_NE(it, pts.end());
          EXPECT_TRUE(regime.keep(*it)) << h.point.id << " does not match the filter";
        }
        auto truth = BruteForce(pts, req.query, 10, regime.keep);
        auto ids = Ids(r);
        expected += truth.size();
        for (const auto& t : truth) found += std::count(ids.begin(), ids.end(), t);
      }
      const double recall = static_cast<double>(found) / static_cast<double>(expected);
      if (regime.plan == SearchPlan::kBruteForce || kind == IndexKind::kFlat) {
        EXPECT_EQ(recall, 1.0) << name;
      } else {
        EXPECT_GE(recall, 0.95) << name;
      }
    }
  }
}

TEST_F(EngineTest, FilterRegimesAgreeWithBruteForceAcrossReplacementsCompactionAndRestart) {
  CheckFilterRegimes();
}

// The same with Engine::Options::metadata_index off (filters by a scan, as before the index).
TEST_F(EngineTest, FilterRegimesByScanAgreeWithBruteForceToo) {
  metadata_index_ = false;
  Open();
  CheckFilterRegimes();
}

// The planner's cost model (Engine::Options::filter_plan_by_cost, on by default): a matching
// set above brute_force_max_matches is still scored exactly when that is cheaper than a walk
// restricted to it (2,000 points, 10% matching: 200 distances against ~128 / 0.1 × 32), so the
// answer is exact; a walk is taken when the set is larger than that.
TEST_F(EngineTest, FilterPlanByCostScoresCheapSetsExactly) {
  engine_.reset();
  Engine::Options o;
  o.data_dir = dir_.str();
  o.snapshot_interval_seconds = 0;
  o.brute_force_max_matches = 50;
  ASSERT_OK_AND_ASSIGN(engine_, Engine::Open(o));
  ASSERT_OK(engine_->CreateCollection(Spec("cost")));
  std::vector<Point> pts = Fill("cost", 2000, 3);
  auto mod = [](const Point& p) { return std::get<int64_t>(p.metadata.at("mod100")); };
  std::mt19937 rng(8);
  SearchRequest req;
  req.collection = "cost";
  req.k = 10;
  req.filter = Filter::Cond(Range("mod100", 0.0, 10.0));
  for (int q = 0; q < 5; ++q) {
    req.query = RandomVector(rng);
    ASSERT_OK_AND_ASSIGN(auto r, engine_->Search(req));
    EXPECT_EQ(r.plan, SearchPlan::kBruteForce);
    EXPECT_EQ(Ids(r), BruteForce(pts, req.query, 10, [&](const Point& p) { return mod(p) < 10; }));
  }
  // ef 1 (k 10: a walk of ef 10) through 90%: 1,800 points against ~10 / 0.9 × 32 = 356.
  req.ef = 1;
  req.filter = Filter::Not(Filter::Cond(Range("mod100", 0.0, 10.0)));
  ASSERT_OK_AND_ASSIGN(auto r, engine_->Search(req));
  EXPECT_EQ(r.plan, SearchPlan::kIndexFiltered);
}

TEST_F(EngineTest, DeleteByFilterAndCount) {
  ASSERT_OK(engine_->CreateCollection(Spec("kb")));
  Fill("kb", 400);
  ASSERT_OK_AND_ASSIGN(auto ko, engine_->Count("kb", Filter::Cond(Equals("lang", std::string("ko")))));
  EXPECT_EQ(ko, 200u);
  ASSERT_OK_AND_ASSIGN(auto d, engine_->DeleteByFilter("kb", Filter::Cond(DocumentIdEquals("doc1"))));
  EXPECT_EQ(d.applied, 40u);
  ASSERT_OK_AND_ASSIGN(auto n, engine_->Count("kb", std::nullopt));
  EXPECT_EQ(n, 360u);
  ASSERT_OK_AND_ASSIGN(auto left, engine_->Count("kb", Filter::Cond(DocumentIdEquals("doc1"))));
  EXPECT_EQ(left, 0u);
}

}  // namespace
}  // namespace ragd::index
