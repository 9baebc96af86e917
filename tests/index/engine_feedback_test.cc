// The engine's pseudo-relevance feedback (SearchRequest::feedback, RM3): the text leg's first
// hits expand the query and the second search's scores are the weighted BM25 sum, worked out
// here by hand from the formulas; hybrid search fuses the expanded leg; bad options are
// INVALID_ARGUMENT.

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "index/engine/engine.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace ragd::index {
namespace {

Point P(std::string id, std::vector<float> v, std::string text) {
  Point p;
  p.id = std::move(id);
  p.vector = std::move(v);
  p.text = std::move(text);
  p.document_id = "doc-" + p.id;
  return p;
}

// BM25 of one query term, written out from Robertson & Zaragoza with Lucene's IDF.
double Bm25(double tf, double dl, double avgdl, double n, double df) {
  const double idf = std::log(1 + (n - df + 0.5) / (df + 0.5));
  return idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * dl / avgdl));
}

class EngineFeedbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Engine::Options o;
    o.data_dir = dir_.str();
    o.snapshot_interval_seconds = 0;
    ASSERT_OK_AND_ASSIGN(engine_, Engine::Open(o));
    CollectionSpec s;
    s.name = "c";
    s.dimension = 4;
    s.metric = Metric::kCosine;
    s.index.kind = IndexKind::kHnsw;
    s.lexical.enabled = true;
    s.lexical.analyzer = lexical::AnalyzerKind::kSimple;
    // One shard: BM25's statistics are per shard, and the expected scores use the whole corpus.
    s.shards = 1;
    ASSERT_OK(engine_->CreateCollection(s));
    // N 4, lengths 2, 1, 3, 1 (avgdl 1.75); alpha in a and c (df 2), beta in a (df 1).
    ASSERT_OK(engine_
                  ->Upsert("c", {P("a", {1, 0, 0, 0}, "alpha beta"), P("b", {0, 1, 0, 0}, "gamma"),
                                 P("c", {0, 0, 1, 0}, "alpha alpha delta"),
                                 P("d", {0, 0, 0, 1}, "epsilon")})
                  .status());
  }
  SearchRequest Req(SearchMode mode, std::string text) const {
    SearchRequest r;
    r.collection = "c";
    r.mode = mode;
    r.query = {0, 0, 1, 0};
    r.text = std::move(text);
    r.k = 10;
    return r;
  }

  testing::TempDir dir_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineFeedbackTest, ExpansionFindsWhatTheQueryLacks) {
  SearchRequest r = Req(SearchMode::kText, "beta");
  ASSERT_OK_AND_ASSIGN(auto plain, engine_->Search(r));
  ASSERT_EQ(plain.hits.size(), 1u);  // only a holds beta
  EXPECT_EQ(plain.hits[0].point.id, "a");

  r.feedback.docs = 1;
  r.feedback.max_df_ratio = 1;  // 4 documents: every term is in at least a quarter of them
  // Feedback document a: alpha 1, beta 1 -> P(w|R) 1/2 each. Weights: beta 0.5 * 1 + 0.5 * 1/2
  // = 0.75, alpha 0.5 * 1/2 = 0.25. c now matches through alpha.
  ASSERT_OK_AND_ASSIGN(auto fb, engine_->Search(r));
  ASSERT_EQ(fb.hits.size(), 2u);
  EXPECT_EQ(fb.hits[0].point.id, "a");
  EXPECT_NEAR(fb.hits[0].score, 0.75 * Bm25(1, 2, 1.75, 4, 1) + 0.25 * Bm25(1, 2, 1.75, 4, 2),
              1e-5);
  EXPECT_EQ(fb.hits[1].point.id, "c");
  EXPECT_NEAR(fb.hits[1].score, 0.25 * Bm25(2, 3, 1.75, 4, 2), 1e-5);
  ASSERT_TRUE(fb.hits[1].text_leg.has_value());
  EXPECT_EQ(fb.hits[1].text_leg->rank, 2u);

  // The default 10% cut keeps nothing of 4 documents: the query alone, as without feedback.
  r.feedback.max_df_ratio = 0.1;
  ASSERT_OK_AND_ASSIGN(auto cut, engine_->Search(r));
  ASSERT_EQ(cut.hits.size(), 1u);
  EXPECT_EQ(cut.hits[0].point.id, "a");
}

TEST_F(EngineFeedbackTest, HybridFusesTheExpandedTextLeg) {
  SearchRequest r = Req(SearchMode::kHybrid, "beta");
  r.hybrid.fusion = Fusion::kWeighted;
  r.hybrid.alpha = 0.5;
  r.feedback.docs = 1;
  r.feedback.max_df_ratio = 1;
  ASSERT_OK_AND_ASSIGN(auto res, engine_->Search(r));
  // c is the vector leg's first (its own vector) and the expanded text leg's second: both legs.
  bool found = false;
  for (const auto& h : res.hits) {
    if (h.point.id != "c") continue;
    found = true;
    ASSERT_TRUE(h.vector_leg.has_value());
    ASSERT_TRUE(h.text_leg.has_value());
    EXPECT_EQ(h.vector_leg->rank, 1u);
    EXPECT_EQ(h.text_leg->rank, 2u);
  }
  EXPECT_TRUE(found);
}

TEST_F(EngineFeedbackTest, BadOptionsAreInvalidArgument) {
  SearchRequest r = Req(SearchMode::kText, "beta");
  r.feedback.docs = 101;
  EXPECT_EQ(engine_->Search(r).status().code(), absl::StatusCode::kInvalidArgument);
  r.feedback.docs = 5;
  r.feedback.original_weight = -1;
  EXPECT_EQ(engine_->Search(r).status().code(), absl::StatusCode::kInvalidArgument);
  // Vector search ignores the text options, as it ignores the text.
  r.mode = SearchMode::kVector;
  EXPECT_OK(engine_->Search(r).status());
}

}  // namespace
}  // namespace ragd::index
