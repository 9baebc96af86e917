// JetStreamLog against a real nats-server: streams, deduplicated publishes, ordered reads from
// a start sequence, the last sequence, and the status codes of what goes wrong.

#include "cluster/jetstream_log.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "tests/cluster/cluster_fixture.h"

namespace ragd::cluster {
namespace {

// Next() returns as soon as a message is there; the bound only ends a test whose message never
// comes, so it is generous (a loaded 2-core machine can starve nats-server for seconds).
constexpr std::chrono::seconds kMessageWait(30);

using JetStreamLogTest = NatsTest;

TEST_F(JetStreamLogTest, PublishAssignsSequencesAndDeduplicatesByMessageId) {
  auto log = Connect();
  ASSERT_NE(log, nullptr);
  ASSERT_OK(log->EnsureCollectionStream("docs"));
  ASSERT_OK(log->EnsureCollectionStream("docs"));  // idempotent
  ASSERT_OK_AND_ASSIGN(PublishAck a, log->Publish("docs", "one", "req-1"));
  ASSERT_OK_AND_ASSIGN(PublishAck b, log->Publish("docs", "two", "req-2"));
  EXPECT_EQ(a.sequence, 1u);
  EXPECT_FALSE(a.duplicate);
  EXPECT_EQ(b.sequence, 2u);
  // A retry with the same id (even with other bytes) is acknowledged at the original sequence
  // and not stored again.
  ASSERT_OK_AND_ASSIGN(PublishAck retry, log->Publish("docs", "one again", "req-1"));
  EXPECT_EQ(retry.sequence, 1u);
  EXPECT_TRUE(retry.duplicate);
  ASSERT_OK_AND_ASSIGN(uint64_t last, log->LastSequence("docs"));
  EXPECT_EQ(last, 2u);
}

TEST_F(JetStreamLogTest, ReaderDeliversInOrderFromTheStartSequence) {
  auto log = Connect();
  ASSERT_NE(log, nullptr);
  ASSERT_OK(log->EnsureCollectionStream("docs"));
  for (int i = 1; i <= 5; ++i) {
    ASSERT_OK(log->Publish("docs", "m" + std::to_string(i), "id-" + std::to_string(i)).status());
  }
  ASSERT_OK_AND_ASSIGN(auto reader, log->Subscribe("docs", 3));
  for (uint64_t want = 3; want <= 5; ++want) {
    ASSERT_OK_AND_ASSIGN(auto m, reader->Next(kMessageWait));
    ASSERT_TRUE(m.has_value()) << "no message " << want;
    EXPECT_EQ(m->sequence, want);
    EXPECT_EQ(m->data, "m" + std::to_string(want));
  }
  ASSERT_OK_AND_ASSIGN(auto none, reader->Next(std::chrono::milliseconds(200)));
  EXPECT_FALSE(none.has_value());
  // New messages reach a waiting reader.
  ASSERT_OK(log->Publish("docs", "m6", "id-6").status());
  ASSERT_OK_AND_ASSIGN(auto m6, reader->Next(kMessageWait));
  ASSERT_TRUE(m6.has_value());
  EXPECT_EQ(m6->sequence, 6u);
}

TEST_F(JetStreamLogTest, CatalogStreamIsSeparate) {
  auto log = Connect();
  ASSERT_NE(log, nullptr);
  ASSERT_OK(log->EnsureCatalogStream());
  ASSERT_OK(log->EnsureCollectionStream("a"));
  ASSERT_OK_AND_ASSIGN(PublishAck c, log->PublishCatalog("create", "cat-1"));
  ASSERT_OK_AND_ASSIGN(PublishAck p, log->Publish("a", "points", "a-1"));
  EXPECT_EQ(c.sequence, 1u);
  EXPECT_EQ(p.sequence, 1u);
  ASSERT_OK_AND_ASSIGN(uint64_t last, log->CatalogLastSequence());
  EXPECT_EQ(last, 1u);
}

// Pods starting together all ensure the same streams. The losers of the create race get
// "name already in use" or, found in CI, "subjects overlap with an existing stream": both
// mean the stream is there, so every caller gets OK, in every round. The pod-status bucket
// (a KV bucket, itself a stream) is raced the same way.
TEST_F(JetStreamLogTest, ConcurrentEnsureOfOneStreamSucceedsForEveryCaller) {
  constexpr int kCallers = 6;
  std::vector<std::unique_ptr<JetStreamLog>> logs;
  for (int i = 0; i < kCallers; ++i) {
    logs.push_back(Connect());
    ASSERT_NE(logs.back(), nullptr);
  }
  for (int round = 0; round < 20; ++round) {
    const std::string collection = "c" + std::to_string(round);
    std::vector<absl::Status> catalog(kCallers), bucket(kCallers), stream(kCallers);
    std::vector<std::thread> threads;
    for (int i = 0; i < kCallers; ++i) {
      threads.emplace_back([&, i] {
        if (round == 0) {
          catalog[i] = logs[i]->EnsureCatalogStream();
          bucket[i] = logs[i]->EnsurePodBucket(std::chrono::seconds(2));
        }
        stream[i] = logs[i]->EnsureCollectionStream(collection);
      });
    }
    for (auto& t : threads) t.join();
    for (int i = 0; i < kCallers; ++i) {
      EXPECT_OK(catalog[i]) << "round " << round << ", caller " << i;
      EXPECT_OK(bucket[i]) << "round " << round << ", caller " << i;
      EXPECT_OK(stream[i]) << "round " << round << ", caller " << i;
    }
    ASSERT_OK_AND_ASSIGN(PublishAck ack, logs[0]->Publish(collection, "x", "id"));
    EXPECT_EQ(ack.sequence, 1u);
  }
}

TEST_F(JetStreamLogTest, ErrorsAreStatusCodes) {
  auto log = Connect();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->EnsureCollectionStream("bad.name").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log->EnsureCollectionStream("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log->Publish("docs", "x", "").status().code(), absl::StatusCode::kInvalidArgument);
  // No stream listens on the subject: no responders, which a retry may fix once the stream
  // exists (or has elected a leader).
  EXPECT_EQ(log->Publish("nostream", "x", "id").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(log->LastSequence("nostream").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(log->DeleteCollectionStream("nostream").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(log->Subscribe("nostream", 1).status().code(), absl::StatusCode::kNotFound);

  JetStreamLogOptions bad = LogOptions({});
  EXPECT_EQ(JetStreamLog::Connect(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = LogOptions({nats_->url()});
  bad.replicas = 0;
  EXPECT_EQ(JetStreamLog::Connect(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(JetStreamLogTest, NoServerIsUnavailable) {
  const int port = testing::NatsServer::FreePort();
  auto log = JetStreamLog::Connect(LogOptions({"nats://127.0.0.1:" + std::to_string(port)}));
  EXPECT_EQ(log.status().code(), absl::StatusCode::kUnavailable) << log.status();
}

TEST_F(JetStreamLogTest, DeleteCollectionStreamRemovesItsMessages) {
  auto log = Connect();
  ASSERT_NE(log, nullptr);
  ASSERT_OK(log->EnsureCollectionStream("docs"));
  ASSERT_OK(log->Publish("docs", "x", "id-1").status());
  ASSERT_OK(log->DeleteCollectionStream("docs"));
  EXPECT_EQ(log->LastSequence("docs").status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK(log->EnsureCollectionStream("docs"));
  ASSERT_OK_AND_ASSIGN(uint64_t last, log->LastSequence("docs"));
  EXPECT_EQ(last, 0u);
}

}  // namespace
}  // namespace ragd::cluster
