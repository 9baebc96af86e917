#pragma once
// JSON <-> ragd.v1 messages for ragctl: points from JSON Lines, filters and vectors from
// command-line JSON, and results to JSON for --json output. Errors are INVALID_ARGUMENT naming
// the JSON path ("metadata.year", "and[1].range").
//
// Filter syntax (one object per node):
//   {"key": "lang", "equals": "ko"}                     metadata equals (string/number/bool)
//   {"key": "tag", "in": ["a", "b"]}                    metadata in set
//   {"key": "year", "range": {"gte": 2020, "lt": 2024}} numeric range (gt, gte, lt, lte)
//   {"document_id": "doc1"}                             the point's document_id equals
//   {"document_id": {"in": ["doc1", "doc2"]}}           the point's document_id in set
//   {"and": [F, ...]}  {"or": [F, ...]}  {"not": F}
//
// Point syntax (one per line of a .jsonl file):
//   {"id": "p1", "vector": [0.1, ...], "text": "...", "document_id": "doc1",
//    "metadata": {"lang": "ko", "year": 2021, "score": 0.5, "draft": false, "tags": ["a"]}}

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ragd/v1/collections.pb.h"
#include "ragd/v1/points.pb.h"
#include "ragd/v1/types.pb.h"

namespace ragd::cli {

absl::StatusOr<v1::Filter> FilterFromJson(const nlohmann::json& json);
// Parses `text` as JSON first.
absl::StatusOr<v1::Filter> ParseFilter(absl::string_view text);

absl::StatusOr<v1::Point> PointFromJson(const nlohmann::json& json);
absl::StatusOr<v1::Point> ParsePoint(absl::string_view line);

// A JSON array of numbers.
absl::StatusOr<std::vector<float>> ParseVector(absl::string_view text);

// A whole response as one JSON object (proto3 JSON, field names as in the .proto), for
// --json output; `with_defaults` prints zero and empty fields too.
std::string ProtoJsonLine(const google::protobuf::Message& message, bool with_defaults);

nlohmann::json ToJson(const v1::Value& value);
nlohmann::json ToJson(const v1::Point& point);
nlohmann::json ToJson(const v1::ScoredPoint& hit);
nlohmann::json ToJson(const v1::CollectionInfo& info);

// "cosine", "dot", "l2".
std::string MetricName(v1::Metric metric);
// "auto", "english", "korean", "simple".
std::string AnalyzerName(v1::Analyzer analyzer);
// "off" or "auto (k1 1.2, b 0.75)".
std::string LexicalSummary(const v1::LexicalSpec& spec);
// "vector #1, text #3" (the legs that found a hit), "" when none is set.
std::string LegsSummary(const v1::LegHit* vector_leg, const v1::LegHit* text_leg);

// The search-mode flags shared by `ragctl search`, `ragctl ask` and `ragctl points search`.
struct SearchModeFlags {
  std::string mode;    // "" (the server's default) | vector | text | hybrid
  std::string fusion;  // "" (rrf) | rrf | weighted
  std::optional<double> rrf_k;
  std::optional<double> alpha;
  uint32_t vector_candidates = 0;
  uint32_t text_candidates = 0;
};
// Sets the request's mode and fusion options; INVALID_ARGUMENT for an unknown mode or fusion.
absl::Status ApplySearchModeFlags(const SearchModeFlags& flags, v1::SearchMode* mode,
                                  v1::FusionOptions* fusion);
// "hnsw(m=16,ef_construction=200,ef=128)", "faiss(HNSW32,ef=128,nprobe=16)", "flat".
std::string IndexSummary(const v1::IndexSpec& spec);

}  // namespace ragd::cli
