#include "index/engine/backup.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/status.h"
#include "index/engine/keys.h"

#ifndef RAGD_VERSION
#define RAGD_VERSION "unknown"
#endif

namespace ragd::index {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::string_view kFormatName = "ragd-backup";
constexpr std::string_view kRestoringSuffix = ".restoring";

absl::Status IoError(const std::string& what, const std::string& path, int err) {
  return absl::UnavailableError(what + " " + path + ": " + std::strerror(err));
}

absl::Status FsError(const std::string& what, const fs::path& path, const std::error_code& ec) {
  return absl::UnavailableError(what + " " + path.string() + ": " + ec.message());
}

// fsync of a directory makes the names created or renamed in it durable, which fsync of the
// files alone does not.
absl::Status SyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return IoError("open", path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return IoError("fsync", path, err);
  return absl::OkStatus();
}

// Temporary name, fsync, rename, fsync of the directory: a reader sees the whole file or none.
absl::Status WriteFileDurably(const fs::path& path, std::string_view content) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out.flush()) return IoError("write", tmp.string(), errno);
  }
  RETURN_IF_ERROR(SyncPath(tmp.string(), false));
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return FsError("rename to", path, ec);
  return SyncPath(path.parent_path().string(), true);
}

absl::StatusOr<std::string> ReadWholeFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("open", path.string(), errno);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool IsEmptyOrAbsentDir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return true;
  return fs::is_directory(dir, ec) && fs::is_empty(dir, ec);
}

// Copies the regular files of `from` into `to` (created), fsyncing each, then `to` itself.
// RocksDB's checkpoint is flat, but sub-directories are followed in case a later one is not.
absl::StatusOr<uint64_t> CopyTreeDurably(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec) return FsError("create", to, ec);
  fs::directory_iterator listing(from, ec);
  if (ec) return FsError("list", from, ec);
  uint64_t bytes = 0;
  for (const fs::directory_entry& entry : listing) {
    const fs::path target = to / entry.path().filename();
    if (entry.is_directory()) {
      ASSIGN_OR_RETURN(uint64_t sub, CopyTreeDurably(entry.path(), target));
      bytes += sub;
      continue;
    }
    fs::copy_file(entry.path(), target, fs::copy_options::overwrite_existing, ec);
    if (ec) return FsError("copy", entry.path(), ec);
    RETURN_IF_ERROR(SyncPath(target.string(), false));
    if (const uintmax_t n = fs::file_size(target, ec); !ec) bytes += n;
  }
  RETURN_IF_ERROR(SyncPath(to.string(), true));
  return bytes;
}

// Copy of the regular file `from` as `to` (absent), fsynced. A full disk is
// RESOURCE_EXHAUSTED, so that the caller hears "no space" rather than "I/O".
absl::Status CopyFileDurably(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec == std::errc::no_space_on_device) {
    return absl::ResourceExhaustedError("copy " + from.string() + " to " + to.string() + ": " +
                                        ec.message());
  }
  if (ec) return FsError("copy", from, ec);
  return SyncPath(to.string(), false);
}

std::string Iso8601(int64_t unix_ms) {
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

std::string BackupManifest::ToJson() const {
  json j;
  j["format"] = std::string(kFormatName);
  j["format_version"] = format_version;
  j["ragd_version"] = ragd_version;
  j["storage_format_version"] = storage_format_version;
  j["created_at"] = Iso8601(created_at_unix_ms);  // for people; the number is authoritative
  j["created_at_unix_ms"] = created_at_unix_ms;
  j["rocksdb_sequence"] = rocksdb_sequence;
  j["collections"] = json::array();
  for (const Collection& c : collections) {
    j["collections"].push_back({{"name", c.name},
                                {"dimension", c.dimension},
                                {"shards", c.shards},
                                {"points", c.points},
                                {"last_sequence", c.last_sequence}});
  }
  return j.dump(2) + "\n";
}

absl::StatusOr<BackupManifest> BackupManifest::FromJson(std::string_view text) {
  try {
    const json j = json::parse(text);
    if (j.at("format").get<std::string>() != kFormatName) {
      return absl::DataLossError("manifest: \"format\" is not \"ragd-backup\"");
    }
    BackupManifest m;
    m.format_version = j.at("format_version").get<uint32_t>();
    m.ragd_version = j.at("ragd_version").get<std::string>();
    m.storage_format_version = j.at("storage_format_version").get<uint32_t>();
    m.created_at_unix_ms = j.at("created_at_unix_ms").get<int64_t>();
    m.rocksdb_sequence = j.at("rocksdb_sequence").get<uint64_t>();
    for (const json& c : j.at("collections")) {
      m.collections.push_back(
          Collection{c.at("name").get<std::string>(), c.at("dimension").get<uint32_t>(),
                     c.at("shards").get<uint32_t>(), c.at("points").get<uint64_t>(),
                     c.at("last_sequence").get<uint64_t>()});
    }
    return m;
  } catch (const json::exception& e) {
    return absl::DataLossError(std::string("manifest: ") + e.what());
  }
}

absl::StatusOr<BackupManifest> ReadBackup(const std::string& backup_dir) {
  if (backup_dir.empty()) return absl::InvalidArgumentError("backup directory: empty");
  const fs::path dir(backup_dir);
  const fs::path manifest_path = dir / kBackupManifestFile;
  std::error_code ec;
  if (!fs::exists(manifest_path, ec)) {
    return absl::FailedPreconditionError(
        manifest_path.string() +
        " does not exist: not a ragd backup, or one that did not finish (take a new one)");
  }
  ASSIGN_OR_RETURN(std::string text, ReadWholeFile(manifest_path));
  absl::StatusOr<BackupManifest> m = BackupManifest::FromJson(text);
  if (!m.ok()) {
    return absl::DataLossError(manifest_path.string() + ": " + std::string(m.status().message()));
  }
  if (m->format_version > BackupManifest::kFormatVersion) {
    return absl::FailedPreconditionError(
        backup_dir + ": backup format " + std::to_string(m->format_version) +
        " is newer than this ragd supports (" + std::to_string(BackupManifest::kFormatVersion) +
        "); restore with ragd " + m->ragd_version + " or later");
  }
  if (m->storage_format_version != kFormatVersion) {
    return absl::FailedPreconditionError(
        backup_dir + ": storage format " + std::to_string(m->storage_format_version) +
        " is not supported by this ragd (expects " + std::to_string(kFormatVersion) + ")");
  }
  if (!fs::exists(dir / kBackupDbDir / "CURRENT", ec)) {
    return absl::DataLossError((dir / kBackupDbDir).string() +
                               " holds no RocksDB database (no CURRENT file)");
  }
  return *std::move(m);
}

absl::StatusOr<RestoreResult> RestoreBackup(const std::string& backup_dir,
                                            const std::string& data_dir) {
  RestoreResult result;
  ASSIGN_OR_RETURN(result.manifest, ReadBackup(backup_dir));
  const fs::path data(data_dir);
  const fs::path db = data / kBackupDbDir;
  const fs::path marker = data / kRestoredFromFile;
  std::error_code ec;
  if (!IsEmptyOrAbsentDir(db)) {
    // Same manifest bytes: this backup was restored here before (a restarted pod keeps its
    // flags), and whatever was written since must survive.
    absl::StatusOr<std::string> ours = ReadWholeFile(fs::path(backup_dir) / kBackupManifestFile);
    if (fs::exists(marker, ec) && ours.ok()) {
      absl::StatusOr<std::string> restored = ReadWholeFile(marker);
      if (restored.ok() && *restored == *ours) {
        result.already_restored = true;
        return result;
      }
    }
    return absl::FailedPreconditionError(
        db.string() +
        " already holds a database; a backup is restored only into an empty data "
        "directory (move the old one away, or start on a new volume)");
  }
  fs::create_directories(data, ec);
  if (ec) return FsError("create", data, ec);
  // A crash during an earlier attempt leaves a partial copy under this name, never under db.
  const fs::path staging = db.string() + std::string(kRestoringSuffix);
  fs::remove_all(staging, ec);
  if (ec) return FsError("remove", staging, ec);
  ASSIGN_OR_RETURN(result.bytes_copied,
                   CopyTreeDurably(fs::path(backup_dir) / kBackupDbDir, staging));
  ASSIGN_OR_RETURN(std::string manifest_text,
                   ReadWholeFile(fs::path(backup_dir) / kBackupManifestFile));
  // The marker goes first: if the rename below does not happen, db is still empty and the next
  // start restores again; once it has, the marker is already there to recognise it.
  RETURN_IF_ERROR(WriteFileDurably(marker, manifest_text));
  fs::remove(db, ec);  // an empty directory (checked above), if any
  if (ec) return FsError("remove", db, ec);
  fs::rename(staging, db, ec);
  if (ec) return FsError("rename to", db, ec);
  RETURN_IF_ERROR(SyncPath(data.string(), true));
  return result;
}

namespace internal {

absl::Status PrepareBackupDir(const std::string& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("directory: empty");
  const fs::path path(dir);
  if (!path.is_absolute()) {
    return absl::InvalidArgumentError("directory: \"" + dir +
                                      "\" is not absolute (it is a path on the server)");
  }
  std::error_code ec;
  if (fs::exists(path / kBackupManifestFile, ec)) {
    return absl::AlreadyExistsError(dir + " already holds a backup; choose a new directory");
  }
  if (fs::exists(path, ec)) {
    if (!fs::is_directory(path, ec)) {
      return absl::FailedPreconditionError(dir + " exists and is not a directory");
    }
    if (!fs::is_empty(path, ec)) {
      return absl::FailedPreconditionError(
          dir +
          " is not empty (a backup that did not finish leaves files; remove them or choose "
          "a new directory)");
    }
    return absl::OkStatus();
  }
  fs::create_directories(path, ec);
  if (ec) {
    return absl::FailedPreconditionError("cannot create " + dir + ": " + ec.message() +
                                         " (is the backup volume mounted and writable?)");
  }
  return absl::OkStatus();
}

absl::StatusOr<BackupManifest> FinishBackup(const std::string& dir, BackupManifest manifest) {
  manifest.format_version = BackupManifest::kFormatVersion;
  manifest.ragd_version = RAGD_VERSION;
  manifest.storage_format_version = kFormatVersion;
  manifest.created_at_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
  RETURN_IF_ERROR(WriteFileDurably(fs::path(dir) / kBackupManifestFile, manifest.ToJson()));
  return manifest;
}

std::string NewStagingDir(const std::string& data_dir) {
  static std::atomic<uint64_t> counter{0};
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  return (fs::path(data_dir) / (std::string(kBackupStagingPrefix) + std::to_string(now_ms) + "-" +
                                std::to_string(counter.fetch_add(1))))
      .string();
}

absl::StatusOr<uint64_t> CopyCheckpoint(const std::string& staging, const std::string& dir) {
  const fs::path to = fs::path(dir) / kBackupDbDir;
  std::error_code ec;
  fs::create_directory(to, ec);
  if (ec) return FsError("create", to, ec);
  fs::directory_iterator listing(fs::path(staging), ec);
  if (ec) return FsError("list", staging, ec);
  uint64_t bytes = 0;
  for (const fs::directory_entry& entry : listing) {
    // RocksDB's checkpoint is flat; a sub-directory would be a layout this code does not know.
    if (!entry.is_regular_file(ec)) {
      return absl::InternalError("checkpoint " + staging + " holds " + entry.path().string() +
                                 ", which is not a regular file");
    }
    const fs::path target = to / entry.path().filename();
    // Nothing writes to a staged checkpoint (its SST files are immutable, the rest are its
    // own), so a link is as good as a copy where one is possible; EXDEV (another filesystem)
    // and the like fall back to copying.
    if (::link(entry.path().c_str(), target.c_str()) == 0) {
      RETURN_IF_ERROR(SyncPath(target.string(), false));
    } else {
      RETURN_IF_ERROR(CopyFileDurably(entry.path(), target));
    }
    if (const uintmax_t n = fs::file_size(target, ec); !ec) bytes += n;
  }
  RETURN_IF_ERROR(SyncPath(to.string(), true));
  RETURN_IF_ERROR(SyncPath(dir, true));  // the name DIR/db itself
  return bytes;
}

absl::StatusOr<int> RemoveStagingDirs(const std::string& data_dir) {
  std::error_code ec;
  fs::directory_iterator listing(fs::path(data_dir), ec);
  if (ec) return FsError("list", data_dir, ec);
  std::vector<fs::path> stale;
  for (const fs::directory_entry& entry : listing) {
    if (entry.path().filename().string().starts_with(kBackupStagingPrefix)) {
      stale.push_back(entry.path());
    }
  }
  for (const fs::path& path : stale) {
    fs::remove_all(path, ec);
    if (ec) return FsError("remove", path, ec);
  }
  return static_cast<int>(stale.size());
}

}  // namespace internal
}  // namespace ragd::index
