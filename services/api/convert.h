#pragma once
// The one place where wire types (ragd.v1 protobuf) meet engine types (ragd::index), and where
// absl::Status becomes grpc::Status. Conversions from the wire check what the wire can express
// and the engine cannot (an unset oneof, an unknown enum value) and return INVALID_ARGUMENT
// naming the field by its path in the request ("points[3].metadata[\"lang\"]"); everything
// else is validated by the engine.

#include <google/protobuf/repeated_ptr_field.h>
#include <grpcpp/support/status.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "index/engine/engine.h"
#include "index/filter.h"
#include "index/types.h"
#include "ragd/v1/collections.pb.h"
#include "ragd/v1/points.pb.h"
#include "ragd/v1/types.pb.h"

namespace ragd::services {

// Same code (absl's codes are gRPC's canonical codes) and message.
grpc::Status ToGrpcStatus(const absl::Status& status);

// --- wire -> engine ---------------------------------------------------------------------------

// METRIC_UNSPECIFIED is COSINE; values this server does not know are INVALID_ARGUMENT.
absl::StatusOr<index::Metric> FromProto(v1::Metric metric, absl::string_view field);
// An unset spec is HNSW with defaults; zero-valued knobs take the engine's defaults.
absl::StatusOr<index::IndexSpec> FromProto(const v1::IndexSpec& spec, absl::string_view field);
absl::StatusOr<index::CollectionSpec> FromProto(const v1::CreateCollectionRequest& request);
absl::StatusOr<index::MetadataValue> FromProto(const v1::Value& value, absl::string_view field);
// Moves strings out of `point`.
absl::StatusOr<index::Point> FromProto(v1::Point&& point, absl::string_view field);
// Moves the points out of `points`; fields are named "points[i]...".
absl::StatusOr<std::vector<index::Point>> FromProto(
    google::protobuf::RepeatedPtrField<v1::Point>* points);
absl::StatusOr<index::Filter> FromProto(const v1::Filter& filter, absl::string_view field);
// Unset mode: hybrid when the request has a vector and a text, text with only a text, else
// vector.
absl::StatusOr<index::SearchRequest> FromProto(const v1::SearchRequest& request);
// An unset lexical spec: on (auto analyzer) when the request binds an embedder, else off.
absl::StatusOr<index::LexicalSpec> FromProto(const v1::LexicalSpec& spec, absl::string_view field);
// SEARCH_MODE_UNSPECIFIED is std::nullopt (the caller's default).
absl::StatusOr<std::optional<index::SearchMode>> FromProto(v1::SearchMode mode,
                                                           absl::string_view field);
// Unset fields take the engine's defaults (HybridOptions).
absl::StatusOr<index::HybridOptions> FromProto(const v1::FusionOptions& fusion,
                                               absl::string_view field);

// --- engine -> wire ---------------------------------------------------------------------------

v1::Metric ToProto(index::Metric metric);
void ToProto(const index::IndexSpec& spec, v1::IndexSpec* out);
void ToProto(const index::CollectionInfo& info, v1::CollectionInfo* out);
void ToProto(const index::MetadataValue& value, v1::Value* out);
// Moves strings out of `point`.
void ToProto(index::Point&& point, v1::Point* out);
void ToProto(const index::Filter& filter, v1::Filter* out);
void ToProto(const index::LexicalSpec& spec, v1::LexicalSpec* out);
void ToProto(const index::LegHit& leg, v1::LegHit* out);

}  // namespace ragd::services
