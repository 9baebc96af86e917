// ragd.v1.Points.SearchBatch against the real ragd: results in order and equal to one Search
// each, per-search k/filter/mode, the all-or-nothing error with the failing index, the batch
// bound (server.max_search_batch), the empty batch, and API-key auth like Search.

#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/services/service_test_util.h"

namespace ragd::testing {
namespace {

using grpc::StatusCode;

std::string WriteFile(const TempDir& dir, const std::string& name, const std::string& text) {
  std::string path = (dir.path() / name).string();
  std::ofstream(path) << text;
  return path;
}

v1::SearchRequest Query(float x, uint32_t k) {
  v1::SearchRequest q;
  SetVector(q.mutable_vector(), {x, 1, 2, 3});
  q.set_k(k);
  return q;
}

std::vector<std::string> HitIds(const v1::SearchResponse& response) {
  std::vector<std::string> ids;
  for (const auto& hit : response.hits()) ids.push_back(hit.point().id());
  return ids;
}

grpc::Status Batch(v1::Points::Stub& points, const v1::SearchBatchRequest& request,
                   v1::SearchBatchResponse* response, const std::string& key = "") {
  grpc::ClientContext context;
  context.set_deadline(CallDeadline());
  if (!key.empty()) context.AddMetadata("authorization", "Bearer " + key);
  return points.SearchBatch(&context, request, response);
}

// ragd with a small batch bound; the collection "line": 40 points on a line in 4-d (L2), with
// lang = "ko" for even i, "en" for odd, and a BM25 index over "text of p<i>".
class SearchBatchTest : public ::testing::Test {
 protected:
  static constexpr int kMaxBatch = 300;

  void SetUp() override {
    std::string config = WriteFile(dir_, "ragd.yaml",
                                   absl::StrCat("server:\n  max_search_batch: ", kMaxBatch, "\n"));
    auto started = RagdProcess::Start(
        RagdProcess::OptionsFor((dir_.path() / "data").string(), {"--config", config}));
    ASSERT_TRUE(started.ok()) << started.status();
    ragd_ = *std::move(started);
    client_ = std::make_unique<Client>(ragd_->channel());

    v1::CreateCollectionRequest create;
    create.set_name("line");
    create.set_dimension(4);
    create.set_metric(v1::METRIC_L2);
    create.mutable_lexical()->set_enabled(true);
    ASSERT_GRPC_OK(client_->Create(create));
    std::vector<v1::Point> points;
    for (int i = 0; i < 40; ++i) {
      v1::Point p = MakePoint(absl::StrCat("p", i), {float(i), 1, 2, 3});
      (*p.mutable_metadata())["lang"].set_string_value(i % 2 == 0 ? "ko" : "en");
      points.push_back(std::move(p));
    }
    ASSERT_GRPC_OK(client_->Upsert("line", points));
  }

  v1::Points::Stub& points() { return client_->points(); }

  TempDir dir_;
  std::unique_ptr<RagdProcess> ragd_;
  std::unique_ptr<Client> client_;
};

TEST_F(SearchBatchTest, ResultsInOrderWithEachSearchsOwnKFilterAndMode) {
  v1::SearchBatchRequest request;
  request.set_collection("line");
  *request.add_searches() = Query(5.2f, 3);
  v1::SearchRequest ko = Query(30.1f, 2);
  ko.mutable_filter()->mutable_condition()->set_key("lang");
  ko.mutable_filter()->mutable_condition()->mutable_equals()->set_string_value("ko");
  *request.add_searches() = ko;
  v1::SearchRequest named = Query(0, 1);
  named.set_collection("line");  // the batch's own name is accepted too
  *request.add_searches() = named;
  v1::SearchRequest text;
  text.set_text("p17");
  text.set_mode(v1::SEARCH_MODE_TEXT);
  text.set_k(1);
  *request.add_searches() = text;

  v1::SearchBatchResponse response;
  ASSERT_GRPC_OK(Batch(points(), request, &response));
  ASSERT_EQ(response.results_size(), 4);
  EXPECT_EQ(HitIds(response.results(0)), (std::vector<std::string>{"p5", "p6", "p4"}));
  EXPECT_EQ(HitIds(response.results(1)), (std::vector<std::string>{"p30", "p32"}));
  EXPECT_EQ(HitIds(response.results(2)), (std::vector<std::string>{"p0"}));
  EXPECT_EQ(HitIds(response.results(3)), (std::vector<std::string>{"p17"}));
  EXPECT_TRUE(response.results(3).hits(0).has_text_leg());
  // Payload as in Search (with_payload defaults to true).
  EXPECT_EQ(response.results(0).hits(0).point().text(), "text of p5");
}

// More searches than workers, so that they run in parallel: each result equals what Search
// answers for the same request, ids and scores, in the order asked.
TEST_F(SearchBatchTest, ALargeBatchEqualsOneSearchEach) {
  v1::SearchBatchRequest request;
  request.set_collection("line");
  for (int i = 0; i < kMaxBatch; ++i) {
    *request.add_searches() = Query(static_cast<float>(i % 45) - 2.3f, 1 + i % 7);
  }
  v1::SearchBatchResponse response;
  ASSERT_GRPC_OK(Batch(points(), request, &response));
  ASSERT_EQ(response.results_size(), kMaxBatch);
  for (int i = 0; i < kMaxBatch; ++i) {
    v1::SearchRequest one = request.searches(i);
    one.set_collection("line");
    v1::SearchResponse expected;
    ASSERT_GRPC_OK(client_->Search(one, &expected));
    ASSERT_EQ(response.results(i).hits_size(), static_cast<int>(1 + i % 7)) << i;
    ASSERT_EQ(HitIds(response.results(i)), HitIds(expected)) << i;
    for (int h = 0; h < expected.hits_size(); ++h) {
      EXPECT_EQ(response.results(i).hits(h).score(), expected.hits(h).score()) << i;
    }
  }
}

// Search and SearchBatch keep their messages on a per-call arena with a 16 KiB (64 KiB for
// a batch) first block (services/api/arena_allocator.h): 1536-d queries, 20 KB payloads and a
// 400 KB batch take further blocks, and every byte must come back intact.
TEST(SearchArenaTest, MessagesLargerThanTheFirstArenaBlockRoundTrip) {
  TempDir dir;
  auto ragd = RagdProcess::Start(RagdProcess::OptionsFor((dir.path() / "data").string()));
  ASSERT_TRUE(ragd.ok()) << ragd.status();
  Client client((*ragd)->channel());
  constexpr int kDim = 1536;
  ASSERT_GRPC_OK(client.Create("wide", kDim, v1::METRIC_COSINE));
  auto vector_of = [](int i) {
    std::vector<float> v(kDim, 0.01f);
    v[i] = 1;
    return v;
  };
  std::vector<v1::Point> points;
  for (int i = 0; i < 12; ++i) {
    v1::Point p = MakePoint(absl::StrCat("p", i), vector_of(i));
    p.set_text(std::string(20000, static_cast<char>('a' + i)));
    points.push_back(std::move(p));
  }
  ASSERT_GRPC_OK(client.Upsert("wide", points));

  v1::SearchRequest one;
  one.set_collection("wide");
  SetVector(one.mutable_vector(), vector_of(3));
  one.set_k(10);
  v1::SearchResponse found;
  ASSERT_GRPC_OK(client.Search(one, &found));
  ASSERT_EQ(found.hits_size(), 10);
  EXPECT_EQ(found.hits(0).point().id(), "p3");
  EXPECT_EQ(found.hits(0).point().text(), std::string(20000, 'd'));

  v1::SearchBatchRequest batch;
  batch.set_collection("wide");
  for (int q = 0; q < 64; ++q) {
    v1::SearchRequest* s = batch.add_searches();
    SetVector(s->mutable_vector(), vector_of(q % 12));
    s->set_k(2);
  }
  v1::SearchBatchResponse results;
  ASSERT_GRPC_OK(Batch(client.points(), batch, &results));
  ASSERT_EQ(results.results_size(), 64);
  for (int q = 0; q < 64; ++q) {
    ASSERT_EQ(results.results(q).hits_size(), 2) << q;
    EXPECT_EQ(results.results(q).hits(0).point().id(), absl::StrCat("p", q % 12)) << q;
    EXPECT_EQ(results.results(q).hits(0).point().text(),
              std::string(20000, static_cast<char>('a' + q % 12)))
        << q;
  }
}

TEST_F(SearchBatchTest, EmptyBatchIsOkWithNoResults) {
  v1::SearchBatchRequest request;
  request.set_collection("line");
  v1::SearchBatchResponse response;
  ASSERT_GRPC_OK(Batch(points(), request, &response));
  EXPECT_EQ(response.results_size(), 0);
}

TEST_F(SearchBatchTest, TheFirstFailingSearchFailsTheCallNamingItsIndex) {
  v1::SearchBatchResponse response;
  // A shape error (checked before anything runs).
  v1::SearchBatchRequest zero_k;
  zero_k.set_collection("line");
  *zero_k.add_searches() = Query(1, 1);
  *zero_k.add_searches() = Query(1, 1);
  *zero_k.add_searches() = Query(1, 0);
  EXPECT_GRPC_ERROR(Batch(points(), zero_k, &response), StatusCode::INVALID_ARGUMENT,
                    "searches[2]: k");
  // An error found by the engine: wrong dimension; the lowest failing index is reported.
  v1::SearchBatchRequest wrong_dim;
  wrong_dim.set_collection("line");
  for (int i = 0; i < 20; ++i) *wrong_dim.add_searches() = Query(1, 1);
  SetVector(wrong_dim.mutable_searches(7)->mutable_vector(), {1, 2});
  SetVector(wrong_dim.mutable_searches(12)->mutable_vector(), {1, 2, 3});
  EXPECT_GRPC_ERROR(Batch(points(), wrong_dim, &response), StatusCode::INVALID_ARGUMENT,
                    "searches[7]: ");
  // Another collection inside the batch.
  v1::SearchBatchRequest other;
  other.set_collection("line");
  *other.add_searches() = Query(1, 1);
  other.mutable_searches(0)->set_collection("other");
  EXPECT_GRPC_ERROR(Batch(points(), other, &response), StatusCode::INVALID_ARGUMENT,
                    "searches[0]: collection");
  // Each search keeps its own code: TEXT on a collection without a lexical index.
  v1::CreateCollectionRequest plain;
  plain.set_name("plain");
  plain.set_dimension(4);
  ASSERT_GRPC_OK(client_->Create(plain));
  v1::SearchBatchRequest text;
  text.set_collection("plain");
  *text.add_searches() = Query(1, 1);
  text.add_searches()->set_text("hello");
  text.mutable_searches(1)->set_mode(v1::SEARCH_MODE_TEXT);
  text.mutable_searches(1)->set_k(1);
  EXPECT_GRPC_ERROR(Batch(points(), text, &response), StatusCode::FAILED_PRECONDITION,
                    "searches[1]: ");
  // Unknown collection, and a bad collection name.
  v1::SearchBatchRequest missing;
  missing.set_collection("missing");
  *missing.add_searches() = Query(1, 1);
  *missing.add_searches() = Query(2, 1);
  EXPECT_GRPC_ERROR(Batch(points(), missing, &response), StatusCode::NOT_FOUND, "missing");
  missing.set_collection("bad name");
  EXPECT_GRPC_ERROR(Batch(points(), missing, &response), StatusCode::INVALID_ARGUMENT,
                    "collection");
}

TEST_F(SearchBatchTest, MoreThanMaxSearchBatchIsInvalidArgument) {
  v1::SearchBatchRequest request;
  request.set_collection("line");
  for (int i = 0; i < kMaxBatch + 1; ++i) *request.add_searches() = Query(1, 1);
  v1::SearchBatchResponse response;
  EXPECT_GRPC_ERROR(Batch(points(), request, &response), StatusCode::INVALID_ARGUMENT,
                    "server.max_search_batch");
}

// Same role (reader) and collection scope as Search.
TEST(SearchBatchAuth, ReaderKeysScopedToTheCollection) {
  constexpr const char* kAdmin = "admin-secret-batch-1";
  constexpr const char* kKbReader = "kb-reader-secret-batch-2";
  TempDir dir;
  std::string config = WriteFile(
      dir, "ragd.yaml",
      absl::StrCat("auth:\n  api_keys:\n"
                   "    - {name: ops, role: admin, key_file: ",
                   WriteFile(dir, "admin.key", kAdmin),
                   "}\n    - {name: kb-viewer, role: reader, collections: [kb], key_file: ",
                   WriteFile(dir, "kb-reader.key", kKbReader), "}\n"));
  auto ragd = RagdProcess::Start(
      RagdProcess::OptionsFor((dir.path() / "data").string(), {"--config", config}));
  ASSERT_TRUE(ragd.ok()) << ragd.status();
  auto collections = v1::Collections::NewStub((*ragd)->channel());
  auto points = v1::Points::NewStub((*ragd)->channel());
  for (const char* name : {"kb", "hr"}) {
    grpc::ClientContext context;
    context.set_deadline(CallDeadline(10));
    context.AddMetadata("authorization", absl::StrCat("Bearer ", kAdmin));
    v1::CreateCollectionRequest request;
    request.set_name(name);
    request.set_dimension(4);
    v1::CreateCollectionResponse created;
    ASSERT_GRPC_OK(collections->CreateCollection(&context, request, &created));
  }
  v1::SearchBatchRequest request;
  request.set_collection("kb");
  *request.add_searches() = Query(1, 1);
  *request.add_searches() = Query(2, 1);
  v1::SearchBatchResponse response;
  EXPECT_GRPC_OK(Batch(*points, request, &response, kKbReader));
  EXPECT_EQ(response.results_size(), 2);
  EXPECT_GRPC_ERROR(Batch(*points, request, &response), StatusCode::UNAUTHENTICATED, "no API key");
  request.set_collection("hr");
  EXPECT_GRPC_ERROR(Batch(*points, request, &response, kKbReader), StatusCode::PERMISSION_DENIED,
                    "'hr'");
  EXPECT_GRPC_OK(Batch(*points, request, &response, kAdmin));
}

}  // namespace
}  // namespace ragd::testing
