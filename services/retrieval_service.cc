#include "services/retrieval_service.h"

#include <cmath>
#include <utility>

#include "common/status.h"
#include "services/convert.h"
#include "services/handler_util.h"
#include "services/retrieval_convert.h"

namespace ragd::services {

RetrievalService::RetrievalService(const EngineHandle* engine, EmbedderRegistry* embedders,
                                   models::ModelCatalog catalog, RetrieverOptions retriever,
                                   AnswerSettings answer)
    : catalog_(std::move(catalog)),
      answer_settings_(answer),
      retriever_(engine, embedders, retriever),
      models_(&catalog_) {}

grpc::ServerUnaryReactor* RetrievalService::Retrieve(grpc::CallbackServerContext* context,
                                                     const v1::RetrieveRequest* request,
                                                     v1::RetrieveResponse* response) {
  if (absl::Status s = Authorize(context, "Retrieval.Retrieve", request->collection()); !s.ok()) return FinishNow(context, s);
  auto run = [&]() -> absl::Status {
    RETURN_IF_ERROR(ValidateCollectionName("collection", request->collection()));
    TextQuery query;
    query.collection = request->collection();
    query.text = request->query();
    query.k = request->k();
    if (request->has_filter()) {
      ASSIGN_OR_RETURN(query.filter, FromProto(request->filter(), "filter"));
    }
    if (request->has_min_score()) {
      if (!std::isfinite(request->min_score())) {
        return absl::InvalidArgumentError("min_score: must be finite");
      }
      query.min_score = request->min_score();
    }
    ASSIGN_OR_RETURN(TextQueryResult result, retriever_.Retrieve(query));
    response->mutable_chunks()->Reserve(static_cast<int>(result.hits.size()));
    for (index::ScoredPoint& hit : result.hits) ToProto(std::move(hit), response->add_chunks());
    response->set_embedder(std::move(result.embedder));
    return absl::OkStatus();
  };
  return FinishNow(context, run());
}

grpc::ServerWriteReactor<v1::AnswerEvent>* RetrievalService::Answer(
    grpc::CallbackServerContext* context, const v1::AnswerRequest* request) {
  if (absl::Status s = Authorize(context, "Retrieval.Answer", request->collection()); !s.ok()) {
    return RefuseWriter<v1::AnswerEvent>(s);
  }
  AnswerContext answer;
  answer.retriever = &retriever_;
  answer.catalog = &catalog_;
  answer.models = &models_;
  answer.settings = &answer_settings_;
  answer.active = &active_answers_;
  return StartAnswer(answer, context, request);
}

grpc::ServerUnaryReactor* RetrievalService::ListModels(grpc::CallbackServerContext* context,
                                                       const v1::ListModelsRequest* request,
                                                       v1::ListModelsResponse* response) {
  if (absl::Status s = Authorize(context, "Retrieval.ListModels", ""); !s.ok()) return FinishNow(context, s);
  (void)request;
  for (const models::ModelDeployment& d : catalog_.deployments()) {
    ToProto(d, response->add_models());
  }
  response->set_default_model(catalog_.default_model());
  return FinishNow(context, absl::OkStatus());
}

}  // namespace ragd::services
