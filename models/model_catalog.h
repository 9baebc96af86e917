#pragma once
// The model catalog: the chat model deployments ragd can answer with, their limits (context
// window, output cap), tokenizer and list prices.
//
// A deployment is configured by name (what callers ask for) with a provider:
//   azure-openai  POST {endpoint}/openai/deployments/{deployment}/chat/completions
//                 ?api-version={api_version}, header `api-key`;
//   openai        POST {base_url}/chat/completions, `Authorization: Bearer`, body `model`
//                 (also any OpenAI-compatible server);
//   local         the built-in offline extractive answerer (local_chat_model.h). A deployment
//                 named "local" is always in the catalog and is the default model unless the
//                 configuration names another.
//
// Built-in profiles fill what the configuration leaves out. They are an explicit table of model
// versions (model_catalog.cc cites the public source and date of every row), looked up by
// `model`, else `deployment`, else `name` (case-insensitive; "gpt-3.5-turbo" is read as
// "gpt-35-turbo"), and then by an explicit `family`:
//   - an exact versioned name, OpenAI style ("gpt-4-1106-preview", "gpt-35-turbo-0125",
//     "gpt-4o-2024-08-06") or Azure model + version joined by '-' ("gpt-4" version
//     "turbo-2024-04-09" -> "gpt-4-turbo-2024-04-09"), gets its own row;
//   - a bare family name gets the family's default version (marked * below: OpenAI's alias
//     target, which is also the version Azure still serves);
//   - a family followed by an unknown version ("gpt-4-0409", "gpt-4o-2025-01-31": '-' then a
//     digit) gets the family's default row and a warning (ModelDeployment::catalog_warning),
//     unless the configuration sets every limit and price itself.
//
//   family / version            context  max output  USD / 1K input  USD / 1K output  tokenizer
//   gpt-35-turbo  0301            4,096       4,096          0.0015           0.002    cl100k
//                 0613            4,096       4,096          0.0015           0.002    cl100k
//                 1106           16,385       4,096          0.001            0.002    cl100k
//                 0125 *         16,385       4,096          0.0005           0.0015   cl100k
//   gpt-35-turbo-16k  0613 *     16,384      16,384          0.003            0.004    cl100k
//   gpt-4         0314            8,192       8,192          0.03             0.06     cl100k
//                 0613 *          8,192       8,192          0.03             0.06     cl100k
//                 1106-preview  128,000       4,096          0.01             0.03     cl100k
//                 0125-preview  128,000       4,096          0.01             0.03     cl100k
//                 vision-preview, 1106-vision-preview: as 1106-preview
//   gpt-4-32k     0314, 0613 *   32,768      32,768          0.06             0.12     cl100k
//   gpt-4-turbo   2024-04-09 *  128,000       4,096          0.01             0.03     cl100k
//                 preview (= gpt-4-0125-preview)
//   gpt-4o        2024-05-13    128,000       4,096          0.005            0.015    o200k
//                 2024-08-06 *  128,000      16,384          0.0025           0.01     o200k
//                 2024-11-20    128,000      16,384          0.0025           0.01     o200k
//   gpt-4o-mini   2024-07-18 *  128,000      16,384          0.00015          0.0006   o200k
//   local                       128,000       4,096          0                0        cl100k
//
// Prices are the public pay-as-you-go list prices (OpenAI's pricing page; Azure OpenAI's global
// standard prices were the same for these versions; model_catalog.cc says what was confirmed
// and where). Prices change and differ by region, deployment type and contract: operators
// should set price_per_1k_input / _output. A bare family is its default version on Azure only
// if the deployment was made at that version: name the version in `model` to be sure.
//
// Thread safety: a ModelCatalog is immutable after construction (FromYaml / Add happen before
// it is shared); const methods may be called concurrently.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "models/secrets.h"
#include "models/tokenizer.h"

namespace ragd::models {

enum class ChatProvider { kLocal, kAzureOpenAi, kOpenAi };

// "local", "azure-openai", "openai".
std::string_view ChatProviderName(ChatProvider provider);
// The inverse of ChatProviderName; INVALID_ARGUMENT listing the valid names otherwise.
absl::StatusOr<ChatProvider> ParseChatProvider(std::string_view name);

// One chat model deployment. Plain values; Validate() says what to change.
struct ModelDeployment {
  // The catalog key callers ask for, e.g. "gpt-4o" or "eu-gpt4". Required.
  // Default: "".
  std::string name;
  // Default: kLocal.
  ChatProvider provider = ChatProvider::kLocal;
  // azure-openai: the resource endpoint, e.g. "https://my-resource.openai.azure.com".
  // Default: "".
  std::string endpoint;
  // openai: the API root including the version (an OpenAI-compatible server's ".../v1").
  // Default: "https://api.openai.com/v1".
  std::string base_url = "https://api.openai.com/v1";
  // azure-openai: the deployment name. Required for azure-openai.
  // Default: "".
  std::string deployment;
  // openai: the model sent in the body (required). azure-openai: informational.
  // Default: "".
  std::string model;
  // azure-openai: the `api-version` query parameter. 2024-10-21 is GA and accepts
  // `stream_options` (usage in streams).
  // Default: "2024-10-21".
  std::string api_version = "2024-10-21";
  // The API key: at most one source. The key itself, an environment variable holding it, or a
  // file holding it (surrounding whitespace is trimmed from every source). None:
  // AZURE_OPENAI_API_KEY (azure-openai, required) or OPENAI_API_KEY (openai, optional) is read.
  // See ResolveApiKey (openai_rest.h).
  // Default: "" for all three.
  std::string api_key;
  std::string api_key_env;
  std::string api_key_file;
  // Reads api_key_env / api_key_file and the default variable (secrets.h); without one only
  // `api_key` can supply a key. Set for every deployment by ModelCatalog::SetSecretReader.
  // Default: none.
  std::shared_ptr<const SecretReader> secrets;
  // The model family of the profile that filled the limits and prices (see the table above).
  // Set explicitly, it is looked up after model / deployment / name (a versioned name there
  // is more precise) and silences the unknown-version warning.
  // Default: "".
  std::string family;
  // Tokens of prompt plus completion the model accepts. Must be > 0.
  // Default: 0 (filled from the profile).
  size_t context_window = 0;
  // Most completion tokens one request may ask for; at most context_window.
  // Default: 0 (filled from the profile).
  size_t max_output_tokens = 0;
  // List prices in USD per 1,000 tokens; >= 0.
  // Default: 0 and 0 (filled from the profile).
  double price_per_1k_input = 0;
  double price_per_1k_output = 0;
  // The tokenizer used for budgeting and for counting usage a stream omits.
  // Default: kCl100kBase (filled from the profile or the model name).
  Encoding encoding = Encoding::kCl100kBase;

  // Client behaviour (remote providers).
  // Ask streams for a final usage chunk (`stream_options: {"include_usage": true}`); servers
  // that reject it need false, and usage is then counted locally.
  // Default: true.
  bool stream_usage = true;
  // Retries after the first try on 408, 409, 429, 5xx, network errors and timeouts, only while
  // nothing has been delivered to the caller. Back-off: full jitter in
  // [0, min(max_backoff_ms, initial_backoff_ms * 2^k)], or the server's `retry-after-ms` /
  // `Retry-After` (seconds or an HTTP-date) capped at max_retry_after_ms (openai_rest.h).
  // Default: 4, 500, 8000, 30000.
  size_t max_retries = 4;
  uint64_t initial_backoff_ms = 500;
  uint64_t max_backoff_ms = 8000;
  uint64_t max_retry_after_ms = 30000;
  // Limit of one request (including the whole stream), of connecting, and of waiting for the
  // first content token of the answer (time to first token; a stream's headers, Azure's
  // prompt-filter chunk and the role chunk do not count). 0 disables the first-token limit.
  // Default: 300000, 10000, 60000.
  uint64_t timeout_ms = 300000;
  uint64_t connect_timeout_ms = 10000;
  uint64_t first_token_timeout_ms = 60000;

  // Set by the catalog (not configurable): why the limits or prices may be wrong, e.g. an
  // unknown version that got its family's row. Empty when the profile matched exactly, or
  // when the configuration set everything the profile would have filled.
  // Default: "".
  std::string catalog_warning;

  // OK, or INVALID_ARGUMENT naming the deployment and the field to change.
  absl::Status Validate() const;
};

// Limits, prices and tokenizer of one model version (a row of the table above).
struct ModelProfile {
  std::string_view family;
  // "" only for "local".
  std::string_view version;
  // True for the row a bare family name gets (marked * above).
  bool family_default;
  size_t context_window;
  size_t max_output_tokens;
  double price_per_1k_input;
  double price_per_1k_output;
  Encoding encoding;
};

// The built-in profiles, in the order of the table above.
const std::vector<ModelProfile>& DefaultModelProfiles();

// How a name matched the table.
struct ModelProfileMatch {
  // nullptr when nothing matched.
  const ModelProfile* profile = nullptr;
  // True when the name is a known family with a version the table lacks: `profile` is then
  // the family's default row.
  bool unknown_version = false;
};
// Looks a versioned model name, or a bare family name, up in the table (rules above).
ModelProfileMatch LookupModelProfile(std::string_view model);
// LookupModelProfile(model).profile.
const ModelProfile* FindModelProfile(std::string_view model);
// The always-present "local" deployment.
ModelDeployment LocalModelDeployment();

class ModelCatalog {
 public:
  // A catalog with only the "local" deployment, which is the default.
  ModelCatalog();

  // Parses the `models` section of the configuration:
  //
  //   default_model: gpt-4o           # optional; default "local"
  //   deployments:
  //     - name: gpt-4o                # required, unique
  //       provider: azure-openai      # local | azure-openai | openai
  //       endpoint: https://my-resource.openai.azure.com
  //       deployment: gpt-4o
  //       api_key_env: AZURE_OPENAI_API_KEY
  //       # any other ModelDeployment field, by its C++ name; encoding: cl100k_base|o200k_base
  //
  // Fields left out come from the profile (see the table) and ModelDeployment's defaults.
  // INVALID_ARGUMENT for YAML syntax errors, unknown keys (naming the key and the entry),
  // wrong value types, duplicate names, a deployment that fails Validate(), an unknown
  // default_model, or limits missing for a model without a profile.
  static absl::StatusOr<ModelCatalog> FromYaml(std::string_view yaml_text);

  // Adds or replaces (same name) a deployment after Validate(); INVALID_ARGUMENT otherwise.
  absl::Status Add(ModelDeployment deployment);
  // INVALID_ARGUMENT when no deployment has that name.
  absl::Status SetDefault(std::string_view name);

  // The deployment called `name`, or nullptr.
  const ModelDeployment* Find(std::string_view name) const;
  // Like Find, but NOT_FOUND listing the configured names.
  absl::StatusOr<const ModelDeployment*> Get(std::string_view name) const;
  // Every deployment, "local" first, then in configuration order.
  const std::vector<ModelDeployment>& deployments() const { return deployments_; }
  // Gives every deployment `secrets` to read the keys its configuration names (secrets.h).
  void SetSecretReader(const std::shared_ptr<const SecretReader>& secrets) {
    for (ModelDeployment& d : deployments_) d.secrets = secrets;
  }
  const std::string& default_model() const { return default_model_; }
  // The non-empty catalog_warning of every deployment, in deployments() order; for the server
  // to log at startup.
  std::vector<std::string> Warnings() const;

 private:
  std::vector<ModelDeployment> deployments_;
  std::string default_model_ = "local";
};

}  // namespace ragd::models
