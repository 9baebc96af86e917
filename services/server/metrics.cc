#include "services/server/metrics.h"

#include <google/protobuf/descriptor.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"

namespace ragd::services {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

// From 0.5 ms (a cached Get) to 2 min (a large ingestion or a long answer).
const Histogram::BucketBoundaries& RpcBuckets() {
  static const auto* buckets = new Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120};
  return *buckets;
}

// From 1 ms (the local embedder, one query) to 2 min (a remote request retried under a quota).
const Histogram::BucketBoundaries& EmbeddingBuckets() {
  static const auto* buckets = new Histogram::BucketBoundaries{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
  return *buckets;
}

// From 10 ms (a small collection's snapshot) to 10 min (rebuilding or backing up millions).
const Histogram::BucketBoundaries& MaintenanceBuckets() {
  static const auto* buckets = new Histogram::BucketBoundaries{
      0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
  return *buckets;
}

const Histogram::BucketBoundaries& ChatBuckets() {
  static const auto* buckets =
      new Histogram::BucketBoundaries{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320};
  return *buckets;
}

Family<Counter>& CounterFamily(prometheus::Registry& r, const std::string& name,
                               const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}

Family<Gauge>& GaugeFamily(prometheus::Registry& r, const std::string& name,
                           const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}

}  // namespace

struct Metrics::Families {
  explicit Families(prometheus::Registry& r)
      : requests(CounterFamily(r, "ragd_grpc_requests_total",
                               "gRPC calls handled, by method and status code")),
        duration(prometheus::BuildHistogram()
                     .Name("ragd_grpc_request_duration_seconds")
                     .Help("gRPC call latency from the first metadata to the status, seconds")
                     .Register(r)),
        http_requests(CounterFamily(r, "ragd_http_requests_total",
                                    "HTTP API requests, by route and HTTP status code")),
        http_duration(prometheus::BuildHistogram()
                          .Name("ragd_http_request_duration_seconds")
                          .Help("HTTP API request latency, to the response's last byte, seconds")
                          .Register(r)),
        points(GaugeFamily(r, "ragd_collection_points", "Live points per collection")),
        deleted_points(GaugeFamily(r, "ragd_collection_deleted_points",
                                   "Points removed from the index but not compacted yet")),
        index_bytes(GaugeFamily(r, "ragd_collection_index_bytes",
                                "Resident bytes of a collection's in-memory indexes")),
        rescore_reads(GaugeFamily(r, "ragd_collection_rescore_reads",
                                  "Float32 vectors read to re-score quantized searches since "
                                  "the process started, by source (file: the read-through "
                                  "file cache; storage: RocksDB)")),
        vector_searches(CounterFamily(r, "ragd_collection_vector_searches_total",
                                      "Vector searches of a collection's shards (S per search "
                                      "of an S-shard collection)")),
        vector_search_cpu(CounterFamily(r, "ragd_collection_vector_search_cpu_seconds_total",
                                        "CPU time of the threads running a collection's vector "
                                        "searches, in them (walk, filters, re-scoring), seconds")),
        collections(GaugeFamily(r, "ragd_collections", "Collections served")),
        ingest_documents(CounterFamily(r, "ragd_ingest_documents_total",
                                       "Documents ingested, by embedder model and result "
                                       "(ok, skipped, failed)")),
        ingest_chunks(CounterFamily(r, "ragd_ingest_chunks_total",
                                    "Chunks written by ingestion, by embedder model")),
        ingest_tokens(CounterFamily(r, "ragd_ingest_tokens_total",
                                    "cl100k_base tokens of the chunks written by ingestion")),
        ingest_failures(
            CounterFamily(r, "ragd_ingest_failures_total", "Ingest calls that failed as a whole")),
        embedding_requests(CounterFamily(r, "ragd_embedding_requests_total",
                                         "Embedder requests (ingestion and queries), by model "
                                         "and outcome status code, retries not counted")),
        embedding_duration(prometheus::BuildHistogram()
                               .Name("ragd_embedding_request_duration_seconds")
                               .Help("Latency of one embedder request, first try to outcome "
                                     "(retries and back-off included), seconds")
                               .Register(r)),
        embedding_retries(CounterFamily(r, "ragd_embedding_retries_total",
                                        "Embedder request tries that repeated a failed one")),
        embedding_inputs(CounterFamily(r, "ragd_embedding_inputs_total",
                                       "Texts sent to an embedder (chunks and queries)")),
        embedding_tokens(
            CounterFamily(r, "ragd_embedding_tokens_total", "Tokens billed by remote embedders")),
        chat_requests(CounterFamily(
            r, "ragd_chat_requests_total",
            "Chat model runs of Answer calls and HTTP chat completions, by model and status code")),
        chat_prompt_tokens(
            CounterFamily(r, "ragd_chat_prompt_tokens_total", "Prompt tokens sent to chat models")),
        chat_completion_tokens(CounterFamily(r, "ragd_chat_completion_tokens_total",
                                             "Completion tokens received from chat models")),
        chat_cost(CounterFamily(r, "ragd_chat_cost_usd_total",
                                "Estimated cost of chat model runs, US dollars (catalog prices)")),
        chat_duration(
            prometheus::BuildHistogram()
                .Name("ragd_chat_duration_seconds")
                .Help(
                    "Latency of one chat model run (Answer call or HTTP chat completion), seconds")
                .Register(r)),
        recovery(GaugeFamily(r, "ragd_recovery_duration_seconds",
                             "How long opening the engine took at start-up, seconds")
                     .Add({})),
        snapshot_duration(prometheus::BuildHistogram()
                              .Name("ragd_snapshot_duration_seconds")
                              .Help("Saving a collection's changed index snapshots, seconds")
                              .Register(r)),
        snapshot_failures(CounterFamily(r, "ragd_snapshot_failures_total",
                                        "Index snapshot saves that failed, by collection")),
        compaction_duration(prometheus::BuildHistogram()
                                .Name("ragd_compaction_duration_seconds")
                                .Help("Rebuilding one shard's index in the background, seconds")
                                .Register(r)),
        compaction_failures(CounterFamily(r, "ragd_compaction_failures_total",
                                          "Index rebuilds that failed, by collection")),
        backup_duration(prometheus::BuildHistogram()
                            .Name("ragd_backup_duration_seconds")
                            .Help("CreateBackup calls, seconds")
                            .Register(r)
                            .Add({}, MaintenanceBuckets())),
        backup_failures(CounterFamily(r, "ragd_backup_failures_total",
                                      "CreateBackup calls that failed or were refused")
                            .Add({})),
        backup_pause(prometheus::BuildHistogram()
                         .Name("ragd_backup_pause_seconds")
                         .Help("How long a CreateBackup call paused every collection's writes "
                               "(memtable flush and checkpoint in the data directory), seconds")
                         .Register(r)
                         .Add({}, MaintenanceBuckets())),
        idle_flush_duration(prometheus::BuildHistogram()
                                .Name("ragd_idle_flush_duration_seconds")
                                .Help("Memtable flush and heap trim once writes stopped, seconds")
                                .Register(r)
                                .Add({}, MaintenanceBuckets())),
        idle_flush_failures(
            CounterFamily(r, "ragd_idle_flush_failures_total", "Idle memtable flushes that failed")
                .Add({})) {}

  Family<Counter>& requests;
  Family<Histogram>& duration;
  Family<Counter>& http_requests;
  Family<Histogram>& http_duration;
  Family<Gauge>& points;
  Family<Gauge>& deleted_points;
  Family<Gauge>& index_bytes;
  Family<Gauge>& rescore_reads;
  Family<Counter>& vector_searches;
  Family<Counter>& vector_search_cpu;
  Family<Gauge>& collections;
  Family<Counter>& ingest_documents;
  Family<Counter>& ingest_chunks;
  Family<Counter>& ingest_tokens;
  Family<Counter>& ingest_failures;
  Family<Counter>& embedding_requests;
  Family<Histogram>& embedding_duration;
  Family<Counter>& embedding_retries;
  Family<Counter>& embedding_inputs;
  Family<Counter>& embedding_tokens;
  Family<Counter>& chat_requests;
  Family<Counter>& chat_prompt_tokens;
  Family<Counter>& chat_completion_tokens;
  Family<Counter>& chat_cost;
  Family<Histogram>& chat_duration;
  Gauge& recovery;
  Family<Histogram>& snapshot_duration;
  Family<Counter>& snapshot_failures;
  Family<Histogram>& compaction_duration;
  Family<Counter>& compaction_failures;
  Histogram& backup_duration;
  Counter& backup_failures;
  Histogram& backup_pause;
  Histogram& idle_flush_duration;
  Counter& idle_flush_failures;

  std::mutex mu;  // guards `per_collection` and `maintenance` across scrapes and events
  struct CollectionGauges {
    Gauge* points;
    Gauge* deleted;
    Gauge* index_bytes;
    Gauge* rescore_file_reads;
    Gauge* rescore_storage_reads;
    // Counters, advanced at each scrape to the engine's cumulative values.
    Counter* vector_searches;
    Counter* vector_search_cpu;
  };
  std::map<std::string, CollectionGauges> per_collection;
  // Made at a collection's first snapshot or compaction, failure counters at 0.
  struct MaintenanceSeries {
    Histogram* snapshot;
    Counter* snapshot_failures;
    Histogram* compaction;
    Counter* compaction_failures;
  };
  std::map<std::string, MaintenanceSeries> maintenance;
};

// The embedding caches' series. Their counts come as totals since start, so the counters
// are advanced by the difference since the last scrape.
struct Metrics::CacheFamilies {
  explicit CacheFamilies(prometheus::Registry& r)
      : entries(GaugeFamily(r, "ragd_embedding_cache_entries",
                            "Vectors held by an embedding cache (cache=ingest|query)")),
        max_entries(GaugeFamily(r, "ragd_embedding_cache_max_entries",
                                "The bound of an embedding cache; older entries are evicted")),
        lookups(CounterFamily(r, "ragd_embedding_cache_lookups_total",
                              "Embedding cache lookups by result (hit, miss)")),
        evictions(CounterFamily(r, "ragd_embedding_cache_evictions_total",
                                "Entries evicted from an embedding cache at its bound")) {}
  Family<Gauge>& entries;
  Family<Gauge>& max_entries;
  Family<Counter>& lookups;
  Family<Counter>& evictions;
  std::mutex mu;
  std::map<std::string, CacheNumbers> last;
};

// Cluster mode's series; the applied counter advances by the difference since the last
// scrape, like the caches'.
struct Metrics::ClusterFamilies {
  explicit ClusterFamilies(prometheus::Registry& r)
      : lag(GaugeFamily(r, "ragd_cluster_lag_entries",
                        "Log entries of a collection this pod has not applied yet (head - applied)")),
        applied(CounterFamily(r, "ragd_cluster_applied_total",
                              "Log entries this pod applied (or skipped as malformed)")
                    .Add({})),
        ready(GaugeFamily(r, "ragd_cluster_ready",
                          "1 while the pod is within cluster.ready_max_lag of the log's heads")
                  .Add({})),
        publish(prometheus::BuildHistogram()
                    .Name("ragd_cluster_publish_seconds")
                    .Help("Publishing a write to the log until JetStream acknowledged it, seconds")
                    .Register(r)
                    .Add({}, prometheus::Histogram::BucketBoundaries{
                                 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                 0.5, 1, 2.5, 5, 10})),
        fanout(prometheus::BuildHistogram()
                   .Name("ragd_cluster_router_fanout_seconds")
                   .Help("A read fanned out over the shard groups, until the merge, seconds")
                   .Register(r)
                   .Add({}, prometheus::Histogram::BucketBoundaries{
                                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                1, 2.5, 5, 10})) {}
  Family<Gauge>& lag;
  Counter& applied;
  Gauge& ready;
  Histogram& publish;
  Histogram& fanout;
  std::mutex mu;
  uint64_t last_applied = 0;
  std::map<std::string, Gauge*> lags;
};

void Metrics::EnableCluster() {
  if (cluster_ == nullptr) cluster_ = std::make_unique<ClusterFamilies>(*registry_);
}

void Metrics::RecordClusterPublish(double seconds) {
  if (cluster_ != nullptr) cluster_->publish.Observe(seconds);
}

void Metrics::RecordRouterFanout(double seconds) {
  if (cluster_ != nullptr) cluster_->fanout.Observe(seconds);
}

void Metrics::SetCluster(const ClusterNumbers& numbers) {
  if (cluster_ == nullptr) return;
  ClusterFamilies& c = *cluster_;
  std::lock_guard<std::mutex> lock(c.mu);
  if (numbers.applied > c.last_applied) {
    c.applied.Increment(static_cast<double>(numbers.applied - c.last_applied));
    c.last_applied = numbers.applied;
  }
  c.ready.Set(numbers.ready ? 1 : 0);
  std::set<std::string> live;
  for (const auto& [name, lag] : numbers.lags) {
    live.insert(name);
    auto it = c.lags.find(name);
    if (it == c.lags.end()) it = c.lags.emplace(name, &c.lag.Add({{"collection", name}})).first;
    it->second->Set(static_cast<double>(lag));
  }
  for (auto it = c.lags.begin(); it != c.lags.end();) {
    if (live.count(it->first) != 0) {
      ++it;
      continue;
    }
    c.lag.Remove(it->second);
    it = c.lags.erase(it);
  }
}

namespace {

std::atomic<uint64_t> g_next_metrics_id{1};

// Each thread's RPC series of the one Metrics instance it last recorded into, resolved once.
// Why: Family::Add builds a label map, takes the family's lock (shared by every gRPC thread)
// and, in prometheus-cpp 1.0, constructs the metric before it looks the labels up, so a
// histogram's Add made and threw away an object with 17 buckets on every call, a dozen
// allocations on a path a Search pays after its walk has left the caches cold. The RPC series
// are never removed from their families, so the pointers live as long as the instance; ids
// are never reused, so a thread that meets another instance starts over. Both keys are
// bounded: `method` is a MethodLabel, `code` a gRPC status name.
struct RpcSeries {
  prometheus::Histogram* duration = nullptr;
  absl::flat_hash_map<std::string, prometheus::Counter*> requests_by_code;
};
struct RpcSeriesCache {
  uint64_t owner = 0;
  absl::flat_hash_map<std::string, RpcSeries> by_method;
};
thread_local RpcSeriesCache t_rpc_series;

}  // namespace

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      families_(std::make_unique<Families>(*registry_)),
      caches_(std::make_unique<CacheFamilies>(*registry_)),
      id_(g_next_metrics_id.fetch_add(1, std::memory_order_relaxed)) {}

Metrics::~Metrics() = default;

void Metrics::RecordRpc(absl::string_view method, absl::string_view code, double seconds) {
  RpcSeriesCache& cache = t_rpc_series;
  if (cache.owner != id_) {
    cache.by_method.clear();
    cache.owner = id_;
  }
  auto series = cache.by_method.find(method);
  if (series == cache.by_method.end()) {
    RpcSeries fresh;
    fresh.duration = &families_->duration.Add({{"method", std::string(method)}}, RpcBuckets());
    series = cache.by_method.emplace(std::string(method), std::move(fresh)).first;
  }
  auto requests = series->second.requests_by_code.find(code);
  if (requests == series->second.requests_by_code.end()) {
    prometheus::Counter* counter =
        &families_->requests.Add({{"method", std::string(method)}, {"code", std::string(code)}});
    requests = series->second.requests_by_code.emplace(std::string(code), counter).first;
  }
  requests->second->Increment();
  series->second.duration->Observe(seconds);
}

void Metrics::RecordHttp(absl::string_view route, int status, double seconds) {
  std::string r(route);
  families_->http_requests.Add({{"route", r}, {"code", std::to_string(status)}}).Increment();
  // The answers' buckets: a chat completion lasts as long as its model talks.
  families_->http_duration.Add({{"route", r}}, ChatBuckets()).Observe(seconds);
}

void Metrics::RecordIngestion(const Ingestion& in) {
  Families& f = *families_;
  const std::string& model = in.model;
  f.ingest_documents.Add({{"model", model}, {"result", "ok"}})
      .Increment(static_cast<double>(in.documents_ok));
  f.ingest_documents.Add({{"model", model}, {"result", "skipped"}})
      .Increment(static_cast<double>(in.documents_skipped));
  f.ingest_documents.Add({{"model", model}, {"result", "failed"}})
      .Increment(static_cast<double>(in.documents_failed));
  f.ingest_chunks.Add({{"model", model}}).Increment(static_cast<double>(in.chunks));
  f.ingest_tokens.Add({{"model", model}}).Increment(static_cast<double>(in.tokens));
}

void Metrics::OnEmbeddingRequest(const models::EmbeddingRequestRecord& record) {
  Families& f = *families_;
  const std::string model(record.model);
  f.embedding_requests.Add({{"model", model}, {"code", absl::StatusCodeToString(record.code)}})
      .Increment();
  f.embedding_duration.Add({{"model", model}}, EmbeddingBuckets()).Observe(record.seconds);
  f.embedding_retries.Add({{"model", model}}).Increment(static_cast<double>(record.retries));
  f.embedding_inputs.Add({{"model", model}}).Increment(static_cast<double>(record.inputs));
  f.embedding_tokens.Add({{"model", model}}).Increment(static_cast<double>(record.tokens));
}

void Metrics::RecordIngestFailure() { families_->ingest_failures.Add({}).Increment(); }

void Metrics::RecordChat(const ChatCall& call) {
  Families& f = *families_;
  f.chat_requests.Add({{"model", call.model}, {"code", call.code}}).Increment();
  f.chat_prompt_tokens.Add({{"model", call.model}})
      .Increment(static_cast<double>(call.prompt_tokens));
  f.chat_completion_tokens.Add({{"model", call.model}})
      .Increment(static_cast<double>(call.completion_tokens));
  if (call.cost_usd > 0) f.chat_cost.Add({{"model", call.model}}).Increment(call.cost_usd);
  f.chat_duration.Add({{"model", call.model}}, ChatBuckets()).Observe(call.latency_seconds);
}

void Metrics::RecordEngineEvent(const index::EngineEvent& event) {
  Families& f = *families_;
  switch (event.kind) {
    case index::EngineEventKind::kBackup:
      f.backup_duration.Observe(event.seconds);
      if (!event.ok) f.backup_failures.Increment();
      return;
    case index::EngineEventKind::kBackupPause:
      f.backup_pause.Observe(event.seconds);
      return;
    case index::EngineEventKind::kIdleFlush:
      f.idle_flush_duration.Observe(event.seconds);
      if (!event.ok) f.idle_flush_failures.Increment();
      return;
    case index::EngineEventKind::kSnapshot:
    case index::EngineEventKind::kCompaction:
      break;
  }
  std::lock_guard<std::mutex> lock(f.mu);
  auto it = f.maintenance.find(event.collection);
  if (it == f.maintenance.end()) {
    const prometheus::Labels labels{{"collection", event.collection}};
    Families::MaintenanceSeries series{&f.snapshot_duration.Add(labels, MaintenanceBuckets()),
                                       &f.snapshot_failures.Add(labels),
                                       &f.compaction_duration.Add(labels, MaintenanceBuckets()),
                                       &f.compaction_failures.Add(labels)};
    it = f.maintenance.emplace(event.collection, series).first;
  }
  const bool snapshot = event.kind == index::EngineEventKind::kSnapshot;
  (snapshot ? it->second.snapshot : it->second.compaction)->Observe(event.seconds);
  if (!event.ok) {
    (snapshot ? it->second.snapshot_failures : it->second.compaction_failures)->Increment();
  }
}

void Metrics::SetRecoverySeconds(double seconds) { families_->recovery.Set(seconds); }

std::string Metrics::Scrape(const std::vector<index::CollectionInfo>& collections) {
  Families& f = *families_;
  {
    std::lock_guard<std::mutex> lock(f.mu);
    std::set<std::string> live;
    for (const index::CollectionInfo& c : collections) {
      const std::string& name = c.spec.name;
      live.insert(name);
      auto it = f.per_collection.find(name);
      if (it == f.per_collection.end()) {
        Families::CollectionGauges g{&f.points.Add({{"collection", name}}),
                                     &f.deleted_points.Add({{"collection", name}}),
                                     &f.index_bytes.Add({{"collection", name}}),
                                     &f.rescore_reads.Add({{"collection", name}, {"source", "file"}}),
                                     &f.rescore_reads.Add({{"collection", name},
                                                           {"source", "storage"}}),
                                     &f.vector_searches.Add({{"collection", name}}),
                                     &f.vector_search_cpu.Add({{"collection", name}})};
        it = f.per_collection.emplace(name, g).first;
      }
      it->second.points->Set(static_cast<double>(c.points));
      it->second.deleted->Set(static_cast<double>(c.deleted_points));
      it->second.index_bytes->Set(static_cast<double>(c.index_bytes));
      it->second.rescore_file_reads->Set(static_cast<double>(c.rescore_file_reads));
      it->second.rescore_storage_reads->Set(static_cast<double>(c.rescore_storage_reads));
      // The engine's values only grow while a collection lives (the series are removed with
      // it), so the difference is never negative; the guard keeps a counter monotonic anyway.
      auto advance = [](Counter* counter, double value) {
        if (value > counter->Value()) counter->Increment(value - counter->Value());
      };
      advance(it->second.vector_searches, static_cast<double>(c.vector_searches));
      advance(it->second.vector_search_cpu, static_cast<double>(c.vector_search_cpu_ns) * 1e-9);
    }
    // A deleted collection must not be reported forever with its last values.
    for (auto it = f.per_collection.begin(); it != f.per_collection.end();) {
      if (live.count(it->first) != 0) {
        ++it;
        continue;
      }
      f.points.Remove(it->second.points);
      f.deleted_points.Remove(it->second.deleted);
      f.index_bytes.Remove(it->second.index_bytes);
      f.rescore_reads.Remove(it->second.rescore_file_reads);
      f.rescore_reads.Remove(it->second.rescore_storage_reads);
      f.vector_searches.Remove(it->second.vector_searches);
      f.vector_search_cpu.Remove(it->second.vector_search_cpu);
      it = f.per_collection.erase(it);
    }
    for (auto it = f.maintenance.begin(); it != f.maintenance.end();) {
      if (live.count(it->first) != 0) {
        ++it;
        continue;
      }
      f.snapshot_duration.Remove(it->second.snapshot);
      f.snapshot_failures.Remove(it->second.snapshot_failures);
      f.compaction_duration.Remove(it->second.compaction);
      f.compaction_failures.Remove(it->second.compaction_failures);
      it = f.maintenance.erase(it);
    }
    f.collections.Add({}).Set(static_cast<double>(collections.size()));
  }
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

namespace {

// MethodLabel without the memory: a lookup in the generated descriptor pool, which takes the
// pool's process-wide lock.
std::string LookUpMethodLabel(absl::string_view method) {
  static const std::set<std::string>* kOpen =
      new std::set<std::string>{"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch",
                                "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"};
  if (kOpen->count(std::string(method)) != 0) return std::string(method);
  if (!absl::StartsWith(method, "/ragd.v1.")) return "other";
  size_t slash = method.rfind('/');
  if (slash == 0 || slash == absl::string_view::npos) return "other";
  std::string full(method.substr(1, slash - 1));
  const google::protobuf::ServiceDescriptor* service =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(full);
  if (service == nullptr) return "other";
  if (service->FindMethodByName(std::string(method.substr(slash + 1))) == nullptr) {
    return "other";
  }
  return std::string(method);
}

}  // namespace

std::string MethodLabel(absl::string_view method) {
  // Asked once per call by every gRPC thread: each thread remembers the registered methods it
  // has seen (a few dozen at most), so the pool's lock is taken once per method and thread.
  // Names that are not registered are looked up each time and never remembered, so a client
  // calling made-up methods cannot grow the set.
  thread_local absl::flat_hash_set<std::string> registered;
  if (registered.contains(method)) return std::string(method);
  std::string label = LookUpMethodLabel(method);
  if (label != "other") registered.insert(label);
  return label;
}

void Metrics::SetEmbeddingCache(const std::string& cache, const CacheNumbers& n) {
  CacheFamilies& f = *caches_;
  std::lock_guard<std::mutex> lock(f.mu);
  CacheNumbers& last = f.last[cache];
  f.entries.Add({{"cache", cache}}).Set(static_cast<double>(n.entries));
  f.max_entries.Add({{"cache", cache}}).Set(static_cast<double>(n.max_entries));
  // Counts never go down within a process; a smaller one (a cache object replaced) restarts
  // the difference from zero rather than being lost.
  auto advance = [](Counter& counter, uint64_t now, uint64_t before) {
    counter.Increment(static_cast<double>(now >= before ? now - before : now));
  };
  advance(f.lookups.Add({{"cache", cache}, {"result", "hit"}}), n.hits, last.hits);
  advance(f.lookups.Add({{"cache", cache}, {"result", "miss"}}), n.misses, last.misses);
  advance(f.evictions.Add({{"cache", cache}}), n.evictions, last.evictions);
  last = n;
}

}  // namespace ragd::services
