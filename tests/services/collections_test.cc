// ragd.v1.Collections against the real ragd: every RPC and its error codes.

#include <string>

#include <gtest/gtest.h>

#include "tests/services/service_test_util.h"

namespace ragd::testing {
namespace {

using grpc::StatusCode;

class CollectionsTest : public RagdSuite {};

TEST_F(CollectionsTest, CreateGetListDelete) {
  v1::CreateCollectionRequest request;
  request.set_name("docs");
  request.set_dimension(8);
  request.set_metric(v1::METRIC_L2);
  request.mutable_index()->mutable_hnsw()->set_m(8);
  request.set_shards(2);
  v1::CreateCollectionResponse created;
  ASSERT_GRPC_OK(client().Create(request, &created));
  EXPECT_EQ(created.collection().name(), "docs");
  EXPECT_EQ(created.collection().dimension(), 8u);
  EXPECT_EQ(created.collection().metric(), v1::METRIC_L2);
  EXPECT_EQ(created.collection().shards(), 2u);
  ASSERT_TRUE(created.collection().index().has_hnsw());
  EXPECT_EQ(created.collection().index().hnsw().m(), 8u);
  EXPECT_EQ(created.collection().index().hnsw().ef_construction(), 200u);  // default
  EXPECT_EQ(created.collection().index().hnsw().ef(), 128u);               // default
  EXPECT_EQ(created.collection().points(), 0u);
  EXPECT_GT(created.collection().created_at().seconds(), 1700000000);

  v1::CollectionInfo info;
  ASSERT_GRPC_OK(client().GetCollection("docs", &info));
  EXPECT_EQ(info.name(), "docs");
  EXPECT_EQ(info.dimension(), 8u);

  ASSERT_GRPC_OK(client().Create("another", 4));
  v1::ListCollectionsResponse list;
  ASSERT_GRPC_OK(client().List(&list));
  ASSERT_EQ(list.collections_size(), 2);
  EXPECT_EQ(list.collections(0).name(), "another");  // ordered by name
  EXPECT_EQ(list.collections(1).name(), "docs");
  EXPECT_EQ(list.collections(0).metric(), v1::METRIC_COSINE);  // UNSPECIFIED means COSINE

  ASSERT_GRPC_OK(client().DeleteCollection("docs"));
  EXPECT_GRPC_ERROR(client().GetCollection("docs"), StatusCode::NOT_FOUND, "docs");
  ASSERT_GRPC_OK(client().List(&list));
}

TEST_F(CollectionsTest, DuplicateCreateIsAlreadyExists) {
  ASSERT_GRPC_OK(client().Create("dup", 4));
  EXPECT_GRPC_ERROR(client().Create("dup", 4), StatusCode::ALREADY_EXISTS, "dup");
  EXPECT_GRPC_ERROR(client().Create("dup", 16), StatusCode::ALREADY_EXISTS, "dup");
}

TEST_F(CollectionsTest, BadNameIsInvalidArgument) {
  for (const std::string& name :
       {std::string(""), std::string("has space"), std::string("slash/x"), std::string("é"),
        std::string(65, 'a')}) {
    SCOPED_TRACE(name);
    EXPECT_GRPC_ERROR(client().Create(name, 4), StatusCode::INVALID_ARGUMENT, "name");
    EXPECT_GRPC_ERROR(client().GetCollection(name), StatusCode::INVALID_ARGUMENT, "name");
    EXPECT_GRPC_ERROR(client().DeleteCollection(name), StatusCode::INVALID_ARGUMENT, "name");
  }
  EXPECT_GRPC_OK(client().Create(std::string(64, 'a'), 4));
  EXPECT_GRPC_OK(client().Create("A-z_0-9", 4));
}

TEST_F(CollectionsTest, BadDimensionIsInvalidArgument) {
  EXPECT_GRPC_ERROR(client().Create("zero", 0), StatusCode::INVALID_ARGUMENT, "dimension");
  EXPECT_GRPC_ERROR(client().Create("huge", 65537), StatusCode::INVALID_ARGUMENT, "dimension");
  EXPECT_GRPC_OK(client().Create("one", 1));
}

TEST_F(CollectionsTest, BadIndexIsInvalidArgument) {
  v1::CreateCollectionRequest request;
  request.set_name("faiss_empty");
  request.set_dimension(8);
  request.mutable_index()->mutable_faiss();
  EXPECT_GRPC_ERROR(client().Create(request), StatusCode::INVALID_ARGUMENT, "index_factory");

  request.set_name("faiss_bogus");
  request.mutable_index()->mutable_faiss()->set_index_factory("NoSuchIndex42");
  EXPECT_GRPC_ERROR(client().Create(request), StatusCode::INVALID_ARGUMENT, "");

  request.set_name("hnsw_m");
  request.mutable_index()->mutable_hnsw()->set_m(1u << 31);
  EXPECT_GRPC_ERROR(client().Create(request), StatusCode::INVALID_ARGUMENT, "m");

  request.set_name("bad_metric");
  request.mutable_index()->Clear();
  request.set_metric(static_cast<v1::Metric>(42));
  EXPECT_GRPC_ERROR(client().Create(request), StatusCode::INVALID_ARGUMENT, "metric");

  request.set_name("bad_shards");
  request.set_metric(v1::METRIC_DOT);
  request.set_shards(1000);
  EXPECT_GRPC_ERROR(client().Create(request), StatusCode::INVALID_ARGUMENT, "shards");
}

TEST_F(CollectionsTest, UnknownCollectionIsNotFound) {
  EXPECT_GRPC_ERROR(client().GetCollection("nope"), StatusCode::NOT_FOUND, "nope");
  EXPECT_GRPC_ERROR(client().DeleteCollection("nope"), StatusCode::NOT_FOUND, "nope");
}

TEST_F(CollectionsTest, EveryIndexKindServesSearches) {
  struct Kind {
    std::string name;
    v1::IndexSpec spec;
  };
  std::vector<Kind> kinds(4);
  kinds[0].name = "hnsw";
  kinds[0].spec.mutable_hnsw();
  kinds[1].name = "faiss_hnsw";
  kinds[1].spec.mutable_faiss()->set_index_factory("HNSW32");
  kinds[2].name = "faiss_flat";
  kinds[2].spec.mutable_faiss()->set_index_factory("Flat");
  kinds[3].name = "flat";
  kinds[3].spec.mutable_flat();
  for (const Kind& kind : kinds) {
    SCOPED_TRACE(kind.name);
    v1::CreateCollectionRequest request;
    request.set_name(kind.name);
    request.set_dimension(4);
    request.set_metric(v1::METRIC_L2);
    *request.mutable_index() = kind.spec;
    v1::CreateCollectionResponse created;
    ASSERT_GRPC_OK(client().Create(request, &created));
    EXPECT_EQ(created.collection().index().kind_case(), kind.spec.kind_case());
    std::vector<v1::Point> points;
    for (int i = 0; i < 50; ++i) {
      points.push_back(MakePoint(absl::StrCat("p", i), {float(i), 0, 0, 1}));
    }
    ASSERT_GRPC_OK(client().Upsert(kind.name, points));
    v1::SearchRequest search;
    search.set_collection(kind.name);
    SetVector(search.mutable_vector(), {17.2f, 0, 0, 1});
    search.set_k(3);
    v1::SearchResponse response;
    ASSERT_GRPC_OK(client().Search(search, &response));
    ASSERT_EQ(response.hits_size(), 3);
    EXPECT_EQ(response.hits(0).point().id(), "p17");
    EXPECT_NEAR(response.hits(0).score(), -0.04f, 1e-4);  // L2: -(0.2^2)
    EXPECT_EQ(response.hits(1).point().id(), "p18");
    EXPECT_EQ(response.hits(2).point().id(), "p16");
  }
}

TEST_F(CollectionsTest, DeleteRemovesTheData) {
  ASSERT_GRPC_OK(client().Create("gone", 2));
  ASSERT_GRPC_OK(client().Upsert("gone", {MakePoint("a", {1, 0}), MakePoint("b", {0, 1})}));
  ASSERT_GRPC_OK(client().DeleteCollection("gone"));
  ASSERT_GRPC_OK(client().Create("gone", 2));
  uint64_t count = 99;
  ASSERT_GRPC_OK(client().Count("gone", nullptr, &count));
  EXPECT_EQ(count, 0u);
  v1::GetResponse got;
  ASSERT_GRPC_OK(client().Get("gone", {"a", "b"}, false, &got));
  EXPECT_EQ(got.points_size(), 0);
}

TEST_F(CollectionsTest, CountsReflectWrites) {
  ASSERT_GRPC_OK(client().Create("counts", 2));
  ASSERT_GRPC_OK(client().Upsert("counts", {MakePoint("a", {1, 0}), MakePoint("b", {0, 1})}));
  v1::CollectionInfo info;
  ASSERT_GRPC_OK(client().GetCollection("counts", &info));
  EXPECT_EQ(info.points(), 2u);
  EXPECT_GT(info.last_sequence(), 0u);
  EXPECT_GT(info.index_bytes(), 0u);
  v1::DeleteRequest del;
  del.set_collection("counts");
  del.mutable_ids()->add_ids("a");
  ASSERT_GRPC_OK(client().Delete(del));
  ASSERT_GRPC_OK(client().GetCollection("counts", &info));
  EXPECT_EQ(info.points(), 1u);
  // Vector searches and their CPU time in the index, over the wire.
  EXPECT_EQ(info.vector_searches(), 0u);
  EXPECT_EQ(info.vector_search_cpu_seconds(), 0.0);
  v1::SearchRequest search;
  search.set_collection("counts");
  SetVector(search.mutable_vector(), {1, 0});
  search.set_k(1);
  for (int i = 0; i < 2; ++i) {
    v1::SearchResponse r;
    ASSERT_GRPC_OK(client().Search(search, &r));
  }
  ASSERT_GRPC_OK(client().GetCollection("counts", &info));
  EXPECT_EQ(info.vector_searches(), 2u);
  EXPECT_GT(info.vector_search_cpu_seconds(), 0.0);
  EXPECT_LT(info.vector_search_cpu_seconds(), 10.0);
}

}  // namespace
}  // namespace ragd::testing
