#include "services/api/cluster_search.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cluster/router.h"
#include "common/status.h"
#include "services/api/convert.h"
#include "services/api/handler_util.h"
#include "services/api/search_batch_run.h"
#include "services/api/shard_transport.h"

namespace ragd::services {

absl::Status RunClusterSearch(const ClusterWrites* cluster, index::Engine* engine,
                              const v1::SearchRequest& request,
                              const grpc::ServerContextBase& context,
                              v1::SearchResponse* response) {
  ASSIGN_OR_RETURN(uint64_t applied, AwaitReadConsistency(cluster, *engine, request.collection(),
                                                          request.consistency(),
                                                          request.consistency_token(), context));
  ASSIGN_OR_RETURN(index::SearchRequest search, FromProto(request));
  if (cluster::Router* router = cluster->router(); router != nullptr) {
    // Every group's replica first applies what this pod has (EVENTUAL asks no wait of them).
    ASSIGN_OR_RETURN(auto routed,
                     router->Search(search, RoutedMinSequence(request.consistency(), applied),
                                    request.allow_partial(), ReadDeadlineOf(context)));
    ToProto(std::move(routed.value), response);
    v1::ShardCoverage* c = response->mutable_coverage();
    c->set_shards_total(routed.coverage.shards_total);
    c->set_shards_answered(routed.coverage.shards_answered);
    c->mutable_missing_shards()->Assign(routed.coverage.missing_shards.begin(),
                                        routed.coverage.missing_shards.end());
  } else {
    ASSIGN_OR_RETURN(index::SearchResult result, engine->Search(search));
    ToProto(std::move(result), response);
  }
  response->set_applied_sequence(applied);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* RunClusterSearchBatch(grpc::CallbackServerContext* context,
                                                concurrency::BoundedExecutor* executor,
                                                const ClusterWrites* cluster, index::Engine* engine,
                                                const v1::SearchBatchRequest* request,
                                                v1::SearchBatchResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // Never inline: a routed search or a consistency wait must not hold one of gRPC's few
  // callback threads.
  RunSearchBatch(context, reactor, executor, request->searches_size(),
                 [cluster, engine, context, request, response](int i) {
                   return RunClusterSearch(cluster, engine, request->searches(i), *context,
                                           response->mutable_results(i));
                 });
  return reactor;
}

}  // namespace ragd::services
