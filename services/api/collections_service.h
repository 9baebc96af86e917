#pragma once
// ragd.v1.Collections over the gRPC callback API: thin handlers that check the request's
// shape, convert it, call the engine and finish with its status. Creation and removal touch
// the disk and run on the bounded executor; Get and List are in-memory and run inline.

#include <grpcpp/grpcpp.h>

#include "common/concurrency/bounded_executor.h"
#include "rag/collection_binding.h"
#include "rag/engine_handle.h"
#include "ragd/v1/collections.grpc.pb.h"
#include "services/api/cluster_writes.h"
#include "services/api/methods.h"

namespace ragd::services {

class CollectionsService final : public v1::Collections::CallbackService {
 public:
  // No pointer is owned; all must outlive the server. `embedders` resolves the embedder
  // binding of CreateCollection (null: bindings are refused); `default_chunking` fills a
  // binding's unset chunking fields.
  // `authorizer` may be null (every call allowed).
  // `cluster` may be null (single-node mode; cluster_writes.h: with a writer set, creates and
  // deletes go through the log).
  CollectionsService(const Authorizer* authorizer, const rag::EngineHandle* engine,
                     concurrency::BoundedExecutor* executor,
                     rag::EmbedderRegistry* embedders = nullptr,
                     rag::ChunkingBinding default_chunking = {},
                     const ClusterWrites* cluster = nullptr)
      : authorizer_(authorizer),
        engine_(engine),
        executor_(executor),
        embedders_(embedders),
        default_chunking_(default_chunking),
        cluster_(cluster) {}

  grpc::ServerUnaryReactor* CreateCollection(grpc::CallbackServerContext* context,
                                             const v1::CreateCollectionRequest* request,
                                             v1::CreateCollectionResponse* response) override;
  grpc::ServerUnaryReactor* GetCollection(grpc::CallbackServerContext* context,
                                          const v1::GetCollectionRequest* request,
                                          v1::GetCollectionResponse* response) override;
  grpc::ServerUnaryReactor* ListCollections(grpc::CallbackServerContext* context,
                                            const v1::ListCollectionsRequest* request,
                                            v1::ListCollectionsResponse* response) override;
  grpc::ServerUnaryReactor* DeleteCollection(grpc::CallbackServerContext* context,
                                             const v1::DeleteCollectionRequest* request,
                                             v1::DeleteCollectionResponse* response) override;

 private:
  const Authorizer* authorizer_;
  const rag::EngineHandle* engine_;
  concurrency::BoundedExecutor* executor_;
  rag::EmbedderRegistry* embedders_;
  rag::ChunkingBinding default_chunking_;
  const ClusterWrites* cluster_;
};

}  // namespace ragd::services
