#include "index/flat/flat_index.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "index/distance.h"
#include "index/serialization.h"

namespace ragd::index {
namespace {

constexpr uint32_t kMagic = 0x54414c46;  // "FLAT"
constexpr uint32_t kVersion = 1;
// Row numbers are uint32_t; the engine shards long before this.
constexpr size_t kMaxRows = uint32_t{0xffffffff};

}  // namespace

FlatIndex::FlatIndex(const IndexSpec& spec, size_t dim, Metric metric)
    : spec_(spec), dim_(dim), metric_(metric) {}

size_t FlatIndex::MemoryBytes() const {
  return data_.capacity() * sizeof(float) + labels_.capacity() * sizeof(Label) +
         rows_.capacity() * (sizeof(Label) + sizeof(uint32_t) + 1);
}

absl::Status FlatIndex::Add(std::span<const Label> labels, std::span<const float> vectors) {
  if (vectors.size() != labels.size() * dim_) {
    return absl::InvalidArgumentError(absl::StrCat("Add: ", vectors.size(), " floats for ",
                                                   labels.size(), " labels of dim ", dim_));
  }
  if (!internal::AllFinite(vectors)) {
    return absl::InvalidArgumentError("Add: vectors must be finite (no NaN or infinity)");
  }
  if (labels_.size() + labels.size() > kMaxRows) {
    return absl::ResourceExhaustedError("flat index is limited to 2^32-1 vectors");
  }
  std::vector<float> normalized;
  std::span<const float> rows = internal::PrepareVectors(metric_, dim_, vectors, &normalized);
  try {
    data_.reserve(data_.size() + rows.size());
    for (size_t i = 0; i < labels.size(); ++i) {
      const float* src = rows.data() + i * dim_;
      auto [it, inserted] = rows_.try_emplace(labels[i], static_cast<uint32_t>(labels_.size()));
      if (inserted) {
        data_.insert(data_.end(), src, src + dim_);
        labels_.push_back(labels[i]);
      } else {
        std::copy(src, src + dim_, data_.begin() + size_t{it->second} * dim_);
      }
    }
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("flat index: out of memory in Add");
  }
  return absl::OkStatus();
}

absl::Status FlatIndex::Remove(std::span<const Label> labels) {
  for (Label label : labels) {
    auto it = rows_.find(label);
    if (it == rows_.end()) continue;
    const size_t row = it->second;
    const size_t last = labels_.size() - 1;
    rows_.erase(it);
    if (row != last) {
      std::copy(data_.begin() + last * dim_, data_.begin() + (last + 1) * dim_,
                data_.begin() + row * dim_);
      labels_[row] = labels_[last];
      rows_[labels_[row]] = static_cast<uint32_t>(row);
    }
    labels_.pop_back();
    data_.resize(last * dim_);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SearchHit>> FlatIndex::Search(std::span<const float> query,
                                                         const SearchOptions& options) const {
  RETURN_IF_ERROR(internal::CheckQuery(query, dim_));
  if (options.ef < 0 || options.nprobe < 0) {
    return absl::InvalidArgumentError("search ef and nprobe must be >= 0");
  }
  std::vector<float> normalized;
  const float* q = internal::PrepareVectors(metric_, dim_, query, &normalized).data();
  internal::TopK top(options.top_k);
  const size_t n = labels_.size();
  for (size_t r = 0; r < n; ++r) {
    if (options.filter != nullptr && !options.filter->Accept(labels_[r])) continue;
    top.Push(labels_[r], internal::Score(metric_, q, data_.data() + r * dim_, dim_));
  }
  return std::move(top).Take();
}

absl::StatusOr<std::vector<SearchHit>> FlatIndex::ScoreLabels(std::span<const float> query,
                                                              std::span<const Label> labels,
                                                              size_t top_k) const {
  RETURN_IF_ERROR(internal::CheckQuery(query, dim_));
  std::vector<float> normalized;
  const float* q = internal::PrepareVectors(metric_, dim_, query, &normalized).data();
  internal::TopK top(top_k);
  absl::flat_hash_set<Label> seen;  // a label listed twice is scored once
  for (Label label : labels) {
    auto it = rows_.find(label);
    if (it == rows_.end() || !seen.insert(label).second) continue;
    top.Push(label, internal::Score(metric_, q, data_.data() + size_t{it->second} * dim_, dim_));
  }
  return std::move(top).Take();
}

absl::Status FlatIndex::Save(std::string* out) const {
  internal::ByteWriter w(out);
  internal::WriteHeader(w, kMagic, kVersion, dim_, metric_);
  w.Put<uint64_t>(labels_.size());
  w.PutBytes(labels_.data(), labels_.size() * sizeof(Label));
  w.PutBytes(data_.data(), data_.size() * sizeof(float));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FlatIndex>> FlatIndex::Load(const IndexSpec& spec, size_t dim,
                                                           Metric metric,
                                                           std::string_view data) {
  internal::ByteReader r(data, "flat index");
  RETURN_IF_ERROR(internal::ReadHeader(r, kMagic, kVersion, dim, metric));
  uint64_t n = 0;
  RETURN_IF_ERROR(r.Get(&n));
  if (n > kMaxRows) return r.Corrupt("row count out of range");
  ASSIGN_OR_RETURN(std::string_view label_bytes, r.GetSpan(n, sizeof(Label)));
  if (dim != 0 && n > r.remaining() / (dim * sizeof(float))) return r.Corrupt("rows truncated");
  ASSIGN_OR_RETURN(std::string_view row_bytes, r.GetSpan(n * dim, sizeof(float)));
  RETURN_IF_ERROR(r.ExpectEnd());

  auto index = std::make_unique<FlatIndex>(spec, dim, metric);
  try {
    // memcpy with an empty vector's data() (null) is undefined even for 0 bytes (UBSan).
    index->labels_.resize(n);
    if (n > 0) std::memcpy(index->labels_.data(), label_bytes.data(), label_bytes.size());
    index->data_.resize(n * dim);
    if (!row_bytes.empty()) std::memcpy(index->data_.data(), row_bytes.data(), row_bytes.size());
    index->rows_.reserve(n);
    for (size_t row = 0; row < n; ++row) {
      if (!index->rows_.try_emplace(index->labels_[row], static_cast<uint32_t>(row)).second) {
        return r.Corrupt("duplicate label");
      }
    }
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("flat index: out of memory in Load");
  }
  if (!internal::AllFinite(index->data_)) return r.Corrupt("non-finite vector values");
  return index;
}

}  // namespace ragd::index
