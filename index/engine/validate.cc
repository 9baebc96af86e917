#include "index/engine/validate.h"

#include <bit>
#include <cmath>

#include "absl/container/flat_hash_map.h"
#include "common/status.h"
#include "common/utf8.h"
#include "index/storage/encoding.h"

namespace ragd::index {
namespace {

absl::Status Invalid(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(std::string(field) + ": " + std::string(what));
}

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

absl::Status ValidateText(std::string_view field, std::string_view s, size_t max_bytes) {
  if (s.size() > max_bytes) {
    return Invalid(field, std::to_string(s.size()) + " bytes exceed the limit of " +
                              std::to_string(max_bytes));
  }
  if (!IsValidUtf8(s)) return Invalid(field, "is not valid UTF-8");
  return absl::OkStatus();
}

absl::Status ValidateVector(const CollectionSpec& spec, std::span<float> v,
                            std::string_view field) {
  if (v.size() != spec.dimension) {
    return Invalid(field, "dimension " + std::to_string(v.size()) +
                              " does not match the collection's " + std::to_string(spec.dimension));
  }
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) {
      return Invalid(field, "element " + std::to_string(i) + " is not a finite number");
    }
  }
  if (spec.metric == Metric::kCosine && !NormalizeInPlace(v)) {
    return Invalid(field, "is all zeros, which has no direction under the COSINE metric");
  }
  return absl::OkStatus();
}

}  // namespace

bool NormalizeInPlace(std::span<float> v) {
  double sum = 0;
  for (float x : v) sum += static_cast<double>(x) * x;
  if (sum == 0 || !std::isfinite(sum)) return false;
  const float inv = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& x : v) x *= inv;
  return true;
}

absl::Status LexicalSpec::Validate() const {
  // NaN fails both comparisons.
  if (!(k1 >= 0 && k1 <= 10)) return Invalid("lexical.k1", "must be in [0, 10]");
  if (!(b >= 0 && b <= 1)) return Invalid("lexical.b", "must be in [0, 1]");
  switch (analyzer) {
    case lexical::AnalyzerKind::kAuto:
    case lexical::AnalyzerKind::kEnglish:
    case lexical::AnalyzerKind::kKorean:
    case lexical::AnalyzerKind::kSimple:
      return absl::OkStatus();
  }
  return Invalid("lexical.analyzer", "unknown kind");
}

absl::Status CollectionSpec::Validate() const {
  if (!ValidName(name)) {
    return Invalid("name", "\"" + name + "\" must match [A-Za-z0-9_-]{1,64}");
  }
  if (dimension < 1 || dimension > 65536) {
    return Invalid("dimension", "must be in [1, 65536], got " + std::to_string(dimension));
  }
  if (shards < 1 || shards > 256) {
    return Invalid("shards", "must be in [1, 256], got " + std::to_string(shards));
  }
  if (attributes.size() > 64 * 1024) return Invalid("attributes", "exceed 64 KiB");
  RETURN_IF_ERROR(lexical.Validate());
  return index.Validate();
}

absl::Status ValidateIds(const std::vector<std::string>& ids, std::string_view field) {
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string f = std::string(field) + "[" + std::to_string(i) + "]";
    if (ids[i].empty()) return Invalid(f, "must not be empty");
    RETURN_IF_ERROR(ValidateText(f, ids[i], kMaxIdBytes));
  }
  return absl::OkStatus();
}

absl::Status ValidateAndNormalizePoints(const CollectionSpec& spec, const Engine::Options& options,
                                        std::vector<Point>& points) {
  if (points.empty()) return Invalid("points", "must not be empty");
  if (points.size() > options.max_batch_points) {
    // Named by its setting: an ingested document is one atomic write of all its chunks, so
    // its caller cannot split it, but can raise the limit or use larger chunks.
    return Invalid("points", std::to_string(points.size()) +
                                 " points in one write exceed engine.max_batch_points (" +
                                 std::to_string(options.max_batch_points) +
                                 "); split the batch, or raise engine.max_batch_points (for "
                                 "a document: or chunk it with more tokens per chunk)");
  }
  absl::flat_hash_map<std::string_view, size_t> seen;
  seen.reserve(points.size());
  for (size_t i = 0; i < points.size(); ++i) {
    Point& p = points[i];
    const std::string at = "points[" + std::to_string(i) + "]";
    if (p.id.empty()) return Invalid(at + ".id", "must not be empty");
    RETURN_IF_ERROR(ValidateText(at + ".id", p.id, kMaxIdBytes));
    auto [it, inserted] = seen.emplace(p.id, i);
    if (!inserted) {
      return Invalid(at + ".id", "\"" + p.id + "\" duplicates points[" +
                                     std::to_string(it->second) + "].id in the same batch");
    }
    RETURN_IF_ERROR(ValidateVector(spec, p.vector, at + ".vector"));
    RETURN_IF_ERROR(ValidateText(at + ".text", p.text, options.max_text_bytes));
    RETURN_IF_ERROR(ValidateText(at + ".document_id", p.document_id, kMaxDocumentIdBytes));
    if (p.metadata.size() > kMaxMetadataEntries) {
      return Invalid(at + ".metadata",
                     "more than " + std::to_string(kMaxMetadataEntries) + " entries");
    }
    for (const auto& [key, value] : p.metadata) {
      const std::string f = at + ".metadata[\"" + key + "\"]";
      if (key.empty()) return Invalid(at + ".metadata", "keys must not be empty");
      RETURN_IF_ERROR(ValidateText(at + ".metadata key", key, kMaxMetadataKeyBytes));
      if (const auto* s = std::get_if<std::string>(&value)) {
        RETURN_IF_ERROR(ValidateText(f, *s, kMaxMetadataValueBytes));
      } else if (const auto* d = std::get_if<double>(&value)) {
        if (!std::isfinite(*d)) return Invalid(f, "is not a finite number");
      } else if (const auto* l = std::get_if<std::vector<std::string>>(&value)) {
        size_t total = 0;
        for (const auto& e : *l) {
          RETURN_IF_ERROR(ValidateText(f, e, kMaxMetadataValueBytes));
          total += e.size();
        }
        if (total > kMaxMetadataValueBytes) {
          return Invalid(f, "list exceeds " + std::to_string(kMaxMetadataValueBytes) + " bytes");
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateAndNormalizeQuery(const CollectionSpec& spec, std::vector<float>& query,
                                       std::string_view field) {
  return ValidateVector(spec, query, field);
}

// Catalog record, format 3 (little-endian):
//   u8 format | u32 id | i64 created_ms | u32 dim | u8 metric | u32 shards |
//   u8 kind | u32 m | u32 ef_construction | u32 ef | u32 nprobe | lp faiss_factory |
//   lp attributes | u8 lexical enabled | u8 analyzer | f64 k1 | f64 b | u8 quantization
// Older formats decode too: format 1 (before issue 15) ends after attributes and decodes as
// "lexical off" (turning the index on for stored points would need their texts analysed and
// written first, which Open does not do) and float32; format 2 ends after b (float32).
std::string EncodeCollectionRecord(uint32_t id, int64_t created_at_ms, const CollectionSpec& s) {
  std::string out;
  out.push_back(3);
  storage::PutFixed32LE(&out, id);
  storage::PutFixed64LE(&out, static_cast<uint64_t>(created_at_ms));
  storage::PutFixed32LE(&out, s.dimension);
  out.push_back(static_cast<char>(s.metric));
  storage::PutFixed32LE(&out, s.shards);
  out.push_back(static_cast<char>(s.index.kind));
  storage::PutFixed32LE(&out, static_cast<uint32_t>(s.index.m));
  storage::PutFixed32LE(&out, static_cast<uint32_t>(s.index.ef_construction));
  storage::PutFixed32LE(&out, static_cast<uint32_t>(s.index.ef));
  storage::PutFixed32LE(&out, static_cast<uint32_t>(s.index.nprobe));
  storage::PutLengthPrefixed(&out, s.index.faiss_factory);
  storage::PutLengthPrefixed(&out, s.attributes);
  out.push_back(s.lexical.enabled ? 1 : 0);
  out.push_back(static_cast<char>(s.lexical.analyzer));
  storage::PutFixed64LE(&out, std::bit_cast<uint64_t>(s.lexical.k1));
  storage::PutFixed64LE(&out, std::bit_cast<uint64_t>(s.lexical.b));
  out.push_back(static_cast<char>(s.index.quantization));
  return out;
}

absl::Status DecodeCollectionRecord(std::string_view name, std::string_view data, uint32_t* id,
                                    int64_t* created_at_ms, CollectionSpec* spec) {
  storage::Reader r(data);
  uint8_t format, metric, kind, quantization = 0;
  uint64_t created;
  uint32_t m, efc, ef, nprobe;
  std::string_view factory, attributes;
  const auto corrupt = [&] {
    return absl::DataLossError("corrupt catalog record for collection \"" + std::string(name) +
                               "\"");
  };
  if (!r.ReadU8(&format) || format < 1 || format > 3 || !r.ReadFixed32LE(id) ||
      !r.ReadFixed64LE(&created) || !r.ReadFixed32LE(&spec->dimension) || !r.ReadU8(&metric) ||
      metric > 2 || !r.ReadFixed32LE(&spec->shards) || !r.ReadU8(&kind) || kind > 2 ||
      !r.ReadFixed32LE(&m) || !r.ReadFixed32LE(&efc) || !r.ReadFixed32LE(&ef) ||
      !r.ReadFixed32LE(&nprobe) || !r.ReadLengthPrefixed(&factory) ||
      !r.ReadLengthPrefixed(&attributes)) {
    return corrupt();
  }
  spec->lexical = LexicalSpec{};
  if (format >= 2) {
    uint8_t enabled, analyzer;
    uint64_t k1, b;
    if (!r.ReadU8(&enabled) || enabled > 1 || !r.ReadU8(&analyzer) ||
        analyzer > static_cast<uint8_t>(lexical::AnalyzerKind::kSimple) || !r.ReadFixed64LE(&k1) ||
        !r.ReadFixed64LE(&b)) {
      return corrupt();
    }
    spec->lexical.enabled = enabled == 1;
    spec->lexical.analyzer = static_cast<lexical::AnalyzerKind>(analyzer);
    spec->lexical.k1 = std::bit_cast<double>(k1);
    spec->lexical.b = std::bit_cast<double>(b);
    if (!spec->lexical.Validate().ok()) return corrupt();
  }
  if (format >= 3 && (!r.ReadU8(&quantization) || quantization > 2)) return corrupt();
  if (!r.done()) return corrupt();
  *created_at_ms = static_cast<int64_t>(created);
  spec->name = std::string(name);
  spec->metric = static_cast<Metric>(metric);
  spec->index.kind = static_cast<IndexKind>(kind);
  spec->index.m = static_cast<int>(m);
  spec->index.ef_construction = static_cast<int>(efc);
  spec->index.ef = static_cast<int>(ef);
  spec->index.nprobe = static_cast<int>(nprobe);
  spec->index.faiss_factory = std::string(factory);
  spec->index.quantization = static_cast<Quantization>(quantization);
  spec->attributes = std::string(attributes);
  return absl::OkStatus();
}

}  // namespace ragd::index
