#pragma once
// What the engine reports about its maintenance work, so that a layer above (services'
// metrics) can time it without the engine depending on that layer: Engine::Options::on_event
// is called once after each
//   snapshot    a collection's index snapshots saved (periodically, on Close, before a backup;
//               only when at least one of its shards had changed since its last snapshot),
//   compaction  one shard's index rebuilt in the background (removed slots reclaimed),
//   backup      one CreateBackup call, refused or failed calls included,
//   backup_pause  the part of a CreateBackup call during which every collection's writes
//               were paused (the checkpoint into the data directory), reported as the writes
//               resume and before the copy to the backup directory starts,
//   idle_flush  memtables flushed and heap trimmed once writes stopped (idle_flush_seconds).

#include <functional>
#include <string>
#include <string_view>

namespace ragd::index {

enum class EngineEventKind { kSnapshot, kCompaction, kBackup, kBackupPause, kIdleFlush };

// "snapshot", "compaction", "backup", "backup_pause", "idle_flush".
std::string_view EngineEventKindName(EngineEventKind kind);

struct EngineEvent {
  EngineEventKind kind = EngineEventKind::kSnapshot;
  // The collection for snapshots and compactions; "" for a backup, its pause and an idle
  // flush (they cover them all).
  std::string collection;
  // Wall time of the work, seconds.
  double seconds = 0;
  // False when the work failed (the engine logs why; a failed compaction leaves the old index
  // in place, a failed snapshot is retried at the next one).
  bool ok = true;
};

// Called on the thread that did the work (the engine's background thread, or the caller of
// SaveSnapshots, CreateBackup or Close), possibly concurrently, while no engine lock is held.
// It must be quick, must not throw and must not call back into the engine.
using EngineEventCallback = std::function<void(const EngineEvent&)>;

}  // namespace ragd::index
