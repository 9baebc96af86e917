#pragma once
// Router: every pod of a sharded cluster (Placement::groups > 1) answers reads over all shard
// groups (README "Cluster mode", issue 14 "Read path"). For each group it asks one ready
// replica — itself when it belongs to the group, else the peer with the fewest calls in
// flight among those whose grpc.health.v1 Check says SERVING — for that group's shards, in
// parallel, and merges the answers exactly:
//   - kVector and kText: the union of the groups' top-k lists, ordered by (score desc, id asc)
//     as the engine orders its shards' lists, cut to k, leg ranks renumbered. Each group's
//     list holds its best k, so the merged k are the best k over all shards: the same result
//     as one engine holding every shard (filters and min_score apply per shard, as there).
//   - kHybrid: each leg is asked of every group separately (mode kVector with k = the vector
//     leg's candidate depth, kText with the text leg's), merged per leg to that depth as the
//     engine merges its shards' legs, then fused with the engine's formulas (RRF or weighted,
//     index::HybridOptions), cut to k, min_score applied to the fused score.
//   - Count: the sum over groups. Get: each id asked of the group owning its shard.
// A group none of whose replicas answers (no ready peer, or every one tried failed with
// UNAVAILABLE, or DEADLINE_EXCEEDED within its share of the time when another replica is left)
// makes the call UNAVAILABLE naming the group and its
// shards, unless the caller allows partial results: then the answer covers the groups that
// answered and Coverage says which shards are missing. Any other error of a group (e.g.
// INVALID_ARGUMENT, NOT_FOUND) is the call's error.
//
// Peers come from RouterOptions::peers: "host:port" entries and "dns:NAME:PORT" entries (every
// A/AAAA record of NAME, e.g. a headless Service), resolved and probed every probe_interval on
// a background thread (health, then the peer's pod id and group through ShardTransport::
// Probe). A pod finds itself in the list by its pod id and serves its own group locally.
//
// Thread safety: all methods may be called concurrently. The transport and the local shards
// are not owned and must outlive the Router.

#include <chrono>
#include <functional>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cluster/applier.h"
#include "cluster/placement.h"
#include "index/engine/engine.h"

namespace ragd::cluster {

// Which shards of a collection a routed call covers (ragd.v1.ShardCoverage).
struct ShardCoverage {
  uint32_t shards_total = 0;
  uint32_t shards_answered = 0;
  std::vector<uint32_t> missing_shards;  // ascending
};

// What a peer says about itself.
struct PeerInfo {
  bool serving = false;  // grpc.health.v1 Check of "" says SERVING
  std::string pod_id;
  uint32_t groups = 1;
  uint32_t group = 0;
};

// How a router reaches other pods (services/api implements it over gRPC: the private service
// ragd.cluster.v1.Shards). Each call is bounded by `deadline`. `shards` is the set of shards the
// call must cover: the callee's whole group. `min_applied_sequence` > 0 makes the callee wait
// (until the deadline) until it has applied the collection's log up to it (SESSION / STRONG
// reads). Errors as the callee's engine, plus UNAVAILABLE / DEADLINE_EXCEEDED from the network,
// FAILED_PRECONDITION when the callee does not hold `shards`.
class ShardTransport {
 public:
  virtual ~ShardTransport() = default;
  virtual absl::StatusOr<PeerInfo> Probe(const std::string& address, absl::Time deadline) = 0;
  virtual absl::StatusOr<index::SearchResult> Search(const std::string& address,
                                                     const index::SearchRequest& request,
                                                     const std::vector<uint32_t>& shards,
                                                     uint64_t min_applied_sequence,
                                                     absl::Time deadline) = 0;
  virtual absl::StatusOr<uint64_t> Count(const std::string& address, const std::string& collection,
                                         const std::optional<index::Filter>& filter,
                                         const std::vector<uint32_t>& shards,
                                         uint64_t min_applied_sequence, absl::Time deadline) = 0;
  virtual absl::StatusOr<std::vector<index::Point>> Get(
      const std::string& address, const std::string& collection,
      const std::vector<std::string>& ids, bool with_vectors, const std::vector<uint32_t>& shards,
      uint64_t min_applied_sequence, absl::Time deadline) = 0;
};

// This pod's own shards: the engine (which holds only this group's points, Applier's
// placement) behind the checks a per-shard call needs. Used by the Router for its own group
// and by the Shards service for calls of other pods. Thread-safe; nothing owned.
class LocalShards {
 public:
  // `applier` may be null (no waits: min_applied_sequence must then be 0).
  LocalShards(index::Engine* engine, const Applier* applier, Placement placement,
              std::string pod_id)
      : engine_(engine), applier_(applier), placement_(placement), pod_id_(std::move(pod_id)) {}

  const Placement& placement() const { return placement_; }
  const std::string& pod_id() const { return pod_id_; }
  index::Engine* engine() const { return engine_; }

  // Waits for min_applied_sequence (DEADLINE_EXCEEDED), checks that `shards` is exactly this
  // group's set for the collection (FAILED_PRECONDITION otherwise: the caller's view of the
  // placement differs), then runs the engine's call.
  absl::StatusOr<index::SearchResult> Search(const index::SearchRequest& request,
                                             const std::vector<uint32_t>& shards,
                                             uint64_t min_applied_sequence,
                                             absl::Time deadline) const;
  absl::StatusOr<uint64_t> Count(const std::string& collection,
                                 const std::optional<index::Filter>& filter,
                                 const std::vector<uint32_t>& shards,
                                 uint64_t min_applied_sequence, absl::Time deadline) const;
  // `ids` must all be routed to `shards` (INVALID_ARGUMENT otherwise).
  absl::StatusOr<std::vector<index::Point>> Get(const std::string& collection,
                                                const std::vector<std::string>& ids,
                                                bool with_vectors,
                                                const std::vector<uint32_t>& shards,
                                                uint64_t min_applied_sequence,
                                                absl::Time deadline) const;

 private:
  absl::Status Prepare(const std::string& collection, const std::vector<uint32_t>& shards,
                       uint64_t min_applied_sequence, absl::Time deadline) const;

  index::Engine* const engine_;
  const Applier* const applier_;
  const Placement placement_;
  const std::string pod_id_;
};

struct RouterOptions {
  // "host:port" or "dns:NAME:PORT" entries; may include this pod (recognised by its pod id).
  // Default: none (then only this pod's own group can answer).
  std::vector<std::string> peers;
  // How often peers are resolved and probed. Default: 1 s.
  std::chrono::milliseconds probe_interval = std::chrono::milliseconds(1000);
  // Bound of one probe. Default: 1 s.
  std::chrono::milliseconds probe_timeout = std::chrono::milliseconds(1000);
  // The engine's largest k (index::Engine::Options::max_k): bounds hybrid candidate depths as
  // the engine does. Default: 1,000.
  size_t max_k = 1000;
  // Called after each fan-out (Search, Count, Get) with its wall time in seconds, whatever its
  // outcome: ragd_cluster_router_fanout_seconds. Must be thread-safe. Default: none.
  std::function<void(double)> on_fanout;

  // INVALID_ARGUMENT naming the field (a malformed peer entry).
  absl::Status Validate() const;
};

// A peer as the router last saw it (for status and tests).
struct PeerStatus {
  std::string address;
  PeerInfo info;
  bool reachable = false;  // the last probe answered
  std::string error;       // the last probe's error, if any
  int in_flight = 0;
};

template <typename T>
struct Routed {
  T value;
  ShardCoverage coverage;
};

class Router {
 public:
  // Starts the probe thread. INVALID_ARGUMENT (options); nothing owned.
  static absl::StatusOr<std::unique_ptr<Router>> Start(RouterOptions options,
                                                       ShardTransport* transport,
                                                       const LocalShards* local);
  ~Router();  // Stop()s
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;
  // Stops and joins the probe thread. Idempotent.
  void Stop();

  // See the file comment. NOT_FOUND when this pod does not know the collection (the catalog
  // is replicated to every pod), the engine's INVALID_ARGUMENT / FAILED_PRECONDITION,
  // UNAVAILABLE naming a group without an answering replica (unless allow_partial).
  absl::StatusOr<Routed<index::SearchResult>> Search(const index::SearchRequest& request,
                                                     uint64_t min_applied_sequence,
                                                     bool allow_partial, absl::Time deadline);
  absl::StatusOr<Routed<uint64_t>> Count(const std::string& collection,
                                         const std::optional<index::Filter>& filter,
                                         uint64_t min_applied_sequence, bool allow_partial,
                                         absl::Time deadline);
  // Points by id in the order asked; ids not found (or, with allow_partial, held by a missing
  // group) are omitted.
  absl::StatusOr<Routed<std::vector<index::Point>>> Get(const std::string& collection,
                                                        const std::vector<std::string>& ids,
                                                        bool with_vectors,
                                                        uint64_t min_applied_sequence,
                                                        bool allow_partial, absl::Time deadline);

  std::vector<PeerStatus> peers() const;

  class Impl;

 private:
  explicit Router(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ragd::cluster
