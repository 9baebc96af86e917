// cluster::Router in one process: three "pods" (engines holding the shards of their group, as
// the Applier feeds them in cluster mode) joined by an in-memory ShardTransport, against one
// engine holding every shard. What the wire tests (shard_groups_test, cluster_chaos_test)
// check across real processes, checked here where the sanitizers can see the router's own
// threads: the probe thread, the per-group fan-out threads and many callers at once (this
// binary runs under ThreadSanitizer in `make test`, tests/README.md).
//
// The transport is a test double for the network only: each address dispatches to that pod's
// cluster::LocalShards, the same object the Shards gRPC service calls; it can make a pod
// unreachable (Probe fails) or refuse calls with UNAVAILABLE while still probing SERVING (a
// pod that dies between two probes).

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "cluster/placement.h"
#include "common/status.h"
#include "cluster/router.h"
#include "index/engine/engine.h"
#include "tests/testing/temp_dir.h"

namespace ragd::cluster {
namespace {

constexpr uint32_t kShards = 4;
constexpr uint32_t kGroups = 2;
constexpr size_t kDim = 16;
constexpr size_t kPoints = 600;

struct Pod {
  std::string address;
  std::string pod_id;
  Placement placement;
  std::unique_ptr<index::Engine> engine;
  std::unique_ptr<LocalShards> local;
  std::atomic<bool> reachable{true};  // false: probes fail (UNAVAILABLE)
  std::atomic<bool> refusing{false};  // true: calls fail UNAVAILABLE, probes still SERVING
  std::atomic<int> calls{0};
};

class LoopbackTransport : public ShardTransport {
 public:
  explicit LoopbackTransport(std::map<std::string, Pod*> pods) : pods_(std::move(pods)) {}

  absl::StatusOr<PeerInfo> Probe(const std::string& address, absl::Time) override {
    Pod* pod = Find(address);
    if (pod == nullptr || !pod->reachable) return absl::UnavailableError("connection refused");
    return PeerInfo{true, pod->pod_id, pod->placement.groups, pod->placement.group};
  }
  absl::StatusOr<index::SearchResult> Search(const std::string& address,
                                             const index::SearchRequest& request,
                                             const std::vector<uint32_t>& shards,
                                             uint64_t min_seq, absl::Time deadline) override {
    ASSIGN_OR_RETURN(Pod * pod, Serving(address));
    return pod->local->Search(request, shards, min_seq, deadline);
  }
  absl::StatusOr<uint64_t> Count(const std::string& address, const std::string& collection,
                                 const std::optional<index::Filter>& filter,
                                 const std::vector<uint32_t>& shards, uint64_t min_seq,
                                 absl::Time deadline) override {
    ASSIGN_OR_RETURN(Pod * pod, Serving(address));
    return pod->local->Count(collection, filter, shards, min_seq, deadline);
  }
  absl::StatusOr<std::vector<index::Point>> Get(const std::string& address,
                                                const std::string& collection,
                                                const std::vector<std::string>& ids,
                                                bool with_vectors,
                                                const std::vector<uint32_t>& shards,
                                                uint64_t min_seq, absl::Time deadline) override {
    ASSIGN_OR_RETURN(Pod * pod, Serving(address));
    return pod->local->Get(collection, ids, with_vectors, shards, min_seq, deadline);
  }

 private:
  Pod* Find(const std::string& address) const {
    auto it = pods_.find(address);
    return it == pods_.end() ? nullptr : it->second;
  }
  absl::StatusOr<Pod*> Serving(const std::string& address) const {
    Pod* pod = Find(address);
    if (pod == nullptr || !pod->reachable || pod->refusing) {
      return absl::UnavailableError(address + ": connection refused");
    }
    pod->calls.fetch_add(1);
    return pod;
  }

  const std::map<std::string, Pod*> pods_;
};

std::unique_ptr<index::Engine> OpenEngine(const std::string& dir) {
  index::Engine::Options o;
  o.data_dir = dir;
  o.snapshot_interval_seconds = 0;
  o.idle_flush_seconds = 0;
  auto e = index::Engine::Open(o);
  EXPECT_TRUE(e.ok()) << e.status();
  return e.ok() ? *std::move(e) : nullptr;
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    index::CollectionSpec spec;
    spec.name = "docs";
    spec.dimension = kDim;
    spec.metric = index::Metric::kCosine;
    spec.index.kind = index::IndexKind::kHnsw;
    spec.index.m = 16;
    spec.index.ef_construction = 200;
    spec.shards = kShards;
    spec.lexical.enabled = true;

    // The points: random vectors, texts from a small vocabulary (so that text queries match
    // many points in every shard), a keyword to filter on.
    std::mt19937_64 rng(7);
    std::normal_distribution<float> normal;
    const std::vector<std::string> words = {"alpha", "beta",  "gamma", "delta", "epsilon",
                                            "zeta",  "theta", "kappa", "lambda", "sigma"};
    std::vector<index::Point> points;
    for (size_t i = 0; i < kPoints; ++i) {
      index::Point p;
      p.id = "p" + std::to_string(i);
      p.vector.resize(kDim);
      double norm = 0;
      for (float& x : p.vector) norm += (x = normal(rng)) * x;
      for (float& x : p.vector) x = static_cast<float>(x / std::sqrt(norm));
      for (int w = 0; w < 6; ++w) p.text += words[rng() % words.size()] + " ";
      p.document_id = "d" + std::to_string(i / 4);
      p.metadata["parity"] = std::string(i % 2 == 0 ? "even" : "odd");
      points.push_back(std::move(p));
    }

    reference_ = OpenEngine(dir_.str() + "/reference");
    ASSERT_NE(reference_, nullptr);
    ASSERT_TRUE(reference_->CreateCollection(spec).ok());
    ApplyAll(*reference_, points, nullptr);

    // pod-0 in group 0; pod-1 and pod-3 in group 1 (two replicas).
    const std::vector<std::pair<std::string, uint32_t>> pods = {
        {"pod-0", 0}, {"pod-1", 1}, {"pod-3", 1}};
    for (const auto& [id, group] : pods) {
      auto pod = std::make_unique<Pod>();
      pod->pod_id = id;
      pod->address = id + ".test:7000";
      pod->placement = Placement{kGroups, group};
      pod->engine = OpenEngine(dir_.str() + "/" + id);
      ASSERT_NE(pod->engine, nullptr);
      ASSERT_TRUE(pod->engine->CreateCollection(spec).ok());
      const Placement placement = pod->placement;
      ApplyAll(*pod->engine, points,
               [placement](uint32_t shard, uint32_t) { return placement.Holds(shard); });
      pod->local = std::make_unique<LocalShards>(pod->engine.get(), nullptr, pod->placement, id);
      pods_.push_back(std::move(pod));
    }
    std::map<std::string, Pod*> by_address;
    for (auto& pod : pods_) by_address[pod->address] = pod.get();
    transport_ = std::make_unique<LoopbackTransport>(by_address);

    RouterOptions options;
    for (auto& pod : pods_) options.peers.push_back(pod->address);
    options.probe_interval = std::chrono::milliseconds(10);
    auto router = Router::Start(options, transport_.get(), pods_[0]->local.get());
    ASSERT_TRUE(router.ok()) << router.status();
    router_ = *std::move(router);
    ASSERT_TRUE(WaitForServing(2));
  }

  void TearDown() override {
    if (router_) router_->Stop();
  }

  static void ApplyAll(index::Engine& engine, const std::vector<index::Point>& points,
                       std::function<bool(uint32_t, uint32_t)> holds) {
    uint64_t sequence = 0;
    for (size_t begin = 0; begin < points.size(); begin += 100) {
      index::WriteBatch batch;
      batch.collection = "docs";
      batch.sequence = ++sequence;
      batch.holds_shard = holds;
      for (size_t i = begin; i < std::min(points.size(), begin + 100); ++i) {
        batch.upserts.push_back(points[i]);
      }
      auto r = engine.Apply(std::move(batch));
      ASSERT_TRUE(r.ok()) << r.status();
    }
  }

  // Waits (bounded: 10 s) until the router sees exactly `serving` other pods as SERVING.
  bool WaitForServing(int serving) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until) {
      int n = 0;
      for (const PeerStatus& p : router_->peers()) {
        if (p.reachable && p.info.serving && p.info.pod_id != "pod-0") ++n;
      }
      if (n == serving) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  index::SearchRequest Query(index::SearchMode mode, uint64_t seed) const {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal;
    index::SearchRequest r;
    r.collection = "docs";
    r.mode = mode;
    r.k = 10;
    r.ef = 400;  // exhaustive at this size: each shard's graph returns its exact top-k
    if (mode != index::SearchMode::kText) {
      r.query.resize(kDim);
      double norm = 0;
      for (float& x : r.query) norm += (x = normal(rng)) * x;
      for (float& x : r.query) x = static_cast<float>(x / std::sqrt(norm));
    }
    if (mode != index::SearchMode::kVector) r.text = seed % 2 ? "gamma sigma" : "beta kappa zeta";
    return r;
  }

  static std::vector<std::pair<std::string, float>> Hits(const index::SearchResult& r) {
    std::vector<std::pair<std::string, float>> out;
    for (const auto& h : r.hits) out.emplace_back(h.point.id, h.score);
    return out;
  }

  static absl::Time Deadline() { return absl::Now() + absl::Seconds(10); }

  ragd::testing::TempDir dir_;
  std::unique_ptr<index::Engine> reference_;
  std::vector<std::unique_ptr<Pod>> pods_;
  std::unique_ptr<LoopbackTransport> transport_;
  std::unique_ptr<Router> router_;
};

TEST_F(RouterTest, MergedSearchEqualsOneEngineHoldingEveryShard) {
  for (auto mode : {index::SearchMode::kVector, index::SearchMode::kText,
                    index::SearchMode::kHybrid}) {
    for (uint64_t seed = 1; seed <= 20; ++seed) {
      index::SearchRequest request = Query(mode, seed);
      if (seed % 4 == 0) request.filter = index::Filter::Cond(index::Equals("parity", std::string("even")));
      auto want = reference_->Search(request);
      ASSERT_TRUE(want.ok()) << want.status();
      auto got = router_->Search(request, 0, /*allow_partial=*/false, Deadline());
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ(want->hits.size(), 10u) << "mode " << static_cast<int>(mode);
      // Scores: the same float computations on the same shards; the order ties by id.
      EXPECT_EQ(Hits(got->value), Hits(*want)) << "mode " << static_cast<int>(mode) << " seed "
                                               << seed;
      EXPECT_EQ(got->coverage.shards_total, kShards);
      EXPECT_EQ(got->coverage.shards_answered, kShards);
      EXPECT_TRUE(got->coverage.missing_shards.empty());
    }
  }
  // Group 1's shards were answered by its pods, through the transport.
  EXPECT_GT(pods_[1]->calls.load() + pods_[2]->calls.load(), 0);
  EXPECT_EQ(pods_[0]->calls.load(), 0);  // this pod's own group is served locally
}

TEST_F(RouterTest, CountAndGetSpanEveryGroup) {
  auto all = router_->Count("docs", std::nullopt, 0, false, Deadline());
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->value, kPoints);
  auto even = router_->Count("docs", index::Filter::Cond(index::Equals("parity", std::string("even"))), 0, false,
                             Deadline());
  ASSERT_TRUE(even.ok()) << even.status();
  EXPECT_EQ(even->value, kPoints / 2);

  const std::vector<std::string> ids = {"p5", "missing", "p0", "p599", "p17", "p300"};
  auto got = router_->Get("docs", ids, false, 0, false, Deadline());
  ASSERT_TRUE(got.ok()) << got.status();
  std::vector<std::string> got_ids;
  for (const auto& p : got->value) got_ids.push_back(p.id);
  // In the order asked, the unknown id omitted; both groups had to answer (the ids' shards).
  EXPECT_EQ(got_ids, (std::vector<std::string>{"p5", "p0", "p599", "p17", "p300"}));
  std::set<uint32_t> groups;
  for (const std::string& id : got_ids) groups.insert(index::ShardOfId(id, kShards) % kGroups);
  EXPECT_EQ(groups.size(), 2u);
}

TEST_F(RouterTest, AReplicaThatRefusesIsSkippedAndAGroupWithoutReplicasIsUnavailable) {
  const index::SearchRequest request = Query(index::SearchMode::kVector, 3);
  auto want = reference_->Search(request);
  ASSERT_TRUE(want.ok());

  // pod-1 still probes SERVING but refuses calls: the router tries pod-3 within the call.
  pods_[1]->refusing = true;
  for (int i = 0; i < 10; ++i) {
    auto got = router_->Search(request, 0, false, Deadline());
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(Hits(got->value), Hits(*want));
  }
  EXPECT_GE(pods_[2]->calls.load(), 10);

  // Group 1 without a reachable replica: UNAVAILABLE naming the group and its shards, or,
  // with allow_partial, group 0's shards (0 and 2) and the coverage saying so.
  pods_[1]->reachable = false;
  pods_[2]->reachable = false;
  ASSERT_TRUE(WaitForServing(0));
  auto refused = router_->Search(request, 0, false, Deadline());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("shard group 1 (shards 1, 3)"), std::string::npos)
      << refused.status();
  auto partial = router_->Search(request, 0, true, Deadline());
  ASSERT_TRUE(partial.ok()) << partial.status();
  EXPECT_EQ(partial->coverage.shards_answered, 2u);
  EXPECT_EQ(partial->coverage.missing_shards, (std::vector<uint32_t>{1, 3}));
  std::vector<std::pair<std::string, float>> group0;
  for (const auto& h : want->hits) {
    if (index::ShardOfId(h.point.id, kShards) % kGroups == 0) {
      group0.emplace_back(h.point.id, h.score);
    }
  }
  ASSERT_FALSE(group0.empty());
  // The partial answer is group 0's best 10; the reference's hits of group 0 are among them,
  // first and in the same order.
  auto partial_hits = Hits(partial->value);
  partial_hits.resize(std::min(partial_hits.size(), group0.size()));
  EXPECT_EQ(partial_hits, group0);
  auto count = router_->Count("docs", std::nullopt, 0, true, Deadline());
  ASSERT_TRUE(count.ok());
  EXPECT_LT(count->value, kPoints);
  EXPECT_EQ(count->coverage.missing_shards, (std::vector<uint32_t>{1, 3}));

  // Back: full answers again once a probe sees group 1.
  pods_[1]->refusing = false;
  pods_[1]->reachable = true;
  pods_[2]->reachable = true;
  ASSERT_TRUE(WaitForServing(2));
  auto again = router_->Search(request, 0, false, Deadline());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Hits(again->value), Hits(*want));
}

// Many callers while the probe thread runs and group 1's replicas come and go. Every answer is
// either exact and whole, or UNAVAILABLE (without allow_partial), or partial with a coverage
// that says so (with it); nothing else, whatever the interleaving. Bounded: 4 threads x 150
// calls, the flapping thread stops when they are done.
TEST_F(RouterTest, ConcurrentCallersWhileReplicasFlap) {
  std::vector<std::vector<std::pair<std::string, float>>> want;
  std::vector<index::SearchRequest> requests;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    requests.push_back(Query(seed % 2 ? index::SearchMode::kHybrid : index::SearchMode::kVector,
                             seed));
    auto r = reference_->Search(requests.back());
    ASSERT_TRUE(r.ok());
    want.push_back(Hits(*r));
  }
  std::atomic<bool> done{false};
  std::thread flapper([&] {
    std::mt19937 rng(3);
    for (int i = 0; i < 100000 && !done; ++i) {  // bounded either way
      pods_[1 + rng() % 2]->reachable = rng() % 3 != 0;
      pods_[1 + rng() % 2]->refusing = rng() % 4 == 0;
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  });
  std::atomic<int> whole{0}, unavailable{0}, partial{0}, wrong{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < 150; ++i) {
        const size_t q = (t * 150 + i) % requests.size();
        const bool allow_partial = i % 2 == 1;
        auto r = router_->Search(requests[q], 0, allow_partial, Deadline());
        if (!r.ok()) {
          (r.status().code() == absl::StatusCode::kUnavailable && !allow_partial ? unavailable
                                                                                : wrong)++;
          continue;
        }
        if (r->coverage.missing_shards.empty()) {
          (Hits(r->value) == want[q] ? whole : wrong)++;
        } else {
          (allow_partial && r->coverage.missing_shards == std::vector<uint32_t>{1, 3} ? partial
                                                                                     : wrong)++;
        }
        if (i % 10 == 0) (void)router_->peers();  // status readers race the probe thread too
      }
    });
  }
  for (auto& c : callers) c.join();
  done = true;
  flapper.join();
  RecordProperty("whole", whole.load());
  RecordProperty("unavailable", unavailable.load());
  RecordProperty("partial", partial.load());
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(whole + unavailable + partial, 600);
  EXPECT_GT(whole.load(), 0);
}

}  // namespace
}  // namespace ragd::cluster
