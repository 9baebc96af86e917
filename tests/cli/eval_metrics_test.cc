// The metrics of `ragctl eval`, against values worked out by hand from the definitions in
// cli/eval_metrics.h (nDCG as trec_eval's ndcg_cut with binary gains).

#include "cli/eval_metrics.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ragd::cli {
namespace {

TEST(EvalMetricsTest, RankHitsReciprocalRankAndNdcg) {
  // One relevant document at position 2: DCG = 1/log2(3), IDCG = 1/log2(2) = 1.
  QuestionScore s = ScoreRanking({"a", "b", "c"}, {"b"});
  EXPECT_EQ(s.rank, 2u);
  EXPECT_EQ(s.hit1, 0);
  EXPECT_EQ(s.hit5, 1);
  EXPECT_DOUBLE_EQ(s.rr, 0.5);
  EXPECT_NEAR(s.ndcg, 0.630929753571, 1e-12);

  // Two relevant at 1 and 3: DCG = 1 + 1/2, IDCG = 1 + 1/log2(3) = 1.630929753571.
  s = ScoreRanking({"a", "b", "c"}, {"a", "c"});
  EXPECT_EQ(s.rank, 1u);
  EXPECT_EQ(s.hit1, 1);
  EXPECT_DOUBLE_EQ(s.rr, 1.0);
  EXPECT_NEAR(s.ndcg, 1.5 / 1.630929753571, 1e-12);

  // Relevant at 6: a hit for MRR@10 but not hit@5.
  s = ScoreRanking({"a", "b", "c", "d", "e", "f"}, {"f"});
  EXPECT_EQ(s.rank, 6u);
  EXPECT_EQ(s.hit5, 0);
  EXPECT_NEAR(s.rr, 1.0 / 6, 1e-15);
  EXPECT_NEAR(s.ndcg, 1 / std::log2(7.0), 1e-15);

  // Beyond the cutoff: the rank is known, RR and nDCG are 0.
  s = ScoreRanking({"a", "b", "c"}, {"c"}, /*cutoff=*/2);
  EXPECT_EQ(s.rank, 3u);
  EXPECT_EQ(s.rr, 0);
  EXPECT_EQ(s.ndcg, 0);

  // Not ranked at all.
  s = ScoreRanking({}, {"x"});
  EXPECT_EQ(s.rank, 0u);
  EXPECT_EQ(s.hit1 + s.hit5 + s.rr + s.ndcg, 0);
}

TEST(EvalMetricsTest, ARepeatedDocumentCountsOnce) {
  QuestionScore s = ScoreRanking({"a", "a", "b"}, {"a"});
  EXPECT_NEAR(s.ndcg, 1.0, 1e-15);
  EXPECT_EQ(DistinctInOrder({"d1", "d2", "d1", "d3", "d2"}),
            (std::vector<std::string>{"d1", "d2", "d3"}));
}

TEST(EvalMetricsTest, SliceMeansWithAllFirst) {
  SliceScores scores;
  EvalQuestion ko{"q1", "?", {"a"}, {"ko", "paraphrase"}};
  EvalQuestion en{"q2", "?", {"b"}, {"en"}};
  scores.Add(ko, ScoreRanking({"a"}, ko.expected));        // rank 1
  scores.Add(en, ScoreRanking({"x", "b"}, en.expected));   // rank 2
  auto means = scores.Means();
  ASSERT_EQ(means.size(), 4u);
  EXPECT_EQ(means[0].first, "all");
  EXPECT_EQ(means[0].second.questions, 2u);
  EXPECT_DOUBLE_EQ(means[0].second.hit1, 0.5);
  EXPECT_DOUBLE_EQ(means[0].second.mrr, 0.75);
  EXPECT_EQ(means[1].first, "en");
  EXPECT_DOUBLE_EQ(means[1].second.mrr, 0.5);
  EXPECT_EQ(means[2].first, "ko");
  EXPECT_EQ(means[3].first, "paraphrase");
  EXPECT_EQ(means[3].second.questions, 1u);
}

TEST(EvalMetricsTest, ParsingNamesTheField) {
  auto q = ParseEvalQuestion(
      R"({"id": "ko-1", "question": "모델 비교?", "expected": "doc#2", "slices": ["ko", "all"]})");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->expected, (std::set<std::string>{"doc#2"}));
  EXPECT_EQ(q->slices, (std::vector<std::string>{"ko"}));
  EXPECT_NE(ParseEvalQuestion(R"({"id": "x", "question": "q"})").status().message().find(
                "expected"),
            std::string::npos);
  EXPECT_NE(ParseEvalQuestion(R"({"id": "x", "question": "q", "expected": []})")
                .status()
                .message()
                .find("expected"),
            std::string::npos);
  EXPECT_NE(ParseEvalQuestion(R"({"id": "", "question": "q", "expected": ["a"]})")
                .status()
                .message()
                .find("id"),
            std::string::npos);
  EXPECT_NE(ParseEvalQuestion(R"({"id": "x", "question": "q", "expected": [1]})")
                .status()
                .message()
                .find("expected[0]"),
            std::string::npos);
  EXPECT_FALSE(ParseEvalQuestion("not json").ok());
  EXPECT_FALSE(ParseEvalQuestion("[1]").ok());
  auto r = ParseExternalRanking(R"({"id": "ko-1", "ranked": ["a", "b"]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ranked.size(), 2u);
}

}  // namespace
}  // namespace ragd::cli
