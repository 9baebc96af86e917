#pragma once
// The gRPC side of cluster mode's read path (cluster/router.h): GrpcShardTransport calls other
// pods' private ragd.cluster.v1.Shards service (proto/ragd/cluster/v1/shards.proto) and their
// grpc.health.v1 Health; ShardsService answers those calls from this pod's LocalShards.
// The generated code stays here, at the edge: cluster/ sees only the ShardTransport interface.

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cluster/router.h"
#include "common/concurrency/bounded_executor.h"
#include "rag/search_backend.h"
#include "ragd/cluster/v1/shards.grpc.pb.h"
#include "ragd/v1/points.pb.h"
#include "services/api/methods.h"

namespace ragd::services {

// The engine's request as the public message (the inverse of FromProto(v1::SearchRequest)).
void ToProto(const index::SearchRequest& request, v1::SearchRequest* out);
// A hit both ways; strings are moved.
void ToProto(index::ScoredPoint&& hit, v1::ScoredPoint* out);
// A search's hits, in order, appended to out->hits (Search, SearchBatch and the shard service
// answer alike).
void ToProto(index::SearchResult&& result, v1::SearchResponse* out);
absl::StatusOr<index::ScoredPoint> FromProto(v1::ScoredPoint&& hit, absl::string_view field);

// One insecure channel per peer address, created on first use and kept (gRPC reconnects by
// itself). Pods talk over the cluster network (a NetworkPolicy should keep others out); TLS
// between pods is not supported yet. Thread-safe.
class GrpcShardTransport final : public cluster::ShardTransport {
 public:
  // `api_key`, when not empty, is sent as `authorization: Bearer <key>` on every call (the
  // Shards service admits calls like the public API).
  explicit GrpcShardTransport(std::string api_key = "") : api_key_(std::move(api_key)) {}

  absl::StatusOr<cluster::PeerInfo> Probe(const std::string& address,
                                          absl::Time deadline) override;
  absl::StatusOr<index::SearchResult> Search(const std::string& address,
                                             const index::SearchRequest& request,
                                             const std::vector<uint32_t>& shards,
                                             uint64_t min_applied_sequence,
                                             absl::Time deadline) override;
  absl::StatusOr<uint64_t> Count(const std::string& address, const std::string& collection,
                                 const std::optional<index::Filter>& filter,
                                 const std::vector<uint32_t>& shards,
                                 uint64_t min_applied_sequence, absl::Time deadline) override;
  absl::StatusOr<std::vector<index::Point>> Get(const std::string& address,
                                                const std::string& collection,
                                                const std::vector<std::string>& ids,
                                                bool with_vectors,
                                                const std::vector<uint32_t>& shards,
                                                uint64_t min_applied_sequence,
                                                absl::Time deadline) override;

 private:
  std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address);
  std::unique_ptr<grpc::ClientContext> ContextUntil(absl::Time deadline) const;

  const std::string api_key_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
};

// Retrieve and Answer over a sharded cluster: the retriever's searches through the Router
// (UNAVAILABLE naming a group without a ready replica, or with allow_partial the groups that
// answered and their coverage), bounded by the query's deadline and at most `timeout`.
class RouterSearchBackend final : public rag::SearchBackend {
 public:
  explicit RouterSearchBackend(cluster::Router* router, absl::Duration timeout = absl::Seconds(30))
      : router_(router), timeout_(timeout) {}
  absl::StatusOr<rag::BackendSearchResult> Search(const index::SearchRequest& request,
                                                  uint64_t min_sequence, bool allow_partial,
                                                  absl::Time deadline) override;

 private:
  cluster::Router* router_;
  absl::Duration timeout_;
};

// Where ShardsService finds this pod's shards: unset until cluster mode has started (calls
// answer UNAVAILABLE meanwhile). Thread-safe.
class LocalShardsHandle {
 public:
  const cluster::LocalShards* Get() const { return local_.load(std::memory_order_acquire); }
  void Set(const cluster::LocalShards* local) { local_.store(local, std::memory_order_release); }

 private:
  std::atomic<const cluster::LocalShards*> local_{nullptr};
};

// ragd.cluster.v1.Shards: the per-shard calls of other pods' routers. Each call is admitted as
// the public method it serves (Points.Search, Points.Count, Points.Get), so API keys protect
// it like the public API. Calls run on their own bounded executor, never on the one that runs
// the public searches: a router's search holds a worker of that executor while it waits for
// other pods, and two pods waiting for each other's workers would stall until the deadline.
class ShardsService final : public ragd::cluster::v1::Shards::CallbackService {
 public:
  // Nothing owned. `authorizer` may be null (every call allowed).
  ShardsService(const Authorizer* authorizer, const LocalShardsHandle* local,
                concurrency::BoundedExecutor* executor)
      : authorizer_(authorizer), local_(local), executor_(executor) {}

  grpc::ServerUnaryReactor* Describe(grpc::CallbackServerContext* context,
                                     const ragd::cluster::v1::DescribeRequest* request,
                                     ragd::cluster::v1::DescribeResponse* response) override;
  grpc::ServerUnaryReactor* SearchShards(grpc::CallbackServerContext* context,
                                         const ragd::cluster::v1::SearchShardsRequest* request,
                                         v1::SearchResponse* response) override;
  grpc::ServerUnaryReactor* CountShards(grpc::CallbackServerContext* context,
                                        const ragd::cluster::v1::CountShardsRequest* request,
                                        v1::CountResponse* response) override;
  grpc::ServerUnaryReactor* GetShards(grpc::CallbackServerContext* context,
                                      const ragd::cluster::v1::GetShardsRequest* request,
                                      v1::GetResponse* response) override;

 private:
  const Authorizer* authorizer_;
  const LocalShardsHandle* local_;
  concurrency::BoundedExecutor* executor_;
};

}  // namespace ragd::services
