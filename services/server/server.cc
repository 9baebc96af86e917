#include "services/server/server.h"

#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "grpc/health/v1/health.pb.h"
#include "ingest/job.h"
#include "services/api/unparsed_request.h"
#include "services/server/call_observer.h"
#include "services/server/config_auth.h"
#include "services/server/logging.h"

namespace ragd::services {
namespace {

constexpr const char* kServiceNames[] = {"ragd.v1.Collections", "ragd.v1.Points", "ragd.v1.Ingest",
                                         "ragd.v1.Retrieval", "ragd.v1.Admin"};

void SetServing(grpc::Server* server, bool serving) {
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus(serving);  // the overall status, service ""
  for (const char* name : kServiceNames) health->SetServingStatus(name, serving);
}

// Written to a temporary name and renamed, so a reader never sees a partial number.
absl::Status WritePortFile(const std::string& path, int port) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) return absl::InternalError(absl::StrCat("cannot write port file ", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot rename ", tmp, ": ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> CredentialsOf(
    const Config::Server::Tls& tls) {
  if (tls.cert_file.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ASSIGN_OR_RETURN(pair.cert_chain, ReadConfigFile("server.tls.cert_file", tls.cert_file));
  ASSIGN_OR_RETURN(pair.private_key, ReadConfigFile("server.tls.key_file", tls.key_file));
  options.pem_key_cert_pairs.push_back(std::move(pair));
  if (!tls.client_ca_file.empty()) {
    ASSIGN_OR_RETURN(options.pem_root_certs,
                     ReadConfigFile("server.tls.client_ca_file", tls.client_ca_file));
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

int SearchWorkersOf(const Config::Server& c) {
  if (c.search_workers > 0) return static_cast<int>(c.search_workers);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace

RagdServer::RagdServer(const Config& config, std::unique_ptr<Metrics> metrics,
                       std::unique_ptr<rag::EmbedderRegistry> embedders)
    : config_(config),
      metrics_(std::move(metrics)),
      policy_(config.auth.api_keys),
      executor_(static_cast<int>(config.server.workers),
                static_cast<size_t>(config.server.max_queued_writes)),
      search_executor_(SearchWorkersOf(config.server),
                       static_cast<size_t>(config.server.max_queued_searches),
                       static_cast<int>(config.server.inline_searches)),
      embedders_(std::move(embedders)),
      collections_(&policy_, &handle_, &executor_, embedders_.get(), config.ingest.chunking,
                   config.cluster.enabled() ? &cluster_writes_ : nullptr),
      points_(&policy_, &handle_, &executor_, &search_executor_,
              config.cluster.enabled() ? &cluster_writes_ : nullptr,
              static_cast<int>(config.server.max_search_batch)),
      ingest_(&policy_, &handle_, &executor_, embedders_.get(), config.ingest.service,
              config.cluster.enabled() ? &cluster_writes_ : nullptr),
      retrieval_(&policy_, &handle_, &search_executor_, embedders_.get(), config.models,
                 config.retrieval.retriever, config.retrieval.answers,
                 config.cluster.enabled() ? &cluster_writes_ : nullptr),
      admin_service_(&policy_, &handle_, &executor_,
                     config.cluster.enabled() ? &cluster_writes_ : nullptr),
      // Idle threads outside cluster mode: one.
      shard_executor_(config.cluster.enabled() ? SearchWorkersOf(config.server) : 1,
                      static_cast<size_t>(config.server.max_queued_searches)),
      shards_service_(&policy_, &local_shards_handle_, &shard_executor_),
      shard_transport_(config.cluster.peer_key) {}

absl::StatusOr<std::unique_ptr<RagdServer>> RagdServer::Start(const Config& config,
                                                              RecoveryCallback on_recovered) {
  auto metrics = std::make_unique<Metrics>();
  if (config.cluster.enabled()) metrics->EnableCluster();
  absl::StatusOr<std::unique_ptr<rag::EmbedderRegistry>> embedders =
      rag::EmbedderRegistry::Create(config.embedders, metrics.get());
  if (!embedders.ok()) return embedders.status();
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      CredentialsOf(config.server.tls);
  if (!credentials.ok()) return credentials.status();
  std::unique_ptr<RagdServer> self(
      new RagdServer(config, std::move(metrics), *std::move(embedders)));
  for (const std::string& warning : config.models.Warnings()) {
    spdlog::warn("models: {}", warning);
  }
  if (!self->policy_.enabled()) {
    spdlog::warn(
        "no API keys configured (auth.api_keys): every client that reaches {} can "
        "read, write and delete every collection",
        config.server.listen);
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // The built-in health service has no descriptor in the generated pool; referencing ours
  // links it in, so that reflection can describe grpc.health.v1.Health (proto/grpc/health).
  (void)grpc::health::v1::HealthCheckRequest::descriptor();

  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.server.listen, *credentials, &self->port_);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> observers;
  // First: it rewrites the status of a request that did not parse, which the observer records.
  observers.push_back(std::make_unique<UnparsedRequestGuardFactory>(&self->policy_));
  observers.push_back(std::make_unique<CallObserverFactory>(self->metrics_.get(), &self->policy_,
                                                          &self->calls_in_flight_));
  builder.experimental().SetInterceptorCreators(std::move(observers));
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.server.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(config.server.max_message_bytes));
  // gRPC sets SO_REUSEPORT by default: a second ragd on the same port would then start and
  // silently share the traffic instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(&self->collections_);
  builder.RegisterService(&self->points_);
  builder.RegisterService(&self->ingest_);
  builder.RegisterService(&self->retrieval_);
  builder.RegisterService(&self->admin_service_);
  if (config.cluster.enabled()) builder.RegisterService(&self->shards_service_);
  self->server_ = builder.BuildAndStart();
  if (self->server_ == nullptr || self->port_ == 0) {
    self->executor_.Shutdown();
    return absl::UnavailableError(absl::StrCat("cannot listen on ", config.server.listen));
  }
  // The default health service reports "" as SERVING from the start; nobody can have read the
  // port file yet, so turning it off here is in time for every client that uses it.
  SetServing(self->server_.get(), false);
  if (!config.server.port_file.empty()) {
    if (absl::Status s = WritePortFile(config.server.port_file, self->port_); !s.ok()) {
      self->server_->Shutdown();
      self->executor_.Shutdown();
      return s;
    }
  }
  if (!config.server.admin_listen.empty()) {
    RagdServer* server = self.get();
    AdminServer::Handlers handlers;
    handlers.metrics = [server] { return server->ScrapeMetrics(); };
    handlers.not_ready_reason = [server] { return server->NotReadyReason(); };
    AdminServer::Tls tls{config.server.admin_tls.cert_file, config.server.admin_tls.key_file};
    absl::StatusOr<std::unique_ptr<AdminServer>> admin =
        AdminServer::Start(config.server.admin_listen, std::move(handlers), tls);
    absl::Status s = admin.status();
    if (s.ok()) {
      self->admin_ = *std::move(admin);
      if (!config.server.admin_port_file.empty()) {
        s = WritePortFile(config.server.admin_port_file, self->admin_->port());
      }
    }
    if (!s.ok()) {
      self->server_->Shutdown();
      self->executor_.Shutdown();
      return s;
    }
  }
  if (!config.server.http_listen.empty()) {
    HttpFrontResources front;
    front.authorizer = &self->policy_;
    front.answers = self->retrieval_.answer_resources();
    front.embedders = self->embedders_.get();
    front.engine = &self->handle_;
    front.ingestors = self->ingest_.ingestors();
    front.max_document_bytes = config.ingest.service.max_document_bytes;
    front.max_ingest_jobs = config.ingest.service.max_streams;
    if (config.cluster.enabled()) {
      front.uploads_disabled_reason =
          "uploading files is not supported in cluster mode yet (issue 14)";
    }
    Metrics* metrics = self->metrics_.get();  // outlives the HTTP server (first member)
    front.on_call = [metrics](const HttpCallRecord& call) {
      metrics->RecordHttp(call.route, call.http_status, call.seconds);
      const char* code = CanonicalCodeName(static_cast<int>(call.code));
      if (call.ran_model) {
        Metrics::ChatCall chat;
        chat.model = call.model;
        chat.code = code;
        chat.prompt_tokens = call.usage.prompt_tokens;
        chat.completion_tokens = call.usage.completion_tokens;
        chat.cost_usd = call.cost_usd;
        chat.latency_seconds = call.seconds;
        metrics->RecordChat(chat);
      }
      AccessRecord r;
      r.method = call.route;
      r.collection = call.collection;
      r.code = code;
      r.peer = call.peer;
      r.latency_ms = call.seconds * 1000;
      LogAccess(r);
    };
    HttpFrontOptions options;
    options.threads = static_cast<int>(config.server.http_threads);
    options.max_body_bytes = static_cast<size_t>(config.server.max_message_bytes);
    options.tls_cert_file = config.server.http_tls.cert_file;
    options.tls_key_file = config.server.http_tls.key_file;
    absl::StatusOr<std::unique_ptr<HttpServer>> http =
        HttpServer::Start(config.server.http_listen, front, options);
    absl::Status s = http.status();
    if (s.ok()) {
      self->http_ = *std::move(http);
      if (!config.server.http_port_file.empty()) {
        s = WritePortFile(config.server.http_port_file, self->http_->port());
      }
    }
    if (!s.ok()) {
      if (self->admin_ != nullptr) self->admin_->Stop();
      self->server_->Shutdown();
      self->executor_.Shutdown();
      return s;
    }
  }
  RagdServer* raw = self.get();
  self->recovery_ = std::thread([raw, cb = std::move(on_recovered)] { raw->Recover(cb); });
  return self;
}

void RagdServer::Recover(RecoveryCallback on_recovered) {
  if (config_.debug.open_delay_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(config_.debug.open_delay_ms));
  }
  auto start = std::chrono::steady_clock::now();
  index::Engine::Options options = config_.EngineOptions();
  Metrics* metrics = metrics_.get();  // outlives the engine (first member)
  options.on_event = [metrics](const index::EngineEvent& e) { metrics->RecordEngineEvent(e); };
  absl::StatusOr<std::unique_ptr<index::Engine>> engine = index::Engine::Open(options);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!engine.ok()) {
    spdlog::error("recovery of {} failed after {:.3f} s: {}", config_.storage.data_dir, seconds,
                  engine.status().ToString());
    if (on_recovered) on_recovered(engine.status());
    return;
  }
  metrics_->SetRecoverySeconds(seconds);
  engine_ = std::move(engine).value();
  // Before serving, so that no job of this process can be taken for one of the dead one.
  if (absl::StatusOr<size_t> marked = ingest::MarkInterruptedJobs(*engine_); !marked.ok()) {
    spdlog::warn("marking interrupted ingest jobs: {}", marked.status().ToString());
  } else if (*marked > 0) {
    spdlog::warn("{} ingest job(s) were interrupted by the last shutdown; re-run them", *marked);
  }
  if (config_.cluster.enabled()) {
    if (absl::Status s = StartCluster(); !s.ok()) {
      if (s.code() == absl::StatusCode::kCancelled) {
        // Shutdown() came first: the stop is the signal's, not a failure of recovery.
        spdlog::info("cluster mode: {}", std::string(s.message()));
        return;
      }
      spdlog::error("cluster mode: {}", s.ToString());
      if (on_recovered) on_recovered(s);
      return;
    }
  }
  uint64_t points = 0;
  std::vector<index::CollectionInfo> collections = engine_->ListCollections();
  for (const index::CollectionInfo& c : collections) points += c.points;
  handle_.Set(engine_.get());
  {
    std::lock_guard lock(readiness_mu_);
    serving_ = true;
    SetServing(server_.get(), !config_.cluster.enabled() || cluster_ready_);
  }
  spdlog::info("recovered {} collections, {} points from {} in {:.3f} s; serving",
               collections.size(), points, config_.storage.data_dir, seconds);
  if (on_recovered) on_recovered(absl::OkStatus());
}

absl::StatusOr<std::unique_ptr<cluster::JetStreamLog>> RagdServer::ConnectLog() {
  const Config::Cluster& c = config_.cluster;
  const auto start = std::chrono::steady_clock::now();
  const auto give_up = start + c.connect_timeout;
  // Pods and the NATS StatefulSet start together on Kubernetes (and a NATS cluster needs a
  // quorum before JetStream answers): exiting at the first refusal would only make the
  // kubelet restart the pod with a growing back-off. Retrying here keeps the pod up, its
  // health NOT_SERVING, and starts serving as soon as JetStream answers.
  std::chrono::milliseconds backoff(100);
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<std::unique_ptr<cluster::JetStreamLog>> log =
        cluster::JetStreamLog::Connect(c.log);
    if (log.ok()) {
      if (attempt > 1) {
        spdlog::info(
            "cluster: JetStream reached after {} attempts ({:.1f} s)", attempt,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      }
      return log;
    }
    const absl::StatusCode code = log.status().code();
    const bool retryable =
        code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded;
    const auto now = std::chrono::steady_clock::now();
    if (!retryable) return log.status();
    if (now + backoff >= give_up) {
      return absl::Status(
          code, absl::StrCat("JetStream not reachable within cluster.connect_timeout_ms (",
                             c.connect_timeout.count(), " ms, ", attempt,
                             " attempts); last error: ", log.status().message()));
    }
    spdlog::warn(
        "cluster: JetStream not reachable yet (attempt {}, retrying for {:.0f} more s): {}",
        attempt, std::chrono::duration<double>(give_up - now).count(),
        std::string(log.status().message()));
    std::unique_lock lock(stop_mu_);
    if (stop_cv_.wait_for(lock, backoff, [this] { return stopping_; })) {
      return absl::CancelledError("shutting down before JetStream was reached");
    }
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(2));
  }
}

absl::Status RagdServer::StartCluster() {
  const Config::Cluster& c = config_.cluster;
  ASSIGN_OR_RETURN(cluster_log_, ConnectLog());
  cluster::WriterOptions wo;
  wo.pod_id = c.pod_id;
  if (wo.pod_id.empty()) {
    char host[256] = {0};
    if (gethostname(host, sizeof(host) - 1) == 0) wo.pod_id = host;
    if (wo.pod_id.empty()) wo.pod_id = "ragd";
  }
  cluster::Placement placement;
  placement.groups = static_cast<uint32_t>(c.shard_groups);
  if (c.shard_group >= 0) {
    placement.group = static_cast<uint32_t>(c.shard_group);
  } else if (placement.groups > 1) {
    ASSIGN_OR_RETURN(placement.group, cluster::GroupFromPodId(wo.pod_id, placement.groups));
  }
  RETURN_IF_ERROR(placement.Validate());
  cluster::ApplierOptions ao;
  ao.placement = placement;
  ao.apply_delay = std::chrono::milliseconds(config_.debug.apply_delay_ms);
  ASSIGN_OR_RETURN(cluster_applier_,
                   cluster::Applier::Start(cluster_log_.get(), engine_.get(), ao));
  wo.limits = config_.EngineOptions();
  Metrics* metrics = metrics_.get();  // outlives the writer (first member)
  wo.on_publish = [metrics](double seconds) { metrics->RecordClusterPublish(seconds); };
  cluster_writer_ = std::make_unique<cluster::Writer>(cluster_log_.get(), cluster_applier_.get(),
                                                      engine_.get(), wo);
  // No wait for the log here: the pod answers at once (EVENTUAL reads see what it has applied,
  // the other levels wait), and readiness follows its lag (cluster/monitor.h), so Kubernetes
  // routes around it until it has caught up.
  cluster::MonitorOptions mo = c.monitor;
  mo.pod_id = wo.pod_id;
  mo.shard_group = static_cast<int>(placement.group);
  mo.address = c.advertise.empty() ? config_.server.listen : c.advertise;
  if (absl::EndsWith(mo.address, ":0")) {
    mo.address = absl::StrCat(mo.address.substr(0, mo.address.size() - 1), port_);
  }
  ASSIGN_OR_RETURN(cluster_monitor_,
                   cluster::Monitor::Start(cluster_log_.get(), cluster_applier_.get(),
                                           engine_.get(), mo,
                                           [this](bool ready) { OnClusterReadiness(ready); }));
  cluster_writes_.SetDefaultShards(
      static_cast<uint32_t>(c.default_shards != 0 ? c.default_shards : c.shard_groups));
  cluster_writes_.Set(cluster_writer_.get());
  cluster_local_ = std::make_unique<cluster::LocalShards>(engine_.get(), cluster_applier_.get(),
                                                          placement, wo.pod_id);
  local_shards_handle_.Set(cluster_local_.get());
  if (placement.groups > 1) {
    cluster::RouterOptions ro;
    ro.peers = c.peers;
    ro.max_k = config_.EngineOptions().max_k;
    Metrics* fanout_metrics = metrics_.get();  // outlives the router (first member)
    ro.on_fanout = [fanout_metrics](double seconds) {
      fanout_metrics->RecordRouterFanout(seconds);
    };
    ASSIGN_OR_RETURN(cluster_router_,
                     cluster::Router::Start(ro, &shard_transport_, cluster_local_.get()));
    router_backend_ = std::make_unique<RouterSearchBackend>(cluster_router_.get());
    cluster_writes_.SetRouter(cluster_router_.get());
    retrieval_.SetSearchBackend(router_backend_.get());
  }
  cluster_writes_.SetMonitor(cluster_monitor_.get());
  spdlog::info(
      "cluster mode: pod {} (shard group {} of {}, advertised as {}) on NATS {} (R{}), catalog "
      "sequence {}",
      wo.pod_id, placement.group, placement.groups,
      c.advertise.empty() ? config_.server.listen : c.advertise, absl::StrJoin(c.log.urls, ","),
      c.log.replicas, cluster_applier_->CatalogPosition());
  return absl::OkStatus();
}

void RagdServer::OnClusterReadiness(bool ready) {
  std::lock_guard lock(readiness_mu_);
  cluster_ready_ = ready;
  if (serving_) SetServing(server_.get(), ready);
}

absl::Status RagdServer::Shutdown(absl::Duration grace) {
  if (shut_down_) return absl::OkStatus();
  shut_down_ = true;
  {
    std::lock_guard lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  // Health first, so that load balancers stop routing here while in-flight calls finish.
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->Shutdown();
  }
  handle_.BeginShutdown();
  // The HTTP API first: its streams are cancelled, so nothing of it runs once gRPC drains.
  if (http_ != nullptr) http_->Stop();
  // grpc::Server::Shutdown sends GOAWAY and then returns only when every client connection is
  // gone, in-flight calls or not; an idle client that keeps its channel open (a pool, a load
  // balancer, the bench) held a clean stop for 3-5 s. So once no call is left (the observer's
  // count: every call has sent its status, every acknowledged write is in the WAL) the
  // connections are closed from this side; a call that arrives later is refused by the
  // shutdown or cancelled unanswered. The loop repeats the close for connections made after
  // the first one and ends at the grace deadline, where Shutdown cancels everything itself.
  const auto deadline = std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace);
  std::atomic<bool> stopped{false};
  std::thread closer([this, &stopped, deadline] {
    while (!stopped.load() && std::chrono::system_clock::now() < deadline) {
      if (calls_in_flight_.load(std::memory_order_acquire) == 0) {
        grpc_server_cancel_all_calls(server_->c_server());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  server_->Shutdown(deadline);
  stopped = true;
  closer.join();
  server_->Wait();
  spdlog::debug("gRPC server stopped");
  executor_.Shutdown();
  search_executor_.Shutdown();
  shard_executor_.Shutdown();
  if (recovery_.joinable()) recovery_.join();
  ingest_.Shutdown();  // flushes embedding-cache buffers while the engine is open
  // /readyz answered 503 while draining; scrapes read the engine, so they end before it closes.
  if (admin_ != nullptr) admin_->Stop();
  // No call is left: the log is no longer applied and the connection closes before the engine.
  cluster_writes_.Set(nullptr);
  cluster_writes_.SetRouter(nullptr);
  cluster_writes_.SetMonitor(nullptr);
  retrieval_.SetSearchBackend(nullptr);
  local_shards_handle_.Set(nullptr);
  if (cluster_monitor_ != nullptr) cluster_monitor_->Stop();
  if (cluster_router_ != nullptr) cluster_router_->Stop();
  if (cluster_applier_ != nullptr) cluster_applier_->Stop();
  cluster_writer_.reset();
  cluster_monitor_.reset();
  router_backend_.reset();
  cluster_router_.reset();
  cluster_local_.reset();
  cluster_applier_.reset();
  cluster_log_.reset();
  if (engine_ == nullptr) return absl::OkStatus();
  absl::Status closed = engine_->Close();
  spdlog::debug("engine closed");
  engine_.reset();
  return closed;
}

RagdServer::~RagdServer() {
  if (!shut_down_ && server_ != nullptr) Shutdown(absl::ZeroDuration()).IgnoreError();
  if (recovery_.joinable()) recovery_.join();
  if (http_ != nullptr) http_->Stop();
  if (admin_ != nullptr) admin_->Stop();
}

std::string RagdServer::NotReadyReason() const {
  absl::StatusOr<index::Engine*> engine = handle_.Get();
  if (!engine.ok()) return std::string(engine.status().message());
  // Through the atomic pointer: the recovery thread sets it while /readyz may be answering.
  if (cluster::Monitor* m = cluster_writes_.monitor(); m != nullptr && !m->ready()) {
    return m->not_ready_reason();
  }
  return "";
}

std::string RagdServer::ScrapeMetrics() {
  std::vector<index::CollectionInfo> collections;
  if (absl::StatusOr<index::Engine*> engine = handle_.Get(); engine.ok()) {
    collections = (*engine)->ListCollections();
  }
  const rag::Retriever::CacheStats query = retrieval_.query_cache_stats();
  metrics_->SetEmbeddingCache(
      "query", {query.entries, query.max_entries, query.hits, query.misses, query.evictions});
  if (std::optional<ingest::EmbeddingCache::Stats> ingest = ingest_.cache_stats()) {
    metrics_->SetEmbeddingCache("ingest", {ingest->entries, ingest->max_entries, ingest->hits,
                                           ingest->misses, ingest->evictions});
  }
  if (cluster::Monitor* m = cluster_writes_.monitor(); m != nullptr) {
    cluster::PodStatus status = m->status();
    Metrics::ClusterNumbers numbers;
    for (const cluster::CollectionLag& l : status.collections) {
      numbers.lags.emplace_back(l.collection, l.lag);
    }
    numbers.applied = status.applied_total;
    numbers.ready = status.ready;
    metrics_->SetCluster(numbers);
  }
  return metrics_->Scrape(collections);
}

}  // namespace ragd::services
