#pragma once
// ragd's Prometheus metrics (prometheus-cpp core: a Registry serialised by TextSerializer and
// served by the admin port, admin_server.h). Names follow Prometheus conventions: base units
// (seconds, bytes), `_total` for counters, and only bounded label sets: `method` is one of the
// registered RPCs (anything else is "other"), `code` a gRPC status name, `collection` an
// existing collection, `model` a configured model or embedder.
//
// Every metric is listed in README "Metrics reference". Thread-safe: prometheus-cpp's
// counters, gauges and histograms are atomic, and family lookups take the family's lock (the RPC
// series, recorded on every call, are looked up once per thread: RecordRpc).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "index/engine/engine.h"
#include "models/embedder.h"

namespace prometheus {
class Registry;
}

namespace ragd::services {

// Also the observer of every embedder ragd builds (rag::EmbedderRegistry), so that ingestion and
// query embeddings are counted in one place, by model.
class Metrics final : public models::EmbeddingObserver {
 public:
  Metrics();
  ~Metrics() override;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // One finished RPC: `method` as "/ragd.v1.Points/Upsert", `code` as "OK", "NOT_FOUND"...
  void RecordRpc(absl::string_view method, absl::string_view code, double seconds);

  // One HTTP API request (services/http): `route` as "POST /v1/chat/completions" (or "other"),
  // `status` the HTTP status. ragd_http_requests_total{route,code} and
  // ragd_http_request_duration_seconds{route}.
  void RecordHttp(absl::string_view route, int status, double seconds);

  // What one ingestion reported (an IngestSummary, or one UpsertDocument result), by the
  // embedder's model ("" when unknown).
  struct Ingestion {
    std::string model;
    uint64_t documents_ok = 0;
    uint64_t documents_skipped = 0;
    uint64_t documents_failed = 0;
    uint64_t chunks = 0;
    uint64_t tokens = 0;
  };
  void RecordIngestion(const Ingestion& ingestion);
  // A failed ingest RPC (the whole call, not one document).
  void RecordIngestFailure();

  // One model's part of an Answer call (its final event), or an HTTP chat completion's run.
  struct ChatCall {
    std::string model;
    std::string code;  // gRPC status name of the model's run
    uint64_t prompt_tokens = 0;
    uint64_t completion_tokens = 0;
    double cost_usd = 0;
    double latency_seconds = 0;
  };
  void RecordChat(const ChatCall& call);

  // One embedder request (ingestion or query): ragd_embedding_* by model.
  void OnEmbeddingRequest(const models::EmbeddingRequestRecord& record) override;

  // A snapshot, compaction or backup ended (index::Engine::Options::on_event):
  // ragd_{snapshot,compaction,backup}_duration_seconds and _failures_total, and
  // ragd_backup_pause_seconds when a backup's writes resume.
  void RecordEngineEvent(const index::EngineEvent& event);

  // How long opening the engine took at start-up.
  void SetRecoverySeconds(double seconds);

  // An embedding cache's numbers, read at scrape time: `cache` is "ingest" (the durable cache
  // of chunk vectors, ingest/embedding_cache.h) or "query" (the retriever's in-memory LRU).
  // ragd_embedding_cache_entries / _max_entries (gauges), _lookups_total{result="hit"|"miss"}
  // and _evictions_total (counters; `hits`, `misses`, `evictions` are counts since start).
  struct CacheNumbers {
    uint64_t entries = 0;
    uint64_t max_entries = 0;
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t evictions = 0;
  };
  void SetEmbeddingCache(const std::string& cache, const CacheNumbers& numbers);

  // Cluster mode's series (README "Cluster mode"); call once, before the server starts any
  // thread: ragd_cluster_lag_entries{collection}, ragd_cluster_applied_total,
  // ragd_cluster_ready, ragd_cluster_publish_seconds and ragd_cluster_router_fanout_seconds.
  // Without it the cluster calls below do nothing.
  void EnableCluster();
  // A write published to the log and acknowledged by JetStream (cluster::Writer), seconds.
  void RecordClusterPublish(double seconds);
  // The router's fan-out of one read over the shard groups, seconds.
  void RecordRouterFanout(double seconds);
  // Read at scrape time from the Monitor and Applier: lags per collection (a collection left
  // out loses its series), entries applied since start, readiness.
  struct ClusterNumbers {
    std::vector<std::pair<std::string, uint64_t>> lags;
    uint64_t applied = 0;
    bool ready = false;
  };
  void SetCluster(const ClusterNumbers& numbers);

  // The exposition text: refreshes the per-collection gauges from `collections` (the series of
  // collections that no longer exist, gauges and engine-event ones, are removed), then
  // serialises the registry.
  std::string Scrape(const std::vector<index::CollectionInfo>& collections);

 private:
  struct Families;
  struct CacheFamilies;
  struct ClusterFamilies;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<ClusterFamilies> cluster_;  // set by EnableCluster()
  std::unique_ptr<Families> families_;
  std::unique_ptr<CacheFamilies> caches_;
  // Never reused by another instance: RecordRpc's per-thread cache of resolved series is keyed
  // by it (metrics.cc).
  const uint64_t id_;
};

// "/ragd.v1.Points/Upsert" for a registered method, else "other", so that a client cannot
// create label values by calling made-up methods.
std::string MethodLabel(absl::string_view method);

}  // namespace ragd::services
