// Two pods (engine + log connection + applier + writer each) on one nats-server: a write taken
// by either pod is validated like the engine's own, acknowledged once applied on that pod,
// and reaches the other; a call retried with the same request id through the other pod is
// stored once; invalid writes never reach the log.

#include "cluster/writer.h"

#include <gtest/gtest.h>

#include "cluster/applier.h"
#include "tests/cluster/cluster_fixture.h"

namespace ragd::cluster {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);

struct Pod {
  std::unique_ptr<index::Engine> engine;
  std::unique_ptr<JetStreamLog> log;
  std::unique_ptr<Applier> applier;
  std::unique_ptr<Writer> writer;
};

class WriterTest : public NatsTest {
 protected:
  Pod MakePod(const std::string& name,
              std::chrono::milliseconds request_timeout = kRequestTimeout) {
    Pod p;
    p.engine = OpenEngine(name);
    p.log = Connect(request_timeout);
    if (!p.engine || !p.log) return p;
    auto a = Applier::Start(p.log.get(), p.engine.get());
    EXPECT_TRUE(a.ok()) << a.status();
    if (!a.ok()) return p;
    p.applier = *std::move(a);
    WriterOptions o;
    o.pod_id = name;
    p.writer = std::make_unique<Writer>(p.log.get(), p.applier.get(), p.engine.get(), o);
    return p;
  }
};

TEST_F(WriterTest, WritesThroughEitherPodReachBoth) {
  Pod a = MakePod("a");
  Pod b = MakePod("b");
  ASSERT_TRUE(a.writer && b.writer);
  ASSERT_OK_AND_ASSIGN(uint64_t created,
                       a.writer->CreateCollection(Spec("docs"), "", absl::Now() + kWait));
  // The pod that took the call holds the collection when it answers.
  ASSERT_OK(a.engine->GetCollectionSpec("docs").status());
  EXPECT_EQ(a.writer->CreateCollection(Spec("docs"), "", absl::Now() + kWait).status().code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_OK(b.applier->WaitForCatalogSequence(created, absl::Now() + kWait));

  ASSERT_OK_AND_ASSIGN(index::WriteResult w1,
                       a.writer->Write("docs", {MakePoint("x", 1), MakePoint("y", 1)}, {}, {},
                                       "req-1", absl::Now() + kWait));
  EXPECT_EQ(w1.sequence, 1u);
  EXPECT_EQ(w1.applied, 2u);
  // Read-your-writes on the pod that took the write, without waiting.
  ASSERT_OK_AND_ASSIGN(auto got, a.engine->Get("docs", {"x", "y"}, false));
  EXPECT_EQ(got.size(), 2u);
  // The client did not see the answer and retries through the other pod: stored once.
  ASSERT_OK_AND_ASSIGN(index::WriteResult again,
                       b.writer->Write("docs", {MakePoint("x", 1), MakePoint("y", 1)}, {}, {},
                                       "req-1", absl::Now() + kWait));
  EXPECT_EQ(again.sequence, w1.sequence);
  ASSERT_OK_AND_ASSIGN(index::WriteResult w2, b.writer->Write("docs", {MakePoint("z", 2)}, {"x"},
                                                              {}, "", absl::Now() + kWait));
  EXPECT_EQ(w2.sequence, 2u);
  ASSERT_OK(a.applier->WaitForSequence("docs", w2.sequence, absl::Now() + kWait));
  for (index::Engine* e : {a.engine.get(), b.engine.get()}) {
    ASSERT_OK_AND_ASSIGN(auto pts, e->Get("docs", {"x", "y", "z"}, false));
    ASSERT_EQ(pts.size(), 2u);
    EXPECT_EQ(pts[0].id, "y");
    EXPECT_EQ(pts[1].id, "z");
  }

  // Invalid writes are refused before the log: nothing is published.
  index::Point bad = MakePoint("bad", 1);
  bad.vector.resize(3);
  EXPECT_EQ(a.writer->Write("docs", {bad}, {}, {}, "", absl::Now() + kWait).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.writer->Write("docs", {MakePoint("q", 1)}, {"q"}, {}, "", absl::Now() + kWait)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a.writer->Write("docs", {}, {}, {}, "", absl::Now() + kWait).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      a.writer->Write("nope", {MakePoint("q", 1)}, {}, {}, "", absl::Now() + kWait).status().code(),
      absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(uint64_t last, a.log->LastSequence("docs"));
  EXPECT_EQ(last, 2u);

  // Deleted through b: gone from both, and its stream too.
  ASSERT_OK_AND_ASSIGN(uint64_t deleted,
                       b.writer->DeleteCollection("docs", "", absl::Now() + kWait));
  EXPECT_EQ(b.engine->GetCollectionSpec("docs").status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK(a.applier->WaitForCatalogSequence(deleted, absl::Now() + kWait));
  EXPECT_EQ(a.engine->GetCollectionSpec("docs").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(a.log->LastSequence("docs").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(a.writer->DeleteCollection("docs", "", absl::Now() + kWait).status().code(),
            absl::StatusCode::kNotFound);
}

// A client behind a load balancer creates a collection through one pod and writes through
// another at once. Pod b starts after the create, so its applier is still replaying the catalog
// when the write comes: the write waits for the catalog to catch up instead of answering
// NOT_FOUND. A collection that exists nowhere is still NOT_FOUND.
TEST_F(WriterTest, WriteThroughAPodThatHasNotAppliedTheCreateYetWaitsForTheCatalog) {
  Pod a = MakePod("a");
  ASSERT_TRUE(a.writer);
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(a.writer->CreateCollection(Spec("docs" + std::to_string(i)), "", absl::Now() + kWait)
                  .status());
  }
  Pod b = MakePod("b");
  ASSERT_TRUE(b.writer);
  ASSERT_OK_AND_ASSIGN(index::WriteResult w,
                       b.writer->Write("docs2", {MakePoint("x", 1)}, {}, {}, "late-1",
                                       absl::Now() + kWait));
  EXPECT_EQ(w.sequence, 1u);
  ASSERT_OK_AND_ASSIGN(auto got, b.engine->Get("docs2", {"x"}, false));
  EXPECT_EQ(got.size(), 1u);
  EXPECT_EQ(b.writer->Write("nowhere", {MakePoint("x", 1)}, {}, {}, "", absl::Now() + kWait)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  // Deleting through a pod right after the create went through another one works the same way.
  ASSERT_OK(a.writer->CreateCollection(Spec("fresh"), "", absl::Now() + kWait).status());
  ASSERT_OK(b.writer->DeleteCollection("fresh", "", absl::Now() + kWait).status());
}

TEST_F(WriterTest, LogDownIsUnavailableAfterTheDeadline) {
  // A publish in flight when the server dies waits up to the log's request_timeout before the
  // writer looks at its deadline: 2 s here, so that the answer comes well within the 5 s bound.
  Pod a = MakePod("a", std::chrono::seconds(2));
  ASSERT_TRUE(a.writer);
  ASSERT_OK(a.writer->CreateCollection(Spec("docs"), "", absl::Now() + kWait).status());
  nats_->Kill();
  const absl::Time start = absl::Now();
  auto r = a.writer->Write("docs", {MakePoint("x", 1)}, {}, {}, "req-down",
                           start + absl::Milliseconds(800));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  // Back up (same port, same store): the same request id goes through, once.
  ASSERT_OK(nats_->Restart());
  ASSERT_OK_AND_ASSIGN(index::WriteResult w, a.writer->Write("docs", {MakePoint("x", 1)}, {}, {},
                                                             "req-down", absl::Now() + kWait));
  EXPECT_EQ(w.sequence, 1u);
}

}  // namespace
}  // namespace ragd::cluster
