#include "services/api/points_service.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cluster/writer.h"
#include "common/status.h"
#include "services/api/convert.h"
#include "services/api/handler_util.h"

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
  auto run = [engine_handle = engine_, cluster = cluster_, context, request,
              response]() -> absl::Status {
    ASSIGN_OR_RETURN(index::Engine * engine, engine_handle->Get());
    RETURN_IF_ERROR(ValidateCollectionName("collection", request->collection()));
    RETURN_IF_ERROR(CheckIds(request->ids(), "ids"));
    ASSIGN_OR_RETURN(uint64_t applied,
                     AwaitReadConsistency(cluster, *engine, request->collection(),
                                          request->consistency(), request->consistency_token(),
                                          *context));
    std::vector<std::string> ids(request->ids().begin(), request->ids().end());
    ASSIGN_OR_RETURN(std::vector<index::Point> points,
                     engine->Get(request->collection(), ids, request->with_vectors()));
    response->mutable_points()->Reserve(static_cast<int>(points.size()));
    for (index::Point& p : points) ToProto(std::move(p), response->add_points());
    response->set_applied_sequence(applied);
    return absl::OkStatus();
  };
  // A consistency wait must not hold one of gRPC's few callback threads.
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
  auto run = [engine = *engine, cluster = cluster_, context, request, response] {
    ASSIGN_OR_RETURN(index::SearchRequest search, FromProto(*request));
    ASSIGN_OR_RETURN(uint64_t applied,
                     AwaitReadConsistency(cluster, *engine, request->collection(),
                                          request->consistency(), request->consistency_token(),
                                          *context));
    ASSIGN_OR_RETURN(index::SearchResult result, engine->Search(search));
    response->mutable_hits()->Reserve(static_cast<int>(result.hits.size()));
    for (index::ScoredPoint& hit : result.hits) {
      v1::ScoredPoint* out = response->add_hits();
      out->set_score(hit.score);
      if (hit.vector_leg) ToProto(*hit.vector_leg, out->mutable_vector_leg());
      if (hit.text_leg) ToProto(*hit.text_leg, out->mutable_text_leg());
      ToProto(std::move(hit.point), out->mutable_point());
    }
    response->set_applied_sequence(applied);
    return absl::OkStatus();
  };
  // A consistency wait must not hold one of gRPC's few callback threads.
  if (ReadMayWait(cluster_, request->consistency())) {
    return FinishOnExecutor(context, search_executor_, std::move(run), "searches");
  }
  return FinishInlineOrOnExecutor(context, search_executor_, std::move(run), "searches");
}

grpc::ServerUnaryReactor* PointsService::Count(grpc::CallbackServerContext* context,
                                               const v1::CountRequest* request,
                                               v1::CountResponse* response) {
  if (absl::Status s = Admit(context, authorizer_, Method::kCount, request->collection()); !s.ok())
    return FinishNow(context, s);
  auto run = [engine_handle = engine_, cluster = cluster_, context, request,
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
    ASSIGN_OR_RETURN(uint64_t count, engine->Count(request->collection(), filter));
    response->set_count(count);
    response->set_applied_sequence(applied);
    return absl::OkStatus();
  };
  if (ReadMayWait(cluster_, request->consistency())) {
    return FinishOnExecutor(context, search_executor_, std::move(run), "searches");
  }
  return FinishNow(context, run());
}

}  // namespace ragd::services
