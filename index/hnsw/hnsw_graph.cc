// Graph maintenance for HnswIndex (see hnsw_graph_internal.h): inserting and retiring nodes,
// adding reverse links and pruning full lists (for the serial insert and the batch merge
// alike), re-linking nodes that lost their last live in-link, choosing the entry point and the
// whole-graph reachability walk.

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <optional>
#include <span>
#include <vector>

#include "index/hnsw/hnsw_graph_internal.h"

namespace ragd::index {

using hnsw_graph::Graph;
using hnsw_graph::tableint;

HnswIndex::Impl::RowDistance::RowDistance(const Impl& impl, const float* row)
    : impl_(impl), row_(row) {
  if (impl.codec->quantized()) impl.codec->Prepare(row, &prepared_);
}

float HnswIndex::Impl::RowDistance::operator()(tableint id) const {
  const char* data = impl_.graph->getDataByInternalId(id);
  if (!impl_.codec->quantized()) return impl_.Distance(row_, id);
  return impl_.codec->Distance(prepared_, data);
}

void HnswIndex::Impl::AddLiveIn(tableint id) {
  std::atomic_ref<uint32_t>(live_in[id]).fetch_add(1, std::memory_order_relaxed);
}

bool HnswIndex::Impl::DropLiveIn(tableint id) {
  std::atomic_ref<uint32_t> count(live_in[id]);
  uint32_t seen = count.load(std::memory_order_relaxed);
  while (seen > 0 && !count.compare_exchange_weak(seen, seen - 1, std::memory_order_relaxed)) {
  }
  return seen == 1;
}

tableint HnswIndex::Impl::Reserve(const void* vector, Label label) {
  Graph& g = *graph;
  const tableint c = static_cast<tableint>(g.cur_element_count);
  const int level = g.getRandomLevel(g.mult_);
  char* upper = nullptr;
  if (level > 0) {
    const size_t bytes = g.size_links_per_element_ * level + 1;
    upper = static_cast<char*>(std::malloc(bytes));
    if (upper == nullptr) throw std::bad_alloc();
    std::memset(upper, 0, bytes);
  }
  try {
    g.label_lookup_[label] = c;
  } catch (...) {
    std::free(upper);
    throw;
  }
  char* row = g.data_level0_memory_ + c * g.size_data_per_element_;
  std::memset(row, 0, g.size_data_per_element_);
  std::memcpy(g.getExternalLabeLp(c), &label, sizeof(label));
  std::memcpy(g.getDataByInternalId(c), vector, g.data_size_);
  g.linkLists_[c] = upper;
  g.element_levels_[c] = level;
  g.cur_element_count = c + 1;
  live_in.push_back(0);
  return c;
}

void HnswIndex::Impl::Insert(const void* vector, const float* row, Label label,
                             std::vector<tableint>* orphans) {
  Graph& g = *graph;
  const tableint c = Reserve(vector, label);
  if (LiveCount() == 1) {  // the only live node: it is the graph's entry
    g.enterpoint_node_ = c;
    g.maxlevel_ = g.element_levels_[c];
    return;
  }
  Link(c, row, orphans, &changes_since_check);
}

void HnswIndex::Impl::Link(tableint c, const float* row, std::vector<tableint>* orphans,
                           size_t* changes) {
  Graph& g = *graph;
  const int level = g.element_levels_[c];
  const RowDistance dist(*this, row);
  const tableint entry = g.enterpoint_node_;
  const int max_level = g.maxlevel_;
  tableint current = Descend(dist, entry, max_level, level);
  for (int lv = std::min(level, max_level); lv >= 0; --lv) {
    Candidates candidates = SearchLayer(dist, current, lv);
    // The entry point is live and on every layer: a walk that met only removed nodes still
    // has a neighbour to give.
    if (candidates.empty()) candidates.emplace(dist(entry), entry);
    current = Connect(c, candidates, lv, orphans, changes);
  }
  if (level > max_level) {
    g.enterpoint_node_ = c;
    g.maxlevel_ = level;
    orphans->push_back(entry);  // no longer exempt from needing an in-link
  }
}

tableint HnswIndex::Impl::Connect(tableint c, Candidates& candidates, int level,
                                  std::vector<tableint>* orphans, size_t* changes) {
  Graph& g = *graph;
  g.getNeighborsByHeuristic2(candidates, g.M_);
  std::vector<tableint> selected;  // farthest first: the closest is last
  selected.reserve(candidates.size());
  while (!candidates.empty()) {
    selected.push_back(candidates.top().second);
    candidates.pop();
  }
  unsigned int* own = g.get_linklist_at_level(c, level);
  g.setListCount(own, static_cast<unsigned short>(selected.size()));
  std::copy(selected.begin(), selected.end(), reinterpret_cast<tableint*>(own + 1));
  if (level == 0) {
    for (tableint s : selected) AddLiveIn(s);
  }
  for (tableint s : selected) {
    AddReverseLinks(s, level, std::span<const tableint>(&c, 1), orphans, changes);
  }
  return selected.back();
}

void HnswIndex::Impl::AddReverseLinks(tableint target, int level,
                                      std::span<const tableint> sources,
                                      std::vector<tableint>* orphans, size_t* changes) {
  Graph& g = *graph;
  const size_t max_links = level == 0 ? g.maxM0_ : g.maxM_;
  unsigned int* list = g.get_linklist_at_level(target, level);
  const size_t count = g.getListCount(list);
  tableint* links = reinterpret_cast<tableint*>(list + 1);
  if (count + sources.size() <= max_links) {
    std::copy(sources.begin(), sources.end(), links + count);
    g.setListCount(list, static_cast<unsigned short>(count + sources.size()));
    if (level == 0) {
      for (tableint c : sources) AddLiveIn(c);
    }
    return;
  }
  // Full. Links to removed nodes only cost a slot, so only live ones compete. The pool takes the
  // sources first, then the old links in list order: that order decides ties between equal
  // distances, so the serial insert and the batch merge prune alike only because they share it.
  const std::vector<tableint> old(links, links + count);
  const char* at = g.getDataByInternalId(target);
  Candidates pool;
  for (tableint c : sources) pool.emplace(Distance(at, c), c);
  for (tableint x : old) {
    if (IsLive(x)) pool.emplace(Distance(at, x), x);
  }
  if (pool.size() > max_links) g.getNeighborsByHeuristic2(pool, max_links);
  size_t kept = 0;
  while (!pool.empty()) {
    links[kept++] = pool.top().second;
    pool.pop();
  }
  g.setListCount(list, static_cast<unsigned short>(kept));
  if (level != 0) return;
  for (size_t i = 0; i < kept; ++i) {
    if (std::find(sources.begin(), sources.end(), links[i]) != sources.end()) AddLiveIn(links[i]);
  }
  for (tableint x : old) {
    if (!IsLive(x) || std::find(links, links + kept, x) != links + kept) continue;
    ++*changes;
    if (DropLiveIn(x)) orphans->push_back(x);
  }
}

void HnswIndex::Impl::Retire(tableint id, std::vector<tableint>* orphans) {
  Graph& g = *graph;
  g.markDeletedInternal(id);
  ++changes_since_check;
  const unsigned int* list = g.get_linklist0(id);
  const size_t count = g.getListCount(const_cast<unsigned int*>(list));
  const tableint* links = reinterpret_cast<const tableint*>(list + 1);
  for (size_t i = 0; i < count; ++i) {
    const tableint x = links[i];
    if (IsLive(x) && live_in[x] > 0 && --live_in[x] == 0) orphans->push_back(x);
  }
  if (id == g.enterpoint_node_) ChooseEntryPoint();
}

void HnswIndex::Impl::ChooseEntryPoint() {
  Graph& g = *graph;
  std::optional<tableint> best;
  for (tableint id = 0; id < g.cur_element_count; ++id) {
    if (IsLive(id) && (!best || g.element_levels_[id] > g.element_levels_[*best])) best = id;
  }
  if (!best) return;  // nothing live: the next insert becomes the entry
  g.enterpoint_node_ = *best;
  g.maxlevel_ = g.element_levels_[*best];
}

bool HnswIndex::Impl::LinkTo(tableint from, tableint to) {
  Graph& g = *graph;
  unsigned int* list = g.get_linklist0(from);
  const size_t count = g.getListCount(list);
  tableint* links = reinterpret_cast<tableint*>(list + 1);
  if (count < g.maxM0_) {
    links[count] = to;
    g.setListCount(list, static_cast<unsigned short>(count + 1));
    ++live_in[to];
    return true;
  }
  std::optional<size_t> slot;
  float farthest = -std::numeric_limits<float>::max();
  const char* at = g.getDataByInternalId(from);
  for (size_t i = 0; i < count; ++i) {
    const tableint x = links[i];
    if (!IsLive(x)) {
      slot = i;
      break;
    }
    if (live_in[x] < 2 && x != g.enterpoint_node_) continue;
    const float d = Distance(at, x);
    if (d > farthest) {
      farthest = d;
      slot = i;
    }
  }
  if (!slot) return false;
  const tableint dropped = links[*slot];
  links[*slot] = to;
  ++live_in[to];
  if (IsLive(dropped) && live_in[dropped] > 0) --live_in[dropped];
  return true;
}

bool HnswIndex::Impl::Reconnect(tableint id, const std::vector<uint8_t>* usable) {
  const Graph& g = *graph;
  // Old nodes have no float32 row here: code against code.
  const char* vector = g.getDataByInternalId(id);
  auto dist = [&](tableint x) { return Distance(vector, x); };
  Candidates found =
      graph->searchBaseLayer(Descend(dist, g.enterpoint_node_, g.maxlevel_, 0), vector, 0);
  std::vector<tableint> nearest;  // closest first
  nearest.reserve(found.size());
  while (!found.empty()) {
    nearest.push_back(found.top().second);
    found.pop();
  }
  std::reverse(nearest.begin(), nearest.end());
  for (tableint from : nearest) {
    if (from == id || (usable != nullptr && !(*usable)[from])) continue;
    if (LinkTo(from, id)) return true;
  }
  // The walk met no node that can take the link (tiny or odd graphs): any live node can.
  for (tableint from = 0; from < g.cur_element_count; ++from) {
    if (from == id || !IsLive(from) || (usable != nullptr && !(*usable)[from])) continue;
    if (LinkTo(from, id)) return true;
  }
  return false;
}

void HnswIndex::Impl::Repair(std::vector<tableint>& orphans) {
  const Graph& g = *graph;
  for (tableint id : orphans) {
    if (IsLive(id) && live_in[id] == 0 && id != g.enterpoint_node_) Reconnect(id, nullptr);
  }
  orphans.clear();
  // Amortised: a pass reads every layer-0 list once (2M links per node), so one pass per 2 x
  // live changes costs O(M) link reads per change, far less than an insert's distances.
  if (changes_since_check >= std::max<size_t>(64, 2 * LiveCount())) RestoreReachability();
}

void HnswIndex::Impl::CountLinks() {
  const Graph& g = *graph;
  live_in.assign(g.cur_element_count, 0);
  for (tableint id = 0; id < g.cur_element_count; ++id) {
    if (!IsLive(id)) continue;
    const unsigned int* list = g.get_linklist0(id);
    const size_t count = g.getListCount(const_cast<unsigned int*>(list));
    const tableint* links = reinterpret_cast<const tableint*>(list + 1);
    for (size_t i = 0; i < count; ++i) ++live_in[links[i]];
  }
}

size_t HnswIndex::Impl::RestoreReachability() {
  const Graph& g = *graph;
  changes_since_check = 0;
  if (LiveCount() == 0) return 0;
  std::vector<uint8_t> reached(g.cur_element_count, 0);
  std::vector<tableint> queue;
  auto walk = [&](tableint start) {
    if (reached[start]) return;
    reached[start] = 1;
    queue.assign(1, start);
    while (!queue.empty()) {
      const tableint id = queue.back();
      queue.pop_back();
      const unsigned int* list = g.get_linklist0(id);
      const size_t count = g.getListCount(const_cast<unsigned int*>(list));
      const tableint* links = reinterpret_cast<const tableint*>(list + 1);
      for (size_t i = 0; i < count; ++i) {
        if (!reached[links[i]]) {
          reached[links[i]] = 1;
          queue.push_back(links[i]);
        }
      }
    }
  };
  walk(g.enterpoint_node_);
  size_t linked = 0;
  for (tableint id = 0; id < g.cur_element_count; ++id) {
    if (reached[id] || !IsLive(id)) continue;
    // Linked from a node the entry reaches, `id` and what it reaches become reachable.
    if (Reconnect(id, &reached)) {
      ++linked;
      walk(id);
    }
  }
  return linked;
}

}  // namespace ragd::index
