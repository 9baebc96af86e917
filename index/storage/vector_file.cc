#include "index/storage/vector_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <limits>

#include "absl/status/status.h"
#include "common/hash.h"
#include "common/status.h"

namespace ragd::index::storage {
namespace {

// The slot's checksum covers the label too, so that a slot is only ever taken for its own
// label (a stale slot of another label cannot match).
uint64_t Checksum(Label label, const float* vector, size_t dim) {
  Hasher64 h;
  unsigned char le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<unsigned char>(label >> (8 * i));
  h.Update(le, sizeof(le));
  h.Update(vector, dim * sizeof(float));
  return h.Digest();
}

// Positional I/O of every byte the iovecs describe (short transfers continued): `io` is
// preadv or pwritev. False on an error or at the end of the file.
template <typename Io>
bool TransferAll(Io io, int fd, iovec* iov, int count, int64_t offset) {
  size_t want = 0;
  for (int i = 0; i < count; ++i) want += iov[i].iov_len;
  while (want > 0) {
    ssize_t n = io(fd, iov, count, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    want -= static_cast<size_t>(n);
    offset += n;
    while (n > 0 && count > 0) {  // skip what was transferred
      const size_t take = std::min(static_cast<size_t>(n), iov->iov_len);
      iov->iov_base = static_cast<char*>(iov->iov_base) + take;
      iov->iov_len -= take;
      n -= static_cast<ssize_t>(take);
      if (iov->iov_len == 0) {
        ++iov;
        --count;
      }
    }
  }
  return true;
}
bool PreadvAll(int fd, iovec* iov, int count, int64_t offset) {
  return TransferAll(preadv, fd, iov, count, offset);
}
bool PwritevAll(int fd, iovec* iov, int count, int64_t offset) {
  return TransferAll(pwritev, fd, iov, count, offset);
}

}  // namespace

absl::StatusOr<std::unique_ptr<VectorFile>> VectorFile::Create(const std::string& dir,
                                                               size_t dim) {
  if (dim == 0) return absl::InvalidArgumentError("vector file: dimension must be > 0");
  // Unnamed from the start where the file system can (ext4, xfs, tmpfs); elsewhere a named
  // file unlinked at once, which only a crash between the two calls could leave behind.
  int fd = open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::string path = dir + "/.vector-cache-XXXXXX";
    fd = mkostemp(path.data(), O_CLOEXEC);
    if (fd < 0) {
      return absl::UnavailableError("vector file: cannot create a file in " + dir + ": " +
                                    std::strerror(errno));
    }
    unlink(path.c_str());
  }
  return std::unique_ptr<VectorFile>(new VectorFile(fd, dim));
}

std::unique_ptr<VectorFile> VectorFile::Adopt(int fd, size_t dim) {
  return std::unique_ptr<VectorFile>(new VectorFile(fd, dim));
}

VectorFile::VectorFile(int fd, size_t dim)
    : fd_(fd), dim_(dim), slot_bytes_(kHeaderBytes + dim * sizeof(float)) {}

VectorFile::~VectorFile() { close(fd_); }

int64_t VectorFile::Offset(Label label) const {
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / 2;
  if (label == 0 || label > kMax / slot_bytes_) return -1;
  return static_cast<int64_t>(label * slot_bytes_);
}

size_t VectorFile::Read(std::span<const Label> labels, float* out,
                        std::vector<bool>* found) const {
  found->assign(labels.size(), false);
  size_t n = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const int64_t offset = Offset(labels[i]);
    if (offset < 0) continue;
    uint64_t header[2] = {0, 0};
    float* dst = out + i * dim_;
    iovec iov[2] = {{header, sizeof(header)}, {dst, dim_ * sizeof(float)}};
    // A hole reads as zeros (label 0 is never a label); past the end is a short read.
    if (!PreadvAll(fd_, iov, 2, offset)) continue;
    if (header[0] != labels[i] || header[1] != Checksum(labels[i], dst, dim_)) continue;
    (*found)[i] = true;
    ++n;
  }
  hits_.fetch_add(n, std::memory_order_relaxed);
  misses_.fetch_add(labels.size() - n, std::memory_order_relaxed);
  return n;
}

bool VectorFile::Write(Label label, std::span<const float> vector) const {
  if (vector.size() != dim_) return false;
  if (write_errors_.load(std::memory_order_relaxed) >= kMaxWriteErrors) return false;
  const int64_t offset = Offset(label);
  if (offset < 0) return false;
  uint64_t header[2] = {label, Checksum(label, vector.data(), dim_)};
  iovec iov[2] = {{header, sizeof(header)},
                  {const_cast<float*>(vector.data()), dim_ * sizeof(float)}};
  if (!PwritevAll(fd_, iov, 2, offset)) {
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void VectorFile::Forget(Label label) const {
  const int64_t offset = Offset(label);
  if (offset < 0) return;
  // A slot never written is a hole already (writing to it would allocate a page).
  uint64_t header[2] = {0, 0};
  iovec iov[1] = {{header, sizeof(header)}};
  if (!PreadvAll(fd_, iov, 1, offset) || header[0] != label) return;
  // Only whole pages can be punched out; the slot's partial first and last pages stay (they
  // hold neighbours' bytes too), and its header is overwritten so that it reads as a miss.
  constexpr int64_t kPage = 4096;
  const int64_t begin = (offset + kPage - 1) / kPage * kPage;
  const int64_t end = (offset + static_cast<int64_t>(slot_bytes_)) / kPage * kPage;
  if (end > begin) {
    (void)fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, begin, end - begin);
  }
  if (end > begin && begin == offset) return;  // the header's page is a hole now
  const uint64_t zero[2] = {0, 0};
  (void)pwrite(fd_, zero, sizeof(zero), offset);
}

absl::Status ReadThroughVectors(const Store& store, ShardKey k, const VectorFile* file,
                                std::span<const Label> labels, size_t dim,
                                std::vector<float>* vectors, std::vector<bool>* found,
                                std::atomic<uint64_t>* storage_reads) {
  auto count = [&](size_t n) {
    if (storage_reads != nullptr) storage_reads->fetch_add(n, std::memory_order_relaxed);
  };
  if (file == nullptr) {
    count(labels.size());
    return store.MultiGetVectors(k, labels, dim, vectors, found);
  }
  vectors->assign(labels.size() * dim, 0.0f);
  if (file->Read(labels, vectors->data(), found) == labels.size()) return absl::OkStatus();
  std::vector<Label> missing;
  std::vector<size_t> where;
  for (size_t i = 0; i < labels.size(); ++i) {
    if ((*found)[i]) continue;
    missing.push_back(labels[i]);
    where.push_back(i);
  }
  std::vector<float> fetched;
  std::vector<bool> got;
  count(missing.size());
  RETURN_IF_ERROR(store.MultiGetVectors(k, missing, dim, &fetched, &got));
  for (size_t j = 0; j < missing.size(); ++j) {
    if (!got[j]) continue;  // not in RocksDB (deleted): the caller decides
    const std::span<const float> v(fetched.data() + j * dim, dim);
    std::copy(v.begin(), v.end(), vectors->begin() + static_cast<ptrdiff_t>(where[j] * dim));
    (*found)[where[j]] = true;
    file->Write(missing[j], v);
  }
  return absl::OkStatus();
}

}  // namespace ragd::index::storage
