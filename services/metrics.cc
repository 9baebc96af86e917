#include "services/metrics.h"

#include <google/protobuf/descriptor.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <map>
#include <mutex>
#include <set>
#include <utility>

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
        points(GaugeFamily(r, "ragd_collection_points", "Live points per collection")),
        deleted_points(GaugeFamily(r, "ragd_collection_deleted_points",
                                   "Points removed from the index but not compacted yet")),
        index_bytes(GaugeFamily(r, "ragd_collection_index_bytes",
                                "Resident bytes of a collection's in-memory indexes")),
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
                                         "Requests made to an embedder during ingestion")),
        embedding_retries(CounterFamily(r, "ragd_embedding_retries_total",
                                        "Embedder requests retried during ingestion")),
        embedding_tokens(CounterFamily(r, "ragd_embedding_tokens_total",
                                       "Tokens sent to an embedder (cache misses only)")),
        chat_requests(CounterFamily(r, "ragd_chat_requests_total",
                                    "Chat model runs of Answer calls, by model and status code")),
        chat_prompt_tokens(
            CounterFamily(r, "ragd_chat_prompt_tokens_total", "Prompt tokens sent to chat models")),
        chat_completion_tokens(CounterFamily(r, "ragd_chat_completion_tokens_total",
                                             "Completion tokens received from chat models")),
        chat_cost(CounterFamily(r, "ragd_chat_cost_usd_total",
                                "Estimated cost of chat model runs, US dollars (catalog prices)")),
        chat_duration(prometheus::BuildHistogram()
                          .Name("ragd_chat_duration_seconds")
                          .Help("Latency of one chat model run of an Answer call, seconds")
                          .Register(r)),
        recovery(GaugeFamily(r, "ragd_recovery_duration_seconds",
                             "How long opening the engine took at start-up, seconds")
                     .Add({})) {}

  Family<Counter>& requests;
  Family<Histogram>& duration;
  Family<Gauge>& points;
  Family<Gauge>& deleted_points;
  Family<Gauge>& index_bytes;
  Family<Gauge>& collections;
  Family<Counter>& ingest_documents;
  Family<Counter>& ingest_chunks;
  Family<Counter>& ingest_tokens;
  Family<Counter>& ingest_failures;
  Family<Counter>& embedding_requests;
  Family<Counter>& embedding_retries;
  Family<Counter>& embedding_tokens;
  Family<Counter>& chat_requests;
  Family<Counter>& chat_prompt_tokens;
  Family<Counter>& chat_completion_tokens;
  Family<Counter>& chat_cost;
  Family<Histogram>& chat_duration;
  Gauge& recovery;

  std::mutex mu;  // guards `per_collection` across concurrent scrapes
  struct CollectionGauges {
    Gauge* points;
    Gauge* deleted;
    Gauge* index_bytes;
  };
  std::map<std::string, CollectionGauges> per_collection;
};

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      families_(std::make_unique<Families>(*registry_)) {}

Metrics::~Metrics() = default;

void Metrics::RecordRpc(absl::string_view method, absl::string_view code, double seconds) {
  std::string m(method);
  families_->requests.Add({{"method", m}, {"code", std::string(code)}}).Increment();
  families_->duration.Add({{"method", m}}, RpcBuckets()).Observe(seconds);
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
  f.embedding_requests.Add({{"model", model}})
      .Increment(static_cast<double>(in.embedding_requests));
  f.embedding_retries.Add({{"model", model}}).Increment(static_cast<double>(in.embedding_retries));
  f.embedding_tokens.Add({{"model", model}}).Increment(static_cast<double>(in.embedded_tokens));
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
                                     &f.index_bytes.Add({{"collection", name}})};
        it = f.per_collection.emplace(name, g).first;
      }
      it->second.points->Set(static_cast<double>(c.points));
      it->second.deleted->Set(static_cast<double>(c.deleted_points));
      it->second.index_bytes->Set(static_cast<double>(c.index_bytes));
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
      it = f.per_collection.erase(it);
    }
    f.collections.Add({}).Set(static_cast<double>(collections.size()));
  }
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

std::string MethodLabel(absl::string_view method) {
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

}  // namespace ragd::services
