// Filter::Validate and Matches over every operator, combination and type coercion.

#include "index/filter.h"

#include <gtest/gtest.h>

#include "tests/testing/status_matchers.h"

namespace ragd::index {
namespace {

const Metadata& Sample() {
  static const Metadata* m = new Metadata{
      {"lang", std::string("ko")},
      {"year", int64_t{2023}},
      {"score", 0.75},
      {"draft", false},
      {"tags", std::vector<std::string>{"news", "tech"}},
      {"big", int64_t{9007199254740993}},  // 2^53 + 1: not representable as a double
  };
  return *m;
}

bool M(const Filter& f) { return Matches(f, "doc-1", Sample()); }
Filter C(Condition c) { return Filter::Cond(std::move(c)); }

TEST(FilterMatchesTest, EqualsOnStrings) {
  EXPECT_TRUE(M(C(Equals("lang", std::string("ko")))));
  EXPECT_FALSE(M(C(Equals("lang", std::string("en")))));
  EXPECT_FALSE(M(C(Equals("lang", int64_t{1}))));
  EXPECT_FALSE(M(C(Equals("missing", std::string("ko")))));
}

TEST(FilterMatchesTest, EqualsOnNumbersComparesByValue) {
  EXPECT_TRUE(M(C(Equals("year", int64_t{2023}))));
  EXPECT_TRUE(M(C(Equals("year", 2023.0))));
  EXPECT_FALSE(M(C(Equals("year", 2023.5))));
  EXPECT_TRUE(M(C(Equals("score", 0.75))));
  EXPECT_FALSE(M(C(Equals("score", int64_t{1}))));
  EXPECT_FALSE(M(C(Equals("year", std::string("2023")))));
  // int64 against int64 is exact even beyond 2^53.
  EXPECT_TRUE(M(C(Equals("big", int64_t{9007199254740993}))));
  EXPECT_FALSE(M(C(Equals("big", int64_t{9007199254740992}))));
}

TEST(FilterMatchesTest, BoolEqualsBoolOnly) {
  EXPECT_TRUE(M(C(Equals("draft", false))));
  EXPECT_FALSE(M(C(Equals("draft", true))));
  EXPECT_FALSE(M(C(Equals("draft", int64_t{0}))));
  EXPECT_FALSE(M(C(Equals("draft", std::string("false")))));
}

TEST(FilterMatchesTest, EqualsOnListMatchesAnyElement) {
  EXPECT_TRUE(M(C(Equals("tags", std::string("news")))));
  EXPECT_TRUE(M(C(Equals("tags", std::string("tech")))));
  EXPECT_FALSE(M(C(Equals("tags", std::string("sport")))));
  EXPECT_FALSE(M(C(Equals("tags", int64_t{1}))));
  EXPECT_TRUE(M(C(Equals("tags", std::vector<std::string>{"news", "tech"}))));
  EXPECT_FALSE(M(C(Equals("tags", std::vector<std::string>{"news"}))));
}

TEST(FilterMatchesTest, InMatchesAnyValue) {
  EXPECT_TRUE(M(C(In("lang", {std::string("en"), std::string("ko")}))));
  EXPECT_FALSE(M(C(In("lang", {std::string("en"), std::string("ja")}))));
  EXPECT_TRUE(M(C(In("year", {int64_t{2020}, 2023.0}))));
  EXPECT_TRUE(M(C(In("tags", {std::string("sport"), std::string("tech")}))));
  EXPECT_FALSE(M(C(In("missing", {std::string("x")}))));
}

TEST(FilterMatchesTest, RangeOnNumbersOnly) {
  EXPECT_TRUE(M(C(Range("year", 2020, 2024))));
  EXPECT_TRUE(M(C(Range("year", 2023, std::nullopt))));   // gte is inclusive
  EXPECT_FALSE(M(C(Range("year", std::nullopt, 2023))));  // lt is exclusive
  EXPECT_TRUE(M(C(Range("score", 0.5, 1.0))));
  EXPECT_FALSE(M(C(Range("lang", 0, 100))));
  EXPECT_FALSE(M(C(Range("draft", -1, 2))));
  EXPECT_FALSE(M(C(Range("tags", -1, 2))));
  EXPECT_FALSE(M(C(Range("missing", 0, 1))));
  Condition c;
  c.key = "year";
  c.op = Condition::Op::kRange;
  c.gt = 2023;
  EXPECT_FALSE(M(C(c)));
  c.gt.reset();
  c.lte = 2023;
  EXPECT_TRUE(M(C(c)));
  c.gt = 2022.5;
  EXPECT_TRUE(M(C(c)));
}

TEST(FilterMatchesTest, DocumentId) {
  EXPECT_TRUE(M(C(DocumentIdEquals("doc-1"))));
  EXPECT_FALSE(M(C(DocumentIdEquals("doc-2"))));
  Condition in = In("", {std::string("a"), std::string("doc-1")});
  in.on_document_id = true;
  EXPECT_TRUE(M(C(in)));
  // The key is ignored for document_id conditions.
  Condition keyed = DocumentIdEquals("doc-1");
  keyed.key = "lang";
  EXPECT_TRUE(M(C(keyed)));
}

TEST(FilterMatchesTest, AndOrNot) {
  Filter yes = C(Equals("lang", std::string("ko")));
  Filter no = C(Equals("lang", std::string("en")));
  EXPECT_TRUE(M(Filter::And({yes, yes})));
  EXPECT_FALSE(M(Filter::And({yes, no})));
  EXPECT_TRUE(M(Filter::Or({no, yes})));
  EXPECT_FALSE(M(Filter::Or({no, no})));
  EXPECT_FALSE(M(Filter::Not(yes)));
  EXPECT_TRUE(M(Filter::Not(no)));
  EXPECT_TRUE(M(Filter::And({yes})));
  EXPECT_TRUE(M(Filter::Not(Filter::And({yes, Filter::Not(yes)}))));
  // NOT of a missing key matches.
  EXPECT_TRUE(M(Filter::Not(C(Equals("missing", std::string("x"))))));
  EXPECT_TRUE(M(Filter::Or({Filter::And({no, yes}), Filter::And({yes, C(Range("year", 2000, 2030))})})));
}

TEST(FilterValidateTest, AcceptsWellFormedTrees) {
  EXPECT_OK(C(Equals("lang", std::string("ko"))).Validate());
  EXPECT_OK(C(DocumentIdEquals("d")).Validate());
  EXPECT_OK(C(In("k", {int64_t{1}})).Validate());
  EXPECT_OK(C(Range("k", 1, std::nullopt)).Validate());
  EXPECT_OK(Filter::And({C(Equals("a", true)), Filter::Not(C(Equals("b", 1.0)))}).Validate());
}

TEST(FilterValidateTest, RejectsMalformedTrees) {
  const auto kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(C(Equals("", std::string("x"))).Validate().code(), kInvalid);
  EXPECT_EQ(C(In("k", {})).Validate().code(), kInvalid);
  EXPECT_EQ(C(Range("k", std::nullopt, std::nullopt)).Validate().code(), kInvalid);
  EXPECT_EQ(C(Range("k", std::nan(""), std::nullopt)).Validate().code(), kInvalid);
  Condition doc_range = Range("k", 1, 2);
  doc_range.on_document_id = true;
  EXPECT_EQ(C(doc_range).Validate().code(), kInvalid);
  Condition doc_int = DocumentIdEquals("x");
  doc_int.value = int64_t{3};
  EXPECT_EQ(C(doc_int).Validate().code(), kInvalid);
  EXPECT_EQ(Filter::And({}).Validate().code(), kInvalid);
  EXPECT_EQ(Filter::Or({}).Validate().code(), kInvalid);
  Filter two_child_not = Filter::Not(C(Equals("a", true)));
  two_child_not.children.push_back(C(Equals("b", true)));
  EXPECT_EQ(two_child_not.Validate().code(), kInvalid);
  // An invalid leaf deep inside is found.
  EXPECT_EQ(Filter::And({C(Equals("a", true)), Filter::Or({C(In("k", {}))})}).Validate().code(),
            kInvalid);
}

TEST(FilterValidateTest, LimitsDepthAndSize) {
  Filter f = C(Equals("a", true));
  for (int i = 1; i < Filter::kMaxDepth; ++i) f = Filter::Not(std::move(f));
  EXPECT_OK(f.Validate());
  f = Filter::Not(std::move(f));
  EXPECT_EQ(f.Validate().code(), absl::StatusCode::kInvalidArgument);

  std::vector<Filter> leaves(Filter::kMaxNodes - 1, C(Equals("a", true)));
  EXPECT_OK(Filter::Or(leaves).Validate());
  leaves.push_back(C(Equals("a", true)));
  EXPECT_EQ(Filter::Or(leaves).Validate().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ragd::index
