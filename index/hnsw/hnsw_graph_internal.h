#pragma once
// Private to index/hnsw (not part of HnswIndex's interface): the hnswlib graph types and
// HnswIndex::Impl, shared by hnsw_index.cc (the adapter: Create, Add, Remove, Search, Save,
// Load) and hnsw_graph.cc (graph maintenance: insert, retire, link repair, entry point and the
// reachability walk). hnswlib 0.6.2's headers define non-inline functions and globals, so this
// header may be seen by one translation unit only: index/CMakeLists.txt compiles the two .cc
// files as one (a unity group); no other file may include it.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <queue>
#include <utility>
#include <vector>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wtype-limits"
#include <hnswlib/hnswlib.h>
#pragma GCC diagnostic pop

#include "index/hnsw/hnsw_index.h"

namespace ragd::index {
namespace hnsw_graph {

using Graph = hnswlib::HierarchicalNSW<float>;
using hnswlib::tableint;

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

  std::unique_ptr<hnswlib::SpaceInterface<float>> space;
  std::unique_ptr<Graph> graph;
  // Per internal id: how many live nodes list it on layer 0.
  std::vector<uint32_t> live_in;
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

  // Adds a new node for `label` (the caller retired any live node of that label). Capacity
  // and live_in's capacity are the caller's.
  void Insert(const float* vector, Label label, std::vector<tableint>* orphans);
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
  // Greedy descent from the entry point down to layer `stop_level` + 1.
  tableint Descend(const void* vector, int stop_level) const;
  // hnswlib's mutuallyConnectNewElement, except that full lists drop links to removed nodes
  // before pruning and that every live node losing its last live in-link is reported.
  tableint Connect(tableint c, Candidates& candidates, int level, std::vector<tableint>* orphans);
  // Links `from` -> `to` on layer 0: appended, or in place of a link to a removed node, or of
  // the farthest link to a node that keeps another live in-link. False when neither exists.
  bool LinkTo(tableint from, tableint to);
  // Links `id` from the nearest live node that accepts it and that `usable` allows.
  bool Reconnect(tableint id, const std::vector<uint8_t>* usable);
};

}  // namespace ragd::index
