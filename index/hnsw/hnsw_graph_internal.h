#pragma once
// Private to index/hnsw (not part of HnswIndex's interface): the hnswlib graph types and
// HnswIndex::Impl, shared by hnsw_index.cc (the adapter: Create, Add, Remove, Search, Save,
// Load), hnsw_graph.cc (graph maintenance: insert, retire, link repair, entry point and the
// reachability walk), hnsw_batch_insert.cc (an Add's nodes linked by batch on several threads)
// and hnsw_codes.cc. hnswlib 0.6.2's headers define non-inline functions and globals, so this
// header may be seen by one translation unit only: index/CMakeLists.txt compiles those .cc
// files as one (a unity group); no other file may include it.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <queue>
#include <span>
#include <string>
#include <utility>
#include <vector>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wtype-limits"
#include <hnswlib/hnswlib.h>
#pragma GCC diagnostic pop

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "index/hnsw/hnsw_index.h"
#include "index/hnsw/quant_kernels.h"
#include "index/serialization.h"

namespace ragd::index {
namespace hnsw_graph {

// The one guard around hnswlib: no exception crosses the adapter or a thread it starts
// (bad_alloc -> RESOURCE_EXHAUSTED, anything else -> INTERNAL).
template <typename F>
auto Guard(absl::string_view what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat("hnsw ", what, ": out of memory"));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("hnsw ", what, ": ", e.what()));
  } catch (...) {
    return absl::InternalError(absl::StrCat("hnsw ", what, ": unknown exception"));
  }
}

using Graph = hnswlib::HierarchicalNSW<float>;
using hnswlib::tableint;

// What a node's data holds (IndexSpec::quantization) and the distances on it (hnsw_codes.cc).
// kNone: the float32 vector and hnswlib's own spaces. kF16: dim halves. kInt8: a float, the
// squared norm of the decoded vector (for L2), then dim int8 codes; decoded x = mean + scale
// * code per dimension. A search measures its float query against codes (PreparedQuery): f16
// directly, int8 as an exact integer dot product of the query scaled per dimension and
// rounded to int16 with the code. An insert places the new node the same way, its float32
// row prepared as a query (Impl::RowDistance); comparisons between two stored nodes (the
// pruning heuristic, reverse links, repairs) measure code against code through the hnswlib
// space made here.
class Codec {
 public:
  // Training (int8): once this many vectors are present; until then they stay float32 in the
  // index, searched exactly (cheaper than a walk at that size).
  static constexpr size_t kMinTrainingVectors = 256;
  // At most this many of the first vectors are used (all rows of the Add that reaches the
  // minimum, so a rebuild from storage, which adds 1,024 at a time, trains on 1,024).
  static constexpr size_t kMaxTrainingVectors = 65536;
  // int8: the range of a dimension is at least this many of its standard deviations (Train).
  static constexpr double kRangeSigmas = 4.5;

  Codec(Quantization kind, Metric metric, size_t dim);
  Quantization kind() const { return kind_; }
  bool quantized() const { return kind_ != Quantization::kNone; }
  bool trained() const { return kind_ != Quantization::kInt8 || !mean_.empty(); }
  size_t code_bytes() const;
  // A space for the graph whose distances are this codec's code-against-code distances; its
  // parameter points into this codec, which must outlive it.
  std::unique_ptr<hnswlib::SpaceInterface<float>> MakeSpace() const;

  // int8: learns mean and scale from `n` prepared rows. No-op for the other kinds.
  // `range_sigmas` is the floor on a dimension's range in its standard deviations (0: none);
  // only bench/int8_error_bench.cc passes another value than the default, to compare rules.
  void Train(const float* rows, size_t n, double range_sigmas = kRangeSigmas);
  // Encodes one prepared row (trained()). `code` has code_bytes().
  void Encode(const float* row, char* code) const;

  struct PreparedQuery {
    const float* q = nullptr;  // f16: the prepared query
    std::vector<int16_t> q16;  // int8: round(q * scale / alpha)
    float alpha = 0;           // int8: dot = base + alpha * (q16 . code)
    float base = 0;            // int8: q . mean
    float norm = 0;            // int8, L2: |q|^2
  };
  void Prepare(const float* query, PreparedQuery* out) const;
  // hnswlib's convention: a distance, smaller is closer (1 - dot, or squared L2).
  float Distance(const PreparedQuery& query, const char* code) const;
  // Score of a distance (types.h: higher is closer).
  float ScoreOf(float distance) const {
    return metric_ == Metric::kL2 ? -distance : 1.0f - distance;
  }
  // True when a stored code holds only finite values (checked on Load).
  bool CodeIsFinite(const char* code) const;

  // int8 training, persisted with the snapshot: appended / validated and read back.
  void SaveTraining(std::string* out) const;
  absl::Status LoadTraining(internal::ByteReader& r);
  size_t MemoryBytes() const { return (mean_.capacity() + scale_.capacity()) * sizeof(float); }

 private:
  static float F32Ip(const void* a, const void* b, const void* self);
  static float F32L2(const void* a, const void* b, const void* self);
  static float F16Ip(const void* a, const void* b, const void* self);
  static float F16L2(const void* a, const void* b, const void* self);
  static float Int8Ip(const void* a, const void* b, const void* self);
  static float Int8L2(const void* a, const void* b, const void* self);

  Quantization kind_;
  Metric metric_;
  size_t dim_;
  const quant::Kernels* kernels_;
  std::vector<float> mean_, scale_;  // int8, once trained
};

// Returns a visited list to hnswlib's pool on every exit path.
class VisitedLease {
 public:
  explicit VisitedLease(hnswlib::VisitedListPool* pool)
      : pool_(pool), list_(pool->getFreeVisitedList()) {}
  ~VisitedLease() { pool_->releaseVisitedList(list_); }
  VisitedLease(const VisitedLease&) = delete;
  VisitedLease& operator=(const VisitedLease&) = delete;
  hnswlib::VisitedList* get() const { return list_; }

 private:
  hnswlib::VisitedListPool* pool_;
  hnswlib::VisitedList* list_;
};

}  // namespace hnsw_graph

// Graph maintenance. hnswlib 0.6.2 only marks removed nodes, and when an insert fills a
// neighbour's list its pruning heuristic may drop that list's link to some node; replacing a
// label in place (updatePoint) rewires whole neighbourhoods. Under churn a live node can so
// lose every incoming link and is then never returned, at any ef. So the adapter inserts,
// replaces and removes nodes itself and keeps one invariant on layer 0 (where every search
// ends): every live node but the entry point is listed by at least one live node (`live_in`
// counts them), and the entry point is a live node whenever there is one. A node that loses
// its last live in-link is linked again from its nearest live node. A periodic walk of the
// whole graph (and Load) finds live nodes reachable only from a severed island and links them
// too.
struct HnswIndex::Impl {
  using Graph = hnsw_graph::Graph;
  using tableint = hnsw_graph::tableint;
  using Candidates =
      std::priority_queue<std::pair<float, tableint>, std::vector<std::pair<float, tableint>>,
                          Graph::CompareByFirst>;

  std::unique_ptr<hnsw_graph::Codec> codec;
  std::unique_ptr<hnswlib::SpaceInterface<float>> space;
  std::unique_ptr<Graph> graph;
  // int8 before training: the live vectors (prepared float32 rows) and their labels; the
  // graph is empty until training, and these are searched exactly.
  std::vector<Label> pending_labels;
  std::vector<float> pending_rows;
  // Per internal id: how many live nodes list it on layer 0. LinkBatch's merge phase updates
  // entries through std::atomic_ref (a new node gains links from several targets at once);
  // everything else runs alone and reads them plainly.
  std::vector<uint32_t> live_in;
  // Threads one Add may link its nodes with (HnswIndex::SetAddThreads), the caller's included.
  // The graph does not depend on it.
  size_t add_threads = 1;
  // Retirements and pruned links since the last whole-graph reachability pass.
  size_t changes_since_check = 0;

  bool IsLive(tableint id) const { return !graph->isMarkedDeleted(id); }
  size_t LiveCount() const { return graph->cur_element_count - graph->num_deleted_; }
  // Internal id of a live label, or nullopt.
  std::optional<tableint> Find(Label label) const {
    auto it = graph->label_lookup_.find(label);
    if (it == graph->label_lookup_.end() || !IsLive(it->second)) return std::nullopt;
    return it->second;
  }
  float Distance(const void* a, tableint b) const {
    return graph->fstdistfunc_(a, graph->getDataByInternalId(b), graph->dist_func_param_);
  }

  // Distances from a node being linked to the graph's nodes, measured from its float32 row
  // (prepared: normalised for kCosine) rather than from what it stores. For float32 that is
  // the same thing; for codes it is the search's float-against-code distance (asymmetric), so
  // that the new node's candidates and their order carry only the other node's rounding, not
  // its own as well (bench/README.md, "F16 recall against float32"). Comparisons between two
  // stored nodes (the pruning heuristic among candidates, reverse links, repairs) stay
  // code-against-code: no float32 row of an old node is resident.
  class RowDistance {
   public:
    RowDistance(const Impl& impl, const float* row);
    float operator()(tableint id) const;

   private:
    const Impl& impl_;
    const float* row_;
    hnsw_graph::Codec::PreparedQuery prepared_;
  };

  // Adds a new node for `label` (the caller retired any live node of that label) and links it
  // at once: hnswlib's insert, one node at a time. Capacity and live_in's capacity are the
  // caller's. `data` is what a node stores (codec: the vector or its code), `row` the prepared
  // float32 row it was made from (read during the call only).
  void Insert(const void* data, const float* row, Label label, std::vector<tableint>* orphans);
  // Insert in two halves. Reserve takes the next slot, draws its level from hnswlib's
  // generator (so levels follow the order of reservation), writes the row and the label map,
  // and returns the slot: a node nobody links to yet, which no walk can reach. Link wires one
  // reserved node into the graph (serially: nothing else may touch the graph meanwhile);
  // `row` is the node's prepared float32 row.
  tableint Reserve(const void* data, Label label);
  void Link(tableint c, const float* row, std::vector<tableint>* orphans, size_t* changes);
  // Links `nodes` (reserved, in that order; rows[i] is nodes[i]'s prepared float32 row, read
  // during the call only) by batch insertion (ParlayANN: Dobson et al. 2023,
  // Manohar et al., PPoPP 2024) on up to `threads` threads, the caller's included. The graph
  // it makes is a function of the graph before and of `nodes` only, never of `threads` or of
  // thread timing (see hnsw_batch_insert.cc for how). Appends the nodes that lost their last live
  // in-link to `orphans`. An exception in one thread stops the others at their next item and
  // comes back mapped as by the adapter's guard (hnsw_index.cc); nodes left unlinked then have
  // no in-link: the index must be rebuilt.
  absl::Status LinkBatch(const std::vector<tableint>& nodes, const std::vector<const float*>& rows,
                         size_t threads, std::vector<tableint>* orphans);
  // Marks `id` removed and takes its layer-0 links out of live_in.
  void Retire(tableint id, std::vector<tableint>* orphans);
  // Links every orphan that is still live and without a live in-link; then, when enough has
  // changed, runs the whole-graph pass.
  void Repair(std::vector<tableint>& orphans);
  // Recounts live_in from the lists (after Load).
  void CountLinks();
  // Layer-0 breadth-first walk from the entry point through every node (removed ones are
  // walked too, as a search does); links each live node it cannot reach. Returns how many.
  size_t RestoreReachability();
  // After the entry point was removed: the live node on the highest layer.
  void ChooseEntryPoint();

 private:
  // Greedy descent from `entry` (on layer `top`) down to layer `stop_level` + 1, `dist(id)`
  // measuring from the node being placed. Reads lists without locks: callers run alone or
  // while no list is written (LinkBatch's search phase).
  template <typename Dist>
  tableint Descend(const Dist& dist, tableint entry, int top, int stop_level) const;
  // hnswlib's searchBaseLayer (the same steps, so the same candidates for the same distances)
  // with distances from `dist` instead of the graph's space: the ef_construction nearest live
  // nodes found on `level` from `entry`. No locks, as Descend.
  template <typename Dist>
  Candidates SearchLayer(const Dist& dist, tableint entry, int level) const;
  // hnswlib's mutuallyConnectNewElement (serial): picks c's neighbours on `level` by hnswlib's
  // heuristic, writes c's list and adds the reverse links (AddReverseLinks, one source each).
  tableint Connect(tableint c, Candidates& candidates, int level, std::vector<tableint>* orphans,
                   size_t* changes);
  // Adds links from `target` on `level` to `sources` (nodes being linked, in order): appended
  // while the list has room, else the full list is merged with them and pruned by hnswlib's
  // heuristic, over the sources (in order) and the live old links (in list order); links to
  // removed nodes only cost a slot. Unlike hnswlib's own insert, every live node that loses
  // its last live in-link is appended to `orphans`, and each pruned live link counts in
  // `changes`. The one place a list is pruned: Connect (serial insert) and LinkSubBatch's merge
  // phase (one call per target, in parallel) both come here. Writes `target`'s list only;
  // live_in is updated atomically (AddLiveIn, DropLiveIn).
  void AddReverseLinks(tableint target, int level, std::span<const tableint> sources,
                       std::vector<tableint>* orphans, size_t* changes);
  // One sub-batch of LinkBatch: its nodes search the graph as it was before it, then the
  // reverse links are merged per target.
  absl::Status LinkSubBatch(std::span<const tableint> nodes, std::span<const float* const> rows,
                            size_t threads, std::vector<tableint>* orphans);
  // LinkSubBatch's first phase for node `c` (prepared float32 row `row`): descent from
  // `entry` (top level `max_level`), ef_construction search per layer, hnswlib's heuristic;
  // writes c's own lists only.
  void SelectNeighbors(tableint c, const float* row, tableint entry, int max_level);
  void AddLiveIn(tableint id);
  // Decrements live_in[id] when positive; true when that took it to zero.
  bool DropLiveIn(tableint id);
  // Links `from` -> `to` on layer 0: appended, or in place of a link to a removed node, or of
  // the farthest link to a node that keeps another live in-link. False when neither exists.
  bool LinkTo(tableint from, tableint to);
  // Links `id` from the nearest live node that accepts it and that `usable` allows.
  bool Reconnect(tableint id, const std::vector<uint8_t>* usable);
};

// Greedy descent from `entry` (on layer `top`) down to layer `stop_level` + 1: on each layer,
// move to the closest neighbour while one is closer. `dist(id)` is the distance to node `id`;
// the node reached's distance goes to `*reached_distance` when given. Shared by a search
// (hnsw_index.cc, down to layer 1) and an insert's walks (Impl::Descend). Reads lists without
// locks: callers run alone or while no list is written.
namespace hnsw_graph {
template <typename Dist>
tableint GreedyDescent(const Graph& g, const Dist& dist, tableint entry, int top, int stop_level,
                       float* reached_distance = nullptr) {
  tableint current = entry;
  float current_dist = dist(current);
  for (int level = top; level > stop_level; --level) {
    for (bool changed = true; changed;) {
      changed = false;
      const unsigned int* list = g.get_linklist(current, level);
      const int count = g.getListCount(const_cast<unsigned int*>(list));
      const tableint* neighbors = reinterpret_cast<const tableint*>(list + 1);
      for (int i = 0; i < count; ++i) {
        const float d = dist(neighbors[i]);
        if (d < current_dist) {
          current_dist = d;
          current = neighbors[i];
          changed = true;
        }
      }
    }
  }
  if (reached_distance != nullptr) *reached_distance = current_dist;
  return current;
}
}  // namespace hnsw_graph

// The two walks of an insert, templates on the distance (RowDistance, or code against code for
// repairs); here because hnsw_graph.cc and hnsw_batch_insert.cc both call them.
template <typename Dist>
hnsw_graph::tableint HnswIndex::Impl::Descend(const Dist& dist, tableint entry, int top,
                                              int stop_level) const {
  return hnsw_graph::GreedyDescent(*graph, dist, entry, top, stop_level);
}

template <typename Dist>
HnswIndex::Impl::Candidates HnswIndex::Impl::SearchLayer(const Dist& dist, tableint entry,
                                                         int level) const {
  // Step for step hnswlib 0.6.2's searchBaseLayer, which the float32 graph used to call: the
  // same pushes and pops in the same order, so equal distances give equal candidates (the
  // float32 golden hashes did not change).
  const Graph& g = *graph;
  const size_t ef = g.ef_construction_;
  hnsw_graph::VisitedLease lease(g.visited_list_pool_);
  hnswlib::vl_type* visited = lease.get()->mass;
  const hnswlib::vl_type tag = lease.get()->curV;
  Candidates top;
  Candidates frontier;  // keyed by -distance: the closest on top
  float bound;
  if (!IsLive(entry)) {
    bound = std::numeric_limits<float>::max();
    frontier.emplace(-bound, entry);
  } else {
    const float d = dist(entry);
    top.emplace(d, entry);
    bound = d;
    frontier.emplace(-d, entry);
  }
  visited[entry] = tag;
  while (!frontier.empty()) {
    const std::pair<float, tableint> next = frontier.top();
    if (-next.first > bound && top.size() == ef) break;
    frontier.pop();
    const unsigned int* list =
        level == 0 ? g.get_linklist0(next.second) : g.get_linklist(next.second, level);
    const size_t count = g.getListCount(const_cast<unsigned int*>(list));
    const tableint* links = reinterpret_cast<const tableint*>(list + 1);
    for (size_t j = 0; j < count; ++j) {
      const tableint id = links[j];
      if (visited[id] == tag) continue;
      visited[id] = tag;
      const float d = dist(id);
      if (top.size() < ef || bound > d) {
        frontier.emplace(-d, id);
        if (IsLive(id)) top.emplace(d, id);
        if (top.size() > ef) top.pop();
        if (!top.empty()) bound = top.top().first;
      }
    }
  }
  return top;
}

}  // namespace ragd::index
