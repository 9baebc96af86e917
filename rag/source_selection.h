#pragma once
// Which retrieved chunks go into a prompt, and in what order: near-duplicate removal, MMR
// re-ranking and a cap on their number. One implementation, used by PromptBuilder for one
// model and by the answerer once for all the models of an Answer call (so that a citation
// number means the same chunk whichever model cites it).
//
//   1. de-duplication (optional): a source whose token-shingle Jaccard similarity with a
//      better-ranked kept source is >= dedup_threshold is dropped;
//   2. MMR (optional): the remaining sources are re-ranked by maximal marginal relevance
//      (Carbonell & Goldstein 1998) with mmr_lambda;
//   3. at most max_sources are kept (0: no cap).
//
// Thread safety: free functions over their arguments; safe to call concurrently.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "models/tokenizer.h"

namespace ragd::rag {

// One retrieved chunk, in rank order (best first) in the input.
struct PromptSource {
  std::string text;
  std::string title;
  // e.g. "Models > Embeddings"; empty when the chunk has none.
  std::string heading_path;
  // 1-based page, when the document has pages.
  std::optional<int> page;
  // Retrieval score, higher is better; used by MMR as relevance.
  double score = 0;
  // Optional embedding, for MMR similarity (cosine). When some source lacks one or the
  // lengths differ, MMR uses token-shingle Jaccard similarity instead.
  std::vector<float> vector;
};

struct SelectionOptions {
  // Near-duplicates: Jaccard similarity of the sets of `shingle_tokens`-token shingles (token
  // ids of the tokenizer given). Default: true, 0.8, 3.
  bool dedup = true;
  double dedup_threshold = 0.8;
  size_t shingle_tokens = 3;
  // MMR re-ranking: score = lambda * relevance - (1 - lambda) * max similarity to the sources
  // already chosen; relevance is the score min-max normalised to [0, 1]; lambda = 1 keeps the
  // retrieval order. Default: false, 0.7.
  bool mmr = false;
  double mmr_lambda = 0.7;
  // Most sources kept; 0 means no limit. Default: 0.
  size_t max_sources = 0;

  // OK, or INVALID_ARGUMENT naming the field.
  absl::Status Validate() const;
};

struct Selection {
  std::vector<size_t> order;       // indices into the sources, in prompt order
  std::vector<size_t> duplicates;  // left out as near-duplicates, in input order
  std::vector<size_t> capped;      // left out by max_sources, in selection order
};

// Applies `options` (which must be valid) to `sources`, given best first.
Selection SelectSources(const models::Tokenizer& tokenizer,
                        const std::vector<PromptSource>& sources, const SelectionOptions& options);

// Jaccard similarity of the `shingle_tokens`-token shingle sets of two texts (a text shorter
// than that is one shingle). 1 for two empty texts.
double ShingleJaccard(const models::Tokenizer& tokenizer, std::string_view a, std::string_view b,
                      size_t shingle_tokens);

// Indices of `sources` to keep, in order: each one whose similarity with an earlier kept one
// is >= threshold is left out.
std::vector<size_t> DeduplicateSources(const models::Tokenizer& tokenizer,
                                       const std::vector<PromptSource>& sources,
                                       const std::vector<size_t>& candidates, double threshold,
                                       size_t shingle_tokens);

// `candidates` (indices into sources) re-ordered by greedy MMR selection (see PromptOptions).
std::vector<size_t> MmrOrder(const models::Tokenizer& tokenizer,
                             const std::vector<PromptSource>& sources,
                             const std::vector<size_t>& candidates, double lambda,
                             size_t shingle_tokens);

}  // namespace ragd::rag
