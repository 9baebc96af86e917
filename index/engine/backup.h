#pragma once
// Backups of an engine's data directory, and restoring one into an empty data directory.
//
// A backup is a directory:
//   DIR/db/             a RocksDB checkpoint of DATA_DIR/db (every column family, including the
//                       index snapshots, at one sequence number)
//   DIR/manifest.json   written last (temporary name, fsync, rename): its presence marks a
//                       complete backup. Format, ragd version, creation time and, per
//                       collection, the points and last write sequence the copy holds.
// Engine::CreateBackup() writes one; RestoreBackup() copies one into a data directory before
// the engine opens it. Recovery then treats the copy like any data directory: index snapshots
// are loaded and reconciled with RocksDB, so the restored state is exactly the checkpoint's.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ragd::index {

inline constexpr std::string_view kBackupManifestFile = "manifest.json";
inline constexpr std::string_view kBackupDbDir = "db";
// Written into a data directory by RestoreBackup(): the manifest of the backup it holds.
inline constexpr std::string_view kRestoredFromFile = "restored-from.json";
// Engine::CreateBackup() takes its checkpoint into DATA_DIR/backup-staging-<unique> (same
// filesystem as the database: hard links), copies it to the backup directory, then removes it;
// Engine::Open() removes those a crash left behind.
inline constexpr std::string_view kBackupStagingPrefix = "backup-staging-";

struct BackupManifest {
  // Bumped when the layout of a backup changes; RestoreBackup() refuses newer ones.
  static constexpr uint32_t kFormatVersion = 1;

  struct Collection {
    std::string name;
    uint32_t dimension = 0;
    uint32_t shards = 0;
    uint64_t points = 0;         // live points in the copy
    uint64_t last_sequence = 0;  // last write batch in the copy
  };

  uint32_t format_version = kFormatVersion;
  std::string ragd_version;
  uint32_t storage_format_version = 0;  // the engine's on-disk format (keys.h)
  int64_t created_at_unix_ms = 0;
  uint64_t rocksdb_sequence = 0;        // RocksDB sequence number of the checkpoint
  std::vector<Collection> collections;  // ordered by name

  std::string ToJson() const;
  // DATA_LOSS when `json` is not a manifest.
  static absl::StatusOr<BackupManifest> FromJson(std::string_view json);
};

// Reads and checks DIR/manifest.json and that DIR/db holds a database.
// FAILED_PRECONDITION: no manifest (not a backup, or one that did not finish), a newer backup
// format or storage format than this ragd's. DATA_LOSS: unreadable manifest, no DIR/db/CURRENT.
// INVALID_ARGUMENT: `backup_dir` empty.
absl::StatusOr<BackupManifest> ReadBackup(const std::string& backup_dir);

struct RestoreResult {
  BackupManifest manifest;
  // True when DATA_DIR already held this very backup (restored by an earlier start) and was
  // left alone: a restarted pod with the same --restore-from must not crash-loop nor clobber
  // the writes made since.
  bool already_restored = false;
  uint64_t bytes_copied = 0;
};

// Copies the backup in `backup_dir` into `data_dir`/db, which must be absent or empty: files
// are copied to DATA_DIR/db.restoring and fsynced, DATA_DIR/restored-from.json is written, and
// the directory is renamed to DATA_DIR/db, so a crash at any point leaves either no database
// (run it again) or the whole backup. Not thread-safe with an engine open on `data_dir`.
// Errors of ReadBackup(); FAILED_PRECONDITION when DATA_DIR/db holds another database;
// UNAVAILABLE (I/O errors, naming the path).
absl::StatusOr<RestoreResult> RestoreBackup(const std::string& backup_dir,
                                            const std::string& data_dir);

namespace internal {

// For Engine::CreateBackup: `dir` must be absolute (it is resolved on the server, whose
// working directory the caller cannot know) and absent or empty; it is created.
// INVALID_ARGUMENT (relative or empty), ALREADY_EXISTS (holds a manifest), FAILED_PRECONDITION
// (not empty, not a directory, cannot be created).
absl::Status PrepareBackupDir(const std::string& dir);
// Completes `manifest` (versions, creation time) and writes DIR/manifest.json durably
// (temporary name, fsync, rename, fsync of DIR), which marks the backup complete.
absl::StatusOr<BackupManifest> FinishBackup(const std::string& dir, BackupManifest manifest);
// A new name DATA_DIR/backup-staging-<unix ms>-<n>, not yet created, for a staging checkpoint.
std::string NewStagingDir(const std::string& data_dir);
// Puts the files of the checkpoint `staging` into DIR/db (created): a hard link where DIR is on
// the same filesystem, a copy otherwise (the usual case: a backup volume), each file fsynced,
// then DIR/db and DIR. Returns the bytes put there. UNAVAILABLE naming the path (I/O),
// RESOURCE_EXHAUSTED (no space).
absl::StatusOr<uint64_t> CopyCheckpoint(const std::string& staging, const std::string& dir);
// Removes DATA_DIR/backup-staging-* (left by a backup that crashed): for Engine::Open, once it
// holds the database's lock, so no running backup can own them. Returns how many.
absl::StatusOr<int> RemoveStagingDirs(const std::string& data_dir);

}  // namespace internal
}  // namespace ragd::index
