#pragma once
// The two checks behind Engine::Verify that need no engine, so that they are tested on their
// own: comparing a shard's stored points and vectors with its index's live labels, and the
// search of one point with its own vector.

#include <span>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "index/engine/engine.h"
#include "index/vector_index.h"

namespace ragd::index {

// Adds to `report` (counts and examples) what disagrees between one shard's stored points
// (id, label), the labels of its stored vectors and the live labels of its index, all read at
// the same instant. Also adds the shard's storage_points and index_points.
void CompareShard(const std::vector<std::pair<std::string, Label>>& stored_points,
                  const absl::flat_hash_set<Label>& stored_vector_labels,
                  const std::vector<Label>& index_labels, VerifyReport* report);

// The lexical counterpart: adds to `report` the stored points whose label lacks a term record
// or a BM25 entry (missing_from_lexical) and the term records and BM25 labels that no stored
// point holds (lexical_orphans), all read at the same instant.
void CompareLexical(const std::vector<std::pair<std::string, Label>>& stored_points,
                    const absl::flat_hash_set<Label>& stored_term_labels,
                    const std::vector<Label>& bm25_labels, VerifyReport* report);

// Searches `index` with `vector`, the stored vector of `label` (top 10 at `ef`). False only
// when the label is live in the index, is not among the hits, and fewer than 10 hits score at
// least as high as the label's own exact score: the index holds the point but the search
// cannot reach it. Errors are the index's.
absl::StatusOr<bool> FoundByOwnVector(const VectorIndex& index, Label label,
                                      std::span<const float> vector, int ef);

}  // namespace ragd::index
