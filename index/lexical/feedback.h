#pragma once
// Pseudo-relevance feedback for the text leg: RM3 query expansion (Lavrenko & Croft's relevance
// model RM1, interpolated with the original query as in Abdul-Jaleel et al., "UMass at TREC
// 2004"; the variant Anserini runs as its BM25+RM3 baseline). A first BM25 search takes its top
// `docs` hits as if they were relevant; the terms those hits use most, weighted by the hits'
// scores, are added to the query; a second BM25 search runs the weighted query. It helps where a
// question and its answer share a few words and the answer repeats words the question lacks
// (paraphrases), and can hurt where the first hits are wrong (the expansion then drifts).
//
// ExpandQuery is pure arithmetic over term counts; the engine gathers the inputs (the top hits'
// analysed texts, document frequencies summed over the collection's shards) and runs both
// searches (engine.h, SearchRequest::feedback).
//
// The estimate, for feedback documents D with BM25 scores s(D):
//   1. each document keeps its candidate terms: those in at most max_df_ratio of the collection's
//      documents (a collection-wide frequent term says nothing about the topic; Anserini uses the
//      same 10% cut instead of a stop list), then its `terms` most frequent (ties: smaller term
//      first); P(w|D) = tf(w, D) / (sum of the kept terms' tf).
//   2. P(w|R) = sum over D of P(w|D) * s(D); the `terms` largest are kept (ties: smaller term
//      first) and scaled to sum to 1.
//   3. the query's own distribution: P(w|Q) = count of w in the query / query length.
//   4. weight(w) = original_weight * P(w|Q) + (1 - original_weight) * P(w|R).
// The result is every term with a positive weight, sorted by term (a deterministic order, so
// that equal inputs give bit-identical scores). BM25 with per-term weights then scores
// sum over w of weight(w) * bm25(w, D) (Bm25SearchOptions::weights).
//
// Thread safety: stateless; call from any thread.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "index/lexical/analyzer.h"

namespace ragd::index::lexical {

struct FeedbackOptions {
  // Feedback documents (fbDocs): how many of the first search's best hits expand the query.
  // 0 turns feedback off (one search, as without it). 0..100. Default: 0 (off; the evaluation
  // in bench/README.md, "Pseudo-relevance feedback", says why).
  size_t docs = 0;
  // Expansion terms kept (fbTerms), per document and overall. 1..100. Default: 10 (Anserini's).
  size_t terms = 10;
  // The original query's share of the final weights (lambda, originalQueryWeight), in [0, 1]:
  // 1 is the original query alone, 0 the relevance model alone. Default: 0.5 (Anserini's).
  double original_weight = 0.5;
  // A term in more than this fraction of the collection's documents is never an expansion
  // term, in (0, 1]. Default: 0.1 (Anserini's).
  double max_df_ratio = 0.1;

  bool enabled() const { return docs > 0; }
  // INVALID_ARGUMENT naming the field and its range.
  absl::Status Validate() const;
};

// One feedback document: its distinct terms with their counts (CountTerms) and its score in
// the first search (> 0).
struct FeedbackDocument {
  std::vector<TermFreq> terms;
  double score = 0;
};

struct WeightedTerm {
  std::string term;
  double weight = 0;
};

// The expanded query (see the top of this file). `query_terms` as the analyzer gave them
// (repeats count); `doc_freq(term)` and `documents` (N) are the collection's. Documents with
// a non-positive score or no candidate term add nothing; with no feedback at all the result
// is the original query's distribution alone (the same ranking as the original query).
std::vector<WeightedTerm> ExpandQuery(std::span<const std::string> query_terms,
                                      std::span<const FeedbackDocument> feedback,
                                      const std::function<uint64_t(std::string_view)>& doc_freq,
                                      uint64_t documents, const FeedbackOptions& options);

}  // namespace ragd::index::lexical
