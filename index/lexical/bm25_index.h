#pragma once
// Bm25Index: an in-memory inverted index (term -> postings of label and term frequency) scored
// with Okapi BM25.
//
// Scoring, for a query of terms q1..qn (a term repeated in the query counts once per
// occurrence, as a Lucene BooleanQuery of SHOULD clauses and an FTS5 OR query do):
//
//   score(D) = sum_i idf(qi) * tf(qi,D) * (k1 + 1) / (tf(qi,D) + k1 * (1 - b + b * |D| / avgdl))
//   idf(q)   = ln(1 + (N - df(q) + 0.5) / (df(q) + 0.5))
//
// N is the number of documents, df(q) the number of documents holding q, |D| the document's
// length (the sum of its term frequencies) and avgdl the mean length. The IDF is Lucene's
// (org.apache.lucene.search.similarities.BM25Similarity): unlike Robertson's
// ln((N - df + 0.5) / (df + 0.5)), which SQLite FTS5's bm25() uses (clamped to 1e-6), it never
// goes negative for terms in more than half of the documents. The (k1 + 1) factor is
// Robertson's and FTS5's; Lucene's current BM25Similarity drops it (a constant factor, so
// rankings are the same). Document lengths are exact (Lucene keeps them in one byte, approximate
// above 39). Robertson & Zaragoza,
// "The Probabilistic Relevance Framework: BM25 and Beyond" (2009) is the reference.
//
// Statistics (N, total length, df) are maintained exactly by Add and Remove.
//
// Layout (as Lucene, Tantivy and PISA lay out a segment, adapted to updates in place): every
// document gets a dense ordinal in the order it was added (label <-> ordinal tables, its
// length by ordinal); each term has one contiguous array of postings (ordinal, tf) sorted by
// ordinal, which Add only appends to (a new ordinal is the largest). Remove tombstones the
// ordinal (its postings stay and are skipped) and keeps N, the total length and every df exact
// at once; when the tombstoned postings pass a quarter of all postings the index is compacted
// (live ordinals renumbered densely in the same order, dead postings dropped, terms without a
// document forgotten): O(postings), amortised over the removals that triggered it.
//
// Thread safety: none inside. Const methods (Search, Save, the statistics) may run concurrently
// with each other; Add, Remove and assignment need exclusive access (the caller's writer lock,
// as for VectorIndex).
//
// Errors: never throws. std::bad_alloc becomes RESOURCE_EXHAUSTED.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "index/lexical/analyzer.h"
#include "index/vector_index.h"

namespace ragd::index::lexical {

struct Bm25Options {
  // Term-frequency saturation (k1 in the papers). Must be in [0, 10]. Default: 1.2.
  double k1 = 1.2;
  // Length normalisation (b): 0 ignores document length, 1 normalises fully. In [0, 1].
  // Default: 0.75.
  double b = 0.75;

  absl::Status Validate() const;
};

// What pruned Searches did (Bm25SearchOptions::stats), summed over calls.
struct Bm25SearchStats {
  uint64_t candidates = 0;       // documents reached by the essential lists' walk
  uint64_t block_dropped = 0;    // of those, dropped by the non-essential lists' block bounds
  uint64_t probes = 0;           // seeks into non-essential lists
  uint64_t windows_skipped = 0;  // runs of ordinals skipped on the essential lists' block bounds
};

struct Bm25SearchOptions {
  // Number of hits to return, best first. Default: 10.
  size_t top_k = 10;
  // When set, only labels it accepts are returned (called at most once per candidate
  // document; must be thread-safe when searches run concurrently).
  const LabelFilter* filter = nullptr;
  // Scores every posting of every query term (term-at-a-time, the reference) instead of the
  // pruned top-k search described at Search(). Both return the same hits with the same scores;
  // this is for tests and benchmarks. Default: false.
  bool exhaustive = false;
  // Pruned search only: start the k-th best score from the first 2k documents of the rarest
  // query term, scored in full, instead of from 0 (see Search). The same hits either way.
  // Off by default: measured at 100k chunks it cost more than it saved (bench/README.md,
  // "Postings as arrays"); kept for the bench and the tests. Default: false.
  bool prime = false;
  // Pruned search only: block-max MaxScore (see Search): candidates are dropped on the bounds
  // of the non-essential lists' blocks that would hold them, and runs of ordinals skipped
  // where the essential lists' blocks cannot reach the k-th best. The same hits either way.
  // Off by default: at 100k chunks of the bench's corpus it dropped about a third of the
  // candidates but cost more than it saved (bench/README.md, "Block-max bounds"). Default:
  // false.
  bool block_max = false;
  // When set, Search adds what it did here (tests and the bench; not thread-safe to share).
  Bm25SearchStats* stats = nullptr;
  // Per query term (same length as the query), a factor on everything that term adds to a
  // score: weighted queries such as RM3's expansion (feedback.h). Each must be finite and > 0.
  // Empty: 1 for every term (a term given twice then counts twice). Default: empty.
  std::span<const double> weights = {};
};

struct Bm25Hit {
  Label label = 0;
  double score = 0;  // > 0 for every hit
};

class Bm25Index {
 public:
  // Limits checked by Add and by Load (a crafted file cannot claim more).
  static constexpr size_t kMaxTermBytes = 1024;
  static constexpr uint32_t kMaxDocumentLength = 1u << 30;

  explicit Bm25Index(const Bm25Options& options = {});

  // Indexes `terms` (distinct terms with frequencies >= 1, e.g. from CountTerms) under
  // `label`, replacing what the label held before (so replaying an add is harmless).
  // INVALID_ARGUMENT for an empty or over-long term, a zero frequency, a repeated term or a
  // total length above kMaxDocumentLength (the index is then unchanged). A document without
  // terms is counted in N. On RESOURCE_EXHAUSTED the label is no longer indexed.
  absl::Status Add(Label label, std::span<const TermFreq> terms);
  // Removes the label's postings. False when it was not indexed.
  bool Remove(Label label);
  bool Contains(Label label) const { return ordinals_.contains(label); }
  // The indexed labels, in no particular order (for the engine's Verify).
  std::vector<Label> Labels() const;

  // The top_k labels holding at least one query term, best first (ties by ascending label).
  // Unknown terms contribute nothing. INVALID_ARGUMENT when top_k is 0 or `weights` is neither
  // empty nor one positive finite number per query term.
  //
  // Document-at-a-time MaxScore (Turtle & Flood, "Query evaluation: strategies and
  // optimizations", 1995; as PISA's maxscore_query and Lucene's MaxScoreBulkScorer): each term
  // has an upper bound of what it can add to any document's score (its idf times the tf part
  // at the largest tf and the shortest document among its postings). The terms are ordered by
  // bound; once the k-th best score exceeds the summed bounds of the lowest-bound terms, those
  // terms are "non-essential": no document holding only them can enter the top k, so only the
  // other lists are walked in ordinal order, and the non-essential ones are probed (galloping
  // search over the sorted array) for a walked document only while its score plus their
  // bounds can still reach the k-th best. Each document's score is summed in query-term
  // order, exactly as exhaustive scoring sums it, so the hits, their scores and the order of
  // ties are the same bit for bit (lexical_test checks against `exhaustive` on random data).
  // With `block_max`, the bounds of 64-posting blocks (Term::blocks) also drop candidates
  // against the non-essential lists and skip runs of ordinals of the essential lists (block-max
  // MaxScore, as PISA's block_max_maxscore_query); the same hits and scores.
  // `exhaustive` scores term-at-a-time into a dense per-thread accumulator over ordinals.
  // The filter is asked once per document that could enter the top k (exhaustive: once per
  // document holding a query term).
  absl::StatusOr<std::vector<Bm25Hit>> Search(std::span<const std::string> query_terms,
                                              const Bm25SearchOptions& options = {}) const;

  size_t size() const { return ordinals_.size(); }         // N
  uint64_t total_length() const { return total_length_; }  // sum of |D|
  double average_length() const;                           // avgdl (0 when empty)
  uint32_t DocFreq(std::string_view term) const;           // df
  size_t term_count() const { return live_terms_; }        // distinct terms
  // Resident bytes, estimated from the tables' and arrays' capacities and the strings' heap
  // parts (allocator overhead not counted). O(distinct terms): for collection info and
  // metrics, not for a per-search path.
  size_t MemoryBytes() const;
  const Bm25Options& options() const { return options_; }

  // Appends a self-describing image to `out` (little-endian): a 64-byte header — magic "BM25",
  // format version, k1, b, document count, term count, total length, payload bytes and an
  // XXH3-64 checksum of the header's other fields and the payload — then the payload: the
  // documents (label, length) by label, and the terms (bytes, postings of label and tf) by
  // term. Sorted, so that equal indexes give equal bytes.
  absl::Status Save(std::string* out) const;
  // Rebuilds an index from Save()'s output. The header, sizes and checksum are validated
  // before anything is allocated, and the payload is checked for consistency (every posting's
  // label is a document, lengths add up, no term or label repeats): DATA_LOSS otherwise.
  static absl::StatusOr<Bm25Index> Load(std::string_view data);

 private:
  using Ordinal = uint32_t;
  struct Posting {
    Ordinal ordinal = 0;
    uint32_t tf = 0;
  };
  struct Term {
    std::vector<Posting> postings;  // ascending ordinals; tombstoned ones included
    uint32_t df = 0;                // live postings (documents holding the term)
    // Over the postings stored (live or tombstoned): the largest tf and the shortest
    // document, which bound what the term can add to a score (Search's pruning). Tombstones
    // only loosen them; compaction tightens them again.
    uint32_t max_tf = 0;
    uint32_t min_length = UINT32_MAX;
    // The same two bounds per block of kBlock postings (block i holds postings
    // [i * kBlock, (i + 1) * kBlock)): blocks.size() == ceil(postings.size() / kBlock). Add
    // updates the last block, tombstones leave them valid (only looser), compaction and Load
    // rebuild them. Storing max tf and min length rather than a score keeps them valid for
    // every avgdl and N (Lucene's impacts store (freq, norm) pairs for the same reason).
    struct Block {
      uint32_t max_tf = 0;
      uint32_t min_length = UINT32_MAX;
    };
    std::vector<Block> blocks;
  };
  // Postings per block: 64, as PISA's default block size and half of Lucene's 128-doc blocks
  // (smaller blocks bound tighter; the side array costs 8 bytes per 64 postings, 1.6%).
  static constexpr size_t kBlock = 64;
  // Recomputes term.blocks from its postings. Never allocates when the block count does not
  // grow (compaction only shrinks it).
  // (`lengths` by the postings' ordinals.)
  static void RebuildBlocks(Term& term, std::span<const uint32_t> lengths);
  // Ordinals are 32-bit: Add compacts first when they run out, RESOURCE_EXHAUSTED if that
  // frees none.
  static constexpr size_t kMaxOrdinals = UINT32_MAX;

  // Drops tombstoned postings and documents and renumbers ordinals densely. Allocates its
  // new tables first and only then changes anything: on std::bad_alloc the index is unchanged.
  void Compact();
  void MaybeCompact();

  Bm25Options options_;
  absl::flat_hash_map<Label, Ordinal> ordinals_;  // live documents only
  // By ordinal, tombstoned ones included until the next compaction.
  std::vector<Label> labels_;
  std::vector<uint32_t> lengths_;  // |D|
  std::vector<uint8_t> dead_;      // 1: removed
  // The term ids of ordinal o are doc_terms_[doc_begin_[o] .. doc_begin_[o + 1]) (Remove
  // decrements their df). doc_begin_ has one entry more than labels_.
  std::vector<uint64_t> doc_begin_{0};
  std::vector<uint32_t> doc_terms_;
  absl::flat_hash_map<std::string, uint32_t> term_ids_;
  std::vector<Term> terms_;              // by term id
  std::vector<uint32_t> free_term_ids_;  // ids of forgotten terms, reused by Add
  uint64_t total_length_ = 0;
  size_t live_terms_ = 0;       // terms with df > 0
  uint64_t postings_ = 0;       // stored postings, tombstoned ones included
  uint64_t dead_postings_ = 0;  // tombstoned postings
  size_t dead_docs_ = 0;        // tombstoned ordinals
};

}  // namespace ragd::index::lexical
