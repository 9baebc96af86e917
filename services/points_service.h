#pragma once
// ragd.v1.Points over the gRPC callback API. Writes (Upsert, Delete) wait for a WAL fsync and
// run on the bounded executor; reads (Search, Get, Count) are short and CPU-bound and run
// inline on gRPC's callback thread, because a hop to another thread costs more latency than
// most searches take.

#include <grpcpp/grpcpp.h>

#include "ragd/v1/points.grpc.pb.h"
#include "services/bounded_executor.h"
#include "services/engine_handle.h"

namespace ragd::services {

class PointsService final : public v1::Points::CallbackService {
 public:
  // Neither pointer is owned; both must outlive the server.
  PointsService(const EngineHandle* engine, BoundedExecutor* executor)
      : engine_(engine), executor_(executor) {}

  grpc::ServerUnaryReactor* Upsert(grpc::CallbackServerContext* context,
                                   const v1::UpsertRequest* request,
                                   v1::UpsertResponse* response) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context,
                                const v1::GetRequest* request,
                                v1::GetResponse* response) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* context,
                                   const v1::DeleteRequest* request,
                                   v1::DeleteResponse* response) override;
  grpc::ServerUnaryReactor* Search(grpc::CallbackServerContext* context,
                                   const v1::SearchRequest* request,
                                   v1::SearchResponse* response) override;
  grpc::ServerUnaryReactor* Count(grpc::CallbackServerContext* context,
                                  const v1::CountRequest* request,
                                  v1::CountResponse* response) override;

 private:
  const EngineHandle* engine_;
  BoundedExecutor* executor_;
};

}  // namespace ragd::services
