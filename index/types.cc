#include "index/types.h"

#include "absl/strings/str_cat.h"

namespace ragd::index {
namespace {

absl::Status OutOfRange(absl::string_view field, int value, int lo, int hi) {
  return absl::InvalidArgumentError(absl::StrCat("index.", field, " must be in [", lo, ", ", hi,
                                                 "], got ", value));
}

}  // namespace

absl::Status IndexSpec::Validate() const {
  // M below 2 turns the graph into chains; above 128 the links dominate memory for no recall.
  if (m < 2 || m > 128) return OutOfRange("m", m, 2, 128);
  if (ef_construction < 1 || ef_construction > 10000) {
    return OutOfRange("ef_construction", ef_construction, 1, 10000);
  }
  // 4096 bounds every search (FaissIndex lifts FAISS's candidate heap to it).
  if (ef < 1 || ef > 4096) return OutOfRange("ef", ef, 1, 4096);
  if (nprobe < 1 || nprobe > 65536) return OutOfRange("nprobe", nprobe, 1, 65536);
  // Values cast from the wire may be outside the enum; the switch below stays exhaustive.
  if (static_cast<int>(kind) < 0 || static_cast<int>(kind) > static_cast<int>(IndexKind::kFlat)) {
    return absl::InvalidArgumentError(
        absl::StrCat("index.kind ", static_cast<int>(kind), " is not a known index kind"));
  }
  if (static_cast<int>(quantization) < 0 ||
      static_cast<int>(quantization) > static_cast<int>(Quantization::kInt8)) {
    return absl::InvalidArgumentError(absl::StrCat("index.quantization ",
                                                   static_cast<int>(quantization),
                                                   " is not a known quantization"));
  }
  if (quantization != Quantization::kNone && kind != IndexKind::kHnsw) {
    return absl::InvalidArgumentError(
        "index.quantization is for HNSW indexes only (FAISS: put it in the factory string, "
        "e.g. \"HNSW32,SQ8\")");
  }
  switch (kind) {
    case IndexKind::kFaiss:
      if (faiss_factory.empty()) {
        return absl::InvalidArgumentError(
            "index.faiss_factory is required when index.kind is FAISS (e.g. \"HNSW32\")");
      }
      if (faiss_factory.size() > 256) {
        return absl::InvalidArgumentError("index.faiss_factory must be at most 256 bytes");
      }
      break;
    case IndexKind::kHnsw:
    case IndexKind::kFlat:
      if (!faiss_factory.empty()) {
        return absl::InvalidArgumentError(
            "index.faiss_factory must be empty unless index.kind is FAISS");
      }
      break;
  }
  return absl::OkStatus();
}

}  // namespace ragd::index
