// The engine end to end, in process: collections, the sequenced write path, validation,
// shards, recovery from snapshots and from storage alone,
// compaction, and concurrent readers and writers.

#include "index/engine/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>
#include <thread>

#include "index/engine/keys.h"
#include "index/storage/store.h"
#include "tests/index/engine_test_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace ragd::index {
namespace {

using namespace engine_testing;

TEST_F(EngineTest, CollectionLifecycleAndErrors) {
  ASSERT_OK(engine_->CreateCollection(Spec("kb")));
  EXPECT_EQ(engine_->CreateCollection(Spec("kb")).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(engine_->CreateCollection(Spec("bad name!")).code(),
            absl::StatusCode::kInvalidArgument);
  auto zero_dim = Spec("z");
  zero_dim.dimension = 0;
  auto st = engine_->CreateCollection(zero_dim);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("dimension"), std::string::npos) << st;
  auto bad_faiss = Spec("f", IndexKind::kFaiss);
  bad_faiss.index.faiss_factory = "NoSuchIndex99";
  EXPECT_EQ(engine_->CreateCollection(bad_faiss).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_OK(engine_->CreateCollection(Spec("a-second_one", IndexKind::kFlat, 2)));
  auto list = engine_->ListCollections();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].spec.name, "a-second_one");
  EXPECT_EQ(list[0].spec.shards, 2u);
  ASSERT_OK_AND_ASSIGN(auto info, engine_->GetCollection("kb"));
  EXPECT_EQ(info.spec.dimension, kDim);
  EXPECT_EQ(info.points, 0u);
  EXPECT_GT(info.created_at_unix_ms, 0);
  EXPECT_EQ(engine_->GetCollection("nope").status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto spec, engine_->GetCollectionSpec("a-second_one"));
  EXPECT_EQ(spec.name, "a-second_one");
  EXPECT_EQ(spec.shards, 2u);
  EXPECT_EQ(spec.index.kind, IndexKind::kFlat);
  EXPECT_EQ(engine_->GetCollectionSpec("nope").status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK(engine_->DeleteCollection("kb"));
  EXPECT_EQ(engine_->GetCollectionSpec("kb").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(engine_->DeleteCollection("kb").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(engine_->Upsert("kb", {}).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EngineTest, UpsertValidatesWholeBatchBeforeWriting) {
  ASSERT_OK(engine_->CreateCollection(Spec("kb")));
  std::mt19937 rng(1);
  auto good = MakePoint(rng, 1);
  struct Case {
    std::string field;
    std::function<void(Point&)> damage;
  };
  std::vector<Case> cases = {
      {"points[1].vector", [](Point& p) { p.vector.pop_back(); }},
      {"points[1].vector", [](Point& p) { p.vector[3] = std::nanf(""); }},
      {"points[1].vector", [](Point& p) { p.vector[0] = INFINITY; }},
      {"points[1].vector", [](Point& p) { std::fill(p.vector.begin(), p.vector.end(), 0.f); }},
      {"points[1].id", [](Point& p) { p.id.clear(); }},
      {"points[1].id", [](Point& p) { p.id = std::string(257, 'x'); }},
      {"points[1].id", [](Point& p) { p.id = "p1"; }},  // duplicate of points[0]
      {"points[1].text", [](Point& p) { p.text = std::string((1 << 20) + 1, 'a'); }},
      {"points[1].text", [](Point& p) { p.text = "bad \xC3\x28 utf8"; }},
      {"points[1].metadata", [](Point& p) { p.metadata["x"] = std::nan(""); }},
  };
  for (const auto& c : cases) {
    Point bad = MakePoint(rng, 2);
    c.damage(bad);
    auto r = engine_->Upsert("kb", {good, bad});
    ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_NE(r.status().message().find(c.field), std::string::npos) << r.status();
  }
  EXPECT_EQ(engine_->Upsert("kb", {}).status().code(), absl::StatusCode::kInvalidArgument);
  // Nothing of the rejected batches was written.
  ASSERT_OK_AND_ASSIGN(auto n, engine_->Count("kb", std::nullopt));
  EXPECT_EQ(n, 0u);
  ASSERT_OK_AND_ASSIGN(auto info, engine_->GetCollection("kb"));
  EXPECT_EQ(info.last_sequence, 0u);
}

TEST_F(EngineTest, UpsertGetSearchReplaceDelete) {
  ASSERT_OK(engine_->CreateCollection(Spec("kb")));
  auto pts = Fill("kb", 300);
  ASSERT_OK_AND_ASSIGN(auto got, engine_->Get("kb", {"p7", "missing", "p3"}, true));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, "p7");
  EXPECT_EQ(got[0].text, pts[7].text);
  EXPECT_EQ(got[0].document_id, "doc7");
  EXPECT_EQ(got[0].metadata, pts[7].metadata);
  ASSERT_EQ(got[0].vector.size(), kDim);
  auto n7 = Normalized(pts[7].vector);  // cosine vectors are stored normalised
  for (size_t i = 0; i < kDim; ++i) EXPECT_NEAR(got[0].vector[i], n7[i], 1e-5);

  SearchRequest req;
  req.collection = "kb";
  req.query = pts[42].vector;
  req.k = 5;
  ASSERT_OK_AND_ASSIGN(auto r, engine_->Search(req));
  ASSERT_FALSE(r.hits.empty());
  EXPECT_EQ(r.hits[0].point.id, "p42");
  EXPECT_NEAR(r.hits[0].score, 1.0, 1e-4);
  EXPECT_EQ(r.hits[0].point.text, pts[42].text);
  for (size_t i = 1; i < r.hits.size(); ++i) EXPECT_GE(r.hits[i - 1].score, r.hits[i].score);

  // Replace p42 with the vector of p100 and new text: the old vector no longer finds it.
  Point repl = pts[42];
  repl.vector = pts[100].vector;
  repl.text = "replaced";
  ASSERT_OK(engine_->Upsert("kb", {repl}));
  ASSERT_OK_AND_ASSIGN(r, engine_->Search(req));
  EXPECT_NE(r.hits[0].point.id, "p42");
  req.query = pts[100].vector;
  ASSERT_OK_AND_ASSIGN(r, engine_->Search(req));
  auto ids = Ids(r);
  EXPECT_NE(std::find(ids.begin(), ids.end(), "p42"), ids.end());
  ASSERT_OK_AND_ASSIGN(auto n, engine_->Count("kb", std::nullopt));
  EXPECT_EQ(n, 300u);

  ASSERT_OK_AND_ASSIGN(auto del, engine_->Delete("kb", {"p42", "p100", "never"}));
  EXPECT_EQ(del.applied, 2u);
  ASSERT_OK_AND_ASSIGN(r, engine_->Search(req));
  for (const auto& h : r.hits) {
    EXPECT_NE(h.point.id, "p42");
    EXPECT_NE(h.point.id, "p100");
  }
  ASSERT_OK_AND_ASSIGN(got, engine_->Get("kb", {"p42"}, false));
  EXPECT_TRUE(got.empty());
  ASSERT_OK_AND_ASSIGN(auto info, engine_->GetCollection("kb"));
  EXPECT_EQ(info.points, 298u);
  EXPECT_EQ(info.deleted_points, 3u);  // the replaced and the two deleted slots
  EXPECT_GT(info.index_bytes, 0u);
  EXPECT_GT(info.storage_bytes, 0u);
}

TEST_F(EngineTest, SearchValidation) {
  ASSERT_OK(engine_->CreateCollection(Spec("kb")));
  Fill("kb", 10);
  SearchRequest req;
  req.collection = "kb";
  req.query = std::vector<float>(kDim, 1.f);
  req.k = 0;
  EXPECT_EQ(engine_->Search(req).status().code(), absl::StatusCode::kInvalidArgument);
  req.k = 100000;
  EXPECT_EQ(engine_->Search(req).status().code(), absl::StatusCode::kInvalidArgument);
  req.k = 3;
  req.query.pop_back();
  auto r = engine_->Search(req);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("dimension"), std::string::npos);
  req.query = std::vector<float>(kDim, NAN);
  EXPECT_EQ(engine_->Search(req).status().code(), absl::StatusCode::kInvalidArgument);
  req.query = std::vector<float>(kDim, 1.f);
  req.filter = Filter::And({});
  EXPECT_EQ(engine_->Search(req).status().code(), absl::StatusCode::kInvalidArgument);
  req.filter.reset();
  req.collection = "nope";
  EXPECT_EQ(engine_->Search(req).status().code(), absl::StatusCode::kNotFound);
  req.collection = "kb";
  req.min_score = 2.0f;  // cosine never exceeds 1
  ASSERT_OK_AND_ASSIGN(auto res, engine_->Search(req));
  EXPECT_TRUE(res.hits.empty());
}

// Filtered search returns the exact top-k among matching points in every plan.
TEST_F(EngineTest, SequencedBatchesAreIdempotentOnReplay) {
  ASSERT_OK(engine_->CreateCollection(Spec("kb")));
  std::mt19937 rng(3);
  WriteBatch b1{"kb", 1, {MakePoint(rng, 1), MakePoint(rng, 2)}, {}};
  WriteBatch b2{"kb", 2, {MakePoint(rng, 3)}, {"p1"}};
  ASSERT_OK_AND_ASSIGN(auto r1, engine_->Apply(b1));
  EXPECT_EQ(r1.applied, 2u);
  ASSERT_OK_AND_ASSIGN(auto r2, engine_->Apply(b2));
  EXPECT_EQ(r2.applied, 2u);
  // Replaying both (as a pod replaying the log would) changes nothing.
  ASSERT_OK_AND_ASSIGN(auto again, engine_->Apply(b1));
  EXPECT_EQ(again.applied, 0u);
  ASSERT_OK_AND_ASSIGN(again, engine_->Apply(b2));
  EXPECT_EQ(again.applied, 0u);
  ASSERT_OK_AND_ASSIGN(auto got, engine_->Get("kb", {"p1", "p2", "p3"}, false));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, "p2");
  ASSERT_OK_AND_ASSIGN(auto info, engine_->GetCollection("kb"));
  EXPECT_EQ(info.last_sequence, 2u);
  EXPECT_EQ(info.points, 2u);
  // Local writes continue the same sequence, and it survives a restart.
  ASSERT_OK_AND_ASSIGN(auto w, engine_->Upsert("kb", {MakePoint(rng, 4)}));
  EXPECT_EQ(w.sequence, 3u);
  Restart();
  ASSERT_OK_AND_ASSIGN(info, engine_->GetCollection("kb"));
  EXPECT_EQ(info.last_sequence, 3u);
  ASSERT_OK_AND_ASSIGN(again, engine_->Apply(b2));
  EXPECT_EQ(again.applied, 0u);
  WriteBatch conflicting{"kb", 9, {MakePoint(rng, 5)}, {"p5"}};
  EXPECT_EQ(engine_->Apply(conflicting).status().code(), absl::StatusCode::kInvalidArgument);
}

// A batch of the log carries the aux records its writer stored with the points (e.g. the
// embedding cache): applied in the same atomic batch, not again on a replay.
TEST_F(EngineTest, AppliedBatchesCarryAuxRecords) {
  ASSERT_OK(engine_->CreateCollection(Spec("kb")));
  std::mt19937 rng(4);
  WriteBatch b{"kb", 1, {MakePoint(rng, 1)}, {}, {{"cache", "k1", "v1"}}};
  ASSERT_OK(engine_->Apply(b).status());
  ASSERT_OK_AND_ASSIGN(auto v, engine_->GetAux("cache", "k1"));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, "v1");
  ASSERT_OK(engine_->DeleteAux("cache", {"k1"}));
  ASSERT_OK(engine_->Apply(b).status());  // a replay: nothing is written
  ASSERT_OK_AND_ASSIGN(v, engine_->GetAux("cache", "k1"));
  EXPECT_FALSE(v.has_value());
  WriteBatch bad{"kb", 2, {MakePoint(rng, 2)}, {}, {{"", "k", "v"}}};
  EXPECT_EQ(engine_->Apply(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(EngineTest, ShardsRouteAndMergeTopK) {
  ASSERT_OK(engine_->CreateCollection(Spec("s", IndexKind::kFlat, 4)));
  ASSERT_OK(engine_->CreateCollection(Spec("one", IndexKind::kFlat, 1)));
  auto pts = Fill("s", 500, 11);
  Fill("one", 500, 11);
  std::mt19937 rng(5);
  for (int q = 0; q < 10; ++q) {
    SearchRequest req;
    req.collection = "s";
    req.query = RandomVector(rng);
    req.k = 15;
    ASSERT_OK_AND_ASSIGN(auto sharded, engine_->Search(req));
    req.collection = "one";
    ASSERT_OK_AND_ASSIGN(auto single, engine_->Search(req));
    EXPECT_EQ(Ids(sharded), Ids(single));
    EXPECT_EQ(Ids(sharded), BruteForce(pts, req.query, 15, [](const Point&) { return true; }));
  }
  ASSERT_OK_AND_ASSIGN(auto got, engine_->Get("s", {"p499", "p0"}, false));
  EXPECT_EQ(got.size(), 2u);
  ASSERT_OK_AND_ASSIGN(auto n, engine_->Count("s", std::nullopt));
  EXPECT_EQ(n, 500u);
}

TEST_F(EngineTest, RestartFromSnapshotKeepsEverything) {
  for (IndexKind kind : {IndexKind::kHnsw, IndexKind::kFaiss, IndexKind::kFlat}) {
    ASSERT_OK(engine_->CreateCollection(Spec("r" + std::to_string(static_cast<int>(kind)), kind, 2)));
  }
  std::map<std::string, std::vector<Point>> data;
  for (const auto& info : engine_->ListCollections()) {
    data[info.spec.name] = Fill(info.spec.name, 600, 21);
    ASSERT_OK(engine_->Delete(info.spec.name, {"p1", "p2"}));
  }
  std::map<std::string, std::vector<std::string>> before;
  SearchRequest req;
  req.query = data.begin()->second[10].vector;
  req.k = 10;
  for (const auto& [name, pts] : data) {
    req.collection = name;
    ASSERT_OK_AND_ASSIGN(auto r, engine_->Search(req));
    before[name] = Ids(r);
  }
  Restart();
  for (const auto& [name, pts] : data) {
    req.collection = name;
    ASSERT_OK_AND_ASSIGN(auto r, engine_->Search(req));
    EXPECT_EQ(Ids(r), before[name]) << name;
    ASSERT_OK_AND_ASSIGN(auto n, engine_->Count(name, std::nullopt));
    EXPECT_EQ(n, 598u);
    ASSERT_OK_AND_ASSIGN(auto got, engine_->Get(name, {"p1", "p3"}, false));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].id, "p3");
  }
}

// Writes after the last snapshot are reconciled from RocksDB; a corrupt snapshot is rebuilt.
TEST_F(EngineTest, RecoveryReconcilesStaleAndCorruptSnapshots) {
  ASSERT_OK(engine_->CreateCollection(Spec("kb")));
  auto pts = Fill("kb", 300);
  ASSERT_OK(engine_->Close());  // saves snapshot S1
  engine_.reset();
  storage::Store::Options so;
  so.path = dir_.str() + "/db";
  storage::SnapshotHeader old_header;
  std::string old_payload;
  {
    ASSERT_OK_AND_ASSIGN(auto store, storage::Store::Open(so));
    ASSERT_OK_AND_ASSIGN(old_payload, store->ReadSnapshot({1, 0}, &old_header));
  }
  Open();
  // After S1: a delete, a replacement and a new point.
  ASSERT_OK(engine_->Delete("kb", {"p5"}));
  std::mt19937 rng(8);
  Point moved = pts[6];
  moved.vector = RandomVector(rng);
  Point fresh = MakePoint(rng, 1000);
  ASSERT_OK(engine_->Upsert("kb", {moved, fresh}));
  ASSERT_OK(engine_->Close());
  engine_.reset();
  // Put S1 back, as if the process had died before saving a newer one.
  {
    ASSERT_OK_AND_ASSIGN(auto store, storage::Store::Open(so));
    ASSERT_OK(store->WriteSnapshot({1, 0}, old_header, old_payload));
  }
  Open();
  auto check = [&]() {
    SearchRequest req;
    req.collection = "kb";
    req.k = 1;
    req.query = pts[5].vector;
    ASSERT_OK_AND_ASSIGN(auto r, engine_->Search(req));
    ASSERT_FALSE(r.hits.empty());
    EXPECT_NE(r.hits[0].point.id, "p5");
    req.query = moved.vector;
    ASSERT_OK_AND_ASSIGN(r, engine_->Search(req));
    EXPECT_EQ(r.hits[0].point.id, "p6");
    req.query = fresh.vector;
    ASSERT_OK_AND_ASSIGN(r, engine_->Search(req));
    EXPECT_EQ(r.hits[0].point.id, "p1000");
    ASSERT_OK_AND_ASSIGN(auto n, engine_->Count("kb", std::nullopt));
    EXPECT_EQ(n, 300u);
    ASSERT_OK_AND_ASSIGN(auto info, engine_->GetCollection("kb"));
    EXPECT_EQ(info.points, 300u);
  };
  check();
  // New labels after recovery never collide with labels inside the stale snapshot.
  Point another = MakePoint(rng, 2000);
  ASSERT_OK(engine_->Upsert("kb", {another}));
  ASSERT_OK_AND_ASSIGN(auto n, engine_->Count("kb", std::nullopt));
  EXPECT_EQ(n, 301u);
  ASSERT_OK(engine_->Delete("kb", {"p2000"}));
  // Replace the snapshot with bytes that pass the checksum but are not an index.
  ASSERT_OK(engine_->Close());
  engine_.reset();
  {
    ASSERT_OK_AND_ASSIGN(auto store, storage::Store::Open(so));
    storage::SnapshotHeader h;
    ASSERT_OK(store->ReadSnapshot({1, 0}, &h).status());
    ASSERT_OK(store->WriteSnapshot({1, 0}, h, "definitely not an index"));
  }
  Open();
  check();
}

TEST_F(EngineTest, CompactionReclaimsRemovedSlotsWithoutChangingResults) {
  ASSERT_OK(engine_->CreateCollection(Spec("kb")));
  auto pts = Fill("kb", 600);
  std::vector<std::string> ids;
  for (int i = 0; i < 300; ++i) ids.push_back("p" + std::to_string(i));
  ASSERT_OK(engine_->Delete("kb", ids));  // 300 removed > 100 and > 20% of 300 live
  engine_->WaitForCompactions();
  ASSERT_OK_AND_ASSIGN(auto info, engine_->GetCollection("kb"));
  EXPECT_EQ(info.deleted_points, 0u);
  EXPECT_EQ(info.points, 300u);
  SearchRequest req;
  req.collection = "kb";
  req.k = 5;
  req.query = pts[400].vector;
  ASSERT_OK_AND_ASSIGN(auto r, engine_->Search(req));
  EXPECT_EQ(r.hits[0].point.id, "p400");
  req.query = pts[10].vector;
  ASSERT_OK_AND_ASSIGN(r, engine_->Search(req));
  for (const auto& h : r.hits) EXPECT_GE(std::stoi(h.point.id.substr(1)), 300);
}

TEST_F(EngineTest, DeleteCollectionRemovesDataFromDisk) {
  ASSERT_OK(engine_->CreateCollection(Spec("kb")));
  Fill("kb", 500);
  ASSERT_OK(engine_->SaveSnapshots());
  ASSERT_OK(engine_->DeleteCollection("kb"));
  ASSERT_OK(engine_->CreateCollection(Spec("kb")));  // same name, new id, empty
  ASSERT_OK_AND_ASSIGN(auto n, engine_->Count("kb", std::nullopt));
  EXPECT_EQ(n, 0u);
  Restart();
  ASSERT_OK_AND_ASSIGN(n, engine_->Count("kb", std::nullopt));
  EXPECT_EQ(n, 0u);
  ASSERT_OK(engine_->Close());
  engine_.reset();
  storage::Store::Options so;
  so.path = dir_.str() + "/db";
  ASSERT_OK_AND_ASSIGN(auto store, storage::Store::Open(so));
  EXPECT_LT(store->ApproximateBytes(1), 4096u);  // the first "kb" had id 1
}

TEST_F(EngineTest, ConcurrentWritersAndReaders) {
  ASSERT_OK(engine_->CreateCollection(Spec("kb", IndexKind::kHnsw, 2)));
  Fill("kb", 200);
  std::atomic<bool> stop{false};
  std::atomic<int> searches{0};
  std::atomic<int> failures{0};
  std::atomic<int> readers_started{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937 rng(100 + t);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      bool counted = false;
      while (!stop && std::chrono::steady_clock::now() < deadline) {
        SearchRequest req;
        req.collection = "kb";
        req.query = RandomVector(rng);
        req.k = 5;
        if (searches % 3 == 0) req.filter = Filter::Cond(Equals("lang", std::string("ko")));
        auto r = engine_->Search(req);
        if (!r.ok() || r->hits.empty()) ++failures;
        ++searches;
        if (!counted) {
          counted = true;
          ++readers_started;
        }
      }
    });
  }
  // The writes start once every reader is searching: on a loaded machine the 30 rounds below
  // could otherwise be over before a reader thread first ran, and nothing would have raced
  // them (searches == 0). Bounded: 20 s, the readers' own limit.
  for (int i = 0; i < 2000 && readers_started.load() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (readers_started.load() < 3) {
    stop = true;
    for (auto& t : readers) t.join();
    FAIL() << "only " << readers_started.load() << " of 3 reader threads ran within 20 s";
  }
  std::mt19937 rng(12345);  // not Fill's seed: new vectors, not copies of old ones
  for (int round = 0; round < 30; ++round) {
    std::vector<Point> batch;
    for (int i = 0; i < 20; ++i) batch.push_back(MakePoint(rng, 200 + round * 20 + i));
    ASSERT_OK(engine_->Upsert("kb", batch));
    ASSERT_OK(engine_->Delete("kb", {"p" + std::to_string(round)}));
    // A point is searchable as soon as Upsert returns.
    SearchRequest req;
    req.collection = "kb";
    req.query = batch.back().vector;
    req.k = 1;
    ASSERT_OK_AND_ASSIGN(auto r, engine_->Search(req));
    ASSERT_FALSE(r.hits.empty());
    EXPECT_EQ(r.hits[0].point.id, batch.back().id);
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(searches.load(), 0);
  ASSERT_OK_AND_ASSIGN(auto n, engine_->Count("kb", std::nullopt));
  EXPECT_EQ(n, 200u + 600u - 30u);
}

TEST_F(EngineTest, ClosedEngineIsUnavailable) {
  ASSERT_OK(engine_->CreateCollection(Spec("kb")));
  ASSERT_OK(engine_->Close());
  ASSERT_OK(engine_->Close());  // idempotent
  EXPECT_EQ(engine_->GetCollection("kb").status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(EngineTest, WriteReplacesAtomicallyAndAttributesPersist) {
  auto spec = Spec("kb");
  spec.attributes = R"({"embedder":"local"})";
  ASSERT_OK(engine_->CreateCollection(spec));
  std::mt19937 rng(4);
  std::vector<Point> v1 = {MakePoint(rng, 0), MakePoint(rng, 1), MakePoint(rng, 2)};
  ASSERT_OK(engine_->Write("kb", v1, {}));
  // The document shrinks to one chunk: one batch replaces chunk 0 and deletes 1 and 2.
  Point p0 = MakePoint(rng, 0);
  p0.text = "new";
  ASSERT_OK_AND_ASSIGN(auto r, engine_->Write("kb", {p0}, {"p1", "p2"}));
  EXPECT_EQ(r.applied, 3u);
  EXPECT_EQ(r.sequence, 2u);
  ASSERT_OK_AND_ASSIGN(auto n, engine_->Count("kb", std::nullopt));
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(engine_->Write("kb", {p0}, {"p0"}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_->Write("kb", {}, {}).status().code(), absl::StatusCode::kInvalidArgument);
  // Aux records ride in the same batch as the points.
  Point p1 = MakePoint(rng, 1);
  ASSERT_OK(engine_->Write("kb", {p1}, {}, {AuxWrite{"cache", "k1", "v1"}}));
  ASSERT_OK_AND_ASSIGN(auto aux, engine_->GetAux("cache", "k1"));
  EXPECT_EQ(aux.value_or(""), "v1");
  ASSERT_OK(engine_->Delete("kb", {"p1"}));
  Restart();
  ASSERT_OK_AND_ASSIGN(auto info, engine_->GetCollection("kb"));
  EXPECT_EQ(info.spec.attributes, spec.attributes);
}

TEST_F(EngineTest, AuxRecordsArePersistedAndScannedByPrefix) {
  ASSERT_OK(engine_->PutAux("cache", {{"m1/a", "1"}, {"m1/b", "2"}, {"m2/a", "3"}}));
  ASSERT_OK(engine_->PutAux("jobs", {{"m1/z", "other namespace"}}));
  Restart();
  ASSERT_OK_AND_ASSIGN(auto v, engine_->GetAux("cache", "m1/b"));
  EXPECT_EQ(v.value_or(""), "2");
  std::vector<std::string> keys;
  ASSERT_OK(engine_->ScanAux("cache", "m1/", [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return true;
  }));
  EXPECT_EQ(keys, (std::vector<std::string>{"m1/a", "m1/b"}));
  ASSERT_OK(engine_->DeleteAux("cache", {"m1/a"}));
  ASSERT_OK_AND_ASSIGN(v, engine_->GetAux("cache", "m1/a"));
  EXPECT_FALSE(v.has_value());
  EXPECT_EQ(engine_->GetAux("", "x").status().code(), absl::StatusCode::kInvalidArgument);
}

// A backup holds exactly the state acknowledged when it was taken: restored into a new data
// directory, it opens with those points, sequences, search results and aux records, whatever
// the source engine did afterwards.
TEST_F(EngineTest, BackupRoundTripsExactlyTheBackedUpState) {
  ASSERT_OK(engine_->CreateCollection(Spec("b", IndexKind::kHnsw, 2)));
  ASSERT_OK(engine_->CreateCollection(Spec("f", IndexKind::kFlat)));
  std::vector<Point> pts = Fill("b", 700, 31);
  Fill("f", 50, 32);
  ASSERT_OK(engine_->Delete("b", {"p1"}));
  ASSERT_OK(engine_->PutAux("jobs", {{"j1", "done"}}));
  SearchRequest req;
  req.collection = "b";
  req.query = pts[5].vector;
  req.k = 10;
  ASSERT_OK_AND_ASSIGN(auto before, engine_->Search(req));
  ASSERT_OK_AND_ASSIGN(auto b_info, engine_->GetCollection("b"));

  ragd::testing::TempDir backups;
  const std::string dir = (backups.path() / "2026-11-23").string();
  ASSERT_OK_AND_ASSIGN(BackupManifest m, engine_->CreateBackup(dir));
  ASSERT_EQ(m.collections.size(), 2u);
  EXPECT_EQ(m.collections[0].name, "b");
  EXPECT_EQ(m.collections[0].points, 699u);
  EXPECT_EQ(m.collections[0].shards, 2u);
  EXPECT_EQ(m.collections[0].last_sequence, b_info.last_sequence);
  EXPECT_EQ(m.collections[1].name, "f");
  EXPECT_EQ(m.collections[1].points, 50u);
  ASSERT_OK_AND_ASSIGN(BackupManifest read, ReadBackup(dir));
  EXPECT_EQ(read.ToJson(), m.ToJson());

  // After the backup: new points, a delete, a dropped collection. None may reach the copy.
  std::mt19937 rng(99);
  std::vector<Point> later;
  for (int i = 1000; i < 1010; ++i) later.push_back(MakePoint(rng, i));
  ASSERT_OK(engine_->Upsert("b", later));
  ASSERT_OK(engine_->Delete("b", {"p2"}));
  ASSERT_OK(engine_->DeleteCollection("f"));

  EXPECT_EQ(engine_->CreateBackup(dir).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(engine_->CreateBackup("relative/dir").status().code(),
            absl::StatusCode::kInvalidArgument);
  std::filesystem::create_directories(backups.path() / "busy" / "db");
  EXPECT_EQ(engine_->CreateBackup((backups.path() / "busy").string()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // A checkpoint without its manifest did not finish: not restorable.
  EXPECT_EQ(RestoreBackup((backups.path() / "busy").string(), (backups.path() / "x").string())
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);

  ragd::testing::TempDir restored;
  Engine::Options o;
  o.data_dir = (restored.path() / "data").string();
  o.snapshot_interval_seconds = 0;
  ASSERT_OK_AND_ASSIGN(RestoreResult r, RestoreBackup(dir, o.data_dir));
  EXPECT_FALSE(r.already_restored);
  EXPECT_GT(r.bytes_copied, 0u);
  {
    ASSERT_OK_AND_ASSIGN(auto copy, Engine::Open(o));
    ASSERT_EQ(copy->ListCollections().size(), 2u);
    ASSERT_OK_AND_ASSIGN(auto info, copy->GetCollection("b"));
    EXPECT_EQ(info.points, 699u);
    EXPECT_EQ(info.last_sequence, b_info.last_sequence);
    ASSERT_OK_AND_ASSIGN(auto f_count, copy->Count("f", std::nullopt));
    EXPECT_EQ(f_count, 50u);
    ASSERT_OK_AND_ASSIGN(auto got, copy->Get("b", {"p1", "p2", "p3", "p1000"}, true));
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].id, "p2");
    EXPECT_EQ(got[1].id, "p3");
    EXPECT_EQ(got[1].text, pts[3].text);
    ASSERT_OK_AND_ASSIGN(auto after, copy->Search(req));
    EXPECT_EQ(Ids(after), Ids(before));
    ASSERT_OK_AND_ASSIGN(auto job, copy->GetAux("jobs", "j1"));
    EXPECT_EQ(job.value_or(""), "done");
    ASSERT_OK(copy->Delete("b", {"p3"}));
    ASSERT_OK(copy->Close());
  }
  // The same backup again (a restarted pod keeps its flags): left alone, later writes kept.
  ASSERT_OK_AND_ASSIGN(r, RestoreBackup(dir, o.data_dir));
  EXPECT_TRUE(r.already_restored);
  {
    ASSERT_OK_AND_ASSIGN(auto copy, Engine::Open(o));
    ASSERT_OK_AND_ASSIGN(auto got, copy->Get("b", {"p3"}, false));
    EXPECT_TRUE(got.empty());
  }
  // Another database in the way: refused, and the source is untouched.
  EXPECT_EQ(RestoreBackup(dir, dir_.str()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_OK_AND_ASSIGN(auto n, engine_->Count("b", std::nullopt));
  EXPECT_EQ(n, 708u);
}

// CollectionInfo counts the vector searches of each shard and their thread CPU time: a vector
// search and a hybrid one's vector leg count, a text search does not; a restart starts again
// from zero (the figures are the process's, for its metrics).
TEST_F(EngineTest, InfoCountsVectorSearchesAndTheirCpuTime) {
  CollectionSpec spec = Spec("c", IndexKind::kHnsw, /*shards=*/2);
  spec.lexical.enabled = true;
  ASSERT_OK(engine_->CreateCollection(spec));
  Fill("c", 40);
  ASSERT_OK_AND_ASSIGN(CollectionInfo before, engine_->GetCollection("c"));
  EXPECT_EQ(before.vector_searches, 0u);
  EXPECT_EQ(before.vector_search_cpu_ns, 0u);
  std::mt19937 rng(3);
  SearchRequest req;
  req.collection = "c";
  req.k = 5;
  req.query = RandomVector(rng);
  req.text = "chunk";
  for (int i = 0; i < 3; ++i) ASSERT_OK(engine_->Search(req).status());
  req.mode = SearchMode::kText;
  ASSERT_OK(engine_->Search(req).status());
  ASSERT_OK_AND_ASSIGN(CollectionInfo after_vector, engine_->GetCollection("c"));
  EXPECT_EQ(after_vector.vector_searches, 3u * 2u);  // 3 searches x 2 shards; text: none
  EXPECT_GT(after_vector.vector_search_cpu_ns, 0u);
  req.mode = SearchMode::kHybrid;
  ASSERT_OK(engine_->Search(req).status());
  ASSERT_OK_AND_ASSIGN(CollectionInfo after_hybrid, engine_->GetCollection("c"));
  EXPECT_EQ(after_hybrid.vector_searches, 4u * 2u);
  EXPECT_GE(after_hybrid.vector_search_cpu_ns, after_vector.vector_search_cpu_ns);
  Restart();
  ASSERT_OK_AND_ASSIGN(CollectionInfo restarted, engine_->GetCollection("c"));
  EXPECT_EQ(restarted.vector_searches, 0u);
  EXPECT_EQ(restarted.vector_search_cpu_ns, 0u);
}

}  // namespace
}  // namespace ragd::index
