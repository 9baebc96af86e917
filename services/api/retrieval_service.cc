#include "services/api/retrieval_service.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "common/status.h"
#include "common/utf8.h"
#include "models/tokenizer.h"
#include "services/api/convert.h"
#include "services/api/handler_util.h"
#include "services/api/retrieval_convert.h"

namespace ragd::services {
namespace {
// Bounds one CountTokens call's work and memory (the ids of 64 MiB are ~64 MB).
constexpr size_t kMaxCountTokensBytes = 64u << 20;
}  // namespace

RetrievalService::RetrievalService(const Authorizer* authorizer, const rag::EngineHandle* engine,
                                   concurrency::BoundedExecutor* search_executor,
                                   rag::EmbedderRegistry* embedders, models::ModelCatalog catalog,
                                   rag::RetrieverOptions retriever, rag::AnswerSettings answer,
                                   const ClusterWrites* cluster)
    : authorizer_(authorizer),
      engine_(engine),
      cluster_(cluster),
      catalog_(std::move(catalog)),
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
  if (absl::Status s = Admit(context, authorizer_, Method::kRetrieve, request->collection());
      !s.ok())
    return FinishNow(context, s);
  auto run = [this, context, request, response]() -> absl::Status {
    RETURN_IF_ERROR(ValidateCollectionName("collection", request->collection()));
    ASSIGN_OR_RETURN(index::Engine * engine, engine_->Get());
    ASSIGN_OR_RETURN(uint64_t applied,
                     AwaitReadConsistency(cluster_, *engine, request->collection(),
                                          request->consistency(), request->consistency_token(),
                                          *context));
    response->set_applied_sequence(applied);
    rag::TextQuery query;
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
    ASSIGN_OR_RETURN(query.mode, FromProto(request->mode(), "mode"));
    ASSIGN_OR_RETURN(query.hybrid, FromProto(request->fusion(), "fusion"));
    query.min_sequence = RoutedMinSequence(request->consistency(), applied);
    query.allow_partial = request->allow_partial();
    query.deadline = ReadDeadlineOf(*context);
    ASSIGN_OR_RETURN(rag::TextQueryResult result, retriever_.Retrieve(query));
    if (result.coverage) ToProto(*result.coverage, response->mutable_coverage());
    response->mutable_chunks()->Reserve(static_cast<int>(result.hits.size()));
    for (index::ScoredPoint& hit : result.hits) ToProto(std::move(hit), response->add_chunks());
    response->set_embedder(std::move(result.embedder));
    return absl::OkStatus();
  };
  if (!ReadMayWait(cluster_, request->consistency()) &&
      retriever_.IsCpuBound(request->collection(), request->query())) {
    return FinishInlineOrOnExecutor(context, search_executor_, std::move(run), "searches");
  }
  return FinishOnExecutor(context, search_executor_, std::move(run), "searches");
}

grpc::ServerWriteReactor<v1::AnswerEvent>* RetrievalService::Answer(
    grpc::CallbackServerContext* context, const v1::AnswerRequest* request) {
  if (absl::Status s = Admit(context, authorizer_, Method::kAnswer, request->collection());
      !s.ok()) {
    return RefuseWriter<v1::AnswerEvent>(s);
  }
  // Runs on the prepare executor after this handler returned: captures the call's pointers.
  const rag::EngineHandle* engine_handle = engine_;
  const ClusterWrites* cluster = cluster_;
  auto before_retrieval = [engine_handle, cluster, context,
                           request]() -> absl::StatusOr<uint64_t> {
    ASSIGN_OR_RETURN(index::Engine * engine, engine_handle->Get());
    return AwaitReadConsistency(cluster, *engine, request->collection(), request->consistency(),
                                request->consistency_token(), *context);
  };
  return StartAnswer(answer_resources(), context, request, std::move(before_retrieval),
                     ReadMayWait(cluster_, request->consistency()));
}

rag::AnswerResources RetrievalService::answer_resources() {
  rag::AnswerResources answer;
  answer.retriever = &retriever_;
  answer.prepare = search_executor_;
  answer.streams = &streams_;
  answer.deadlines = &deadlines_;
  answer.catalog = &catalog_;
  answer.models = &models_;
  answer.settings = &answer_settings_;
  answer.active = &active_answers_;
  return answer;
}

grpc::ServerUnaryReactor* RetrievalService::ListModels(grpc::CallbackServerContext* context,
                                                       const v1::ListModelsRequest* request,
                                                       v1::ListModelsResponse* response) {
  if (absl::Status s = Admit(context, authorizer_, Method::kListModels, ""); !s.ok())
    return FinishNow(context, s);
  (void)request;
  for (const models::ModelDeployment& d : catalog_.deployments()) {
    ToProto(d, response->add_models());
  }
  response->set_default_model(catalog_.default_model());
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* RetrievalService::CountTokens(grpc::CallbackServerContext* context,
                                                        const v1::CountTokensRequest* request,
                                                        v1::CountTokensResponse* response) {
  if (absl::Status s = Admit(context, authorizer_, Method::kCountTokens, ""); !s.ok()) {
    return FinishNow(context, s);
  }
  // Runs on a search worker after this handler returned: capture the call's pointers, never
  // this frame.
  auto run = [request, response]() -> absl::Status {
    const std::string& name = request->encoding().empty() ? "cl100k_base" : request->encoding();
    absl::StatusOr<models::Encoding> encoding = models::Tokenizer::EncodingByName(name);
    if (!encoding.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "encoding: expected cl100k_base or o200k_base, got \"", EchoPrefix(name), "\""));
    }
    size_t bytes = 0;
    for (int i = 0; i < request->texts_size(); ++i) {
      bytes += request->texts(i).size();
      if (!IsValidUtf8(request->texts(i))) {
        return absl::InvalidArgumentError(absl::StrCat("texts[", i, "]: not valid UTF-8"));
      }
    }
    if (bytes > kMaxCountTokensBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("texts: ", bytes, " bytes; at most ", kMaxCountTokensBytes, " per call"));
    }
    const models::Tokenizer& tokenizer = models::Tokenizer::Get(*encoding);
    response->set_encoding(name);
    for (const std::string& text : request->texts()) {
      v1::TokenCount* count = response->add_counts();
      if (request->with_ids()) {
        std::vector<uint32_t> ids = tokenizer.Encode(text);
        count->set_tokens(ids.size());
        count->mutable_ids()->Add(ids.begin(), ids.end());
      } else {
        count->set_tokens(tokenizer.Count(text));
      }
    }
    return absl::OkStatus();
  };
  return FinishOnExecutor(context, search_executor_, run, "searches");
}

}  // namespace ragd::services
