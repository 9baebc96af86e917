#include "services/collections_service.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "services/convert.h"
#include "services/handler_util.h"

namespace ragd::services {
namespace {

absl::Status CheckCreate(const v1::CreateCollectionRequest& request) {
  RETURN_IF_ERROR(ValidateCollectionName("name", request.name()));
  if (request.dimension() < 1 || request.dimension() > 65536) {
    return absl::InvalidArgumentError(
        absl::StrCat("dimension: must be 1..65536, got ", request.dimension()));
  }
  if (request.shards() > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("shards: must be 1..256, got ", request.shards()));
  }
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* CollectionsService::CreateCollection(
    grpc::CallbackServerContext* context, const v1::CreateCollectionRequest* request,
    v1::CreateCollectionResponse* response) {
  absl::StatusOr<index::Engine*> engine = engine_->Get();
  if (!engine.ok()) return FinishNow(context, engine.status());
  if (absl::Status s = CheckCreate(*request); !s.ok()) return FinishNow(context, s);
  return FinishOnExecutor(context, executor_, [engine = *engine, request, response] {
    ASSIGN_OR_RETURN(index::CollectionSpec spec, FromProto(*request));
    RETURN_IF_ERROR(engine->CreateCollection(spec));
    ASSIGN_OR_RETURN(index::CollectionInfo info, engine->GetCollection(spec.name));
    ToProto(info, response->mutable_collection());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CollectionsService::GetCollection(
    grpc::CallbackServerContext* context, const v1::GetCollectionRequest* request,
    v1::GetCollectionResponse* response) {
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(index::Engine * engine, engine_->Get());
    RETURN_IF_ERROR(ValidateCollectionName("name", request->name()));
    ASSIGN_OR_RETURN(index::CollectionInfo info, engine->GetCollection(request->name()));
    ToProto(info, response->mutable_collection());
    return absl::OkStatus();
  };
  return FinishNow(context, run());
}

grpc::ServerUnaryReactor* CollectionsService::ListCollections(
    grpc::CallbackServerContext* context, const v1::ListCollectionsRequest* request,
    v1::ListCollectionsResponse* response) {
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(index::Engine * engine, engine_->Get());
    std::vector<index::CollectionInfo> infos = engine->ListCollections();
    std::sort(infos.begin(), infos.end(),
              [](const auto& a, const auto& b) { return a.spec.name < b.spec.name; });
    for (const index::CollectionInfo& info : infos) ToProto(info, response->add_collections());
    return absl::OkStatus();
  };
  return FinishNow(context, run());
}

grpc::ServerUnaryReactor* CollectionsService::DeleteCollection(
    grpc::CallbackServerContext* context, const v1::DeleteCollectionRequest* request,
    v1::DeleteCollectionResponse* response) {
  absl::StatusOr<index::Engine*> engine = engine_->Get();
  if (!engine.ok()) return FinishNow(context, engine.status());
  if (absl::Status s = ValidateCollectionName("name", request->name()); !s.ok()) {
    return FinishNow(context, s);
  }
  return FinishOnExecutor(context, executor_, [engine = *engine, request] {
    return engine->DeleteCollection(request->name());
  });
}

}  // namespace ragd::services
