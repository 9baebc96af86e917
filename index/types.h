#pragma once
// Engine-level value types shared by the index backends, storage and the engine. They carry no
// protobuf or third-party type: services/convert.* maps them to and from the wire.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"

namespace ragd::index {

// How similarity is measured. Scores returned by every search are "higher is closer":
//   kCosine: score = cos(a, b) in [-1, 1]; vectors are L2-normalised on write and on query.
//   kDot:    score = a·b (raw inner product, vectors stored as given).
//   kL2:     score = -‖a − b‖² (negated squared Euclidean distance, so 0 is an exact match).
enum class Metric { kCosine = 0, kDot = 1, kL2 = 2 };

enum class IndexKind {
  kHnsw = 0,   // hnswlib HierarchicalNSW, compiled with the project's SIMD flags.
  kFaiss = 1,  // any FAISS index built by faiss::index_factory.
  kFlat = 2,   // exact brute force; the reference every other kind is tested against.
};

// How an HNSW index stores its vectors in memory (the graph walks on these codes). The float32
// vectors stay in the engine's storage; quantized searches re-score their final candidates
// with them (SearchOptions::rescore).
//   kNone: float32, as given (normalised for kCosine). 4 bytes per dimension.
//   kF16:  IEEE half precision (round to nearest even). 2 bytes per dimension.
//   kInt8: per-dimension scalar quantizer (FAISS's SQ8 idea): each dimension centred on its
//          mean over the training sample and scaled by its largest deviation from that mean
//          (the observed range, min-max, made symmetric), codes in [-127, 127]; values outside
//          the trained range are clamped. 1 byte per dimension + a 4-byte norm.
enum class Quantization { kNone = 0, kF16 = 1, kInt8 = 2 };

// Construction options of a vector index. Per-search knobs live in SearchOptions.
struct IndexSpec {
  IndexKind kind = IndexKind::kHnsw;
  // HNSW: M, the number of bi-directional links per node (paper: M). Default: 16.
  int m = 16;
  // HNSW: size of the candidate list while inserting (paper: efConstruction). Default: 200.
  int ef_construction = 200;
  // HNSW: default size of the candidate list while searching (paper: ef), used when a search
  // does not set its own; also the default efSearch of FAISS HNSW indexes. 1..4096.
  // Default: 128 (recall@10 0.983 on the 100k × 1536 ada-like benchmark, where 64 gave 0.946;
  // bench/README.md).
  int ef = 128;
  // FAISS: the faiss::index_factory description, e.g. "HNSW32", "HNSW32,SQ8", "IVF1024,Flat".
  // Required when kind == kFaiss, must be empty otherwise.
  std::string faiss_factory;
  // FAISS IVF: default number of inverted lists probed per search. Default: 16.
  int nprobe = 16;
  // HNSW: how the graph stores vectors (see Quantization). Only kHnsw accepts anything but
  // kNone (FAISS has its own, in the factory string, e.g. "HNSW32,SQ8"). Default: kNone.
  Quantization quantization = Quantization::kNone;

  // Says what to change when an option is out of range (INVALID_ARGUMENT naming the field).
  absl::Status Validate() const;
};

// A typed metadata value: string, int64, double, bool or a list of strings.
using MetadataValue =
    std::variant<std::string, int64_t, double, bool, std::vector<std::string>>;
// Ordered so that the storage encoding of a point is deterministic.
using Metadata = std::map<std::string, MetadataValue>;

// One stored item: a vector with the chunk text it was made from.
struct Point {
  std::string id;              // 1..256 bytes, unique within a collection.
  std::vector<float> vector;   // exactly the collection's dimension, finite values.
  std::string text;            // UTF-8; may be empty.
  std::string document_id;     // the document this chunk belongs to; may be empty.
  Metadata metadata;
};

}  // namespace ragd::index
