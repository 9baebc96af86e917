// ragd.v1.Points against the real ragd: every RPC, filters, and every error code.

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/services/service_test_util.h"

namespace ragd::testing {
namespace {

using grpc::StatusCode;

v1::Value Str(const std::string& s) {
  v1::Value v;
  v.set_string_value(s);
  return v;
}
v1::Value Int(int64_t i) {
  v1::Value v;
  v.set_int_value(i);
  return v;
}

v1::Filter KeyEquals(const std::string& key, v1::Value value) {
  v1::Filter f;
  f.mutable_condition()->set_key(key);
  *f.mutable_condition()->mutable_equals() = std::move(value);
  return f;
}

std::vector<std::string> HitIds(const v1::SearchResponse& response) {
  std::vector<std::string> ids;
  for (const auto& hit : response.hits()) ids.push_back(hit.point().id());
  return ids;
}

class PointsTest : public RagdSuite {
 protected:
  // 40 points on a line in 4-d (L2 makes the expected order obvious), with metadata:
  // lang = "ko" for even i, "en" for odd; year = 2000 + i; tags = ["t<i%3>"]; doc = "doc<i/10>".
  void MakeLine(const std::string& name) {
    ASSERT_GRPC_OK(client().Create(name, 4, v1::METRIC_L2));
    std::vector<v1::Point> points;
    for (int i = 0; i < 40; ++i) {
      v1::Point p = MakePoint(absl::StrCat("p", i), {float(i), 1, 2, 3},
                              absl::StrCat("doc", i / 10));
      (*p.mutable_metadata())["lang"] = Str(i % 2 == 0 ? "ko" : "en");
      (*p.mutable_metadata())["year"] = Int(2000 + i);
      (*p.mutable_metadata())["tags"].mutable_list_value()->add_values(absl::StrCat("t", i % 3));
      points.push_back(std::move(p));
    }
    ASSERT_GRPC_OK(client().Upsert(name, points));
  }

  v1::SearchResponse SearchLine(const std::string& name, float x, uint32_t k,
                                const v1::Filter* filter = nullptr) {
    v1::SearchRequest request;
    request.set_collection(name);
    SetVector(request.mutable_vector(), {x, 1, 2, 3});
    request.set_k(k);
    if (filter != nullptr) *request.mutable_filter() = *filter;
    v1::SearchResponse response;
    grpc::Status s = client().Search(request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }
};

TEST_F(PointsTest, UpsertThenGetRoundTripsEveryField) {
  ASSERT_GRPC_OK(client().Create("c", 3, v1::METRIC_DOT));
  v1::Point p = MakePoint("id-1", {0.5f, -1.25f, 3}, "the-doc");
  p.set_text("한국어 text\nwith lines");
  auto& md = *p.mutable_metadata();
  md["s"] = Str("x");
  md["i"] = Int(-7);
  md["d"].set_double_value(2.5);
  md["b"].set_bool_value(true);
  md["l"].mutable_list_value()->add_values("a");
  md["l"].mutable_list_value()->add_values("b");
  v1::UpsertResponse upserted;
  ASSERT_GRPC_OK(client().Upsert("c", {p}, &upserted));
  EXPECT_EQ(upserted.upserted(), 1u);
  EXPECT_GT(upserted.sequence(), 0u);

  v1::GetResponse got;
  ASSERT_GRPC_OK(client().Get("c", {"id-1"}, true, &got));
  ASSERT_EQ(got.points_size(), 1);
  const v1::Point& q = got.points(0);
  EXPECT_EQ(q.id(), "id-1");
  EXPECT_EQ(q.text(), p.text());
  EXPECT_EQ(q.document_id(), "the-doc");
  ASSERT_EQ(q.vector_size(), 3);
  EXPECT_EQ(q.vector(1), -1.25f);  // DOT stores vectors as given
  EXPECT_EQ(q.metadata().at("s").string_value(), "x");
  EXPECT_EQ(q.metadata().at("i").int_value(), -7);
  EXPECT_EQ(q.metadata().at("d").double_value(), 2.5);
  EXPECT_TRUE(q.metadata().at("b").bool_value());
  ASSERT_EQ(q.metadata().at("l").list_value().values_size(), 2);
  EXPECT_EQ(q.metadata().at("l").list_value().values(1), "b");

  ASSERT_GRPC_OK(client().Get("c", {"id-1"}, false, &got));
  EXPECT_EQ(got.points(0).vector_size(), 0);
}

TEST_F(PointsTest, GetKeepsOrderAndOmitsUnknownIds) {
  ASSERT_GRPC_OK(client().Create("c", 2));
  ASSERT_GRPC_OK(client().Upsert("c", {MakePoint("a", {1, 0}), MakePoint("b", {0, 1})}));
  v1::GetResponse got;
  ASSERT_GRPC_OK(client().Get("c", {"b", "missing", "a"}, false, &got));
  ASSERT_EQ(got.points_size(), 2);
  EXPECT_EQ(got.points(0).id(), "b");
  EXPECT_EQ(got.points(1).id(), "a");
  EXPECT_GRPC_ERROR(client().Get("c", {}, false, &got), StatusCode::INVALID_ARGUMENT, "ids");
  EXPECT_GRPC_ERROR(client().Get("c", {""}, false, &got), StatusCode::INVALID_ARGUMENT, "ids");
}

TEST_F(PointsTest, UpsertReplacesAnExistingId) {
  ASSERT_GRPC_OK(client().Create("c", 2, v1::METRIC_L2));
  ASSERT_GRPC_OK(client().Upsert("c", {MakePoint("x", {10, 10}), MakePoint("y", {0, 0})}));
  v1::Point replaced = MakePoint("x", {-10, -10});
  replaced.set_text("new text");
  ASSERT_GRPC_OK(client().Upsert("c", {replaced}));
  uint64_t count = 0;
  ASSERT_GRPC_OK(client().Count("c", nullptr, &count));
  EXPECT_EQ(count, 2u);
  v1::GetResponse got;
  ASSERT_GRPC_OK(client().Get("c", {"x"}, true, &got));
  ASSERT_EQ(got.points_size(), 1);
  EXPECT_EQ(got.points(0).text(), "new text");
  EXPECT_EQ(got.points(0).vector(0), -10);
  // The old vector is not findable any more: the nearest point to (10,10) is now y.
  v1::SearchRequest search;
  search.set_collection("c");
  SetVector(search.mutable_vector(), {10, 10});
  search.set_k(2);
  v1::SearchResponse response;
  ASSERT_GRPC_OK(client().Search(search, &response));
  ASSERT_EQ(response.hits_size(), 2);
  EXPECT_EQ(response.hits(0).point().id(), "y");
  EXPECT_EQ(response.hits(1).point().id(), "x");
  EXPECT_NEAR(response.hits(1).score(), -800.0f, 1e-3);
}

TEST_F(PointsTest, UnknownCollectionIsNotFound) {
  EXPECT_GRPC_ERROR(client().Upsert("nope", {MakePoint("a", {1})}), StatusCode::NOT_FOUND,
                    "nope");
  v1::GetResponse got;
  EXPECT_GRPC_ERROR(client().Get("nope", {"a"}, false, &got), StatusCode::NOT_FOUND, "nope");
  v1::SearchRequest search;
  search.set_collection("nope");
  search.mutable_vector()->Add(1.0f);
  search.set_k(1);
  v1::SearchResponse response;
  EXPECT_GRPC_ERROR(client().Search(search, &response), StatusCode::NOT_FOUND, "nope");
  v1::DeleteRequest del;
  del.set_collection("nope");
  del.mutable_ids()->add_ids("a");
  EXPECT_GRPC_ERROR(client().Delete(del), StatusCode::NOT_FOUND, "nope");
  uint64_t count;
  EXPECT_GRPC_ERROR(client().Count("nope", nullptr, &count), StatusCode::NOT_FOUND, "nope");
}

TEST_F(PointsTest, InvalidBatchesAreRejectedWhole) {
  ASSERT_GRPC_OK(client().Create("c", 3));
  auto good = [](const std::string& id) { return MakePoint(id, {1, 2, 3}); };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();

  EXPECT_GRPC_ERROR(client().Upsert("c", {}), StatusCode::INVALID_ARGUMENT, "points");
  EXPECT_GRPC_ERROR(client().Upsert("c", {good("ok"), MakePoint("short", {1, 2})}),
                    StatusCode::INVALID_ARGUMENT, "dimension");
  EXPECT_GRPC_ERROR(client().Upsert("c", {good("ok"), MakePoint("nan", {1, nan, 3})}),
                    StatusCode::INVALID_ARGUMENT, "points[1]");
  EXPECT_GRPC_ERROR(client().Upsert("c", {MakePoint("inf", {inf, 0, 0}), good("ok")}),
                    StatusCode::INVALID_ARGUMENT, "points[0]");
  EXPECT_GRPC_ERROR(client().Upsert("c", {good("ok"), good("")}), StatusCode::INVALID_ARGUMENT,
                    "id");
  EXPECT_GRPC_ERROR(client().Upsert("c", {good(std::string(257, 'x'))}),
                    StatusCode::INVALID_ARGUMENT, "id");
  EXPECT_GRPC_ERROR(client().Upsert("c", {good("same"), good("other"), good("same")}),
                    StatusCode::INVALID_ARGUMENT, "duplicate");
  v1::Point big = good("big");
  big.set_text(std::string((1 << 20) + 1, 't'));  // engine.max_text_bytes defaults to 1 MiB
  EXPECT_GRPC_ERROR(client().Upsert("c", {good("ok"), big}), StatusCode::INVALID_ARGUMENT,
                    "text");
  v1::Point unset_value = good("unset");
  (*unset_value.mutable_metadata())["k"];  // a Value with no kind set
  EXPECT_GRPC_ERROR(client().Upsert("c", {unset_value}), StatusCode::INVALID_ARGUMENT,
                    "points[0].metadata[\"k\"]");
  EXPECT_GRPC_ERROR(client().Upsert("bad name", {good("ok")}), StatusCode::INVALID_ARGUMENT,
                    "collection");

  // Nothing of any rejected batch was written.
  uint64_t count = 99;
  ASSERT_GRPC_OK(client().Count("c", nullptr, &count));
  EXPECT_EQ(count, 0u);
  // A 256-byte id is fine.
  EXPECT_GRPC_OK(client().Upsert("c", {good(std::string(256, 'x'))}));
}

TEST_F(PointsTest, SearchReturnsNearestFirstWithMetricScores) {
  MakeLine("line");
  v1::SearchResponse response = SearchLine("line", 12.4f, 5);
  EXPECT_EQ(HitIds(response), (std::vector<std::string>{"p12", "p13", "p11", "p14", "p10"}));
  EXPECT_NEAR(response.hits(0).score(), -0.16f, 1e-4);
  for (int i = 1; i < response.hits_size(); ++i) {
    EXPECT_GE(response.hits(i - 1).score(), response.hits(i).score());
  }
  EXPECT_EQ(response.hits(0).point().text(), "text of p12");  // payload by default
  EXPECT_EQ(response.hits(0).point().vector_size(), 0);        // vectors only when asked

  ASSERT_GRPC_OK(client().Create("cos", 2, v1::METRIC_COSINE));
  ASSERT_GRPC_OK(client().Upsert("cos", {MakePoint("east", {3, 0}), MakePoint("ne", {1, 1})}));
  v1::SearchRequest request;
  request.set_collection("cos");
  SetVector(request.mutable_vector(), {2, 0});
  request.set_k(2);
  request.set_with_vectors(true);
  request.set_with_payload(false);
  ASSERT_GRPC_OK(client().Search(request, &response));
  ASSERT_EQ(response.hits_size(), 2);
  EXPECT_EQ(response.hits(0).point().id(), "east");
  EXPECT_NEAR(response.hits(0).score(), 1.0f, 1e-5);
  EXPECT_NEAR(response.hits(1).score(), std::sqrt(0.5f), 1e-5);
  EXPECT_NEAR(response.hits(0).point().vector(0), 1.0f, 1e-5);  // COSINE stores unit vectors
  EXPECT_EQ(response.hits(0).point().text(), "");                 // with_payload = false

  ASSERT_GRPC_OK(client().Create("dot", 2, v1::METRIC_DOT));
  ASSERT_GRPC_OK(client().Upsert("dot", {MakePoint("long", {3, 0}), MakePoint("ne", {1, 1})}));
  request.set_collection("dot");
  ASSERT_GRPC_OK(client().Search(request, &response));
  ASSERT_EQ(response.hits_size(), 2);
  EXPECT_EQ(response.hits(0).point().id(), "long");
  EXPECT_NEAR(response.hits(0).score(), 6.0f, 1e-5);
  EXPECT_NEAR(response.hits(1).score(), 2.0f, 1e-5);
}

// A quantized collection over the wire: the spec round-trips, searches re-score with the
// stored float32 vectors (exact scores) unless `rescore` is false, `oversampling` is checked.
TEST_F(PointsTest, QuantizedCollectionsRescoreExactly) {
  v1::CreateCollectionRequest create;
  create.set_name("q8");
  create.set_dimension(8);
  create.set_metric(v1::METRIC_L2);
  create.mutable_index()->mutable_hnsw()->set_quantization(v1::QUANTIZATION_INT8);
  ASSERT_GRPC_OK(client().Create(create));
  v1::CollectionInfo info;
  ASSERT_GRPC_OK(client().GetCollection("q8", &info));
  EXPECT_EQ(info.index().hnsw().quantization(), v1::QUANTIZATION_INT8);
  // 400 points (int8 trains at 256) on a curve, so that scores are easy to compute.
  std::vector<v1::Point> points;
  auto vector_of = [](int i) {
    std::vector<float> v(8);
    for (int d = 0; d < 8; ++d) v[d] = std::sin(0.01f * static_cast<float>(i * (d + 1))) * 3;
    return v;
  };
  for (int i = 0; i < 400; ++i) points.push_back(MakePoint(absl::StrCat("p", i), vector_of(i)));
  ASSERT_GRPC_OK(client().Upsert("q8", points));
  v1::SearchRequest request;
  request.set_collection("q8");
  std::vector<float> query = vector_of(123);
  query[0] += 0.05f;
  SetVector(request.mutable_vector(), query);
  request.set_k(5);
  v1::SearchResponse response;
  ASSERT_GRPC_OK(client().Search(request, &response));
  ASSERT_EQ(response.hits_size(), 5);
  EXPECT_EQ(response.hits(0).point().id(), "p123");
  EXPECT_NEAR(response.hits(0).score(), -0.0025f, 1e-6);  // exact: -(0.05^2)
  for (const auto& hit : response.hits()) {
    const std::vector<float> v = vector_of(std::stoi(hit.point().id().substr(1)));
    float l2 = 0;
    for (int d = 0; d < 8; ++d) l2 += (v[d] - query[d]) * (v[d] - query[d]);
    EXPECT_NEAR(hit.score(), -l2, 1e-5) << hit.point().id();
  }
  request.set_rescore(false);
  ASSERT_GRPC_OK(client().Search(request, &response));
  ASSERT_EQ(response.hits_size(), 5);
  EXPECT_NEAR(response.hits(0).score(), -0.0025f, 0.01);  // from the codes: close
  request.set_rescore(true);
  request.set_oversampling(0.5f);
  EXPECT_EQ(client().Search(request, &response).error_code(), StatusCode::INVALID_ARGUMENT);
  request.set_oversampling(10);
  ASSERT_GRPC_OK(client().Search(request, &response));
  EXPECT_EQ(response.hits(0).point().id(), "p123");

  create.set_name("bad");
  create.mutable_index()->mutable_hnsw()->set_quantization(static_cast<v1::Quantization>(5));
  EXPECT_EQ(client().Create(create).error_code(), StatusCode::INVALID_ARGUMENT);
}

TEST_F(PointsTest, SearchHonoursKEfAndMinScore) {
  MakeLine("line");
  EXPECT_EQ(SearchLine("line", 0, 1).hits_size(), 1);
  EXPECT_EQ(SearchLine("line", 0, 100).hits_size(), 40);  // k above the size returns all
  v1::SearchRequest request;
  request.set_collection("line");
  SetVector(request.mutable_vector(), {20, 1, 2, 3});
  request.set_k(10);
  request.set_ef(200);
  request.set_min_score(-4.5f);  // within distance ~2.1: x in 18..22
  v1::SearchResponse response;
  ASSERT_GRPC_OK(client().Search(request, &response));
  std::set<std::string> ids;
  for (const auto& hit : response.hits()) ids.insert(hit.point().id());
  EXPECT_EQ(ids, (std::set<std::string>{"p18", "p19", "p20", "p21", "p22"}));
}

TEST_F(PointsTest, SearchRejectsBadRequests) {
  MakeLine("line");
  v1::SearchRequest base;
  base.set_collection("line");
  SetVector(base.mutable_vector(), {1, 1, 2, 3});
  base.set_k(3);
  v1::SearchResponse response;

  v1::SearchRequest r = base;
  r.set_k(0);
  EXPECT_GRPC_ERROR(client().Search(r, &response), StatusCode::INVALID_ARGUMENT, "k");
  r = base;
  r.set_k(100000);  // above engine.max_k
  EXPECT_GRPC_ERROR(client().Search(r, &response), StatusCode::INVALID_ARGUMENT, "k");
  r = base;
  r.mutable_vector()->Add(4.0f);
  EXPECT_GRPC_ERROR(client().Search(r, &response), StatusCode::INVALID_ARGUMENT, "dimension");
  r = base;
  r.clear_vector();
  EXPECT_GRPC_ERROR(client().Search(r, &response), StatusCode::INVALID_ARGUMENT, "vector");
  r = base;
  r.set_vector(0, std::numeric_limits<float>::quiet_NaN());
  EXPECT_GRPC_ERROR(client().Search(r, &response), StatusCode::INVALID_ARGUMENT, "");
  r = base;
  r.mutable_filter();  // a filter with nothing set
  EXPECT_GRPC_ERROR(client().Search(r, &response), StatusCode::INVALID_ARGUMENT, "filter");
  r = base;
  r.mutable_filter()->mutable_condition()->set_key("lang");  // no equals/in/range
  EXPECT_GRPC_ERROR(client().Search(r, &response), StatusCode::INVALID_ARGUMENT,
                    "filter.condition");
  r = base;
  r.mutable_filter()->mutable_and_();  // empty group
  EXPECT_GRPC_ERROR(client().Search(r, &response), StatusCode::INVALID_ARGUMENT, "filter.and");
  r = base;
  r.mutable_filter()->mutable_condition()->set_key("year");
  r.mutable_filter()->mutable_condition()->mutable_range();  // no bounds
  EXPECT_GRPC_ERROR(client().Search(r, &response), StatusCode::INVALID_ARGUMENT, "range");
}

TEST_F(PointsTest, SearchWithFilters) {
  MakeLine("line");
  // equals on a string
  v1::Filter ko = KeyEquals("lang", Str("ko"));
  EXPECT_EQ(HitIds(SearchLine("line", 13, 3, &ko)),
            (std::vector<std::string>{"p12", "p14", "p10"}));
  // range on an int field
  v1::Filter range;
  range.mutable_condition()->set_key("year");
  range.mutable_condition()->mutable_range()->set_gte(2030);
  range.mutable_condition()->mutable_range()->set_lt(2033);
  EXPECT_EQ(HitIds(SearchLine("line", 0, 10, &range)),
            (std::vector<std::string>{"p30", "p31", "p32"}));
  // in, against a list-of-strings field
  v1::Filter in;
  in.mutable_condition()->set_key("tags");
  *in.mutable_condition()->mutable_in()->add_values() = Str("t0");
  EXPECT_EQ(HitIds(SearchLine("line", 7, 2, &in)), (std::vector<std::string>{"p6", "p9"}));
  // document_id
  v1::Filter doc;
  doc.mutable_condition()->set_document_id(true);
  *doc.mutable_condition()->mutable_equals() = Str("doc2");
  EXPECT_EQ(HitIds(SearchLine("line", 0, 2, &doc)), (std::vector<std::string>{"p20", "p21"}));
  // and(not(ko), doc2) = the odd points of doc2
  v1::Filter and_filter;
  *and_filter.mutable_and_()->add_filters() = doc;
  *and_filter.mutable_and_()->add_filters()->mutable_not_() = ko;
  EXPECT_EQ(HitIds(SearchLine("line", 0, 3, &and_filter)),
            (std::vector<std::string>{"p21", "p23", "p25"}));
  // or(year == 2001, year == 2039)
  v1::Filter or_filter;
  *or_filter.mutable_or_()->add_filters() = KeyEquals("year", Int(2001));
  *or_filter.mutable_or_()->add_filters() = KeyEquals("year", Int(2039));
  EXPECT_EQ(HitIds(SearchLine("line", 0, 10, &or_filter)),
            (std::vector<std::string>{"p1", "p39"}));
  // nothing matches
  v1::Filter none = KeyEquals("lang", Str("fr"));
  EXPECT_EQ(SearchLine("line", 0, 10, &none).hits_size(), 0);
}

TEST_F(PointsTest, FilteredSearchFindsTheTrueTopKAmongFewMatches) {
  // 2,000 points, 1% of them tagged: the filtered search must return exactly the nearest
  // tagged points, not whatever tagged points an unfiltered top-k happened to contain.
  ASSERT_GRPC_OK(client().Create("big", 8, v1::METRIC_L2));
  std::vector<v1::Point> batch;
  for (int i = 0; i < 2000; ++i) {
    std::vector<float> v(8);
    for (int d = 0; d < 8; ++d) v[d] = std::sin(float(i * (d + 1)) * 0.37f) * 10;
    v1::Point p = MakePoint(absl::StrCat("p", i), v);
    (*p.mutable_metadata())["rare"].set_bool_value(i % 100 == 7);
    batch.push_back(std::move(p));
    if (batch.size() == 500) {
      ASSERT_GRPC_OK(client().Upsert("big", std::move(batch)));
      batch.clear();
    }
  }
  v1::Filter rare;
  rare.mutable_condition()->set_key("rare");
  rare.mutable_condition()->mutable_equals()->set_bool_value(true);
  v1::SearchRequest request;
  request.set_collection("big");
  SetVector(request.mutable_vector(), {0, 0, 0, 0, 0, 0, 0, 0});
  request.set_k(5);
  *request.mutable_filter() = rare;
  request.set_with_vectors(true);
  v1::SearchResponse response;
  ASSERT_GRPC_OK(client().Search(request, &response));
  ASSERT_EQ(response.hits_size(), 5);
  // Brute force over the 20 tagged points.
  std::vector<std::pair<float, std::string>> expected;
  for (int i = 7; i < 2000; i += 100) {
    float d = 0;
    for (int k = 0; k < 8; ++k) {
      float x = std::sin(float(i * (k + 1)) * 0.37f) * 10;
      d += x * x;
    }
    expected.emplace_back(-d, absl::StrCat("p", i));
  }
  std::sort(expected.rbegin(), expected.rend());
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(response.hits(i).point().id(), expected[i].second) << i;
    EXPECT_NEAR(response.hits(i).score(), expected[i].first, 1e-2);
  }
  uint64_t count = 0;
  ASSERT_GRPC_OK(client().Count("big", &rare, &count));
  EXPECT_EQ(count, 20u);
}

TEST_F(PointsTest, DeleteByIdsAndByFilter) {
  MakeLine("line");
  v1::DeleteRequest by_ids;
  by_ids.set_collection("line");
  by_ids.mutable_ids()->add_ids("p12");
  by_ids.mutable_ids()->add_ids("p13");
  by_ids.mutable_ids()->add_ids("unknown");
  v1::DeleteResponse deleted;
  ASSERT_GRPC_OK(client().Delete(by_ids, &deleted));
  EXPECT_EQ(deleted.deleted(), 2u);  // unknown ids are ignored
  EXPECT_EQ(HitIds(SearchLine("line", 12.4f, 2)), (std::vector<std::string>{"p11", "p14"}));
  v1::GetResponse got;
  ASSERT_GRPC_OK(client().Get("line", {"p12", "p13"}, false, &got));
  EXPECT_EQ(got.points_size(), 0);

  v1::DeleteRequest by_filter;
  by_filter.set_collection("line");
  *by_filter.mutable_filter() = KeyEquals("lang", Str("ko"));
  ASSERT_GRPC_OK(client().Delete(by_filter, &deleted));
  EXPECT_EQ(deleted.deleted(), 19u);  // 20 even points, p12 already gone
  uint64_t count = 0;
  ASSERT_GRPC_OK(client().Count("line", nullptr, &count));
  EXPECT_EQ(count, 19u);
  v1::SearchResponse remaining = SearchLine("line", 20, 40);
  for (const auto& hit : remaining.hits()) {
    EXPECT_EQ(hit.point().metadata().at("lang").string_value(), "en") << hit.point().id();
  }

  v1::DeleteRequest neither;
  neither.set_collection("line");
  EXPECT_GRPC_ERROR(client().Delete(neither), StatusCode::INVALID_ARGUMENT, "ids or filter");
  v1::DeleteRequest empty_ids;
  empty_ids.set_collection("line");
  empty_ids.mutable_ids();
  EXPECT_GRPC_ERROR(client().Delete(empty_ids), StatusCode::INVALID_ARGUMENT, "ids");
  v1::DeleteRequest bad_filter;
  bad_filter.set_collection("line");
  bad_filter.mutable_filter()->mutable_or_();
  EXPECT_GRPC_ERROR(client().Delete(bad_filter), StatusCode::INVALID_ARGUMENT, "filter");
}

TEST_F(PointsTest, CountWithAndWithoutFilter) {
  MakeLine("line");
  uint64_t count = 0;
  ASSERT_GRPC_OK(client().Count("line", nullptr, &count));
  EXPECT_EQ(count, 40u);
  v1::Filter en = KeyEquals("lang", Str("en"));
  ASSERT_GRPC_OK(client().Count("line", &en, &count));
  EXPECT_EQ(count, 20u);
  v1::Filter bad;
  bad.mutable_condition()->mutable_equals()->set_int_value(1);  // no field
  EXPECT_GRPC_ERROR(client().Count("line", &bad, &count), StatusCode::INVALID_ARGUMENT,
                    "filter.condition");
}

}  // namespace
}  // namespace ragd::testing
