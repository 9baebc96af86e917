#pragma once
// VectorIndex: the one interface every approximate or exact nearest-neighbour backend
// implements (hnswlib HNSW, FAISS index_factory indexes, exact flat). Backends hide their
// library's types: no hnswlib or FAISS header is reachable from here.
//
// Labels are 64-bit integers chosen by the caller (the engine gives every stored vector a new
// label per shard, never reused). Scores are "higher is closer" for every metric (types.h).
//
// Thread safety: const methods (Search, ScoreLabels, Contains, Labels, Save, ...) may run
// concurrently with each other. Add and Remove need exclusive access: the caller holds a
// writer lock (hnswlib and FAISS are not safe for a search during an insert).
//
// Errors: library exceptions never escape. std::bad_alloc becomes RESOURCE_EXHAUSTED, other
// library failures INTERNAL, bad arguments INVALID_ARGUMENT.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "index/types.h"

namespace ragd::index {

using Label = uint64_t;

struct SearchHit {
  Label label = 0;
  float score = 0;  // higher is closer (see Metric)
};

// A predicate over labels used to restrict a search. Accept() is called from search threads
// concurrently and must be cheap and thread-safe.
class LabelFilter {
 public:
  virtual ~LabelFilter() = default;
  virtual bool Accept(Label label) const = 0;
};

// Reads the float32 vectors of `labels` from where the caller keeps them (the engine: RocksDB),
// as they were added (kCosine: normalised). Fills `vectors` with labels.size() × dim floats,
// row-major, and `found` with one flag per label (false: no such vector any more; its row is
// unspecified). Called from search threads concurrently: must be thread-safe. A non-OK status
// fails the search.
using ExactVectorFetcher = std::function<absl::Status(
    std::span<const Label> labels, std::vector<float>* vectors, std::vector<bool>* found)>;

// Candidates re-scored per result when SearchOptions::oversampling is 0, per storage kind.
// INT8: top_k × 1.5. Measured (bench/README.md, "INT8 re-scoring: 1.5k candidates"): on three
// 100k × 1536 graphs at ef 96 and 128, re-scoring 1.2k, 1.3k, 1.5k or 2k candidates gave the
// same recall@10 to four decimals (x1, the k results alone, is the codes' recall: 0.012 less),
// and each extra candidate is a 6 KiB read: 1.5 keeps a margin of 3 candidates over the
// smallest factor measured and was 4-14% faster than 2. (At 20,000 × 1536, session 7: x2 gave
// float32's recall, x1 lost 0.008, x3 and x5 gained nothing and cost 10-32% of QPS.)
// F16: top_k × 1, i.e. the k results themselves are re-scored, so their scores are exact, but
// no extra candidate is read. F16 codes rank like float32 to within rounding: on three 100k
// graphs (bench/README.md, "F16 re-scoring: k candidates, not 2k") re-scoring 2k candidates
// gave exactly the recall@10 of the codes alone, and cost F16 10-23% of its QPS.
inline constexpr float kDefaultOversamplingInt8 = 1.5f;
inline constexpr float kDefaultOversamplingF16 = 1.0f;
inline constexpr float DefaultOversampling(Quantization kind) {
  return kind == Quantization::kF16 ? kDefaultOversamplingF16 : kDefaultOversamplingInt8;
}

// Per-call search knobs (never index state: hnswlib's setEf() is a data race).
struct SearchOptions {
  size_t top_k = 10;
  // HNSW candidate list size; 0 uses IndexSpec::ef. Raised to top_k when smaller.
  int ef = 0;
  // FAISS IVF lists to probe; 0 uses IndexSpec::nprobe.
  int nprobe = 0;
  // When set, only labels it accepts are returned.
  const LabelFilter* filter = nullptr;
  // Estimated fraction of live labels that `filter` accepts, in (0, 1]. Backends without a
  // native filter (hnswlib 0.6) use it to size their over-fetch. Default: 1.
  double filter_selectivity = 1.0;
  // Quantized indexes (IndexSpec::quantization != kNone) only; ignored by the others.
  // When true and `exact_vectors` is set, the walk over codes collects ceil(top_k ×
  // oversampling) candidates, their float32 vectors are read through `exact_vectors`, and the
  // top_k are chosen and scored exactly (a candidate whose vector is gone is dropped). Otherwise
  // scores are computed from the codes (approximate). Default: true.
  bool rescore = true;
  // Candidates re-scored per requested result, >= 1; 0 means DefaultOversampling(kind).
  float oversampling = 0;
  // Where re-scoring reads float32 vectors; not owned, outlives the call. Default: none.
  const ExactVectorFetcher* exact_vectors = nullptr;
};

class VectorIndex {
 public:
  virtual ~VectorIndex() = default;

  virtual size_t dim() const = 0;
  virtual Metric metric() const = 0;
  virtual const IndexSpec& spec() const = 0;
  // Live labels (added and not removed).
  virtual size_t size() const = 0;
  // Removed labels whose space is not reclaimed yet (reclaimed by building a new index).
  virtual size_t removed_count() const = 0;
  // Approximate resident bytes of the index (vectors, graph links, codes, bookkeeping).
  virtual size_t MemoryBytes() const = 0;

  // Adds `labels.size()` vectors, row-major in `vectors` (labels.size() × dim() floats). For
  // kCosine the index normalises them. A label already present is replaced. A removed label must
  // not be added again (labels are never reused). INVALID_ARGUMENT on a size mismatch.
  virtual absl::Status Add(std::span<const Label> labels, std::span<const float> vectors) = 0;

  // Backends that can insert one Add's vectors concurrently use up to `threads` threads for
  // it (the caller's included; they exist only during the call). The call still needs
  // exclusive access. 0 is taken as 1. A backend whose graph would then depend on thread
  // timing must not offer it: cluster replicas rely on the same writes building the same
  // index (HNSW's batch insertion gives identical bytes for any count). Default: ignored (Add
  // is serial).
  virtual void SetAddThreads(size_t /*threads*/) {}

  // Removes labels: they are never returned by a search again. Unknown labels are ignored.
  virtual absl::Status Remove(std::span<const Label> labels) = 0;

  // Approximate top_k by score, best first. Removed labels and labels the filter rejects are
  // never returned; fewer than top_k hits only when fewer labels qualify (or, for approximate
  // filtered search, when the graph could not reach them).
  virtual absl::StatusOr<std::vector<SearchHit>> Search(std::span<const float> query,
                                                        const SearchOptions& options) const = 0;

  // Exact scores of `query` against the given labels, best first, at most top_k. Labels that
  // are unknown or removed are skipped. Used for brute force over small filtered sets.
  virtual absl::StatusOr<std::vector<SearchHit>> ScoreLabels(std::span<const float> query,
                                                             std::span<const Label> labels,
                                                             size_t top_k) const = 0;
  // The same with per-call options (top_k, and for quantized indexes rescore, oversampling
  // and exact_vectors: without re-scoring, their scores come from the codes). Default: the
  // three-argument form.
  virtual absl::StatusOr<std::vector<SearchHit>> ScoreLabels(std::span<const float> query,
                                                             std::span<const Label> labels,
                                                             const SearchOptions& options) const {
    return ScoreLabels(query, labels, options.top_k);
  }

  // True when `label` is present and not removed.
  virtual bool Contains(Label label) const = 0;
  // All live labels, in no particular order.
  virtual std::vector<Label> Labels() const = 0;

  // Serialises the whole index (including removed-label bookkeeping) in the backend's own
  // format, appended to `out`. Framing (magic, version, checksum) is the caller's job.
  virtual absl::Status Save(std::string* out) const = 0;
};

// Builds an empty index. INVALID_ARGUMENT when the spec is invalid for this dim and metric
// (e.g. a FAISS factory string that does not parse).
absl::StatusOr<std::unique_ptr<VectorIndex>> MakeIndex(const IndexSpec& spec, size_t dim,
                                                       Metric metric);

// Rebuilds an index from the bytes Save() wrote for the same spec, dim and metric. Returns
// DATA_LOSS when the bytes are not a valid index of that shape; never crashes on bad input
// that passed the caller's checksum.
absl::StatusOr<std::unique_ptr<VectorIndex>> LoadIndex(const IndexSpec& spec, size_t dim,
                                                       Metric metric, std::string_view data);

}  // namespace ragd::index
