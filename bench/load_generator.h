#pragma once
// An open-loop load generator for ragd.v1.Points on the gRPC callback client API.
//
// Open loop: request i is scheduled at a time fixed in advance (uniform spacing or Poisson
// arrivals at `rate`), and is sent then whether or not earlier requests have been answered, as
// independent clients would. Its latency is measured from that scheduled time, not from the
// moment it actually left, so that a stalled server or a late sender shows up in the figures
// instead of silently slowing the offered load (Gil Tene's "coordinated omission").
//
// Bounded: sending stops after `max_requests` or `seconds`, whichever comes first; at most
// `max_outstanding` calls are in flight, and a request due while that many are pending is not
// sent but counted as `client_dropped` (so the generator's own memory stays bounded, and the
// drop shows that the server is not keeping up); every call has a deadline.
//
// Thread safety: Run() may be called from one thread at a time; callbacks run on gRPC's threads.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ragd/v1/collections.grpc.pb.h"
#include "ragd/v1/points.grpc.pb.h"

namespace ragd::bench {

// What the requests contain. Searches carry a random unit-ish query; upsert n writes one point
// with id UpsertId(n), text "load <n>" and a random vector, so that a caller can Get every
// acknowledged upsert afterwards.
struct LoadWorkload {
  std::string collection = "load";
  uint32_t dimension = 64;
  uint32_t k = 10;
  std::string id_prefix = "load-";  // distinct per run when several runs share a collection
  uint64_t seed = 1;

  std::string UpsertId(uint64_t n) const { return id_prefix + std::to_string(n); }
};

struct LoadPlan {
  // Offered requests per second. Default: 100.
  double rate = 100;
  // Sending stops after this long. Default: 10 s.
  double seconds = 10;
  // ... or after this many requests (0: rate x seconds). Default: 0.
  uint64_t max_requests = 0;
  // Fraction of requests that are Upserts, the rest Searches (--mix search:upsert). Default: 0.
  double upsert_fraction = 0;
  // Exponential inter-arrival times (Poisson arrivals) rather than uniform spacing.
  // Default: true.
  bool poisson = true;
  // Calls in flight at most; beyond, a due request is dropped by the client. Default: 2000.
  size_t max_outstanding = 2000;
  // Deadline of each call, from its scheduled time. Default: 5 s.
  double deadline_seconds = 5;
  // Once sending stops, how long to wait for the calls still in flight (then they are
  // cancelled and counted with their final status). Default: 10 s.
  double drain_seconds = 10;
};

// Latencies are in milliseconds from each request's scheduled send time.
struct LoadSummary {
  double offered_rate = 0;    // scheduled requests / send window
  double accepted_rate = 0;   // OK answers / send window
  double window_seconds = 0;  // from the first scheduled send to the last
  uint64_t scheduled = 0;     // requests due in the window
  uint64_t sent = 0;
  uint64_t client_dropped = 0;  // due while max_outstanding calls were pending: not sent
  uint64_t ok = 0;
  uint64_t rejected = 0;  // RESOURCE_EXHAUSTED or UNAVAILABLE: refused by ragd's limits
  uint64_t errors = 0;    // every other non-OK status (DEADLINE_EXCEEDED, INTERNAL, ...)
  uint64_t ok_searches = 0;
  uint64_t ok_upserts = 0;
  double ok_p50_ms = 0;
  double ok_p99_ms = 0;
  double ok_max_ms = 0;
  double search_p99_ms = 0;  // OK searches only
  double upsert_p99_ms = 0;  // OK upserts only (they wait for a WAL fsync)
  double reject_p50_ms = 0;
  double reject_p99_ms = 0;
  double error_p99_ms = 0;
  std::map<std::string, uint64_t> codes;  // status code name -> count
  std::string first_error;                // the first non-OK, non-rejected status, if any
  // Upsert numbers (LoadWorkload::UpsertId) answered OK: these points must be stored.
  std::vector<uint64_t> acknowledged_upserts;
  // Upsert numbers sent and not answered OK nor rejected: may or may not be stored.
  std::vector<uint64_t> unresolved_upserts;

  nlohmann::json ToJson() const;  // without the id lists
};

class LoadGenerator {
 public:
  // `channel` must outlive the generator.
  LoadGenerator(std::shared_ptr<grpc::Channel> channel, LoadWorkload workload);

  // Sends `plan` and waits for the answers (at most plan.seconds + plan.drain_seconds plus the
  // deadline of the last calls). Upsert numbers continue across runs of one generator, so that
  // a ramp never rewrites an earlier run's points.
  LoadSummary Run(const LoadPlan& plan);

  // Makes the current Run() stop sending (it still waits for the calls in flight) and every
  // later Run() send nothing. Thread-safe; for a test that ends a load from another thread.
  void RequestStop() { stop_.store(true); }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Points::Stub> stub_;
  LoadWorkload workload_;
  uint64_t next_upsert_ = 0;
  uint64_t runs_ = 0;
  std::atomic<bool> stop_{false};
};

// Finds the highest rate at which ragd still accepts nearly everything: runs `step_seconds`
// steps from `start_rate`, multiplying by `factor`, until a step has more than 1% of its
// requests not answered OK (rejected, dropped or failed), its OK p99 exceeds `max_p99_ms`, or
// `max_steps` steps have run. Returns the accepted rate of the last passing step (0 when the
// first fails) and appends every step's summary to `steps` when not null.
struct RampOptions {
  double start_rate = 200;    // Default: 200/s.
  double factor = 1.5;        // Default: x1.5 per step.
  double step_seconds = 1.5;  // Default: 1.5 s.
  int max_steps = 12;         // Default: 12.
  double max_p99_ms = 100;    // Default: 100 ms.
};
double FindSustainableRate(LoadGenerator* generator, LoadPlan plan, const RampOptions& ramp,
                           std::vector<LoadSummary>* steps = nullptr);

// Creates workload.collection (dimension, COSINE, a flat index when `flat`, else HNSW with
// ragd's defaults; an existing one is kept) and upserts `points` random points with ids
// "<id_prefix>base-<i>" in batches of 1,000, so that searches have work to do.
grpc::Status PrepareCollection(const std::shared_ptr<grpc::Channel>& channel,
                               const LoadWorkload& workload, uint64_t points, bool flat);

// Parses "search:upsert" weights ("9:1", "1:0") into the upsert fraction; false when malformed.
bool ParseMix(const std::string& mix, double* upsert_fraction);

}  // namespace ragd::bench
