#include "services/api/shard_transport.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "services/api/cluster_writes.h"
#include "services/api/convert.h"
#include "services/api/handler_util.h"

namespace ragd::services {
namespace {

namespace cv1 = ragd::cluster::v1;

absl::Status FromGrpc(const grpc::Status& s, const std::string& address) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat("pod ", address, ": ", s.error_message()));
}


absl::Time DeadlineOf(const grpc::CallbackServerContext& context) {
  return ReadDeadlineOf(context);
}

}  // namespace

void ToProto(const index::SearchRequest& r, v1::SearchRequest* out) {
  out->set_collection(r.collection);
  out->mutable_vector()->Assign(r.query.begin(), r.query.end());
  out->set_text(r.text);
  switch (r.mode) {
    case index::SearchMode::kVector:
      out->set_mode(v1::SEARCH_MODE_VECTOR);
      break;
    case index::SearchMode::kText:
      out->set_mode(v1::SEARCH_MODE_TEXT);
      break;
    case index::SearchMode::kHybrid:
      out->set_mode(v1::SEARCH_MODE_HYBRID);
      break;
  }
  v1::FusionOptions* f = out->mutable_fusion();
  if (r.hybrid.fusion) {  // unset stays unset: the receiving side's default, as here
    switch (*r.hybrid.fusion) {
      case index::Fusion::kRrf:
        f->set_method(v1::FUSION_METHOD_RRF);
        break;
      case index::Fusion::kWeighted:
        f->set_method(v1::FUSION_METHOD_WEIGHTED);
        break;
    }
  }
  f->set_rrf_k(r.hybrid.rrf_k);
  if (r.hybrid.alpha) f->set_alpha(*r.hybrid.alpha);
  f->set_vector_candidates(static_cast<uint32_t>(r.hybrid.vector_candidates));
  f->set_text_candidates(static_cast<uint32_t>(r.hybrid.text_candidates));
  out->set_k(static_cast<uint32_t>(r.k));
  if (r.ef > 0) out->set_ef(static_cast<uint32_t>(r.ef));
  if (r.filter) ToProto(*r.filter, out->mutable_filter());
  if (r.min_score) out->set_min_score(*r.min_score);
  out->set_with_vectors(r.with_vectors);
  out->set_with_payload(r.with_payload);
  out->set_rescore(r.rescore);
  out->set_oversampling(r.oversampling);
}

void ToProto(index::ScoredPoint&& hit, v1::ScoredPoint* out) {
  out->set_score(hit.score);
  if (hit.vector_leg) ToProto(*hit.vector_leg, out->mutable_vector_leg());
  if (hit.text_leg) ToProto(*hit.text_leg, out->mutable_text_leg());
  ToProto(std::move(hit.point), out->mutable_point());
}

void ToProto(index::SearchResult&& result, v1::SearchResponse* out) {
  out->mutable_hits()->Reserve(out->hits_size() + static_cast<int>(result.hits.size()));
  for (index::ScoredPoint& hit : result.hits) ToProto(std::move(hit), out->add_hits());
}

absl::StatusOr<index::ScoredPoint> FromProto(v1::ScoredPoint&& hit, absl::string_view field) {
  index::ScoredPoint out;
  ASSIGN_OR_RETURN(out.point, FromProto(std::move(*hit.mutable_point()), field));
  out.score = hit.score();
  if (hit.has_vector_leg()) out.vector_leg = index::LegHit{hit.vector_leg().rank(), hit.vector_leg().score()};
  if (hit.has_text_leg()) out.text_leg = index::LegHit{hit.text_leg().rank(), hit.text_leg().score()};
  return out;
}

// --- GrpcShardTransport ------------------------------------------------------------------------

std::unique_ptr<grpc::ClientContext> GrpcShardTransport::ContextUntil(absl::Time deadline) const {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(absl::ToChronoTime(deadline));
  if (!api_key_.empty()) c->AddMetadata("authorization", "Bearer " + api_key_);
  return c;
}

std::shared_ptr<grpc::Channel> GrpcShardTransport::ChannelTo(const std::string& address) {
  std::lock_guard l(mu_);
  auto& c = channels_[address];
  if (c == nullptr) {
    grpc::ChannelArguments args;
    // gRPC's reconnect backoff grows to 2 minutes: a restarted pod would stay unused that
    // long. Probes come every second; retrying the connection as often is cheap.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
    // Hits with vectors and payloads: as large as the public API allows (its default).
    args.SetMaxReceiveMessageSize(64 << 20);
    c = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  }
  return c;
}

absl::StatusOr<cluster::PeerInfo> GrpcShardTransport::Probe(const std::string& address,
                                                            absl::Time deadline) {
  auto channel = ChannelTo(address);
  cluster::PeerInfo info;
  {
    auto health = grpc::health::v1::Health::NewStub(channel);
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
    auto ctx = ContextUntil(deadline);
    RETURN_IF_ERROR(FromGrpc(health->Check(ctx.get(), req, &resp), address));
    info.serving = resp.status() == grpc::health::v1::HealthCheckResponse::SERVING;
  }
  if (!info.serving) return info;  // recovering: Describe would answer UNAVAILABLE
  auto stub = cv1::Shards::NewStub(channel);
  cv1::DescribeRequest req;
  cv1::DescribeResponse resp;
  auto ctx = ContextUntil(deadline);
  RETURN_IF_ERROR(FromGrpc(stub->Describe(ctx.get(), req, &resp), address));
  info.pod_id = resp.pod_id();
  info.groups = resp.shard_groups();
  info.group = resp.shard_group();
  return info;
}

absl::StatusOr<index::SearchResult> GrpcShardTransport::Search(
    const std::string& address, const index::SearchRequest& request,
    const std::vector<uint32_t>& shards, uint64_t min_applied_sequence, absl::Time deadline) {
  auto stub = cv1::Shards::NewStub(ChannelTo(address));
  cv1::SearchShardsRequest req;
  ToProto(request, req.mutable_request());
  req.mutable_shards()->Assign(shards.begin(), shards.end());
  req.set_min_applied_sequence(min_applied_sequence);
  v1::SearchResponse resp;
  auto ctx = ContextUntil(deadline);
  RETURN_IF_ERROR(FromGrpc(stub->SearchShards(ctx.get(), req, &resp), address));
  index::SearchResult out;
  out.hits.reserve(resp.hits_size());
  for (int i = 0; i < resp.hits_size(); ++i) {
    ASSIGN_OR_RETURN(index::ScoredPoint hit,
                     FromProto(std::move(*resp.mutable_hits(i)), absl::StrCat("hits[", i, "]")));
    out.hits.push_back(std::move(hit));
  }
  return out;
}

absl::StatusOr<uint64_t> GrpcShardTransport::Count(const std::string& address,
                                                   const std::string& collection,
                                                   const std::optional<index::Filter>& filter,
                                                   const std::vector<uint32_t>& shards,
                                                   uint64_t min_applied_sequence,
                                                   absl::Time deadline) {
  auto stub = cv1::Shards::NewStub(ChannelTo(address));
  cv1::CountShardsRequest req;
  req.mutable_request()->set_collection(collection);
  if (filter) ToProto(*filter, req.mutable_request()->mutable_filter());
  req.mutable_shards()->Assign(shards.begin(), shards.end());
  req.set_min_applied_sequence(min_applied_sequence);
  v1::CountResponse resp;
  auto ctx = ContextUntil(deadline);
  RETURN_IF_ERROR(FromGrpc(stub->CountShards(ctx.get(), req, &resp), address));
  return resp.count();
}

absl::StatusOr<std::vector<index::Point>> GrpcShardTransport::Get(
    const std::string& address, const std::string& collection, const std::vector<std::string>& ids,
    bool with_vectors, const std::vector<uint32_t>& shards, uint64_t min_applied_sequence,
    absl::Time deadline) {
  auto stub = cv1::Shards::NewStub(ChannelTo(address));
  cv1::GetShardsRequest req;
  req.mutable_request()->set_collection(collection);
  for (const auto& id : ids) req.mutable_request()->add_ids(id);
  req.mutable_request()->set_with_vectors(with_vectors);
  req.mutable_shards()->Assign(shards.begin(), shards.end());
  req.set_min_applied_sequence(min_applied_sequence);
  v1::GetResponse resp;
  auto ctx = ContextUntil(deadline);
  RETURN_IF_ERROR(FromGrpc(stub->GetShards(ctx.get(), req, &resp), address));
  return FromProto(resp.mutable_points());
}

absl::StatusOr<rag::BackendSearchResult> RouterSearchBackend::Search(
    const index::SearchRequest& request, uint64_t min_sequence, bool allow_partial,
    absl::Time deadline) {
  ASSIGN_OR_RETURN(auto routed, router_->Search(request, min_sequence, allow_partial,
                                                std::min(deadline, absl::Now() + timeout_)));
  rag::BackendSearchResult out;
  out.result = std::move(routed.value);
  out.coverage.shards_total = routed.coverage.shards_total;
  out.coverage.shards_answered = routed.coverage.shards_answered;
  out.coverage.missing_shards = std::move(routed.coverage.missing_shards);
  return out;
}

// --- ShardsService -----------------------------------------------------------------------------

grpc::ServerUnaryReactor* ShardsService::Describe(grpc::CallbackServerContext* context,
                                                  const cv1::DescribeRequest*,
                                                  cv1::DescribeResponse* response) {
  const cluster::LocalShards* local = local_->Get();
  if (local == nullptr) return FinishNow(context, absl::UnavailableError("recovering"));
  response->set_pod_id(local->pod_id());
  response->set_shard_groups(local->placement().groups);
  response->set_shard_group(local->placement().group);
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* ShardsService::SearchShards(grpc::CallbackServerContext* context,
                                                      const cv1::SearchShardsRequest* request,
                                                      v1::SearchResponse* response) {
  if (absl::Status s =
          Admit(context, authorizer_, Method::kSearch, request->request().collection());
      !s.ok()) {
    return FinishNow(context, s);
  }
  const cluster::LocalShards* local = local_->Get();
  if (local == nullptr) return FinishNow(context, absl::UnavailableError("recovering"));
  return FinishOnExecutor(
      context, executor_,
      [local, context, request, response]() -> absl::Status {
        ASSIGN_OR_RETURN(index::SearchRequest search, FromProto(request->request()));
        std::vector<uint32_t> shards(request->shards().begin(), request->shards().end());
        ASSIGN_OR_RETURN(index::SearchResult result,
                         local->Search(search, shards, request->min_applied_sequence(),
                                       DeadlineOf(*context)));
        ToProto(std::move(result), response);
        return absl::OkStatus();
      },
      "shard searches");
}

grpc::ServerUnaryReactor* ShardsService::CountShards(grpc::CallbackServerContext* context,
                                                     const cv1::CountShardsRequest* request,
                                                     v1::CountResponse* response) {
  if (absl::Status s =
          Admit(context, authorizer_, Method::kCount, request->request().collection());
      !s.ok()) {
    return FinishNow(context, s);
  }
  const cluster::LocalShards* local = local_->Get();
  if (local == nullptr) return FinishNow(context, absl::UnavailableError("recovering"));
  return FinishOnExecutor(
      context, executor_,
      [local, context, request, response]() -> absl::Status {
        std::optional<index::Filter> filter;
        if (request->request().has_filter()) {
          ASSIGN_OR_RETURN(filter, FromProto(request->request().filter(), "filter"));
        }
        std::vector<uint32_t> shards(request->shards().begin(), request->shards().end());
        ASSIGN_OR_RETURN(uint64_t n, local->Count(request->request().collection(), filter, shards,
                                                  request->min_applied_sequence(),
                                                  DeadlineOf(*context)));
        response->set_count(n);
        return absl::OkStatus();
      },
      "shard counts");
}

grpc::ServerUnaryReactor* ShardsService::GetShards(grpc::CallbackServerContext* context,
                                                   const cv1::GetShardsRequest* request,
                                                   v1::GetResponse* response) {
  if (absl::Status s = Admit(context, authorizer_, Method::kGet, request->request().collection());
      !s.ok()) {
    return FinishNow(context, s);
  }
  const cluster::LocalShards* local = local_->Get();
  if (local == nullptr) return FinishNow(context, absl::UnavailableError("recovering"));
  return FinishOnExecutor(
      context, executor_,
      [local, context, request, response]() -> absl::Status {
        std::vector<std::string> ids(request->request().ids().begin(),
                                     request->request().ids().end());
        std::vector<uint32_t> shards(request->shards().begin(), request->shards().end());
        ASSIGN_OR_RETURN(std::vector<index::Point> points,
                         local->Get(request->request().collection(), ids,
                                    request->request().with_vectors(), shards,
                                    request->min_applied_sequence(), DeadlineOf(*context)));
        for (index::Point& p : points) ToProto(std::move(p), response->add_points());
        return absl::OkStatus();
      },
      "shard gets");
}

}  // namespace ragd::services
