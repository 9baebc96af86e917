#include "index/engine/verify.h"

#include <cmath>

#include "common/status.h"

namespace ragd::index {
namespace {

constexpr size_t kTopK = 10;

template <typename T>
void Note(std::vector<T>* examples, T value) {
  if (examples->size() < VerifyReport::kMaxExamples) examples->push_back(std::move(value));
}

}  // namespace

void CompareShard(const std::vector<std::pair<std::string, Label>>& stored_points,
                  const absl::flat_hash_set<Label>& stored_vector_labels,
                  const std::vector<Label>& index_labels, VerifyReport* report) {
  const absl::flat_hash_set<Label> in_index(index_labels.begin(), index_labels.end());
  absl::flat_hash_set<Label> referenced;
  referenced.reserve(stored_points.size());
  report->storage_points += stored_points.size();
  report->index_points += in_index.size();
  for (const auto& [id, label] : stored_points) {
    referenced.insert(label);
    if (!stored_vector_labels.contains(label)) {
      ++report->missing_vectors;
      Note(&report->missing_vector_ids, id);
    }
    if (!in_index.contains(label)) {
      ++report->missing_from_index;
      Note(&report->missing_from_index_ids, id);
    }
  }
  for (Label label : index_labels) {
    if (referenced.contains(label)) continue;
    ++report->missing_from_storage;
    Note<uint64_t>(&report->missing_from_storage_labels, label);
  }
}

void CompareLexical(const std::vector<std::pair<std::string, Label>>& stored_points,
                    const absl::flat_hash_set<Label>& stored_term_labels,
                    const std::vector<Label>& bm25_labels, VerifyReport* report) {
  const absl::flat_hash_set<Label> in_bm25(bm25_labels.begin(), bm25_labels.end());
  absl::flat_hash_set<Label> referenced;
  referenced.reserve(stored_points.size());
  for (const auto& [id, label] : stored_points) {
    referenced.insert(label);
    if (!stored_term_labels.contains(label) || !in_bm25.contains(label)) {
      ++report->missing_from_lexical;
      Note(&report->missing_from_lexical_ids, id);
    }
  }
  absl::flat_hash_set<Label> orphans;
  for (Label label : stored_term_labels) {
    if (!referenced.contains(label)) orphans.insert(label);
  }
  for (Label label : bm25_labels) {
    if (!referenced.contains(label)) orphans.insert(label);
  }
  for (Label label : orphans) {
    ++report->lexical_orphans;
    Note<uint64_t>(&report->lexical_orphan_labels, label);
  }
}

absl::StatusOr<bool> FoundByOwnVector(const VectorIndex& index, Label label,
                                      std::span<const float> vector, int ef) {
  ASSIGN_OR_RETURN(auto hits, index.Search(vector, SearchOptions{.top_k = kTopK, .ef = ef}));
  for (const SearchHit& h : hits) {
    if (h.label == label) return true;
  }
  ASSIGN_OR_RETURN(auto own, index.ScoreLabels(vector, std::span<const Label>(&label, 1), 1));
  if (own.empty()) return true;  // not live in the index: CompareShard's business
  // Exact duplicates, or (kDot) longer vectors in the same direction, may fill the top 10
  // with points that score as high: then the miss says nothing about reachability.
  const float tolerance = 1e-4f * (1.0f + std::abs(own[0].score));
  return hits.size() == kTopK && hits.back().score >= own[0].score - tolerance;
}

}  // namespace ragd::index
