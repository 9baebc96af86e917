#pragma once
// Private to services/server (config.cc and the two parsers): the YAML-node parsers of the
// configuration's structured lists. yaml-cpp stays out of every public header.
//
// The `embedders` section of ragd's YAML configuration (part of services/server/config, split out
// because it is a list of structured entries rather than scalar settings):
//
//   embedders:
//     - name: ada                      # what collections bind to (`--embedder ada`)
//       provider: azure-openai         # azure-openai | openai | local
//       endpoint: https://my-resource.openai.azure.com
//       deployment: text-embedding-ada-002
//       api_key_env: AZURE_OPENAI_API_KEY
//       dimension: 1536
//       tokens_per_minute: 350000
//
// Keys are the fields of models::EmbedderConfig (see models/embedder.h for their meaning and
// defaults): provider, endpoint, base_url, deployment, model, api_version, api_key,
// api_key_env, api_key_file, dimension, send_dimensions, max_inputs_per_request,
// max_tokens_per_request, max_concurrency, tokens_per_minute, requests_per_minute,
// rate_limit_burst_ms, max_retries, initial_backoff_ms, max_backoff_ms, max_retry_after_ms,
// timeout_ms, connect_timeout_ms. API keys are read by models::MakeEmbedder when the embedder
// is first used (from the variable or file named), never printed: --print-config shows
// `api_key: <redacted>`.

#include <yaml-cpp/yaml.h>

#include <vector>

#include "absl/status/status.h"
#include "rag/collection_binding.h"
#include "services/server/config_auth.h"

namespace ragd::services {

// Parses the `embedders` sequence into `out` (replacing it). INVALID_ARGUMENT naming the entry
// and key ("embedders[1].dimension: ...") for an unknown key, a malformed value, a missing or
// duplicate name, the reserved name "local", or a config that fails EmbedderConfig::Validate.
absl::Status ParseEmbeddersYaml(const YAML::Node& node, std::vector<rag::NamedEmbedderConfig>* out);

// Emits `embedders` as the value of key "embedders" of the current map, secrets redacted.
void EmitEmbeddersYaml(const std::vector<rag::NamedEmbedderConfig>& embedders, YAML::Emitter& out);

// Parses the `api_keys` sequence into `out` (replacing it). INVALID_ARGUMENT naming the entry
// and key ("auth.api_keys[1].role: ...") for an unknown key, a malformed value, a missing or
// duplicate name, or not exactly one key source.
absl::Status ParseApiKeysYaml(const YAML::Node& node, std::vector<ApiKeyConfig>* out);

// Emits `keys` as the value of key "api_keys" of the current map, without secrets.
void EmitApiKeysYaml(const std::vector<ApiKeyConfig>& keys, YAML::Emitter& out);

}  // namespace ragd::services
