#pragma once
// The fixture and helpers shared by the engine's test files (engine_test.cc,
// engine_filter_test.cc): a fresh engine on a temporary directory per test, random points with
// metadata, and brute-force ground truth.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "index/engine/engine.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace ragd::index::engine_testing {


inline constexpr uint32_t kDim = 16;

inline std::vector<float> RandomVector(std::mt19937& rng, uint32_t dim = kDim) {
  std::normal_distribution<float> n(0, 1);
  std::vector<float> v(dim);
  for (auto& x : v) x = n(rng);
  return v;
}

inline std::vector<float> Normalized(std::vector<float> v) {
  double s = 0;
  for (float x : v) s += x * x;
  for (auto& x : v) x = static_cast<float>(x / std::sqrt(s));
  return v;
}

inline Point MakePoint(std::mt19937& rng, int i) {
  Point p;
  p.id = "p" + std::to_string(i);
  p.vector = RandomVector(rng);
  p.text = "chunk " + std::to_string(i) + " 텍스트";
  p.document_id = "doc" + std::to_string(i % 10);
  p.metadata["i"] = int64_t{i};
  p.metadata["mod100"] = int64_t{i % 100};
  p.metadata["lang"] = std::string(i % 2 ? "ko" : "en");
  return p;
}

inline CollectionSpec Spec(std::string name, IndexKind kind = IndexKind::kHnsw, uint32_t shards = 1) {
  CollectionSpec s;
  s.name = std::move(name);
  s.dimension = kDim;
  s.metric = Metric::kCosine;
  s.index.kind = kind;
  if (kind == IndexKind::kFaiss) s.index.faiss_factory = "HNSW32";
  s.shards = shards;
  return s;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() {
    engine_.reset();
    Engine::Options o;
    o.data_dir = dir_.str();
    o.snapshot_interval_seconds = 0;
    o.brute_force_max_matches = 50;
    o.filter_plan_by_cost = false;  // small collections: exercise restricted index walks too
    o.compaction_min_removed = 100;
    o.metadata_index = metadata_index_;
    ASSERT_OK_AND_ASSIGN(engine_, Engine::Open(o));
  }
  // Closes (saving snapshots) and opens again, as a clean restart does.
  void Restart() {
    ASSERT_OK(engine_->Close());
    Open();
  }
  std::vector<Point> Fill(const std::string& coll, int n, int seed = 1) {
    std::mt19937 rng(seed);
    std::vector<Point> pts;
    for (int i = 0; i < n; ++i) pts.push_back(MakePoint(rng, i));
    for (size_t off = 0; off < pts.size(); off += 500) {
      std::vector<Point> batch(pts.begin() + off,
                               pts.begin() + std::min(pts.size(), off + 500));
      EXPECT_OK(engine_->Upsert(coll, batch));
    }
    return pts;
  }
  // Exact top-k ids by cosine among points accepted by `keep`.
  static std::vector<std::string> BruteForce(const std::vector<Point>& pts,
                                             const std::vector<float>& q, size_t k,
                                             const std::function<bool(const Point&)>& keep) {
    std::vector<std::pair<float, std::string>> scored;
    auto qn = Normalized(q);
    for (const auto& p : pts) {
      if (!keep(p)) continue;
      auto v = Normalized(p.vector);
      float s = 0;
      for (size_t i = 0; i < v.size(); ++i) s += v[i] * qn[i];
      scored.emplace_back(s, p.id);
    }
    std::sort(scored.begin(), scored.end(), [](auto& a, auto& b) { return a.first > b.first; });
    std::vector<std::string> ids;
    for (size_t i = 0; i < std::min(k, scored.size()); ++i) ids.push_back(scored[i].second);
    return ids;
  }
  static std::vector<std::string> Ids(const SearchResult& r) {
    std::vector<std::string> ids;
    for (const auto& h : r.hits) ids.push_back(h.point.id);
    return ids;
  }

  void CheckFilterRegimes();

  ragd::testing::TempDir dir_;
  std::unique_ptr<Engine> engine_;
  bool metadata_index_ = true;
};

}  // namespace ragd::index::engine_testing
