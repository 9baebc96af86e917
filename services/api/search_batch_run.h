#pragma once
// How Points.SearchBatch spreads its searches over the search workers, in single-node mode
// (points_service.cc, each search on the local engine) and in cluster mode (cluster_search.cc,
// each search with its own read consistency and, with shard groups, routed): the same scheme
// over a different search.
//
// Up to `participants` tasks each claim the next unclaimed search until none is left (so a slow
// search never leaves a worker idle while another has a backlog), and the last participant to
// leave finishes the call. Claims are in index order, so once a search fails nobody starts a
// later one, and every earlier one has been claimed and runs to its end: the error reported,
// the lowest failing index, is the same on every run. All or nothing: that search's code, the
// message prefixed by "searches[i]: "; RESOURCE_EXHAUSTED when no worker took the batch.

#include <grpcpp/grpcpp.h>

#include <functional>

#include "absl/status/status.h"
#include "common/concurrency/bounded_executor.h"

namespace ragd::services {

// `status` of search `index` of a batch, as the batch's error: "searches[i]: message".
absl::Status InBatch(int index, const absl::Status& status);

// Runs search i with run_one(i) for i in [0, searches), each on a worker of `executor`, then
// finishes `reactor` (the call's: context->DefaultReactor(), obtained once per call since it
// constructs the reactor in place). run_one must write only search i's result and be safe to
// call from several workers at once; it is not called once `context` is cancelled (the search
// then fails CANCELLED). `searches` >= 1.
void RunSearchBatch(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
                    concurrency::BoundedExecutor* executor, int searches,
                    std::function<absl::Status(int)> run_one);

}  // namespace ragd::services
