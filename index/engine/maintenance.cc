// The engine's maintenance: background compactions and periodic snapshots, snapshots on
// demand, backups, and the events reporting how long each took (engine_events.h).

#include <spdlog/spdlog.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "index/engine/engine_impl.h"

namespace ragd::index {
namespace {

// Bulk-load trims come at most this often (Options::trim_after_written_bytes).
constexpr auto kMinTrimGap = std::chrono::seconds(1);

// glibc keeps freed memory in its arenas; this returns whole free pages to the OS.
void TrimHeap() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

// The shortest time between two idle snapshots (BackgroundLoop), seconds.
constexpr int kIdleSnapshotMinGapSeconds = 60;
}  // namespace

std::string_view EngineEventKindName(EngineEventKind kind) {
  switch (kind) {
    case EngineEventKind::kSnapshot:
      return "snapshot";
    case EngineEventKind::kCompaction:
      return "compaction";
    case EngineEventKind::kBackup:
      return "backup";
    case EngineEventKind::kBackupPause:
      return "backup_pause";
    case EngineEventKind::kIdleFlush:
      return "idle_flush";
  }
  return "unknown";
}

void Engine::Impl::Report(EngineEventKind kind, std::string_view collection,
                          std::chrono::steady_clock::time_point start, bool ok) const {
  if (!options_.on_event) return;
  EngineEvent event;
  event.kind = kind;
  event.collection = std::string(collection);
  event.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  event.ok = ok;
  options_.on_event(event);
}

void Engine::Impl::ScheduleCompactions(const std::shared_ptr<Collection>& c) {
  std::lock_guard lock(bg_mu_);
  for (size_t s = 0; s < c->shards.size(); ++s) {
    Shard* shard = c->shards[s].get();
    if (queued_.contains(shard) || !shard->NeedsCompaction()) continue;
    queued_.insert(shard);
    compactions_.emplace_back(c, s);
  }
  bg_cv_.notify_all();
}

void Engine::Impl::BackgroundLoop() {
  auto next_snapshot = std::chrono::steady_clock::now() +
                       std::chrono::seconds(options_.snapshot_interval_seconds);
  // Idle snapshots (below) come at most this often, so that writes arriving in bursts a few
  // seconds apart do not rewrite a large index after each burst.
  const auto idle_snapshot_gap =
      std::chrono::seconds(std::min(kIdleSnapshotMinGapSeconds, options_.snapshot_interval_seconds));
  // Unset until the first snapshot (time_point::min() would overflow in `now - last`).
  std::optional<std::chrono::steady_clock::time_point> last_snapshot;
  std::optional<std::chrono::steady_clock::time_point> last_trim;
  std::unique_lock lock(bg_mu_);
  while (!stop_) {
    if (!compactions_.empty()) {
      auto [weak, s] = compactions_.front();
      compactions_.pop_front();
      bg_busy_ = true;
      lock.unlock();
      if (auto c = weak.lock()) {
        std::optional<bool> compacted;  // set when it ran: whether it succeeded
        const auto start = std::chrono::steady_clock::now();
        {
          std::shared_lock life(c->lifecycle_mu);
          if (!c->dropped) {
            absl::Status st = c->shards[s]->Compact(c->write_mu);
            if (!st.ok()) {
              spdlog::error("collection \"{}\" shard {}: compaction failed: {}", c->spec.name, s,
                            std::string(st.message()));
            }
            compacted = st.ok();
          }
        }
        if (compacted) Report(EngineEventKind::kCompaction, c->spec.name, start, *compacted);
        lock.lock();
        queued_.erase(c->shards[s].get());
      } else {
        lock.lock();
      }
      bg_busy_ = false;
      bg_cv_.notify_all();
      continue;
    }
    if (options_.snapshot_interval_seconds > 0 &&
        std::chrono::steady_clock::now() >= next_snapshot) {
      bg_busy_ = true;
      lock.unlock();
      absl::Status st = SaveSnapshots();
      if (!st.ok()) spdlog::error("periodic snapshot failed: {}", std::string(st.message()));
      lock.lock();
      bg_busy_ = false;
      last_snapshot = std::chrono::steady_clock::now();
      next_snapshot = *last_snapshot + std::chrono::seconds(options_.snapshot_interval_seconds);
      bg_cv_.notify_all();
      continue;
    }
    // Bulk-load trim (Options::trim_after_written_bytes): while writes continue, free heap
    // goes back to the OS every so many bytes written, at most once a second. Not on the write
    // path: malloc_trim walks the whole heap (milliseconds at a few hundred MB).
    std::optional<std::chrono::steady_clock::time_point> trim_due;
    if (options_.trim_after_written_bytes > 0 &&
        bytes_since_trim_.load(std::memory_order_relaxed) >= options_.trim_after_written_bytes) {
      const auto now = std::chrono::steady_clock::now();
      if (!last_trim || now - *last_trim >= kMinTrimGap) {
        bytes_since_trim_.store(0, std::memory_order_relaxed);
        bg_busy_ = true;
        lock.unlock();
        TrimHeap();
        lock.lock();
        bg_busy_ = false;
        last_trim = std::chrono::steady_clock::now();
        bg_cv_.notify_all();
        continue;
      }
      trim_due = *last_trim + kMinTrimGap;
    }
    // Idle flush: due once the last write is idle_flush_seconds old.
    std::optional<std::chrono::steady_clock::time_point> idle_due;
    if (options_.idle_flush_seconds > 0 &&
        writes_since_flush_.load(std::memory_order_acquire)) {
      idle_due = std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(
                     last_write_ns_.load(std::memory_order_relaxed))) +
                 std::chrono::seconds(options_.idle_flush_seconds);
      if (std::chrono::steady_clock::now() >= *idle_due) {
        bg_busy_ = true;
        lock.unlock();
        ReleaseIdleMemory();
        // The periodic snapshot brought forward to this idle moment: after a bulk load the
        // whole index is dirty, and without this Close() would write it on the way down (at
        // 100k x 1536, 630 MB: seconds of a shutdown). The clock of the periodic one restarts,
        // so snapshots come no more often than before plus one per idle period, at most one
        // per idle_snapshot_gap. Nothing is lost either way: snapshots only speed up recovery.
        const auto now = std::chrono::steady_clock::now();
        if (options_.snapshot_interval_seconds > 0 &&
            (!last_snapshot || now - *last_snapshot >= idle_snapshot_gap)) {
          absl::Status st = SaveSnapshots();
          if (!st.ok()) spdlog::error("idle snapshot failed: {}", std::string(st.message()));
          last_snapshot = std::chrono::steady_clock::now();
          next_snapshot = *last_snapshot + std::chrono::seconds(options_.snapshot_interval_seconds);
        }
        lock.lock();
        bg_busy_ = false;
        bg_cv_.notify_all();
        continue;
      }
    }
    if (options_.snapshot_interval_seconds > 0 || idle_due || trim_due) {
      auto wake = std::chrono::steady_clock::time_point::max();
      if (options_.snapshot_interval_seconds > 0) wake = next_snapshot;
      if (idle_due) wake = std::min(wake, *idle_due);
      if (trim_due) wake = std::min(wake, *trim_due);
      bg_cv_.wait_until(lock, wake);
    } else {
      bg_cv_.wait(lock);
    }
  }
}

void Engine::Impl::ReleaseIdleMemory() {
  // Cleared first: a write that lands during the flush arms the next one.
  writes_since_flush_.store(false, std::memory_order_release);
  const auto start = std::chrono::steady_clock::now();
  absl::Status st = store_->Flush();
  if (!st.ok()) {
    spdlog::warn("idle memtable flush failed (will retry after the next write): {}",
                 std::string(st.message()));
    Report(EngineEventKind::kIdleFlush, "", start, false);
    return;
  }
  // What the bulk load's request buffers and the flushed memtables left behind.
  TrimHeap();
  spdlog::debug("writes idle: memtables flushed and heap trimmed in {:.3f} s",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  Report(EngineEventKind::kIdleFlush, "", start, true);
}

void Engine::Impl::WaitForCompactions() {
  std::unique_lock lock(bg_mu_);
  bg_cv_.wait(lock, [&] { return stop_ || (compactions_.empty() && !bg_busy_); });
}

absl::Status Engine::Impl::SaveCollectionSnapshots(Collection& c) {
  const auto start = std::chrono::steady_clock::now();
  bool attempted = false;
  absl::Status st;
  {
    std::shared_lock life(c.lifecycle_mu);
    if (c.dropped) return absl::OkStatus();
    for (const auto& s : c.shards) {
      st = s->SaveSnapshotIfDirty(c.last_sequence, &attempted);
      if (!st.ok()) {
        st = absl::Status(st.code(), "collection \"" + c.spec.name +
                                         "\": snapshot: " + std::string(st.message()));
        break;
      }
    }
  }
  if (attempted) Report(EngineEventKind::kSnapshot, c.spec.name, start, st.ok());
  return st;
}

absl::Status Engine::Impl::SaveSnapshots() {
  std::vector<std::shared_ptr<Collection>> all;
  {
    std::shared_lock lock(catalog_mu_);
    for (const auto& [name, c] : collections_) all.push_back(c);
  }
  absl::Status first;
  for (const auto& c : all) {
    absl::Status st = SaveCollectionSnapshots(*c);
    if (!st.ok() && first.ok()) first = st;
  }
  return first;
}

absl::StatusOr<BackupManifest> Engine::Impl::CreateBackup(const std::string& dir) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<BackupManifest> m = WriteBackup(dir);
  Report(EngineEventKind::kBackup, "", start, m.ok());
  return m;
}

absl::StatusOr<BackupManifest> Engine::Impl::WriteBackup(const std::string& dir) {
  RETURN_IF_ERROR(CheckOpen());
  RETURN_IF_ERROR(internal::PrepareBackupDir(dir));
  // Fresh snapshots make the restored recovery quick; the flush makes the paused checkpoint quick.
  RETURN_IF_ERROR(SaveSnapshots());
  RETURN_IF_ERROR(store_->Flush());
  // The checkpoint is taken inside the data directory, where RocksDB hard-links the SST files
  // instead of copying them, so that writes pause for a flush and some links only; the copy to
  // `dir` (usually another volume) runs once they have resumed. The staging directory goes
  // away whatever happens (Open() removes one a crash left).
  const std::string staging = internal::NewStagingDir(options_.data_dir);
  struct RemoveOnExit {
    const std::string& path;
    ~RemoveOnExit() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
      if (ec) spdlog::warn("backup: cannot remove {}: {}", path, ec.message());
    }
  } remove_staging{staging};
  BackupManifest m;
  const auto pause_start = std::chrono::steady_clock::now();
  absl::Status paused_part = [&]() -> absl::Status {
    // The shared catalog lock keeps collections from being created or dropped; the write
    // mutexes (in name order, so two backups cannot deadlock) make the counts match the copy.
    std::shared_lock catalog(catalog_mu_);
    std::map<std::string_view, Collection*> all;
    for (const auto& [name, c] : collections_) all.emplace(name, c.get());
    std::vector<std::unique_lock<std::mutex>> paused;
    for (const auto& [name, c] : all) paused.emplace_back(c->write_mu);
    ASSIGN_OR_RETURN(m.rocksdb_sequence, store_->CreateCheckpoint(staging));
    for (const auto& [name, c] : all) {
      const CollectionInfo info = Info(*c);
      m.collections.push_back(
          {c->spec.name, c->spec.dimension, c->spec.shards, info.points, info.last_sequence});
    }
    return absl::OkStatus();
  }();
  Report(EngineEventKind::kBackupPause, "", pause_start, paused_part.ok());
  RETURN_IF_ERROR(paused_part);
  absl::StatusOr<uint64_t> bytes = internal::CopyCheckpoint(staging, dir);
  if (!bytes.ok()) {
    // DIR was empty or absent (PrepareBackupDir), so what is in DIR/db is ours: a retry into
    // the same directory then works.
    std::error_code ec;
    std::filesystem::remove_all(std::filesystem::path(dir) / kBackupDbDir, ec);
    return bytes.status();
  }
  spdlog::debug("backup {}: checkpoint copied ({} bytes)", dir, *bytes);
  return internal::FinishBackup(dir, std::move(m));
}

}  // namespace ragd::index
