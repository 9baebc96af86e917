#pragma once
// PowerCutFileSystem: a rocksdb::FileSystemWrapper that remembers, per file, how many bytes were
// made durable by a Sync/Fsync and which new file names were made durable by an fsync of their
// directory, and can then simulate a power cut: everything written but not synced is dropped,
// the way RocksDB's own crash tests (FaultInjectionTestFS) model it. A SIGKILL cannot show a
// missing fsync because the page cache survives it; this can.
//
// Use (tests only): wrap the default file system, hand NewCompositeEnv(fs) to the engine
// (Engine::Options::rocksdb_env), write, then
//   fs->CutPower();            // the durable image of the disk at this instant is taken
//   engine.reset();            // the process goes on as a ghost: whatever it writes now is lost
//   fs->RestoreDurableImage(); // the disk as it is when the power comes back
// and reopen the database without the wrapper (or with a fresh one). The ghost closes normally
// (no error paths of RocksDB's shutdown are exercised), and since the image is taken atomically
// with respect to every write and sync, a write acknowledged before CutPower() returned is in
// it: a test checks `power_cut()` after each acknowledgement to know which ones must survive.
//
// What is modelled:
//   - A file written through NewWritableFile/ReopenWritableFile keeps exactly the bytes it had
//     at its last successful Sync/Fsync (RangeSync, Flush and Close make nothing durable).
//   - A file created by NewWritableFile whose directory was not fsynced afterwards disappears.
//   - Renames, deletes, hard links and new directories are durable when they return, so the
//     model may keep more than a real disk would: a lost rename or a resurrected deleted file
//     is not simulated (RocksDB fsyncs the directory after each rename it relies on).
//   - Files the wrapper did not create or reopen (e.g. LOCK) keep their contents.
//   - Only the directories of files created through the wrapper (and those opened with
//     NewDirectory) are imaged and restored.
// Thread safety: all methods may be called concurrently, as RocksDB does.

#include <rocksdb/file_system.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>

namespace ragd::testing {

class PowerCutFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit PowerCutFileSystem(const std::shared_ptr<rocksdb::FileSystem>& base);

  const char* Name() const override { return "PowerCutFileSystem"; }

  // Takes the durable image of every imaged directory, atomically with respect to all writes
  // and syncs through this file system. Later writes are no longer tracked.
  void CutPower();
  bool power_cut() const;

  struct DropStats {
    int files_removed = 0;    // created, but their directory was never fsynced
    int files_truncated = 0;  // longer than their last synced size
    uint64_t bytes_dropped = 0;
  };
  // Replaces the imaged directories' files by the image taken at CutPower() (files written
  // since are removed). Call once the database is closed. The stats compare the image with
  // the files as they were at the cut.
  DropStats RestoreDurableImage();

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* dbg) override;
  // Recycled WAL files (recycle_log_file_num > 0) are not modelled: NotSupported.
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old_f,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& options,
                                 std::unique_ptr<rocksdb::FSDirectory>* result,
                                 rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& src, const std::string& target,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& f, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus Truncate(const std::string& f, size_t size, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* dbg) override;

  // Used by the file and directory wrappers (power_cut_fs.cc): every write or sync holds
  // `io` (shared) from the real call to its On* report, so that CutPower() sees none half done.
  std::shared_mutex& io() { return io_mu_; }
  void OnWrite(const std::string& f, uint64_t end, bool truncate);
  void OnSync(const std::string& f);
  void OnDirSync(const std::string& dir);

 private:
  struct FileState {
    uint64_t size = 0;    // bytes written through the wrapper (the file's logical size)
    uint64_t synced = 0;  // size at the last successful Sync/Fsync
    bool name_durable = false;
  };
  std::shared_mutex io_mu_;  // shared: a write in flight; exclusive: CutPower()
  mutable std::mutex mu_;    // guards what follows
  bool cut_ = false;
  std::map<std::string, FileState> files_;    // key: lexically normal path
  std::set<std::string> dirs_;                // imaged directories
  std::map<std::string, std::string> image_;  // path -> durable bytes, taken by CutPower()
  DropStats image_stats_;
};

}  // namespace ragd::testing
