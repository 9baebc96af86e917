#pragma once
// ragd.v1.Points over the gRPC callback API. Writes (Upsert, Delete) wait for a WAL fsync and
// run on the bounded write executor. Searches run on their own bounded executor: inline on
// gRPC's few callback threads, a search rate above capacity would wait unseen in socket
// buffers with ever-growing latency; a bounded queue instead answers the excess
// RESOURCE_EXHAUSTED at once (the hop costs tens of microseconds). Get and Count are short
// key lookups and run inline. SearchBatch spreads its searches over the search workers.

#include <grpcpp/grpcpp.h>

#include "common/concurrency/bounded_executor.h"
#include "services/api/arena_allocator.h"
#include "rag/engine_handle.h"
#include "ragd/v1/points.grpc.pb.h"
#include "services/api/cluster_writes.h"
#include "services/api/methods.h"

namespace ragd::services {

class PointsService final : public v1::Points::CallbackService {
 public:
  // No pointer is owned; all must outlive the server.
  // `authorizer` may be null (every call allowed). `cluster` may be null (single-node mode;
  // cluster_writes.h: with a writer set, Upsert and Delete by ids go through the log).
  PointsService(const Authorizer* authorizer, const rag::EngineHandle* engine,
                concurrency::BoundedExecutor* executor,
                concurrency::BoundedExecutor* search_executor,
                const ClusterWrites* cluster = nullptr, int max_search_batch = 1024)
      : authorizer_(authorizer),
        cluster_(cluster),
        engine_(engine),
        executor_(executor),
        search_executor_(search_executor),
        max_search_batch_(max_search_batch) {
    SetMessageAllocatorFor_Search(&search_messages_);
    SetMessageAllocatorFor_SearchBatch(&batch_messages_);
  }

  grpc::ServerUnaryReactor* Upsert(grpc::CallbackServerContext* context,
                                   const v1::UpsertRequest* request,
                                   v1::UpsertResponse* response) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context, const v1::GetRequest* request,
                                v1::GetResponse* response) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* context,
                                   const v1::DeleteRequest* request,
                                   v1::DeleteResponse* response) override;
  grpc::ServerUnaryReactor* Search(grpc::CallbackServerContext* context,
                                   const v1::SearchRequest* request,
                                   v1::SearchResponse* response) override;
  grpc::ServerUnaryReactor* SearchBatch(grpc::CallbackServerContext* context,
                                        const v1::SearchBatchRequest* request,
                                        v1::SearchBatchResponse* response) override;
  grpc::ServerUnaryReactor* Count(grpc::CallbackServerContext* context,
                                  const v1::CountRequest* request,
                                  v1::CountResponse* response) override;

 private:
  const Authorizer* authorizer_;
  const ClusterWrites* cluster_;
  const rag::EngineHandle* engine_;
  concurrency::BoundedExecutor* executor_;
  concurrency::BoundedExecutor* search_executor_;
  // Searches per SearchBatch call (server.max_search_batch).
  const int max_search_batch_;
  // The read path's messages live on one arena per call (arena_allocator.h).
  ArenaMessageAllocator<v1::SearchRequest, v1::SearchResponse> search_messages_;
  ArenaMessageAllocator<v1::SearchBatchRequest, v1::SearchBatchResponse, 64 * 1024>
      batch_messages_;
};

}  // namespace ragd::services
