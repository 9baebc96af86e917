#include "services/api/points_service.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cluster/router.h"
#include "cluster/writer.h"
#include "common/status.h"
#include "services/api/cluster_search.h"
#include "services/api/convert.h"
#include "services/api/handler_util.h"
#include "services/api/search_batch_run.h"
#include "services/api/shard_transport.h"

namespace ragd::services {
namespace {

absl::Status CheckIds(const google::protobuf::RepeatedPtrField<std::string>& ids,
                      absl::string_view field) {
  if (ids.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": no ids"));
  for (int i = 0; i < ids.size(); ++i) {
    if (ids[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat(field, "[", i, "]: empty id"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckUpsert(const v1::UpsertRequest& request) {
  RETURN_IF_ERROR(ValidateCollectionName("collection", request.collection()));
  if (request.points().empty()) return absl::InvalidArgumentError("points: empty batch");
  return absl::OkStatus();
}

absl::Status CheckDelete(const v1::DeleteRequest& request) {
  RETURN_IF_ERROR(ValidateCollectionName("collection", request.collection()));
  switch (request.selector_case()) {
    case v1::DeleteRequest::kIds:
      return CheckIds(request.ids().ids(), "ids");
    case v1::DeleteRequest::kFilter:
      return absl::OkStatus();
    case v1::DeleteRequest::SELECTOR_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("selector: set ids or filter");
}

absl::Status CheckSearch(const v1::SearchRequest& request) {
  RETURN_IF_ERROR(ValidateCollectionName("collection", request.collection()));
  if (request.vector().empty() && request.text().empty()) {
    return absl::InvalidArgumentError("vector: empty query (and no text)");
  }
  if (request.k() < 1) return absl::InvalidArgumentError("k: must be at least 1");
  return absl::OkStatus();
}

// One search, from the request to the response: Search's body and each of SearchBatch's.
absl::Status RunSearch(index::Engine* engine, const v1::SearchRequest& request,
                       v1::SearchResponse* response) {
  ASSIGN_OR_RETURN(index::SearchRequest search, FromProto(request));
  ASSIGN_OR_RETURN(index::SearchResult result, engine->Search(search));
  ToProto(std::move(result), response);
  return absl::OkStatus();
}

void SetCoverage(const cluster::ShardCoverage& c, v1::ShardCoverage* out) {
  out->set_shards_total(c.shards_total);
  out->set_shards_answered(c.shards_answered);
  out->mutable_missing_shards()->Assign(c.missing_shards.begin(), c.missing_shards.end());
}


}  // namespace

grpc::ServerUnaryReactor* PointsService::Upsert(grpc::CallbackServerContext* context,
                                                const v1::UpsertRequest* request,
                                                v1::UpsertResponse* response) {
  if (absl::Status s = Admit(context, authorizer_, Method::kUpsert, request->collection()); !s.ok())
    return FinishNow(context, s);
  absl::StatusOr<index::Engine*> engine = engine_->Get();
  if (!engine.ok()) return FinishNow(context, engine.status());
  if (absl::Status s = CheckUpsert(*request); !s.ok()) return FinishNow(context, s);
  cluster::Writer* writer = cluster_ != nullptr ? cluster_->Get() : nullptr;
  return FinishOnExecutor(
      context, executor_, [engine = *engine, writer, context, request, response] {
        // The points are moved out of the request: it is not read again before Finish().
        auto* mutable_points = const_cast<v1::UpsertRequest*>(request)->mutable_points();
        ASSIGN_OR_RETURN(std::vector<index::Point> points, FromProto(mutable_points));
        index::WriteResult result;
        if (writer != nullptr) {
          ASSIGN_OR_RETURN(result, writer->Write(request->collection(), std::move(points), {}, {},
                                                 RequestIdOf(*context), WriteDeadlineOf(*context)));
        } else {
          ASSIGN_OR_RETURN(result, engine->Upsert(request->collection(), std::move(points)));
        }
        response->set_sequence(result.sequence);
        response->set_upserted(result.applied);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PointsService::Get(grpc::CallbackServerContext* context,
                                             const v1::GetRequest* request,
                                             v1::GetResponse* response) {
  if (absl::Status s = Admit(context, authorizer_, Method::kGet, request->collection()); !s.ok())
    return FinishNow(context, s);
  cluster::Router* router = cluster_ != nullptr ? cluster_->router() : nullptr;
  auto run = [engine_handle = engine_, cluster = cluster_, router, context, request,
              response]() -> absl::Status {
    ASSIGN_OR_RETURN(index::Engine * engine, engine_handle->Get());
    RETURN_IF_ERROR(ValidateCollectionName("collection", request->collection()));
    RETURN_IF_ERROR(CheckIds(request->ids(), "ids"));
    ASSIGN_OR_RETURN(uint64_t applied,
                     AwaitReadConsistency(cluster, *engine, request->collection(),
                                          request->consistency(), request->consistency_token(),
                                          *context));
    std::vector<std::string> ids(request->ids().begin(), request->ids().end());
    std::vector<index::Point> points;
    if (router != nullptr) {
      ASSIGN_OR_RETURN(auto routed,
                       router->Get(request->collection(), ids, request->with_vectors(),
                                   RoutedMinSequence(request->consistency(), applied),
                                   request->allow_partial(), ReadDeadlineOf(*context)));
      points = std::move(routed.value);
      SetCoverage(routed.coverage, response->mutable_coverage());
    } else {
      ASSIGN_OR_RETURN(points, engine->Get(request->collection(), ids, request->with_vectors()));
    }
    response->mutable_points()->Reserve(static_cast<int>(points.size()));
    for (index::Point& p : points) ToProto(std::move(p), response->add_points());
    response->set_applied_sequence(applied);
    return absl::OkStatus();
  };
  // A routed read waits for other pods, a consistency wait for the log: neither may hold one
  // of gRPC's few callback threads.
  if (ReadMayWait(cluster_, request->consistency())) {
    return FinishOnExecutor(context, search_executor_, std::move(run), "searches");
  }
  return FinishNow(context, run());
}

grpc::ServerUnaryReactor* PointsService::Delete(grpc::CallbackServerContext* context,
                                                const v1::DeleteRequest* request,
                                                v1::DeleteResponse* response) {
  if (absl::Status s = Admit(context, authorizer_, Method::kDelete, request->collection()); !s.ok())
    return FinishNow(context, s);
  absl::StatusOr<index::Engine*> engine = engine_->Get();
  if (!engine.ok()) return FinishNow(context, engine.status());
  if (absl::Status s = CheckDelete(*request); !s.ok()) return FinishNow(context, s);
  cluster::Writer* writer = cluster_ != nullptr ? cluster_->Get() : nullptr;
  return FinishOnExecutor(
      context, executor_, [engine = *engine, writer, context, request, response] {
        index::WriteResult result;
        if (writer != nullptr && request->has_filter()) {
          // Resolved to ids on this pod at one point of the log (Writer::DeleteByFilter).
          ASSIGN_OR_RETURN(index::Filter filter, FromProto(request->filter(), "filter"));
          ASSIGN_OR_RETURN(result, writer->DeleteByFilter(request->collection(), filter,
                                                          RequestIdOf(*context),
                                                          WriteDeadlineOf(*context)));
        } else if (writer != nullptr) {
          std::vector<std::string> ids(request->ids().ids().begin(), request->ids().ids().end());
          ASSIGN_OR_RETURN(result, writer->Write(request->collection(), {}, std::move(ids), {},
                                                 RequestIdOf(*context), WriteDeadlineOf(*context)));
        } else if (request->has_filter()) {
          ASSIGN_OR_RETURN(index::Filter filter, FromProto(request->filter(), "filter"));
          ASSIGN_OR_RETURN(result, engine->DeleteByFilter(request->collection(), filter));
        } else {
          std::vector<std::string> ids(request->ids().ids().begin(), request->ids().ids().end());
          ASSIGN_OR_RETURN(result, engine->Delete(request->collection(), ids));
        }
        response->set_sequence(result.sequence);
        response->set_deleted(result.applied);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* PointsService::Search(grpc::CallbackServerContext* context,
                                                const v1::SearchRequest* request,
                                                v1::SearchResponse* response) {
  if (absl::Status s = Admit(context, authorizer_, Method::kSearch, request->collection()); !s.ok())
    return FinishNow(context, s);
  absl::StatusOr<index::Engine*> engine = engine_->Get();
  if (!engine.ok()) return FinishNow(context, engine.status());
  if (absl::Status s = CheckSearch(*request); !s.ok()) return FinishNow(context, s);
  cluster::Router* router = cluster_ != nullptr ? cluster_->router() : nullptr;
  auto run = [engine = *engine, cluster = cluster_, context, request, response] {
    ASSIGN_OR_RETURN(uint64_t applied,
                     AwaitReadConsistency(cluster, *engine, request->collection(),
                                          request->consistency(), request->consistency_token(),
                                          *context));
    RETURN_IF_ERROR(RunSearch(engine, *request, response));
    response->set_applied_sequence(applied);
    return absl::OkStatus();
  };
  // Sharded cluster: its consistency wait, then fanned out over the groups (cluster_search.h).
  auto routed = [engine = *engine, cluster = cluster_, context, request, response] {
    return RunClusterSearch(cluster, engine, *request, *context, response);
  };
  if (router != nullptr) {
    return FinishOnExecutor(context, search_executor_, std::move(routed), "searches");
  }
  // A routed read waits for other pods, a consistency wait for the log: neither may hold one
  // of gRPC's few callback threads.
  if (ReadMayWait(cluster_, request->consistency())) {
    return FinishOnExecutor(context, search_executor_, std::move(run), "searches");
  }
  return FinishInlineOrOnExecutor(context, search_executor_, std::move(run), "searches");
}

grpc::ServerUnaryReactor* PointsService::SearchBatch(grpc::CallbackServerContext* context,
                                                     const v1::SearchBatchRequest* request,
                                                     v1::SearchBatchResponse* response) {
  if (absl::Status s = Admit(context, authorizer_, Method::kSearchBatch, request->collection());
      !s.ok())
    return FinishNow(context, s);
  absl::StatusOr<index::Engine*> engine = engine_->Get();
  if (!engine.ok()) return FinishNow(context, engine.status());
  const int n = request->searches_size();
  if (n > max_search_batch_) {
    return FinishNow(context, absl::InvalidArgumentError(absl::StrCat(
                                  "searches: ", n, " searches, more than server.max_search_batch (",
                                  max_search_batch_, "); split the batch")));
  }
  if (n == 0) return FinishNow(context, absl::OkStatus());
  // The shape of every search is checked before any runs, so that a malformed one fails the call
  // at once. Each search's empty collection becomes the batch's in place (the request is not
  // read by anyone else; a copy would duplicate every query vector).
  auto* searches = const_cast<v1::SearchBatchRequest*>(request)->mutable_searches();
  for (int i = 0; i < n; ++i) {
    v1::SearchRequest& search = (*searches)[i];
    if (search.collection().empty()) {
      search.set_collection(request->collection());
    } else if (search.collection() != request->collection()) {
      return FinishNow(context, InBatch(i, absl::InvalidArgumentError(absl::StrCat(
                                               "collection: '", search.collection(),
                                               "' is not the batch's '", request->collection(),
                                               "' (leave it empty)"))));
    }
    if (absl::Status s = CheckSearch(search); !s.ok()) return FinishNow(context, InBatch(i, s));
  }
  // Every result slot exists before the participants start: each writes only its own.
  response->mutable_results()->Reserve(n);
  for (int i = 0; i < n; ++i) response->add_results();
  // Cluster mode: each search with its consistency and, with shard groups, fanned out over
  // them (cluster_search.h); the local engine alone would miss other groups' shards.
  if (ClusterMode(cluster_)) {
    return RunClusterSearchBatch(context, search_executor_, cluster_, *engine, request, response);
  }

  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // One search runs like Search (inline when a worker's share of the cores is idle). A larger
  // batch goes to up to one participant per search worker; the gRPC thread only hands it over,
  // staying free to admit other calls (the wake-ups cost tens of microseconds against a batch
  // of searches of about a millisecond each).
  if (n == 1 &&
      search_executor_->TryRunInline([&] {
        absl::Status s = RunSearch(*engine, request->searches(0), response->mutable_results(0));
        reactor->Finish(ToGrpcStatus(s.ok() ? s : InBatch(0, s)));
      })) {
    return reactor;
  }
  RunSearchBatch(context, reactor, search_executor_, n,
                 [engine = *engine, request, response](int i) {
                   return RunSearch(engine, request->searches(i), response->mutable_results(i));
                 });
  return reactor;
}

grpc::ServerUnaryReactor* PointsService::Count(grpc::CallbackServerContext* context,
                                               const v1::CountRequest* request,
                                               v1::CountResponse* response) {
  if (absl::Status s = Admit(context, authorizer_, Method::kCount, request->collection()); !s.ok())
    return FinishNow(context, s);
  cluster::Router* router = cluster_ != nullptr ? cluster_->router() : nullptr;
  auto run = [engine_handle = engine_, cluster = cluster_, router, context, request,
              response]() -> absl::Status {
    ASSIGN_OR_RETURN(index::Engine * engine, engine_handle->Get());
    RETURN_IF_ERROR(ValidateCollectionName("collection", request->collection()));
    std::optional<index::Filter> filter;
    if (request->has_filter()) {
      ASSIGN_OR_RETURN(filter, FromProto(request->filter(), "filter"));
    }
    ASSIGN_OR_RETURN(uint64_t applied,
                     AwaitReadConsistency(cluster, *engine, request->collection(),
                                          request->consistency(), request->consistency_token(),
                                          *context));
    if (router != nullptr) {
      ASSIGN_OR_RETURN(auto routed,
                       router->Count(request->collection(), filter,
                                     RoutedMinSequence(request->consistency(), applied),
                                     request->allow_partial(), ReadDeadlineOf(*context)));
      response->set_count(routed.value);
      SetCoverage(routed.coverage, response->mutable_coverage());
      response->set_applied_sequence(applied);
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(uint64_t count, engine->Count(request->collection(), filter));
    response->set_count(count);
    response->set_applied_sequence(applied);
    return absl::OkStatus();
  };
  // A routed read waits for other pods, a consistency wait for the log: neither may hold one
  // of gRPC's few callback threads.
  if (ReadMayWait(cluster_, request->consistency())) {
    return FinishOnExecutor(context, search_executor_, std::move(run), "searches");
  }
  return FinishNow(context, run());
}

}  // namespace ragd::services
