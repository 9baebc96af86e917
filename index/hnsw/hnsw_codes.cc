// HnswIndex's vector storage (hnsw_graph_internal.h, Codec): float32 as hnswlib stores it, or
// f16 / int8 codes with their own hnswlib space, training and query preparation.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "common/hash.h"
#include "common/status.h"
#include "index/hnsw/hnsw_graph_internal.h"

namespace ragd::index {
namespace hnsw_graph {
namespace {

constexpr uint32_t kTrainingMagic = 0x38515351;  // "QSQ8"
constexpr uint32_t kTrainingVersion = 1;

// An hnswlib space over codes: data size and a distance function whose parameter is the
// codec.
class CodeSpace final : public hnswlib::SpaceInterface<float> {
 public:
  CodeSpace(size_t bytes, hnswlib::DISTFUNC<float> f, const void* param)
      : bytes_(bytes), f_(f), param_(param) {}
  size_t get_data_size() override { return bytes_; }
  hnswlib::DISTFUNC<float> get_dist_func() override { return f_; }
  void* get_dist_func_param() override { return const_cast<void*>(param_); }

 private:
  size_t bytes_;
  hnswlib::DISTFUNC<float> f_;
  const void* param_;
};

const int8_t* Int8Codes(const void* code) {
  return reinterpret_cast<const int8_t*>(static_cast<const char*>(code) + sizeof(float));
}
float Int8Norm(const void* code) {
  float norm;
  std::memcpy(&norm, code, sizeof(norm));
  return norm;
}

}  // namespace

Codec::Codec(Quantization kind, Metric metric, size_t dim)
    : kind_(kind), metric_(metric), dim_(dim), kernels_(&quant::BestKernels()) {}

size_t Codec::code_bytes() const {
  switch (kind_) {
    case Quantization::kNone:
      return dim_ * sizeof(float);
    case Quantization::kF16:
      return dim_ * sizeof(uint16_t);
    case Quantization::kInt8:
      return sizeof(float) + dim_;
  }
  return 0;
}

std::unique_ptr<hnswlib::SpaceInterface<float>> Codec::MakeSpace() const {
  const bool ip = metric_ != Metric::kL2;
  switch (kind_) {
    case Quantization::kNone:
      // hnswlib's own spaces measure the same (1 - a·b, squared L2) with the kernel its header
      // chose at compile time; ours is chosen for the CPU at run time (AVX-512 where there is
      // one: at 100k x 1536 ragd's walk went from 1.04-1.06x to 1.25-1.29x hnswlib's AVX2 build,
      // bench/README.md "Session 10: AVX-512 for float32").
      return std::make_unique<CodeSpace>(code_bytes(), ip ? &F32Ip : &F32L2, this);
    case Quantization::kF16:
      return std::make_unique<CodeSpace>(code_bytes(), ip ? &F16Ip : &F16L2, this);
    case Quantization::kInt8:
      return std::make_unique<CodeSpace>(code_bytes(), ip ? &Int8Ip : &Int8L2, this);
  }
  return nullptr;
}

float Codec::F32Ip(const void* a, const void* b, const void* self) {
  const auto& c = *static_cast<const Codec*>(self);
  return 1.0f - c.kernels_->dot_f32_f32(static_cast<const float*>(a),
                                        static_cast<const float*>(b), c.dim_);
}
float Codec::F32L2(const void* a, const void* b, const void* self) {
  const auto& c = *static_cast<const Codec*>(self);
  return c.kernels_->l2_f32_f32(static_cast<const float*>(a), static_cast<const float*>(b),
                                c.dim_);
}
float Codec::F16Ip(const void* a, const void* b, const void* self) {
  const auto& c = *static_cast<const Codec*>(self);
  return 1.0f - c.kernels_->dot_f16_f16(static_cast<const uint16_t*>(a),
                                        static_cast<const uint16_t*>(b), c.dim_);
}
float Codec::F16L2(const void* a, const void* b, const void* self) {
  const auto& c = *static_cast<const Codec*>(self);
  return c.kernels_->l2_f16_f16(static_cast<const uint16_t*>(a), static_cast<const uint16_t*>(b),
                                c.dim_);
}
float Codec::Int8Ip(const void* a, const void* b, const void* self) {
  const auto& c = *static_cast<const Codec*>(self);
  return 1.0f - c.kernels_->dot_sq8_sq8(c.mean_.data(), c.scale_.data(), Int8Codes(a),
                                        Int8Codes(b), c.dim_);
}
float Codec::Int8L2(const void* a, const void* b, const void* self) {
  const auto& c = *static_cast<const Codec*>(self);
  return c.kernels_->l2_sq8_sq8(c.scale_.data(), Int8Codes(a), Int8Codes(b), c.dim_);
}

// Mean per dimension, and as scale the range divided by 127, the range being the larger of
// the largest deviation from the mean over the sample (FAISS's min-max training, centred) and
// range_sigmas (kRangeSigmas) standard deviations. The floor is there because training
// happens early (at 256 vectors, on the rows present then): the largest of n draws
// understates what later vectors reach (about 3.5 standard deviations for 256 Gaussian draws,
// 3.9 for 1,000, 4.9 for 65,536), and a value beyond it is clamped, an error of up to a
// standard deviation in that dimension. On the bench's 100k ada-like set
// (bench/int8_error_bench.cc, bench/README.md "Session 14"), trained on the first 256 rows
// without the floor, 0.42% of the codes sat at the limit and the 99th percentile of
// |q·x - q·x̂| was 1.4e-3, more than the mean gap between a query's 10th and 11th neighbours
// (1.0e-3); with it 0.001% and 4.3e-4, what 65,536 training rows give.
// A dimension constant over the sample gets the largest range of any dimension, so that later
// values there are not all clamped.
void Codec::Train(const float* rows, size_t n, double range_sigmas) {
  if (kind_ != Quantization::kInt8 || n == 0) return;
  n = std::min(n, kMaxTrainingVectors);
  std::vector<double> sum(dim_, 0.0);
  for (size_t i = 0; i < n; ++i) {
    for (size_t d = 0; d < dim_; ++d) sum[d] += rows[i * dim_ + d];
  }
  std::vector<float> mean(dim_), range(dim_, 0.0f);
  for (size_t d = 0; d < dim_; ++d) mean[d] = static_cast<float>(sum[d] / static_cast<double>(n));
  std::vector<double> sum_sq(dim_, 0.0);
  for (size_t i = 0; i < n; ++i) {
    for (size_t d = 0; d < dim_; ++d) {
      const float dev = rows[i * dim_ + d] - mean[d];
      range[d] = std::max(range[d], std::abs(dev));
      sum_sq[d] += static_cast<double>(dev) * dev;
    }
  }
  for (size_t d = 0; d < dim_; ++d) {
    const double sigma = std::sqrt(sum_sq[d] / static_cast<double>(n));
    range[d] = std::max(range[d], static_cast<float>(range_sigmas * sigma));
  }
  float widest = *std::max_element(range.begin(), range.end());
  if (!(widest > 0)) widest = 1.0f;
  scale_.resize(dim_);
  for (size_t d = 0; d < dim_; ++d) scale_[d] = (range[d] > 0 ? range[d] : widest) / 127.0f;
  mean_ = std::move(mean);
}

void Codec::Encode(const float* row, char* code) const {
  switch (kind_) {
    case Quantization::kNone:
      std::memcpy(code, row, dim_ * sizeof(float));
      return;
    case Quantization::kF16:
      kernels_->encode_f16(row, reinterpret_cast<uint16_t*>(code), dim_);
      return;
    case Quantization::kInt8: {
      auto* out = reinterpret_cast<int8_t*>(code + sizeof(float));
      float norm = 0;
      for (size_t d = 0; d < dim_; ++d) {
        const float c = std::clamp(std::nearbyint((row[d] - mean_[d]) / scale_[d]), -127.0f, 127.0f);
        out[d] = static_cast<int8_t>(c);
        const float x = mean_[d] + scale_[d] * c;
        norm += x * x;
      }
      std::memcpy(code, &norm, sizeof(norm));
      return;
    }
  }
}

void Codec::Prepare(const float* query, PreparedQuery* out) const {
  out->q = query;
  if (kind_ != Quantization::kInt8) return;
  // q . x = q . mean + sum_d (q_d scale_d) code_d; the weights are rounded to int16 with one
  // scale alpha chosen so that the integer sum cannot overflow (MaxQueryMagnitude).
  std::vector<float> w(dim_);
  float largest = 0, base = 0, norm = 0;
  for (size_t d = 0; d < dim_; ++d) {
    w[d] = query[d] * scale_[d];
    largest = std::max(largest, std::abs(w[d]));
    base += query[d] * mean_[d];
    norm += query[d] * query[d];
  }
  const float limit = static_cast<float>(quant::MaxQueryMagnitude(dim_));
  out->alpha = largest > 0 ? largest / limit : 1.0f;
  out->q16.resize(dim_);
  for (size_t d = 0; d < dim_; ++d) {
    out->q16[d] = static_cast<int16_t>(std::clamp(std::nearbyint(w[d] / out->alpha), -limit, limit));
  }
  out->base = base;
  out->norm = norm;
}

float Codec::Distance(const PreparedQuery& query, const char* code) const {
  switch (kind_) {
    case Quantization::kNone:
      return 0;  // not used: float32 graphs measure row against row (F32Ip, F32L2)
    case Quantization::kF16: {
      const auto* c = reinterpret_cast<const uint16_t*>(code);
      if (metric_ == Metric::kL2) return kernels_->l2_f32_f16(query.q, c, dim_);
      return 1.0f - kernels_->dot_f32_f16(query.q, c, dim_);
    }
    case Quantization::kInt8: {
      const float dot =
          query.base +
          query.alpha * static_cast<float>(kernels_->dot_i16_i8(query.q16.data(), Int8Codes(code), dim_));
      if (metric_ == Metric::kL2) return query.norm - 2 * dot + Int8Norm(code);
      return 1.0f - dot;
    }
  }
  return 0;
}

bool Codec::CodeIsFinite(const char* code) const {
  switch (kind_) {
    case Quantization::kNone: {
      for (size_t d = 0; d < dim_; ++d) {
        float x;
        std::memcpy(&x, code + d * sizeof(float), sizeof(x));
        if (!std::isfinite(x)) return false;
      }
      return true;
    }
    case Quantization::kF16: {
      for (size_t d = 0; d < dim_; ++d) {
        uint16_t h;
        std::memcpy(&h, code + d * sizeof(h), sizeof(h));
        if ((h & 0x7c00u) == 0x7c00u) return false;
      }
      return true;
    }
    case Quantization::kInt8:
      return std::isfinite(Int8Norm(code)) && Int8Norm(code) >= 0;
  }
  return false;
}

// magic | version | u64 dim | u8 trained | [mean f32 x dim | scale f32 x dim] | u64 Hash64 of
// everything before it in this section.
void Codec::SaveTraining(std::string* out) const {
  const size_t start = out->size();
  internal::ByteWriter w(out);
  w.Put<uint32_t>(kTrainingMagic);
  w.Put<uint32_t>(kTrainingVersion);
  w.Put<uint64_t>(dim_);
  w.Put<uint8_t>(mean_.empty() ? 0 : 1);
  if (!mean_.empty()) {
    w.PutBytes(mean_.data(), dim_ * sizeof(float));
    w.PutBytes(scale_.data(), dim_ * sizeof(float));
  }
  w.Put<uint64_t>(Hash64(out->data() + start, out->size() - start));
}

absl::Status Codec::LoadTraining(internal::ByteReader& r) {
  uint32_t magic = 0, version = 0;
  uint64_t dim = 0, checksum = 0;
  uint8_t trained = 0;
  std::string section;
  internal::ByteWriter copy(&section);
  RETURN_IF_ERROR(r.Get(&magic));
  RETURN_IF_ERROR(r.Get(&version));
  RETURN_IF_ERROR(r.Get(&dim));
  RETURN_IF_ERROR(r.Get(&trained));
  if (magic != kTrainingMagic) return r.Corrupt("int8 training: bad magic");
  if (version != kTrainingVersion) return r.Corrupt("int8 training: unsupported version");
  if (dim != dim_) return r.Corrupt("int8 training: dimension differs");
  if (trained > 1) return r.Corrupt("int8 training: bad flag");
  copy.Put(magic);
  copy.Put(version);
  copy.Put(dim);
  copy.Put(trained);
  std::string_view mean, scale;
  if (trained) {
    // Sizes come from the index's own dim, checked against the bytes present before copying.
    ASSIGN_OR_RETURN(mean, r.GetSpan(dim_, sizeof(float)));
    ASSIGN_OR_RETURN(scale, r.GetSpan(dim_, sizeof(float)));
    copy.PutBytes(mean.data(), mean.size());
    copy.PutBytes(scale.data(), scale.size());
  }
  RETURN_IF_ERROR(r.Get(&checksum));
  if (checksum != Hash64(section.data(), section.size())) {
    return r.Corrupt("int8 training: checksum mismatch");
  }
  mean_.clear();
  scale_.clear();
  if (!trained) return absl::OkStatus();
  std::vector<float> m(dim_), s(dim_);
  std::memcpy(m.data(), mean.data(), mean.size());
  std::memcpy(s.data(), scale.data(), scale.size());
  for (size_t d = 0; d < dim_; ++d) {
    if (!std::isfinite(m[d]) || !std::isfinite(s[d]) || !(s[d] > 0)) {
      return r.Corrupt("int8 training: non-finite or non-positive values");
    }
  }
  mean_ = std::move(m);
  scale_ = std::move(s);
  return absl::OkStatus();
}

}  // namespace hnsw_graph
}  // namespace ragd::index
