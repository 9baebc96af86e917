#pragma once
// FlatIndex: exact brute-force search, the reference every other backend is tested against.
//
// Storage: one contiguous row-major float array plus a label -> row map. Remove swaps the last
// row into the hole, so space is reclaimed at once and removed_count() is always 0. A label
// removed and added again simply becomes live again.
//
// Thread safety: as VectorIndex (const methods concurrent; Add/Remove exclusive).

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "index/vector_index.h"

namespace ragd::index {

class FlatIndex final : public VectorIndex {
 public:
  FlatIndex(const IndexSpec& spec, size_t dim, Metric metric);

  // Rebuilds from FlatIndex::Save() output. DATA_LOSS on malformed bytes.
  static absl::StatusOr<std::unique_ptr<FlatIndex>> Load(const IndexSpec& spec, size_t dim,
                                                         Metric metric, std::string_view data);

  size_t dim() const override { return dim_; }
  Metric metric() const override { return metric_; }
  const IndexSpec& spec() const override { return spec_; }
  size_t size() const override { return labels_.size(); }
  size_t removed_count() const override { return 0; }
  size_t MemoryBytes() const override;

  absl::Status Add(std::span<const Label> labels, std::span<const float> vectors) override;
  absl::Status Remove(std::span<const Label> labels) override;
  absl::StatusOr<std::vector<SearchHit>> Search(std::span<const float> query,
                                                const SearchOptions& options) const override;
  absl::StatusOr<std::vector<SearchHit>> ScoreLabels(std::span<const float> query,
                                                     std::span<const Label> labels,
                                                     size_t top_k) const override;
  bool Contains(Label label) const override { return rows_.contains(label); }
  std::vector<Label> Labels() const override { return labels_; }
  absl::Status Save(std::string* out) const override;

 private:
  IndexSpec spec_;
  size_t dim_;
  Metric metric_;
  std::vector<float> data_;     // row r at [r * dim_, (r + 1) * dim_)
  std::vector<Label> labels_;   // label of row r
  absl::flat_hash_map<Label, uint32_t> rows_;
};

}  // namespace ragd::index
