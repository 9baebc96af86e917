#pragma once
// ClusterWrites: how the gRPC handlers reach cluster mode's write path (cluster::Writer) and
// its read consistency (cluster::Monitor). Unset (single-node mode, the default, and before
// recovery in cluster mode) the handlers write to the local engine exactly as before. Set,
// writes go through the replicated log and answer with the stream sequence as the consistency
// token (`sequence` in the responses), and reads wait as their ReadConsistency asks
// (AwaitReadConsistency).
//
// The same holder carries the read path of a sharded cluster (cluster::Router, set only when
// cluster.shard_groups > 1): Points.Search, Count and Get then fan out over the shard groups
// (cluster/router.h); unset, they read the local engine, which holds every shard. And the
// Monitor (cluster/monitor.h) behind read consistency and readiness.
//
// Thread safety: all methods may be called concurrently; nothing is owned.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rag/ingestors.h"

namespace ragd::cluster {
class Router;
class Writer;
class Monitor;
}  // namespace ragd::cluster
namespace ragd::index {
class Engine;
}  // namespace ragd::index

namespace ragd::services {

class ClusterWrites {
 public:
  cluster::Writer* Get() const { return writer_.load(std::memory_order_acquire); }
  void Set(cluster::Writer* writer) { writer_.store(writer, std::memory_order_release); }
  cluster::Router* router() const { return router_.load(std::memory_order_acquire); }
  void SetRouter(cluster::Router* router) { router_.store(router, std::memory_order_release); }
  cluster::Monitor* monitor() const { return monitor_.load(std::memory_order_acquire); }
  void SetMonitor(cluster::Monitor* m) { monitor_.store(m, std::memory_order_release); }
  // Shards of a collection created without `shards` in cluster mode (cluster.default_shards,
  // resolved: never 0). Set once before serving.
  uint32_t default_shards() const { return default_shards_.load(std::memory_order_relaxed); }
  void SetDefaultShards(uint32_t n) { default_shards_.store(n, std::memory_order_relaxed); }

 private:
  std::atomic<cluster::Writer*> writer_{nullptr};
  std::atomic<cluster::Router*> router_{nullptr};
  std::atomic<cluster::Monitor*> monitor_{nullptr};
  std::atomic<uint32_t> default_shards_{1};
};

// True when `cluster` is set and has a writer (null: single-node mode).
inline bool ClusterMode(const ClusterWrites* cluster) {
  return cluster != nullptr && cluster->Get() != nullptr;
}

// The client's request id (metadata "x-request-id", 1..128 bytes; a retry that sends the same
// id is applied once), or "" (a new id per call).
std::string RequestIdOf(const grpc::ServerContextBase& context);

// The call's deadline for a write through the log: the client's, at most now + `cap`.
absl::Time WriteDeadlineOf(const grpc::ServerContextBase& context,
                           absl::Duration cap = absl::Seconds(30));

// The call's deadline for a read: the client's, at most now + `cap`.
absl::Time ReadDeadlineOf(const grpc::ServerContextBase& context,
                          absl::Duration cap = absl::Seconds(30));
// A read's consistency wait (README "Cluster mode"). In cluster mode waits as `level` asks
// (cluster::Monitor::AwaitRead), at most until the call's deadline (capped at 30 s), and
// returns the collection's applied sequence; in single-node mode every level is satisfied at
// once (a write is applied before it is acknowledged) and the result is the collection's last
// sequence (0 for an unknown collection: the read itself answers NOT_FOUND).
// INVALID_ARGUMENT (an unknown level), DEADLINE_EXCEEDED, UNAVAILABLE, CANCELLED.
absl::StatusOr<uint64_t> AwaitReadConsistency(const ClusterWrites* cluster,
                                              const index::Engine& engine,
                                              const std::string& collection, int level,
                                              uint64_t token,
                                              const grpc::ServerContextBase& context);

// The sequence a routed read (cluster.shard_groups > 1) asks every shard group's replica to
// have applied: what this pod applied before reading (its consistency wait made that enough),
// or nothing for EVENTUAL.
uint64_t RoutedMinSequence(int level, uint64_t applied);

// True when the read may have to wait (cluster mode, not EVENTUAL): the handler then moves it
// off gRPC's callback threads.
bool ReadMayWait(const ClusterWrites* cluster, int level);

// `options` with the Ingestors' writes routed through `cluster` (null: `options` unchanged):
// before each document the pod catches up with the collection's log head (STRONG, so the
// chunks a new version replaces are known), the document's chunks are one log entry (all or
// nothing, as in single-node mode), and a document's removal is Writer::DeleteByFilter. Each
// waits at most 30 s; the pod that ingests answers once it has applied the entry.
rag::IngestorCacheOptions WithClusterIngestHooks(rag::IngestorCacheOptions options,
                                                 const ClusterWrites* cluster);

// UNIMPLEMENTED naming what cluster mode does not carry yet.
absl::Status NotInClusterMode(const char* what);

}  // namespace ragd::services
