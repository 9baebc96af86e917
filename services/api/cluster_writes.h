#pragma once
// ClusterWrites: how the gRPC handlers reach cluster mode's write path (cluster::Writer).
// Unset (single-node mode, the default, and before recovery in cluster mode) the handlers
// write to the local engine exactly as before. Set, Upsert, Delete by ids and collection
// create/delete go through the replicated log and answer with the stream sequence as the
// consistency token (`sequence` in the responses); writes the log does not carry yet (delete
// by filter, document ingestion) answer UNIMPLEMENTED instead of writing to one pod only.
//
// The same holder carries the read path of a sharded cluster (cluster::Router, set only when
// cluster.shard_groups > 1): Points.Search, Count and Get then fan out over the shard groups
// (cluster/router.h); unset, they read the local engine, which holds every shard.
//
// Thread safety: Get(), Set(), router() and SetRouter() may be called concurrently; nothing is
// owned.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace ragd::cluster {
class Router;
class Writer;
}  // namespace ragd::cluster

namespace ragd::services {

class ClusterWrites {
 public:
  cluster::Writer* Get() const { return writer_.load(std::memory_order_acquire); }
  void Set(cluster::Writer* writer) { writer_.store(writer, std::memory_order_release); }
  cluster::Router* router() const { return router_.load(std::memory_order_acquire); }
  void SetRouter(cluster::Router* router) { router_.store(router, std::memory_order_release); }

 private:
  std::atomic<cluster::Writer*> writer_{nullptr};
  std::atomic<cluster::Router*> router_{nullptr};
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

// UNIMPLEMENTED naming what cluster mode does not carry yet.
absl::Status NotInClusterMode(const char* what);

}  // namespace ragd::services
