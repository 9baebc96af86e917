#include "index/faiss/faiss_index.h"

#include <faiss/Index.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexFlatCodes.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexPQ.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "index/distance.h"
#include "index/serialization.h"

namespace ragd::index {
namespace {

using idx_t = faiss::Index::idx_t;

constexpr uint32_t kMagic = 0x53494146;  // "FAIS"
constexpr uint32_t kVersion = 1;
constexpr size_t kMinTrainingVectors = 1000;
constexpr size_t kPointsPerCentroid = 40;
// FAISS HNSW stores 32-bit row numbers.
constexpr uint64_t kMaxRows = uint64_t{1} << 31;
// Upper bound of efSearch after widening for a selective filter.
constexpr size_t kMaxWidenedEf = 4096;

// FAISS up to 1.7.4 sizes the candidate heap of an HNSW search from the index's own
// hnsw.efSearch, not from SearchParametersHNSW::efSearch (fixed upstream in
// facebookresearch/faiss#3233): a per-call ef above the index's value was silently capped.
// Every search here passes its ef per call, so the index's value only bounds that heap; set it
// to the largest ef a search may use. The search still stops by the per-call ef.
void LiftHnswCandidateLimit(faiss::IndexHNSW* hnsw) {
  hnsw->hnsw.efSearch = static_cast<int>(kMaxWidenedEf);
}

// The one guard around FAISS: no exception crosses the adapter.
template <typename F>
auto Guard(absl::string_view what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat("faiss ", what, ": out of memory"));
  } catch (const faiss::FaissException& e) {
    return absl::InternalError(absl::StrCat("faiss ", what, ": ", e.what()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("faiss ", what, ": ", e.what()));
  } catch (...) {
    return absl::InternalError(absl::StrCat("faiss ", what, ": unknown exception"));
  }
}

faiss::MetricType FaissMetric(Metric metric) {
  switch (metric) {
    case Metric::kCosine:
    case Metric::kDot:
      return faiss::METRIC_INNER_PRODUCT;
    case Metric::kL2:
      return faiss::METRIC_L2;
  }
  return faiss::METRIC_L2;
}

// True when reconstruct() returns the vectors exactly as added.
bool StoresExactVectors(const faiss::Index* index) {
  if (dynamic_cast<const faiss::IndexFlat*>(index) != nullptr) return true;
  if (const auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(index)) {
    return dynamic_cast<const faiss::IndexFlat*>(hnsw->storage) != nullptr;
  }
  return false;
}

// See the training rule in faiss_index.h.
size_t TrainingVectorsFor(const faiss::Index* index) {
  size_t n = kMinTrainingVectors;
  if (const auto* pt = dynamic_cast<const faiss::IndexPreTransform*>(index)) {
    return std::max(n, TrainingVectorsFor(pt->index));
  }
  if (const auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(index)) {
    return std::max(n, TrainingVectorsFor(hnsw->storage));
  }
  if (const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(index)) {
    n = std::max(n, kPointsPerCentroid * ivf->nlist);
  }
  if (const auto* ivfpq = dynamic_cast<const faiss::IndexIVFPQ*>(index)) {
    n = std::max(n, kPointsPerCentroid * ivfpq->pq.ksub);
  }
  if (const auto* pq = dynamic_cast<const faiss::IndexPQ*>(index)) {
    n = std::max(n, kPointsPerCentroid * pq->pq.ksub);
  }
  return n;
}

// Rows accepted by a search: live, and accepted by the caller's filter.
class RowSelector final : public faiss::IDSelector {
 public:
  RowSelector(const std::vector<Label>& labels, const std::vector<uint8_t>& dead,
              const LabelFilter* filter)
      : labels_(labels), dead_(dead), filter_(filter) {}
  bool is_member(idx_t row) const override {
    return row >= 0 && static_cast<size_t>(row) < labels_.size() && !dead_[row] &&
           (filter_ == nullptr || filter_->Accept(labels_[row]));
  }

 private:
  const std::vector<Label>& labels_;
  const std::vector<uint8_t>& dead_;
  const LabelFilter* filter_;
};

// Per-call parameters for the index type; `owned` keeps nested parameter objects alive.
faiss::SearchParameters* MakeParams(const faiss::Index* index, int ef, int nprobe,
                                    faiss::IDSelector* sel,
                                    std::vector<std::unique_ptr<faiss::SearchParameters>>* owned) {
  if (dynamic_cast<const faiss::IndexHNSW*>(index) != nullptr) {
    auto p = std::make_unique<faiss::SearchParametersHNSW>();
    p->efSearch = ef;
    p->sel = sel;
    owned->push_back(std::move(p));
  } else if (dynamic_cast<const faiss::IndexIVF*>(index) != nullptr) {
    auto p = std::make_unique<faiss::SearchParametersIVF>();
    p->nprobe = static_cast<size_t>(nprobe);
    p->sel = sel;
    owned->push_back(std::move(p));
  } else if (const auto* pt = dynamic_cast<const faiss::IndexPreTransform*>(index)) {
    auto p = std::make_unique<faiss::SearchParametersPreTransform>();
    p->sel = sel;
    faiss::SearchParameters* inner = MakeParams(pt->index, ef, nprobe, sel, owned);
    p->index_params = inner;
    owned->push_back(std::move(p));
  } else {
    auto p = std::make_unique<faiss::SearchParameters>();
    p->sel = sel;
    owned->push_back(std::move(p));
  }
  return owned->back().get();
}

size_t FaissBytes(const faiss::Index* index) {
  if (const auto* codes = dynamic_cast<const faiss::IndexFlatCodes*>(index)) {
    return codes->codes.capacity();
  }
  if (const auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(index)) {
    const faiss::HNSW& g = hnsw->hnsw;
    return FaissBytes(hnsw->storage) + g.neighbors.capacity() * sizeof(g.neighbors[0]) +
           g.offsets.capacity() * sizeof(size_t) + g.levels.capacity() * sizeof(int);
  }
  if (const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(index)) {
    return static_cast<size_t>(ivf->ntotal) * (ivf->code_size + sizeof(idx_t)) +
           FaissBytes(ivf->quantizer);
  }
  if (const auto* pt = dynamic_cast<const faiss::IndexPreTransform*>(index)) {
    return FaissBytes(pt->index);
  }
  return static_cast<size_t>(index->ntotal) * index->d * sizeof(float);
}

// read_index trusts the graph it reads: check every link before a search follows it.
absl::Status CheckHnswGraph(const faiss::Index* index, const internal::ByteReader& r) {
  const auto* hnsw_index = dynamic_cast<const faiss::IndexHNSW*>(index);
  if (hnsw_index == nullptr) return absl::OkStatus();
  const faiss::HNSW& g = hnsw_index->hnsw;
  const size_t n = static_cast<size_t>(index->ntotal);
  if (hnsw_index->storage == nullptr || hnsw_index->storage->ntotal != index->ntotal) {
    return r.Corrupt("HNSW storage size differs");
  }
  if (g.levels.size() != n || g.offsets.size() != n + 1 || g.offsets[0] != 0 ||
      g.offsets[n] != g.neighbors.size()) {
    return r.Corrupt("HNSW tables have inconsistent sizes");
  }
  const size_t max_levels = g.cum_nneighbor_per_level.size();
  for (size_t i = 0; i < n; ++i) {
    const int levels = g.levels[i];
    if (levels < 1 || static_cast<size_t>(levels) >= max_levels || levels - 1 > g.max_level ||
        g.offsets[i] > g.offsets[i + 1] ||
        g.offsets[i] + static_cast<size_t>(g.cum_nneighbor_per_level[levels]) >
            g.offsets[i + 1]) {
      return r.Corrupt("HNSW node table out of range");
    }
  }
  for (auto nb : g.neighbors) {
    if (nb < -1 || (nb >= 0 && static_cast<size_t>(nb) >= n)) {
      return r.Corrupt("HNSW link out of range");
    }
  }
  if (n > 0 && (g.entry_point < 0 || static_cast<size_t>(g.entry_point) >= n ||
                g.levels[g.entry_point] - 1 != g.max_level)) {
    return r.Corrupt("HNSW entry point out of range");
  }
  return absl::OkStatus();
}

}  // namespace

struct FaissIndex::Impl {
  std::unique_ptr<faiss::Index> index;
};

FaissIndex::FaissIndex(const IndexSpec& spec, size_t dim, Metric metric,
                       std::unique_ptr<Impl> impl)
    : spec_(spec), dim_(dim), metric_(metric), impl_(std::move(impl)) {
  keep_raw_ = !StoresExactVectors(impl_->index.get());
  training_threshold_ = impl_->index->is_trained ? 0 : TrainingVectorsFor(impl_->index.get());
}

FaissIndex::~FaissIndex() = default;

absl::StatusOr<std::unique_ptr<FaissIndex>> FaissIndex::Create(const IndexSpec& spec,
                                                               size_t dim, Metric metric) {
  RETURN_IF_ERROR(spec.Validate());
  if (spec.kind != IndexKind::kFaiss) return absl::InvalidArgumentError("spec is not FAISS");
  if (dim == 0) return absl::InvalidArgumentError("dim must be at least 1");
  auto impl = std::make_unique<Impl>();
  try {
    impl->index.reset(faiss::index_factory(static_cast<int>(dim), spec.faiss_factory.c_str(),
                                           FaissMetric(metric)));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("faiss index_factory: out of memory");
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("index.faiss_factory \"", spec.faiss_factory,
                                                   "\" is not valid for dim ", dim, ": ",
                                                   e.what()));
  }
  if (impl->index == nullptr) return absl::InvalidArgumentError("index_factory returned null");
  if (dynamic_cast<faiss::IndexIDMap*>(impl->index.get()) != nullptr) {
    return absl::InvalidArgumentError(
        "index.faiss_factory must not contain IDMap: ragd manages labels itself");
  }
  if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(impl->index.get())) {
    hnsw->hnsw.efConstruction = spec.ef_construction;
    LiftHnswCandidateLimit(hnsw);
  }
  return std::unique_ptr<FaissIndex>(new FaissIndex(spec, dim, metric, std::move(impl)));
}

bool FaissIndex::trained() const { return impl_->index->is_trained; }

size_t FaissIndex::faiss_rows() const { return static_cast<size_t>(impl_->index->ntotal); }

size_t FaissIndex::MemoryBytes() const {
  return FaissBytes(impl_->index.get()) + raw_.capacity() * sizeof(float) +
         row_labels_.capacity() * (sizeof(Label) + 1) +
         ids_.capacity() * (sizeof(Label) + sizeof(int64_t) + 1);
}

absl::Status FaissIndex::TrainAndAddBuffered() {
  faiss::Index& index = *impl_->index;
  const idx_t n = static_cast<idx_t>(row_labels_.size());
  RETURN_IF_ERROR(Guard("train", [&]() -> absl::Status {
    index.train(n, raw_.data());
    index.add(n, raw_.data());
    return absl::OkStatus();
  }));
  if (!keep_raw_) {
    raw_.clear();
    raw_.shrink_to_fit();
  }
  return absl::OkStatus();
}

absl::Status FaissIndex::Add(std::span<const Label> labels, std::span<const float> vectors) {
  if (vectors.size() != labels.size() * dim_) {
    return absl::InvalidArgumentError(absl::StrCat("Add: ", vectors.size(), " floats for ",
                                                   labels.size(), " labels of dim ", dim_));
  }
  if (!internal::AllFinite(vectors)) {
    return absl::InvalidArgumentError("Add: vectors must be finite (no NaN or infinity)");
  }
  if (labels.empty()) return absl::OkStatus();
  if (row_labels_.size() + labels.size() > kMaxRows) {
    return absl::ResourceExhaustedError("faiss index is limited to 2^31 rows");
  }
  std::vector<float> normalized;
  std::span<const float> rows = internal::PrepareVectors(metric_, dim_, vectors, &normalized);
  faiss::Index& index = *impl_->index;
  const bool was_trained = index.is_trained;
  // FAISS first: if it fails nothing of ours has changed, except that a partial add is padded
  // with dead rows so that row numbers stay aligned.
  if (was_trained) {
    absl::Status s = Guard("add", [&]() -> absl::Status {
      index.add(static_cast<idx_t>(labels.size()), rows.data());
      return absl::OkStatus();
    });
    if (!s.ok()) {
      while (row_labels_.size() < faiss_rows()) {
        row_labels_.push_back(0);
        dead_.push_back(1);
        if (keep_raw_) raw_.resize(raw_.size() + dim_);
      }
      return s;
    }
  }
  try {
    if (!was_trained || keep_raw_) raw_.insert(raw_.end(), rows.begin(), rows.end());
    for (Label label : labels) {
      const int64_t row = static_cast<int64_t>(row_labels_.size());
      row_labels_.push_back(label);
      dead_.push_back(0);
      auto [it, inserted] = ids_.try_emplace(label, row);
      if (!inserted) {
        dead_[it->second] = 1;  // replaced: hide the old row
        it->second = row;
      }
    }
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("faiss index: out of memory in Add");
  }
  if (!was_trained && row_labels_.size() >= training_threshold_) return TrainAndAddBuffered();
  return absl::OkStatus();
}

absl::Status FaissIndex::Remove(std::span<const Label> labels) {
  for (Label label : labels) {
    auto it = ids_.find(label);
    if (it == ids_.end()) continue;
    dead_[it->second] = 1;
    ids_.erase(it);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SearchHit>> FaissIndex::Search(std::span<const float> query,
                                                          const SearchOptions& options) const {
  RETURN_IF_ERROR(internal::CheckQuery(query, dim_));
  if (options.ef < 0 || options.nprobe < 0) {
    return absl::InvalidArgumentError("search ef and nprobe must be >= 0");
  }
  if (options.top_k == 0 || size() == 0) return std::vector<SearchHit>{};
  const size_t top_k = std::min(options.top_k, size());
  std::vector<float> normalized;
  const float* q = internal::PrepareVectors(metric_, dim_, query, &normalized).data();
  internal::TopK top(top_k);
  auto accept = [&](size_t row) {
    return !dead_[row] &&
           (options.filter == nullptr || options.filter->Accept(row_labels_[row]));
  };

  const size_t indexed = faiss_rows();
  const size_t base_ef = std::max<size_t>(options.ef > 0 ? options.ef : spec_.ef, top_k);
  if (options.filter != nullptr &&
      internal::PreferExactFilteredScan(size(), options.filter_selectivity, base_ef)) {
    std::vector<float> buffer(dim_);
    for (size_t row = 0; row < indexed; ++row) {
      if (!accept(row)) continue;
      const float* v = nullptr;
      if (!raw_.empty()) {
        v = RawRow(row);
      } else {
        RETURN_IF_ERROR(Guard("reconstruct", [&]() -> absl::Status {
          impl_->index->reconstruct(static_cast<idx_t>(row), buffer.data());
          return absl::OkStatus();
        }));
        v = buffer.data();
      }
      top.Push(row_labels_[row], internal::Score(metric_, q, v, dim_));
    }
  } else if (indexed > 0) {
    const size_t fetch = std::min(indexed, keep_raw_ ? top_k * kRerankFactor : top_k);
    const double selectivity = options.filter != nullptr ? options.filter_selectivity : 1.0;
    const int ef = static_cast<int>(internal::WidenForSelectivity(
        std::max(base_ef, fetch), selectivity, std::max<size_t>(kMaxWidenedEf, base_ef)));
    const int nprobe = static_cast<int>(internal::WidenForSelectivity(
        options.nprobe > 0 ? options.nprobe : spec_.nprobe, selectivity, 65536));
    std::vector<float> distances(fetch);
    std::vector<idx_t> rows(fetch, -1);
    RETURN_IF_ERROR(Guard("search", [&]() -> absl::Status {
      RowSelector selector(row_labels_, dead_, options.filter);
      // Without removals or a filter every row qualifies: skip the per-row callback.
      const bool need_selector = options.filter != nullptr || removed_count() > 0;
      std::vector<std::unique_ptr<faiss::SearchParameters>> owned;
      faiss::SearchParameters* params = MakeParams(impl_->index.get(), ef, nprobe,
                                                   need_selector ? &selector : nullptr, &owned);
      impl_->index->search(1, q, static_cast<idx_t>(fetch), distances.data(), rows.data(),
                           params);
      return absl::OkStatus();
    }));
    const bool l2 = metric_ == Metric::kL2;
    for (size_t i = 0; i < fetch; ++i) {
      const idx_t row = rows[i];
      // Bounds-checked: ids come from a graph or lists that were read from bytes.
      if (row < 0 || static_cast<size_t>(row) >= indexed || !accept(row)) continue;
      const float score = keep_raw_ ? internal::Score(metric_, q, RawRow(row), dim_)
                                    : (l2 ? -distances[i] : distances[i]);
      top.Push(row_labels_[row], score);
    }
  }
  // Rows buffered until training: exact.
  for (size_t row = indexed; row < row_labels_.size(); ++row) {
    if (accept(row)) top.Push(row_labels_[row], internal::Score(metric_, q, RawRow(row), dim_));
  }
  return std::move(top).Take();
}

absl::StatusOr<std::vector<SearchHit>> FaissIndex::ScoreLabels(std::span<const float> query,
                                                               std::span<const Label> labels,
                                                               size_t top_k) const {
  RETURN_IF_ERROR(internal::CheckQuery(query, dim_));
  std::vector<float> normalized;
  const float* q = internal::PrepareVectors(metric_, dim_, query, &normalized).data();
  internal::TopK top(top_k);
  std::vector<float> buffer(dim_);
  absl::flat_hash_set<Label> seen;
  for (Label label : labels) {
    auto it = ids_.find(label);
    if (it == ids_.end() || !seen.insert(label).second) continue;
    const size_t row = static_cast<size_t>(it->second);
    const float* v = nullptr;
    if (!raw_.empty()) {
      v = RawRow(row);
    } else {
      RETURN_IF_ERROR(Guard("reconstruct", [&]() -> absl::Status {
        impl_->index->reconstruct(static_cast<idx_t>(row), buffer.data());
        return absl::OkStatus();
      }));
      v = buffer.data();
    }
    top.Push(label, internal::Score(metric_, q, v, dim_));
  }
  return std::move(top).Take();
}

std::vector<Label> FaissIndex::Labels() const {
  std::vector<Label> out;
  out.reserve(ids_.size());
  for (const auto& [label, row] : ids_) out.push_back(label);
  return out;
}

absl::Status FaissIndex::Save(std::string* out) const {
  faiss::VectorIOWriter writer;
  RETURN_IF_ERROR(Guard("write_index", [&]() -> absl::Status {
    faiss::write_index(impl_->index.get(), &writer);
    return absl::OkStatus();
  }));
  internal::ByteWriter w(out);
  internal::WriteHeader(w, kMagic, kVersion, dim_, metric_);
  w.Put<uint64_t>(row_labels_.size());
  w.PutBytes(row_labels_.data(), row_labels_.size() * sizeof(Label));
  w.PutBytes(dead_.data(), dead_.size());
  w.Put<uint8_t>(raw_.empty() ? 0 : 1);
  w.PutBytes(raw_.data(), raw_.size() * sizeof(float));
  w.Put<uint64_t>(writer.data.size());
  w.PutBytes(writer.data.data(), writer.data.size());
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FaissIndex>> FaissIndex::Load(const IndexSpec& spec, size_t dim,
                                                             Metric metric,
                                                             std::string_view data) {
  RETURN_IF_ERROR(spec.Validate());
  if (spec.kind != IndexKind::kFaiss) return absl::InvalidArgumentError("spec is not FAISS");
  internal::ByteReader r(data, "faiss index");
  RETURN_IF_ERROR(internal::ReadHeader(r, kMagic, kVersion, dim, metric));
  uint64_t n = 0;
  RETURN_IF_ERROR(r.Get(&n));
  if (n > kMaxRows) return r.Corrupt("row count out of range");
  ASSIGN_OR_RETURN(std::string_view label_bytes, r.GetSpan(n, sizeof(Label)));
  ASSIGN_OR_RETURN(std::string_view dead_bytes, r.GetSpan(n, 1));
  uint8_t has_raw = 0;
  RETURN_IF_ERROR(r.Get(&has_raw));
  if (has_raw > 1) return r.Corrupt("bad flag");
  std::string_view raw_bytes;
  if (has_raw) {
    if (dim != 0 && n > r.remaining() / (dim * sizeof(float))) return r.Corrupt("truncated");
    ASSIGN_OR_RETURN(raw_bytes, r.GetSpan(n * dim, sizeof(float)));
  }
  uint64_t blob_size = 0;
  RETURN_IF_ERROR(r.Get(&blob_size));
  ASSIGN_OR_RETURN(std::string_view blob, r.GetSpan(blob_size, 1));
  RETURN_IF_ERROR(r.ExpectEnd());

  auto impl = std::make_unique<Impl>();
  absl::Status read = Guard("read_index", [&]() -> absl::Status {
    faiss::VectorIOReader reader;
    reader.data.assign(blob.begin(), blob.end());
    impl->index.reset(faiss::read_index(&reader));
    return absl::OkStatus();
  });
  if (absl::IsResourceExhausted(read)) return read;
  if (!read.ok()) return r.Corrupt(read.message());
  const faiss::Index* index = impl->index.get();
  if (index == nullptr || index->d != static_cast<idx_t>(dim) ||
      index->metric_type != FaissMetric(metric)) {
    return r.Corrupt("FAISS index has another dimension or metric");
  }
  if (dynamic_cast<const faiss::IndexIDMap*>(index) != nullptr) return r.Corrupt("IDMap");
  // Either trained and holding every row, or untrained with every row buffered.
  if (index->is_trained ? static_cast<uint64_t>(index->ntotal) != n
                        : (index->ntotal != 0 || (n > 0 && !has_raw))) {
    return r.Corrupt("FAISS row count disagrees with the header");
  }
  if (!StoresExactVectors(index) && n > 0 && !has_raw) return r.Corrupt("vectors missing");
  RETURN_IF_ERROR(CheckHnswGraph(index, r));
  if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(impl->index.get())) {
    LiftHnswCandidateLimit(hnsw);
  }

  std::unique_ptr<FaissIndex> out(new FaissIndex(spec, dim, metric, std::move(impl)));
  try {
    // memcpy with an empty vector's data() (null) is undefined even for 0 bytes (UBSan).
    out->row_labels_.resize(n);
    if (!label_bytes.empty()) {
      std::memcpy(out->row_labels_.data(), label_bytes.data(), label_bytes.size());
    }
    out->dead_.assign(dead_bytes.begin(), dead_bytes.end());
    out->raw_.resize(raw_bytes.size() / sizeof(float));
    if (!raw_bytes.empty()) std::memcpy(out->raw_.data(), raw_bytes.data(), raw_bytes.size());
    for (size_t row = 0; row < n; ++row) {
      if (out->dead_[row] > 1) return r.Corrupt("bad dead flag");
      if (out->dead_[row]) continue;
      if (!out->ids_.try_emplace(out->row_labels_[row], static_cast<int64_t>(row)).second) {
        return r.Corrupt("label live on two rows");
      }
    }
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("faiss index: out of memory in Load");
  }
  if (!internal::AllFinite(out->raw_)) return r.Corrupt("non-finite vector values");
  return out;
}

}  // namespace ragd::index
