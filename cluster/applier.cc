#include "cluster/applier.h"

#include <atomic>
#include <map>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "cluster/log_codec.h"
#include "spdlog/spdlog.h"

namespace ragd::cluster {
namespace {

std::string EncodeU64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

uint64_t DecodeU64(std::string_view s) {
  uint64_t v = 0;
  for (char c : s) v = (v << 8) | static_cast<unsigned char>(c);
  return v;
}

// What every replica refuses alike: skipping it keeps replicas identical. Anything else may
// succeed on a retry (I/O, memory), and skipping it on one replica only would diverge.
bool IsDeterministicRejection(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kOutOfRange:
      return true;
    default:
      return false;
  }
}

}  // namespace

absl::Status ApplierOptions::Validate() const {
  if (poll_interval < std::chrono::milliseconds(1) || poll_interval > std::chrono::seconds(10)) {
    return absl::InvalidArgumentError("poll_interval: must be 1 ms..10 s");
  }
  if (retry_backoff < std::chrono::milliseconds(1) || retry_backoff > std::chrono::minutes(1)) {
    return absl::InvalidArgumentError("retry_backoff: must be 1 ms..1 min");
  }
  if (absl::Status st = placement.Validate(); !st.ok()) return st;
  if (apply_delay < std::chrono::milliseconds(0) || apply_delay > std::chrono::seconds(10)) {
    return absl::InvalidArgumentError("apply_delay: must be 0..10 s");
  }
  return absl::OkStatus();
}

class Applier::Impl {
 public:
  Impl(JetStreamLog* log, index::Engine* engine, ApplierOptions options)
      : log_(log), engine_(engine), options_(options) {}
  ~Impl() { Stop(); }

  absl::Status Start() {
    auto stored = engine_->GetAux(Applier::kAuxNamespace, Applier::kCatalogSequenceKey);
    if (!stored.ok()) return stored.status();
    {
      absl::MutexLock l(&mu_);
      catalog_position_ = stored->has_value() ? DecodeU64(**stored) : 0;
    }
    for (const auto& info : engine_->ListCollections()) StartCollection(info.spec.name);
    catalog_thread_ = std::thread([this] { CatalogLoop(); });
    return absl::OkStatus();
  }

  void Stop() {
    if (stopping_.exchange(true)) {
      // Joined by the first caller; a second caller waits for nothing more.
      return;
    }
    {
      absl::MutexLock l(&mu_);  // wakes waiters so that they see stopping_
    }
    if (catalog_thread_.joinable()) catalog_thread_.join();
    std::map<std::string, std::unique_ptr<Worker>> workers;
    {
      absl::MutexLock l(&workers_mu_);
      workers.swap(workers_);
    }
    for (auto& [name, w] : workers) {
      w->stop = true;
      if (w->thread.joinable()) w->thread.join();
    }
  }

  absl::StatusOr<uint64_t> Position(std::string_view collection) const {
    absl::MutexLock l(&mu_);
    auto it = positions_.find(std::string(collection));
    if (it == positions_.end()) {
      return absl::NotFoundError("collection \"" + std::string(collection) +
                                 "\" is not held by this replica");
    }
    return it->second;
  }

  uint64_t CatalogPosition() const {
    absl::MutexLock l(&mu_);
    return catalog_position_;
  }

  absl::Status WaitForSequence(std::string_view collection, uint64_t sequence,
                               absl::Time deadline) const {
    const std::string name(collection);
    absl::MutexLock l(&mu_);
    auto reached = [&]() {
      mu_.AssertHeld();
      auto it = positions_.find(name);
      return stopping_.load() || (it != positions_.end() && it->second >= sequence);
    };
    mu_.AwaitWithDeadline(absl::Condition(&reached), deadline);
    auto it = positions_.find(name);
    if (it != positions_.end() && it->second >= sequence) return absl::OkStatus();
    if (stopping_.load()) return absl::CancelledError("applier stopped");
    return absl::DeadlineExceededError(
        "collection \"" + name + "\": sequence " + std::to_string(sequence) +
        " not applied by the deadline (applied: " +
        (it == positions_.end() ? std::string("collection not created yet")
                                : std::to_string(it->second)) +
        ")");
  }

  absl::Status WaitForCatalogSequence(uint64_t sequence, absl::Time deadline) const {
    absl::MutexLock l(&mu_);
    auto reached = [&]() {
      mu_.AssertHeld();
      return stopping_.load() || catalog_position_ >= sequence;
    };
    mu_.AwaitWithDeadline(absl::Condition(&reached), deadline);
    if (catalog_position_ >= sequence) return absl::OkStatus();
    if (stopping_.load()) return absl::CancelledError("applier stopped");
    return absl::DeadlineExceededError(
        "catalog sequence " + std::to_string(sequence) +
        " not applied by the deadline (applied: " + std::to_string(catalog_position_) + ")");
  }

  ApplierStats stats() const {
    absl::MutexLock l(&mu_);
    return stats_;
  }

 private:
  struct Worker {
    std::atomic<bool> stop{false};
    std::thread thread;
  };

  bool Stopping(const Worker* w = nullptr) const {
    return stopping_.load() || (w != nullptr && w->stop.load());
  }

  // Sleeps up to `d`, returning early when stopping.
  void Backoff(const Worker* w = nullptr) {
    const auto until = std::chrono::steady_clock::now() + options_.retry_backoff;
    while (!Stopping(w) && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  void Note(uint64_t ApplierStats::*counter, const std::string& error) {
    absl::MutexLock l(&mu_);
    ++(stats_.*counter);
    if (!error.empty()) stats_.last_error = error;
  }

  void Advance(const std::string& collection, uint64_t sequence) {
    absl::MutexLock l(&mu_);
    uint64_t& p = positions_[collection];
    if (sequence > p) p = sequence;
  }

  void StartCollection(const std::string& name) {
    absl::MutexLock l(&workers_mu_);
    if (workers_.contains(name)) return;
    uint64_t start = 0;
    if (auto info = engine_->GetCollection(name); info.ok()) start = info->last_sequence;
    {
      absl::MutexLock pl(&mu_);
      positions_[name] = start;
    }
    auto w = std::make_unique<Worker>();
    Worker* raw = w.get();
    w->thread = std::thread([this, name, start, raw] { CollectionLoop(name, start, raw); });
    workers_.emplace(name, std::move(w));
  }

  void StopCollection(const std::string& name) {
    std::unique_ptr<Worker> w;
    {
      absl::MutexLock l(&workers_mu_);
      auto it = workers_.find(name);
      if (it == workers_.end()) return;
      w = std::move(it->second);
      workers_.erase(it);
    }
    w->stop = true;
    if (w->thread.joinable()) w->thread.join();
    absl::MutexLock l(&mu_);
    positions_.erase(name);
  }

  void CollectionLoop(const std::string& name, uint64_t position, Worker* w) {
    std::unique_ptr<LogReader> reader;
    while (!Stopping(w)) {
      if (reader == nullptr) {
        auto r = log_->Subscribe(name, position + 1);
        if (!r.ok()) {
          const std::string err = "collection \"" + name + "\": subscribe from " +
                                  std::to_string(position + 1) + ": " +
                                  std::string(r.status().message());
          spdlog::warn("cluster: {}", err);
          Note(&ApplierStats::retries, err);
          Backoff(w);
          continue;
        }
        reader = *std::move(r);
      }
      auto m = reader->Next(options_.poll_interval);
      if (!m.ok()) {
        const std::string err = "collection \"" + name + "\": " + std::string(m.status().message());
        spdlog::warn("cluster: {}; subscribing again from {}", err, position + 1);
        Note(&ApplierStats::retries, err);
        reader.reset();
        Backoff(w);
        continue;
      }
      if (!m->has_value()) continue;
      LogMessage& msg = **m;
      if (msg.sequence <= position) continue;  // delivered again after a consumer reset
      if (options_.apply_delay.count() > 0) std::this_thread::sleep_for(options_.apply_delay);
      if (!ApplyPoints(name, msg, w)) return;  // stopped while retrying
      position = msg.sequence;
      Advance(name, position);
    }
  }

  // Applies one entry of a collection stream (or skips it). False when stopped before the
  // entry could be applied.
  bool ApplyPoints(const std::string& name, LogMessage& msg, const Worker* w) {
    const std::string where = "collection \"" + name + "\" entry " + std::to_string(msg.sequence);
    auto entry = DecodeLogEntry(msg.data);
    if (!entry.ok()) {
      const std::string err = where + ": " + std::string(entry.status().message()) + "; skipped";
      spdlog::error("cluster: {}", err);
      Note(&ApplierStats::malformed, err);
      return true;
    }
    auto* write = std::get_if<PointWrite>(&entry->op);
    if (write == nullptr) {
      const std::string err = where + ": a catalog operation on a collection stream; skipped";
      spdlog::error("cluster: {}", err);
      Note(&ApplierStats::malformed, err);
      return true;
    }
    for (;;) {
      index::WriteBatch batch;
      batch.collection = name;
      batch.sequence = msg.sequence;
      batch.upserts = write->upserts;  // a retry needs the originals
      batch.deletes = write->deletes;
      batch.aux = write->aux;
      if (options_.placement.groups > 1) {
        batch.holds_shard = [p = options_.placement](uint32_t shard, uint32_t) {
          return p.Holds(shard);
        };
      }
      auto r = engine_->Apply(std::move(batch));
      if (r.ok()) {
        Note(&ApplierStats::applied, "");
        return true;
      }
      const std::string err =
          where + " (request " + entry->request_id + "): " + std::string(r.status().message());
      if (IsDeterministicRejection(r.status().code())) {
        spdlog::error("cluster: {}; refused by the engine ({}), skipped", err,
                      absl::StatusCodeToString(r.status().code()));
        Note(&ApplierStats::rejected, err);
        return true;
      }
      spdlog::warn("cluster: {}; retrying", err);
      Note(&ApplierStats::retries, err);
      Backoff(w);
      if (Stopping(w)) return false;
    }
  }

  void CatalogLoop() {
    bool ensured = false;
    std::unique_ptr<LogReader> reader;
    while (!Stopping()) {
      if (!ensured) {
        absl::Status st = log_->EnsureCatalogStream();
        if (!st.ok()) {
          spdlog::warn("cluster: catalog stream: {}", std::string(st.message()));
          Note(&ApplierStats::retries, "catalog stream: " + std::string(st.message()));
          Backoff();
          continue;
        }
        ensured = true;
      }
      const uint64_t position = CatalogPosition();
      if (reader == nullptr) {
        auto r = log_->SubscribeCatalog(position + 1);
        if (!r.ok()) {
          spdlog::warn("cluster: catalog: subscribe: {}", std::string(r.status().message()));
          Note(&ApplierStats::retries, "catalog: " + std::string(r.status().message()));
          Backoff();
          continue;
        }
        reader = *std::move(r);
      }
      auto m = reader->Next(options_.poll_interval);
      if (!m.ok()) {
        spdlog::warn("cluster: catalog: {}; subscribing again", std::string(m.status().message()));
        Note(&ApplierStats::retries, "catalog: " + std::string(m.status().message()));
        reader.reset();
        Backoff();
        continue;
      }
      if (!m->has_value() || (*m)->sequence <= position) continue;
      if (!ApplyCatalog(**m)) return;
    }
  }

  // Applies one catalog entry and stores the new position. False when stopped meanwhile.
  bool ApplyCatalog(const LogMessage& msg) {
    const std::string where = "catalog entry " + std::to_string(msg.sequence);
    auto entry = DecodeLogEntry(msg.data);
    if (!entry.ok()) {
      const std::string err = where + ": " + std::string(entry.status().message()) + "; skipped";
      spdlog::error("cluster: {}", err);
      Note(&ApplierStats::malformed, err);
    } else if (auto* create = std::get_if<CreateCollection>(&entry->op)) {
      for (;;) {
        absl::Status st = engine_->CreateCollection(create->spec);
        if (st.ok() || st.code() == absl::StatusCode::kAlreadyExists) {
          if (st.ok()) {
            Note(&ApplierStats::applied, "");
          } else {
            spdlog::info("cluster: {}: collection \"{}\" exists already (a replay)", where,
                         create->spec.name);
          }
          StartCollection(create->spec.name);
          break;
        }
        const std::string err = where + ": create collection \"" + create->spec.name +
                                "\": " + std::string(st.message());
        if (IsDeterministicRejection(st.code())) {
          spdlog::error("cluster: {}; refused, skipped", err);
          Note(&ApplierStats::rejected, err);
          break;
        }
        spdlog::warn("cluster: {}; retrying", err);
        Note(&ApplierStats::retries, err);
        Backoff();
        if (Stopping()) return false;
      }
    } else if (auto* del = std::get_if<DeleteCollection>(&entry->op)) {
      StopCollection(del->name);
      for (;;) {
        absl::Status st = engine_->DeleteCollection(del->name);
        if (st.ok() || st.code() == absl::StatusCode::kNotFound) {
          if (st.ok()) Note(&ApplierStats::applied, "");
          break;
        }
        const std::string err =
            where + ": delete collection \"" + del->name + "\": " + std::string(st.message());
        spdlog::warn("cluster: {}; retrying", err);
        Note(&ApplierStats::retries, err);
        Backoff();
        if (Stopping()) return false;
      }
    } else {
      const std::string err = where + ": a point batch on the catalog stream; skipped";
      spdlog::error("cluster: {}", err);
      Note(&ApplierStats::malformed, err);
    }
    // The position is stored after the operation: a crash in between re-reads this one entry,
    // and create/delete are idempotent.
    for (;;) {
      absl::Status st = engine_->PutAux(Applier::kAuxNamespace,
                                        {{Applier::kCatalogSequenceKey, EncodeU64(msg.sequence)}});
      if (st.ok()) break;
      spdlog::warn("cluster: storing the catalog position {}: {}; retrying", msg.sequence,
                   std::string(st.message()));
      Note(&ApplierStats::retries, "catalog position: " + std::string(st.message()));
      Backoff();
      if (Stopping()) return false;
    }
    absl::MutexLock l(&mu_);
    catalog_position_ = msg.sequence;
    return true;
  }

  JetStreamLog* const log_;
  index::Engine* const engine_;
  const ApplierOptions options_;
  std::atomic<bool> stopping_{false};
  std::thread catalog_thread_;

  absl::Mutex workers_mu_;
  std::map<std::string, std::unique_ptr<Worker>> workers_ ABSL_GUARDED_BY(workers_mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, uint64_t> positions_ ABSL_GUARDED_BY(mu_);
  uint64_t catalog_position_ ABSL_GUARDED_BY(mu_) = 0;
  ApplierStats stats_ ABSL_GUARDED_BY(mu_);
};

Applier::Applier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Applier::~Applier() { Stop(); }

absl::StatusOr<std::unique_ptr<Applier>> Applier::Start(JetStreamLog* log, index::Engine* engine,
                                                        const ApplierOptions& options) {
  if (log == nullptr || engine == nullptr) {
    return absl::InvalidArgumentError("Applier::Start: log and engine are required");
  }
  if (absl::Status st = options.Validate(); !st.ok()) return st;
  auto impl = std::make_unique<Impl>(log, engine, options);
  if (absl::Status st = impl->Start(); !st.ok()) return st;
  return std::unique_ptr<Applier>(new Applier(std::move(impl)));
}

void Applier::Stop() { impl_->Stop(); }
absl::StatusOr<uint64_t> Applier::Position(std::string_view collection) const {
  return impl_->Position(collection);
}
uint64_t Applier::CatalogPosition() const { return impl_->CatalogPosition(); }
absl::Status Applier::WaitForSequence(std::string_view collection, uint64_t sequence,
                                      absl::Time deadline) const {
  return impl_->WaitForSequence(collection, sequence, deadline);
}
absl::Status Applier::WaitForCatalogSequence(uint64_t sequence, absl::Time deadline) const {
  return impl_->WaitForCatalogSequence(sequence, deadline);
}
ApplierStats Applier::stats() const { return impl_->stats(); }

}  // namespace ragd::cluster
