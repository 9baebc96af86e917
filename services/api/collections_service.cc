#include "services/api/collections_service.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cluster/writer.h"
#include "common/status.h"
#include "services/api/convert.h"
#include "services/api/handler_util.h"

namespace ragd::services {
namespace {

absl::Status CheckCreate(const v1::CreateCollectionRequest& request) {
  RETURN_IF_ERROR(ValidateCollectionName("name", request.name()));
  const bool bound = !request.embedder().name().empty();
  if (request.has_chunking() && !bound) {
    return absl::InvalidArgumentError("chunking: only for a collection with an embedder");
  }
  // With an embedder, 0 means "the embedder's dimension".
  if ((request.dimension() < 1 && !bound) || request.dimension() > 65536) {
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
  if (absl::Status s = Admit(context, authorizer_, Method::kCreateCollection, request->name());
      !s.ok())
    return FinishNow(context, s);
  absl::StatusOr<index::Engine*> engine = engine_->Get();
  if (!engine.ok()) return FinishNow(context, engine.status());
  if (absl::Status s = CheckCreate(*request); !s.ok()) return FinishNow(context, s);
  cluster::Writer* writer = cluster_ != nullptr ? cluster_->Get() : nullptr;
  return FinishOnExecutor(
      context, executor_, [this, engine = *engine, writer, context, request, response] {
        ASSIGN_OR_RETURN(index::CollectionSpec spec, FromProto(*request));
        // Cluster mode's default shard count (cluster.default_shards): one shard per group
        // unless configured, so that every group holds part of the collection.
        if (writer != nullptr && request->shards() == 0) spec.shards = cluster_->default_shards();
        if (!request->embedder().name().empty()) {
          rag::BindRequest bind;
          bind.embedder = request->embedder().name();
          bind.dimension = request->dimension();
          bind.max_tokens = static_cast<int>(request->chunking().max_tokens());
          bind.overlap_tokens = static_cast<int>(request->chunking().overlap_tokens());
          ASSIGN_OR_RETURN(rag::CollectionBinding binding,
                           rag::BindCollection(embedders_, bind, default_chunking_));
          spec.dimension = binding.embedder.dimension;
          spec.attributes = rag::EncodeBinding(binding);
        }
        if (writer != nullptr) {
          RETURN_IF_ERROR(
              writer->CreateCollection(spec, RequestIdOf(*context), WriteDeadlineOf(*context))
                  .status());
        } else {
          RETURN_IF_ERROR(engine->CreateCollection(spec));
        }
        ASSIGN_OR_RETURN(index::CollectionInfo info, engine->GetCollection(spec.name));
        ToProto(info, response->mutable_collection());
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* CollectionsService::GetCollection(grpc::CallbackServerContext* context,
                                                            const v1::GetCollectionRequest* request,
                                                            v1::GetCollectionResponse* response) {
  if (absl::Status s = Admit(context, authorizer_, Method::kGetCollection, request->name());
      !s.ok())
    return FinishNow(context, s);
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
  if (absl::Status s = Admit(context, authorizer_, Method::kListCollections, ""); !s.ok())
    return FinishNow(context, s);
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(index::Engine * engine, engine_->Get());
    std::vector<index::CollectionInfo> infos = engine->ListCollections();
    std::sort(infos.begin(), infos.end(),
              [](const auto& a, const auto& b) { return a.spec.name < b.spec.name; });
    for (const index::CollectionInfo& info : infos) {
      // A key scoped to some collections sees only those.
      if (!AdmitCollection(context, authorizer_, Method::kGetCollection, info.spec.name).ok())
        continue;
      ToProto(info, response->add_collections());
    }
    return absl::OkStatus();
  };
  return FinishNow(context, run());
}

grpc::ServerUnaryReactor* CollectionsService::DeleteCollection(
    grpc::CallbackServerContext* context, const v1::DeleteCollectionRequest* request,
    v1::DeleteCollectionResponse* response) {
  if (absl::Status s = Admit(context, authorizer_, Method::kDeleteCollection, request->name());
      !s.ok())
    return FinishNow(context, s);
  absl::StatusOr<index::Engine*> engine = engine_->Get();
  if (!engine.ok()) return FinishNow(context, engine.status());
  if (absl::Status s = ValidateCollectionName("name", request->name()); !s.ok()) {
    return FinishNow(context, s);
  }
  cluster::Writer* writer = cluster_ != nullptr ? cluster_->Get() : nullptr;
  return FinishOnExecutor(context, executor_, [engine = *engine, writer, context, request] {
    if (writer != nullptr) {
      return writer
          ->DeleteCollection(request->name(), RequestIdOf(*context), WriteDeadlineOf(*context))
          .status();
    }
    return engine->DeleteCollection(request->name());
  });
}

}  // namespace ragd::services
