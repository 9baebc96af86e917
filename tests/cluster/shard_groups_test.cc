// Shard groups and the per-pod router (issue 14 "Read path", "Placement"), with real ragd
// processes on one nats-server on 127.0.0.1: 2 shard groups x 2 replicas (pods ragd-0..3,
// cluster.shard_groups 2, each listing all four as peers) and one pod with one group ("solo",
// every shard, no router: what a single node holds). Every pod replays the same log.
//   - merged search (vector, text, hybrid) through any pod of the groups equals the solo
//     pod's, hit for hit, and recall@10 against a brute force computed here is the same;
//   - SearchBatch through a pod of the groups: every search fanned out, in order, equal to the
//     solo pod's searches (it used to read the local engine only: half the shards);
//   - Retrieve and Answer (documents ingested through the pods) equal the solo pod's, with
//     full coverage;
//   - Count and Get are exact across groups (ids in the order asked, unknown ids omitted);
//   - both replicas of group 1 killed: UNAVAILABLE naming the group for Search, SearchBatch,
//     Count, Get, Retrieve and Answer; with allow_partial the results of group 0 only, and
//     coverage naming shards 1 and 3;
//   - the solo pod (G = 1) answers without coverage, as before shard groups.
// The session and peer-key cases are in shard_groups_session_test.cc.

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
using testing::RagdProcess;

constexpr int kDim = 16;
constexpr int kPoints = 1200;
constexpr int kQueries = 40;
constexpr int kK = 10;
const char* const kWords[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot",
                              "golf",  "hotel", "india",   "juliet", "kilo", "lima"};

struct Data {
  std::vector<std::string> ids;
  std::vector<std::vector<float>> vectors;
  std::vector<std::string> texts;
};

Data MakeData() {
  std::mt19937 rng(14);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> word(0, std::size(kWords) - 1);
  Data d;
  for (int i = 0; i < kPoints; ++i) {
    d.ids.push_back("p" + std::to_string(i));
    std::vector<float> v(kDim);
    for (float& x : v) x = normal(rng);
    d.vectors.push_back(std::move(v));
    std::string text;
    for (int w = 0; w < 6; ++w) text += std::string(kWords[word(rng)]) + " ";
    d.texts.push_back(text);
  }
  return d;
}

// The exact top k ids by L2 distance, ties by id (computed here, independently of ragd).
std::vector<std::string> BruteForce(const Data& d, const std::vector<float>& q) {
  std::vector<std::pair<float, std::string>> all;
  for (size_t i = 0; i < d.ids.size(); ++i) {
    float dist = 0;
    for (int j = 0; j < kDim; ++j) dist += (d.vectors[i][j] - q[j]) * (d.vectors[i][j] - q[j]);
    all.emplace_back(dist, d.ids[i]);
  }
  std::partial_sort(all.begin(), all.begin() + kK, all.end());
  std::vector<std::string> out;
  for (int i = 0; i < kK; ++i) out.push_back(all[i].second);
  return out;
}

double Recall(const std::vector<std::string>& truth, const v1::SearchResponse& r) {
  std::set<std::string> want(truth.begin(), truth.end());
  int hit = 0;
  for (const auto& h : r.hits()) hit += want.count(h.point().id());
  return static_cast<double>(hit) / truth.size();
}

std::vector<std::pair<std::string, float>> Hits(const v1::SearchResponse& r) {
  std::vector<std::pair<std::string, float>> out;
  for (const auto& h : r.hits()) out.emplace_back(h.point().id(), h.score());
  return out;
}

std::vector<std::pair<std::string, float>> Chunks(const v1::RetrieveResponse& r) {
  std::vector<std::pair<std::string, float>> out;
  for (const auto& c : r.chunks()) out.emplace_back(c.id(), c.score());
  return out;
}

std::vector<uint32_t> Missing(const v1::ShardCoverage& c) {
  return {c.missing_shards().begin(), c.missing_shards().end()};
}

class ShardGroupsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NatsServer::Options no;
    no.dir = (tmp_.path() / "nats").string();
    ASSERT_OK_AND_ASSIGN(nats_, NatsServer::Start(no));
    std::vector<int> ports;
    std::string peers;
    for (int i = 0; i < 4; ++i) {
      ports.push_back(NatsServer::FreePort());
      peers += (i ? "," : "") + std::string("127.0.0.1:") + std::to_string(ports[i]);
    }
    for (int i = 0; i < 4; ++i) {
      const std::string name = "ragd-" + std::to_string(i);
      const std::string config = (tmp_.path() / (name + ".yaml")).string();
      std::ofstream(config) << "cluster:\n  nats_urls: [\"" << nats_->url() << "\"]\n  pod_id: "
                            << name << "\n  shard_groups: 2\n  peers: \"" << peers << "\"\n";
      ASSERT_OK_AND_ASSIGN(
          auto pod, RagdProcess::Start(RagdProcess::OptionsFor(
                        (tmp_.path() / name).string(),
                        {"--config", config, "--listen",
                         "127.0.0.1:" + std::to_string(ports[i])})));
      pods_.push_back(std::move(pod));
    }
    const std::string config = (tmp_.path() / "solo.yaml").string();
    std::ofstream(config) << "cluster:\n  nats_urls: [\"" << nats_->url()
                          << "\"]\n  pod_id: solo\n";
    ASSERT_OK_AND_ASSIGN(solo_, RagdProcess::Start(RagdProcess::OptionsFor(
                                    (tmp_.path() / "solo").string(), {"--config", config})));
  }

  std::unique_ptr<v1::Points::Stub> Points(const RagdProcess& pod) {
    return v1::Points::NewStub(pod.channel());
  }

  // Creates the collection and writes the data through the pods in turn, then waits until
  // every pod answers the full count (each G = 2 pod counts its own group locally).
  void Load(const Data& d) {
    auto collections = v1::Collections::NewStub(pods_[0]->channel());
    v1::CreateCollectionRequest create;
    create.set_name("docs");
    create.set_dimension(kDim);
    create.set_metric(v1::METRIC_L2);
    create.set_shards(kShards);
    // A small ef: recall below 1, so that equal recall means equal approximate searches.
    create.mutable_index()->mutable_hnsw()->set_ef(12);
    create.mutable_lexical()->set_enabled(true);
    v1::CreateCollectionResponse created;
    auto ctx = Context();
    grpc::Status st = collections->CreateCollection(ctx.get(), create, &created);
    ASSERT_TRUE(st.ok()) << st.error_message();
    // The batches go through every pod in turn: each must know the collection first.
    for (auto& pod : pods_) {
      ASSERT_TRUE(WaitForCollection(*pod, "docs")) << "pod on port " << pod->port();
    }
    for (int b = 0; b < kPoints / 200; ++b) {
      v1::UpsertRequest up;
      up.set_collection("docs");
      for (int i = b * 200; i < (b + 1) * 200; ++i) {
        v1::Point* p = up.add_points();
        p->set_id(d.ids[i]);
        p->mutable_vector()->Assign(d.vectors[i].begin(), d.vectors[i].end());
        p->set_text(d.texts[i]);
      }
      v1::UpsertResponse resp;
      ctx = Context();
      st = Points(*pods_[b % 4])->Upsert(ctx.get(), up, &resp);
      ASSERT_TRUE(st.ok()) << st.error_message();
    }
    std::vector<RagdProcess*> all = {solo_.get()};
    for (auto& p : pods_) all.push_back(p.get());
    for (RagdProcess* pod : all) {
      uint64_t count = 0;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (count != kPoints && std::chrono::steady_clock::now() < deadline) {
        v1::CountRequest req;
        req.set_collection("docs");
        v1::CountResponse resp;
        ctx = Context();
        if (Points(*pod)->Count(ctx.get(), req, &resp).ok()) count = resp.count();
        if (count != kPoints) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      ASSERT_EQ(count, kPoints) << "pod on port " << pod->port();
    }
  }

  // "kb": documents ingested through the pods in turn, until every pod counts every chunk.
  void LoadKb() {
    ASSERT_NO_FATAL_FAILURE(CreateKb(*pods_[0]));
    // The documents go through every pod in turn: each must know the collection first.
    for (auto& pod : pods_) {
      ASSERT_TRUE(WaitForCollection(*pod, "kb")) << "pod on port " << pod->port();
    }
    std::mt19937 rng(15);
    std::uniform_int_distribution<int> word(0, std::size(kWords) - 1);
    uint64_t chunks = 0;
    for (int doc = 0; doc < 12; ++doc) {
      std::string text;
      for (int w = 0; w < 60; ++w)
        text += std::string(kWords[word(rng)]) + (w % 12 == 11 ? ". " : " ");
      v1::DocumentResult r = Ingest(*pods_[doc % 4], "doc" + std::to_string(doc), text);
      ASSERT_GT(r.chunks(), 0u);
      chunks += r.chunks();
    }
    ASSERT_GT(chunks, 12u);  // several chunks per document: both groups hold some of each
    std::vector<RagdProcess*> all = {solo_.get()};
    for (auto& p : pods_) all.push_back(p.get());
    for (RagdProcess* pod : all) {
      v1::CountRequest req;
      req.set_collection("kb");
      req.set_consistency(v1::READ_CONSISTENCY_STRONG);
      v1::CountResponse resp;
      auto ctx = Context();
      grpc::Status st = Points(*pod)->Count(ctx.get(), req, &resp);
      ASSERT_TRUE(st.ok()) << st.error_message();
      ASSERT_EQ(resp.count(), chunks) << "pod on port " << pod->port();
    }
  }

  testing::TempDir tmp_;
  std::unique_ptr<NatsServer> nats_;
  std::vector<std::unique_ptr<RagdProcess>> pods_;  // ragd-0..3: groups 0, 1, 0, 1
  std::unique_ptr<RagdProcess> solo_;               // one group: every shard
};

TEST_F(ShardGroupsTest, MergedSearchEqualsOneNodeAndPartialResultsWhenAGroupIsDown) {
  const Data d = MakeData();
  ASSERT_NO_FATAL_FAILURE(Load(d));
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> word(0, std::size(kWords) - 1);
  std::vector<v1::SearchRequest> queries;
  for (int q = 0; q < kQueries; ++q) {
    v1::SearchRequest req;
    req.set_collection("docs");
    req.set_k(kK);
    for (int j = 0; j < kDim; ++j) req.add_vector(normal(rng));
    queries.push_back(req);
  }

  // Vector search: hit for hit the solo pod's, through a pod of each group; same recall.
  double solo_recall = 0, routed_recall = 0;
  for (const v1::SearchRequest& req : queries) {
    const std::vector<float> q(req.vector().begin(), req.vector().end());
    const std::vector<std::string> truth = BruteForce(d, q);
    v1::SearchResponse solo, via0, via1;
    auto ctx = Context();
    ASSERT_TRUE(Points(*solo_)->Search(ctx.get(), req, &solo).ok());
    EXPECT_FALSE(solo.has_coverage());  // G = 1: no fan-out, as before
    ctx = Context();
    grpc::Status st = Points(*pods_[0])->Search(ctx.get(), req, &via0);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ctx = Context();
    st = Points(*pods_[1])->Search(ctx.get(), req, &via1);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(solo.hits_size(), kK);
    EXPECT_EQ(Hits(via0), Hits(solo));
    EXPECT_EQ(Hits(via1), Hits(solo));
    EXPECT_EQ(via0.coverage().shards_total(), static_cast<uint32_t>(kShards));
    EXPECT_EQ(via0.coverage().shards_answered(), static_cast<uint32_t>(kShards));
    EXPECT_TRUE(via0.coverage().missing_shards().empty());
    for (int i = 0; i < via0.hits_size(); ++i) {
      EXPECT_EQ(via0.hits(i).vector_leg().rank(), static_cast<uint32_t>(i + 1));
      EXPECT_EQ(via0.hits(i).point().text(), solo.hits(i).point().text());
    }
    solo_recall += Recall(truth, solo);
    routed_recall += Recall(truth, via0);
  }
  solo_recall /= kQueries;
  routed_recall /= kQueries;
  std::printf("recall@10 over %d queries: one node %.4f, 2 shard groups x 2 replicas %.4f\n",
              kQueries, solo_recall, routed_recall);
  EXPECT_EQ(routed_recall, solo_recall);
  EXPECT_GT(solo_recall, 0.5);

  // Text and hybrid (RRF and weighted) with a filter-free query text: the same merge.
  for (int q = 0; q < 10; ++q) {
    v1::SearchRequest req = queries[q];
    req.set_text(std::string(kWords[word(rng)]) + " " + kWords[word(rng)]);
    for (v1::SearchMode mode : {v1::SEARCH_MODE_TEXT, v1::SEARCH_MODE_HYBRID}) {
      for (v1::FusionMethod fusion : {v1::FUSION_METHOD_RRF, v1::FUSION_METHOD_WEIGHTED}) {
        req.set_mode(mode);
        req.mutable_fusion()->set_method(fusion);
        v1::SearchResponse solo, routed;
        auto ctx = Context();
        grpc::Status st = Points(*solo_)->Search(ctx.get(), req, &solo);
        ASSERT_TRUE(st.ok()) << st.error_message();
        ctx = Context();
        st = Points(*pods_[3])->Search(ctx.get(), req, &routed);
        ASSERT_TRUE(st.ok()) << st.error_message();
        EXPECT_GT(solo.hits_size(), 0);
        EXPECT_EQ(Hits(routed), Hits(solo)) << "mode " << mode << " fusion " << fusion;
      }
    }
  }

  // SearchBatch through a pod of the groups: each search fanned out like Search, results in
  // the order asked, each equal to the solo pod's; consistency per search.
  {
    v1::SearchBatchRequest batch;
    batch.set_collection("docs");
    for (int q = 0; q < 12; ++q) {
      v1::SearchRequest s = queries[q];
      s.clear_collection();
      if (q % 3 == 1) s.set_consistency(v1::READ_CONSISTENCY_STRONG);
      if (q % 3 == 2) s.set_consistency(v1::READ_CONSISTENCY_EVENTUAL);
      if (q == 5) {
        s.set_text(std::string(kWords[q]) + " " + kWords[q + 1]);
        s.set_mode(v1::SEARCH_MODE_HYBRID);
      }
      *batch.add_searches() = s;
    }
    v1::SearchBatchResponse results;
    auto ctx = Context();
    grpc::Status st = Points(*pods_[1])->SearchBatch(ctx.get(), batch, &results);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(results.results_size(), batch.searches_size());
    for (int q = 0; q < batch.searches_size(); ++q) {
      v1::SearchRequest one = batch.searches(q);
      one.set_collection("docs");
      v1::SearchResponse solo;
      ctx = Context();
      ASSERT_TRUE(Points(*solo_)->Search(ctx.get(), one, &solo).ok());
      ASSERT_GT(solo.hits_size(), 0);
      EXPECT_EQ(Hits(results.results(q)), Hits(solo)) << "searches[" << q << "]";
      EXPECT_EQ(results.results(q).coverage().shards_answered(), static_cast<uint32_t>(kShards));
      EXPECT_GT(results.results(q).applied_sequence(), 0u);
    }
    // Against the brute force too: the batch's recall is the solo pod's (the batch used to
    // search only the receiving pod's group).
    double batch_recall = 0, solo_recall_12 = 0;
    for (int q = 0; q < 12; ++q) {
      if (q == 5) continue;  // hybrid: no vector brute force
      const std::vector<float> v(queries[q].vector().begin(), queries[q].vector().end());
      const std::vector<std::string> truth = BruteForce(d, v);
      batch_recall += Recall(truth, results.results(q));
      v1::SearchResponse solo;
      ctx = Context();
      ASSERT_TRUE(Points(*solo_)->Search(ctx.get(), queries[q], &solo).ok());
      solo_recall_12 += Recall(truth, solo);
    }
    EXPECT_EQ(batch_recall, solo_recall_12);
  }

  // Retrieve and Answer over ingested documents: the solo pod's chunks, full coverage.
  ASSERT_NO_FATAL_FAILURE(LoadKb());
  for (const char* question : {"alpha bravo", "kilo lima india", "golf"}) {
    v1::RetrieveRequest retrieve;
    retrieve.set_collection("kb");
    retrieve.set_query(question);
    retrieve.set_k(6);
    v1::RetrieveResponse solo, routed;
    auto ctx = Context();
    grpc::Status st =
        v1::Retrieval::NewStub(solo_->channel())->Retrieve(ctx.get(), retrieve, &solo);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_FALSE(solo.has_coverage());
    ctx = Context();
    st = v1::Retrieval::NewStub(pods_[1]->channel())->Retrieve(ctx.get(), retrieve, &routed);
    ASSERT_TRUE(st.ok()) << st.error_message();
    ASSERT_EQ(solo.chunks_size(), 6);
    EXPECT_EQ(Chunks(routed), Chunks(solo)) << question;
    EXPECT_EQ(routed.coverage().shards_total(), static_cast<uint32_t>(kShards));
    EXPECT_EQ(routed.coverage().shards_answered(), static_cast<uint32_t>(kShards));
  }
  v1::AnswerRequest answer;
  answer.set_collection("kb");
  answer.set_question("hotel juliet");
  answer.mutable_retrieval()->set_k(5);
  answer.mutable_generation()->set_max_output_tokens(16);
  {
    AnswerRun solo = RunAnswer(*solo_, answer);
    AnswerRun routed = RunAnswer(*pods_[2], answer);
    ASSERT_TRUE(solo.status.ok()) << solo.status.error_message();
    ASSERT_TRUE(routed.status.ok()) << routed.status.error_message();
    ASSERT_TRUE(routed.got_sources);
    EXPECT_FALSE(solo.sources.has_coverage());
    EXPECT_GT(solo.sources.sources_size(), 0);
    EXPECT_EQ(SourceIds(routed.sources), SourceIds(solo.sources));
    EXPECT_EQ(routed.sources.coverage().shards_answered(), static_cast<uint32_t>(kShards));
  }

  // Get across groups: the order asked, unknown ids omitted, payloads intact.
  v1::GetRequest get;
  get.set_collection("docs");
  for (const char* id : {"p5", "p900", "nope", "p17", "p18", "p1199"}) get.add_ids(id);
  v1::GetResponse got;
  auto ctx = Context();
  grpc::Status st = Points(*pods_[2])->Get(ctx.get(), get, &got);
  ASSERT_TRUE(st.ok()) << st.error_message();
  std::vector<std::string> ids;
  for (const auto& p : got.points()) ids.push_back(p.id());
  EXPECT_EQ(ids, (std::vector<std::string>{"p5", "p900", "p17", "p18", "p1199"}));
  EXPECT_EQ(got.points(1).text(), d.texts[900]);

  // The routed calls are timed: ragd_cluster_router_fanout_seconds counts them on the pod that
  // routed (pods_[0] answered routed searches, counts and gets above).
  {
    httplib::Client admin("127.0.0.1", pods_[0]->admin_port());
    admin.set_connection_timeout(5);
    admin.set_read_timeout(5);
    httplib::Result metrics = admin.Get("/metrics");
    ASSERT_TRUE(metrics) << "no answer from the admin port";
    ASSERT_EQ(metrics->status, 200);
    const std::string key = "ragd_cluster_router_fanout_seconds_count ";
    const size_t at = metrics->body.find(key);
    ASSERT_NE(at, std::string::npos) << metrics->body.substr(0, 2000);
    EXPECT_GE(std::stod(metrics->body.substr(at + key.size())), 3.0);
  }

  // Both replicas of group 1 gone.
  pods_[1]->Kill();
  pods_[3]->Kill();
  int group0 = 0;
  for (const auto& id : d.ids) group0 += GroupOf(id) == 0;
  const v1::SearchRequest& req = queries[0];
  v1::SearchResponse resp;
  ctx = Context();
  st = Points(*pods_[0])->Search(ctx.get(), req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  EXPECT_NE(st.error_message().find("shard group 1 (shards 1, 3)"), std::string::npos)
      << st.error_message();

  v1::SearchRequest partial = req;
  partial.set_allow_partial(true);
  ctx = Context();
  st = Points(*pods_[2])->Search(ctx.get(), partial, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.coverage().shards_total(), static_cast<uint32_t>(kShards));
  EXPECT_EQ(resp.coverage().shards_answered(), 2u);
  EXPECT_EQ(std::vector<uint32_t>(resp.coverage().missing_shards().begin(),
                                  resp.coverage().missing_shards().end()),
            (std::vector<uint32_t>{1, 3}));
  ASSERT_EQ(resp.hits_size(), kK);
  for (const auto& h : resp.hits()) EXPECT_EQ(GroupOf(h.point().id()), 0) << h.point().id();

  v1::CountRequest count;
  count.set_collection("docs");
  v1::CountResponse counted;
  ctx = Context();
  EXPECT_EQ(Points(*pods_[0])->Count(ctx.get(), count, &counted).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  count.set_allow_partial(true);
  ctx = Context();
  st = Points(*pods_[0])->Count(ctx.get(), count, &counted);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(counted.count(), static_cast<uint64_t>(group0));
  EXPECT_EQ(counted.coverage().shards_answered(), 2u);

  // Get: ids of group 0 only need group 0; a mixed list needs allow_partial.
  v1::GetRequest get0;
  get0.set_collection("docs");
  std::vector<std::string> want0;
  for (const auto& id : d.ids) {
    if (GroupOf(id) == 0 && want0.size() < 3) want0.push_back(id);
  }
  for (const auto& id : want0) get0.add_ids(id);
  ctx = Context();
  st = Points(*pods_[0])->Get(ctx.get(), get0, &got);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(got.points_size(), 3);
  ctx = Context();
  EXPECT_EQ(Points(*pods_[0])->Get(ctx.get(), get, &got).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  get.set_allow_partial(true);
  ctx = Context();
  st = Points(*pods_[0])->Get(ctx.get(), get, &got);
  ASSERT_TRUE(st.ok()) << st.error_message();
  for (const auto& p : got.points()) EXPECT_EQ(GroupOf(p.id()), 0) << p.id();
  EXPECT_EQ(got.coverage().missing_shards_size(), 2);

  // SearchBatch: a search needing group 1 fails the call (its index named); with allow_partial
  // on each search, every result covers group 0's shards.
  v1::SearchBatchRequest batch;
  batch.set_collection("docs");
  for (int q = 0; q < 4; ++q) *batch.add_searches() = queries[q];
  v1::SearchBatchResponse results;
  ctx = Context();
  st = Points(*pods_[0])->SearchBatch(ctx.get(), batch, &results);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  EXPECT_NE(st.error_message().find("searches[0]: "), std::string::npos) << st.error_message();
  EXPECT_NE(st.error_message().find("shard group 1"), std::string::npos) << st.error_message();
  for (auto& s : *batch.mutable_searches()) s.set_allow_partial(true);
  results.Clear();
  ctx = Context();
  st = Points(*pods_[2])->SearchBatch(ctx.get(), batch, &results);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(results.results_size(), 4);
  for (const v1::SearchResponse& r : results.results()) {
    EXPECT_EQ(Missing(r.coverage()), (std::vector<uint32_t>{1, 3}));
    ASSERT_EQ(r.hits_size(), kK);
    for (const auto& h : r.hits()) EXPECT_EQ(GroupOf(h.point().id()), 0) << h.point().id();
  }

  // Retrieve and Answer: UNAVAILABLE naming the group; with allow_partial, group 0's chunks
  // and the coverage (Answer: on its sources event).
  v1::RetrieveRequest retrieve;
  retrieve.set_collection("kb");
  retrieve.set_query("alpha bravo");
  retrieve.set_k(6);
  v1::RetrieveResponse retrieved;
  ctx = Context();
  st = v1::Retrieval::NewStub(pods_[0]->channel())->Retrieve(ctx.get(), retrieve, &retrieved);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  EXPECT_NE(st.error_message().find("shard group 1 (shards 1, 3)"), std::string::npos)
      << st.error_message();
  retrieve.set_allow_partial(true);
  ctx = Context();
  st = v1::Retrieval::NewStub(pods_[2]->channel())->Retrieve(ctx.get(), retrieve, &retrieved);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(retrieved.coverage().shards_total(), static_cast<uint32_t>(kShards));
  EXPECT_EQ(retrieved.coverage().shards_answered(), 2u);
  EXPECT_EQ(Missing(retrieved.coverage()), (std::vector<uint32_t>{1, 3}));
  ASSERT_GT(retrieved.chunks_size(), 0);
  for (const auto& c : retrieved.chunks()) EXPECT_EQ(GroupOf(c.id()), 0) << c.id();

  // The HTTP front asks the same: /v1/ragd/search and a grounded chat completion are 503
  // naming the group, and with "allow_partial" answer from group 0 with the coverage.
  {
    httplib::Client refused_http("127.0.0.1", pods_[0]->http_port());
    refused_http.set_read_timeout(20, 0);
    auto r = refused_http.Post("/v1/ragd/search",
                               R"({"collection": "kb", "query": "alpha bravo", "k": 6})",
                               "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503) << r->body;
    EXPECT_NE(r->body.find("shard group 1 (shards 1, 3)"), std::string::npos) << r->body;
    httplib::Client http("127.0.0.1", pods_[2]->http_port());
    http.set_read_timeout(20, 0);
    r = http.Post("/v1/ragd/search",
                  R"({"collection": "kb", "query": "alpha bravo", "k": 6, "allow_partial": true})",
                  "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const nlohmann::json found = nlohmann::json::parse(r->body);
    EXPECT_EQ(found["coverage"]["shards_total"], kShards) << r->body;
    EXPECT_EQ(found["coverage"]["shards_answered"], 2) << r->body;
    EXPECT_EQ(found["coverage"]["missing_shards"], nlohmann::json::array({1, 3})) << r->body;
    ASSERT_FALSE(found["data"].empty()) << r->body;
    for (const auto& hit : found["data"]) {
      EXPECT_EQ(GroupOf(hit["chunk_id"].get<std::string>()), 0) << hit.dump();
    }
    auto chat = [](const std::string& extra) {
      return R"({"model": "local", "max_tokens": 16,
          "messages": [{"role": "user", "content": "hotel juliet"}],
          "data_sources": [{"type": "ragd", "parameters": {"collection": "kb", "top_k": 5)" +
             extra + "}}]}";
    };
    r = http.Post("/v1/chat/completions", chat(""), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503) << r->body;
    r = http.Post("/v1/chat/completions", chat(R"(, "allow_partial": true)"), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const nlohmann::json context =
        nlohmann::json::parse(r->body)["choices"][0]["message"]["context"];
    EXPECT_EQ(context["coverage"]["missing_shards"], nlohmann::json::array({1, 3})) << r->body;
    ASSERT_FALSE(context["citations"].empty()) << r->body;
    for (const auto& c : context["citations"]) {
      EXPECT_EQ(GroupOf(c["chunk_id"].get<std::string>()), 0) << c.dump();
    }
  }

  AnswerRun refused = RunAnswer(*pods_[0], answer);
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << refused.status.error_message();
  EXPECT_FALSE(refused.got_sources);
  answer.set_allow_partial(true);
  AnswerRun partial_answer = RunAnswer(*pods_[2], answer);
  ASSERT_TRUE(partial_answer.status.ok()) << partial_answer.status.error_message();
  ASSERT_TRUE(partial_answer.got_sources);
  EXPECT_EQ(Missing(partial_answer.sources.coverage()), (std::vector<uint32_t>{1, 3}));
  for (const auto& id : SourceIds(partial_answer.sources)) EXPECT_EQ(GroupOf(id), 0) << id;

  // ragctl: --allow-partial asks the same of every read, and says on stderr what is missing.
  {
    const std::vector<std::string> env = {"XDG_STATE_HOME=" + (tmp_.path() / "state").string()};
    auto ragctl = [&](std::vector<std::string> args) {
      args.insert(args.begin(), {RAGCTL_BINARY, "--address", pods_[2]->address()});
      auto r = testing::RunCommand(args, absl::Seconds(60), env);
      EXPECT_TRUE(r.ok()) << r.status();
      return r.ok() ? *r : testing::CommandResult{};
    };
    auto refused_cli = ragctl({"search", "--collection", "kb", "alpha bravo"});
    EXPECT_EQ(refused_cli.exit_code, 6) << refused_cli.err;  // UNAVAILABLE
    EXPECT_NE(refused_cli.err.find("shard group 1"), std::string::npos) << refused_cli.err;
    for (auto args : {std::vector<std::string>{"--allow-partial", "search", "--collection", "kb",
                                               "alpha bravo"},
                      std::vector<std::string>{"--allow-partial", "points", "count",
                                               "--collection", "kb"}}) {
      auto partial_cli = ragctl(args);
      EXPECT_EQ(partial_cli.exit_code, 0) << partial_cli.err;
      EXPECT_NE(partial_cli.err.find("partial answer: shards 1, 3 of 4 did not answer"),
                std::string::npos)
          << partial_cli.err;
      EXPECT_FALSE(partial_cli.out.empty());
    }
  }

  // The solo pod holds everything and never fans out: unaffected.
  ctx = Context();
  EXPECT_TRUE(Points(*solo_)->Search(ctx.get(), req, &resp).ok());
  EXPECT_EQ(resp.hits_size(), kK);
}

}  // namespace
}  // namespace ragd
