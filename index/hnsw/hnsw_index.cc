#include "index/hnsw/hnsw_index.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <queue>
#include <stdexcept>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "index/distance.h"
#include "index/hnsw/hnsw_graph_internal.h"
#include "index/serialization.h"

namespace ragd::index {

using hnsw_graph::Graph;
using hnsw_graph::tableint;

namespace {

constexpr uint32_t kMagic = 0x57534e48;  // "HNSW"
constexpr uint32_t kVersion = 1;
constexpr size_t kInitialCapacity = 1024;
// hnswlib's internal ids are 32-bit; its deleted mark lives in the third byte of the
// level-0 list header, which limits maxM0 to 16 bits of list count.
constexpr size_t kMaxElements = std::numeric_limits<tableint>::max() - 1;
// Levels are geometric with ratio 1/M (M >= 2): 64 is unreachable in practice.
constexpr int kMaxLevel = 64;

// The one guard around hnswlib: no exception crosses the adapter.
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

std::unique_ptr<hnswlib::SpaceInterface<float>> MakeSpace(Metric metric, size_t dim) {
  switch (metric) {
    case Metric::kCosine:
    case Metric::kDot:
      return std::make_unique<hnswlib::InnerProductSpace>(dim);
    case Metric::kL2:
      return std::make_unique<hnswlib::L2Space>(dim);
  }
  return nullptr;
}

// Moves the level-0 block (links + vector + label per element: ~6 KiB for 1536-d) into memory
// that is 2 MiB aligned and advised for transparent huge pages. A search reads a few thousand
// of these rows at random across the whole block, so with 4 KiB pages nearly every distance
// computation also misses the TLB and walks the page table; 2 MiB pages make those misses rare
// (bench/README.md measures the walk against hnswlib's own). hnswlib grows the block with
// realloc, which for large blocks is mremap to an address with no 2 MiB alignment, splitting
// any huge pages; so after every growth the block is re-homed here (one copy per doubling).
// The memory comes from aligned_alloc, so hnswlib's free() releases it. Only advice: with THP
// "never" the kernel ignores it, with "madvise" (Debian's default) or "always" it applies to
// the pages faulted in by the copy and by later inserts.
void RehomeLevel0(Graph& g) {
  constexpr size_t kHugePage = size_t{2} << 20;
  const size_t bytes = g.max_elements_ * g.size_data_per_element_;
  if (bytes < kHugePage) return;  // too small to matter; keep hnswlib's own block
  const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  void* block = std::aligned_alloc(kHugePage, rounded);
  if (block == nullptr) throw std::bad_alloc();
  madvise(block, rounded, MADV_HUGEPAGE);  // advice: an error only means 4 KiB pages
  std::memcpy(block, g.data_level0_memory_, g.cur_element_count * g.size_data_per_element_);
  std::free(g.data_level0_memory_);
  g.data_level0_memory_ = static_cast<char*>(block);
}

const float* VectorOf(const Graph& g, tableint id) {
  return reinterpret_cast<const float*>(g.getDataByInternalId(id));
}

// Returns a visited list to the pool on every exit path.
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

// Best-first search with a per-call ef and a native filter. Reads only public members of
// HierarchicalNSW; the same algorithm as hnswlib 0.7's searchBaseLayerST with a filter.
std::vector<std::pair<float, tableint>> SearchGraph(const Graph& g, const float* query, size_t ef,
                                                    const LabelFilter* filter) {
  std::vector<std::pair<float, tableint>> out;
  if (g.cur_element_count == 0) return out;
  auto dist = [&](tableint id) {
    return g.fstdistfunc_(query, g.getDataByInternalId(id), g.dist_func_param_);
  };
  auto accepted = [&](tableint id) {
    return !g.isMarkedDeleted(id) && (filter == nullptr || filter->Accept(g.getExternalLabel(id)));
  };

  tableint current = g.enterpoint_node_;
  float current_dist = dist(current);
  for (int level = g.maxlevel_; level > 0; --level) {
    for (bool changed = true; changed;) {
      changed = false;
      const unsigned int* list = g.get_linklist(current, level);
      const int count = g.getListCount(const_cast<unsigned int*>(list));
      const tableint* neighbors = reinterpret_cast<const tableint*>(list + 1);
      for (int i = 0; i < count; ++i) {
        float d = dist(neighbors[i]);
        if (d < current_dist) {
          current_dist = d;
          current = neighbors[i];
          changed = true;
        }
      }
    }
  }

  using Entry = std::pair<float, tableint>;
  VisitedLease lease(g.visited_list_pool_);
  hnswlib::vl_type* visited = lease.get()->mass;
  const hnswlib::vl_type tag = lease.get()->curV;
  std::priority_queue<Entry> top;         // accepted results, worst (largest distance) on top
  std::priority_queue<Entry> candidates;  // frontier, keyed by -distance (closest on top)
  float bound = std::numeric_limits<float>::max();
  visited[current] = tag;
  candidates.emplace(-current_dist, current);
  if (accepted(current)) {
    top.emplace(current_dist, current);
    bound = current_dist;
  }
  while (!candidates.empty()) {
    Entry next = candidates.top();
    // Stop once the closest frontier node is farther than the worst of a full result list;
    // while the list is not full (few accepted labels) keep exploring.
    if (-next.first > bound && top.size() >= ef) break;
    candidates.pop();
    const unsigned int* list = g.get_linklist0(next.second);
    const int count = g.getListCount(const_cast<unsigned int*>(list));
    const tableint* neighbors = reinterpret_cast<const tableint*>(list + 1);
    // Vectors are kilobytes apart in memory: fetch the next neighbour's vector and visited
    // mark while this one's distance is computed (what hnswlib's own search does).
    if (count > 0) {
      __builtin_prefetch(visited + neighbors[0]);
      __builtin_prefetch(g.getDataByInternalId(neighbors[0]));
    }
    for (int i = 0; i < count; ++i) {
      const tableint id = neighbors[i];
      if (i + 1 < count) {
        __builtin_prefetch(visited + neighbors[i + 1]);
        __builtin_prefetch(g.getDataByInternalId(neighbors[i + 1]));
      }
      if (visited[id] == tag) continue;
      visited[id] = tag;
      const float d = dist(id);
      if (top.size() < ef || d < bound) {
        candidates.emplace(-d, id);
        if (accepted(id)) {
          top.emplace(d, id);
          if (top.size() > ef) top.pop();
          bound = top.top().first;
        }
      }
    }
  }
  out.reserve(top.size());
  while (!top.empty()) {
    out.push_back(top.top());
    top.pop();
  }
  return out;
}

}  // namespace

HnswIndex::HnswIndex(const IndexSpec& spec, size_t dim, Metric metric, std::unique_ptr<Impl> impl)
    : spec_(spec), dim_(dim), metric_(metric), impl_(std::move(impl)) {}

HnswIndex::~HnswIndex() = default;

absl::StatusOr<std::unique_ptr<HnswIndex>> HnswIndex::Create(const IndexSpec& spec, size_t dim,
                                                             Metric metric) {
  RETURN_IF_ERROR(spec.Validate());
  if (spec.kind != IndexKind::kHnsw) return absl::InvalidArgumentError("spec is not HNSW");
  if (dim == 0) return absl::InvalidArgumentError("dim must be at least 1");
  return Guard("create", [&]() -> absl::StatusOr<std::unique_ptr<HnswIndex>> {
    auto impl = std::make_unique<Impl>();
    impl->space = MakeSpace(metric, dim);
    impl->graph =
        std::make_unique<Graph>(impl->space.get(), kInitialCapacity, static_cast<size_t>(spec.m),
                                static_cast<size_t>(spec.ef_construction));
    RehomeLevel0(*impl->graph);
    return std::unique_ptr<HnswIndex>(new HnswIndex(spec, dim, metric, std::move(impl)));
  });
}

size_t HnswIndex::size() const {
  return impl_->graph->cur_element_count - impl_->graph->num_deleted_;
}

size_t HnswIndex::removed_count() const { return impl_->graph->num_deleted_; }

size_t HnswIndex::MemoryBytes() const {
  const Graph& g = *impl_->graph;
  size_t upper = 0;
  for (size_t i = 0; i < g.cur_element_count; ++i) {
    upper += static_cast<size_t>(g.element_levels_[i]) * g.size_links_per_element_;
  }
  // Per-capacity arrays: level-0 block, upper-list pointer, level, lock, visited mark.
  const size_t per_slot = g.size_data_per_element_ + sizeof(void*) + sizeof(int) +
                          sizeof(std::mutex) + sizeof(hnswlib::vl_type);
  // label_lookup_ is an unordered_map: roughly a node and a bucket per label.
  const size_t per_label = 2 * sizeof(void*) + sizeof(Label) + sizeof(tableint) + sizeof(void*);
  return g.max_elements_ * per_slot + upper + g.label_lookup_.size() * per_label +
         impl_->live_in.capacity() * sizeof(uint32_t) +
         Graph::max_update_element_locks * sizeof(std::mutex);
}

absl::Status HnswIndex::Add(std::span<const Label> labels, std::span<const float> vectors) {
  if (vectors.size() != labels.size() * dim_) {
    return absl::InvalidArgumentError(absl::StrCat("Add: ", vectors.size(), " floats for ",
                                                   labels.size(), " labels of dim ", dim_));
  }
  if (!internal::AllFinite(vectors)) {
    return absl::InvalidArgumentError("Add: vectors must be finite (no NaN or infinity)");
  }
  Graph& g = *impl_->graph;
  if (g.cur_element_count + labels.size() > kMaxElements) {
    return absl::ResourceExhaustedError("hnsw index is limited to 2^32-2 vectors");
  }
  std::vector<float> normalized;
  std::span<const float> rows = internal::PrepareVectors(metric_, dim_, vectors, &normalized);
  return Guard("add", [&]() -> absl::Status {
    // Upper bound (a replaced label takes a new slot too); doubling keeps Add amortised O(1)
    // copies.
    const size_t needed = g.cur_element_count + labels.size();
    if (needed > g.max_elements_) {
      g.resizeIndex(std::min(kMaxElements, std::max(needed, 2 * g.max_elements_)));
      RehomeLevel0(g);
    }
    impl_->live_in.reserve(g.max_elements_);
    std::vector<tableint> orphans;
    for (size_t i = 0; i < labels.size(); ++i) {
      // A present label is replaced by a new node: rewiring the old node's neighbourhood in
      // place (hnswlib's updatePoint) is what strands other nodes.
      if (std::optional<tableint> old = impl_->Find(labels[i])) impl_->Retire(*old, &orphans);
      impl_->Insert(rows.data() + i * dim_, labels[i], &orphans);
    }
    impl_->Repair(orphans);
    return absl::OkStatus();
  });
}

absl::Status HnswIndex::Remove(std::span<const Label> labels) {
  return Guard("remove", [&]() -> absl::Status {
    std::vector<tableint> orphans;
    for (Label label : labels) {
      if (std::optional<tableint> id = impl_->Find(label)) impl_->Retire(*id, &orphans);
    }
    impl_->Repair(orphans);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<SearchHit>> HnswIndex::Search(std::span<const float> query,
                                                         const SearchOptions& options) const {
  RETURN_IF_ERROR(internal::CheckQuery(query, dim_));
  if (options.ef < 0) return absl::InvalidArgumentError("search ef must be >= 0");
  if (options.top_k == 0 || size() == 0) return std::vector<SearchHit>{};
  const size_t top_k = std::min(options.top_k, size());
  const size_t ef = std::max<size_t>(options.ef > 0 ? options.ef : spec_.ef, top_k);
  std::vector<float> normalized;
  const float* q = internal::PrepareVectors(metric_, dim_, query, &normalized).data();
  return Guard("search", [&]() -> absl::StatusOr<std::vector<SearchHit>> {
    const Graph& g = *impl_->graph;
    internal::TopK top(top_k);
    if (options.filter != nullptr &&
        internal::PreferExactFilteredScan(size(), options.filter_selectivity, ef)) {
      for (tableint id = 0; id < g.cur_element_count; ++id) {
        if (g.isMarkedDeleted(id)) continue;
        const Label label = g.getExternalLabel(id);
        if (!options.filter->Accept(label)) continue;
        top.Push(label, internal::Score(metric_, q, VectorOf(g, id), dim_));
      }
      return std::move(top).Take();
    }
    std::vector<std::pair<float, tableint>> found = SearchGraph(g, q, ef, options.filter);
    // The graph walk's distances are exact: turn them into scores instead of recomputing
    // ef dot products (InnerProductSpace gives 1 - a·b, L2Space the squared distance).
    for (const auto& [d, id] : found) {
      top.Push(g.getExternalLabel(id), metric_ == Metric::kL2 ? -d : 1.0f - d);
    }
    return std::move(top).Take();
  });
}

absl::StatusOr<std::vector<SearchHit>> HnswIndex::ScoreLabels(std::span<const float> query,
                                                              std::span<const Label> labels,
                                                              size_t top_k) const {
  RETURN_IF_ERROR(internal::CheckQuery(query, dim_));
  std::vector<float> normalized;
  const float* q = internal::PrepareVectors(metric_, dim_, query, &normalized).data();
  return Guard("score", [&]() -> absl::StatusOr<std::vector<SearchHit>> {
    internal::TopK top(top_k);
    absl::flat_hash_set<Label> seen;
    for (Label label : labels) {
      std::optional<tableint> id = impl_->Find(label);
      if (!id || !seen.insert(label).second) continue;
      top.Push(label, internal::Score(metric_, q, VectorOf(*impl_->graph, *id), dim_));
    }
    return std::move(top).Take();
  });
}

bool HnswIndex::Contains(Label label) const { return impl_->Find(label).has_value(); }

std::vector<Label> HnswIndex::Labels() const {
  std::vector<Label> out;
  out.reserve(size());
  for (const auto& [label, id] : impl_->graph->label_lookup_) {
    if (impl_->IsLive(id)) out.push_back(label);
  }
  return out;
}

absl::Status HnswIndex::Save(std::string* out) const {
  const Graph& g = *impl_->graph;
  return Guard("save", [&]() -> absl::Status {
    internal::ByteWriter w(out);
    internal::WriteHeader(w, kMagic, kVersion, dim_, metric_);
    w.Put<uint64_t>(g.M_);
    w.Put<uint64_t>(g.ef_construction_);
    w.Put<uint64_t>(g.size_data_per_element_);
    w.Put<uint64_t>(g.cur_element_count);
    w.Put<int32_t>(g.maxlevel_);
    w.Put<uint32_t>(g.enterpoint_node_);
    w.PutBytes(g.data_level0_memory_, g.cur_element_count * g.size_data_per_element_);
    for (size_t i = 0; i < g.cur_element_count; ++i) {
      const int32_t level = g.element_levels_[i];
      w.Put<int32_t>(level);
      if (level > 0) w.PutBytes(g.linkLists_[i], level * g.size_links_per_element_);
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::unique_ptr<HnswIndex>> HnswIndex::Load(const IndexSpec& spec, size_t dim,
                                                           Metric metric, std::string_view data) {
  RETURN_IF_ERROR(spec.Validate());
  internal::ByteReader r(data, "hnsw index");
  RETURN_IF_ERROR(internal::ReadHeader(r, kMagic, kVersion, dim, metric));
  uint64_t m = 0, ef_construction = 0, element_bytes = 0, count = 0;
  int32_t max_level = 0;
  uint32_t entry_point = 0;
  RETURN_IF_ERROR(r.Get(&m));
  RETURN_IF_ERROR(r.Get(&ef_construction));
  RETURN_IF_ERROR(r.Get(&element_bytes));
  RETURN_IF_ERROR(r.Get(&count));
  RETURN_IF_ERROR(r.Get(&max_level));
  RETURN_IF_ERROR(r.Get(&entry_point));
  if (m < 2 || m > 128) return r.Corrupt("M out of range");
  if (ef_construction < 1 || ef_construction > 10000) return r.Corrupt("ef_construction");
  if (count > kMaxElements) return r.Corrupt("element count out of range");
  if (count == 0 ? max_level != -1 : (max_level < 0 || max_level > kMaxLevel)) {
    return r.Corrupt("max level out of range");
  }
  if (count > 0 && entry_point >= count) return r.Corrupt("entry point out of range");
  // The layout is fully determined by dim and M; check it before trusting the counts.
  const size_t expected_element_bytes =
      (2 * m + 1) * sizeof(tableint) + dim * sizeof(float) + sizeof(hnswlib::labeltype);
  if (element_bytes != expected_element_bytes) return r.Corrupt("element size mismatch");
  ASSIGN_OR_RETURN(std::string_view level0, r.GetSpan(count, element_bytes));

  return Guard("load", [&]() -> absl::StatusOr<std::unique_ptr<HnswIndex>> {
    auto impl = std::make_unique<Impl>();
    impl->space = MakeSpace(metric, dim);
    impl->graph = std::make_unique<Graph>(
        impl->space.get(), std::max<size_t>(count, kInitialCapacity), m, ef_construction);
    Graph& g = *impl->graph;
    if (g.size_data_per_element_ != element_bytes) return r.Corrupt("element layout");
    RehomeLevel0(g);
    std::memcpy(g.data_level0_memory_, level0.data(), level0.size());
    // From here the graph's destructor frees linkLists_[i] for every element whose level is
    // set, so a failure part-way leaks nothing.
    g.cur_element_count = count;
    g.label_lookup_.reserve(count);
    for (tableint i = 0; i < count; ++i) {
      // A replaced label's old node stays (removed) until a rebuild: a label may repeat, but
      // on one live node at most, which the label map points at.
      auto [it, inserted] = g.label_lookup_.emplace(g.getExternalLabel(i), i);
      if (!inserted && !g.isMarkedDeleted(i)) {
        if (!g.isMarkedDeleted(it->second)) return r.Corrupt("duplicate label");
        it->second = i;
      }
      const unsigned int* list = g.get_linklist0(i);
      const size_t n = g.getListCount(const_cast<unsigned int*>(list));
      if (n > g.maxM0_) return r.Corrupt("level-0 list too long");
      const tableint* neighbors = reinterpret_cast<const tableint*>(list + 1);
      for (size_t j = 0; j < n; ++j) {
        if (neighbors[j] >= count) return r.Corrupt("level-0 link out of range");
      }
      if (g.isMarkedDeleted(i)) ++g.num_deleted_;
    }
    for (tableint i = 0; i < count; ++i) {
      int32_t level = 0;
      RETURN_IF_ERROR(r.Get(&level));
      // Removed nodes may sit above the top layer (the entry point moves down when it is
      // removed); live ones may not.
      if (level < 0 || level > kMaxLevel || (level > max_level && !g.isMarkedDeleted(i))) {
        return r.Corrupt("element level out of range");
      }
      if (level == 0) continue;
      ASSIGN_OR_RETURN(std::string_view links, r.GetSpan(level, g.size_links_per_element_));
      char* block = static_cast<char*>(malloc(links.size()));
      if (block == nullptr) throw std::bad_alloc();
      std::memcpy(block, links.data(), links.size());
      g.linkLists_[i] = block;
      g.element_levels_[i] = level;
    }
    RETURN_IF_ERROR(r.ExpectEnd());
    // Upper-layer links must point at nodes that exist on that layer, or the greedy descent
    // would read a list that was never allocated.
    for (tableint i = 0; i < count; ++i) {
      for (int level = 1; level <= g.element_levels_[i]; ++level) {
        const unsigned int* list = g.get_linklist(i, level);
        const size_t n = g.getListCount(const_cast<unsigned int*>(list));
        if (n > g.maxM_) return r.Corrupt("upper list too long");
        const tableint* neighbors = reinterpret_cast<const tableint*>(list + 1);
        for (size_t j = 0; j < n; ++j) {
          if (neighbors[j] >= count || g.element_levels_[neighbors[j]] < level) {
            return r.Corrupt("upper link out of range");
          }
        }
      }
    }
    if (count > 0 && g.element_levels_[entry_point] != max_level) {
      return r.Corrupt("entry point is not on the top level");
    }
    g.maxlevel_ = max_level;
    g.enterpoint_node_ = count > 0 ? entry_point : static_cast<tableint>(-1);
    std::vector<float> scratch(dim);
    for (tableint i = 0; i < count; ++i) {
      std::memcpy(scratch.data(), g.getDataByInternalId(i), dim * sizeof(float));
      if (!internal::AllFinite(scratch)) return r.Corrupt("non-finite vector values");
    }
    // Snapshots written before the adapter maintained reachability may have a removed entry
    // point, live nodes without a live in-link, or severed islands: repair them here.
    impl->live_in.reserve(g.max_elements_);
    impl->CountLinks();
    if (count > 0 && g.isMarkedDeleted(g.enterpoint_node_)) impl->ChooseEntryPoint();
    std::vector<tableint> orphans;
    for (tableint i = 0; i < count; ++i) {
      if (impl->IsLive(i) && impl->live_in[i] == 0) orphans.push_back(i);
    }
    impl->Repair(orphans);
    impl->RestoreReachability();
    return std::unique_ptr<HnswIndex>(new HnswIndex(spec, dim, metric, std::move(impl)));
  });
}

}  // namespace ragd::index
