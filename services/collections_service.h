#pragma once
// ragd.v1.Collections over the gRPC callback API: thin handlers that check the request's
// shape, convert it, call the engine and finish with its status. Creation and removal touch
// the disk and run on the bounded executor; Get and List are in-memory and run inline.

#include <grpcpp/grpcpp.h>

#include "ragd/v1/collections.grpc.pb.h"
#include "services/bounded_executor.h"
#include "services/engine_handle.h"

namespace ragd::services {

class CollectionsService final : public v1::Collections::CallbackService {
 public:
  // Neither pointer is owned; both must outlive the server.
  CollectionsService(const EngineHandle* engine, BoundedExecutor* executor)
      : engine_(engine), executor_(executor) {}

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
  const EngineHandle* engine_;
  BoundedExecutor* executor_;
};

}  // namespace ragd::services
