// Cluster mode's read path over real ragd processes on one nats-server (issue 14): per-call
// read consistency (SESSION read-your-writes on every replica, STRONG after a write through
// another pod, a token from the future ending in DEADLINE_EXCEEDED), the applied_sequence of
// reads, readiness by lag (grpc.health.v1 and /readyz), single-node mode accepting every
// level, and start-up before JetStream is up (retried within cluster.connect_timeout_ms).
// Pods run with debug.apply_delay_ms so that a replica really lags behind the log while the
// test reads through it.

#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "ragd/v1/collections.grpc.pb.h"
#include "ragd/v1/points.grpc.pb.h"
#include "tests/testing/nats_server.h"
#include "tests/testing/ragd_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace ragd {
namespace {

using testing::NatsServer;
using testing::RagdProcess;
using testing::ServingStatus;

constexpr int kDim = 4;

v1::Point MakePoint(const std::string& id, float x) {
  v1::Point p;
  p.set_id(id);
  for (int d = 0; d < kDim; ++d) p.add_vector(x + static_cast<float>(d));
  p.set_text("text of " + id);
  return p;
}

std::unique_ptr<grpc::ClientContext> Context(
    std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + timeout);
  return c;
}

struct HttpResult {
  int status = 0;
  std::string body;
};

HttpResult HttpGet(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5);
  client.set_read_timeout(5);
  httplib::Result r = client.Get(path.c_str());
  if (!r) return {};
  return {r->status, r->body};
}

class ClusterConsistencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NatsServer::Options no;
    no.dir = (tmp_.path() / "nats").string();
    auto nats = NatsServer::Start(no);
    ASSERT_OK(nats.status());
    nats_ = *std::move(nats);
  }

  // A pod named `name` applying each entry `apply_delay_ms` late.
  absl::StatusOr<std::unique_ptr<RagdProcess>> StartPod(const std::string& name, int apply_delay_ms,
                                                        const std::string& extra_yaml = "",
                                                        bool wait_for_serving = true) {
    const std::string config = (tmp_.path() / (name + ".yaml")).string();
    std::ofstream(config) << "cluster:\n  nats_urls: [\"" << nats_->url()
                          << "\"]\n  pod_id: " << name << "\n  status_interval_ms: 50\n"
                          << extra_yaml << "debug:\n  apply_delay_ms: " << apply_delay_ms << "\n";
    return RagdProcess::Start(RagdProcess::OptionsFor((tmp_.path() / name).string(),
                                                      {"--config", config}, wait_for_serving));
  }

  void CreateCollection(RagdProcess& pod) {
    auto collections = v1::Collections::NewStub(pod.channel());
    v1::CreateCollectionRequest create;
    create.set_name("docs");
    create.set_dimension(kDim);
    create.set_metric(v1::METRIC_L2);
    create.mutable_index()->mutable_flat();
    v1::CreateCollectionResponse created;
    auto ctx = Context();
    grpc::Status st = collections->CreateCollection(ctx.get(), create, &created);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }

  // Upserts one point through `pod`; its consistency token.
  uint64_t Upsert(RagdProcess& pod, const std::string& id, float x) {
    auto points = v1::Points::NewStub(pod.channel());
    v1::UpsertRequest up;
    up.set_collection("docs");
    *up.add_points() = MakePoint(id, x);
    v1::UpsertResponse resp;
    auto ctx = Context();
    grpc::Status st = points->Upsert(ctx.get(), up, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.sequence();
  }

  testing::TempDir tmp_;
  std::unique_ptr<NatsServer> nats_;
};

TEST_F(ClusterConsistencyTest, SessionReadsYourWritesOnEveryReplica) {
  // Each pod applies every entry 150 ms late: a write through one pod is not yet on the other
  // when the read arrives there, unless the read waits for it.
  ASSERT_OK_AND_ASSIGN(auto a, StartPod("a", 150));
  ASSERT_OK_AND_ASSIGN(auto b, StartPod("b", 150));
  CreateCollection(*a);
  std::vector<RagdProcess*> pods = {a.get(), b.get()};
  for (int round = 0; round < 4; ++round) {
    RagdProcess& writer = *pods[round % 2];
    RagdProcess& reader = *pods[(round + 1) % 2];
    const std::string id = "p" + std::to_string(round);
    const uint64_t token = Upsert(writer, id, static_cast<float>(round));
    ASSERT_GT(token, 0u);

    auto points = v1::Points::NewStub(reader.channel());
    v1::GetRequest get;
    get.set_collection("docs");
    get.add_ids(id);
    get.set_consistency(v1::READ_CONSISTENCY_SESSION);
    get.set_consistency_token(token);
    v1::GetResponse got;
    auto ctx = Context();
    grpc::Status st = points->Get(ctx.get(), get, &got);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(got.points_size(), 1) << "round " << round;
    EXPECT_EQ(got.points(0).id(), id);
    EXPECT_GE(got.applied_sequence(), token);

    // Search and Count honour the same token.
    const uint64_t token2 = Upsert(writer, id + "-s", 100.0f + static_cast<float>(round));
    v1::SearchRequest search;
    search.set_collection("docs");
    for (int d = 0; d < kDim; ++d) search.add_vector(100.0f + round + d);
    search.set_k(1);
    search.set_consistency(v1::READ_CONSISTENCY_SESSION);
    search.set_consistency_token(token2);
    v1::SearchResponse found;
    ctx = Context();
    st = points->Search(ctx.get(), search, &found);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(found.hits_size(), 1);
    EXPECT_EQ(found.hits(0).point().id(), id + "-s");
    EXPECT_GE(found.applied_sequence(), token2);

    v1::CountRequest count;
    count.set_collection("docs");
    count.set_consistency(v1::READ_CONSISTENCY_SESSION);
    count.set_consistency_token(token2);
    v1::CountResponse counted;
    ctx = Context();
    st = points->Count(ctx.get(), count, &counted);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(counted.count(), static_cast<uint64_t>(2 * (round + 1)));
  }
}

TEST_F(ClusterConsistencyTest, StrongSeesAWriteThroughAnotherPod) {
  ASSERT_OK_AND_ASSIGN(auto a, StartPod("a", 0));
  ASSERT_OK_AND_ASSIGN(auto b, StartPod("b", 150));
  CreateCollection(*a);
  for (int i = 0; i < 5; ++i) Upsert(*a, "s" + std::to_string(i), static_cast<float>(i));
  const uint64_t last = Upsert(*a, "last", 50);

  // No token: STRONG waits for the stream's head as b reads it when the call arrives.
  auto points = v1::Points::NewStub(b->channel());
  v1::CountRequest count;
  count.set_collection("docs");
  count.set_consistency(v1::READ_CONSISTENCY_STRONG);
  v1::CountResponse counted;
  auto ctx = Context();
  grpc::Status st = points->Count(ctx.get(), count, &counted);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(counted.count(), 6u);
  EXPECT_GE(counted.applied_sequence(), last);

  const uint64_t again = Upsert(*a, "after", 60);
  v1::SearchRequest search;
  search.set_collection("docs");
  for (int d = 0; d < kDim; ++d) search.add_vector(60.0f + d);
  search.set_k(1);
  search.set_consistency(v1::READ_CONSISTENCY_STRONG);
  v1::SearchResponse found;
  ctx = Context();
  st = points->Search(ctx.get(), search, &found);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(found.hits_size(), 1);
  EXPECT_EQ(found.hits(0).point().id(), "after");
  EXPECT_GE(found.applied_sequence(), again);

  // EVENTUAL answers at once with what b has applied, whatever that is.
  count.set_consistency(v1::READ_CONSISTENCY_EVENTUAL);
  ctx = Context();
  st = points->Count(ctx.get(), count, &counted);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_GE(counted.applied_sequence(), again);  // b applied it for the STRONG search above

  // An unknown level is the caller's error.
  count.set_consistency(static_cast<v1::ReadConsistency>(42));
  ctx = Context();
  EXPECT_EQ(points->Count(ctx.get(), count, &counted).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ClusterConsistencyTest, SessionTokenFromTheFutureIsDeadlineExceeded) {
  ASSERT_OK_AND_ASSIGN(auto a, StartPod("a", 0));
  CreateCollection(*a);
  const uint64_t token = Upsert(*a, "p", 1);
  auto points = v1::Points::NewStub(a->channel());
  v1::GetRequest get;
  get.set_collection("docs");
  get.add_ids("p");
  get.set_consistency(v1::READ_CONSISTENCY_SESSION);
  get.set_consistency_token(token + 1000);
  v1::GetResponse got;
  auto ctx = Context(std::chrono::milliseconds(500));
  grpc::Status st = points->Get(ctx.get(), get, &got);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << st.error_message();

  // Search likewise.
  v1::SearchRequest search;
  search.set_collection("docs");
  for (int d = 0; d < kDim; ++d) search.add_vector(1.0f + d);
  search.set_k(1);
  search.set_consistency(v1::READ_CONSISTENCY_SESSION);
  search.set_consistency_token(token + 1000);
  v1::SearchResponse found;
  ctx = Context(std::chrono::milliseconds(1500));
  st = points->Search(ctx.get(), search, &found);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << st.error_message();

  // The pod is still fine: the token it has applied reads at once.
  get.set_consistency_token(token);
  ctx = Context();
  st = points->Get(ctx.get(), get, &got);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(got.points_size(), 1);
}

TEST_F(ClusterConsistencyTest, PodIsNotReadyUntilCaughtUp) {
  ASSERT_OK_AND_ASSIGN(auto a, StartPod("a", 0));
  CreateCollection(*a);
  constexpr int kWrites = 40;
  uint64_t last = 0;
  for (int i = 0; i < kWrites; ++i)
    last = Upsert(*a, "w" + std::to_string(i), static_cast<float>(i));

  // b starts after the writes and applies each 100 ms late: ~4 s behind, with at most 5
  // entries of lag allowed.
  ASSERT_OK_AND_ASSIGN(auto b, StartPod("b", 100, "  ready_max_lag: 5\n",
                                        /*wait_for_serving=*/false));
  // Seen not ready *because of the lag* (not merely while opening its engine).
  bool saw_lag = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!saw_lag && std::chrono::steady_clock::now() < deadline) {
    HttpResult ready = HttpGet(b->admin_port(), "/readyz");
    if (ready.status == 503 && ready.body.find("behind") != std::string::npos) {
      saw_lag = true;
      absl::StatusOr<ServingStatus> health = b->Health();
      ASSERT_OK(health.status());
      // Still lagging a moment later (at least 5 entries x 100 ms to go), as gRPC health says.
      EXPECT_EQ(*health, ServingStatus::kNotServing);
      break;
    }
    ASSERT_NE(ready.status, 200) << "ready before catching up: " << ready.body;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(saw_lag) << b->LogTail();

  ASSERT_OK(b->WaitForServing(absl::Seconds(60)));
  EXPECT_EQ(HttpGet(b->admin_port(), "/readyz").status, 200);
  // Ready means within ready_max_lag of the head.
  auto points = v1::Points::NewStub(b->channel());
  v1::CountRequest count;
  count.set_collection("docs");
  count.set_consistency(v1::READ_CONSISTENCY_EVENTUAL);
  v1::CountResponse counted;
  auto ctx = Context();
  grpc::Status st = points->Count(ctx.get(), count, &counted);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_GE(counted.applied_sequence() + 5, last);
}

// ragctl: a write records its token, a later read through another pod sends it (SESSION);
// `cluster status` shows every pod; the metrics endpoint shows the cluster series.
TEST_F(ClusterConsistencyTest, RagctlReadsItsWritesAndShowsClusterStatus) {
  ASSERT_OK_AND_ASSIGN(auto a, StartPod("a", 0));
  ASSERT_OK_AND_ASSIGN(auto b, StartPod("b", 150));
  CreateCollection(*a);
  const std::string state = (tmp_.path() / "ragctl-state").string();
  const std::vector<std::string> env = {"RAGCTL_STATE_DIR=" + state};
  auto ragctl = [&](const std::string& address, std::vector<std::string> args) {
    args.insert(args.begin(), {RAGCTL_BINARY, "--address", address});
    return testing::RunCommand(args, absl::Seconds(60), env);
  };
  const std::string points_file = (tmp_.path() / "points.jsonl").string();
  {
    std::ofstream out(points_file);
    for (int i = 0; i < 3; ++i) {
      out << "{\"id\":\"r" << i << "\",\"vector\":[" << i << ",1,2,3]}\n";
    }
  }
  ASSERT_OK_AND_ASSIGN(
      testing::CommandResult up,
      ragctl(a->address(), {"points", "upsert", "--collection", "docs", points_file}));
  ASSERT_EQ(up.exit_code, 0) << up.err;
  std::ifstream tokens(state + "/tokens.json");
  ASSERT_TRUE(tokens.good()) << "no token file";
  const nlohmann::json recorded = nlohmann::json::parse(tokens, nullptr, false);
  const std::string key = a->address() + "|docs";
  ASSERT_TRUE(recorded.contains(key)) << recorded.dump();
  const uint64_t token = recorded[key].get<uint64_t>();
  EXPECT_EQ(token, 1u);  // the collection stream's first entry
  // b applies each entry 150 ms late: it counts the 3 points at once only because the read
  // waits for the token. The file is keyed by address (a's here), so pass it to b explicitly.
  ASSERT_OK_AND_ASSIGN(
      testing::CommandResult count,
      ragctl(b->address(), {"--consistency", "session", "--token", std::to_string(token), "points",
                            "count", "--collection", "docs"}));
  ASSERT_EQ(count.exit_code, 0) << count.err;
  EXPECT_EQ(count.out, "3\n");
  ASSERT_OK_AND_ASSIGN(count, ragctl(a->address(), {"points", "count", "--collection", "docs"}));
  ASSERT_EQ(count.exit_code, 0) << count.err;
  EXPECT_EQ(count.out, "3\n");

  // Both pods appear, caught up, once their next heartbeats are written (bounded poll).
  bool both = false;
  std::string last;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!both && std::chrono::steady_clock::now() < deadline) {
    ASSERT_OK_AND_ASSIGN(testing::CommandResult st,
                         ragctl(a->address(), {"--json", "cluster", "status"}));
    ASSERT_EQ(st.exit_code, 0) << st.err << a->LogTail();
    last = st.out;
    const nlohmann::json j = nlohmann::json::parse(st.out, nullptr, false);
    both = j.is_object() && j.contains("pods") && j["pods"].size() == 2;
    for (size_t i = 0; both && i < 2; ++i) {
      const nlohmann::json& pod = j["pods"][i];
      both = pod["pod_id"] == (i == 0 ? "a" : "b") && pod["ready"] == true &&
             pod["collections"].size() == 1 && pod["collections"][0]["lag"] == "0" &&
             pod["collections"][0]["applied_sequence"] == "1";
    }
    if (!both) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(both) << last;
  ASSERT_OK_AND_ASSIGN(testing::CommandResult table, ragctl(b->address(), {"cluster", "status"}));
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("POD"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("docs"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("2 pod(s); answered by b"), std::string::npos) << table.out;

  HttpResult metrics = HttpGet(b->admin_port(), "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("ragd_cluster_lag_entries{collection=\"docs\"}"), std::string::npos);
  EXPECT_NE(metrics.body.find("ragd_cluster_applied_total"), std::string::npos);
  EXPECT_NE(metrics.body.find("ragd_cluster_ready 1"), std::string::npos);
  EXPECT_NE(metrics.body.find("ragd_cluster_router_fanout_seconds_count"), std::string::npos);
  metrics = HttpGet(a->admin_port(), "/metrics");
  EXPECT_NE(metrics.body.find("ragd_cluster_publish_seconds_count 2"), std::string::npos)
      << "one collection create and one upsert published through a";
}

// Start-up before JetStream (issue 14): ragd started while no NATS server runs yet keeps
// retrying (health NOT_SERVING, a warning per attempt) instead of exiting; the three servers of
// an R3 cluster then start one by one (the first alone has no JetStream quorum), and ragd
// becomes SERVING and takes writes replicated three times.
TEST(ClusterStartupTest, RagdWaitsForAFormingJetStreamCluster) {
  testing::TempDir tmp;
  std::vector<int> ports, route_ports;
  for (int i = 0; i < 3; ++i) {
    ports.push_back(NatsServer::FreePort());
    route_ports.push_back(NatsServer::FreePort());
  }
  const std::string config = (tmp.path() / "ragd.yaml").string();
  std::ofstream(config) << "cluster:\n  nats_urls: [\"nats://127.0.0.1:" << ports[0]
                        << "\", \"nats://127.0.0.1:" << ports[1]
                        << "\", \"nats://127.0.0.1:" << ports[2]
                        << "\"]\n  replicas: 3\n  pod_id: early\n"
                        << "  connect_timeout_ms: 120000\n";
  ASSERT_OK_AND_ASSIGN(auto ragd, RagdProcess::Start(RagdProcess::OptionsFor(
                                      (tmp.path() / "d").string(), {"--config", config},
                                      /*wait_for_serving=*/false)));
  // It says it is retrying (bounded poll of its log), and is up but not serving.
  bool retrying = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!retrying && std::chrono::steady_clock::now() < deadline) {
    retrying = ragd->LogTail().find("JetStream not reachable yet") != std::string::npos;
    if (!retrying) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(retrying) << ragd->LogTail();
  ASSERT_OK_AND_ASSIGN(ServingStatus health, ragd->Health());
  EXPECT_EQ(health, ServingStatus::kNotServing);
  HttpResult ready = HttpGet(ragd->admin_port(), "/readyz");
  EXPECT_EQ(ready.status, 503) << ready.body;

  std::vector<std::unique_ptr<NatsServer>> nodes;
  for (int i = 0; i < 3; ++i) {
    NatsServer::Options o;
    o.name = "n" + std::to_string(i + 1);
    o.dir = (tmp.path() / o.name).string();
    o.port = ports[i];
    o.cluster_port = route_ports[i];
    for (int j = 0; j < 3; ++j) {
      if (j != i) o.route_ports.push_back(route_ports[j]);
    }
    ASSERT_OK_AND_ASSIGN(auto node, NatsServer::Start(o));
    nodes.push_back(std::move(node));
    ASSERT_TRUE(ragd->running()) << ragd->LogTail();
  }
  ASSERT_OK(ragd->WaitForServing(absl::Seconds(60))) << ragd->LogTail();
  EXPECT_NE(ragd->LogTail(20000).find("JetStream reached after"), std::string::npos)
      << ragd->LogTail();

  auto collections = v1::Collections::NewStub(ragd->channel());
  v1::CreateCollectionRequest create;
  create.set_name("docs");
  create.set_dimension(kDim);
  create.mutable_index()->mutable_flat();
  v1::CreateCollectionResponse created;
  auto ctx = Context();
  grpc::Status st = collections->CreateCollection(ctx.get(), create, &created);
  ASSERT_TRUE(st.ok()) << st.error_message();
  auto points = v1::Points::NewStub(ragd->channel());
  v1::UpsertRequest up;
  up.set_collection("docs");
  *up.add_points() = MakePoint("p", 1);
  v1::UpsertResponse upserted;
  ctx = Context();
  st = points->Upsert(ctx.get(), up, &upserted);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(upserted.sequence(), 1u);
}

// The bound: with no NATS server, ragd exits with an error naming cluster.connect_timeout_ms
// once it passes; and a SIGTERM while it retries stops it at once, cleanly.
TEST(ClusterStartupTest, GivesUpAfterTheConnectTimeoutAndStopsOnSignal) {
  testing::TempDir tmp;
  const int port = NatsServer::FreePort();
  auto config_with = [&](int timeout_ms) {
    const std::string path = (tmp.path() / ("t" + std::to_string(timeout_ms) + ".yaml")).string();
    std::ofstream(path) << "cluster:\n  nats_urls: [\"nats://127.0.0.1:" << port
                        << "\"]\n  pod_id: lonely\n  connect_timeout_ms: " << timeout_ms << "\n";
    return path;
  };
  ASSERT_OK_AND_ASSIGN(auto ragd, RagdProcess::Start(RagdProcess::OptionsFor(
                                      (tmp.path() / "a").string(), {"--config", config_with(1500)},
                                      /*wait_for_serving=*/false)));
  ASSERT_OK_AND_ASSIGN(int code, ragd->WaitForExit(absl::Seconds(60)));
  EXPECT_EQ(code, 1);
  EXPECT_NE(
      ragd->LogTail().find("JetStream not reachable within cluster.connect_timeout_ms (1500 ms"),
      std::string::npos)
      << ragd->LogTail();

  ASSERT_OK_AND_ASSIGN(ragd, RagdProcess::Start(RagdProcess::OptionsFor(
                                 (tmp.path() / "b").string(), {"--config", config_with(600000)},
                                 /*wait_for_serving=*/false)));
  bool retrying = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!retrying && std::chrono::steady_clock::now() < deadline) {
    retrying = ragd->LogTail().find("JetStream not reachable yet") != std::string::npos;
    if (!retrying) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(retrying) << ragd->LogTail();
  ASSERT_OK_AND_ASSIGN(code, ragd->Terminate(absl::Seconds(30)));
  EXPECT_EQ(code, 0) << ragd->LogTail();
}

TEST(SingleNodeConsistencyTest, EveryLevelIsSatisfiedAtOnce) {
  testing::TempDir tmp;
  ASSERT_OK_AND_ASSIGN(auto ragd,
                       RagdProcess::Start(RagdProcess::OptionsFor((tmp.path() / "d").string())));
  auto collections = v1::Collections::NewStub(ragd->channel());
  v1::CreateCollectionRequest create;
  create.set_name("docs");
  create.set_dimension(kDim);
  create.mutable_index()->mutable_flat();
  v1::CreateCollectionResponse created;
  auto ctx = Context();
  ASSERT_TRUE(collections->CreateCollection(ctx.get(), create, &created).ok());
  auto points = v1::Points::NewStub(ragd->channel());
  v1::UpsertRequest up;
  up.set_collection("docs");
  *up.add_points() = MakePoint("p", 1);
  v1::UpsertResponse upserted;
  ctx = Context();
  ASSERT_TRUE(points->Upsert(ctx.get(), up, &upserted).ok());
  for (v1::ReadConsistency level :
       {v1::READ_CONSISTENCY_UNSPECIFIED, v1::READ_CONSISTENCY_EVENTUAL,
        v1::READ_CONSISTENCY_BOUNDED, v1::READ_CONSISTENCY_SESSION, v1::READ_CONSISTENCY_STRONG}) {
    v1::CountRequest count;
    count.set_collection("docs");
    count.set_consistency(level);
    count.set_consistency_token(upserted.sequence());
    v1::CountResponse counted;
    ctx = Context();
    grpc::Status st = points->Count(ctx.get(), count, &counted);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(counted.count(), 1u);
    EXPECT_EQ(counted.applied_sequence(), upserted.sequence()) << level;
  }
}

}  // namespace
}  // namespace ragd
