#pragma once
// Internal to ragd_index: little-endian byte writer and a bounds-checked reader for the
// backends' Save/Load formats. Every Read* checks the remaining length first, so a truncated or
// crafted buffer yields DATA_LOSS instead of an out-of-bounds read, and sizes are validated
// against the bytes actually present before anything is allocated.

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "index/types.h"

namespace ragd::index::internal {

static_assert(std::endian::native == std::endian::little, "formats are little-endian");

class ByteWriter {
 public:
  explicit ByteWriter(std::string* out) : out_(out) {}
  template <typename T>
  void Put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_->append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  void PutBytes(const void* p, size_t n) { out_->append(static_cast<const char*>(p), n); }

 private:
  std::string* out_;
};

class ByteReader {
 public:
  ByteReader(std::string_view data, absl::string_view what) : data_(data), what_(what) {}

  template <typename T>
  absl::Status Get(T* v) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (data_.size() - pos_ < sizeof(T)) return Truncated();
    std::memcpy(v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return absl::OkStatus();
  }
  // Returns a view of the next `count * elem_size` bytes, checking for overflow and length.
  absl::StatusOr<std::string_view> GetSpan(uint64_t count, size_t elem_size) {
    if (elem_size != 0 && count > (data_.size() - pos_) / elem_size) return Truncated();
    size_t n = static_cast<size_t>(count) * elem_size;
    std::string_view s = data_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  absl::Status ExpectEnd() const {
    if (pos_ != data_.size()) {
      return absl::DataLossError(
          absl::StrCat(what_, ": ", data_.size() - pos_, " unexpected trailing bytes"));
    }
    return absl::OkStatus();
  }
  size_t remaining() const { return data_.size() - pos_; }
  absl::Status Corrupt(absl::string_view why) const {
    return absl::DataLossError(absl::StrCat(what_, " is corrupt: ", why));
  }

 private:
  absl::Status Truncated() const {
    return absl::DataLossError(absl::StrCat(what_, " is truncated at byte ", pos_));
  }
  std::string_view data_;
  absl::string_view what_;
  size_t pos_ = 0;
};

// Common prefix of every backend's Save() output: magic, format version, dim, metric.
struct FormatHeader {
  uint32_t magic = 0;
  uint32_t version = 0;
  uint64_t dim = 0;
  uint32_t metric = 0;
};

inline void WriteHeader(ByteWriter& w, uint32_t magic, uint32_t version, size_t dim,
                        Metric metric) {
  w.Put<uint32_t>(magic);
  w.Put<uint32_t>(version);
  w.Put<uint64_t>(dim);
  w.Put<uint32_t>(static_cast<uint32_t>(metric));
}

// Reads and checks the common prefix against what the caller expects.
inline absl::Status ReadHeader(ByteReader& r, uint32_t magic, uint32_t version, size_t dim,
                               Metric metric) {
  FormatHeader h;
  if (!r.Get(&h.magic).ok() || !r.Get(&h.version).ok() || !r.Get(&h.dim).ok() ||
      !r.Get(&h.metric).ok()) {
    return r.Corrupt("header is truncated");
  }
  if (h.magic != magic) return r.Corrupt("bad magic (not an index of this kind)");
  if (h.version != version) return r.Corrupt(absl::StrCat("unsupported version ", h.version));
  if (h.dim != dim) return r.Corrupt(absl::StrCat("dimension ", h.dim, " != expected ", dim));
  if (h.metric != static_cast<uint32_t>(metric)) return r.Corrupt("metric differs");
  return absl::OkStatus();
}

}  // namespace ragd::index::internal
