// Faults against a whole cluster on one machine: 3 nats-server nodes (JetStream, R3 streams)
// and 3 real ragd pods, called through the generated stubs (tests/cluster/cluster_harness.h).
//  - JepsenSetTest: clients upsert and delete through random pods while a nemesis SIGKILLs
//    ragd pods (20 times) and the NATS stream leader (5 times); clients retry each call with
//    its request id until acknowledged. At the end every pod holds exactly the acknowledged
//    set: no acknowledged write lost, no acknowledged delete undone.
//  - EmptyPodRebuildTest: a pod restarted on an empty data directory replays the log and
//    matches the others (Get of every id, Count, an exact search).
//  - PartitionTest: one pod in its own network namespace, reaching NATS through a veth pair,
//    is cut off (link down); writes continue through the other pods; after the heal it catches
//    up and matches them.
// Seeded: the same operations and faults in the same order each run; every wait is bounded.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <random>
#include <set>

#include "cluster/jetstream_log.h"
#include "tests/cluster/cluster_harness.h"
#include "tests/testing/status_matchers.h"

// ASSERT_OK evaluates its argument twice (tests/testing/status_matchers.h): once here.
#define ASSERT_STATUS_OK(expr)            \
  do {                                    \
    const absl::Status status_ = (expr);  \
    ASSERT_TRUE(status_.ok()) << status_; \
  } while (0)

namespace ragd {
namespace {

using testing::CallContext;
using testing::ClusterHarness;

constexpr int kDim = 4;
constexpr char kIp[] = "/usr/sbin/ip";

v1::Point MakePoint(const std::string& id) {
  v1::Point p;
  p.set_id(id);
  const size_t h = std::hash<std::string>{}(id);
  for (int d = 0; d < kDim; ++d) p.add_vector(static_cast<float>((h >> (8 * d)) & 0xff) / 16.0f);
  p.set_text("text of " + id);
  return p;
}

// One write, retried with its request id through random running pods until acknowledged or
// `timeout`; counts the failed attempts.
grpc::Status WriteWithRetry(ClusterHarness& cluster, std::mt19937& rng,
                            const std::string& request_id, const v1::UpsertRequest* upsert,
                            const v1::DeleteRequest* del, absl::Duration timeout,
                            int* failed_attempts) {
  const absl::Time deadline = absl::Now() + timeout;
  grpc::Status st(grpc::StatusCode::UNAVAILABLE, "no pod up");
  while (absl::Now() < deadline) {
    const std::vector<size_t> up = cluster.Up();
    if (!up.empty()) {
      auto channel = cluster.Channel(up[rng() % up.size()]);
      if (channel) {
        auto stub = v1::Points::NewStub(channel);
        auto ctx = CallContext(absl::Seconds(5), request_id);
        if (upsert != nullptr) {
          v1::UpsertResponse resp;
          st = stub->Upsert(ctx.get(), *upsert, &resp);
        } else {
          v1::DeleteResponse resp;
          st = stub->Delete(ctx.get(), *del, &resp);
        }
        if (st.ok()) return st;
        // The request itself is wrong: no retry can fix it.
        if (st.error_code() == grpc::StatusCode::INVALID_ARGUMENT) return st;
      }
    }
    ++*failed_attempts;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return st;
}

// What one client did: the ids it upserted and deleted with an acknowledgement.
struct ClientLog {
  std::vector<std::string> upserted;
  std::vector<std::string> deleted;
  std::vector<std::string> unacknowledged;  // gave up after the retry budget
  int failed_attempts = 0;
};

// Paces the clients against the nemesis so that every fault lands among calls in flight:
// faults are injected after every `share` operations (nemesis side), and a client may start
// operation number t (over all clients) only while t < (faults_done + 1) * share + share / 2,
// i.e. at most about one share of calls runs ahead of the next fault. `extra` lets a few
// more calls through while a fault is in place (the NATS leader's outage), so that calls can
// land in it even when the clients had already used up their share. Once the nemesis is done
// the gate opens.
struct Gate {
  int share = 1;
  std::atomic<int> tickets{0};
  std::atomic<int> faults_done{0};
  std::atomic<int> extra{0};
  std::atomic<bool> open{false};

  void Enter() {
    const int t = tickets.fetch_add(1);
    const absl::Time deadline = absl::Now() + absl::Seconds(120);
    while (!open.load() && t >= (faults_done.load() + 1) * share + share / 2 + extra.load() &&
           absl::Now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
};

// A client: `ops` operations from its own seed; 70% upsert two new ids, 30% delete one id it
// upserted before (acknowledged, not yet deleted).
void RunClient(ClusterHarness& cluster, int client, int ops, Gate* gate, std::atomic<int>* done,
               ClientLog* log) {
  std::mt19937 rng(1000 + client);
  std::vector<std::string> live;
  for (int i = 0; i < ops; ++i) {
    gate->Enter();
    const std::string request_id = "c" + std::to_string(client) + "-op" + std::to_string(i);
    grpc::Status st;
    if (live.empty() || rng() % 10 < 7) {
      v1::UpsertRequest req;
      req.set_collection("set");
      std::vector<std::string> ids;
      for (int k = 0; k < 2; ++k) {
        ids.push_back("c" + std::to_string(client) + "-" + std::to_string(i) + "-" +
                      std::to_string(k));
        *req.add_points() = MakePoint(ids.back());
      }
      st = WriteWithRetry(cluster, rng, request_id, &req, nullptr, absl::Seconds(60),
                          &log->failed_attempts);
      for (const auto& id : ids) {
        if (st.ok()) {
          log->upserted.push_back(id);
          live.push_back(id);
        } else {
          log->unacknowledged.push_back(id);
        }
      }
    } else {
      const size_t at = rng() % live.size();
      const std::string id = live[at];
      v1::DeleteRequest req;
      req.set_collection("set");
      req.mutable_ids()->add_ids(id);
      st = WriteWithRetry(cluster, rng, request_id, nullptr, &req, absl::Seconds(60),
                          &log->failed_attempts);
      if (st.ok()) {
        log->deleted.push_back(id);
        live.erase(live.begin() + static_cast<std::ptrdiff_t>(at));
      } else {
        log->unacknowledged.push_back(id);
      }
    }
    if (!st.ok()) {
      std::cerr << "client " << client << " op " << i << " not acknowledged: " << st.error_message()
                << "\n";
    }
    done->fetch_add(1);
  }
}

// Waits until `done` reaches `target` or `timeout` passes.
void WaitForOps(const std::atomic<int>& done, int target, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (done.load() < target && absl::Now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

absl::StatusOr<std::string> StreamLeader(cluster::JetStreamLog& log, const std::string& name) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  absl::StatusOr<std::string> leader;
  while (absl::Now() < deadline) {
    leader = log.StreamLeader(name);
    if (leader.ok() && !leader->empty()) return leader;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return leader.ok() ? absl::UnavailableError("no stream leader") : leader.status();
}

TEST(JepsenSetTest, NoLostAcknowledgedWritesNoResurrectedDeletesUnderKills) {
  testing::TempDir tmp;
  ClusterHarness cluster(tmp.str());
  ASSERT_STATUS_OK(cluster.StartNats());
  for (const char* name : {"p0", "p1", "p2"}) ASSERT_STATUS_OK(cluster.AddPod(name));
  ASSERT_STATUS_OK(cluster.CreateCollection("set", kDim));
  cluster::JetStreamLogOptions lo;
  lo.urls = cluster.NatsUrls();
  lo.request_timeout = std::chrono::seconds(2);
  ASSERT_OK_AND_ASSIGN(auto log, cluster::JetStreamLog::Connect(lo));

  constexpr int kClients = 2;
  constexpr int kOpsPerClient = 150;
  constexpr int kRagdKills = 20;
  constexpr int kNatsKills = 5;
  constexpr int kFaults = kRagdKills + kNatsKills;
  constexpr int kTotalOps = kClients * kOpsPerClient;
  std::atomic<int> done{0};
  Gate gate;
  gate.share = kTotalOps / (kFaults + 1);
  std::vector<ClientLog> logs(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back(RunClient, std::ref(cluster), c, kOpsPerClient, &gate, &done, &logs[c]);
  }
  // Should an assertion end the test early, the clients finish (bounded) before it returns.
  struct JoinClients {
    Gate& gate;
    std::vector<std::thread>& threads;
    ~JoinClients() {
      gate.open.store(true);
      for (auto& t : threads) {
        if (t.joinable()) t.join();
      }
    }
  } join_clients{gate, clients};

  // The nemesis: one fault at a time, fault f once the clients are half-way through share
  // f + 1 of the operations; every fifth one the NATS node leading the stream, the others a
  // random ragd pod.
  std::mt19937 rng(42);
  int ragd_kills = 0;
  int nats_kills = 0;
  for (int f = 0; f < kFaults; ++f) {
    WaitForOps(done, (f + 1) * gate.share - gate.share / 2, absl::Seconds(120));
    const absl::Time fault_start = absl::Now();
    if (f % 5 == 2) {
      ASSERT_OK_AND_ASSIGN(std::string leader, StreamLeader(*log, "set"));
      testing::NatsServer* node = nullptr;
      for (auto& n : cluster.nats()) {
        if (n->options().name == leader) node = n.get();
      }
      ASSERT_NE(node, nullptr) << "stream leader " << leader;
      node->Kill();
      ++nats_kills;
      // Down while the clients make a few more calls (they wait out the election), then back.
      // The gate lets those calls through: without it, clients that had already used up
      // their share before the kill could make none, and this wait ran out its whole bound.
      const int target = done.load() + 4;
      gate.extra.fetch_add(4);
      WaitForOps(done, target, absl::Seconds(60));
      ASSERT_STATUS_OK(node->Restart());
    } else {
      const size_t victim = rng() % cluster.pods();
      cluster.KillPod(victim);
      ++ragd_kills;
      ASSERT_STATUS_OK(cluster.StartPod(victim, /*wipe=*/false));
    }
    gate.faults_done.store(f + 1);
    std::cout << "fault " << f << " (" << (f % 5 == 2 ? "NATS stream leader" : "ragd pod") << ") "
              << absl::ToDoubleMilliseconds(absl::Now() - fault_start) << " ms, operations done "
              << done.load() << "\n";
  }
  gate.open.store(true);
  for (auto& t : clients) t.join();
  EXPECT_EQ(ragd_kills, kRagdKills);
  EXPECT_EQ(nats_kills, kNatsKills);

  std::set<std::string> acknowledged, deleted;
  std::vector<std::string> all_ids;
  int failed_attempts = 0;
  size_t unacknowledged = 0;
  for (const auto& l : logs) {
    acknowledged.insert(l.upserted.begin(), l.upserted.end());
    deleted.insert(l.deleted.begin(), l.deleted.end());
    all_ids.insert(all_ids.end(), l.upserted.begin(), l.upserted.end());
    all_ids.insert(all_ids.end(), l.unacknowledged.begin(), l.unacknowledged.end());
    failed_attempts += l.failed_attempts;
    unacknowledged += l.unacknowledged.size();
  }
  // Every call eventually acknowledged within its retry budget: the set to expect is exact.
  EXPECT_EQ(unacknowledged, 0u);
  std::vector<std::string> want;
  for (const auto& id : acknowledged) {
    if (!deleted.count(id)) want.push_back(id);
  }
  std::cout << "ops " << kTotalOps << ", ragd kills " << ragd_kills << ", NATS leader kills "
            << nats_kills << ", failed attempts retried " << failed_attempts << ", upserted "
            << acknowledged.size() << ", deleted " << deleted.size() << ", expected " << want.size()
            << ", ragd starts repeated after exit code 1 " << cluster.start_retries() << "\n";
  ASSERT_FALSE(want.empty());
  for (size_t i = 0; i < cluster.pods(); ++i) {
    const std::vector<std::string> got =
        cluster.WaitForIds(i, "set", all_ids, want, absl::Seconds(60));
    std::vector<std::string> lost, resurrected;
    std::set_difference(want.begin(), want.end(), got.begin(), got.end(), std::back_inserter(lost));
    for (const auto& id : got) {
      if (deleted.count(id)) resurrected.push_back(id);
    }
    EXPECT_EQ(lost.size(), 0u) << "pod " << i << " lost e.g. " << (lost.empty() ? "" : lost[0]);
    EXPECT_EQ(resurrected.size(), 0u) << "pod " << i;
    EXPECT_EQ(got, want) << "pod " << i;
    auto stub = v1::Points::NewStub(cluster.Channel(i));
    v1::CountRequest cr;
    cr.set_collection("set");
    v1::CountResponse count;
    auto ctx = CallContext(absl::Seconds(10));
    ASSERT_TRUE(stub->Count(ctx.get(), cr, &count).ok());
    EXPECT_EQ(count.count(), want.size()) << "pod " << i;
    std::cout << "pod p" << i << ": " << got.size() << " ids, lost " << lost.size()
              << ", resurrected " << resurrected.size() << "\n";
  }
}

// Search results of pod `i` for `query`: ids and scores, best first.
std::vector<std::pair<std::string, float>> Search(ClusterHarness& cluster, size_t i,
                                                  const v1::Point& query) {
  auto stub = v1::Points::NewStub(cluster.Channel(i));
  v1::SearchRequest req;
  req.set_collection("docs");
  *req.mutable_vector() = query.vector();
  req.set_k(10);
  v1::SearchResponse resp;
  auto ctx = CallContext(absl::Seconds(10));
  grpc::Status st = stub->Search(ctx.get(), req, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  std::vector<std::pair<std::string, float>> hits;
  for (const auto& h : resp.hits()) hits.emplace_back(h.point().id(), h.score());
  return hits;
}

// Writes `n` points in batches through the pods in turn and deletes every seventh; returns
// every id written and the ids expected (sorted).
void WriteDocs(ClusterHarness& cluster, int n, const std::string& prefix,
               std::vector<std::string>* all, std::vector<std::string>* want) {
  std::mt19937 rng(7);
  int failed = 0;
  for (int start = 0; start < n; start += 50) {
    v1::UpsertRequest up;
    up.set_collection("docs");
    for (int k = start; k < std::min(n, start + 50); ++k) {
      all->push_back(prefix + std::to_string(k));
      *up.add_points() = MakePoint(all->back());
    }
    grpc::Status st = WriteWithRetry(cluster, rng, prefix + "up-" + std::to_string(start), &up,
                                     nullptr, absl::Seconds(30), &failed);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  v1::DeleteRequest del;
  del.set_collection("docs");
  std::set<std::string> gone;
  for (int k = 0; k < n; k += 7) {
    del.mutable_ids()->add_ids(prefix + std::to_string(k));
    gone.insert(prefix + std::to_string(k));
  }
  grpc::Status st =
      WriteWithRetry(cluster, rng, prefix + "del", nullptr, &del, absl::Seconds(30), &failed);
  ASSERT_TRUE(st.ok()) << st.error_message();
  for (int k = 0; k < n; ++k) {
    if (!gone.count(prefix + std::to_string(k))) want->push_back(prefix + std::to_string(k));
  }
  std::sort(want->begin(), want->end());
}

// Every pod holds exactly `want` of `all`, counts it, and answers `query` alike.
void ExpectPodsMatch(ClusterHarness& cluster, const std::vector<std::string>& all,
                     const std::vector<std::string>& want) {
  // Every pod caught up first: a reference taken from a pod still applying the last delete
  // would hold a deleted point.
  for (size_t i = 0; i < cluster.pods(); ++i) {
    EXPECT_EQ(cluster.WaitForIds(i, "docs", all, want, absl::Seconds(60)), want) << "pod " << i;
  }
  const v1::Point query = MakePoint("query");
  const auto reference = Search(cluster, 0, query);
  EXPECT_EQ(reference.size(), 10u);
  for (size_t i = 0; i < cluster.pods(); ++i) {
    auto stub = v1::Points::NewStub(cluster.Channel(i));
    v1::CountRequest cr;
    cr.set_collection("docs");
    v1::CountResponse count;
    auto ctx = CallContext(absl::Seconds(10));
    ASSERT_TRUE(stub->Count(ctx.get(), cr, &count).ok());
    EXPECT_EQ(count.count(), want.size()) << "pod " << i;
    // Flat index, same points: the exact same ranking on every replica.
    EXPECT_EQ(Search(cluster, i, query), reference) << "pod " << i;
  }
}

TEST(EmptyPodRebuildTest, PodRestartedEmptyReplaysTheLogAndMatches) {
  testing::TempDir tmp;
  ClusterHarness cluster(tmp.str());
  ASSERT_STATUS_OK(cluster.StartNats());
  for (const char* name : {"p0", "p1", "p2"}) ASSERT_STATUS_OK(cluster.AddPod(name));
  ASSERT_STATUS_OK(cluster.CreateCollection("docs", kDim));
  std::vector<std::string> all, want;
  WriteDocs(cluster, 400, "d", &all, &want);
  ExpectPodsMatch(cluster, all, want);

  // p2 loses its volume: killed, and started on an empty data directory.
  cluster.KillPod(2);
  const absl::Time start = absl::Now();
  ASSERT_STATUS_OK(cluster.StartPod(2, /*wipe=*/true));
  std::cout << "empty pod serving after " << absl::ToDoubleMilliseconds(absl::Now() - start)
            << " ms\n";
  ASSERT_OK_AND_ASSIGN(auto health, cluster.process(2)->Health());
  EXPECT_EQ(health, testing::ServingStatus::kServing);
  ExpectPodsMatch(cluster, all, want);

  // And it keeps applying: writes through it reach the others.
  std::vector<std::string> all2, want2;
  WriteDocs(cluster, 100, "e", &all2, &want2);
  all.insert(all.end(), all2.begin(), all2.end());
  want.insert(want.end(), want2.begin(), want2.end());
  std::sort(want.begin(), want.end());
  ExpectPodsMatch(cluster, all, want);
}

// A veth pair between the test's network namespace and a new one, removed at the end.
class Veth {
 public:
  Veth() {
    const unsigned k = static_cast<unsigned>(getpid()) % 16384;  // a /30 per test process
    const unsigned base = k * 4;
    prefix_ = "10.232." + std::to_string(base >> 8) + ".";
    host_ip_ = prefix_ + std::to_string((base & 0xff) + 1);
    ns_ip_ = prefix_ + std::to_string((base & 0xff) + 2);
    ns_ = "ragdpart" + std::to_string(getpid());
    host_if_ = "rgh" + std::to_string(getpid());
    ns_if_ = "rgn" + std::to_string(getpid());
  }
  ~Veth() {
    Run({"link", "del", host_if_}).IgnoreError();
    Run({"netns", "del", ns_}).IgnoreError();
  }

  absl::Status Create() {
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"netns", "add", ns_},
             {"link", "add", host_if_, "type", "veth", "peer", "name", ns_if_},
             {"link", "set", ns_if_, "netns", ns_},
             {"addr", "add", host_ip_ + "/30", "dev", host_if_},
             {"link", "set", host_if_, "up"},
             {"-n", ns_, "addr", "add", ns_ip_ + "/30", "dev", ns_if_},
             {"-n", ns_, "link", "set", ns_if_, "up"},
             {"-n", ns_, "link", "set", "lo", "up"}}) {
      if (absl::Status s = Run(args); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  // The cut: the host end down, so the namespace's end loses its carrier too.
  absl::Status Cut() { return Run({"link", "set", host_if_, "down"}); }
  absl::Status Heal() { return Run({"link", "set", host_if_, "up"}); }

  const std::string& host_ip() const { return host_ip_; }
  const std::string& ns_ip() const { return ns_ip_; }
  std::vector<std::string> launcher() const { return {kIp, "netns", "exec", ns_}; }

 private:
  static absl::Status Run(std::vector<std::string> args) {
    args.insert(args.begin(), kIp);
    auto r = testing::RunCommand(args, absl::Seconds(10));
    if (!r.ok()) return r.status();
    if (r->exit_code != 0) {
      return absl::InternalError(absl::StrCat(absl::StrJoin(args, " "), ": ", r->err));
    }
    return absl::OkStatus();
  }

  std::string prefix_, host_ip_, ns_ip_, ns_, host_if_, ns_if_;
};

TEST(PartitionTest, ReplicaCutOffByNetnsCatchesUpAfterHeal) {
  // Needs root (CAP_NET_ADMIN) for ip netns and veth, as the tests run here (README "Tests").
  ASSERT_EQ(geteuid(), 0u) << "the partition test creates network namespaces: run as root";
  Veth veth;
  ASSERT_STATUS_OK(veth.Create());
  testing::TempDir tmp;
  // NATS listens on the host end of the veth: the host's pods reach it locally, the pod in the
  // namespace through the veth.
  ClusterHarness cluster(tmp.str(), veth.host_ip());
  ASSERT_STATUS_OK(cluster.StartNats());
  ASSERT_STATUS_OK(cluster.AddPod("p0"));
  ASSERT_STATUS_OK(cluster.AddPod("p1"));
  ClusterHarness::PodOptions in_ns;
  in_ns.host = veth.ns_ip();
  in_ns.launcher = veth.launcher();
  ASSERT_STATUS_OK(cluster.AddPod("p2", in_ns));
  ASSERT_STATUS_OK(cluster.CreateCollection("docs", kDim));

  std::vector<std::string> all, want;
  WriteDocs(cluster, 100, "a", &all, &want);
  ExpectPodsMatch(cluster, all, want);

  ASSERT_STATUS_OK(veth.Cut());
  // The cut is real: p2 does not answer from the host any more.
  {
    auto stub = v1::Points::NewStub(cluster.Channel(2));
    v1::CountRequest cr;
    cr.set_collection("docs");
    v1::CountResponse count;
    auto ctx = CallContext(absl::Seconds(1));
    EXPECT_FALSE(stub->Count(ctx.get(), cr, &count).ok());
  }
  // Writes continue through p0 and p1, in turn, 1.5 s apart: 6 s in all, long enough for p2's
  // NATS client to miss 2 pings (1 s interval, noticed after 2-3 s) and drop its connection.
  std::vector<std::string> all2, want2;
  for (int b = 0; b < 4; ++b) {
    v1::UpsertRequest up;
    up.set_collection("docs");
    for (int k = 0; k < 25; ++k) {
      all2.push_back("b" + std::to_string(b * 25 + k));
      want2.push_back(all2.back());
      *up.add_points() = MakePoint(all2.back());
    }
    const size_t pod = static_cast<size_t>(b % 2);
    auto stub = v1::Points::NewStub(cluster.Channel(pod));
    v1::UpsertResponse resp;
    auto ctx = CallContext(absl::Seconds(10), "b-" + std::to_string(b));
    grpc::Status st = stub->Upsert(ctx.get(), up, &resp);
    ASSERT_TRUE(st.ok()) << "pod " << pod << ": " << st.error_message();
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  }
  std::sort(want2.begin(), want2.end());
  for (size_t pod : {size_t{0}, size_t{1}}) {
    EXPECT_EQ(cluster.WaitForIds(pod, "docs", all2, want2, absl::Seconds(30)), want2);
  }

  ASSERT_STATUS_OK(veth.Heal());
  const absl::Time healed = absl::Now();
  // p2 saw the partition (its NATS client missed 2 pings of 1 s), not only a quiet log.
  EXPECT_NE(cluster.process(2)->LogTail(100000).find("NATS connection lost"), std::string::npos)
      << cluster.process(2)->LogTail();
  EXPECT_EQ(cluster.WaitForIds(2, "docs", all2, want2, absl::Seconds(60)), want2);
  std::cout << "p2 caught up " << absl::ToDoubleMilliseconds(absl::Now() - healed)
            << " ms after the heal\n";
  ASSERT_OK_AND_ASSIGN(auto health, cluster.process(2)->Health());
  EXPECT_EQ(health, testing::ServingStatus::kServing);
  all.insert(all.end(), all2.begin(), all2.end());
  want.insert(want.end(), want2.begin(), want2.end());
  std::sort(want.begin(), want.end());
  ExpectPodsMatch(cluster, all, want);
}

}  // namespace
}  // namespace ragd
