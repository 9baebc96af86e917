#include "models/embedder.h"

#include <algorithm>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "models/local_embedder.h"
#include "models/openai_embedder.h"

namespace ragd::models {
namespace {

constexpr size_t kMaxDimension = 65536;
constexpr size_t kMaxConcurrency = 256;
constexpr size_t kMaxNgram = 8;
// OpenAI's documented cap on inputs per embeddings request.
constexpr size_t kMaxInputsPerRequest = 2048;

bool IsHttpUrl(const std::string& url) {
  return absl::StartsWith(url, "http://") || absl::StartsWith(url, "https://");
}

}  // namespace

std::string_view EmbedderProviderName(EmbedderProvider provider) {
  switch (provider) {
    case EmbedderProvider::kLocal:
      return "local";
    case EmbedderProvider::kAzureOpenAi:
      return "azure-openai";
    case EmbedderProvider::kOpenAi:
      return "openai";
  }
  return "unknown";
}

std::string NormalizeEndpoint(std::string_view endpoint) {
  std::string out(endpoint);
  while (!out.empty() && out.back() == '/') out.pop_back();
  const size_t scheme_end = out.find("://");
  const size_t host_begin = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  const size_t host_end = std::min(out.find('/', host_begin), out.size());
  for (size_t i = 0; i < host_end; ++i) {
    if (out[i] >= 'A' && out[i] <= 'Z') out[i] = static_cast<char>(out[i] - 'A' + 'a');
  }
  return out;
}

absl::StatusOr<EmbedderProvider> ParseEmbedderProvider(std::string_view name) {
  for (EmbedderProvider p :
       {EmbedderProvider::kLocal, EmbedderProvider::kAzureOpenAi, EmbedderProvider::kOpenAi}) {
    if (name == EmbedderProviderName(p)) return p;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown embedder provider \"", std::string(name),
                                                 "\"; use local, azure-openai or openai"));
}

absl::Status EmbedderConfig::Validate() const {
  if (dimension < 1 || dimension > kMaxDimension) {
    return absl::InvalidArgumentError(absl::StrCat("dimension must be between 1 and ",
                                                   kMaxDimension, ", got ", dimension,
                                                   " (text-embedding-ada-002 has 1536)"));
  }
  switch (provider) {
    case EmbedderProvider::kLocal:
      if (local.char_ngram_min > local.char_ngram_max) {
        return absl::InvalidArgumentError(
            absl::StrCat("local.char_ngram_min (", local.char_ngram_min,
                         ") must not exceed local.char_ngram_max (", local.char_ngram_max, ")"));
      }
      if (local.char_ngram_max > kMaxNgram) {
        return absl::InvalidArgumentError(absl::StrCat("local.char_ngram_max must be at most ",
                                                       kMaxNgram, ", got ", local.char_ngram_max));
      }
      if (local.char_ngram_max > 0 && local.char_ngram_min == 0) {
        return absl::InvalidArgumentError(
            "local.char_ngram_min must be at least 1 when n-grams are enabled "
            "(set both to 0 to disable them)");
      }
      return absl::OkStatus();
    case EmbedderProvider::kAzureOpenAi:
      if (endpoint.empty()) {
        return absl::InvalidArgumentError(
            "azure-openai needs endpoint, e.g. https://<resource>.openai.azure.com");
      }
      if (!IsHttpUrl(endpoint)) {
        return absl::InvalidArgumentError(
            absl::StrCat("endpoint must start with https:// (or http://), got \"", endpoint, "\""));
      }
      if (deployment.empty()) {
        return absl::InvalidArgumentError(
            "azure-openai needs deployment: the name of the embeddings deployment on the resource");
      }
      if (deployment.find_first_of("/?#% ") != std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("deployment must be a plain name without /, ?, #, % or spaces, got \"",
                         deployment, "\""));
      }
      if (api_version.empty() || api_version.find_first_of("&#/? ") != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            "api_version must be a version like 2024-02-01, got \"", api_version, "\""));
      }
      break;
    case EmbedderProvider::kOpenAi:
      if (!IsHttpUrl(base_url)) {
        return absl::InvalidArgumentError(
            absl::StrCat("base_url must start with https:// (or http://), e.g. "
                         "https://api.openai.com/v1, got \"",
                         base_url, "\""));
      }
      if (model.empty()) {
        return absl::InvalidArgumentError("openai needs model, e.g. text-embedding-ada-002");
      }
      break;
  }
  int key_sources = !api_key.empty() + !api_key_env.empty() + !api_key_file.empty();
  if (key_sources > 1) {
    return absl::InvalidArgumentError("set only one of api_key, api_key_env and api_key_file");
  }
  if (max_inputs_per_request > kMaxInputsPerRequest) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_inputs_per_request must be at most ", kMaxInputsPerRequest,
                     " (0 for the provider's default), got ", max_inputs_per_request));
  }
  if (max_tokens_per_request < kMaxEmbeddingInputTokens) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_tokens_per_request must be at least ", kMaxEmbeddingInputTokens,
                     " so that any valid input fits in a request, got ", max_tokens_per_request));
  }
  if (max_concurrency < 1 || max_concurrency > kMaxConcurrency) {
    return absl::InvalidArgumentError(absl::StrCat("max_concurrency must be between 1 and ",
                                                   kMaxConcurrency, ", got ", max_concurrency));
  }
  if ((tokens_per_minute > 0 || requests_per_minute > 0) && rate_limit_burst_ms < 1) {
    return absl::InvalidArgumentError("rate_limit_burst_ms must be at least 1");
  }
  if (initial_backoff_ms > max_backoff_ms) {
    return absl::InvalidArgumentError(absl::StrCat("initial_backoff_ms (", initial_backoff_ms,
                                                   ") must not exceed max_backoff_ms (",
                                                   max_backoff_ms, ")"));
  }
  if (timeout_ms < 1 || connect_timeout_ms < 1) {
    return absl::InvalidArgumentError("timeout_ms and connect_timeout_ms must be at least 1");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Embedder>> MakeEmbedder(const EmbedderConfig& config,
                                                       EmbeddingObserver* observer) {
  RETURN_IF_ERROR(config.Validate());
  switch (config.provider) {
    case EmbedderProvider::kLocal:
      return std::unique_ptr<Embedder>(new LocalEmbedder(config.dimension, config.local, observer));
    case EmbedderProvider::kAzureOpenAi:
    case EmbedderProvider::kOpenAi: {
      ASSIGN_OR_RETURN(std::unique_ptr<OpenAiEmbedder> e, OpenAiEmbedder::Create(config, observer));
      return std::unique_ptr<Embedder>(std::move(e));
    }
  }
  return absl::InvalidArgumentError("unknown embedder provider");
}

}  // namespace ragd::models
