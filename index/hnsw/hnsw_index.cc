#include "index/hnsw/hnsw_index.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "index/distance.h"
#include "index/hnsw/hnsw_graph_internal.h"
#include "index/serialization.h"

namespace ragd::index {

// Paired rounds at 100k x 1536 on an AMD EPYC host (median of 60 per-round ratios against 8
// lines): whole rows gave F16 codes (48 lines) +15-16% and INT8 codes (25 lines) +31-33%,
// while float32's whole row (96 lines) lost 3-5% and 4, 16 or 24 lines were within 1% of 8.
// Likely (inferred, not traced): a whole code row keeps the fast code kernels from waiting on
// DRAM, while a whole 6 KiB float32 row two neighbours ahead crowds the line-fill buffers that
// the hardware prefetcher would use. Measured on one CPU; see the bench for the other hosts.
constexpr size_t kCacheLine = 64;
size_t WalkPrefetchLines(size_t row_bytes) {
  const size_t lines = (row_bytes + kCacheLine - 1) / kCacheLine;
  return row_bytes <= kWholeRowPrefetchBytes ? lines
                                             : std::min(lines, kPartialRowPrefetchLines);
}

using hnsw_graph::Graph;
using hnsw_graph::Guard;
using hnsw_graph::tableint;

namespace {

constexpr uint32_t kMagic = 0x57534e48;  // "HNSW"
// Version 2 adds the storage kind (IndexSpec::quantization), the int8 training and the int8
// vectors kept before training; version 1 snapshots load as float32 (kNone).
constexpr uint32_t kVersion = 2;
constexpr uint32_t kVersionFloat32Only = 1;
constexpr size_t kInitialCapacity = 1024;
// hnswlib's internal ids are 32-bit; its deleted mark lives in the third byte of the
// level-0 list header, which limits maxM0 to 16 bits of list count.
constexpr size_t kMaxElements = std::numeric_limits<tableint>::max() - 1;
// Levels are geometric with ratio 1/M (M >= 2): 64 is unreachable in practice.
constexpr int kMaxLevel = 64;

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

// Float32 graphs only (Quantization::kNone).
const float* VectorOf(const Graph& g, tableint id) {
  return reinterpret_cast<const float*>(g.getDataByInternalId(id));
}

// How far ahead of the distance being computed the walk asks for vectors: two neighbours
// ahead. Chosen on 20k x 1536 in process, alternated runs: +4-11% median QPS for float32, f16
// and int8 over one neighbour and one line (hnswlib's choice); four ahead was slower in a
// single run (bench/README "Walk prefetch"). How much of each: WalkPrefetchLines.
constexpr int kPrefetchAhead = 2;
// Level-0 lists hold at most maxM0_ = 2 M links, and M <= 128 (IndexSpec::Validate).
constexpr int kMaxLevel0Links = 2 * 128;

void PrefetchVector(const Graph& g, tableint id, size_t lines) {
  const char* p = g.getDataByInternalId(id);
  for (size_t l = 0; l < lines; ++l) __builtin_prefetch(p + l * kCacheLine);
}

// The walk's two binary heaps, reused by every search of a thread: a frontier grows to
// thousands of entries, and growing new vectors for it cost each search a dozen allocations and
// copies (malloc and free were ~1% of ragd's server samples at 100k, ~10 us a call, with the
// walk having just evicted the allocator's data). A thread keeps at most kKeptHeapEntries
// entries of capacity between searches (2 MiB; a frontier that large needs an ef in the
// thousands).
using WalkEntry = std::pair<float, tableint>;
struct WalkHeaps {
  std::vector<WalkEntry> top;
  std::vector<WalkEntry> candidates;
};
constexpr size_t kKeptHeapEntries = size_t{1} << 18;

WalkHeaps& ThreadWalkHeaps() {
  thread_local WalkHeaps heaps;
  return heaps;
}

// Heap operations as std::priority_queue<WalkEntry> does them (std::less, the largest on top),
// so the walk visits and returns exactly what it did on priority queues.
void HeapPush(std::vector<WalkEntry>& heap, WalkEntry entry) {
  heap.push_back(entry);
  std::push_heap(heap.begin(), heap.end());
}
void HeapPop(std::vector<WalkEntry>& heap) {
  std::pop_heap(heap.begin(), heap.end());
  heap.pop_back();
}

// Best-first search with a per-call ef and a native filter. Reads only public members of
// HierarchicalNSW; the same algorithm as hnswlib 0.7's searchBaseLayerST with a filter.
// `dist(id)` is the query's distance to node `id` (float32: hnswlib's space; codes: the
// codec's float-query-against-code distance).
template <typename Dist>
std::vector<std::pair<float, tableint>> SearchGraph(const Graph& g, const Dist& dist, size_t ef,
                                                    const LabelFilter* filter) {
  std::vector<std::pair<float, tableint>> out;
  if (g.cur_element_count == 0) return out;
  auto accepted = [&](tableint id) {
    return !g.isMarkedDeleted(id) && (filter == nullptr || filter->Accept(g.getExternalLabel(id)));
  };

  float current_dist = 0;
  const tableint current = hnsw_graph::GreedyDescent(g, dist, g.enterpoint_node_, g.maxlevel_,
                                                     /*stop_level=*/0, &current_dist);

  tableint fresh[kMaxLevel0Links];
  const size_t prefetch_lines = WalkPrefetchLines(g.data_size_);
  hnsw_graph::VisitedLease lease(g.visited_list_pool_);
  hnswlib::vl_type* visited = lease.get()->mass;
  const hnswlib::vl_type tag = lease.get()->curV;
  WalkHeaps& heaps = ThreadWalkHeaps();
  std::vector<WalkEntry>& top = heaps.top;  // accepted results, worst (largest distance) on top
  std::vector<WalkEntry>& candidates = heaps.candidates;  // frontier, keyed by -distance
  top.clear();
  candidates.clear();
  float bound = std::numeric_limits<float>::max();
  visited[current] = tag;
  HeapPush(candidates, {-current_dist, current});
  if (accepted(current)) {
    HeapPush(top, {current_dist, current});
    bound = current_dist;
  }
  while (!candidates.empty()) {
    const WalkEntry next = candidates.front();
    // Stop once the closest frontier node is farther than the worst of a full result list;
    // while the list is not full (few accepted labels) keep exploring.
    if (-next.first > bound && top.size() >= ef) break;
    HeapPop(candidates);
    const unsigned int* list = g.get_linklist0(next.second);
    // First the neighbours not visited yet (marks are 2 bytes a node, mostly cached), then
    // their distances with the vectors of the next ones already on their way: vectors are
    // kilobytes apart, so a walk that asks for one only when it needs it waits for DRAM once
    // per neighbour. Marking before computing visits the same nodes in the same order as
    // marking on the way (hnswlib's loop), so results are identical.
    const int count =
        std::min<int>(g.getListCount(const_cast<unsigned int*>(list)), kMaxLevel0Links);
    const tableint* neighbors = reinterpret_cast<const tableint*>(list + 1);
    for (int i = 0; i < count; ++i) __builtin_prefetch(visited + neighbors[i]);
    int fresh_count = 0;
    for (int i = 0; i < count; ++i) {
      const tableint id = neighbors[i];
      if (visited[id] == tag) continue;
      visited[id] = tag;
      fresh[fresh_count++] = id;
    }
    for (int j = 0; j < std::min(fresh_count, kPrefetchAhead); ++j) {
      PrefetchVector(g, fresh[j], prefetch_lines);
    }
    for (int j = 0; j < fresh_count; ++j) {
      if (j + kPrefetchAhead < fresh_count) {
        PrefetchVector(g, fresh[j + kPrefetchAhead], prefetch_lines);
      }
      const tableint id = fresh[j];
      const float d = dist(id);
      if (top.size() < ef || d < bound) {
        HeapPush(candidates, {-d, id});
        if (accepted(id)) {
          HeapPush(top, {d, id});
          if (top.size() > ef) HeapPop(top);
          bound = top.front().first;
        }
      }
    }
  }
  out.reserve(top.size());
  while (!top.empty()) {
    out.push_back(top.front());
    HeapPop(top);
  }
  if (candidates.capacity() > kKeptHeapEntries) std::vector<WalkEntry>().swap(candidates);
  if (top.capacity() > kKeptHeapEntries) std::vector<WalkEntry>().swap(top);
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
    impl->codec = std::make_unique<hnsw_graph::Codec>(spec.quantization, metric, dim);
    impl->space = impl->codec->MakeSpace();
    impl->graph =
        std::make_unique<Graph>(impl->space.get(), kInitialCapacity, static_cast<size_t>(spec.m),
                                static_cast<size_t>(spec.ef_construction));
    RehomeLevel0(*impl->graph);
    return std::unique_ptr<HnswIndex>(new HnswIndex(spec, dim, metric, std::move(impl)));
  });
}

size_t HnswIndex::size() const {
  return impl_->graph->cur_element_count - impl_->graph->num_deleted_ +
         impl_->pending_labels.size();
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
         Graph::max_update_element_locks * sizeof(std::mutex) + impl_->codec->MemoryBytes() +
         impl_->pending_labels.capacity() * sizeof(Label) +
         impl_->pending_rows.capacity() * sizeof(float);
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
  hnsw_graph::Codec& codec = *impl_->codec;
  return Guard("add", [&]() -> absl::Status {
    std::vector<Label> all_labels;
    std::vector<float> all_rows;
    if (!codec.trained()) {
      // Before int8 training every live vector is a pending float32 row (the graph is empty):
      // a present label is overwritten, a new one appended.
      for (size_t i = 0; i < labels.size(); ++i) {
        auto& pl = impl_->pending_labels;
        const auto it = std::find(pl.begin(), pl.end(), labels[i]);
        const float* row = rows.data() + i * dim_;
        if (it != pl.end()) {
          std::copy(row, row + dim_, impl_->pending_rows.begin() + (it - pl.begin()) * dim_);
        } else {
          pl.push_back(labels[i]);
          impl_->pending_rows.insert(impl_->pending_rows.end(), row, row + dim_);
        }
      }
      if (impl_->pending_labels.size() < hnsw_graph::Codec::kMinTrainingVectors) {
        return absl::OkStatus();
      }
      codec.Train(impl_->pending_rows.data(), impl_->pending_labels.size());
      all_labels = std::move(impl_->pending_labels);
      all_rows = std::move(impl_->pending_rows);
      impl_->pending_labels.clear();
      impl_->pending_rows.clear();
      labels = all_labels;
      rows = all_rows;
    }
    // A label repeated within the batch: its last vector wins, as if the rows had been added
    // one after another (each replacing the one before); the earlier rows are not inserted.
    std::vector<size_t> order(labels.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    {
      absl::flat_hash_map<Label, size_t> last;
      last.reserve(labels.size());
      for (size_t i = 0; i < labels.size(); ++i) last[labels[i]] = i;
      if (last.size() != labels.size()) {
        order.erase(std::remove_if(order.begin(), order.end(),
                                   [&](size_t i) { return last[labels[i]] != i; }),
                    order.end());
      }
    }
    // Upper bound (a replaced label takes a new slot too); doubling keeps Add amortised O(1)
    // copies.
    const size_t needed = g.cur_element_count + order.size();
    if (needed > g.max_elements_) {
      g.resizeIndex(std::min(kMaxElements, std::max(needed, 2 * g.max_elements_)));
      RehomeLevel0(g);
    }
    impl_->live_in.reserve(g.max_elements_);
    std::vector<tableint> orphans;
    // A present label is replaced by a new node: rewiring the old node's neighbourhood in
    // place (hnswlib's updatePoint) is what strands other nodes. All retirements come first,
    // so that the links below see a graph whose removed marks no longer change.
    for (size_t i : order) {
      if (std::optional<tableint> old = impl_->Find(labels[i])) impl_->Retire(*old, &orphans);
    }
    std::vector<char> code(codec.code_bytes());
    auto data_of = [&](size_t i) -> const void* {
      const float* row = rows.data() + i * dim_;
      if (!codec.quantized()) return row;
      codec.Encode(row, code.data());
      return code.data();
    };
    auto row_of = [&](size_t i) { return rows.data() + i * dim_; };
    size_t next = 0;
    // The first node of an empty graph becomes its entry point alone.
    if (next < order.size() && impl_->LiveCount() == 0) {
      impl_->Insert(data_of(order[next]), row_of(order[next]), labels[order[next]], &orphans);
      ++next;
    }
    // Whether an Add inserts one node at a time or by batch depends on its size only, never
    // on the threads: the graph must be the same for any SetAddThreads (cluster replicas).
    if (order.size() - next < kMinBatchNodes) {
      for (; next < order.size(); ++next) {
        impl_->Insert(data_of(order[next]), row_of(order[next]), labels[order[next]], &orphans);
      }
    } else {
      // Every node is reserved first, in batch order (levels drawn from hnswlib's generator
      // in the same sequence as a serial Add), then linked by batch insertion.
      std::vector<tableint> reserved;
      std::vector<const float*> reserved_rows;
      reserved.reserve(order.size() - next);
      reserved_rows.reserve(order.size() - next);
      for (; next < order.size(); ++next) {
        reserved.push_back(impl_->Reserve(data_of(order[next]), labels[order[next]]));
        reserved_rows.push_back(row_of(order[next]));
      }
      RETURN_IF_ERROR(impl_->LinkBatch(reserved, reserved_rows, impl_->add_threads, &orphans));
      // A batch's nodes do not link one another, and a merge may prune an old node's last
      // link from its group: the whole-graph pass that Repair runs when this much has
      // changed links back anything severed. It reads each layer-0 list once, about 1% of
      // linking a batch of 1,000 at 100k nodes.
      impl_->changes_since_check += std::max<size_t>(64, 2 * impl_->LiveCount());
    }
    impl_->Repair(orphans);
    return absl::OkStatus();
  });
}

void HnswIndex::SetAddThreads(size_t threads) { impl_->add_threads = std::max<size_t>(1, threads); }

absl::Status HnswIndex::SetLevelSeed(uint32_t seed) {
  const Graph& g = *impl_->graph;
  if (g.cur_element_count > 0 || !impl_->pending_labels.empty()) {
    return absl::FailedPreconditionError("SetLevelSeed: the index already holds vectors");
  }
  // As hnswlib's constructor seeds them.
  impl_->graph->level_generator_.seed(seed);
  impl_->graph->update_probability_generator_.seed(seed + 1);
  return absl::OkStatus();
}

absl::Status HnswIndex::Remove(std::span<const Label> labels) {
  return Guard("remove", [&]() -> absl::Status {
    std::vector<tableint> orphans;
    auto& pl = impl_->pending_labels;
    for (Label label : labels) {
      if (std::optional<tableint> id = impl_->Find(label)) {
        impl_->Retire(*id, &orphans);
        continue;
      }
      const auto it = std::find(pl.begin(), pl.end(), label);
      if (it == pl.end()) continue;
      // Swap with the last pending row, then drop it.
      const size_t at = it - pl.begin(), last = pl.size() - 1;
      std::copy_n(impl_->pending_rows.begin() + last * dim_, dim_,
                  impl_->pending_rows.begin() + at * dim_);
      pl[at] = pl[last];
      pl.pop_back();
      impl_->pending_rows.resize(pl.size() * dim_);
    }
    impl_->Repair(orphans);
    return absl::OkStatus();
  });
}

namespace {

// Exact scores of `query` (prepared) against the float32 vectors of `labels` read through
// `fetch`; labels whose vector is gone are dropped. The best `top_k`, best first.
absl::StatusOr<std::vector<SearchHit>> Rescore(const ExactVectorFetcher& fetch, Metric metric,
                                               size_t dim, const float* query,
                                               std::span<const Label> labels, size_t top_k) {
  std::vector<float> vectors;
  std::vector<bool> found;
  RETURN_IF_ERROR(fetch(labels, &vectors, &found));
  if (found.size() != labels.size() || vectors.size() < labels.size() * dim) {
    return absl::InternalError("exact vector fetch returned the wrong number of vectors");
  }
  internal::TopK top(top_k);
  for (size_t i = 0; i < labels.size(); ++i) {
    if (!found[i]) continue;
    float* v = vectors.data() + i * dim;
    // Stored vectors are normalised already for kCosine; normalising again is cheap at this
    // count and keeps the score a cosine whatever the caller's store holds.
    if (metric == Metric::kCosine) internal::Normalize(v, dim);
    top.Push(labels[i], internal::Score(metric, query, v, dim));
  }
  return std::move(top).Take();
}

// How many candidates a quantized search collects before re-scoring.
size_t CandidatesFor(size_t top_k, const SearchOptions& options, bool rescoring,
                     Quantization kind) {
  if (!rescoring) return top_k;
  const float factor = options.oversampling > 0 ? options.oversampling : DefaultOversampling(kind);
  return static_cast<size_t>(std::ceil(static_cast<double>(top_k) * std::max(1.0f, factor)));
}

}  // namespace

absl::StatusOr<std::vector<SearchHit>> HnswIndex::Search(std::span<const float> query,
                                                         const SearchOptions& options) const {
  RETURN_IF_ERROR(internal::CheckQuery(query, dim_));
  if (options.ef < 0) return absl::InvalidArgumentError("search ef must be >= 0");
  if (options.oversampling < 0 || !std::isfinite(options.oversampling)) {
    return absl::InvalidArgumentError("search oversampling must be finite and >= 0");
  }
  if (options.top_k == 0 || size() == 0) return std::vector<SearchHit>{};
  const size_t top_k = std::min(options.top_k, size());
  const hnsw_graph::Codec& codec = *impl_->codec;
  const bool rescoring = codec.quantized() && options.rescore && options.exact_vectors != nullptr;
  const size_t candidates =
      std::min(CandidatesFor(top_k, options, rescoring, codec.kind()), size());
  const size_t ef = std::max<size_t>(options.ef > 0 ? options.ef : spec_.ef, candidates);
  std::vector<float> normalized;
  const float* q = internal::PrepareVectors(metric_, dim_, query, &normalized).data();
  return Guard("search", [&]() -> absl::StatusOr<std::vector<SearchHit>> {
    const Graph& g = *impl_->graph;
    if (!impl_->pending_labels.empty()) {  // int8 before training: exact over float32 rows
      internal::TopK top(top_k);
      const auto& pl = impl_->pending_labels;
      for (size_t i = 0; i < pl.size(); ++i) {
        if (options.filter != nullptr && !options.filter->Accept(pl[i])) continue;
        top.Push(pl[i], internal::Score(metric_, q, impl_->pending_rows.data() + i * dim_, dim_));
      }
      return std::move(top).Take();
    }
    if (!codec.quantized()) {
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
      auto dist = [&](tableint id) {
        return g.fstdistfunc_(q, g.getDataByInternalId(id), g.dist_func_param_);
      };
      // The graph walk's distances are exact: turn them into scores instead of recomputing
      // ef dot products (InnerProductSpace gives 1 - a·b, L2Space the squared distance).
      for (const auto& [d, id] : SearchGraph(g, dist, ef, options.filter)) {
        top.Push(g.getExternalLabel(id), codec.ScoreOf(d));
      }
      return std::move(top).Take();
    }
    // Codes: the walk (or the filtered scan) ranks by approximate scores; the best
    // `candidates` are then re-scored exactly when asked.
    hnsw_graph::Codec::PreparedQuery prepared;
    codec.Prepare(q, &prepared);
    auto dist = [&](tableint id) { return codec.Distance(prepared, g.getDataByInternalId(id)); };
    internal::TopK approx(candidates);
    if (options.filter != nullptr &&
        internal::PreferExactFilteredScan(size(), options.filter_selectivity, ef)) {
      for (tableint id = 0; id < g.cur_element_count; ++id) {
        if (g.isMarkedDeleted(id)) continue;
        const Label label = g.getExternalLabel(id);
        if (!options.filter->Accept(label)) continue;
        approx.Push(label, codec.ScoreOf(dist(id)));
      }
    } else {
      for (const auto& [d, id] : SearchGraph(g, dist, ef, options.filter)) {
        approx.Push(g.getExternalLabel(id), codec.ScoreOf(d));
      }
    }
    std::vector<SearchHit> hits = std::move(approx).Take();
    if (!rescoring) {
      if (hits.size() > top_k) hits.resize(top_k);
      return hits;
    }
    std::vector<Label> labels(hits.size());
    for (size_t i = 0; i < hits.size(); ++i) labels[i] = hits[i].label;
    return Rescore(*options.exact_vectors, metric_, dim_, q, labels, top_k);
  });
}

absl::StatusOr<std::vector<SearchHit>> HnswIndex::ScoreLabels(std::span<const float> query,
                                                              std::span<const Label> labels,
                                                              size_t top_k) const {
  return ScoreLabels(query, labels, SearchOptions{.top_k = top_k});
}

absl::StatusOr<std::vector<SearchHit>> HnswIndex::ScoreLabels(std::span<const float> query,
                                                              std::span<const Label> labels,
                                                              const SearchOptions& options) const {
  RETURN_IF_ERROR(internal::CheckQuery(query, dim_));
  std::vector<float> normalized;
  const float* q = internal::PrepareVectors(metric_, dim_, query, &normalized).data();
  const hnsw_graph::Codec& codec = *impl_->codec;
  const bool rescoring = codec.quantized() && options.rescore && options.exact_vectors != nullptr;
  return Guard("score", [&]() -> absl::StatusOr<std::vector<SearchHit>> {
    const Graph& g = *impl_->graph;
    const size_t candidates = CandidatesFor(options.top_k, options, rescoring, codec.kind());
    internal::TopK top(codec.quantized() ? candidates : options.top_k);
    hnsw_graph::Codec::PreparedQuery prepared;
    if (codec.quantized() && impl_->pending_labels.empty()) codec.Prepare(q, &prepared);
    absl::flat_hash_set<Label> seen;
    const auto& pl = impl_->pending_labels;
    for (Label label : labels) {
      if (!pl.empty()) {  // int8 before training: exact
        const auto it = std::find(pl.begin(), pl.end(), label);
        if (it == pl.end() || !seen.insert(label).second) continue;
        top.Push(label,
                 internal::Score(metric_, q, impl_->pending_rows.data() + (it - pl.begin()) * dim_,
                                 dim_));
        continue;
      }
      std::optional<tableint> id = impl_->Find(label);
      if (!id || !seen.insert(label).second) continue;
      if (!codec.quantized()) {
        top.Push(label, internal::Score(metric_, q, VectorOf(g, *id), dim_));
      } else {
        top.Push(label, codec.ScoreOf(codec.Distance(prepared, g.getDataByInternalId(*id))));
      }
    }
    std::vector<SearchHit> hits = std::move(top).Take();
    if (!codec.quantized() || !pl.empty() || !rescoring) {
      if (hits.size() > options.top_k) hits.resize(options.top_k);
      return hits;
    }
    std::vector<Label> found(hits.size());
    for (size_t i = 0; i < hits.size(); ++i) found[i] = hits[i].label;
    return Rescore(*options.exact_vectors, metric_, dim_, q, found, options.top_k);
  });
}

bool HnswIndex::Contains(Label label) const {
  if (impl_->Find(label).has_value()) return true;
  const auto& pl = impl_->pending_labels;
  return std::find(pl.begin(), pl.end(), label) != pl.end();
}

std::vector<Label> HnswIndex::Labels() const {
  std::vector<Label> out;
  out.reserve(size());
  for (const auto& [label, id] : impl_->graph->label_lookup_) {
    if (impl_->IsLive(id)) out.push_back(label);
  }
  out.insert(out.end(), impl_->pending_labels.begin(), impl_->pending_labels.end());
  return out;
}

absl::Status HnswIndex::Save(std::string* out) const {
  const Graph& g = *impl_->graph;
  return Guard("save", [&]() -> absl::Status {
    internal::ByteWriter w(out);
    internal::WriteHeader(w, kMagic, kVersion, dim_, metric_);
    // Version 2: storage kind; for int8 the training section and the rows kept before it.
    w.Put<uint32_t>(static_cast<uint32_t>(impl_->codec->kind()));
    if (impl_->codec->kind() == Quantization::kInt8) {
      impl_->codec->SaveTraining(out);
      w.Put<uint64_t>(impl_->pending_labels.size());
      w.PutBytes(impl_->pending_labels.data(), impl_->pending_labels.size() * sizeof(Label));
      w.PutBytes(impl_->pending_rows.data(), impl_->pending_rows.size() * sizeof(float));
    }
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
  uint32_t version = kVersion;
  {
    internal::ByteReader probe = r;
    uint32_t magic = 0;
    if (probe.Get(&magic).ok() && probe.Get(&version).ok() && version == kVersionFloat32Only) {
      version = kVersionFloat32Only;
    } else {
      version = kVersion;
    }
  }
  RETURN_IF_ERROR(internal::ReadHeader(r, kMagic, version, dim, metric));
  auto codec = std::make_unique<hnsw_graph::Codec>(spec.quantization, metric, dim);
  uint32_t kind = 0;  // version 1: float32
  if (version >= 2) RETURN_IF_ERROR(r.Get(&kind));
  if (kind != static_cast<uint32_t>(spec.quantization)) {
    return r.Corrupt(absl::StrCat("made with quantization ", kind, ", the spec asks for ",
                                  static_cast<int>(spec.quantization)));
  }
  std::vector<Label> pending_labels;
  std::vector<float> pending_rows;
  if (spec.quantization == Quantization::kInt8) {
    RETURN_IF_ERROR(codec->LoadTraining(r));
    uint64_t pending = 0;
    RETURN_IF_ERROR(r.Get(&pending));
    if (pending > 0 && codec->trained()) return r.Corrupt("pending vectors after training");
    if (pending >= hnsw_graph::Codec::kMinTrainingVectors) return r.Corrupt("too many pending");
    ASSIGN_OR_RETURN(std::string_view pl, r.GetSpan(pending, sizeof(Label)));
    ASSIGN_OR_RETURN(std::string_view pr, r.GetSpan(pending * dim, sizeof(float)));
    pending_labels.resize(pending);
    pending_rows.resize(pending * dim);
    if (pending > 0) {  // memcpy from an empty span's null data() is undefined (UBSan)
      std::memcpy(pending_labels.data(), pl.data(), pl.size());
      std::memcpy(pending_rows.data(), pr.data(), pr.size());
    }
    if (!internal::AllFinite(pending_rows)) return r.Corrupt("non-finite pending vectors");
    absl::flat_hash_set<Label> distinct(pending_labels.begin(), pending_labels.end());
    if (distinct.size() != pending_labels.size()) return r.Corrupt("duplicate pending label");
  }
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
      (2 * m + 1) * sizeof(tableint) + codec->code_bytes() + sizeof(hnswlib::labeltype);
  if (element_bytes != expected_element_bytes) return r.Corrupt("element size mismatch");
  if (count > 0 && !codec->trained()) return r.Corrupt("int8 graph without training");
  if (count > 0 && !pending_labels.empty()) return r.Corrupt("graph and pending vectors");
  ASSIGN_OR_RETURN(std::string_view level0, r.GetSpan(count, element_bytes));

  return Guard("load", [&]() -> absl::StatusOr<std::unique_ptr<HnswIndex>> {
    auto impl = std::make_unique<Impl>();
    impl->codec = std::move(codec);
    impl->space = impl->codec->MakeSpace();
    impl->pending_labels = std::move(pending_labels);
    impl->pending_rows = std::move(pending_rows);
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
    for (tableint i = 0; i < count; ++i) {
      if (!impl->codec->CodeIsFinite(g.getDataByInternalId(i))) {
        return r.Corrupt("non-finite vector values");
      }
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
