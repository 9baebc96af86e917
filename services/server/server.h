#pragma once
// The running ragd: a gRPC server with the Collections and Points services, the standard
// health service and server reflection, over an engine that is opened in the background.
//
// Every call passes the CallObserver interceptor (metrics, access log, request id) and its
// handler's prologue against the configured API keys (AccessPolicy, auth.h, handed to every
// service as its Authorizer); the admin HTTP port serves /metrics,
// /livez and /readyz (admin_server.h).
//
// Start-up order: listen first, with health NOT_SERVING and every RPC answering UNAVAILABLE
// "recovering"; open the engine (which recovers every collection from RocksDB and snapshots)
// on a background thread; then set health SERVING for "" and for each service. Orchestrators
// can thus tell "starting" from "dead" while a large collection loads.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cluster/applier.h"
#include "cluster/jetstream_log.h"
#include "cluster/monitor.h"
#include "cluster/writer.h"
#include "common/concurrency/bounded_executor.h"
#include "index/engine/engine.h"
#include "rag/collection_binding.h"
#include "rag/engine_handle.h"
#include "services/api/admin_service.h"
#include "services/api/cluster_writes.h"
#include "services/api/shard_transport.h"
#include "services/api/collections_service.h"
#include "services/api/ingest_service.h"
#include "services/api/points_service.h"
#include "services/api/retrieval_service.h"
#include "services/http/http_server.h"
#include "services/server/admin_server.h"
#include "services/server/auth.h"
#include "services/server/config.h"
#include "services/server/metrics.h"

namespace ragd::services {

class RagdServer {
 public:
  // Called once from the background thread when recovery ends, with its status.
  using RecoveryCallback = std::function<void(const absl::Status&)>;

  // Listens on config.server.listen, writes config.server.port_file when set, and starts
  // opening the engine. UNAVAILABLE when the address cannot be bound, INTERNAL when the port
  // file cannot be written.
  static absl::StatusOr<std::unique_ptr<RagdServer>> Start(const Config& config,
                                                           RecoveryCallback on_recovered);
  // Shuts down (with a zero grace period) if Shutdown() was not called.
  ~RagdServer();
  RagdServer(const RagdServer&) = delete;
  RagdServer& operator=(const RagdServer&) = delete;

  // The port actually bound (differs from the configured one when that is 0).
  int port() const { return port_; }
  // The admin HTTP port bound, 0 when server.admin_listen is empty.
  int admin_port() const { return admin_ != nullptr ? admin_->port() : 0; }

  // The HTTP API port bound, 0 when server.http_listen is empty.
  int http_port() const { return http_ != nullptr ? http_->port() : 0; }

  // Stops serving: health NOT_SERVING, new calls refused, in-flight calls given `grace` to
  // finish (then cancelled), queued writes run, recovery awaited if still running, and the
  // engine closed (snapshots saved, RocksDB closed). Returns the engine's Close() status.
  // Idempotent.
  absl::Status Shutdown(absl::Duration grace);

 private:
  RagdServer(const Config& config, std::unique_ptr<Metrics> metrics,
             std::unique_ptr<rag::EmbedderRegistry> embedders);
  void Recover(RecoveryCallback on_recovered);
  // Cluster mode: connects to NATS (ConnectLog), starts applying the log, the write path, the
  // monitor and, with shard groups, the router. Readiness then follows the pod's lag.
  absl::Status StartCluster();
  // JetStream, retried with backoff while it cannot be reached (UNAVAILABLE, DEADLINE_EXCEEDED:
  // no server up yet, a NATS cluster still forming) for at most cluster.connect_timeout_ms;
  // then that error, naming the key. CANCELLED when Shutdown() starts meanwhile.
  absl::StatusOr<std::unique_ptr<cluster::JetStreamLog>> ConnectLog();
  // The Monitor's readiness: health and /readyz follow it once the engine is open.
  void OnClusterReadiness(bool ready);

  // /readyz: "" when serving, else why not.
  std::string NotReadyReason() const;
  std::string ScrapeMetrics();

  const Config config_;
  // Before everything that reports to it: embedders (rag::EmbedderRegistry) and the engine.
  std::unique_ptr<Metrics> metrics_;
  AccessPolicy policy_;
  rag::EngineHandle handle_;
  ClusterWrites cluster_writes_;  // set in cluster mode once recovered
  concurrency::BoundedExecutor executor_;
  concurrency::BoundedExecutor search_executor_;      // Points.Search, Retrieve, Answer's retrieval
                                                      // (server.search_workers)
  std::unique_ptr<rag::EmbedderRegistry> embedders_;  // before the services that use it
  CollectionsService collections_;
  PointsService points_;
  IngestService ingest_;
  RetrievalService retrieval_;
  AdminService admin_service_;  // ragd.v1.Admin (backups); admin_ below is the HTTP port
  // Sharded cluster's read path (cluster.shard_groups > 1, README "Cluster mode"): the private
  // ragd.cluster.v1.Shards service (registered in cluster mode) on its own executor, this
  // pod's shards once recovered, and the router every read goes through.
  LocalShardsHandle local_shards_handle_;
  concurrency::BoundedExecutor shard_executor_;
  ShardsService shards_service_;
  GrpcShardTransport shard_transport_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::unique_ptr<AdminServer> admin_;
  std::unique_ptr<HttpServer> http_;  // the OpenAI-compatible API (server.http_listen)
  std::unique_ptr<index::Engine> engine_;  // written by the recovery thread before handle_.Set
  // Cluster mode (config cluster.nats_urls): the log, this pod's replica of it and the write
  // path, made by the recovery thread before handle_.Set, stopped before the engine closes.
  std::unique_ptr<cluster::JetStreamLog> cluster_log_;
  std::unique_ptr<cluster::Applier> cluster_applier_;
  std::unique_ptr<cluster::Writer> cluster_writer_;
  std::unique_ptr<cluster::LocalShards> cluster_local_;
  std::unique_ptr<cluster::Router> cluster_router_;
  std::unique_ptr<RouterSearchBackend> router_backend_;
  std::unique_ptr<cluster::Monitor> cluster_monitor_;
  // Health is SERVING once the engine is open (serving_) and, in cluster mode, while the
  // Monitor says the pod has caught up (cluster_ready_).
  std::mutex readiness_mu_;
  bool serving_ = false;
  bool cluster_ready_ = false;
  std::thread recovery_;
  bool shut_down_ = false;
  // Set by Shutdown() (under stop_mu_, stop_cv_ notified): ends ConnectLog's retries at once.
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  // gRPC calls that exist right now (CallObserverFactory): Shutdown closes the clients'
  // connections once this is zero instead of waiting for the clients to close them.
  std::atomic<int64_t> calls_in_flight_{0};
};

}  // namespace ragd::services
