#pragma once
// Embedders of Azure OpenAI and OpenAI (and OpenAI-compatible servers) over their REST APIs:
//   azure-openai: POST {endpoint}/openai/deployments/{deployment}/embeddings?api-version={v}
//                 header `api-key: <key>`, body {"input": [...]}
//   openai:       POST {base_url}/embeddings
//                 header `Authorization: Bearer <key>`, body {"input": [...], "model": "..."}
// Response: {"data": [{"index": i, "embedding": [...]}, ...], "usage": {"prompt_tokens": n}}.
//
// One Embed call:
//   1. validates every input (non-empty, UTF-8, at most kMaxEmbeddingInputTokens cl100k_base
//      tokens) before sending anything;
//   2. cuts the inputs, in order, into batches of at most max_inputs_per_request inputs and
//      max_tokens_per_request tokens;
//   3. sends up to max_concurrency batches in parallel (and never more than max_concurrency
//      requests in flight for the whole embedder), each after reserving its tokens and one
//      request from the shared rate limiters;
//   4. retries 408, 409, 429, 5xx and network errors with exponential back-off and full jitter,
//      or after the delay the server asked for (`retry-after-ms`, `Retry-After` in seconds or
//      as an HTTP-date): the RetryBackoff and ParseRetryAfter of openai_rest.h, shared with
//      the chat client; a server delay also holds back the other requests of this embedder,
//      which would only be throttled too;
//   5. checks every response behind one guard (a non-throwing parse, then explicit type checks:
//      count, each index once, dimension, numbers, finite values, `usage.prompt_tokens` an
//      unsigned integer when present) and places the vectors by `index`; anything else is
//      INTERNAL "malformed upstream response", never an exception.
// The first failing batch fails the call (the others stop at their next step); no partial
// result is returned. Status codes: see Embedder::Embed.
//
// The API key (ResolveApiKey of openai_rest.h) is held in memory only; messages are scrubbed
// of it even if a server echoes it.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "models/embedder.h"
#include "models/http_client.h"
#include "models/openai_rest.h"
#include "models/rate_limiter.h"

namespace ragd::models {

// Thread safety: Embed may be called concurrently; calls share the connection pool, the
// concurrency limit and the rate limiters.
class OpenAiEmbedder final : public Embedder {
 public:
  // `config.provider` must be kAzureOpenAi or kOpenAi. Validates the config and resolves the
  // API key (ResolveApiKey of openai_rest.h); sends nothing. `observer` (not owned, may be null)
  // gets one record per batch that was sent, after its last try.
  static absl::StatusOr<std::unique_ptr<OpenAiEmbedder>> Create(
      const EmbedderConfig& config, EmbeddingObserver* observer = nullptr);

  ~OpenAiEmbedder() override;

  size_t dimension() const override { return config_.dimension; }
  // "azure-openai/<deployment>" or "openai/<model>", plus "@<dimension>" when send_dimensions.
  std::string model_id() const override;
  // {provider, normalized endpoint (azure-openai) or base_url (openai), deployment or model,
  // dimension}.
  EmbedderIdentity identity() const override;
  absl::StatusOr<std::vector<std::vector<float>>> Embed(const std::vector<std::string>& texts,
                                                        EmbeddingUsage* usage) override;

  // The URL requests go to (it holds no secret).
  const std::string& url() const { return url_; }

 private:
  struct Batch {
    size_t begin = 0;  // first input
    size_t end = 0;    // one past the last input
    uint64_t tokens = 0;
  };
  struct CallState;
  // What the tries of one batch did, for the observer.
  struct Tries {
    size_t sent = 0;  // HTTP requests made
    std::chrono::steady_clock::time_point first_sent;
    uint64_t billed_tokens = 0;
  };

  OpenAiEmbedder(EmbedderConfig config, std::string api_key, EmbeddingObserver* observer);

  // Sends one batch (TryBatch) and reports it to the observer.
  absl::Status RunBatch(const std::vector<std::string>& texts, const Batch& batch,
                        std::vector<std::vector<float>>& out, CallState& call);
  absl::Status TryBatch(const std::vector<std::string>& texts, const Batch& batch,
                        std::vector<std::vector<float>>& out, CallState& call, Tries& tries);
  // Checks a 200 response and moves its vectors into out[batch.begin, batch.end); INTERNAL
  // saying what is malformed. The second does the work, the first is its exception guard.
  absl::Status ParseResponse(const std::string& body, const Batch& batch,
                             std::vector<std::vector<float>>& out, uint64_t* prompt_tokens) const;
  absl::Status ParseResponseUnguarded(const std::string& body, const Batch& batch,
                                      std::vector<std::vector<float>>& out,
                                      uint64_t* prompt_tokens) const;
  // The status of a response that must not be retried, saying what to fix.
  absl::Status NonRetryableError(int http_status, const std::string& body) const;
  // Replaces every occurrence of the API key in `message`.
  std::string Scrub(std::string message) const;
  // Blocks until a request slot is free / frees it (max_concurrency for the whole embedder).
  void AcquireSlot();
  void ReleaseSlot();

  const EmbedderConfig config_;  // with the key fields cleared
  const std::string api_key_;
  EmbeddingObserver* const observer_;
  std::string model_label_;  // EmbeddingRequestRecord::model
  std::string url_;
  std::vector<std::pair<std::string, std::string>> headers_;
  size_t max_inputs_per_request_;
  HttpClient http_;
  std::optional<TokenBucket> tokens_per_minute_;
  std::optional<TokenBucket> requests_per_minute_;
  // Steady-clock nanoseconds before which no request starts: set by a server's Retry-After.
  std::atomic<int64_t> paused_until_ns_{0};

  std::mutex slots_mu_;
  std::condition_variable slots_cv_;
  size_t slots_in_use_ = 0;

  RetryBackoff backoff_;
};

}  // namespace ragd::models
