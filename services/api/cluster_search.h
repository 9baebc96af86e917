#pragma once
// Points.Search and Points.SearchBatch in cluster mode (README "Cluster mode"): one search
// waits for its own read consistency on this pod, then, with shard groups (cluster.shard_groups
// > 1), fans out over every group through the Router (cluster/router.h) with what this pod
// applied as every group's minimum sequence (so SESSION and STRONG hold across groups), or
// reads the local engine, which holds every shard, with one group. Points.Search calls
// RunClusterSearch when this pod routes (shard groups); SearchBatch calls RunClusterSearchBatch
// in cluster mode. Kept apart from points_service.cc, whose fast paths are single-node's; both
// batches spread their searches with RunSearchBatch (search_batch_run.h).

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "common/concurrency/bounded_executor.h"
#include "index/engine/engine.h"
#include "ragd/v1/points.pb.h"
#include "services/api/cluster_writes.h"

namespace ragd::services {

// One search, as Points.Search answers it in cluster mode (hits, coverage with shard groups,
// applied_sequence). `cluster` must be set (ClusterMode). Errors as Search's.
absl::Status RunClusterSearch(const ClusterWrites* cluster, index::Engine* engine,
                              const v1::SearchRequest& request,
                              const grpc::ServerContextBase& context, v1::SearchResponse* response);

// Points.SearchBatch in cluster mode, once the batch's shape is checked and `response` holds
// one empty result per search: every search runs as RunClusterSearch (its own consistency,
// allow_partial and coverage), spread over up to one participant per worker of `executor`
// (a routed search mostly waits for other pods, so several run at once), results in order.
// All or nothing as in single-node mode: the lowest failing index fails the call with its
// code, the message prefixed by "searches[i]: "; RESOURCE_EXHAUSTED when no worker could take
// the batch. Nothing is owned; returns the call's reactor.
grpc::ServerUnaryReactor* RunClusterSearchBatch(grpc::CallbackServerContext* context,
                                                concurrency::BoundedExecutor* executor,
                                                const ClusterWrites* cluster, index::Engine* engine,
                                                const v1::SearchBatchRequest* request,
                                                v1::SearchBatchResponse* response);

}  // namespace ragd::services
