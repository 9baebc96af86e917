#include "services/collections_service.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "ingest/chunker.h"
#include "services/convert.h"
#include "services/handler_util.h"

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

// The binding stored with a collection created with an embedder: resolves the embedder (which
// fixes the dimension) and completes the chunking settings.
absl::StatusOr<CollectionBinding> BindingFor(const v1::CreateCollectionRequest& request,
                                             EmbedderRegistry* embedders,
                                             const ChunkingBinding& defaults) {
  if (embedders == nullptr) {
    return absl::FailedPreconditionError("embedder: this server has no embedders");
  }
  CollectionBinding binding;
  ASSIGN_OR_RETURN(binding.embedder,
                   embedders->Resolve(request.embedder().name(), request.dimension()));
  binding.chunking = defaults;
  if (request.chunking().max_tokens() != 0) {
    binding.chunking.max_tokens = static_cast<int>(request.chunking().max_tokens());
  }
  if (request.chunking().overlap_tokens() != 0) {
    binding.chunking.overlap_tokens = static_cast<int>(request.chunking().overlap_tokens());
  }
  ingest::ChunkingOptions chunking;
  chunking.max_tokens = static_cast<size_t>(binding.chunking.max_tokens);
  chunking.overlap_tokens = static_cast<size_t>(binding.chunking.overlap_tokens);
  if (absl::Status s = chunking.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("chunking: ", std::string(s.message())));
  }
  return binding;
}

}  // namespace

grpc::ServerUnaryReactor* CollectionsService::CreateCollection(
    grpc::CallbackServerContext* context, const v1::CreateCollectionRequest* request,
    v1::CreateCollectionResponse* response) {
  if (absl::Status s = Authorize(context, "Collections.CreateCollection", request->name()); !s.ok()) return FinishNow(context, s);
  absl::StatusOr<index::Engine*> engine = engine_->Get();
  if (!engine.ok()) return FinishNow(context, engine.status());
  if (absl::Status s = CheckCreate(*request); !s.ok()) return FinishNow(context, s);
  return FinishOnExecutor(context, executor_, [this, engine = *engine, request, response] {
    ASSIGN_OR_RETURN(index::CollectionSpec spec, FromProto(*request));
    if (!request->embedder().name().empty()) {
      ASSIGN_OR_RETURN(CollectionBinding binding,
                       BindingFor(*request, embedders_, default_chunking_));
      spec.dimension = binding.embedder.dimension;
      spec.attributes = EncodeBinding(binding);
    }
    RETURN_IF_ERROR(engine->CreateCollection(spec));
    ASSIGN_OR_RETURN(index::CollectionInfo info, engine->GetCollection(spec.name));
    ToProto(info, response->mutable_collection());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CollectionsService::GetCollection(
    grpc::CallbackServerContext* context, const v1::GetCollectionRequest* request,
    v1::GetCollectionResponse* response) {
  if (absl::Status s = Authorize(context, "Collections.GetCollection", request->name()); !s.ok()) return FinishNow(context, s);
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
  if (absl::Status s = Authorize(context, "Collections.ListCollections", ""); !s.ok()) return FinishNow(context, s);
  auto run = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(index::Engine * engine, engine_->Get());
    std::vector<index::CollectionInfo> infos = engine->ListCollections();
    std::sort(infos.begin(), infos.end(),
              [](const auto& a, const auto& b) { return a.spec.name < b.spec.name; });
    for (const index::CollectionInfo& info : infos) {
      // A key scoped to some collections sees only those.
      if (!AuthorizeCollection(context, "Collections.GetCollection", info.spec.name).ok()) continue;
      ToProto(info, response->add_collections());
    }
    return absl::OkStatus();
  };
  return FinishNow(context, run());
}

grpc::ServerUnaryReactor* CollectionsService::DeleteCollection(
    grpc::CallbackServerContext* context, const v1::DeleteCollectionRequest* request,
    v1::DeleteCollectionResponse* response) {
  if (absl::Status s = Authorize(context, "Collections.DeleteCollection", request->name()); !s.ok()) return FinishNow(context, s);
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
