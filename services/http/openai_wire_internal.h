#pragma once
// Private to services/http: OpenAI's JSON shapes, parsed and rendered with nlohmann-json. Every
// parse of a request body goes through ParseJsonObject (non-throwing parse) and the typed
// accessors below (no nlohmann accessor that throws is called on outside data); WithJsonGuard
// turns any exception that still escapes into a status, so none crosses a thread.

#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "index/filter.h"
#include "index/types.h"
#include "models/chat_model.h"
#include "rag/search_backend.h"

namespace ragd::services::http_internal {

using Json = nlohmann::json;

// The `ragd` entry of `data_sources` (Azure OpenAI On Your Data's shape:
// {"type": "ragd", "parameters": {...}}).
struct DataSource {
  std::string collection;
  size_t top_k = 0;  // 0: retrieval.default_k
  std::optional<index::Filter> filter;
  // "vector", "text" or "hybrid"; unset: the server's default for the collection (hybrid
  // with a lexical index, as Retrieval.Answer).
  std::optional<index::SearchMode> search_mode;
  std::optional<float> min_score;
  size_t max_sources = 0;  // 0: retrieval.max_sources
  // Sharded cluster: answer from the shards that can be reached instead of failing 503
  // (Retrieval.Answer's allow_partial); the context then carries the coverage.
  bool allow_partial = false;
};

// POST /v1/chat/completions, checked.
struct ChatCompletionRequest {
  std::string model;
  // system and developer turns become kSystem.
  std::vector<models::ChatMessage> messages;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<size_t> max_tokens;  // max_completion_tokens or max_tokens
  std::vector<std::string> stop;
  std::string user;
  std::optional<DataSource> data_source;
};

// Most texts in one /v1/embeddings request (OpenAI's limit).
inline constexpr size_t kMaxEmbeddingInputs = 2048;

// POST /v1/embeddings, checked.
struct EmbeddingsRequest {
  std::string model;
  std::vector<std::string> input;
  bool base64 = false;  // encoding_format
  std::optional<size_t> dimensions;
};

// Runs `fn`, mapping an exception to INVALID_ARGUMENT (nlohmann's type and parse errors: outside
// data of an unexpected shape), RESOURCE_EXHAUSTED (bad_alloc) or INTERNAL.
absl::Status WithJsonGuard(const std::function<absl::Status()>& fn);

// The body as a JSON object; INVALID_ARGUMENT ("request body: not valid JSON ..." or "... must be
// a JSON object") otherwise.
absl::StatusOr<Json> ParseJsonObject(std::string_view body);

absl::StatusOr<ChatCompletionRequest> ParseChatCompletionRequest(const Json& body);
absl::StatusOr<EmbeddingsRequest> ParseEmbeddingsRequest(const Json& body);
// ragctl's filter JSON (README "Filters"); INVALID_ARGUMENT naming `field`.
absl::StatusOr<index::Filter> ParseFilter(const Json& json, const std::string& field);

// {"error": {"message", "type", "param", "code"}} for a non-OK status.
std::string ErrorBody(const absl::Status& status);
// One Azure On Your Data citation: content, title, url, filepath, chunk_id, plus ragd's
// document_id, heading_path, page, byte_begin, byte_end, ordinal and score.
Json CitationOf(const index::ScoredPoint& hit);
// {"shards_total", "shards_answered", "missing_shards"}: which shards of a sharded cluster a
// search covered (the wire's ShardCoverage, in JSON).
Json CoverageOf(const rag::ShardCoverage& coverage);
// Serializes; invalid UTF-8 (never expected) is replaced, not thrown.
std::string Dump(const Json& json);

}  // namespace ragd::services::http_internal
