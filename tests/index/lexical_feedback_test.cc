// RM3 pseudo-relevance feedback (index/lexical/feedback.h) and the BM25 index's per-term query
// weights it relies on. Every expected number is worked out by hand in the comments from the
// formulas (RM1 interpolated with the query; BM25 with Lucene's IDF), not taken from ragd's code.

#include <cmath>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "index/lexical/bm25_index.h"
#include "index/lexical/feedback.h"
#include "tests/testing/status_matchers.h"

namespace ragd::index::lexical {
namespace {

std::map<std::string, double> AsMap(const std::vector<WeightedTerm>& v) {
  std::map<std::string, double> m;
  for (const auto& w : v) m[w.term] = w.weight;
  return m;
}

// N = 100 documents; the df of each term (unlisted: 0).
uint64_t Df(std::string_view t) {
  static const std::map<std::string_view, uint64_t> df = {
      {"common", 50}, {"oven", 11}, {"sugar", 10}, {"pie", 5}, {"crust", 3}, {"apple", 2}};
  auto it = df.find(t);
  return it == df.end() ? 0 : it->second;
}

TEST(LexicalFeedback, Rm3WeightsWorkedOutByHand) {
  const std::vector<std::string> query = {"apple", "apple", "pie"};
  std::vector<FeedbackDocument> docs(2);
  docs[0].score = 2.0;
  docs[0].terms = {{"apple", 3}, {"common", 10}, {"crust", 1}, {"oven", 4}};
  docs[1].score = 1.0;
  docs[1].terms = {{"crust", 2}, {"pie", 2}, {"sugar", 1}};
  FeedbackOptions o;
  o.docs = 2;
  o.terms = 2;
  o.original_weight = 0.5;
  o.max_df_ratio = 0.1;  // df above 10 of 100 is out: common (50), oven (11); sugar (10) stays
  // Document 1: candidates apple 3, crust 1 -> P = 3/4, 1/4.
  // Document 2: candidates crust 2, pie 2, sugar 1; the 2 most frequent are crust and pie (the
  //   tie at 2 keeps both; sugar is third) -> P = 1/2, 1/2.
  // P(w|R) unnormalised: apple 3/4*2 = 1.5; crust 1/4*2 + 1/2*1 = 1.0; pie 1/2*1 = 0.5.
  //   The 2 largest: apple, crust; scaled to sum 1: 0.6, 0.4.
  // P(w|Q): apple 2/3, pie 1/3.
  // weights: apple 0.5*2/3 + 0.5*0.6 = 0.63333..; crust 0.5*0.4 = 0.2; pie 0.5*1/3 = 0.16666..
  const auto out = ExpandQuery(query, docs, Df, 100, o);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].term, "apple");  // sorted by term
  EXPECT_EQ(out[1].term, "crust");
  EXPECT_EQ(out[2].term, "pie");
  EXPECT_NEAR(out[0].weight, 0.5 * 2.0 / 3.0 + 0.3, 1e-12);
  EXPECT_NEAR(out[1].weight, 0.2, 1e-12);
  EXPECT_NEAR(out[2].weight, 0.5 / 3.0, 1e-12);

  // Ties are broken by the term, whatever order a document lists them in.
  std::swap(docs[1].terms[0], docs[1].terms[1]);
  EXPECT_EQ(AsMap(ExpandQuery(query, docs, Df, 100, o)), AsMap(out));

  // Three terms kept: sugar enters document 2 (P: crust 2/5, pie 2/5, sugar 1/5), so
  // P(w|R) = apple 1.5, crust 0.5 + 0.4 = 0.9, pie 0.4, sugar 0.2 -> top 3 of total 2.8.
  o.terms = 3;
  auto m = AsMap(ExpandQuery(query, docs, Df, 100, o));
  ASSERT_EQ(m.size(), 3u);
  EXPECT_NEAR(m["apple"], 1.0 / 3 + 0.5 * 1.5 / 2.8, 1e-12);
  EXPECT_NEAR(m["crust"], 0.5 * 0.9 / 2.8, 1e-12);
  EXPECT_NEAR(m["pie"], 0.5 / 3 + 0.5 * 0.4 / 2.8, 1e-12);
}

TEST(LexicalFeedback, WithoutFeedbackTheQueryKeepsItsOwnWeights) {
  const std::vector<std::string> query = {"apple", "apple", "pie"};
  FeedbackOptions o;
  o.docs = 10;
  // No documents; a document with score 0; one with only collection-frequent terms.
  std::vector<FeedbackDocument> docs(2);
  docs[0].score = 0;
  docs[0].terms = {{"crust", 4}};
  docs[1].score = 3;
  docs[1].terms = {{"common", 4}, {"oven", 1}};
  for (size_t n : {size_t{0}, size_t{2}}) {
    auto m = AsMap(ExpandQuery(query, std::span(docs).first(n), Df, 100, o));
    ASSERT_EQ(m.size(), 2u) << n;
    EXPECT_NEAR(m["apple"], 2.0 / 3, 1e-12);
    EXPECT_NEAR(m["pie"], 1.0 / 3, 1e-12);
  }
  // original_weight 1: the relevance model is ignored; 0: the query's own terms only count
  // where the model has them (here only apple: 1.5 of crust's 0.5, P 0.75 / 0.25).
  std::vector<FeedbackDocument> one(1);
  one[0].score = 1;
  one[0].terms = {{"apple", 3}, {"crust", 1}};
  o.original_weight = 1;
  auto m = AsMap(ExpandQuery(query, one, Df, 100, o));
  EXPECT_EQ(m.size(), 2u);
  EXPECT_FALSE(m.contains("crust"));
  o.original_weight = 0;
  m = AsMap(ExpandQuery(query, one, Df, 100, o));
  ASSERT_EQ(m.size(), 2u);
  EXPECT_NEAR(m["apple"], 0.75, 1e-12);
  EXPECT_NEAR(m["crust"], 0.25, 1e-12);
}

TEST(LexicalFeedback, OptionsAreValidated) {
  EXPECT_OK(FeedbackOptions{}.Validate());
  FeedbackOptions o;
  o.docs = 101;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  o = {};
  o.terms = 0;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  o = {};
  o.original_weight = 1.5;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  o = {};
  o.original_weight = std::nan("");
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  o = {};
  o.max_df_ratio = 0;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
}

// BM25 of one term, Robertson & Zaragoza with Lucene's IDF, k1 1.2, b 0.75.
double Bm25(double tf, double dl, double avgdl, double n, double df) {
  const double idf = std::log(1 + (n - df + 0.5) / (df + 0.5));
  return idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * dl / avgdl));
}

TEST(LexicalFeedback, Bm25WeightsScaleEachTermsContribution) {
  Bm25Index index;
  // Lengths 3, 2, 1: avgdl 2, N 3; x in 1 and 2 (df 2), y in 2 and 3 (df 2), z in 1 (df 1).
  ASSERT_OK(index.Add(1, std::vector<TermFreq>{{"x", 2}, {"z", 1}}));
  ASSERT_OK(index.Add(2, std::vector<TermFreq>{{"x", 1}, {"y", 1}}));
  ASSERT_OK(index.Add(3, std::vector<TermFreq>{{"y", 1}}));
  const std::vector<std::string> q = {"x", "y"};
  const std::vector<double> w = {0.25, 3.0};
  const double s1 = 0.25 * Bm25(2, 3, 2, 3, 2);
  const double s2 = 0.25 * Bm25(1, 2, 2, 3, 2) + 3.0 * Bm25(1, 2, 2, 3, 2);
  const double s3 = 3.0 * Bm25(1, 1, 2, 3, 2);
  for (bool exhaustive : {false, true}) {
    for (bool block_max : {false, true}) {
      Bm25SearchOptions o;
      o.top_k = 3;
      o.weights = w;
      o.exhaustive = exhaustive;
      o.block_max = block_max;
      ASSERT_OK_AND_ASSIGN(auto hits, index.Search(q, o));
      ASSERT_EQ(hits.size(), 3u);
      // s3 = 3 x 0.59 > s2 = 3.25 x 0.47 > s1 = 0.25 x 0.57: y's weight puts document 3 first.
      EXPECT_EQ(hits[0].label, 3u);
      EXPECT_NEAR(hits[0].score, s3, 1e-12);
      EXPECT_EQ(hits[1].label, 2u);
      EXPECT_NEAR(hits[1].score, s2, 1e-12);
      EXPECT_EQ(hits[2].label, 1u);
      EXPECT_NEAR(hits[2].score, s1, 1e-12);
      // Top 1 by pruning is the same hit with the same score.
      o.top_k = 1;
      ASSERT_OK_AND_ASSIGN(hits, index.Search(q, o));
      ASSERT_EQ(hits.size(), 1u);
      EXPECT_EQ(hits[0].label, 3u);
      EXPECT_NEAR(hits[0].score, s3, 1e-12);
    }
  }
  // Weights of 1 are the unweighted search, bit for bit.
  const std::vector<double> ones = {1.0, 1.0};
  Bm25SearchOptions a, b;
  b.weights = ones;
  ASSERT_OK_AND_ASSIGN(auto ha, index.Search(q, a));
  ASSERT_OK_AND_ASSIGN(auto hb, index.Search(q, b));
  ASSERT_EQ(ha.size(), hb.size());
  for (size_t i = 0; i < ha.size(); ++i) {
    EXPECT_EQ(ha[i].label, hb[i].label);
    EXPECT_EQ(ha[i].score, hb[i].score);
  }
  // Bad weights: a clear error, never a crash.
  for (const std::vector<double>& bad : std::vector<std::vector<double>>{
           {1.0}, {1.0, 0.0}, {1.0, -2.0}, {1.0, std::nan("")}, {1.0, INFINITY}}) {
    Bm25SearchOptions o;
    o.weights = bad;
    EXPECT_EQ(index.Search(q, o).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace ragd::index::lexical
