#pragma once
// ragd.v1.Retrieval over the gRPC callback API: Retrieve (text search with citations), Answer
// (grounded answers from one or several chat models, streamed; see answer_call.h) and
// ListModels (the model catalog). Status codes: retrieval.proto.
//
// Retrieve runs inline on gRPC's callback thread like Points.Search: with the local embedder
// the query embeds in microseconds. (A remote embedder makes it wait for one HTTP round trip
// on a miss of the query cache; Answer, whose model calls last much longer, runs off gRPC's
// threads.)

#include <atomic>
#include <cstddef>

#include <grpcpp/grpcpp.h>

#include "models/model_catalog.h"
#include "ragd/v1/retrieval.grpc.pb.h"
#include "services/answer_call.h"
#include "services/collection_binding.h"
#include "services/engine_handle.h"
#include "services/retriever.h"

namespace ragd::services {

class RetrievalService final : public v1::Retrieval::CallbackService {
 public:
  // `engine` and `embedders` are not owned and must outlive the server.
  RetrievalService(const EngineHandle* engine, EmbedderRegistry* embedders,
                   models::ModelCatalog catalog, RetrieverOptions retriever,
                   AnswerSettings answer);

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
};

}  // namespace ragd::services
