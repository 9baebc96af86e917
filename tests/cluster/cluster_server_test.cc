// Two real ragd processes in cluster mode (a `cluster:` config section) on one nats-server,
// called through the generated stubs: a collection created through one pod appears on the
// other, points written through either pod reach both, a call retried with the same
// x-request-id through the other pod is stored once (same consistency token); documents
// ingested through one pod (UpsertDocument, IngestDocuments, DeleteDocument) and deletes by
// filter reach the other through the log; DeleteDocument answers its log sequence (the
// consistency token), which ragctl records for its SESSION reads.

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "ragd/v1/collections.grpc.pb.h"
#include "ragd/v1/ingest.grpc.pb.h"
#include "ragd/v1/points.grpc.pb.h"
#include "tests/testing/nats_server.h"
#include "tests/cluster/collection_wait.h"
#include "tests/testing/ragd_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace ragd {
namespace {

using testing::NatsServer;
using testing::RagdProcess;
using testing::WaitForCollection;

constexpr int kDim = 4;

v1::Point MakePoint(const std::string& id, float x) {
  v1::Point p;
  p.set_id(id);
  for (int d = 0; d < kDim; ++d) p.add_vector(x + static_cast<float>(d));
  p.set_text("text of " + id);
  return p;
}

std::unique_ptr<grpc::ClientContext> Context(const std::string& request_id = "") {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  if (!request_id.empty()) c->AddMetadata("x-request-id", request_id);
  return c;
}

// The ids of `ids` that `pod` holds, polled until they are exactly `want` (bounded).
bool WaitForIds(v1::Points::Stub& pod, const std::vector<std::string>& ids,
                const std::vector<std::string>& want) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    v1::GetRequest req;
    req.set_collection("docs");
    for (const auto& id : ids) req.add_ids(id);
    v1::GetResponse resp;
    auto ctx = Context();
    if (pod.Get(ctx.get(), req, &resp).ok()) {
      std::vector<std::string> got;
      for (const auto& p : resp.points()) got.push_back(p.id());
      if (got == want) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

TEST(ClusterServerTest, WritesThroughEitherPodReachBoth) {
  testing::TempDir tmp;
  NatsServer::Options no;
  no.dir = (tmp.path() / "nats").string();
  ASSERT_OK_AND_ASSIGN(auto nats, NatsServer::Start(no));
  std::vector<std::unique_ptr<RagdProcess>> pods;
  for (const char* name : {"a", "b"}) {
    const std::string config = (tmp.path() / (std::string(name) + ".yaml")).string();
    std::ofstream(config) << "cluster:\n  nats_urls: [\"" << nats->url()
                          << "\"]\n  pod_id: " << name << "\n";
    auto pod = RagdProcess::Start(
        RagdProcess::OptionsFor((tmp.path() / name).string(), {"--config", config}));
    ASSERT_OK(pod.status());
    pods.push_back(*std::move(pod));
  }
  auto collections_a = v1::Collections::NewStub(pods[0]->channel());
  auto points_a = v1::Points::NewStub(pods[0]->channel());
  auto points_b = v1::Points::NewStub(pods[1]->channel());
  auto collections_b = v1::Collections::NewStub(pods[1]->channel());

  v1::CreateCollectionRequest create;
  create.set_name("docs");
  create.set_dimension(kDim);
  create.set_metric(v1::METRIC_L2);
  create.mutable_index()->mutable_flat();
  v1::CreateCollectionResponse created;
  auto ctx = Context();
  grpc::Status st = collections_a->CreateCollection(ctx.get(), create, &created);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(created.collection().name(), "docs");

  v1::UpsertRequest up;
  up.set_collection("docs");
  *up.add_points() = MakePoint("p1", 1);
  *up.add_points() = MakePoint("p2", 2);
  v1::UpsertResponse upserted;
  ctx = Context("req-1");
  st = points_a->Upsert(ctx.get(), up, &upserted);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(upserted.sequence(), 1u);  // the stream sequence: the consistency token
  EXPECT_EQ(upserted.upserted(), 2u);
  EXPECT_TRUE(WaitForIds(*points_b, {"p1", "p2"}, {"p1", "p2"}));

  // The client retries through the other pod with the same request id: stored once.
  v1::UpsertResponse again;
  ctx = Context("req-1");
  st = points_b->Upsert(ctx.get(), up, &again);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(again.sequence(), 1u);

  v1::DeleteRequest del;
  del.set_collection("docs");
  del.mutable_ids()->add_ids("p1");
  v1::DeleteResponse deleted;
  ctx = Context();
  st = points_b->Delete(ctx.get(), del, &deleted);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(deleted.sequence(), 2u);
  EXPECT_TRUE(WaitForIds(*points_a, {"p1", "p2"}, {"p2"}));

  // Invalid writes are refused by the pod, before the log.
  v1::UpsertRequest bad;
  bad.set_collection("docs");
  *bad.add_points() = MakePoint("p3", 3);
  bad.mutable_points(0)->add_vector(9);
  ctx = Context();
  EXPECT_EQ(points_a->Upsert(ctx.get(), bad, &upserted).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // Deleted through b: gone from a.
  v1::DeleteCollectionRequest drop;
  drop.set_name("docs");
  v1::DeleteCollectionResponse dropped;
  ctx = Context();
  st = collections_b->DeleteCollection(ctx.get(), drop, &dropped);
  ASSERT_TRUE(st.ok()) << st.error_message();
  bool gone = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!gone && std::chrono::steady_clock::now() < deadline) {
    v1::GetCollectionRequest get;
    get.set_name("docs");
    v1::GetCollectionResponse info;
    ctx = Context();
    gone = collections_a->GetCollection(ctx.get(), get, &info).error_code() ==
           grpc::StatusCode::NOT_FOUND;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(gone);
}

v1::Filter DocumentIs(const std::string& id) {
  v1::Filter f;
  f.mutable_condition()->set_document_id(true);
  f.mutable_condition()->mutable_equals()->set_string_value(id);
  return f;
}

// Chunks of document `id` that `pod` holds once it has applied the log's head (STRONG).
uint64_t StrongChunkCount(v1::Points::Stub& pod, const std::string& id) {
  v1::CountRequest count;
  count.set_collection("kb");
  *count.mutable_filter() = DocumentIs(id);
  count.set_consistency(v1::READ_CONSISTENCY_STRONG);
  v1::CountResponse counted;
  auto ctx = Context();
  grpc::Status st = pod.Count(ctx.get(), count, &counted);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return counted.count();
}

std::string Words(int n) {
  std::string text;
  for (int i = 0; i < n; ++i) text += "word" + std::to_string(i % 97) + (i % 40 == 39 ? ".\n\n" : " ");
  return text;
}

TEST(ClusterServerTest, DocumentsAndDeletesByFilterGoThroughTheLog) {
  testing::TempDir tmp;
  NatsServer::Options no;
  no.dir = (tmp.path() / "nats").string();
  ASSERT_OK_AND_ASSIGN(auto nats, NatsServer::Start(no));
  std::vector<std::unique_ptr<RagdProcess>> pods;
  for (const char* name : {"a", "b"}) {
    const std::string config = (tmp.path() / (std::string(name) + ".yaml")).string();
    std::ofstream(config) << "cluster:\n  nats_urls: [\"" << nats->url()
                          << "\"]\n  pod_id: " << name << "\n";
    auto pod = RagdProcess::Start(
        RagdProcess::OptionsFor((tmp.path() / name).string(), {"--config", config}));
    ASSERT_OK(pod.status());
    pods.push_back(*std::move(pod));
  }
  auto collections_a = v1::Collections::NewStub(pods[0]->channel());
  auto ingest_a = v1::Ingest::NewStub(pods[0]->channel());
  auto ingest_b = v1::Ingest::NewStub(pods[1]->channel());
  auto points_a = v1::Points::NewStub(pods[0]->channel());
  auto points_b = v1::Points::NewStub(pods[1]->channel());

  v1::CreateCollectionRequest create;
  create.set_name("kb");
  create.mutable_embedder()->set_name("local");
  create.mutable_chunking()->set_max_tokens(64);
  create.mutable_chunking()->set_overlap_tokens(8);
  v1::CreateCollectionResponse created;
  auto ctx = Context();
  grpc::Status st = collections_a->CreateCollection(ctx.get(), create, &created);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_TRUE(WaitForCollection(*pods[1], "kb")) << "b never applied the create";

  // A long document through b: every chunk reaches a.
  v1::UpsertDocumentRequest doc;
  doc.set_collection("kb");
  doc.mutable_document()->set_id("d1");
  doc.mutable_document()->set_text(Words(400));
  v1::UpsertDocumentResponse upserted;
  ctx = Context();
  st = ingest_b->UpsertDocument(ctx.get(), doc, &upserted);
  ASSERT_TRUE(st.ok()) << st.error_message();
  const uint64_t chunks = upserted.result().chunks();
  ASSERT_GT(chunks, 2u);
  EXPECT_EQ(StrongChunkCount(*points_a, "d1"), chunks);

  // A shorter version through a replaces it on both pods (extra chunks deleted, one entry).
  doc.mutable_document()->set_text(Words(60));
  ctx = Context();
  st = ingest_a->UpsertDocument(ctx.get(), doc, &upserted);
  ASSERT_TRUE(st.ok()) << st.error_message();
  const uint64_t fewer = upserted.result().chunks();
  ASSERT_LT(fewer, chunks);
  EXPECT_EQ(StrongChunkCount(*points_b, "d1"), fewer);
  EXPECT_EQ(StrongChunkCount(*points_a, "d1"), fewer);

  // A stream of two documents through a.
  {
    v1::IngestSummary summary;
    ctx = Context();
    auto writer = ingest_a->IngestDocuments(ctx.get(), &summary);
    for (const char* id : {"d2", "d3"}) {
      v1::IngestDocumentsRequest r;
      r.set_collection("kb");
      r.mutable_document()->set_id(id);
      r.mutable_document()->set_text(Words(150));
      ASSERT_TRUE(writer->Write(r));
    }
    writer->WritesDone();
    st = writer->Finish();
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(summary.documents_ok(), 2u);
    EXPECT_GT(StrongChunkCount(*points_b, "d2"), 0u);
    EXPECT_EQ(StrongChunkCount(*points_b, "d3"), StrongChunkCount(*points_a, "d3"));
  }

  // DeleteDocument through b, Delete by filter through a: gone from both. DeleteDocument
  // answers its log sequence, the consistency token: a SESSION read with it through a sees
  // the removal.
  v1::DeleteDocumentRequest del_doc;
  del_doc.set_collection("kb");
  del_doc.set_document_id("d1");
  v1::DeleteDocumentResponse del_doc_resp;
  ctx = Context();
  st = ingest_b->DeleteDocument(ctx.get(), del_doc, &del_doc_resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(del_doc_resp.deleted_chunks(), fewer);
  EXPECT_GT(del_doc_resp.sequence(), upserted.result().sequence());
  {
    v1::CountRequest count;
    count.set_collection("kb");
    *count.mutable_filter() = DocumentIs("d1");
    count.set_consistency(v1::READ_CONSISTENCY_SESSION);
    count.set_consistency_token(del_doc_resp.sequence());
    v1::CountResponse counted;
    ctx = Context();
    st = points_a->Count(ctx.get(), count, &counted);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(counted.count(), 0u);
    EXPECT_GE(counted.applied_sequence(), del_doc_resp.sequence());
  }
  EXPECT_EQ(StrongChunkCount(*points_a, "d1"), 0u);

  const uint64_t d2_chunks = StrongChunkCount(*points_a, "d2");
  v1::DeleteRequest by_filter;
  by_filter.set_collection("kb");
  *by_filter.mutable_filter() = DocumentIs("d2");
  v1::DeleteResponse deleted;
  ctx = Context();
  st = points_a->Delete(ctx.get(), by_filter, &deleted);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(deleted.deleted(), d2_chunks);
  EXPECT_GT(deleted.sequence(), 0u);
  EXPECT_EQ(StrongChunkCount(*points_b, "d2"), 0u);
  EXPECT_GT(StrongChunkCount(*points_b, "d3"), 0u);  // the filter matched d2 only

  // Nothing matches: no entry, and the answer names the sequence it was evaluated at.
  ctx = Context();
  st = points_b->Delete(ctx.get(), by_filter, &deleted);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(deleted.deleted(), 0u);

  // ragctl records DeleteDocument's sequence as its SESSION token, as for its other writes.
  {
    const std::string state = (tmp.path() / "ragctl-state").string();
    ASSERT_OK_AND_ASSIGN(
        testing::CommandResult r,
        testing::RunCommand({RAGCTL_BINARY, "--address", pods[1]->address(), "--json", "documents",
                             "delete", "--collection", "kb", "d3"},
                            absl::Seconds(60), {"RAGCTL_STATE_DIR=" + state}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json reply = nlohmann::json::parse(r.out, nullptr, false);
    ASSERT_TRUE(reply.is_object()) << r.out;
    const uint64_t sequence = std::stoull(reply["sequence"].get<std::string>());
    EXPECT_GT(sequence, del_doc_resp.sequence());
    EXPECT_GT(std::stoull(reply["deleted_chunks"].get<std::string>()), 0u);
    std::ifstream tokens(state + "/tokens.json");
    ASSERT_TRUE(tokens.good()) << "no token file";
    const nlohmann::json recorded = nlohmann::json::parse(tokens, nullptr, false);
    const std::string key = pods[1]->address() + "|kb";
    ASSERT_TRUE(recorded.contains(key)) << recorded.dump();
    EXPECT_EQ(recorded[key].get<uint64_t>(), sequence);
    EXPECT_EQ(StrongChunkCount(*points_a, "d3"), 0u);
  }
}

}  // namespace
}  // namespace ragd
