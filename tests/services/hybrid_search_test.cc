// Text and hybrid search over the wire (issue 15), against the real ragd: the lexical settings
// of CreateCollection (defaults, round trip, validation), Points.Search in every mode with the
// legs of each hit, fusion parameters, filters on both legs, a restart, and the error codes.
// Expected ranks and RRF scores are worked out in the comments, not computed with ragd's code.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/services/service_test_util.h"

namespace ragd::testing {
namespace {

using grpc::StatusCode;

v1::Point TextPoint(const std::string& id, std::vector<float> vector, const std::string& text,
                    const std::string& lang) {
  v1::Point p = MakePoint(id, std::move(vector));
  p.set_text(text);
  (*p.mutable_metadata())["lang"].set_string_value(lang);
  return p;
}

std::vector<std::string> HitIds(const v1::SearchResponse& response) {
  std::vector<std::string> ids;
  for (const auto& hit : response.hits()) ids.push_back(hit.point().id());
  return ids;
}

class HybridSearchTest : public RagdSuite {
 protected:
  // Vector ranks for the query e1 (cosine): a 1, d 0.707, c 0.196, b 0.0995; text ranks for
  // "alpha" (simple analyzer): c (tf 2) then a (tf 1).
  void MakeCorpus(const std::string& name) {
    v1::CreateCollectionRequest create;
    create.set_name(name);
    create.set_dimension(4);
    create.mutable_lexical()->set_enabled(true);
    create.mutable_lexical()->set_analyzer(v1::ANALYZER_SIMPLE);
    ASSERT_GRPC_OK(client().Create(create));
    ASSERT_GRPC_OK(
        client().Upsert(name, {TextPoint("a", {1, 0, 0, 0}, "alpha beta", "en"),
                               TextPoint("b", {0.1f, 1, 0, 0}, "gamma", "en"),
                               TextPoint("c", {0.2f, 0, 1, 0}, "alpha alpha delta", "ko"),
                               TextPoint("d", {1, 1, 0, 0}, "epsilon", "ko")}));
  }
  v1::SearchRequest Request(const std::string& name, bool vector, const std::string& text,
                            v1::SearchMode mode = v1::SEARCH_MODE_UNSPECIFIED) {
    v1::SearchRequest r;
    r.set_collection(name);
    if (vector) SetVector(r.mutable_vector(), {1, 0, 0, 0});
    r.set_text(text);
    r.set_mode(mode);
    r.set_k(10);
    return r;
  }
};

TEST_F(HybridSearchTest, LexicalSettingsDefaultRoundTripAndValidation) {
  // With an embedder the lexical index is on (auto), without one off.
  v1::CreateCollectionRequest with_embedder;
  with_embedder.set_name("texts");
  with_embedder.set_dimension(8);
  with_embedder.mutable_embedder()->set_name("local");
  v1::CreateCollectionResponse created;
  ASSERT_GRPC_OK(client().Create(with_embedder, &created));
  EXPECT_TRUE(created.collection().lexical().enabled());
  EXPECT_EQ(created.collection().lexical().analyzer(), v1::ANALYZER_AUTO);
  EXPECT_DOUBLE_EQ(created.collection().lexical().k1(), 1.2);
  EXPECT_DOUBLE_EQ(created.collection().lexical().b(), 0.75);
  ASSERT_GRPC_OK(client().Create("plain", 4));
  v1::CollectionInfo info;
  ASSERT_GRPC_OK(client().GetCollection("plain", &info));
  EXPECT_FALSE(info.lexical().enabled());

  v1::CreateCollectionRequest custom;
  custom.set_name("custom");
  custom.set_dimension(4);
  custom.mutable_lexical()->set_enabled(true);
  custom.mutable_lexical()->set_analyzer(v1::ANALYZER_KOREAN);
  custom.mutable_lexical()->set_k1(2);
  custom.mutable_lexical()->set_b(0.3);
  ASSERT_GRPC_OK(client().Create(custom));
  ASSERT_GRPC_OK(client().GetCollection("custom", &info));
  EXPECT_TRUE(info.lexical().enabled());
  EXPECT_EQ(info.lexical().analyzer(), v1::ANALYZER_KOREAN);
  EXPECT_DOUBLE_EQ(info.lexical().k1(), 2);
  EXPECT_DOUBLE_EQ(info.lexical().b(), 0.3);

  // An embedder with the lexical index turned off explicitly.
  with_embedder.set_name("texts_off");
  with_embedder.mutable_lexical()->set_enabled(false);
  ASSERT_GRPC_OK(client().Create(with_embedder, &created));
  EXPECT_FALSE(created.collection().lexical().enabled());

  custom.set_name("bad");
  custom.mutable_lexical()->set_k1(10.5);
  EXPECT_GRPC_ERROR(client().Create(custom), StatusCode::INVALID_ARGUMENT, "lexical.k1");
  custom.mutable_lexical()->set_k1(1);
  custom.mutable_lexical()->set_b(1.5);
  EXPECT_GRPC_ERROR(client().Create(custom), StatusCode::INVALID_ARGUMENT, "lexical.b");
  custom.mutable_lexical()->set_b(0.5);
  custom.mutable_lexical()->set_analyzer(static_cast<v1::Analyzer>(42));
  EXPECT_GRPC_ERROR(client().Create(custom), StatusCode::INVALID_ARGUMENT, "lexical.analyzer");
}

TEST_F(HybridSearchTest, ModesLegsAndFusionOverTheWire) {
  MakeCorpus("c");
  v1::SearchResponse r;
  // Only a vector: today's vector search, each hit with its vector leg.
  ASSERT_GRPC_OK(client().Search(Request("c", true, ""), &r));
  ASSERT_EQ(HitIds(r), (std::vector<std::string>{"a", "d", "c", "b"}));
  EXPECT_TRUE(r.hits(0).has_vector_leg());
  EXPECT_EQ(r.hits(1).vector_leg().rank(), 2u);
  EXPECT_FALSE(r.hits(0).has_text_leg());

  // Only a text: BM25.
  ASSERT_GRPC_OK(client().Search(Request("c", false, "alpha"), &r));
  ASSERT_EQ(HitIds(r), (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ(r.hits(0).text_leg().rank(), 1u);
  EXPECT_FLOAT_EQ(r.hits(0).score(), r.hits(0).text_leg().score());
  EXPECT_FALSE(r.hits(0).has_vector_leg());
  EXPECT_EQ(r.hits(0).point().text(), "alpha alpha delta");

  // Both: hybrid by RRF (60): a 1/61 + 1/62, c 1/63 + 1/61, d 1/62, b 1/64.
  ASSERT_GRPC_OK(client().Search(Request("c", true, "alpha"), &r));
  ASSERT_EQ(HitIds(r), (std::vector<std::string>{"a", "c", "d", "b"}));
  EXPECT_NEAR(r.hits(0).score(), 1.0 / 61 + 1.0 / 62, 1e-6);
  EXPECT_NEAR(r.hits(1).score(), 1.0 / 63 + 1.0 / 61, 1e-6);
  EXPECT_EQ(r.hits(1).vector_leg().rank(), 3u);
  EXPECT_EQ(r.hits(1).text_leg().rank(), 1u);
  EXPECT_FALSE(r.hits(2).has_text_leg());

  // Fusion parameters: rrf_k 1 (a 1/2 + 1/3), and weighted with alpha 0 (text only: c first).
  v1::SearchRequest req = Request("c", true, "alpha", v1::SEARCH_MODE_HYBRID);
  req.mutable_fusion()->set_rrf_k(1);
  ASSERT_GRPC_OK(client().Search(req, &r));
  EXPECT_NEAR(r.hits(0).score(), 1.0 / 2 + 1.0 / 3, 1e-6);
  req.mutable_fusion()->set_method(v1::FUSION_METHOD_WEIGHTED);
  req.mutable_fusion()->set_alpha(0);
  ASSERT_GRPC_OK(client().Search(req, &r));
  EXPECT_EQ(r.hits(0).point().id(), "c");
  EXPECT_NEAR(r.hits(0).score(), 1.0, 1e-6);

  // An explicit mode wins over what the request carries.
  ASSERT_GRPC_OK(client().Search(Request("c", true, "alpha", v1::SEARCH_MODE_TEXT), &r));
  EXPECT_EQ(HitIds(r), (std::vector<std::string>{"c", "a"}));
  ASSERT_GRPC_OK(client().Search(Request("c", true, "alpha", v1::SEARCH_MODE_VECTOR), &r));
  EXPECT_EQ(HitIds(r), (std::vector<std::string>{"a", "d", "c", "b"}));

  // The filter applies to both legs: among c and d, c leads the text leg and is second by
  // vector (c 1/61 + 1/62, d 1/61).
  req = Request("c", true, "alpha beta");
  (*req.mutable_filter()->mutable_condition()->mutable_key()) = "lang";
  req.mutable_filter()->mutable_condition()->mutable_equals()->set_string_value("ko");
  ASSERT_GRPC_OK(client().Search(req, &r));
  ASSERT_EQ(HitIds(r), (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(r.hits(0).vector_leg().rank(), 2u);

  // Replace and delete reach the text leg; a SIGKILL and restart keeps what was acknowledged.
  ASSERT_GRPC_OK(client().Upsert("c", {TextPoint("a", {1, 0, 0, 0}, "zeta", "en")}));
  v1::DeleteRequest del;
  del.set_collection("c");
  del.mutable_ids()->add_ids("c");
  ASSERT_GRPC_OK(client().Delete(del));
  ASSERT_GRPC_OK(client().Search(Request("c", false, "alpha zeta"), &r));
  EXPECT_EQ(HitIds(r), (std::vector<std::string>{"a"}));
  KillAndRestartRagd();
  ASSERT_GRPC_OK(client().Search(Request("c", false, "alpha zeta"), &r));
  EXPECT_EQ(HitIds(r), (std::vector<std::string>{"a"}));
}

TEST_F(HybridSearchTest, ErrorCodes) {
  MakeCorpus("c");
  ASSERT_GRPC_OK(client().Create("plain", 4));
  ASSERT_GRPC_OK(client().Upsert("plain", {MakePoint("x", {1, 0, 0, 0})}));
  v1::SearchResponse r;
  EXPECT_GRPC_ERROR(client().Search(Request("plain", false, "text of x"), &r),
                    StatusCode::FAILED_PRECONDITION, "lexical");
  EXPECT_GRPC_ERROR(client().Search(Request("plain", true, "x", v1::SEARCH_MODE_HYBRID), &r),
                    StatusCode::FAILED_PRECONDITION, "lexical");
  // With a vector and a text but no lexical index, an unspecified mode still means hybrid.
  EXPECT_GRPC_ERROR(client().Search(Request("plain", true, "x"), &r),
                    StatusCode::FAILED_PRECONDITION, "lexical");
  ASSERT_GRPC_OK(client().Search(Request("plain", true, "x", v1::SEARCH_MODE_VECTOR), &r));
  EXPECT_GRPC_ERROR(client().Search(Request("c", false, ""), &r), StatusCode::INVALID_ARGUMENT,
                    "vector");
  EXPECT_GRPC_ERROR(client().Search(Request("c", false, "", v1::SEARCH_MODE_TEXT), &r),
                    StatusCode::INVALID_ARGUMENT, "");
  EXPECT_GRPC_ERROR(
      client().Search(Request("c", false, "alpha", static_cast<v1::SearchMode>(9)), &r),
      StatusCode::INVALID_ARGUMENT, "mode");
  EXPECT_GRPC_ERROR(client().Search(Request("c", false, "alpha", v1::SEARCH_MODE_HYBRID), &r),
                    StatusCode::INVALID_ARGUMENT, "vector");
  v1::SearchRequest req = Request("c", true, "alpha", v1::SEARCH_MODE_HYBRID);
  req.mutable_fusion()->set_rrf_k(0);
  EXPECT_GRPC_ERROR(client().Search(req, &r), StatusCode::INVALID_ARGUMENT, "rrf_k");
  req = Request("c", true, "alpha", v1::SEARCH_MODE_HYBRID);
  req.mutable_fusion()->set_alpha(2);
  EXPECT_GRPC_ERROR(client().Search(req, &r), StatusCode::INVALID_ARGUMENT, "alpha");
  req = Request("c", true, "alpha", v1::SEARCH_MODE_HYBRID);
  req.mutable_fusion()->set_method(static_cast<v1::FusionMethod>(7));
  EXPECT_GRPC_ERROR(client().Search(req, &r), StatusCode::INVALID_ARGUMENT, "fusion.method");
  req = Request("c", true, "alpha", v1::SEARCH_MODE_HYBRID);
  req.mutable_fusion()->set_text_candidates(5);  // below k 10
  EXPECT_GRPC_ERROR(client().Search(req, &r), StatusCode::INVALID_ARGUMENT, "text_candidates");
}

}  // namespace
}  // namespace ragd::testing
