#include "cluster/monitor.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "spdlog/spdlog.h"

namespace ragd::cluster {

const char* ReadLevelName(ReadLevel level) {
  switch (level) {
    case ReadLevel::kEventual:
      return "EVENTUAL";
    case ReadLevel::kBounded:
      return "BOUNDED";
    case ReadLevel::kSession:
      return "SESSION";
    case ReadLevel::kStrong:
      return "STRONG";
  }
  return "?";
}

absl::Status MonitorOptions::Validate() const {
  if (pod_id.empty()) return absl::InvalidArgumentError("pod_id: required");
  if (status_interval < std::chrono::milliseconds(10) ||
      status_interval > std::chrono::minutes(1)) {
    return absl::InvalidArgumentError("status_interval_ms: must be 10..60000");
  }
  if (bounded_staleness < std::chrono::milliseconds(0) ||
      bounded_staleness > std::chrono::hours(1)) {
    return absl::InvalidArgumentError("bounded_staleness_ms: must be 0..3600000");
  }
  return absl::OkStatus();
}

std::string EncodePodStatus(const PodStatus& s) {
  nlohmann::json j;
  j["pod_id"] = s.pod_id;
  j["address"] = s.address;
  j["shard_group"] = s.shard_group;
  j["ready"] = s.ready;
  j["not_ready_reason"] = s.not_ready_reason;
  j["catalog_applied"] = s.catalog_applied;
  j["catalog_lag"] = s.catalog_lag;
  j["updated_unix_ms"] = s.updated_unix_ms;
  j["applied_total"] = s.applied_total;
  nlohmann::json cs = nlohmann::json::array();
  for (const CollectionLag& c : s.collections) {
    cs.push_back(
        {{"collection", c.collection}, {"applied", c.applied}, {"head", c.head}, {"lag", c.lag}});
  }
  j["collections"] = std::move(cs);
  return j.dump();
}

absl::StatusOr<PodStatus> DecodePodStatus(std::string_view json) {
  // nlohmann throws on malformed input and wrong types: the one guard of this adapter.
  try {
    const nlohmann::json j = nlohmann::json::parse(json.begin(), json.end());
    PodStatus s;
    s.pod_id = j.at("pod_id").get<std::string>();
    s.address = j.value("address", "");
    s.shard_group = j.value("shard_group", 0);
    s.ready = j.value("ready", false);
    s.not_ready_reason = j.value("not_ready_reason", "");
    s.catalog_applied = j.value("catalog_applied", uint64_t{0});
    s.catalog_lag = j.value("catalog_lag", uint64_t{0});
    s.updated_unix_ms = j.value("updated_unix_ms", int64_t{0});
    s.applied_total = j.value("applied_total", uint64_t{0});
    if (j.contains("collections")) {
      for (const auto& c : j.at("collections")) {
        CollectionLag l;
        l.collection = c.at("collection").get<std::string>();
        l.applied = c.value("applied", uint64_t{0});
        l.head = c.value("head", uint64_t{0});
        l.lag = c.value("lag", uint64_t{0});
        s.collections.push_back(std::move(l));
      }
    }
    return s;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("pod status: ", e.what()));
  }
}

class Monitor::Impl {
 public:
  Impl(JetStreamLog* log, Applier* applier, index::Engine* engine, MonitorOptions options,
       ReadinessCallback on_readiness)
      : log_(log),
        applier_(applier),
        engine_(engine),
        options_(std::move(options)),
        on_readiness_(std::move(on_readiness)) {
    status_.pod_id = options_.pod_id;
    status_.address = options_.address;
    status_.shard_group = options_.shard_group;
    status_.not_ready_reason = "cluster: the log's heads have not been read yet";
  }

  void StartThread() {
    thread_ = std::thread([this] { Loop(); });
  }

  void Stop() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    if (thread_.joinable()) thread_.join();
  }

  absl::StatusOr<uint64_t> AwaitRead(std::string_view collection, ReadLevel level, uint64_t token,
                                     absl::Time deadline) {
    uint64_t target = 0;
    bool must_exist = false;
    switch (level) {
      case ReadLevel::kEventual:
        break;
      case ReadLevel::kSession:
        target = token;
        must_exist = token > 0;
        break;
      case ReadLevel::kBounded: {
        const absl::Time now = absl::Now();
        bool fresh = false;
        {
          absl::MutexLock lock(&mu_);
          auto it = samples_.find(std::string(collection));
          // A head sampled after (now - bound) is at least the head at (now - bound): waiting
          // for it makes every write acknowledged before then visible.
          if (it != samples_.end() &&
              it->second.at >= now - absl::FromChrono(options_.bounded_staleness)) {
            target = it->second.head;
            fresh = true;
          }
        }
        if (!fresh) {
          absl::StatusOr<uint64_t> head = log_->LastSequence(collection);
          if (head.status().code() == absl::StatusCode::kNotFound) break;
          if (!head.ok()) return Annotate(level, head.status());
          target = *head;
        }
        break;
      }
      case ReadLevel::kStrong: {
        absl::StatusOr<uint64_t> head = log_->LastSequence(collection);
        if (head.status().code() == absl::StatusCode::kNotFound) break;
        if (!head.ok()) return Annotate(level, head.status());
        target = *head;
        break;
      }
    }
    if (target > 0) {
      // Only SESSION waits for a collection this pod does not hold yet: its token proves the
      // collection exists in the log. For the others a missing collection is the engine's
      // NOT_FOUND, answered at once.
      if (!must_exist && !applier_->Position(collection).ok()) return 0;
      absl::Status waited = applier_->WaitForSequence(collection, target, deadline);
      if (!waited.ok()) return Annotate(level, waited);
    }
    absl::StatusOr<uint64_t> position = applier_->Position(collection);
    return position.ok() ? *position : 0;
  }

  bool ready() const {
    absl::MutexLock lock(&mu_);
    return status_.ready;
  }
  std::string not_ready_reason() const {
    absl::MutexLock lock(&mu_);
    return status_.not_ready_reason;
  }
  PodStatus status() const {
    absl::MutexLock lock(&mu_);
    return status_;
  }

  absl::StatusOr<std::vector<PodStatus>> ClusterStatus() const {
    auto entries = log_->ListPodStatuses();
    if (!entries.ok()) return entries.status();
    std::vector<PodStatus> out;
    for (const auto& [key, value] : *entries) {
      absl::StatusOr<PodStatus> s = DecodePodStatus(value);
      if (!s.ok()) {
        spdlog::warn("cluster: status of pod {}: {}", key, std::string(s.status().message()));
        continue;
      }
      out.push_back(*std::move(s));
    }
    std::sort(out.begin(), out.end(),
              [](const PodStatus& a, const PodStatus& b) { return a.pod_id < b.pod_id; });
    return out;
  }

 private:
  struct Sample {
    absl::Time at;
    uint64_t head = 0;
  };

  static absl::Status Annotate(ReadLevel level, const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat(ReadLevelName(level), " read: ", s.message()));
  }

  void Loop() {
    bool bucket = false;
    for (;;) {
      const absl::Time started = absl::Now();
      if (!bucket) {
        // Three missed intervals (at least 2 s) and a pod's status expires.
        const auto ttl = std::max<std::chrono::milliseconds>(std::chrono::seconds(2),
                                                             options_.status_interval * 3);
        absl::Status s = log_->EnsurePodBucket(ttl);
        if (s.ok()) {
          bucket = true;
        } else {
          spdlog::warn("cluster: pod status bucket: {}", std::string(s.message()));
        }
      }
      Poll();
      if (bucket) {
        PodStatus s = status();
        absl::Status put = log_->PutPodStatus(options_.pod_id, EncodePodStatus(s));
        if (!put.ok()) spdlog::debug("cluster: writing pod status: {}", put.ToString());
      }
      absl::MutexLock lock(&mu_);
      const absl::Time until = started + absl::FromChrono(options_.status_interval);
      mu_.AwaitWithDeadline(absl::Condition(&stopping_), until);
      if (stopping_) return;
    }
  }

  // Reads every head, then publishes lags and readiness in one step.
  void Poll() {
    const absl::Time at = absl::Now();
    PodStatus next;
    next.pod_id = options_.pod_id;
    next.address = options_.address;
    next.shard_group = options_.shard_group;
    std::string reason;
    std::map<std::string, Sample> samples;
    absl::StatusOr<uint64_t> catalog_head = log_->CatalogLastSequence();
    next.catalog_applied = applier_->CatalogPosition();
    if (!catalog_head.ok()) {
      reason = absl::StrCat("cluster: cannot read the log's head from NATS: ",
                            catalog_head.status().message());
    } else {
      next.catalog_lag =
          *catalog_head > next.catalog_applied ? *catalog_head - next.catalog_applied : 0;
      // Catalog entries are few and quick to apply, and a pod behind on them answers
      // NOT_FOUND for collections that exist: any catalog lag is not ready.
      if (next.catalog_lag > 0) {
        reason =
            absl::StrCat("cluster: catching up: ", next.catalog_lag, " catalog entries behind");
      }
      for (const index::CollectionInfo& info : engine_->ListCollections()) {
        const std::string& name = info.spec.name;
        absl::StatusOr<uint64_t> head = log_->LastSequence(name);
        if (head.status().code() == absl::StatusCode::kNotFound) continue;  // being deleted
        if (!head.ok()) {
          if (reason.empty()) {
            reason = absl::StrCat("cluster: cannot read the head of \"", name,
                                  "\" from NATS: ", head.status().message());
          }
          continue;
        }
        CollectionLag l;
        l.collection = name;
        l.head = *head;
        absl::StatusOr<uint64_t> applied = applier_->Position(name);
        l.applied = applied.ok() ? *applied : 0;
        l.lag = l.head > l.applied ? l.head - l.applied : 0;
        if (l.lag > options_.ready_max_lag && reason.empty()) {
          reason =
              absl::StrCat("cluster: catching up: collection \"", name, "\" is ", l.lag,
                           " entries behind (cluster.ready_max_lag ", options_.ready_max_lag, ")");
        }
        samples[name] = Sample{at, l.head};
        next.collections.push_back(std::move(l));
      }
    }
    next.applied_total = applier_->stats().applied;
    next.ready = reason.empty();
    next.not_ready_reason = reason;
    next.updated_unix_ms = absl::ToUnixMillis(absl::Now());
    bool changed = false;
    {
      absl::MutexLock lock(&mu_);
      changed = first_poll_ || status_.ready != next.ready;
      first_poll_ = false;
      status_ = next;
      for (auto& [name, sample] : samples) samples_[name] = sample;
    }
    if (changed) {
      if (next.ready) {
        spdlog::info("cluster: pod {} is ready", options_.pod_id);
      } else {
        spdlog::warn("cluster: pod {} is not ready: {}", options_.pod_id, reason);
      }
      if (on_readiness_) on_readiness_(next.ready);
    }
  }

  JetStreamLog* const log_;
  Applier* const applier_;
  index::Engine* const engine_;
  const MonitorOptions options_;
  const ReadinessCallback on_readiness_;
  std::thread thread_;

  mutable absl::Mutex mu_;
  bool stopping_ = false;
  bool first_poll_ = true;
  PodStatus status_;
  std::map<std::string, Sample> samples_;  // the last head read per collection
};

Monitor::Monitor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Monitor::~Monitor() { Stop(); }

absl::StatusOr<std::unique_ptr<Monitor>> Monitor::Start(JetStreamLog* log, Applier* applier,
                                                        index::Engine* engine,
                                                        MonitorOptions options,
                                                        ReadinessCallback on_readiness) {
  if (log == nullptr || applier == nullptr || engine == nullptr) {
    return absl::InvalidArgumentError("Monitor: log, applier and engine are required");
  }
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  auto impl =
      std::make_unique<Impl>(log, applier, engine, std::move(options), std::move(on_readiness));
  impl->StartThread();
  return std::unique_ptr<Monitor>(new Monitor(std::move(impl)));
}

void Monitor::Stop() { impl_->Stop(); }
absl::StatusOr<uint64_t> Monitor::AwaitRead(std::string_view collection, ReadLevel level,
                                            uint64_t token, absl::Time deadline) {
  return impl_->AwaitRead(collection, level, token, deadline);
}
bool Monitor::ready() const { return impl_->ready(); }
std::string Monitor::not_ready_reason() const { return impl_->not_ready_reason(); }
PodStatus Monitor::status() const { return impl_->status(); }
absl::StatusOr<std::vector<PodStatus>> Monitor::ClusterStatus() const {
  return impl_->ClusterStatus();
}

}  // namespace ragd::cluster
