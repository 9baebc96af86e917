#include "services/api/points_service.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cluster/router.h"
#include "cluster/writer.h"
#include "common/status.h"
#include "services/api/convert.h"
#include "services/api/handler_util.h"
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

void SetCoverage(const cluster::ShardCoverage& c, v1::ShardCoverage* out) {
  out->set_shards_total(c.shards_total);
  out->set_shards_answered(c.shards_answered);
  out->mutable_missing_shards()->Assign(c.missing_shards.begin(), c.missing_shards.end());
}

void SetHits(index::SearchResult&& result, v1::SearchResponse* response) {
  response->mutable_hits()->Reserve(static_cast<int>(result.hits.size()));
  for (index::ScoredPoint& hit : result.hits) ToProto(std::move(hit), response->add_hits());
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
  auto run = [this, router, context, request, response]() -> absl::Status {
    ASSIGN_OR_RETURN(index::Engine * engine, engine_->Get());
    RETURN_IF_ERROR(ValidateCollectionName("collection", request->collection()));
    RETURN_IF_ERROR(CheckIds(request->ids(), "ids"));
    std::vector<std::string> ids(request->ids().begin(), request->ids().end());
    std::vector<index::Point> points;
    if (router != nullptr) {
      ASSIGN_OR_RETURN(auto routed,
                       router->Get(request->collection(), ids, request->with_vectors(), 0,
                                   request->allow_partial(), ReadDeadlineOf(*context)));
      points = std::move(routed.value);
      SetCoverage(routed.coverage, response->mutable_coverage());
    } else {
      ASSIGN_OR_RETURN(points, engine->Get(request->collection(), ids, request->with_vectors()));
    }
    response->mutable_points()->Reserve(static_cast<int>(points.size()));
    for (index::Point& p : points) ToProto(std::move(p), response->add_points());
    return absl::OkStatus();
  };
  // Routed, the call waits for other pods: on the search executor, not on a gRPC thread.
  if (router != nullptr) return FinishOnExecutor(context, search_executor_, run, "searches");
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
  if (writer != nullptr && request->has_filter()) {
    return FinishNow(context, NotInClusterMode("Points.Delete by filter"));
  }
  return FinishOnExecutor(
      context, executor_, [engine = *engine, writer, context, request, response] {
        index::WriteResult result;
        if (writer != nullptr) {
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
  if (cluster::Router* router = cluster_ != nullptr ? cluster_->router() : nullptr) {
    // Sharded cluster: the fan-out waits for other pods, so it never runs inline on one of
    // gRPC's few callback threads.
    return FinishOnExecutor(
        context, search_executor_,
        [router, context, request, response] {
          ASSIGN_OR_RETURN(index::SearchRequest search, FromProto(*request));
          ASSIGN_OR_RETURN(auto routed, router->Search(search, 0, request->allow_partial(),
                                                       ReadDeadlineOf(*context)));
          SetHits(std::move(routed.value), response);
          SetCoverage(routed.coverage, response->mutable_coverage());
          return absl::OkStatus();
        },
        "searches");
  }
  return FinishInlineOrOnExecutor(
      context, search_executor_,
      [engine = *engine, request, response] {
        ASSIGN_OR_RETURN(index::SearchRequest search, FromProto(*request));
        ASSIGN_OR_RETURN(index::SearchResult result, engine->Search(search));
        SetHits(std::move(result), response);
        return absl::OkStatus();
      },
      "searches");
}

grpc::ServerUnaryReactor* PointsService::Count(grpc::CallbackServerContext* context,
                                               const v1::CountRequest* request,
                                               v1::CountResponse* response) {
  if (absl::Status s = Admit(context, authorizer_, Method::kCount, request->collection()); !s.ok())
    return FinishNow(context, s);
  cluster::Router* router = cluster_ != nullptr ? cluster_->router() : nullptr;
  auto run = [this, router, context, request, response]() -> absl::Status {
    ASSIGN_OR_RETURN(index::Engine * engine, engine_->Get());
    RETURN_IF_ERROR(ValidateCollectionName("collection", request->collection()));
    std::optional<index::Filter> filter;
    if (request->has_filter()) {
      ASSIGN_OR_RETURN(filter, FromProto(request->filter(), "filter"));
    }
    if (router != nullptr) {
      ASSIGN_OR_RETURN(auto routed, router->Count(request->collection(), filter, 0,
                                                  request->allow_partial(),
                                                  ReadDeadlineOf(*context)));
      response->set_count(routed.value);
      SetCoverage(routed.coverage, response->mutable_coverage());
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(uint64_t count, engine->Count(request->collection(), filter));
    response->set_count(count);
    return absl::OkStatus();
  };
  if (router != nullptr) return FinishOnExecutor(context, search_executor_, run, "searches");
  return FinishNow(context, run());
}

}  // namespace ragd::services
