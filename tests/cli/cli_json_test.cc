// cli/cli_json: ragctl's JSON syntax for filters, points and vectors.

#include "cli/cli_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/testing/status_matchers.h"

namespace ragd::cli {
namespace {

using ::testing::HasSubstr;

TEST(CliJsonTest, Conditions) {
  ASSERT_OK_AND_ASSIGN(v1::Filter f, ParseFilter(R"({"key":"lang","equals":"ko"})"));
  EXPECT_EQ(f.condition().key(), "lang");
  EXPECT_EQ(f.condition().equals().string_value(), "ko");

  ASSERT_OK_AND_ASSIGN(f, ParseFilter(R"({"key":"year","range":{"gte":2020,"lt":2024}})"));
  EXPECT_EQ(f.condition().range().gte(), 2020);
  EXPECT_EQ(f.condition().range().lt(), 2024);
  EXPECT_FALSE(f.condition().range().has_gt());

  ASSERT_OK_AND_ASSIGN(f, ParseFilter(R"({"key":"tag","in":["a","b",3,true,1.5]})"));
  ASSERT_EQ(f.condition().in().values_size(), 5);
  EXPECT_EQ(f.condition().in().values(2).int_value(), 3);
  EXPECT_TRUE(f.condition().in().values(3).bool_value());
  EXPECT_EQ(f.condition().in().values(4).double_value(), 1.5);

  ASSERT_OK_AND_ASSIGN(f, ParseFilter(R"({"document_id":"doc1"})"));
  EXPECT_TRUE(f.condition().document_id());
  EXPECT_EQ(f.condition().equals().string_value(), "doc1");

  ASSERT_OK_AND_ASSIGN(f, ParseFilter(R"({"document_id":{"in":["a","b"]}})"));
  EXPECT_EQ(f.condition().in().values_size(), 2);
}

TEST(CliJsonTest, Groups) {
  ASSERT_OK_AND_ASSIGN(v1::Filter f, ParseFilter(R"({"and":[{"key":"a","equals":1},
                             {"or":[{"document_id":"d"},{"not":{"key":"b","equals":false}}]}]})"));
  ASSERT_EQ(f.and_().filters_size(), 2);
  const v1::Filter& inner = f.and_().filters(1);
  ASSERT_EQ(inner.or_().filters_size(), 2);
  EXPECT_FALSE(inner.or_().filters(1).not_().condition().equals().bool_value());
}

TEST(CliJsonTest, ErrorsNameThePath) {
  struct Case {
    const char* json;
    const char* needle;
  };
  for (const Case& c : std::vector<Case>{
           {"not json", "invalid JSON"},
           {R"([1])", "expected an object"},
           {R"({"key":"a"})", "exactly one of equals, in, range"},
           {R"({"key":"a","equals":1,"in":[1]})", "exactly one"},
           {R"({"key":"a","like":"x"})", "filter.like"},
           {R"({"and":[]})", "and"},
           {R"({"and":[{"key":"a","equals":1},{"key":"b"}]})", "filter.and[1]"},
           {R"({"key":"y","range":{"after":1}})", "range.after"},
           {R"({"key":"y","range":{"gte":"x"}})", "range.gte"},
           {R"({"key":"t","equals":["a"]})", "equals"},
           {R"({"document_id":5})", "document_id"},
           {R"({"nonsense":1})", "expected \"key\""},
       }) {
    absl::StatusOr<v1::Filter> f = ParseFilter(c.json);
    ASSERT_FALSE(f.ok()) << c.json;
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(f.status().message()), HasSubstr(c.needle)) << c.json;
  }
}

TEST(CliJsonTest, PointsFromJsonLines) {
  ASSERT_OK_AND_ASSIGN(v1::Point p,
                       ParsePoint(R"({"id":"p1","vector":[0.5,-1,2],"text":"hi","document_id":"d",
                     "metadata":{"lang":"ko","year":2021,"score":0.5,"draft":false,
                                 "tags":["a","b"]}})"));
  EXPECT_EQ(p.id(), "p1");
  ASSERT_EQ(p.vector_size(), 3);
  EXPECT_EQ(p.vector(1), -1.0f);
  EXPECT_EQ(p.text(), "hi");
  EXPECT_EQ(p.document_id(), "d");
  EXPECT_EQ(p.metadata().at("year").int_value(), 2021);
  EXPECT_EQ(p.metadata().at("score").double_value(), 0.5);
  EXPECT_FALSE(p.metadata().at("draft").bool_value());
  EXPECT_EQ(p.metadata().at("tags").list_value().values(1), "b");

  EXPECT_THAT(std::string(ParsePoint(R"({"vector":[1]})").status().message()), HasSubstr("id"));
  EXPECT_THAT(std::string(ParsePoint(R"({"id":"x","vector":["a"]})").status().message()),
              HasSubstr("vector"));
  EXPECT_THAT(std::string(ParsePoint(R"({"id":"x","colour":1})").status().message()),
              HasSubstr("colour"));
  EXPECT_THAT(std::string(ParsePoint(R"({"id":"x","metadata":{"m":{"a":1}}})").status().message()),
              HasSubstr("metadata.m"));
}

TEST(CliJsonTest, VectorsAndOutput) {
  ASSERT_OK_AND_ASSIGN(std::vector<float> v, ParseVector("[1, 2.5, -3]"));
  EXPECT_EQ(v, (std::vector<float>{1, 2.5f, -3}));
  EXPECT_FALSE(ParseVector("[]").ok());
  EXPECT_FALSE(ParseVector("{\"a\":1}").ok());

  v1::Point p;
  p.set_id("x");
  p.add_vector(1);
  (*p.mutable_metadata())["n"].set_int_value(4);
  nlohmann::json j = ToJson(p);
  EXPECT_EQ(j["id"], "x");
  EXPECT_EQ(j["vector"][0], 1.0);
  EXPECT_EQ(j["metadata"]["n"], 4);
  ASSERT_OK_AND_ASSIGN(v1::Point back, PointFromJson(j));
  EXPECT_EQ(back.SerializeAsString(), p.SerializeAsString());

  v1::CollectionInfo info;
  info.set_name("c");
  info.set_metric(v1::METRIC_DOT);
  info.mutable_index()->mutable_faiss()->set_index_factory("HNSW32");
  nlohmann::json ji = ToJson(info);
  EXPECT_EQ(ji["metric"], "dot");
  EXPECT_EQ(ji["index"]["kind"], "faiss");
  EXPECT_EQ(IndexSummary(info.index()), "faiss(HNSW32,ef=0,nprobe=0)");
}

}  // namespace
}  // namespace ragd::cli
