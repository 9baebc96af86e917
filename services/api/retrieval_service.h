#pragma once
// ragd.v1.Retrieval over the gRPC callback API: Retrieve (text search with citations), Answer
// (grounded answers from one or several chat models, streamed; see answer_call.h) and
// ListModels (the model catalog), CountTokens. Status codes: retrieval.proto.
//
// Retrieve, and the retrieval and prompt building of Answer, run on the server's bounded search
// executor (the one of Points.Search): on gRPC's few callback threads, a query rate above
// capacity would wait unseen in socket buffers, and a remote embedder makes a query wait for an
// HTTP round trip on a miss of the query cache. A full queue is RESOURCE_EXHAUSTED at once.
// Answer's model streams run on this service's concurrency::StreamThreads (see answer_call.h).

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstddef>

#include "common/concurrency/bounded_executor.h"
#include "common/concurrency/deadline_timer.h"
#include "common/concurrency/stream_threads.h"
#include "models/model_catalog.h"
#include "rag/collection_binding.h"
#include "rag/engine_handle.h"
#include "rag/retriever.h"
#include "ragd/v1/retrieval.grpc.pb.h"
#include "services/api/answer_call.h"
#include "services/api/cluster_writes.h"
#include "services/api/methods.h"

namespace ragd::services {

class RetrievalService final : public v1::Retrieval::CallbackService {
 public:
  // `engine`, `search_executor` and `embedders` are not owned and must outlive the server.
  // `authorizer` may be null (every call allowed). `cluster` may be null (single-node mode;
  // set: Retrieve and Answer wait as their ReadConsistency asks, cluster_writes.h).
  RetrievalService(const Authorizer* authorizer, const rag::EngineHandle* engine,
                   concurrency::BoundedExecutor* search_executor, rag::EmbedderRegistry* embedders,
                   models::ModelCatalog catalog, rag::RetrieverOptions retriever,
                   rag::AnswerSettings answer, const ClusterWrites* cluster = nullptr);

  grpc::ServerUnaryReactor* Retrieve(grpc::CallbackServerContext* context,
                                     const v1::RetrieveRequest* request,
                                     v1::RetrieveResponse* response) override;
  grpc::ServerWriteReactor<v1::AnswerEvent>* Answer(grpc::CallbackServerContext* context,
                                                    const v1::AnswerRequest* request) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const v1::ListModelsRequest* request,
                                       v1::ListModelsResponse* response) override;
  grpc::ServerUnaryReactor* CountTokens(grpc::CallbackServerContext* context,
                                        const v1::CountTokensRequest* request,
                                        v1::CountTokensResponse* response) override;

  // What this service's Answer calls use (its retriever and query cache, model pool, threads,
  // deadline timer and answer count), for the HTTP front, whose answers share them.
  rag::AnswerResources answer_resources();

  // Sharded cluster: Retrieve and Answer search through `backend` (rag/search_backend.h).
  void SetSearchBackend(rag::SearchBackend* backend) { retriever_.SetSearchBackend(backend); }
  // The retriever's query-vector cache, for metrics.
  rag::Retriever::CacheStats query_cache_stats() const { return retriever_.cache_stats(); }

 private:
  const Authorizer* authorizer_;
  const rag::EngineHandle* engine_;
  const ClusterWrites* cluster_;
  const models::ModelCatalog catalog_;
  const rag::AnswerSettings answer_settings_;
  rag::Retriever retriever_;
  rag::ChatModelPool models_;
  std::atomic<size_t> active_answers_{0};
  concurrency::BoundedExecutor* search_executor_;
  concurrency::DeadlineTimer deadlines_;
  concurrency::StreamThreads
      streams_;  // last: joined first, while what the streams use still exists
};

}  // namespace ragd::services
