#pragma once
// Shard: one slice of a collection (points routed by Hash64(id) % shards). It owns the
// in-memory vector index, the BM25 index of collections with a lexical index, and the maps
// that filtered search and the write path need; RocksDB (through storage::Store) stays the
// source of truth.
//
// The BM25 index has no snapshot: Recover() rebuilds it from the lexical column family (term
// records, no analysis), which is the "verified against RocksDB" of the vector snapshots by
// construction. Records written by another analyzer version, and stored points without a
// record, are analysed again from the point's stored text (in memory; logged).
//
// Locking: `mu_` is a reader-writer lock. Searches and counts take it shared; the write path
// takes it exclusive only to update the index and maps after RocksDB has committed. Writers
// are serialised by their collection's write mutex, which callers of the Writer* methods hold.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "index/engine/engine.h"
#include "index/filter.h"
#include "index/metadata/metadata_index.h"
#include "index/lexical/analyzer.h"
#include "index/lexical/bm25_index.h"
#include "index/storage/store.h"
#include "index/storage/vector_file.h"
#include "index/vector_index.h"

namespace ragd::index {

// Bump when the analyzers' output changes for the same text (ICU data, word lists, rules):
// records with another id are analysed again at Open. 2: question words dropped, more Korean
// endings stripped, kBoth's bigrams taken from the stripped word (index/lexical/README.md).
inline constexpr uint32_t kAnalysisVersion = 2;
// What a term record's `analyzer` field holds: the analysis version, the Korean mix and the
// kind.
inline uint32_t AnalyzerId(const lexical::AnalyzerOptions& o) {
  return (kAnalysisVersion << 16) | (static_cast<uint32_t>(o.korean_mix) << 8) |
         static_cast<uint32_t>(o.kind);
}
// The distinct terms of `text` with their frequencies (the analyzer's errors).
absl::StatusOr<std::vector<lexical::TermFreq>> AnalyzeText(const lexical::Analyzer& analyzer,
                                                           std::string_view text);
storage::TermRecord ToTermRecord(uint32_t analyzer_id, const std::vector<lexical::TermFreq>& t);

class Shard {
 public:
  // What the in-memory side keeps per live point: enough to evaluate filters.
  struct LiveMeta {
    std::string id;
    std::string document_id;
    Metadata metadata;
  };
  // One upsert after RocksDB committed it.
  struct Added {
    Label label;
    const Point* point;  // vector already normalised for kCosine
    // The point's analysed text (collections with a lexical index), else null.
    const std::vector<lexical::TermFreq>* terms = nullptr;
  };
  struct Hit {
    Label label;
    std::string id;
    float score;
  };

  // `analyzer` (not owned, outlives the shard) is the collection's, null without a lexical
  // index.
  Shard(storage::Store* store, storage::ShardKey key, const CollectionSpec& spec,
        const Engine::Options& options, const lexical::Analyzer* analyzer);

  // Loads the maps from RocksDB, then the index snapshot (validated) reconciled with RocksDB,
  // or rebuilds the index from RocksDB when the snapshot is missing, stale or corrupt.
  absl::Status Recover();

  // --- write side: caller holds the collection's write mutex ---
  std::optional<Label> WriterLabelOf(std::string_view id) const;
  Label WriterAllocateLabel() { return next_label_++; }
  uint64_t WriterNextLabel() const { return next_label_; }
  // Ids of live points matching `filter` (the write mutex keeps the maps still).
  // RESOURCE_EXHAUSTED when the matching set does not fit in memory.
  absl::StatusOr<std::vector<std::string>> WriterMatchingIds(const Filter& filter) const;
  // Makes committed changes visible: adds `added`, removes `removed` labels (replaced or
  // deleted points). Takes the exclusive lock.
  absl::Status WriterApply(const std::vector<Added>& added,
                           const std::vector<std::pair<Label, std::string>>& removed);

  // Quantized indexes: whether and how widely candidates are re-scored with the float32
  // vectors in RocksDB (SearchOptions::rescore, oversampling).
  struct Rescoring {
    bool rescore = true;
    float oversampling = 0;
  };

  // --- read side ---
  absl::StatusOr<std::vector<Hit>> Search(std::span<const float> query, size_t k, int ef,
                                          const Filter* filter, SearchPlan* plan,
                                          Rescoring rescoring) const;
  // BM25 search of analysed query terms (top k, best first), restricted to `filter` when set.
  // FAILED_PRECONDITION without a lexical index.
  // `weights`: one per term, or empty (Bm25SearchOptions::weights).
  absl::StatusOr<std::vector<Hit>> SearchText(std::span<const std::string> terms, size_t k,
                                              const Filter* filter,
                                              std::span<const double> weights = {}) const;
  // Adds this shard's document frequency of each term to `doc_freqs` (same length as `terms`)
  // and its document count to `*documents` (pseudo-relevance feedback's statistics, summed over
  // the shards). Nothing without a lexical index.
  void AddTextStatistics(std::span<const std::string_view> terms, std::span<uint64_t> doc_freqs,
                         uint64_t* documents) const;
  uint64_t Count(const Filter* filter) const;
  size_t live() const;
  size_t removed() const;
  size_t index_bytes() const;
  // Vectors re-scoring took from vector_file_ and from RocksDB (CollectionInfo).
  uint64_t rescore_file_reads() const { return vector_file_ ? vector_file_->hits() : 0; }
  uint64_t rescore_storage_reads() const {
    return storage_reads_.load(std::memory_order_relaxed);
  }
  // Vector searches (Search) since the shard was opened, and the CPU time of the threads that
  // ran them, in nanoseconds (CollectionInfo::vector_searches, vector_search_cpu_ns).
  uint64_t vector_searches() const { return vector_searches_.load(std::memory_order_relaxed); }
  uint64_t vector_search_cpu_ns() const {
    return vector_search_cpu_ns_.load(std::memory_order_relaxed);
  }

  // True when the removed slots justify a rebuild (compaction_ratio, compaction_min_removed).
  bool NeedsCompaction() const;
  // Builds a new index from RocksDB and swaps it in, without blocking readers. `write_mu` is
  // the collection's write mutex: held briefly at the start (to pin a consistent RocksDB view
  // and start logging writes) and at the end (to replay logged writes and swap).
  absl::Status Compact(std::mutex& write_mu);

  // Engine::Verify for this shard: adds its findings to `report`, searching for at most
  // `max_searches` of its points (an even sample). `write_mu` is the collection's write mutex,
  // held only while a RocksDB view is pinned and the index's labels copied.
  absl::Status Verify(std::mutex& write_mu, const VerifyOptions& options, size_t max_searches,
                      VerifyReport* report) const;

  // Saves the index snapshot when anything changed since the last one; then sets `*attempted`
  // (when not null) to true, whether the save succeeded or not.
  absl::Status SaveSnapshotIfDirty(uint64_t sequence, bool* attempted = nullptr);

  storage::ShardKey key() const { return key_; }

 private:
  // Builds an index holding every vector of this shard in RocksDB (as of `view`).
  absl::StatusOr<std::unique_ptr<VectorIndex>> BuildFromStore(const storage::ReadView* view) const;
  uint64_t SpecFingerprint() const;
  // The live labels matching `filter`: from the metadata index, or by a scan of live_ when
  // Engine::Options::metadata_index is off. Caller holds mu_ (shared) or the write mutex.
  absl::StatusOr<std::vector<Label>> MatchingLabels(const Filter& filter) const;
  // The filtered-search planner's cost model: true when scoring every one of `matching` points
  // exactly computes fewer distances than a graph walk restricted to them. Caller holds mu_.
  bool ScoringTheSetIsCheaper(uint64_t matching, size_t k, int ef) const;
  // Recover()'s lexical half: fills bm25_ from the term records of the live points.
  absl::Status RecoverLexical();
  // SearchOptions::exact_vectors of a quantized index: from vector_file_ when it has them,
  // the rest from RocksDB (then written to vector_file_).
  absl::Status FetchExactVectors(std::span<const Label> labels, std::vector<float>* vectors,
                                 std::vector<bool>* found) const;

  storage::Store* store_;
  const storage::ShardKey key_;
  const CollectionSpec& spec_;
  const Engine::Options& options_;

  mutable std::shared_mutex mu_;
  std::unique_ptr<VectorIndex> index_;
  const lexical::Analyzer* analyzer_;
  std::unique_ptr<lexical::Bm25Index> bm25_;  // null without a lexical index
  // Quantized indexes (Engine::Options::rescore_file): a read-through cache of the float32
  // vectors that re-scoring reads (storage/vector_file.h); null otherwise or when it could
  // not be created. Set by Recover(), before any search.
  std::unique_ptr<storage::VectorFile> vector_file_;
  mutable std::atomic<uint64_t> storage_reads_{0};
  mutable std::atomic<uint64_t> vector_searches_{0};
  mutable std::atomic<uint64_t> vector_search_cpu_ns_{0};
  absl::flat_hash_map<Label, LiveMeta> live_;
  // The live points' document_id and metadata as posting sets: filters are answered from it,
  // with the matching set's size, instead of a scan of live_ (LiveMeta keeps the values that
  // a removal takes out of it).
  metadata::MetadataIndex metadata_;
  absl::flat_hash_map<std::string, Label> labels_;
  std::atomic<uint64_t> next_label_{1};
  std::atomic<bool> dirty_{false};
  std::atomic<bool> compacting_{false};

  // While a compaction builds its new index, the write path logs what it applies here so the
  // new index can catch up before the swap. Guarded by the collection's write mutex.
  struct Logged {
    std::vector<Label> labels;
    std::vector<float> vectors;
    std::vector<Label> removed;
  };
  std::unique_ptr<Logged> compaction_log_;
  std::mutex snapshot_mu_;  // one snapshot writer at a time
};

}  // namespace ragd::index
