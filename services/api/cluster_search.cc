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
#include "services/api/shard_transport.h"

namespace ragd::services {
namespace {

void SetHits(index::SearchResult&& result, v1::SearchResponse* response) {
  response->mutable_hits()->Reserve(static_cast<int>(result.hits.size()));
  for (index::ScoredPoint& hit : result.hits) ToProto(std::move(hit), response->add_hits());
}

// The participants of one batch: each claims the next unclaimed search until none is left, and
// the last to leave finishes the call. Claims are in index order, so once a search fails no
// later one starts and every earlier one runs to its end: the error reported (the lowest
// failing index) is the same on every run. The same scheme as the single-node batch
// (points_service.cc), over a different search.
class ClusterBatchRun {
 public:
  ClusterBatchRun(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
                  const ClusterWrites* cluster, index::Engine* engine,
                  const v1::SearchBatchRequest* request, v1::SearchBatchResponse* response,
                  int participants)
      : context_(context),
        reactor_(reactor),
        cluster_(cluster),
        engine_(engine),
        request_(request),
        response_(response),
        statuses_(request->searches_size()),
        participants_(participants) {}

  void Participate() {
    const int n = request_->searches_size();
    for (int i = next_.fetch_add(1); i < n; i = next_.fetch_add(1)) {
      if (i > failed_at_.load(std::memory_order_relaxed)) break;
      statuses_[i] = context_->IsCancelled()
                         ? absl::CancelledError("cancelled")
                         : RunClusterSearch(cluster_, engine_, request_->searches(i), *context_,
                                            response_->mutable_results(i));
      if (!statuses_[i].ok()) {
        int seen = failed_at_.load(std::memory_order_relaxed);
        while (i < seen && !failed_at_.compare_exchange_weak(seen, i)) {
        }
      }
    }
    Leave();
  }

  // Also called for a participant whose task the executor refused.
  void Leave() {
    if (participants_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    const int failed = failed_at_.load();
    if (failed != INT_MAX) {
      const absl::Status& s = statuses_[failed];
      reactor_->Finish(ToGrpcStatus(
          absl::Status(s.code(), absl::StrCat("searches[", failed, "]: ", s.message()))));
    } else if (next_.load() == 0) {
      reactor_->Finish(
          ToGrpcStatus(absl::ResourceExhaustedError("too many searches queued; retry")));
    } else {
      reactor_->Finish(grpc::Status::OK);
    }
  }

 private:
  grpc::CallbackServerContext* const context_;
  grpc::ServerUnaryReactor* const reactor_;
  const ClusterWrites* const cluster_;
  index::Engine* const engine_;
  const v1::SearchBatchRequest* const request_;
  v1::SearchBatchResponse* const response_;
  // statuses_[i] is written by the participant that claimed i and read by the last to leave
  // (ordered by the acq_rel decrement).
  std::vector<absl::Status> statuses_;
  std::atomic<int> next_{0};
  std::atomic<int> failed_at_{INT_MAX};
  std::atomic<int> participants_;
};

}  // namespace

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
    SetHits(std::move(routed.value), response);
    v1::ShardCoverage* c = response->mutable_coverage();
    c->set_shards_total(routed.coverage.shards_total);
    c->set_shards_answered(routed.coverage.shards_answered);
    c->mutable_missing_shards()->Assign(routed.coverage.missing_shards.begin(),
                                        routed.coverage.missing_shards.end());
  } else {
    ASSIGN_OR_RETURN(index::SearchResult result, engine->Search(search));
    SetHits(std::move(result), response);
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
  const int participants = std::min(request->searches_size(), executor->threads());
  auto run = std::make_shared<ClusterBatchRun>(context, reactor, cluster, engine, request, response,
                                               participants);
  for (int p = 0; p < participants; ++p) {
    if (!executor->TrySubmit([run] { run->Participate(); })) run->Leave();
  }
  return reactor;
}

}  // namespace ragd::services
