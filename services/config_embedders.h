#pragma once
// The `embedders` section of ragd's YAML configuration (part of services/config, split out
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

#include <vector>

#include <yaml-cpp/yaml.h>

#include "absl/status/status.h"
#include "services/collection_binding.h"

namespace ragd::services {

// Parses the `embedders` sequence into `out` (replacing it). INVALID_ARGUMENT naming the entry
// and key ("embedders[1].dimension: ...") for an unknown key, a malformed value, a missing or
// duplicate name, the reserved name "local", or a config that fails EmbedderConfig::Validate.
absl::Status ParseEmbeddersYaml(const YAML::Node& node, std::vector<NamedEmbedderConfig>* out);

// Emits `embedders` as the value of key "embedders" of the current map, secrets redacted.
void EmitEmbeddersYaml(const std::vector<NamedEmbedderConfig>& embedders, YAML::Emitter& out);

}  // namespace ragd::services
