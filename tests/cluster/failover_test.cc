// A 3-node NATS cluster with R3 streams survives SIGKILL of the stream leader: the writer
// retries each publish with the same message id until it is acknowledged, and the replica
// ends with every acknowledged entry applied exactly once (the stream holds exactly one
// message per entry, sequences 1..N, and the replica's state is that of entry N).

#include <gtest/gtest.h>

#include <iostream>
#include <thread>

#include "cluster/applier.h"
#include "tests/cluster/cluster_fixture.h"

namespace ragd::cluster {
namespace {

constexpr absl::Duration kWait = absl::Seconds(60);

// Retries `fn` while it returns UNAVAILABLE, until the deadline.
template <typename Fn>
auto Retry(Fn fn, absl::Time deadline) -> decltype(fn()) {
  for (;;) {
    auto r = fn();
    if (r.ok() || absl::Now() >= deadline) return r;
    if constexpr (std::is_same_v<decltype(r), absl::Status>) {
      if (r.code() != absl::StatusCode::kUnavailable) return r;
    } else {
      if (r.status().code() != absl::StatusCode::kUnavailable) return r;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

TEST(ClusterFailoverTest, R3StreamSurvivesKillingTheLeaderWithExactlyOnceApply) {
  testing::TempDir tmp;
  auto nodes_or = testing::NatsServer::StartCluster(3, tmp.str());
  ASSERT_OK(nodes_or.status());
  auto nodes = *std::move(nodes_or);
  std::vector<std::string> urls;
  for (const auto& n : nodes) urls.push_back(n->url());
  // Short: a publish to the killed leader times out after this and is retried elsewhere.
  JetStreamLogOptions o = LogOptions(urls, std::chrono::seconds(2));
  o.connect_timeout = std::chrono::seconds(1);
  o.replicas = 3;
  const absl::Time setup_deadline = absl::Now() + kWait;
  // The JetStream meta group elects its leader after the routes form: retried.
  auto writer_or = Retry([&] { return JetStreamLog::Connect(o); }, setup_deadline);
  ASSERT_OK(writer_or.status());
  auto writer = *std::move(writer_or);
  ASSERT_OK(Retry([&] { return writer->EnsureCatalogStream(); }, setup_deadline));
  ASSERT_OK(Retry([&] { return writer->EnsureCollectionStream("docs"); }, setup_deadline));
  ASSERT_OK(Retry([&] { return writer->PublishCatalog(CreateEntry(Spec("docs")), "create-docs"); },
                  setup_deadline)
                .status());

  auto log_or = JetStreamLog::Connect(o);
  ASSERT_OK(log_or.status());
  auto log = *std::move(log_or);
  auto engine_or = index::Engine::Open(EngineOptions((tmp.path() / "replica").string()));
  ASSERT_OK(engine_or.status());
  auto engine = *std::move(engine_or);
  ASSERT_OK_AND_ASSIGN(auto applier, Applier::Start(log.get(), engine.get()));

  constexpr int kEntries = 120;
  constexpr int kKillAt = 40;
  uint64_t last_ack = 0;
  std::string killed;
  for (int i = 1; i <= kEntries; ++i) {
    if (i == kKillAt) {
      ASSERT_OK_AND_ASSIGN(killed, writer->StreamLeader("docs"));
      ASSERT_FALSE(killed.empty());
      for (auto& n : nodes) {
        if (n->options().name == killed) n->Kill();
      }
    }
    const std::string entry =
        UpsertEntry({MakePoint("counter", i), MakePoint("p" + std::to_string(i), i)});
    const std::string id = "req-" + std::to_string(i);
    auto ack = Retry([&] { return writer->Publish("docs", entry, id); }, absl::Now() + kWait);
    ASSERT_OK(ack.status()) << "entry " << i;
    // Exactly one message per entry: a retry that had been stored before the failover is
    // acknowledged at its original sequence.
    ASSERT_EQ(ack->sequence, static_cast<uint64_t>(i)) << "entry " << i;
    last_ack = ack->sequence;
  }
  std::cout << "killed stream leader " << killed << " at entry " << kKillAt << "\n";
  // The killed node comes back and catches up; the replica is not disturbed.
  for (auto& n : nodes) {
    if (!n->running()) ASSERT_OK(n->Restart());
  }
  ASSERT_OK(applier->WaitForSequence("docs", last_ack, absl::Now() + kWait));
  ASSERT_OK_AND_ASSIGN(uint64_t stream_last,
                       Retry([&] { return writer->LastSequence("docs"); }, absl::Now() + kWait));
  EXPECT_EQ(stream_last, static_cast<uint64_t>(kEntries));
  ASSERT_OK_AND_ASSIGN(auto info, engine->GetCollection("docs"));
  EXPECT_EQ(info.last_sequence, static_cast<uint64_t>(kEntries));
  EXPECT_EQ(info.points, static_cast<uint64_t>(kEntries + 1));
  EXPECT_EQ(applier->stats().applied, static_cast<uint64_t>(kEntries + 1));  // + the create
  ASSERT_OK_AND_ASSIGN(auto counter, engine->Get("docs", {"counter"}, false));
  ASSERT_EQ(counter.size(), 1u);
  EXPECT_EQ(counter[0].text, "counter v" + std::to_string(kEntries));
  applier->Stop();
}

}  // namespace
}  // namespace ragd::cluster
