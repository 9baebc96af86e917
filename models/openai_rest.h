#pragma once
// The REST core shared by the Azure OpenAI / OpenAI clients (openai_embedder.*,
// openai_chat_model.*): one retry policy, exponential back-off with full jitter, the server's
// `Retry-After` in all its forms, error-body parsing, API-key cleaning and secret scrubbing.
// Both clients call these and nothing else for those jobs, so they behave identically (the
// rounding of Retry-After, key trimming, finiteness checks).
//
// Nothing here does I/O: API keys named by variable or file are read through the SecretReader
// the configuration hands in (secrets.h).

#include <chrono>
#include <cstdint>
#include <exception>
#include <mutex>
#include <new>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "models/http_client.h"
#include "models/secrets.h"

namespace ragd::models {

// The guard of both clients around outside JSON. Parsing never throws (allow_exceptions =
// false) and every value is type-checked before get<>(); this try/catch is the backstop that
// keeps an exception (std::bad_alloc above all) out of libcurl's callbacks and the embedder's
// worker threads: RESOURCE_EXHAUSTED for memory, INTERNAL for anything a check missed.
template <typename F>
absl::Status GuardUpstream(F&& f) {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory while reading the upstream response");
  } catch (const std::exception& e) {
    return absl::InternalError(e.what());
  }
}

// When and how long to retry a request. Plain values copied from EmbedderConfig /
// ModelDeployment, which document their defaults.
struct RetryPolicy {
  // Retries after the first try.
  size_t max_retries = 0;
  // Before retry k (0-based) with no server delay: a uniform random time in
  // [0, min(max_backoff_ms, initial_backoff_ms * 2^k)] ("full jitter").
  uint64_t initial_backoff_ms = 0;
  uint64_t max_backoff_ms = 0;
  // A server delay (Retry-After) is honoured up to this.
  uint64_t max_retry_after_ms = 0;
};

// HTTP 408, 409, 429 and 5xx: worth retrying. Everything else is the request's fault.
bool IsRetryableHttpStatus(int http_status);

// The delay a response asks for, or nullopt when it names none (or none we can read):
//   `retry-after-ms: <milliseconds>` (Azure; a decimal number), else
//   `Retry-After: <seconds>` (a decimal number), else
//   `Retry-After: <HTTP-date>` (IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", and the obsolete
//   RFC 850 and asctime forms, RFC 9110 section 5.6.7), measured from `now`; a date in the past
//   is a delay of 0.
// Numbers must be finite and >= 0; fractions round up to the next millisecond (never retry
// earlier than asked). Results are clamped to 24 hours (callers cap them further).
std::optional<std::chrono::milliseconds> ParseRetryAfter(
    const HttpResponse& head,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// The ceiling of the full-jitter back-off before retry `retry` (0-based):
// min(max_backoff_ms, initial_backoff_ms * 2^retry), without overflow.
std::chrono::milliseconds BackoffCeiling(const RetryPolicy& policy, size_t retry);

// Chooses the waits between tries. Thread safety: Delay may be called concurrently.
class RetryBackoff {
 public:
  // `seed` makes the jitter reproducible (tests); by default it is random.
  explicit RetryBackoff(RetryPolicy policy, std::optional<uint64_t> seed = std::nullopt);

  const RetryPolicy& policy() const { return policy_; }
  // The wait before retry `retry` (0-based): `server_delay` capped at max_retry_after_ms when
  // the server named one, else a uniform random time in [0, BackoffCeiling(retry)].
  std::chrono::milliseconds Delay(size_t retry,
                                  std::optional<std::chrono::milliseconds> server_delay);

 private:
  const RetryPolicy policy_;
  std::mutex mu_;
  std::mt19937_64 rng_;  // under mu_
};

// What an error body says. Azure and OpenAI send {"error": {"code", "message", "type",
// "param", "innererror": {"code"}}}; streams sometimes send {"error": "<text>"}; proxies send
// HTML or nothing. Never throws, whatever the body.
struct UpstreamError {
  // error.code (a string, or an integer printed), else error.innererror.code; may be empty.
  std::string code;
  // error.message when a string; a number or an object is printed as JSON; a string `error`
  // is the message; a body that is not such JSON is quoted as is. At most ~400 bytes, cut at a
  // UTF-8 boundary with "..." appended. Empty when the body is empty.
  std::string message;
};
UpstreamError ParseErrorBody(std::string_view body);

// `text` with every occurrence of `secret` replaced by "[redacted]" (nothing when `secret` is
// empty). Every message that may quote a server or a URL goes through this.
std::string ScrubSecret(std::string text, std::string_view secret);

// Where a key comes from: the fields of EmbedderConfig / ModelDeployment.
struct ApiKeySources {
  std::string api_key;
  std::string api_key_env;
  std::string api_key_file;
  // The variable read when none of the three is set (AZURE_OPENAI_API_KEY / OPENAI_API_KEY).
  std::string default_env;
  // False: no key at all is fine when nothing names one (openai: OpenAI-compatible servers).
  bool required = true;
  // Named in messages, e.g. "model 'gpt-4o'" or "azure-openai embeddings".
  std::string owner;
  // Reads the variables and the file (secrets.h); null: only api_key can supply a key.
  const SecretReader* secrets = nullptr;
};

struct ResolvedApiKey {
  std::string key;     // empty: send no credential
  std::string source;  // e.g. "environment variable OPENAI_API_KEY", for messages
};

// The key, from the first set of api_key, api_key_env (the variable), api_key_file (the file),
// else default_env; leading and trailing ASCII whitespace trimmed (files end with a newline,
// secret mounts sometimes with "\r\n"). FAILED_PRECONDITION, naming the source and never the
// key, when a named variable is unset or empty, the file is unreadable or empty, the key has
// control characters (they would inject headers), or `required` and there is none.
absl::StatusOr<ResolvedApiKey> ResolveApiKey(const ApiKeySources& sources);

}  // namespace ragd::models
