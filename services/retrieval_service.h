#pragma once
// ragd.v1.Retrieval over the gRPC callback API: Retrieve (text search with citations), Answer
// (grounded answers from one or several chat models, streamed; see answer_call.h) and
// ListModels (the model catalog). Status codes: retrieval.proto.
//
// Retrieve, and the retrieval and prompt building of Answer, run on the server's bounded search
// executor (the one of Points.Search): on gRPC's few callback threads, a query rate above
// capacity would wait unseen in socket buffers, and a remote embedder makes a query wait for an
// HTTP round trip on a miss of the query cache. A full queue is RESOURCE_EXHAUSTED at once.
// Answer's model streams run on this service's StreamThreads (see answer_call.h).

#include <atomic>
#include <cstddef>

#include <grpcpp/grpcpp.h>

#include "models/model_catalog.h"
#include "ragd/v1/retrieval.grpc.pb.h"
#include "services/answer_call.h"
#include "services/bounded_executor.h"
#include "services/collection_binding.h"
#include "services/deadline_timer.h"
#include "services/engine_handle.h"
#include "services/retriever.h"
#include "services/stream_threads.h"

namespace ragd::services {

class RetrievalService final : public v1::Retrieval::CallbackService {
 public:
  // `engine`, `search_executor` and `embedders` are not owned and must outlive the server.
  RetrievalService(const EngineHandle* engine, BoundedExecutor* search_executor,
                   EmbedderRegistry* embedders, models::ModelCatalog catalog,
                   RetrieverOptions retriever, AnswerSettings answer);

  grpc::ServerUnaryReactor* Retrieve(grpc::CallbackServerContext* context,
                                     const v1::RetrieveRequest* request,
                                     v1::RetrieveResponse* response) override;
  grpc::ServerWriteReactor<v1::AnswerEvent>* Answer(grpc::CallbackServerContext* context,
                                                    const v1::AnswerRequest* request) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const v1::ListModelsRequest* request,
                                       v1::ListModelsResponse* response) override;

 private:
  const models::ModelCatalog catalog_;
  const AnswerSettings answer_settings_;
  Retriever retriever_;
  ChatModelPool models_;
  std::atomic<size_t> active_answers_{0};
  BoundedExecutor* search_executor_;
  DeadlineTimer deadlines_;
  StreamThreads streams_;  // last: joined first, while what the streams use still exists
};

}  // namespace ragd::services
