#include "bench/load_generator.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <utility>

#include "common/status.h"

namespace ragd::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Records are preallocated, one per scheduled request, so that callbacks write their own slot
// without a lock and the generator never reallocates under load. 16 bytes each.
constexpr uint64_t kMaxRequests = 5'000'000;
constexpr int8_t kNotFinished = -1;
constexpr int8_t kDropped = -2;

enum class Kind : uint8_t { kSearch, kUpsert };

struct Record {
  float latency_ms = 0;
  std::atomic<int8_t> code{kNotFinished};
  Kind kind = Kind::kSearch;
  uint64_t upsert = 0;
};

// Outlives Run() when a call is still pending after the drain (its callback holds a reference).
struct Shared {
  explicit Shared(size_t n) : records(n) {}
  std::vector<Record> records;
  std::mutex mu;
  std::condition_variable idle;
  size_t outstanding = 0;   // guarded by mu
  std::string first_error;  // guarded by mu
};

// One call's state, alive from the send to its callback; whichever request kind is unused
// stays an empty message.
struct Call {
  grpc::ClientContext context;
  v1::SearchRequest search_request;
  v1::SearchResponse search_response;
  v1::UpsertRequest upsert_request;
  v1::UpsertResponse upsert_response;
  Clock::time_point scheduled;
  size_t index = 0;
};

const char* CodeName(int code) {
  if (code == kDropped) return "CLIENT_DROPPED";
  if (code == kNotFinished) return "UNFINISHED";
  if (code < 0 || code > 16) return "OTHER";
  return CanonicalCodeName(code);
}

bool IsRejection(int code) {
  return code == grpc::StatusCode::RESOURCE_EXHAUSTED || code == grpc::StatusCode::UNAVAILABLE;
}

// Nearest rank on an ascending vector; 0 when empty.
double Quantile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

nlohmann::json LoadSummary::ToJson() const {
  nlohmann::json j = {{"offered_rate", offered_rate},
                      {"accepted_rate", accepted_rate},
                      {"window_seconds", window_seconds},
                      {"scheduled", scheduled},
                      {"sent", sent},
                      {"client_dropped", client_dropped},
                      {"ok", ok},
                      {"ok_searches", ok_searches},
                      {"ok_upserts", ok_upserts},
                      {"rejected", rejected},
                      {"errors", errors},
                      {"ok_p50_ms", ok_p50_ms},
                      {"ok_p99_ms", ok_p99_ms},
                      {"ok_max_ms", ok_max_ms},
                      {"search_p99_ms", search_p99_ms},
                      {"upsert_p99_ms", upsert_p99_ms},
                      {"reject_p50_ms", reject_p50_ms},
                      {"reject_p99_ms", reject_p99_ms},
                      {"error_p99_ms", error_p99_ms},
                      {"codes", codes}};
  if (!first_error.empty()) j["first_error"] = first_error;
  return j;
}

LoadGenerator::LoadGenerator(std::shared_ptr<grpc::Channel> channel, LoadWorkload workload)
    : channel_(std::move(channel)),
      stub_(v1::Points::NewStub(channel_)),
      workload_(std::move(workload)) {}

LoadSummary LoadGenerator::Run(const LoadPlan& plan) {
  if (plan.rate <= 0 || plan.seconds <= 0) return LoadSummary{};
  const uint64_t limit = std::min<uint64_t>(
      kMaxRequests, plan.max_requests > 0
                        ? plan.max_requests
                        : static_cast<uint64_t>(std::ceil(plan.rate * plan.seconds)) + 1);
  auto shared = std::make_shared<Shared>(static_cast<size_t>(limit));
  std::mt19937_64 rng(workload_.seed * 1000003 + runs_++);
  std::exponential_distribution<double> gap(plan.rate);
  std::uniform_real_distribution<double> unit(0, 1);
  std::normal_distribution<float> coord(0, 1);
  const auto deadline = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(plan.deadline_seconds));

  const Clock::time_point start = Clock::now() + std::chrono::milliseconds(1);
  double t = 0;  // seconds from start of the next request
  bool stopped_by_time = false;
  uint64_t n = 0;
  for (; n < limit; ++n) {
    if (n > 0) t += plan.poisson ? gap(rng) : 1.0 / plan.rate;
    if (t >= plan.seconds) {
      stopped_by_time = true;
      break;
    }
    if (stop_.load(std::memory_order_relaxed)) break;
    const Clock::time_point scheduled =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(t));
    // Returns at once when the sender is behind: the late requests go out back to back and
    // their wait counts in their latency.
    std::this_thread::sleep_until(scheduled);
    Record& record = shared->records[n];
    record.kind = unit(rng) < plan.upsert_fraction ? Kind::kUpsert : Kind::kSearch;
    {
      std::lock_guard<std::mutex> lock(shared->mu);
      if (shared->outstanding >= plan.max_outstanding) {
        record.code.store(kDropped, std::memory_order_relaxed);
        continue;
      }
      ++shared->outstanding;
    }
    auto* call = new Call;
    call->scheduled = scheduled;
    call->index = n;
    // The deadline runs from the scheduled time too, like the latency.
    call->context.set_deadline(std::chrono::system_clock::now() +
                               (scheduled + deadline - Clock::now()));
    auto done = [shared, call](grpc::Status status) {
      Record& r = shared->records[call->index];
      r.latency_ms = static_cast<float>(Ms(Clock::now() - call->scheduled));
      r.code.store(static_cast<int8_t>(status.error_code()), std::memory_order_release);
      delete call;
      std::lock_guard<std::mutex> lock(shared->mu);
      if (!status.ok() && !IsRejection(status.error_code()) && shared->first_error.empty()) {
        shared->first_error =
            std::string(CodeName(status.error_code())) + ": " + status.error_message();
      }
      if (--shared->outstanding == 0) shared->idle.notify_all();
    };
    if (record.kind == Kind::kUpsert) {
      record.upsert = next_upsert_++;
      v1::UpsertRequest& request = call->upsert_request;
      request.set_collection(workload_.collection);
      v1::Point* point = request.add_points();
      point->set_id(workload_.UpsertId(record.upsert));
      point->set_text("load " + std::to_string(record.upsert));
      for (uint32_t d = 0; d < workload_.dimension; ++d) point->add_vector(coord(rng));
      stub_->async()->Upsert(&call->context, &call->upsert_request, &call->upsert_response,
                             std::move(done));
    } else {
      v1::SearchRequest& request = call->search_request;
      request.set_collection(workload_.collection);
      request.set_k(workload_.k);
      request.set_with_payload(false);
      for (uint32_t d = 0; d < workload_.dimension; ++d) request.add_vector(coord(rng));
      stub_->async()->Search(&call->context, &call->search_request, &call->search_response,
                             std::move(done));
    }
  }
  const uint64_t scheduled = n;
  {
    // Every call has a deadline, so this ends; the bound only guards against a client bug.
    std::unique_lock<std::mutex> lock(shared->mu);
    shared->idle.wait_for(lock,
                          std::chrono::duration<double>(plan.deadline_seconds + plan.drain_seconds),
                          [&] { return shared->outstanding == 0; });
  }

  LoadSummary s;
  s.scheduled = scheduled;
  s.window_seconds = stopped_by_time || plan.rate <= 0 ? plan.seconds : t + 1.0 / plan.rate;
  std::vector<double> ok_ms, search_ms, upsert_ms, reject_ms, error_ms;
  for (uint64_t i = 0; i < scheduled; ++i) {
    const Record& r = shared->records[i];
    const int code = r.code.load(std::memory_order_acquire);
    ++s.codes[CodeName(code)];
    if (code == kDropped) {
      ++s.client_dropped;
      continue;
    }
    ++s.sent;
    if (code == grpc::StatusCode::OK) {
      ++s.ok;
      ok_ms.push_back(r.latency_ms);
      if (r.kind == Kind::kUpsert) {
        ++s.ok_upserts;
        s.acknowledged_upserts.push_back(r.upsert);
        upsert_ms.push_back(r.latency_ms);
      } else {
        ++s.ok_searches;
        search_ms.push_back(r.latency_ms);
      }
    } else if (IsRejection(code)) {
      ++s.rejected;
      reject_ms.push_back(r.latency_ms);
    } else {
      ++s.errors;
      if (code != kNotFinished) error_ms.push_back(r.latency_ms);
      if (r.kind == Kind::kUpsert) s.unresolved_upserts.push_back(r.upsert);
    }
  }
  for (auto* v : {&ok_ms, &search_ms, &upsert_ms, &reject_ms, &error_ms}) {
    std::sort(v->begin(), v->end());
  }
  s.offered_rate = s.window_seconds > 0 ? static_cast<double>(scheduled) / s.window_seconds : 0;
  s.accepted_rate = s.window_seconds > 0 ? static_cast<double>(s.ok) / s.window_seconds : 0;
  s.ok_p50_ms = Quantile(ok_ms, 0.50);
  s.ok_p99_ms = Quantile(ok_ms, 0.99);
  s.ok_max_ms = ok_ms.empty() ? 0 : ok_ms.back();
  s.search_p99_ms = Quantile(search_ms, 0.99);
  s.upsert_p99_ms = Quantile(upsert_ms, 0.99);
  s.reject_p50_ms = Quantile(reject_ms, 0.50);
  s.reject_p99_ms = Quantile(reject_ms, 0.99);
  s.error_p99_ms = Quantile(error_ms, 0.99);
  {
    std::lock_guard<std::mutex> lock(shared->mu);
    s.first_error = shared->first_error;
  }
  return s;
}

double FindSustainableRate(LoadGenerator* generator, LoadPlan plan, const RampOptions& ramp,
                           std::vector<LoadSummary>* steps) {
  double best = 0;
  double rate = ramp.start_rate;
  plan.seconds = ramp.step_seconds;
  plan.max_requests = 0;
  for (int step = 0; step < ramp.max_steps; ++step) {
    plan.rate = rate;
    LoadSummary s = generator->Run(plan);
    if (steps != nullptr) steps->push_back(s);
    const uint64_t not_ok = s.scheduled - s.ok;
    const bool pass =
        s.scheduled > 0 && not_ok * 100 <= s.scheduled && s.ok_p99_ms <= ramp.max_p99_ms;
    if (!pass) break;
    best = s.accepted_rate;
    rate *= ramp.factor;
  }
  return best;
}

grpc::Status PrepareCollection(const std::shared_ptr<grpc::Channel>& channel,
                               const LoadWorkload& workload, uint64_t points, bool flat) {
  auto deadline = [] { return std::chrono::system_clock::now() + std::chrono::seconds(60); };
  {
    auto collections = v1::Collections::NewStub(channel);
    v1::CreateCollectionRequest request;
    request.set_name(workload.collection);
    request.set_dimension(workload.dimension);
    request.set_metric(v1::METRIC_COSINE);
    if (flat) request.mutable_index()->mutable_flat();
    v1::CreateCollectionResponse response;
    grpc::ClientContext context;
    context.set_deadline(deadline());
    grpc::Status s = collections->CreateCollection(&context, request, &response);
    if (!s.ok() && s.error_code() != grpc::StatusCode::ALREADY_EXISTS) return s;
  }
  auto stub = v1::Points::NewStub(channel);
  std::mt19937_64 rng(workload.seed);
  std::normal_distribution<float> coord(0, 1);
  constexpr uint64_t kBatch = 1000;
  for (uint64_t first = 0; first < points; first += kBatch) {
    v1::UpsertRequest request;
    request.set_collection(workload.collection);
    for (uint64_t i = first; i < std::min(points, first + kBatch); ++i) {
      v1::Point* p = request.add_points();
      p->set_id(workload.id_prefix + "base-" + std::to_string(i));
      for (uint32_t d = 0; d < workload.dimension; ++d) p->add_vector(coord(rng));
    }
    v1::UpsertResponse response;
    grpc::ClientContext context;
    context.set_deadline(deadline());
    grpc::Status s = stub->Upsert(&context, request, &response);
    if (!s.ok()) return s;
  }
  return grpc::Status::OK;
}

bool ParseMix(const std::string& mix, double* upsert_fraction) {
  size_t colon = mix.find(':');
  if (colon == std::string::npos) return false;
  try {
    size_t used = 0;
    double search = std::stod(mix.substr(0, colon), &used);
    if (used != colon) return false;
    std::string rest = mix.substr(colon + 1);
    double upsert = std::stod(rest, &used);
    if (used != rest.size() || search < 0 || upsert < 0 || search + upsert <= 0) return false;
    *upsert_fraction = upsert / (search + upsert);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace ragd::bench
