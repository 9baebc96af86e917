#pragma once
// MetadataIndex: inverted indexes over the points' document_id and metadata, so that a filter
// is answered from posting sets instead of a scan of every live point's metadata
// (index/filter.h's Matches). Evaluate() returns the exact set of labels Matches() accepts —
// the same coercions (int64 and double compare by value, exactly when both are int64; a list
// field matches a wanted string when any element equals it, a wanted list when equal in
// order; NaN matches nothing; a missing key matches no condition) — and its size comes with
// it, which is what a query planner needs to choose between scoring the matching set exactly
// and walking the vector index restricted to it.
//
// Structures, per metadata key (and one for document_id):
//   - strings (and each element of a list of strings): value -> posting set;
//   - lists of strings, whole: the list -> posting set (a wanted list compares in order);
//   - bools: two posting sets;
//   - numbers: int64 value -> set, double value -> set (exact equality), the int64 values
//     also by their double value (a double wanted value equals an int64 field by value), and
//     every numeric value (as double, NaN left out) in an ordered multimap for ranges.
// Posting sets are compressed bitmaps (CRoaring's 64-bit Roaring64Map, hidden here). AND
// intersects, OR unites, NOT subtracts from the live set.
//
// Thread safety: none inside; Add/Remove need exclusive access, Evaluate/Count may run
// concurrently with each other (the shard's reader-writer lock, as for its vector index).
//
// Errors: never throws. Evaluate returns RESOURCE_EXHAUSTED when memory runs out; the index is
// unchanged by a failed Add only up to that label (the caller drops and rebuilds it).

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "index/filter.h"
#include "index/types.h"
#include "index/vector_index.h"

namespace ragd::index::metadata {

// The labels a filter matched: a set with its size, a membership test for restricted index
// walks (a LabelFilter), and its members in ascending order.
class LabelSet final : public LabelFilter {
 public:
  LabelSet();
  ~LabelSet() override;
  LabelSet(LabelSet&&) noexcept;
  LabelSet& operator=(LabelSet&&) noexcept;

  uint64_t size() const;
  bool empty() const { return size() == 0; }
  bool Accept(Label label) const override;
  std::vector<Label> ToVector() const;
  // Approximate bytes of the compressed set.
  size_t MemoryBytes() const;

  struct Impl;

 private:
  explicit LabelSet(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend class MetadataIndex;
};

class MetadataIndex {
 public:
  MetadataIndex();
  ~MetadataIndex();
  MetadataIndex(MetadataIndex&&) noexcept;
  MetadataIndex& operator=(MetadataIndex&&) noexcept;

  // Indexes a live point. A label is added once; to change a point, Remove it with the values
  // it was added with and Add the new ones (labels are never reused by the engine).
  // RESOURCE_EXHAUSTED when memory runs out.
  absl::Status Add(Label label, std::string_view document_id, const Metadata& metadata);
  // Removes what Add(label, document_id, metadata) added.
  void Remove(Label label, std::string_view document_id, const Metadata& metadata);

  // The labels matching `filter` (validated by the caller: Filter::Validate).
  absl::StatusOr<LabelSet> Evaluate(const Filter& filter) const;
  // Every live label.
  absl::StatusOr<LabelSet> All() const;
  uint64_t size() const;
  size_t MemoryBytes() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ragd::index::metadata
