#pragma once
// HnswIndex: VectorIndex over hnswlib 0.6.2's HierarchicalNSW (Malkov & Yashunin, "Efficient
// and robust approximate nearest neighbor search using Hierarchical Navigable Small World
// graphs"). No hnswlib header is reachable from here.
//
// Metric: kCosine normalises vectors on Add and Search and uses the inner-product space;
// kDot uses the inner-product space on raw vectors; kL2 the squared-L2 space. Scores follow
// types.h (higher is closer) and are recomputed exactly for the returned hits, so they equal
// ScoreLabels() for the same label.
//
// Search: our own traversal of hnswlib's public graph (greedy descent on the upper layers, then
// a best-first search of layer 0 with a per-call ef), because hnswlib's searchKnn reads the
// index-wide ef_ that setEf() writes (a data race under concurrent searches). The filter is
// native: labels it rejects and removed labels are still traversed (they keep the graph
// connected) but never enter the result list. The walk keeps going until ef accepted labels
// are found or the reachable graph is exhausted. When SearchOptions::filter_selectivity says
// that an exact scan of the matching labels costs fewer distances than the walk
// (selectivity x size <= ef / selectivity), the search is an exact scan instead: cheaper, and
// exact where the walk through mostly rejected nodes (or an inner-product graph with poorly
// reachable nodes) would lose recall.
//
// Add: capacity doubles (resizeIndex) when full. A present label is replaced by a new node
// (the old one is removed, as below); a removed label added again is live again on a new node.
// A label repeated within one Add keeps its last vector (the earlier rows are not inserted).
// An Add of kMinBatchNodes or more new nodes reserves them in order (levels drawn as a serial
// Add draws them) and links them by batch insertion (ParlayANN: Dobson et al., "Scaling
// Graph-Based ANNS Algorithms to Billion-Size Datasets", 2023; Manohar et al., PPoPP 2024) on
// up to SetAddThreads(n) threads: a graph of fewer than 256 live nodes takes them one at a
// time, then sub-batches of at most a quarter of the live graph each search the graph as it
// was before the sub-batch (read-only, in parallel), pick neighbours with hnswlib's heuristic,
// and their reverse links are merged and pruned per target (in parallel, in a fixed order).
// The graph is therefore a function of the inputs and the order of Add calls only: the same
// bytes (Save) for any thread count and any run, which cluster replicas rely on
// (hnsw_parallel_add_test.cc). A batch's nodes do not link one another, so such an Add ends
// with the whole-graph reachability pass below.
// Remove: the node is marked removed and stays in the graph, counted by removed_count(), until
// the engine rebuilds the index; searches still walk through it.
// Reachability under churn: hnswlib's own insert and update can leave live nodes without any
// incoming link (never returned, at any ef). The adapter inserts itself and keeps every live
// node but the entry point listed by at least one live node on layer 0: a node whose last such
// link is pruned or removed is linked again from its nearest live node, and a full list drops
// links to removed nodes before pruning live ones. The entry point is never a removed node
// while live ones exist. A walk of the whole layer-0 graph, run when removals and pruned links
// since the last walk reach max(64, 2 x size()) and on every Load, links live nodes that only
// a severed group reaches. Searches do no extra work.
//
// Storage (IndexSpec::quantization): kNone keeps float32 vectors in the graph, as above. kF16
// and kInt8 keep codes (hnsw_graph_internal.h, Codec), searched with float-query-against-code
// distances (SIMD kernels chosen at run time, quant_kernels.h). A new node is linked the same
// way, its float32 row against the others' codes (its layer searches and the distances its
// candidates are ranked by); only comparisons between two stored nodes (the pruning
// heuristic among candidates, reverse links, repairs) are code against code. No float32 vector stays resident: a search
// collects ceil(top_k x oversampling) candidates on codes and, when SearchOptions::rescore is
// set and SearchOptions::exact_vectors given, re-scores them with the caller's float32 vectors,
// so that its scores are exact; without that, scores come from the codes. ScoreLabels does the
// same (the best candidates by code, then re-scored). kInt8 trains when 256 vectors are present
// (Codec::kMinTrainingVectors), on all rows present then (up to 65,536); until then the
// vectors stay float32 and are searched exactly. A rebuild (the engine's compaction) trains
// again on its first rows.
//
// Save/Load: our own versioned format (not hnswlib's saveIndex, which only writes files and
// trusts every size it reads). Load checks every size against the bytes present before
// allocating and every link, level and entry point before the graph is used: DATA_LOSS on
// malformed input.
//
// Thread safety: as VectorIndex. Const methods only read the graph and label map (hnswlib's
// visited-list pool is mutex-protected); Add/Remove need the caller's exclusive lock (the
// threads of a parallel Add exist only inside the call and never throw out of it).
// Errors: every hnswlib call runs under one guard (bad_alloc -> RESOURCE_EXHAUSTED, other
// exceptions -> INTERNAL).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "index/vector_index.h"

namespace ragd::index {

// Cache lines of a `row_bytes` row that the layer-0 walk requests ahead of its distance: the
// whole row when it is at most kWholeRowPrefetchBytes (F16 and INT8 codes of a 1536-d vector,
// float32 rows of 768 dimensions or fewer), else its first kPartialRowPrefetchLines (the
// hardware prefetcher streams the rest once the distance reads it). Chosen by paired rounds
// at 100k x 1536 and checked at 100k x 768 (bench/README.md, "Session 17: the walk's prefetch
// in paired rounds"). Public so that the rule is tested; the walk is its only user.
inline constexpr size_t kWholeRowPrefetchBytes = 3072;
inline constexpr size_t kPartialRowPrefetchLines = 8;
size_t WalkPrefetchLines(size_t row_bytes);

class HnswIndex final : public VectorIndex {
 public:
  // Validates spec (kind must be kHnsw) and builds an empty graph.
  static absl::StatusOr<std::unique_ptr<HnswIndex>> Create(const IndexSpec& spec, size_t dim,
                                                           Metric metric);
  // Rebuilds from HnswIndex::Save() output; the graph's M comes from the bytes.
  static absl::StatusOr<std::unique_ptr<HnswIndex>> Load(const IndexSpec& spec, size_t dim,
                                                         Metric metric, std::string_view data);
  ~HnswIndex() override;

  size_t dim() const override { return dim_; }
  Metric metric() const override { return metric_; }
  const IndexSpec& spec() const override { return spec_; }
  size_t size() const override;
  size_t removed_count() const override;
  size_t MemoryBytes() const override;

  // An Add with at least this many new nodes links them by batch insertion (any thread
  // count, 1 included); smaller ones insert one node at a time, as hnswlib does.
  static constexpr size_t kMinBatchNodes = 32;

  absl::Status Add(std::span<const Label> labels, std::span<const float> vectors) override;
  // Add links a batch's new nodes with up to `threads` threads (the caller's included; 8
  // items per thread at least). Only the time changes: the graph is the same for any value.
  // Default: 1.
  void SetAddThreads(size_t threads) override;
  // For measurements (bench/vector_bench --index-seeds): reseeds the generator that draws each
  // new node's level (hnswlib's random_seed, which is 100 for every index unless this is
  // called), to tell how much of a recall figure is this one graph's luck. The graph is then a
  // function of the inputs, the order of Add calls and `seed`. Not saved: an index made by
  // Load draws from seed 100 again. FAILED_PRECONDITION once anything was added.
  absl::Status SetLevelSeed(uint32_t seed);
  absl::Status Remove(std::span<const Label> labels) override;
  absl::StatusOr<std::vector<SearchHit>> Search(std::span<const float> query,
                                                const SearchOptions& options) const override;
  absl::StatusOr<std::vector<SearchHit>> ScoreLabels(std::span<const float> query,
                                                     std::span<const Label> labels,
                                                     size_t top_k) const override;
  absl::StatusOr<std::vector<SearchHit>> ScoreLabels(std::span<const float> query,
                                                     std::span<const Label> labels,
                                                     const SearchOptions& options) const override;
  bool Contains(Label label) const override;
  std::vector<Label> Labels() const override;
  absl::Status Save(std::string* out) const override;

 private:
  struct Impl;  // owns the hnswlib space and graph
  HnswIndex(const IndexSpec& spec, size_t dim, Metric metric, std::unique_ptr<Impl> impl);

  IndexSpec spec_;
  size_t dim_;
  Metric metric_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ragd::index
