#include "tests/index/power_cut_fs.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>
#include <utility>

namespace ragd::testing {
namespace {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;

// One spelling per path, without a trailing separator, so that a directory's name compares
// equal to its files' parent_path().
std::string Normal(const std::string& path) {
  std::filesystem::path p = std::filesystem::path(path).lexically_normal();
  if (!p.has_filename() && p.has_parent_path()) p = p.parent_path();
  return p.string();
}

std::string Parent(const std::string& normal_path) {
  return std::filesystem::path(normal_path).parent_path().string();
}

// Up to `limit` bytes of the file (all when limit is npos); empty when unreadable.
std::string ReadPrefix(const std::string& path, uint64_t limit) {
  std::ifstream in(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.size() > limit) data.resize(limit);
  return data;
}

// Forwards to the real file and reports what was written and synced.
class PowerCutWritableFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  // `written`: the file's size when opened (0 for a new file).
  PowerCutWritableFile(std::unique_ptr<rocksdb::FSWritableFile> file, std::string name,
                       uint64_t written, PowerCutFileSystem* fs)
      : FSWritableFileOwnerWrapper(std::move(file)),
        name_(std::move(name)),
        fs_(fs),
        written_(written) {}

  IOStatus Append(const rocksdb::Slice& data, const IOOptions& options,
                  IODebugContext* dbg) override {
    std::shared_lock io(fs_->io());
    IOStatus s = target()->Append(data, options, dbg);
    if (s.ok()) Wrote(data.size());
    return s;
  }
  IOStatus Append(const rocksdb::Slice& data, const IOOptions& options,
                  const rocksdb::DataVerificationInfo& info, IODebugContext* dbg) override {
    std::shared_lock io(fs_->io());
    IOStatus s = target()->Append(data, options, info, dbg);
    if (s.ok()) Wrote(data.size());
    return s;
  }
  IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const IOOptions& options,
                            IODebugContext* dbg) override {
    std::shared_lock io(fs_->io());
    IOStatus s = target()->PositionedAppend(data, offset, options, dbg);
    if (s.ok()) fs_->OnWrite(name_, offset + data.size(), /*truncate=*/false);
    return s;
  }
  IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset, const IOOptions& options,
                            const rocksdb::DataVerificationInfo& info,
                            IODebugContext* dbg) override {
    std::shared_lock io(fs_->io());
    IOStatus s = target()->PositionedAppend(data, offset, options, info, dbg);
    if (s.ok()) fs_->OnWrite(name_, offset + data.size(), /*truncate=*/false);
    return s;
  }
  IOStatus Truncate(uint64_t size, const IOOptions& options, IODebugContext* dbg) override {
    std::shared_lock io(fs_->io());
    IOStatus s = target()->Truncate(size, options, dbg);
    if (s.ok()) fs_->OnWrite(name_, size, /*truncate=*/true);
    return s;
  }
  IOStatus Sync(const IOOptions& options, IODebugContext* dbg) override {
    std::shared_lock io(fs_->io());
    IOStatus s = target()->Sync(options, dbg);
    if (s.ok()) fs_->OnSync(name_);
    return s;
  }
  IOStatus Fsync(const IOOptions& options, IODebugContext* dbg) override {
    std::shared_lock io(fs_->io());
    IOStatus s = target()->Fsync(options, dbg);
    if (s.ok()) fs_->OnSync(name_);
    return s;
  }
  // RangeSync (sync_file_range) starts write-back and promises nothing: not overridden.

 private:
  void Wrote(size_t n) {
    written_ += n;
    fs_->OnWrite(name_, written_, /*truncate=*/false);
  }

  std::string name_;
  PowerCutFileSystem* fs_;
  uint64_t written_;
};

class PowerCutDirectory : public rocksdb::FSDirectoryWrapper {
 public:
  PowerCutDirectory(std::unique_ptr<rocksdb::FSDirectory> dir, std::string name,
                    PowerCutFileSystem* fs)
      : FSDirectoryWrapper(std::move(dir)), name_(std::move(name)), fs_(fs) {}

  IOStatus Fsync(const IOOptions& options, IODebugContext* dbg) override {
    std::shared_lock io(fs_->io());
    IOStatus s = FSDirectoryWrapper::Fsync(options, dbg);
    if (s.ok()) fs_->OnDirSync(name_);
    return s;
  }
  IOStatus FsyncWithDirOptions(const IOOptions& options, IODebugContext* dbg,
                               const rocksdb::DirFsyncOptions& dir_options) override {
    std::shared_lock io(fs_->io());
    IOStatus s = FSDirectoryWrapper::FsyncWithDirOptions(options, dbg, dir_options);
    if (s.ok()) fs_->OnDirSync(name_);
    return s;
  }

 private:
  std::string name_;
  PowerCutFileSystem* fs_;
};

}  // namespace

PowerCutFileSystem::PowerCutFileSystem(const std::shared_ptr<rocksdb::FileSystem>& base)
    : FileSystemWrapper(base) {}

bool PowerCutFileSystem::power_cut() const {
  std::lock_guard lock(mu_);
  return cut_;
}

void PowerCutFileSystem::CutPower() {
  std::unique_lock io(io_mu_);  // no write or sync is between its real call and its report
  std::lock_guard lock(mu_);
  if (cut_) return;
  for (const std::string& dir : dirs_) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      if (!entry.is_regular_file()) continue;
      const std::string path = Normal(entry.path().string());
      const uint64_t size = entry.file_size();
      auto it = files_.find(path);
      if (it == files_.end()) {
        image_[path] = ReadPrefix(path, size);  // not ours: kept as it is
      } else if (!it->second.name_durable) {
        ++image_stats_.files_removed;
        image_stats_.bytes_dropped += size;
      } else {
        image_[path] = ReadPrefix(path, it->second.synced);
        if (size > it->second.synced) {
          ++image_stats_.files_truncated;
          image_stats_.bytes_dropped += size - it->second.synced;
        }
      }
    }
  }
  cut_ = true;
}

PowerCutFileSystem::DropStats PowerCutFileSystem::RestoreDurableImage() {
  std::lock_guard lock(mu_);
  for (const std::string& dir : dirs_) {
    std::error_code ec;
    std::vector<std::filesystem::path> now;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      if (entry.is_regular_file()) now.push_back(entry.path());
    }
    for (const auto& p : now) std::filesystem::remove(p, ec);
  }
  for (const auto& [path, bytes] : image_) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }
  return image_stats_;
}

IOStatus PowerCutFileSystem::NewWritableFile(const std::string& f,
                                             const rocksdb::FileOptions& options,
                                             std::unique_ptr<rocksdb::FSWritableFile>* result,
                                             IODebugContext* dbg) {
  std::shared_lock io(io_mu_);
  // A file that already had a durable name keeps it; its old bytes are gone (O_TRUNC).
  const bool existed = target()->FileExists(f, IOOptions(), dbg).ok();
  std::unique_ptr<rocksdb::FSWritableFile> file;
  IOStatus s = target()->NewWritableFile(f, options, &file, dbg);
  if (!s.ok()) return s;
  const std::string name = Normal(f);
  {
    std::lock_guard lock(mu_);
    if (!cut_) {
      auto it = files_.find(name);
      const bool durable = existed && (it == files_.end() || it->second.name_durable);
      files_[name] = FileState{0, 0, durable};
      dirs_.insert(Parent(name));
    }
  }
  *result = std::make_unique<PowerCutWritableFile>(std::move(file), name, 0, this);
  return s;
}

IOStatus PowerCutFileSystem::ReopenWritableFile(const std::string& f,
                                                const rocksdb::FileOptions& options,
                                                std::unique_ptr<rocksdb::FSWritableFile>* result,
                                                IODebugContext* dbg) {
  std::shared_lock io(io_mu_);
  const bool existed = target()->FileExists(f, IOOptions(), dbg).ok();
  uint64_t size = 0;
  if (existed && !target()->GetFileSize(f, IOOptions(), &size, dbg).ok()) size = 0;
  std::unique_ptr<rocksdb::FSWritableFile> file;
  IOStatus s = target()->ReopenWritableFile(f, options, &file, dbg);
  if (!s.ok()) return s;
  const std::string name = Normal(f);
  {
    std::lock_guard lock(mu_);
    if (!cut_) {
      auto it = files_.find(name);
      if (it == files_.end()) {
        // Unknown to us: what is there is taken as durable.
        files_[name] = FileState{size, size, existed};
      } else {
        it->second.size = size;
      }
      dirs_.insert(Parent(name));
    }
  }
  *result = std::make_unique<PowerCutWritableFile>(std::move(file), name, size, this);
  return s;
}

IOStatus PowerCutFileSystem::ReuseWritableFile(const std::string&, const std::string&,
                                               const rocksdb::FileOptions&,
                                               std::unique_ptr<rocksdb::FSWritableFile>*,
                                               IODebugContext*) {
  return IOStatus::NotSupported("PowerCutFileSystem does not model recycled files");
}

IOStatus PowerCutFileSystem::NewDirectory(const std::string& name, const IOOptions& options,
                                          std::unique_ptr<rocksdb::FSDirectory>* result,
                                          IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSDirectory> dir;
  IOStatus s = target()->NewDirectory(name, options, &dir, dbg);
  if (!s.ok()) return s;
  {
    std::lock_guard lock(mu_);
    if (!cut_) dirs_.insert(Normal(name));
  }
  *result = std::make_unique<PowerCutDirectory>(std::move(dir), Normal(name), this);
  return s;
}

IOStatus PowerCutFileSystem::RenameFile(const std::string& src, const std::string& target_name,
                                        const IOOptions& options, IODebugContext* dbg) {
  std::shared_lock io(io_mu_);
  IOStatus s = target()->RenameFile(src, target_name, options, dbg);
  if (!s.ok()) return s;
  std::lock_guard lock(mu_);
  if (cut_) return s;
  auto it = files_.find(Normal(src));
  if (it != files_.end()) {
    FileState state = it->second;
    state.name_durable = true;  // renames are not rolled back (see the header)
    files_.erase(it);
    files_[Normal(target_name)] = state;
  } else {
    files_.erase(Normal(target_name));
  }
  return s;
}

IOStatus PowerCutFileSystem::DeleteFile(const std::string& f, const IOOptions& options,
                                        IODebugContext* dbg) {
  std::shared_lock io(io_mu_);
  IOStatus s = target()->DeleteFile(f, options, dbg);
  if (s.ok()) {
    std::lock_guard lock(mu_);
    if (!cut_) files_.erase(Normal(f));
  }
  return s;
}

IOStatus PowerCutFileSystem::Truncate(const std::string& f, size_t size, const IOOptions& options,
                                      IODebugContext* dbg) {
  std::shared_lock io(io_mu_);
  IOStatus s = target()->Truncate(f, size, options, dbg);
  if (s.ok()) OnWrite(Normal(f), size, /*truncate=*/true);
  return s;
}

void PowerCutFileSystem::OnWrite(const std::string& f, uint64_t end, bool truncate) {
  std::lock_guard lock(mu_);
  auto it = files_.find(f);
  if (cut_ || it == files_.end()) return;
  FileState& state = it->second;
  state.size = truncate ? end : std::max(state.size, end);
  state.synced = std::min(state.synced, state.size);
}

void PowerCutFileSystem::OnSync(const std::string& f) {
  std::lock_guard lock(mu_);
  auto it = files_.find(f);
  if (!cut_ && it != files_.end()) it->second.synced = it->second.size;
}

void PowerCutFileSystem::OnDirSync(const std::string& dir) {
  std::lock_guard lock(mu_);
  if (cut_) return;
  for (auto& [name, state] : files_) {
    if (Parent(name) == dir) state.name_durable = true;
  }
}

}  // namespace ragd::testing
