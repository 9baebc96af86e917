#include "services/retrieval_service.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "common/status.h"
#include "services/convert.h"
#include "services/handler_util.h"
#include "services/retrieval_convert.h"

namespace ragd::services {

RetrievalService::RetrievalService(const EngineHandle* engine, BoundedExecutor* search_executor,
                                   EmbedderRegistry* embedders, models::ModelCatalog catalog,
                                   RetrieverOptions retriever, AnswerSettings answer)
    : catalog_(std::move(catalog)),
      answer_settings_(answer),
      retriever_(engine, embedders, retriever),
      models_(&catalog_),
      search_executor_(search_executor),
      // Every admitted answer can stream every model of the catalog at once.
      streams_(std::max<size_t>(1, answer.max_concurrent_answers) *
               std::max<size_t>(1, catalog_.deployments().size())) {}

grpc::ServerUnaryReactor* RetrievalService::Retrieve(grpc::CallbackServerContext* context,
                                                     const v1::RetrieveRequest* request,
                                                     v1::RetrieveResponse* response) {
  if (absl::Status s = Authorize(context, "Retrieval.Retrieve", request->collection()); !s.ok()) return FinishNow(context, s);
  auto run = [this, request, response]() -> absl::Status {
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
  if (retriever_.IsCpuBound(request->collection(), request->query())) {
    return FinishInlineOrOnExecutor(context, search_executor_, std::move(run), "searches");
  }
  return FinishOnExecutor(context, search_executor_, std::move(run), "searches");
}

grpc::ServerWriteReactor<v1::AnswerEvent>* RetrievalService::Answer(
    grpc::CallbackServerContext* context, const v1::AnswerRequest* request) {
  if (absl::Status s = Authorize(context, "Retrieval.Answer", request->collection()); !s.ok()) {
    return RefuseWriter<v1::AnswerEvent>(s);
  }
  AnswerContext answer;
  answer.retriever = &retriever_;
  answer.prepare = search_executor_;
  answer.streams = &streams_;
  answer.deadlines = &deadlines_;
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
