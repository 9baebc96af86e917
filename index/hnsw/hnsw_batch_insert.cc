// Batch insertion for HnswIndex::Add (see hnsw_graph_internal.h, LinkBatch): many nodes linked
// on several threads into a graph that depends on the inputs and the order of Add calls only.
//
// hnswlib's concurrent insert lets every thread search a graph the others are changing, so
// what a node finds depends on which of its neighbours were linked a moment earlier; replicas
// of one log (cluster mode) then held different graphs and answered approximate searches
// differently. Batch insertion as in ParlayANN (Dobson et al., "Scaling Graph-Based ANNS
// Algorithms to Billion-Size Datasets", 2023; Manohar et al., "ParlayANN", PPoPP 2024) keeps
// the parallelism and removes the race from the result: within a sub-batch every node
// searches the graph as it was before the sub-batch, which nobody writes meanwhile, and the
// reverse links are merged per target, each target's merge reading and writing only that
// target's list, in a fixed order. Which thread does which item changes only the timing.

#include <algorithm>
#include <atomic>
#include <span>
#include <system_error>
#include <thread>
#include <tuple>
#include <vector>

#include "common/status.h"
#include "index/hnsw/hnsw_graph_internal.h"

namespace ragd::index {

using hnsw_graph::Graph;
using hnsw_graph::Guard;
using hnsw_graph::tableint;

namespace {

// A graph with fewer live nodes than this takes a batch's nodes one at a time (hnswlib's
// insert): a sub-batch searches a graph that does not contain the sub-batch, which costs
// recall when that graph is small against it, and inserting into a small graph is cheap.
constexpr size_t kSerialPrefix = 256;
// A sub-batch holds at most this fraction of the live nodes already linked (1 / divisor), so
// batches grow with the graph (prefix doubling, as ParlayANN's) while each node misses at
// most that fraction of the graph it would have seen serially.
constexpr size_t kSubBatchDivisor = 4;
// Fewer items per thread than this and a phase starts fewer threads (a thread start costs
// about as much as linking one small node).
constexpr size_t kMinItemsPerThread = 8;

// Runs body(i, worker) for every i in [0, n) on up to `threads` threads (the caller's among
// them; worker < threads), each taking the next unclaimed i. The bodies must not depend on
// one another's effects: which worker runs which i is a matter of timing. An exception stops
// the other workers at their next item and comes back as the guard maps it.
template <typename Body>
absl::Status ParallelFor(size_t n, size_t threads, const Body& body) {
  const size_t workers = std::clamp<size_t>(n / kMinItemsPerThread, 1, std::max<size_t>(1, threads));
  std::vector<absl::Status> status(workers);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto work = [&](size_t worker) {
    status[worker] = Guard("add", [&]() -> absl::Status {
      for (size_t i; !failed.load(std::memory_order_relaxed) &&
                     (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) {
        body(i, worker);
      }
      return absl::OkStatus();
    });
    if (!status[worker].ok()) failed = true;
  };
  std::vector<std::thread> helpers;
  helpers.reserve(workers - 1);
  for (size_t w = 1; w < workers; ++w) {
    try {
      helpers.emplace_back(work, w);
    } catch (const std::system_error&) {
      break;  // no thread to be had: the ones running (and this one) do the work
    }
  }
  work(0);
  for (std::thread& h : helpers) h.join();
  for (const absl::Status& s : status) RETURN_IF_ERROR(s);
  return absl::OkStatus();
}

}  // namespace

absl::Status HnswIndex::Impl::LinkBatch(const std::vector<tableint>& nodes,
                                        const std::vector<const float*>& rows, size_t threads,
                                        std::vector<tableint>* orphans) {
  Graph& g = *graph;
  // Reserved nodes count as live but nothing links to them yet.
  size_t linked = LiveCount() - nodes.size();
  for (size_t next = 0; next < nodes.size();) {
    const size_t left = nodes.size() - next;
    size_t take = 1;
    if (linked == 0) {  // no live node linked: the first becomes the entry point alone
      g.enterpoint_node_ = nodes[next];
      g.maxlevel_ = g.element_levels_[nodes[next]];
    } else if (linked < kSerialPrefix) {
      take = std::min(left, kSerialPrefix - linked);
      for (size_t i = next; i < next + take; ++i) {
        Link(nodes[i], rows[i], orphans, &changes_since_check);
      }
    } else {
      take = std::min(left, linked / kSubBatchDivisor);
      RETURN_IF_ERROR(LinkSubBatch(std::span<const tableint>(nodes).subspan(next, take),
                                   std::span<const float* const>(rows).subspan(next, take), threads,
                                   orphans));
    }
    next += take;
    linked += take;
  }
  return absl::OkStatus();
}

absl::Status HnswIndex::Impl::LinkSubBatch(std::span<const tableint> nodes,
                                           std::span<const float* const> rows, size_t threads,
                                           std::vector<tableint>* orphans) {
  Graph& g = *graph;
  // A node above the top layer becomes the entry point: such nodes are linked first, one at a
  // time and in order (about one node in M^top), so that the entry point and top layer the
  // others descend from are fixed before they search.
  std::vector<tableint> rest;
  std::vector<const float*> rest_rows;
  rest.reserve(nodes.size());
  rest_rows.reserve(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (g.element_levels_[nodes[i]] > g.maxlevel_) {
      Link(nodes[i], rows[i], orphans, &changes_since_check);
    } else {
      rest.push_back(nodes[i]);
      rest_rows.push_back(rows[i]);
    }
  }
  const tableint entry = g.enterpoint_node_;
  const int max_level = g.maxlevel_;

  // 1. Each node searches the graph as it was before the sub-batch (no list is written but
  //    the node's own, which no walk reaches yet) and writes its own lists.
  RETURN_IF_ERROR(ParallelFor(rest.size(), threads, [&](size_t i, size_t) {
    SelectNeighbors(rest[i], rest_rows[i], entry, max_level);
  }));

  // 2. The reverse links, grouped by (layer, target), each group in batch order. The new
  //    nodes' own layer-0 links count for their targets' live_in here, before any merge.
  struct ReverseLink {
    int level;
    tableint target;
    uint32_t source;  // index into rest: batch order
  };
  std::vector<ReverseLink> reverse;
  reverse.reserve(rest.size() * (g.maxM0_ + g.maxM_));
  for (uint32_t i = 0; i < rest.size(); ++i) {
    const tableint c = rest[i];
    for (int lv = 0; lv <= g.element_levels_[c]; ++lv) {
      const unsigned int* list = g.get_linklist_at_level(c, lv);
      const size_t count = g.getListCount(const_cast<unsigned int*>(list));
      const tableint* links = reinterpret_cast<const tableint*>(list + 1);
      for (size_t k = 0; k < count; ++k) {
        reverse.push_back({lv, links[k], i});
        if (lv == 0) ++live_in[links[k]];
      }
    }
  }
  std::sort(reverse.begin(), reverse.end(), [](const ReverseLink& a, const ReverseLink& b) {
    return std::tie(a.level, a.target, a.source) < std::tie(b.level, b.target, b.source);
  });
  std::vector<tableint> sources(reverse.size());
  std::vector<size_t> group_starts;
  for (size_t k = 0; k < reverse.size(); ++k) {
    sources[k] = rest[reverse[k].source];
    if (k == 0 || reverse[k].level != reverse[k - 1].level ||
        reverse[k].target != reverse[k - 1].target) {
      group_starts.push_back(k);
    }
  }
  group_starts.push_back(reverse.size());

  // 3. Per target, in parallel: merge its group into its list and prune (AddReverseLinks).
  //    A merge writes its target's list only; live_in only rises for new nodes and only falls
  //    for old ones, so a count reaching zero is final whatever the order of the merges.
  struct PerWorker {
    std::vector<tableint> orphans;
    size_t changes = 0;
  };
  std::vector<PerWorker> per_worker(std::max<size_t>(1, threads));
  RETURN_IF_ERROR(ParallelFor(group_starts.size() - 1, threads, [&](size_t i, size_t worker) {
    const size_t begin = group_starts[i], end = group_starts[i + 1];
    AddReverseLinks(reverse[begin].target, reverse[begin].level,
                    std::span<const tableint>(sources).subspan(begin, end - begin),
                    &per_worker[worker].orphans, &per_worker[worker].changes);
  }));
  // Which worker saw a node lose its last link is timing; the set of such nodes is not. In id
  // order, so that Repair re-links them in an order that does not depend on the threads.
  std::vector<tableint> lost;
  for (PerWorker& p : per_worker) {
    lost.insert(lost.end(), p.orphans.begin(), p.orphans.end());
    changes_since_check += p.changes;
  }
  std::sort(lost.begin(), lost.end());
  orphans->insert(orphans->end(), lost.begin(), lost.end());
  return absl::OkStatus();
}

void HnswIndex::Impl::SelectNeighbors(tableint c, const float* row, tableint entry, int max_level) {
  Graph& g = *graph;
  const int level = g.element_levels_[c];
  const RowDistance dist(*this, row);
  tableint current = Descend(dist, entry, max_level, level);
  for (int lv = level; lv >= 0; --lv) {
    Candidates candidates = SearchLayer(dist, current, lv);
    // The entry point is live and on every layer: a walk that met only removed nodes still
    // has a neighbour to give.
    if (candidates.empty()) candidates.emplace(dist(entry), entry);
    g.getNeighborsByHeuristic2(candidates, g.M_);
    // As hnswlib's lists: farthest first; the closest (last) starts the next layer's search.
    unsigned int* own = g.get_linklist_at_level(c, lv);
    tableint* links = reinterpret_cast<tableint*>(own + 1);
    size_t count = 0;
    while (!candidates.empty()) {
      links[count++] = candidates.top().second;
      candidates.pop();
    }
    g.setListCount(own, static_cast<unsigned short>(count));
    current = links[count - 1];
  }
}

}  // namespace ragd::index
