#pragma once
// Retrieval-quality metrics of `ragctl eval`, computed over documents (not chunks): a question
// names the document(s) that answer it, a system returns a ranking of chunks, and the ranking
// of distinct documents in order of their first chunk is judged.
//
// With `ranked` the distinct documents (best first) and `expected` the relevant ones (binary
// relevance), at cutoff n = 10 unless given:
//   rank     position (1-based) of the first relevant document; 0 when none is ranked
//   hit@k    1 when rank is 1..k
//   RR@n     1 / rank when rank <= n, else 0 (its mean over questions is MRR@n)
//   nDCG@n   DCG / IDCG, DCG = sum over positions i <= n holding a relevant document of
//            1 / log2(i + 1), IDCG = the same for the ideal ranking (min(|expected|, n)
//            relevant documents first): Järvelin & Kekäläinen (2002), binary gains, as
//            trec_eval's ndcg_cut.10 computes it.
// A question whose `expected` is empty is rejected by the parser, so every mean is over
// answerable questions.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ragd::cli {

struct EvalQuestion {
  std::string id;
  std::string question;
  std::set<std::string> expected;   // document ids
  std::vector<std::string> slices;  // labels; every question is also in slice "all"
};

// One line of a questions file:
//   {"id": "ko-001", "question": "...", "expected": ["doc", ...], "slices": ["ko", ...]}
// `id` and `question` are non-empty strings, `expected` a non-empty array of strings (a single
// string is accepted), `slices` optional. INVALID_ARGUMENT naming the field otherwise.
absl::StatusOr<EvalQuestion> ParseEvalQuestion(absl::string_view line);

// One line of a ranking made elsewhere (e.g. bench/fts5_rank), judged like ragd's:
//   {"id": "ko-001", "ranked": ["doc", ...]}
struct ExternalRanking {
  std::string id;
  std::vector<std::string> ranked;
};
absl::StatusOr<ExternalRanking> ParseExternalRanking(absl::string_view line);

// Distinct values in order of first appearance (chunk documents -> ranked documents).
std::vector<std::string> DistinctInOrder(const std::vector<std::string>& values);

struct QuestionScore {
  size_t rank = 0;  // 0: no relevant document ranked
  double hit1 = 0;
  double hit5 = 0;
  double rr = 0;    // reciprocal rank within the cutoff
  double ndcg = 0;
};
QuestionScore ScoreRanking(const std::vector<std::string>& ranked,
                           const std::set<std::string>& expected, size_t cutoff = 10);

// Means over a slice's questions.
struct SliceScore {
  size_t questions = 0;
  double hit1 = 0;
  double hit5 = 0;
  double mrr = 0;
  double ndcg = 0;
};

// Accumulates scores per slice ("all" plus each question's own slices), in slice name order
// with "all" first.
class SliceScores {
 public:
  void Add(const EvalQuestion& question, const QuestionScore& score);
  // (slice, means) in output order.
  std::vector<std::pair<std::string, SliceScore>> Means() const;

 private:
  std::map<std::string, SliceScore> sums_;
};

}  // namespace ragd::cli
