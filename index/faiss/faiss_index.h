#pragma once
// FaissIndex: VectorIndex over any FAISS 1.7.3 index built by faiss::index_factory
// (IndexSpec::faiss_factory, e.g. "HNSW32", "HNSW32,SQ8", "IVF1024,Flat", "Flat"). No FAISS
// header is reachable from here.
//
// Metric: kCosine normalises vectors on Add and Search and uses METRIC_INNER_PRODUCT; kDot uses
// METRIC_INNER_PRODUCT on raw vectors; kL2 uses METRIC_L2 with score = -distance (types.h).
//
// Labels: FAISS stores rows 0..n-1 in insertion order (its own sequential ids); the adapter
// keeps the row -> label table, the live label -> row map and a per-row "dead" flag itself.
// This replaces IndexIDMap2: FAISS HNSW cannot remove_ids, a replaced label must hide its old
// row, and 1.7.3's IndexIDMap does not translate a SearchParameters IDSelector, whereas a
// selector over row numbers works on the inner index directly. Factory strings that add their
// own id map ("IDMap,...") are rejected.
//
// Remove and replace: the old row is flagged dead and excluded from every search by an
// IDSelector (combined with the caller's LabelFilter), so its space is not reclaimed and is
// counted by removed_count() until the engine rebuilds the index. A removed label added again
// becomes live again on a new row.
//
// Search: per-call knobs through SearchParametersHNSW{efSearch} / SearchParametersIVF{nprobe}
// (race-free, unlike setting the index's efSearch/nprobe). HNSW ef defaults to IndexSpec::ef,
// nprobe to IndexSpec::nprobe; construction uses IndexSpec::ef_construction for HNSW indexes.
// Filtered search uses SearchOptions::filter_selectivity: when an exact scan of the matching
// rows costs fewer distances than the graph or list walk (selectivity x size <= ef /
// selectivity) the search is an exact scan; otherwise efSearch and nprobe are widened by
// 1 / selectivity (efSearch up to 4096) so that enough accepted candidates are met.
//
// Training rule (IVF, PQ, SQ): until training_threshold() vectors have been added, vectors are
// buffered in the adapter and searched exactly (brute force over the buffer). When the
// threshold is reached the index is trained on everything buffered, which is then added. The
// threshold is max(1000, 40 x nlist for IVF, 40 x 2^nbits for PQ codebooks) — FAISS warns when
// k-means gets fewer than 39 points per centroid. Indexes that need no training start at 0.
//
// Exactness: for indexes whose stored vectors are exact (Flat, HNSW over Flat storage),
// ScoreLabels reconstructs vectors from FAISS. For every other index (SQ, PQ, IVF) the adapter
// also keeps the float vectors: ScoreLabels uses them, and searches fetch
// kRerankFactor x top_k candidates and re-rank them with exact scores. That costs dim x 4
// bytes per vector in exchange for exact scores.
//
// Save/Load: faiss::write_index / read_index on an in-memory buffer after a small versioned
// header (row labels, dead flags, kept vectors). Load validates the header against the bytes
// present before allocating and checks FAISS HNSW graphs' links: DATA_LOSS on malformed input.
//
// Thread safety: as VectorIndex. Errors: every FAISS call runs under one guard
// (bad_alloc -> RESOURCE_EXHAUSTED, FaissException and others -> INTERNAL).

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "index/vector_index.h"

namespace ragd::index {

class FaissIndex final : public VectorIndex {
 public:
  // Candidates fetched per requested hit before exact re-ranking (lossy indexes only).
  static constexpr size_t kRerankFactor = 2;

  // INVALID_ARGUMENT when the factory string does not parse for this dim and metric.
  static absl::StatusOr<std::unique_ptr<FaissIndex>> Create(const IndexSpec& spec, size_t dim,
                                                            Metric metric);
  static absl::StatusOr<std::unique_ptr<FaissIndex>> Load(const IndexSpec& spec, size_t dim,
                                                          Metric metric, std::string_view data);
  ~FaissIndex() override;

  size_t dim() const override { return dim_; }
  Metric metric() const override { return metric_; }
  const IndexSpec& spec() const override { return spec_; }
  size_t size() const override { return ids_.size(); }
  size_t removed_count() const override { return row_labels_.size() - ids_.size(); }
  size_t MemoryBytes() const override;

  absl::Status Add(std::span<const Label> labels, std::span<const float> vectors) override;
  absl::Status Remove(std::span<const Label> labels) override;
  absl::StatusOr<std::vector<SearchHit>> Search(std::span<const float> query,
                                                const SearchOptions& options) const override;
  absl::StatusOr<std::vector<SearchHit>> ScoreLabels(std::span<const float> query,
                                                     std::span<const Label> labels,
                                                     size_t top_k) const override;
  bool Contains(Label label) const override { return ids_.contains(label); }
  std::vector<Label> Labels() const override;
  absl::Status Save(std::string* out) const override;

  // Vectors needed before the index is trained; 0 when it needs no training.
  size_t training_threshold() const { return training_threshold_; }
  // True once the FAISS index is trained and holds every row.
  bool trained() const;

 private:
  struct Impl;  // owns the faiss::Index
  FaissIndex(const IndexSpec& spec, size_t dim, Metric metric, std::unique_ptr<Impl> impl);
  // Row numbers [faiss_rows(), rows) are buffered in raw_ only (index not trained yet).
  size_t faiss_rows() const;
  const float* RawRow(size_t row) const { return raw_.data() + row * dim_; }
  absl::Status TrainAndAddBuffered();

  IndexSpec spec_;
  size_t dim_;
  Metric metric_;
  std::unique_ptr<Impl> impl_;
  std::vector<Label> row_labels_;              // row -> label
  std::vector<uint8_t> dead_;                  // row -> removed or replaced
  absl::flat_hash_map<Label, int64_t> ids_;    // live label -> row
  std::vector<float> raw_;                     // row-major floats of every row, when kept
  bool keep_raw_ = false;                      // lossy storage: keep raw_ for good
  size_t training_threshold_ = 0;
};

}  // namespace ragd::index
