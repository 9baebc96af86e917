#pragma once
// Conversions of ragd.v1.Retrieval: engine hits to chunks with citations, hits to prompt
// sources, chat history from the wire, the model catalog and usage to the wire. Kept beside
// convert.h (which holds the Collections and Points conversions) rather than in it, so that
// the retrieval layer's model types stay out of the core conversions; the rule is the same:
// wire <-> internal types meet only in these two files.

#include <google/protobuf/repeated_ptr_field.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "index/engine/engine.h"
#include "models/chat_model.h"
#include "models/model_catalog.h"
#include "rag/search_backend.h"
#include "ragd/v1/retrieval.pb.h"

namespace ragd::services {

// The metadata keys of a chunk that the ingest pipeline writes for citations
// (ingest/chunk_schema.h): title (string), heading_path (list of strings), page, ordinal,
// byte_begin, byte_end, token_count (ints). They become Citation fields; every other key stays
// in RetrievedChunk.metadata. Keys of another type than expected are left in metadata.
// Moves the text and metadata out of `hit`.
void ToProto(index::ScoredPoint&& hit, v1::RetrievedChunk* out);

// Roles "user" and "assistant" (any case); INVALID_ARGUMENT naming "history[i].role"
// otherwise (a "system" turn included: the grounding rules are the server's).
absl::StatusOr<std::vector<models::ChatMessage>> FromProto(
    const google::protobuf::RepeatedPtrField<v1::ChatTurn>& history);

// Never copies API keys.
void ToProto(const models::ModelDeployment& deployment, v1::ModelInfo* out);
void ToProto(const models::ChatUsage& usage, v1::Usage* out);

// A routed retrieval's coverage (sharded cluster).
void ToProto(const rag::ShardCoverage& coverage, v1::ShardCoverage* out);

// "cl100k_base" or "o200k_base".
std::string EncodingName(models::Encoding encoding);

}  // namespace ragd::services
