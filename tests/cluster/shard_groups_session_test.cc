// Shard groups across pods, beyond the merged reads of shard_groups_test.cc (issue 14):
// ShardGroupsSessionTest: Retrieve and Answer routed to a lagging replica of another group keep
// SESSION and STRONG (the replica waits for what the receiving pod applied);
// ShardGroupsAuthTest: pods send cluster.peer_key_env's key to each other, and a sharded pod
// without one refuses to start. Real ragd processes and a real nats-server on 127.0.0.1.

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "common/hash.h"
#include "ragd/cluster/v1/shards.grpc.pb.h"
#include "ragd/v1/collections.grpc.pb.h"
#include "ragd/v1/ingest.grpc.pb.h"
#include "ragd/v1/points.grpc.pb.h"
#include "ragd/v1/retrieval.grpc.pb.h"
#include "tests/testing/nats_server.h"
#include "tests/testing/ragd_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/cluster/shard_groups_util.h"

namespace ragd {
namespace {

using namespace shard_groups_testing;  // NOLINT(build/namespaces): the tests' own helpers
using testing::NatsServer;

// Retrieve and Answer routed across shard groups keep SESSION and STRONG: ragd-0 (group 0)
// takes the writes and is nobody's peer; ragd-1 (group 1) takes the reads and routes group 0
// to ragd-2, which applies every log entry 2 s late (and stays SERVING: ready_max_lag is high,
// so the router keeps choosing it). A read that did not pass ragd-1's applied sequence on to
// ragd-2 would miss the write for 2 s; the SESSION / STRONG reads below see it at once.
TEST(ShardGroupsSessionTest, RetrieveAndAnswerKeepTheSessionAcrossGroups) {
  testing::TempDir tmp;
  NatsServer::Options no;
  no.dir = (tmp.path() / "nats").string();
  ASSERT_OK_AND_ASSIGN(auto nats, NatsServer::Start(no));
  const int ports[3] = {NatsServer::FreePort(), NatsServer::FreePort(), NatsServer::FreePort()};
  auto addr = [&](int i) { return "127.0.0.1:" + std::to_string(ports[i]); };
  std::vector<std::unique_ptr<RagdProcess>> pods;
  for (int i = 0; i < 3; ++i) {
    const std::string name = "ragd-" + std::to_string(i);
    const std::string config = (tmp.path() / (name + ".yaml")).string();
    std::ofstream out(config);
    out << "cluster:\n  nats_urls: [\"" << nats->url() << "\"]\n  pod_id: " << name
        << "\n  shard_groups: 2\n  peers: \"" << addr(1) << "," << addr(2) << "\"\n";
    if (i == 2) out << "  ready_max_lag: 1000000\ndebug:\n  apply_delay_ms: 2000\n";
    out.close();
    ASSERT_OK_AND_ASSIGN(
        auto pod, RagdProcess::Start(RagdProcess::OptionsFor(
                      (tmp.path() / name).string(), {"--config", config, "--listen", addr(i)})));
    pods.push_back(std::move(pod));
  }
  ASSERT_NO_FATAL_FAILURE(CreateKb(*pods[0]));
  auto retrieval = v1::Retrieval::NewStub(pods[1]->channel());
  // ragd-2 knows the collection once it applied the catalog entry (2 s late): until then a
  // routed read is NOT_FOUND there. Bounded poll.
  grpc::Status st;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  do {
    v1::RetrieveRequest probe;
    probe.set_collection("kb");
    probe.set_query("anything");
    probe.set_consistency(v1::READ_CONSISTENCY_EVENTUAL);
    v1::RetrieveResponse ignored;
    auto ctx = Context();
    st = retrieval->Retrieve(ctx.get(), probe, &ignored);
    if (!st.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  } while (!st.ok() && std::chrono::steady_clock::now() < deadline);
  ASSERT_TRUE(st.ok()) << st.error_message();

  // Documents of one chunk each, held by group 0 (ragd-2 there).
  std::vector<std::string> ids;
  for (int i = 0; ids.size() < 3 && i < 1000; ++i) {
    const std::string id = "s" + std::to_string(i);
    if (GroupOf(id + "#0") == 0) ids.push_back(id);
  }
  ASSERT_EQ(ids.size(), 3u);
  auto has_chunk = [](const auto& chunks, const std::string& id) {
    for (const auto& c : chunks) {
      if (c.id() == id) return true;
    }
    return false;
  };

  // SESSION Retrieve with the write's token.
  v1::DocumentResult written = Ingest(*pods[0], ids[0], "zebra quokka narwhal");
  ASSERT_GT(written.sequence(), 0u);
  v1::RetrieveRequest retrieve;
  retrieve.set_collection("kb");
  retrieve.set_query("zebra quokka narwhal");
  retrieve.set_mode(v1::SEARCH_MODE_TEXT);
  retrieve.set_consistency(v1::READ_CONSISTENCY_SESSION);
  retrieve.set_consistency_token(written.sequence());
  v1::RetrieveResponse got;
  auto ctx = Context();
  st = retrieval->Retrieve(ctx.get(), retrieve, &got);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(has_chunk(got.chunks(), ids[0] + "#0")) << got.DebugString();
  EXPECT_GE(got.applied_sequence(), written.sequence());
  EXPECT_EQ(got.coverage().shards_answered(), static_cast<uint32_t>(kShards));

  // SESSION Answer: the new chunk is among its sources.
  written = Ingest(*pods[0], ids[1], "okapi pangolin axolotl");
  v1::AnswerRequest answer;
  answer.set_collection("kb");
  answer.set_question("okapi pangolin axolotl");
  answer.mutable_retrieval()->set_mode(v1::SEARCH_MODE_TEXT);
  answer.mutable_generation()->set_max_output_tokens(16);
  answer.set_consistency(v1::READ_CONSISTENCY_SESSION);
  answer.set_consistency_token(written.sequence());
  AnswerRun run = RunAnswer(*pods[1], answer);
  ASSERT_TRUE(run.status.ok()) << run.status.error_message();
  ASSERT_TRUE(run.got_sources);
  const std::vector<std::string> sources = SourceIds(run.sources);
  EXPECT_NE(std::find(sources.begin(), sources.end(), ids[1] + "#0"), sources.end())
      << run.sources.DebugString();
  EXPECT_GE(run.sources.applied_sequence(), written.sequence());

  // STRONG Retrieve, no token: the stream's head when the call arrived.
  written = Ingest(*pods[0], ids[2], "tapir caracal margay");
  retrieve.set_query("tapir caracal margay");
  retrieve.set_consistency(v1::READ_CONSISTENCY_STRONG);
  retrieve.clear_consistency_token();
  ctx = Context();
  st = retrieval->Retrieve(ctx.get(), retrieve, &got);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(has_chunk(got.chunks(), ids[2] + "#0")) << got.DebugString();
}

// With API keys, pods send cluster.peer_key_env's key on their calls to each other: a routed
// search with a client key works across groups; a sharded pod without a peer key refuses to
// start (it could not fan out).
TEST(ShardGroupsAuthTest, PodsSendThePeerKey) {
  testing::TempDir tmp;
  NatsServer::Options no;
  no.dir = (tmp.path() / "nats").string();
  ASSERT_OK_AND_ASSIGN(auto nats, NatsServer::Start(no));
  setenv("SHARD_TEST_CLIENT_KEY", "client-secret-1", 1);
  setenv("SHARD_TEST_PEER_KEY", "peer-secret-1", 1);
  const int ports[2] = {NatsServer::FreePort(), NatsServer::FreePort()};
  const std::string peers = "127.0.0.1:" + std::to_string(ports[0]) + ",127.0.0.1:" +
                            std::to_string(ports[1]);
  auto config_for = [&](int i, bool with_peer_key) {
    const std::string path =
        (tmp.path() / ("p" + std::to_string(i) + std::to_string(with_peer_key) + ".yaml")).string();
    std::ofstream(path) << "auth:\n  api_keys:\n"
                        << "    - {name: client, key_env: SHARD_TEST_CLIENT_KEY, role: admin}\n"
                        << "    - {name: pods, key_env: SHARD_TEST_PEER_KEY, role: reader}\n"
                        << "cluster:\n  nats_urls: [\"" << nats->url() << "\"]\n  pod_id: ragd-" << i
                        << "\n  shard_groups: 2\n  peers: \"" << peers << "\"\n"
                        << (with_peer_key ? "  peer_key_env: SHARD_TEST_PEER_KEY\n" : "");
    return path;
  };
  ASSERT_OK_AND_ASSIGN(auto refused,
                       testing::RunCommand({testing::RagdBinary(), "--config", config_for(0, false),
                                            "--data-dir", (tmp.path() / "x").string()},
                                           absl::Seconds(30)));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("cluster.peer_key_env"), std::string::npos) << refused.err;
  // cluster.default_shards below the group count is refused at start, naming the key.
  {
    const std::string path = (tmp.path() / "few-shards.yaml").string();
    std::ofstream(path) << "cluster:\n  nats_urls: [\"" << nats->url()
                        << "\"]\n  pod_id: ragd-0\n  shard_groups: 2\n  default_shards: 1\n";
    ASSERT_OK_AND_ASSIGN(auto few, testing::RunCommand({testing::RagdBinary(), "--config", path,
                                                        "--data-dir", (tmp.path() / "y").string()},
                                                       absl::Seconds(30)));
    EXPECT_NE(few.exit_code, 0);
    EXPECT_NE(few.err.find("cluster.default_shards"), std::string::npos) << few.err;
  }

  std::vector<std::unique_ptr<RagdProcess>> pods;
  for (int i = 0; i < 2; ++i) {
    ASSERT_OK_AND_ASSIGN(auto pod, RagdProcess::Start(RagdProcess::OptionsFor(
                                       (tmp.path() / ("d" + std::to_string(i))).string(),
                                       {"--config", config_for(i, true), "--listen",
                                        "127.0.0.1:" + std::to_string(ports[i])})));
    pods.push_back(std::move(pod));
  }
  auto authed = [] {
    auto c = Context();
    c->AddMetadata("authorization", "Bearer client-secret-1");
    return c;
  };
  auto collections = v1::Collections::NewStub(pods[0]->channel());
  v1::CreateCollectionRequest create;
  create.set_name("docs");
  create.set_dimension(4);
  create.set_shards(4);
  create.mutable_index()->mutable_flat();
  v1::CreateCollectionResponse created;
  auto ctx = authed();
  grpc::Status st = collections->CreateCollection(ctx.get(), create, &created);
  ASSERT_TRUE(st.ok()) << st.error_message();
  // Without `shards`, a cluster of 2 shard groups creates 2 shards (cluster.default_shards 0 =
  // one per group), so that both groups hold part of the collection.
  {
    v1::CreateCollectionRequest unsized;
    unsized.set_name("unsized");
    unsized.set_dimension(4);
    unsized.mutable_index()->mutable_flat();
    v1::CreateCollectionResponse made;
    auto c = authed();
    grpc::Status s = collections->CreateCollection(c.get(), unsized, &made);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(made.collection().shards(), 2u);
  }
  v1::UpsertRequest up;
  up.set_collection("docs");
  for (int i = 0; i < 20; ++i) {
    v1::Point* p = up.add_points();
    p->set_id("q" + std::to_string(i));
    for (int d = 0; d < 4; ++d) p->add_vector(static_cast<float>(i + d + 1));
  }
  v1::UpsertResponse upserted;
  ctx = authed();
  st = v1::Points::NewStub(pods[0]->channel())->Upsert(ctx.get(), up, &upserted);
  ASSERT_TRUE(st.ok()) << st.error_message();
  // Routed through pod 1 until its router knows pod 0 (bounded) and pod 1 has applied all.
  v1::CountRequest count;
  count.set_collection("docs");
  v1::CountResponse counted;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  do {
    ctx = authed();
    st = v1::Points::NewStub(pods[1]->channel())->Count(ctx.get(), count, &counted);
    if (st.ok() && counted.count() == 20) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (std::chrono::steady_clock::now() < deadline);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(counted.count(), 20u);
  EXPECT_EQ(counted.coverage().shards_answered(), 4u);
  // The pod-to-pod service itself refuses a caller without a key.
  ragd::cluster::v1::CountShardsRequest shard_count;
  shard_count.mutable_request()->set_collection("docs");
  shard_count.add_shards(0);
  shard_count.add_shards(2);
  ctx = Context();
  EXPECT_EQ(ragd::cluster::v1::Shards::NewStub(pods[0]->channel())
                ->CountShards(ctx.get(), shard_count, &counted)
                .error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  ctx = authed();
  st = ragd::cluster::v1::Shards::NewStub(pods[0]->channel())
           ->CountShards(ctx.get(), shard_count, &counted);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_LT(counted.count(), 20u);  // group 0's shards only
}

}  // namespace
}  // namespace ragd
