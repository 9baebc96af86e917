// MakeIndex / LoadIndex: the one place that maps an IndexKind to its backend. The switches are
// exhaustive without `default:` so that a new kind fails to compile until it is handled here.

#include "common/status.h"
#include "index/faiss/faiss_index.h"
#include "index/flat/flat_index.h"
#include "index/hnsw/hnsw_index.h"
#include "index/vector_index.h"

namespace ragd::index {
namespace {

absl::Status ValidateShape(const IndexSpec& spec, size_t dim, Metric metric) {
  RETURN_IF_ERROR(spec.Validate());
  if (dim == 0 || dim > 65536) {
    return absl::InvalidArgumentError("index dimension must be in [1, 65536]");
  }
  switch (metric) {
    case Metric::kCosine:
    case Metric::kDot:
    case Metric::kL2:
      return absl::OkStatus();
  }
  return absl::InvalidArgumentError("unknown metric");
}

}  // namespace

absl::StatusOr<std::unique_ptr<VectorIndex>> MakeIndex(const IndexSpec& spec, size_t dim,
                                                       Metric metric) {
  RETURN_IF_ERROR(ValidateShape(spec, dim, metric));
  switch (spec.kind) {
    case IndexKind::kHnsw: {
      ASSIGN_OR_RETURN(auto index, HnswIndex::Create(spec, dim, metric));
      return std::unique_ptr<VectorIndex>(std::move(index));
    }
    case IndexKind::kFaiss: {
      ASSIGN_OR_RETURN(auto index, FaissIndex::Create(spec, dim, metric));
      return std::unique_ptr<VectorIndex>(std::move(index));
    }
    case IndexKind::kFlat:
      return std::unique_ptr<VectorIndex>(std::make_unique<FlatIndex>(spec, dim, metric));
  }
  return absl::InvalidArgumentError("unknown index kind");
}

absl::StatusOr<std::unique_ptr<VectorIndex>> LoadIndex(const IndexSpec& spec, size_t dim,
                                                       Metric metric, std::string_view data) {
  RETURN_IF_ERROR(ValidateShape(spec, dim, metric));
  switch (spec.kind) {
    case IndexKind::kHnsw: {
      ASSIGN_OR_RETURN(auto index, HnswIndex::Load(spec, dim, metric, data));
      return std::unique_ptr<VectorIndex>(std::move(index));
    }
    case IndexKind::kFaiss: {
      ASSIGN_OR_RETURN(auto index, FaissIndex::Load(spec, dim, metric, data));
      return std::unique_ptr<VectorIndex>(std::move(index));
    }
    case IndexKind::kFlat: {
      ASSIGN_OR_RETURN(auto index, FlatIndex::Load(spec, dim, metric, data));
      return std::unique_ptr<VectorIndex>(std::move(index));
    }
  }
  return absl::InvalidArgumentError("unknown index kind");
}

}  // namespace ragd::index
