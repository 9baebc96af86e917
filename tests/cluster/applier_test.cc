// Engine replicas fed by the Applier from a real nats-server: replicas converge to identical
// points, a retried publish is applied once, a replica SIGKILLed mid-stream resumes at its
// last applied sequence + 1, a malformed entry is reported and skipped, waits are bounded.

#include "cluster/applier.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <thread>

#include "cluster/router.h"
#include "tests/cluster/cluster_fixture.h"

namespace ragd::cluster {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);

class ApplierTest : public NatsTest {
 protected:
  // Publishes the catalog create and makes the collection's stream, as a writer pod will.
  // Message ids are per request: a second create of the same name needs its own.
  void CreateCollection(JetStreamLog& log, const index::CollectionSpec& spec,
                        const std::string& msg_id = "") {
    ASSERT_OK(log.EnsureCatalogStream());
    ASSERT_OK(log.EnsureCollectionStream(spec.name));
    ASSERT_OK(log.PublishCatalog(CreateEntry(spec), msg_id.empty() ? "create-" + spec.name : msg_id)
                  .status());
  }

  // Every point of `ids` as the engine holds it, in order ("" for a missing one).
  static std::vector<std::string> Dump(index::Engine& e, const std::string& collection,
                                       const std::vector<std::string>& ids) {
    auto got = e.Get(collection, ids, /*with_vectors=*/true);
    EXPECT_TRUE(got.ok()) << got.status();
    std::vector<std::string> out;
    if (!got.ok()) return out;
    for (const auto& p : *got) {
      std::string s = p.id + "|" + p.text + "|" + p.document_id + "|";
      s.append(reinterpret_cast<const char*>(p.vector.data()), p.vector.size() * sizeof(float));
      for (const auto& [k, v] : p.metadata) {
        s += "|" + k + "=";
        if (const auto* i = std::get_if<int64_t>(&v)) s += std::to_string(*i);
      }
      out.push_back(std::move(s));
    }
    return out;
  }
};

TEST_F(ApplierTest, TwoReplicasConvergeToIdenticalPoints) {
  auto writer = Connect();
  ASSERT_NE(writer, nullptr);
  auto log_a = Connect();
  auto log_b = Connect();
  auto engine_a = OpenEngine("a");
  auto engine_b = OpenEngine("b");
  ASSERT_TRUE(log_a && log_b && engine_a && engine_b);
  ASSERT_OK_AND_ASSIGN(auto applier_a, Applier::Start(log_a.get(), engine_a.get()));
  ASSERT_NO_FATAL_FAILURE(CreateCollection(*writer, Spec("docs")));
  std::vector<std::string> ids;
  uint64_t last = 0;
  for (int b = 0; b < 20; ++b) {
    std::vector<index::Point> points;
    for (int i = 0; i < 10; ++i) {
      const std::string id = "p" + std::to_string((b * 7 + i) % 60);
      points.push_back(MakePoint(id, b));
    }
    // Deduplicate ids within the batch (the engine requires unique ids per batch).
    std::map<std::string, index::Point> unique;
    for (auto& p : points) unique.insert_or_assign(p.id, p);
    points.clear();
    for (auto& [id, p] : unique) points.push_back(p);
    std::vector<std::string> deletes;
    if (b % 5 == 4) deletes.push_back("p" + std::to_string(b));  // not upserted in this batch
    if (!deletes.empty()) {
      for (auto it = points.begin(); it != points.end();) {
        it = it->id == deletes[0] ? points.erase(it) : it + 1;
      }
    }
    ASSERT_OK_AND_ASSIGN(PublishAck ack, writer->Publish("docs", UpsertEntry(points, deletes),
                                                         "batch-" + std::to_string(b)));
    last = ack.sequence;
  }
  for (int i = 0; i < 60; ++i) ids.push_back("p" + std::to_string(i));
  // Replica b starts late: it catches up from the log alone.
  ASSERT_OK_AND_ASSIGN(auto applier_b, Applier::Start(log_b.get(), engine_b.get()));
  const absl::Time deadline = absl::Now() + kWait;
  ASSERT_OK(applier_a->WaitForSequence("docs", last, deadline));
  ASSERT_OK(applier_b->WaitForSequence("docs", last, deadline));
  EXPECT_EQ(last, 20u);
  ASSERT_OK_AND_ASSIGN(auto info_a, engine_a->GetCollection("docs"));
  ASSERT_OK_AND_ASSIGN(auto info_b, engine_b->GetCollection("docs"));
  EXPECT_EQ(info_a.last_sequence, last);
  EXPECT_EQ(info_b.last_sequence, last);
  EXPECT_EQ(info_a.points, info_b.points);
  EXPECT_GT(info_a.points, 0u);
  const auto dump_a = Dump(*engine_a, "docs", ids);
  EXPECT_EQ(dump_a, Dump(*engine_b, "docs", ids));
  EXPECT_EQ(dump_a.size(), info_a.points);
  // And the same search answers on both: the same scores (ids may differ among equal scores:
  // several points share a vector, and index construction may order ties differently).
  index::SearchRequest q;
  q.collection = "docs";
  q.query = MakePoint("p3", 19).vector;
  q.k = 5;
  ASSERT_OK_AND_ASSIGN(auto ra, engine_a->Search(q));
  ASSERT_OK_AND_ASSIGN(auto rb, engine_b->Search(q));
  ASSERT_EQ(ra.hits.size(), rb.hits.size());
  for (size_t i = 0; i < ra.hits.size(); ++i) EXPECT_EQ(ra.hits[i].score, rb.hits[i].score);
  EXPECT_EQ(applier_a->stats().malformed, 0u);
  EXPECT_EQ(applier_b->stats().rejected, 0u);
}

// Two shard groups (cluster/placement.h): each replica holds only its group's shards of the
// same log, together every point once; a batch with nothing for a group still advances that
// replica's sequence, so a restart resumes after it, and an invalid batch is refused by both.
TEST_F(ApplierTest, ShardGroupsHoldDisjointHalvesAndAdvanceAlike) {
  auto writer = Connect();
  auto log_0 = Connect();
  auto log_1 = Connect();
  auto engine_0 = OpenEngine("g0");
  auto engine_1 = OpenEngine("g1");
  ASSERT_TRUE(writer && log_0 && log_1 && engine_0 && engine_1);
  ApplierOptions o0, o1;
  o0.placement = Placement{2, 0};
  o1.placement = Placement{2, 1};
  ASSERT_OK_AND_ASSIGN(auto applier_0, Applier::Start(log_0.get(), engine_0.get(), o0));
  ASSERT_OK_AND_ASSIGN(auto applier_1, Applier::Start(log_1.get(), engine_1.get(), o1));
  index::CollectionSpec spec = Spec("docs");
  spec.shards = 4;
  ASSERT_NO_FATAL_FAILURE(CreateCollection(*writer, spec));
  std::vector<index::Point> all, only_group1;
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i) {
    const std::string id = "p" + std::to_string(i);
    ids.push_back(id);
    all.push_back(MakePoint(id, i));
    if (index::ShardOfId(id, 4) % 2 == 1 && only_group1.size() < 3) only_group1.push_back(all.back());
  }
  ASSERT_OK(writer->Publish("docs", UpsertEntry(all), "all").status());
  ASSERT_OK(writer->Publish("docs", UpsertEntry(only_group1), "g1").status());
  index::Point bad = MakePoint("p0", 99);
  bad.vector.push_back(1);  // wrong dimension: every replica refuses the whole batch
  ASSERT_OK_AND_ASSIGN(PublishAck last,
                       writer->Publish("docs", UpsertEntry({bad, MakePoint("zz", 1)}), "bad"));
  const absl::Time deadline = absl::Now() + kWait;
  ASSERT_OK(applier_0->WaitForSequence("docs", last.sequence, deadline));
  ASSERT_OK(applier_1->WaitForSequence("docs", last.sequence, deadline));
  ASSERT_OK_AND_ASSIGN(auto info_0, engine_0->GetCollection("docs"));
  ASSERT_OK_AND_ASSIGN(auto info_1, engine_1->GetCollection("docs"));
  EXPECT_EQ(info_0.points + info_1.points, 40u);
  EXPECT_GT(info_0.points, 0u);
  EXPECT_GT(info_1.points, 0u);
  EXPECT_EQ(info_0.last_sequence, 2u);  // entry 2 held nothing for group 0: recorded anyway
  EXPECT_EQ(info_1.last_sequence, 2u);  // entry 3 refused by both
  EXPECT_EQ(applier_0->stats().rejected, 1u);
  EXPECT_EQ(applier_1->stats().rejected, 1u);
  ASSERT_OK_AND_ASSIGN(auto got_0, engine_0->Get("docs", ids, false));
  ASSERT_OK_AND_ASSIGN(auto got_1, engine_1->Get("docs", ids, false));
  for (const auto& p : got_0) EXPECT_EQ(index::ShardOfId(p.id, 4) % 2, 0u) << p.id;
  for (const auto& p : got_1) EXPECT_EQ(index::ShardOfId(p.id, 4) % 2, 1u) << p.id;
}

TEST(PlacementTest, GroupsShardsAndOrdinals) {
  Placement p{3, 1};
  EXPECT_OK(p.Validate());
  EXPECT_EQ(p.ShardsOf(1, 8), (std::vector<uint32_t>{1, 4, 7}));
  EXPECT_EQ(p.ShardsOf(2, 2), (std::vector<uint32_t>{}));
  EXPECT_TRUE(p.Holds(4));
  EXPECT_FALSE(p.Holds(5));
  EXPECT_EQ(Placement({2, 2}).Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Placement({0, 0}).Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*GroupFromPodId("ragd-5", 2), 1u);
  EXPECT_EQ(*GroupFromPodId("ragd-12", 4), 0u);
  EXPECT_EQ(GroupFromPodId("ragd", 2).status().code(), absl::StatusCode::kInvalidArgument);
  RouterOptions o;
  o.peers = {"10.0.0.1:50051", "dns:ragd-headless.ns.svc:50051", "[::1]:7"};
  EXPECT_OK(o.Validate());
  o.peers = {"dns:ragd-headless"};
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  o.peers = {"host:0"};
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ApplierTest, RetriedPublishIsAppliedOnce) {
  auto writer = Connect();
  auto log = Connect();
  auto engine = OpenEngine("a");
  ASSERT_TRUE(writer && log && engine);
  ASSERT_NO_FATAL_FAILURE(CreateCollection(*writer, Spec("docs")));
  ASSERT_OK_AND_ASSIGN(PublishAck first,
                       writer->Publish("docs", UpsertEntry({MakePoint("x", 1)}), "req-42"));
  // The client did not see the ack and retries with the same request id.
  ASSERT_OK_AND_ASSIGN(PublishAck retry,
                       writer->Publish("docs", UpsertEntry({MakePoint("x", 1)}), "req-42"));
  EXPECT_EQ(retry.sequence, first.sequence);
  EXPECT_TRUE(retry.duplicate);
  // Even a retry carrying other bytes is not stored again.
  ASSERT_OK_AND_ASSIGN(PublishAck other,
                       writer->Publish("docs", UpsertEntry({MakePoint("x", 2)}), "req-42"));
  EXPECT_EQ(other.sequence, first.sequence);
  // The next batch carries an aux record (e.g. the embedding cache): it lands with the points.
  PointWrite with_aux;
  with_aux.upserts = {MakePoint("y", 1)};
  with_aux.aux = {{"embedding-cache", "key-y", "cached"}};
  ASSERT_OK_AND_ASSIGN(PublishAck next,
                       writer->Publish("docs", Encode(LogEntry{"req-43", with_aux}), "req-43"));
  EXPECT_EQ(next.sequence, first.sequence + 1);
  ASSERT_OK_AND_ASSIGN(auto applier, Applier::Start(log.get(), engine.get()));
  ASSERT_OK(applier->WaitForSequence("docs", next.sequence, absl::Now() + kWait));
  ASSERT_OK_AND_ASSIGN(auto info, engine->GetCollection("docs"));
  EXPECT_EQ(info.last_sequence, 2u);
  EXPECT_EQ(info.points, 2u);
  ASSERT_OK_AND_ASSIGN(auto x, engine->Get("docs", {"x"}, false));
  ASSERT_EQ(x.size(), 1u);
  EXPECT_EQ(x[0].text, "x v1");
  ASSERT_OK_AND_ASSIGN(auto aux, engine->GetAux("embedding-cache", "key-y"));
  ASSERT_TRUE(aux.has_value());
  EXPECT_EQ(*aux, "cached");
  // One create and two batches.
  EXPECT_EQ(applier->stats().applied, 3u);
}

TEST_F(ApplierTest, MalformedEntryIsReportedAndSkipped) {
  auto writer = Connect();
  auto log = Connect();
  auto engine = OpenEngine("a");
  ASSERT_TRUE(writer && log && engine);
  ASSERT_NO_FATAL_FAILURE(CreateCollection(*writer, Spec("docs")));
  ASSERT_OK(writer->Publish("docs", UpsertEntry({MakePoint("a", 1)}), "r1").status());
  ASSERT_OK(writer->Publish("docs", "\xff\xfe garbage, not a LogEntry", "r2").status());
  // Well-formed but refused by the engine (wrong dimension): every replica refuses it alike.
  index::Point wrong = MakePoint("w", 1);
  wrong.vector.resize(3);
  ASSERT_OK(writer->Publish("docs", UpsertEntry({wrong}), "r3").status());
  // A catalog operation on a collection stream.
  ASSERT_OK(writer->Publish("docs", CreateEntry(Spec("other")), "r4").status());
  ASSERT_OK_AND_ASSIGN(PublishAck last,
                       writer->Publish("docs", UpsertEntry({MakePoint("b", 1)}), "r5"));
  // And garbage on the catalog stream.
  ASSERT_OK(writer->PublishCatalog("junk", "c-junk").status());
  ASSERT_OK_AND_ASSIGN(auto applier, Applier::Start(log.get(), engine.get()));
  ASSERT_OK(applier->WaitForSequence("docs", last.sequence, absl::Now() + kWait));
  ASSERT_OK(applier->WaitForCatalogSequence(2, absl::Now() + kWait));
  const ApplierStats s = applier->stats();
  EXPECT_EQ(s.malformed, 3u) << s.last_error;
  EXPECT_EQ(s.rejected, 1u) << s.last_error;
  EXPECT_FALSE(s.last_error.empty());
  ASSERT_OK_AND_ASSIGN(auto points, engine->Get("docs", {"a", "w", "b"}, false));
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].id, "a");
  EXPECT_EQ(points[1].id, "b");
  ASSERT_OK_AND_ASSIGN(auto info, engine->GetCollection("docs"));
  EXPECT_EQ(info.last_sequence, last.sequence);
  EXPECT_FALSE(engine->GetCollection("other").ok());
}

TEST_F(ApplierTest, WaitForSequenceDeadlineExceeded) {
  auto writer = Connect();
  auto log = Connect();
  auto engine = OpenEngine("a");
  ASSERT_TRUE(writer && log && engine);
  ASSERT_NO_FATAL_FAILURE(CreateCollection(*writer, Spec("docs")));
  ASSERT_OK(writer->Publish("docs", UpsertEntry({MakePoint("a", 1)}), "r1").status());
  ASSERT_OK_AND_ASSIGN(auto applier, Applier::Start(log.get(), engine.get()));
  ASSERT_OK(applier->WaitForSequence("docs", 1, absl::Now() + kWait));
  const absl::Time start = absl::Now();
  absl::Status st = applier->WaitForSequence("docs", 2, start + absl::Milliseconds(300));
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(st.code(), absl::StatusCode::kDeadlineExceeded) << st;
  EXPECT_GE(took, absl::Milliseconds(290));
  EXPECT_LT(took, absl::Seconds(3));
  st = applier->WaitForSequence("nope", 1, absl::Now() + absl::Milliseconds(100));
  EXPECT_EQ(st.code(), absl::StatusCode::kDeadlineExceeded) << st;
  // A write that comes during the wait ends it.
  std::thread late([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_OK(writer->Publish("docs", UpsertEntry({MakePoint("b", 1)}), "r2").status());
  });
  EXPECT_OK(applier->WaitForSequence("docs", 2, absl::Now() + kWait));
  late.join();
  applier->Stop();
  st = applier->WaitForSequence("docs", 3, absl::Now() + kWait);
  EXPECT_EQ(st.code(), absl::StatusCode::kCancelled) << st;
}

TEST_F(ApplierTest, CatalogCreatesAndDeletesCollections) {
  auto writer = Connect();
  auto log = Connect();
  auto engine = OpenEngine("a");
  ASSERT_TRUE(writer && log && engine);
  ASSERT_NO_FATAL_FAILURE(CreateCollection(*writer, Spec("one")));
  ASSERT_OK(writer->Publish("one", UpsertEntry({MakePoint("a", 1)}), "r1").status());
  ASSERT_OK_AND_ASSIGN(auto applier, Applier::Start(log.get(), engine.get()));
  ASSERT_OK(applier->WaitForSequence("one", 1, absl::Now() + kWait));
  ASSERT_OK_AND_ASSIGN(
      PublishAck del,
      writer->PublishCatalog(Encode(LogEntry{"t", DeleteCollection{"one"}}), "del-1"));
  ASSERT_OK(writer->DeleteCollectionStream("one"));
  ASSERT_OK(applier->WaitForCatalogSequence(del.sequence, absl::Now() + kWait));
  EXPECT_EQ(engine->GetCollection("one").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(applier->Position("one").status().code(), absl::StatusCode::kNotFound);
  // Recreated under the same name: a new stream from sequence 1.
  ASSERT_NO_FATAL_FAILURE(CreateCollection(*writer, Spec("one"), "create-one-again"));
  ASSERT_OK(writer->Publish("one", UpsertEntry({MakePoint("z", 1)}), "r1b").status());
  ASSERT_OK(applier->WaitForSequence("one", 1, absl::Now() + kWait));
  ASSERT_OK_AND_ASSIGN(auto pts, engine->Get("one", {"a", "z"}, false));
  ASSERT_EQ(pts.size(), 1u);
  EXPECT_EQ(pts[0].id, "z");
  // The catalog position survives a restart: the old create/delete are not replayed. The
  // position is stored after the collection's worker starts, so the point above can be applied
  // before it: wait for the third catalog entry (create, delete, create again) first.
  ASSERT_OK(applier->WaitForCatalogSequence(del.sequence + 1, absl::Now() + kWait));
  const uint64_t catalog = applier->CatalogPosition();
  EXPECT_EQ(catalog, del.sequence + 1);
  applier.reset();
  ASSERT_OK_AND_ASSIGN(applier, Applier::Start(log.get(), engine.get()));
  EXPECT_EQ(applier->CatalogPosition(), catalog);
  ASSERT_OK(applier->WaitForSequence("one", 1, absl::Now() + kWait));
  ASSERT_OK_AND_ASSIGN(pts, engine->Get("one", {"z"}, false));
  EXPECT_EQ(pts.size(), 1u);
}

// The replica runs in its own process (cluster_replica) and is SIGKILLed mid-stream; its data
// directory is then opened here and fed on: it resumes at the last applied sequence + 1, with
// no gap (every batch's effect is there) and no double apply (the applier applies exactly the
// entries after it, and a re-applied old batch would have rolled "counter" back).
TEST_F(ApplierTest, ReplicaKilledMidStreamResumesWithoutGapOrDoubleApply) {
  auto writer = Connect();
  ASSERT_NE(writer, nullptr);
  ASSERT_NO_FATAL_FAILURE(CreateCollection(*writer, Spec("docs")));
  constexpr int kBatches = 400;
  for (int b = 1; b <= kBatches; ++b) {
    // Each batch rewrites "counter" (so an old batch applied again would show) and adds one
    // point of its own.
    index::Point counter = MakePoint("counter", b);
    ASSERT_OK(writer
                  ->Publish("docs", UpsertEntry({counter, MakePoint("p" + std::to_string(b), b)}),
                            "b-" + std::to_string(b))
                  .status());
  }
  const std::string data_dir = (tmp_.path() / "replica").string();
  const std::string out = (tmp_.path() / "replica.out").string();
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    execl(RAGD_CLUSTER_REPLICA_BINARY, RAGD_CLUSTER_REPLICA_BINARY, data_dir.c_str(),
          nats_->url().c_str(), "docs", static_cast<char*>(nullptr));
    _exit(127);
  }
  ASSERT_GT(pid, 0);
  // Kill it once it has applied some batches, but (most likely) not all.
  uint64_t seen = 0;
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline && seen < 20) {
    std::ifstream f(out);
    std::string line;
    while (std::getline(f, line)) {
      if (line.rfind("position ", 0) == 0) seen = std::stoull(line.substr(9));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  kill(pid, SIGKILL);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  ASSERT_GE(seen, 20u) << "the replica did not apply in time";

  auto engine = index::Engine::Open(EngineOptions(data_dir));
  ASSERT_OK(engine.status());
  ASSERT_OK_AND_ASSIGN(auto info, (*engine)->GetCollection("docs"));
  const uint64_t resumed_from = info.last_sequence;
  std::cout << "replica killed after applying " << resumed_from << " of " << kBatches
            << " batches\n";
  EXPECT_GE(resumed_from, seen);  // everything it reported applied is durable
  ASSERT_OK_AND_ASSIGN(auto before, (*engine)->Get("docs", {"counter"}, false));
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].text, "counter v" + std::to_string(resumed_from));

  auto log = Connect();
  ASSERT_NE(log, nullptr);
  ASSERT_OK_AND_ASSIGN(auto applier, Applier::Start(log.get(), engine->get()));
  ASSERT_OK(applier->WaitForSequence("docs", kBatches, absl::Now() + kWait));
  // Exactly the batches after the last applied one were applied here.
  EXPECT_EQ(applier->stats().applied, kBatches - resumed_from);
  ASSERT_OK_AND_ASSIGN(info, (*engine)->GetCollection("docs"));
  EXPECT_EQ(info.last_sequence, static_cast<uint64_t>(kBatches));
  EXPECT_EQ(info.points, static_cast<uint64_t>(kBatches + 1));
  ASSERT_OK_AND_ASSIGN(auto counter, (*engine)->Get("docs", {"counter"}, false));
  ASSERT_EQ(counter.size(), 1u);
  EXPECT_EQ(counter[0].text, "counter v" + std::to_string(kBatches));
  std::vector<std::string> ids;
  for (int b = 1; b <= kBatches; ++b) ids.push_back("p" + std::to_string(b));
  ASSERT_OK_AND_ASSIGN(auto all, (*engine)->Get("docs", ids, false));
  EXPECT_EQ(all.size(), static_cast<size_t>(kBatches));
}

}  // namespace
}  // namespace ragd::cluster
