#pragma once
// Text embedders: turn chunks of text into fixed-length float vectors for the vector index.
//
// Three providers, built by MakeEmbedder from an EmbedderConfig:
//   local         built-in, offline, deterministic feature hashing (lexical, not semantic; see
//                 local_embedder.h). The default when nothing is configured.
//   azure-openai  POST {endpoint}/openai/deployments/{deployment}/embeddings?api-version=...
//                 with an `api-key` header.
//   openai        POST {base_url}/embeddings with `Authorization: Bearer <key>` and the model
//                 name; also works with OpenAI-compatible servers.
//
// Remote embedders batch by input count and by tokens per request, bound their concurrency,
// rate-limit themselves to the deployment's quotas and retry transient failures with
// exponential back-off and jitter (see openai_embedder.h). The API key never appears in an
// error message or a log line.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "models/secrets.h"

namespace ragd::models {

// What one Embed call cost. Embed adds to the fields (it never resets them), so one usage
// object can total a whole ingest job.
struct EmbeddingUsage {
  // Tokens the provider billed (`usage.prompt_tokens` of the responses); for the local
  // embedder, the cl100k_base tokens of the inputs are not counted and this stays 0.
  uint64_t prompt_tokens = 0;
  // HTTP requests sent, retries included (0 for the local embedder).
  uint64_t requests = 0;
  // Requests that were repeats of a failed one.
  uint64_t retries = 0;
};

// One upstream embedding request, as reported to an EmbeddingObserver. For the remote
// embedders a request is one batch of inputs (one POST, plus its retries); for the local
// embedder, one Embed call.
struct EmbeddingRequestRecord {
  // The model label: the deployment (azure-openai), the model (openai), or model_id() (local,
  // e.g. "local/hash-v1-1536"). The same value services store as a collection's embedder model.
  std::string_view model;
  // OK, or the code the request failed with (see Embedder::Embed); CANCELLED when the request
  // was abandoned because another batch of the same Embed call failed.
  absl::StatusCode code = absl::StatusCode::kOk;
  // From the first try to the outcome, seconds: retries, back-off and quota waits between
  // tries included; waiting for a concurrency slot or the quota before the first try is not.
  double seconds = 0;
  // Inputs in the request.
  uint64_t inputs = 0;
  // Tokens the provider billed for it (`usage.prompt_tokens`; the request's cl100k_base
  // tokens when the response has no usage). 0 when it failed, and always 0 for the local
  // embedder, which bills nothing.
  uint64_t tokens = 0;
  // Tries after the first (HTTP 408/409/429/5xx, network errors, timeouts).
  uint64_t retries = 0;
};

// Receives one record per upstream request of every embedder it is given to (MakeEmbedder),
// e.g. to export metrics. Called on the thread that made the request, once the request's
// outcome is known and before Embed returns; requests that never started (an input rejected
// before sending, a batch skipped after another failed) are not reported.
// Thread safety: called concurrently from many threads; must be quick and must not block.
class EmbeddingObserver {
 public:
  virtual ~EmbeddingObserver() = default;
  virtual void OnEmbeddingRequest(const EmbeddingRequestRecord& record) = 0;
};

// The longest input, in cl100k_base tokens, that text-embedding-ada-002 and text-embedding-3-*
// accept. Longer inputs are rejected, never silently truncated.
inline constexpr size_t kMaxEmbeddingInputTokens = 8191;

// Who makes an embedder's vectors, precisely enough to key a persisted cache: embedders with
// equal identities make the same vector for the same text, and two Azure resources (or an
// OpenAI and an Azure model) with the same deployment or model name differ by provider or
// endpoint.
struct EmbedderIdentity {
  // "local", "azure-openai", "openai"; "" for other implementations (tests).
  std::string provider;
  // azure-openai: the resource endpoint; openai: base_url. Lower-case scheme and host, no
  // trailing '/' (NormalizeEndpoint). "" for the local embedder.
  std::string endpoint;
  // azure-openai: the deployment; openai: the model; otherwise model_id().
  std::string model;
  // Length of the vectors.
  size_t dimension = 0;

  bool operator==(const EmbedderIdentity&) const = default;
};

// "HTTPS://My-Resource.openai.azure.com/" -> "https://my-resource.openai.azure.com": scheme and
// host lower-cased (they are case-insensitive), trailing slashes dropped; the path is kept.
std::string NormalizeEndpoint(std::string_view endpoint);

// Thread safety: every method may be called concurrently from any number of threads.
class Embedder {
 public:
  virtual ~Embedder() = default;

  // Length of every vector Embed returns.
  virtual size_t dimension() const = 0;

  // A stable key for caching embeddings: two embedders with the same model_id produce the same
  // vector for the same text. E.g. "azure-openai/<deployment>", "openai/<model>",
  // "local/hash-v1-1536".
  virtual std::string model_id() const = 0;

  // The key of persisted caches (ingest/embedding_cache.h). Default: {"", "", model_id(),
  // dimension()}; the remote embedders add their provider and endpoint.
  virtual EmbedderIdentity identity() const { return {"", "", model_id(), dimension()}; }

  // True when Embed computes in this process (no network round trip): a caller may then embed
  // on a thread that must not block on I/O. Default: false.
  virtual bool in_process() const { return false; }

  // Embeds `texts` in order: result[i] is the vector of texts[i], of length dimension(). An
  // empty `texts` gives an empty result without any request. All or nothing: on error no
  // vector is returned. When `usage` is not null, the cost is added to it (also on error, for
  // the requests that were made).
  //
  // Status codes:
  //   INVALID_ARGUMENT    an empty string, invalid UTF-8, an input over
  //                       kMaxEmbeddingInputTokens (remote only), or HTTP 400 (the message says
  //                       which input and why).
  //   FAILED_PRECONDITION HTTP 401/403/404: the message names what to fix (API key,
  //                       deployment or model name, endpoint, api_version).
  //   RESOURCE_EXHAUSTED  still HTTP 429 after max_retries retries.
  //   UNAVAILABLE         network errors or HTTP 408/409/5xx after max_retries retries.
  //   DEADLINE_EXCEEDED   the last try timed out (timeout_ms).
  //   INTERNAL            a malformed response ("malformed upstream response: ..."): not
  //                       JSON, wrong count, missing or duplicate index, wrong dimension,
  //                       values that are not finite numbers, usage counts that are not
  //                       unsigned integers.
  virtual absl::StatusOr<std::vector<std::vector<float>>> Embed(
      const std::vector<std::string>& texts, EmbeddingUsage* usage = nullptr) = 0;
};

enum class EmbedderProvider { kLocal, kAzureOpenAi, kOpenAi };

// "local", "azure-openai", "openai".
std::string_view EmbedderProviderName(EmbedderProvider provider);
// The inverse of EmbedderProviderName; INVALID_ARGUMENT listing the valid names otherwise.
absl::StatusOr<EmbedderProvider> ParseEmbedderProvider(std::string_view name);

// Options of the local feature-hashing embedder (local_embedder.h explains the features).
struct LocalEmbedderOptions {
  // Character n-grams of every word, padded with begin/end markers, for n in
  // [char_ngram_min, char_ngram_max]. 0 and 0 disables them (words only).
  // Default: 2 and 3 (bigrams carry most of the meaning of Hangul syllable pairs; trigrams
  // tolerate inflection in English).
  size_t char_ngram_min = 2;
  size_t char_ngram_max = 3;
  // Adds a feature for every pair of adjacent words, for some phrase sensitivity.
  // Default: true.
  bool word_bigrams = true;
};

// Construction options of an embedder. Plain values: services/server/config fills them from YAML,
// the environment and flags; Validate() says what to change.
struct EmbedderConfig {
  // Default: kLocal.
  EmbedderProvider provider = EmbedderProvider::kLocal;

  // azure-openai: the resource endpoint, e.g. "https://my-resource.openai.azure.com" (a
  // trailing slash is fine). Required for azure-openai.
  // Default: "".
  std::string endpoint;
  // openai: the API root including the version, e.g. "https://api.openai.com/v1" or an
  // OpenAI-compatible server's "http://host:port/v1".
  // Default: "https://api.openai.com/v1".
  std::string base_url = "https://api.openai.com/v1";
  // azure-openai: the deployment name (not the model name). Required for azure-openai.
  // Default: "".
  std::string deployment;
  // openai: the model sent in the request body. azure-openai: informational only (the
  // deployment decides the model).
  // Default: "text-embedding-ada-002".
  std::string model = "text-embedding-ada-002";
  // azure-openai: the `api-version` query parameter.
  // Default: "2024-02-01" (GA, supports embeddings).
  std::string api_version = "2024-02-01";

  // The API key: exactly one source may be set. `api_key` is the key itself; `api_key_env` the
  // name of an environment variable holding it; `api_key_file` a file holding it (use a
  // Kubernetes secret mount). Surrounding whitespace is trimmed from every source (see
  // ResolveApiKey in openai_rest.h). When none is set, the environment
  // variable AZURE_OPENAI_API_KEY (azure-openai) or OPENAI_API_KEY (openai) is read; azure-openai
  // requires a key, openai sends none if that is unset (OpenAI-compatible servers may not need
  // one).
  // Default: "" for all three.
  std::string api_key;
  std::string api_key_env;
  std::string api_key_file;
  // Reads api_key_env / api_key_file and the default variable (secrets.h); without one only
  // `api_key` can supply a key. Default: none.
  std::shared_ptr<const SecretReader> secrets;

  // Length of the vectors. Responses of another length are an INTERNAL error.
  // Default: 1536 (text-embedding-ada-002; also the local embedder's default).
  size_t dimension = 1536;
  // openai / azure-openai: send `"dimensions": dimension` in the request, for
  // text-embedding-3-* models that can shorten their vectors. ada-002 rejects it.
  // Default: false.
  bool send_dimensions = false;

  // Most inputs in one request. 0 means the provider's default: 16 for azure-openai (the
  // documented cap of many deployments), 2048 for openai.
  // Default: 0.
  size_t max_inputs_per_request = 0;
  // Most cl100k_base tokens (summed over the inputs) in one request.
  // Default: 300000 (OpenAI's documented per-request cap).
  size_t max_tokens_per_request = 300000;
  // Most requests of this embedder in flight at once, shared by all concurrent Embed calls;
  // one Embed call also runs at most this many batches in parallel.
  // Default: 4.
  size_t max_concurrency = 4;
  // Client-side quotas of the deployment, enforced with token buckets shared by all calls of
  // this embedder, so that steady traffic does not trip 429s. 0 disables a limit.
  // Default: 0 and 0.
  uint64_t tokens_per_minute = 0;
  uint64_t requests_per_minute = 0;
  // How much of a quota may be spent in one burst: the buckets hold this many milliseconds of
  // quota. Azure evaluates quotas over 1 to 10 second windows, so a full minute's burst would
  // be rejected.
  // Default: 10000.
  uint64_t rate_limit_burst_ms = 10000;

  // Retries after the first try of a request, on 408, 409, 429, 5xx and network errors.
  // Default: 6.
  size_t max_retries = 6;
  // Exponential back-off with full jitter: before retry k (0-based) the client sleeps a uniform
  // random time in [0, min(max_backoff_ms, initial_backoff_ms * 2^k)], unless the response
  // said how long to wait (`retry-after-ms`, or `Retry-After` in seconds or as an HTTP-date),
  // which is honoured up to max_retry_after_ms.
  // Default: 500, 30000 and 60000.
  uint64_t initial_backoff_ms = 500;
  uint64_t max_backoff_ms = 30000;
  uint64_t max_retry_after_ms = 60000;
  // Timeout of one HTTP request (connect, send, wait, receive), and of connecting alone.
  // Default: 60000 and 10000.
  uint64_t timeout_ms = 60000;
  uint64_t connect_timeout_ms = 10000;

  // provider == kLocal only.
  LocalEmbedderOptions local;

  // OK, or INVALID_ARGUMENT naming the field to change and why.
  absl::Status Validate() const;
};

// Builds the embedder of `config.provider` (Validate()s first). Remote embedders resolve their
// API key here: FAILED_PRECONDITION when it cannot be read (the message names the variable or
// file, never the key). No network traffic happens until the first Embed. `observer`, when not
// null, is told about every request the embedder makes; it is not owned and must outlive the
// embedder.
absl::StatusOr<std::unique_ptr<Embedder>> MakeEmbedder(const EmbedderConfig& config,
                                                       EmbeddingObserver* observer = nullptr);

}  // namespace ragd::models
