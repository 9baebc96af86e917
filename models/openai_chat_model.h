#pragma once
// Chat models of Azure OpenAI and OpenAI (and OpenAI-compatible servers), REST + SSE:
//   azure-openai: POST {endpoint}/openai/deployments/{deployment}/chat/completions
//                 ?api-version={api_version}, header `api-key: <key>`
//   openai:       POST {base_url}/chat/completions, header `Authorization: Bearer <key>`,
//                 body has "model"
// Body: {"messages": [{"role", "content"}...], "stream": bool, "stream_options":
// {"include_usage": true} (streams, when stream_usage), "temperature", "top_p", "max_tokens",
// "stop", "user"} (unset knobs are left out).
//
// A stream is a sequence of `data: {chat.completion.chunk}` events ended by `data: [DONE]`:
// Azure's first event may have empty `choices` and `prompt_filter_results`; then a delta with
// the role, content deltas, a chunk with `finish_reason`, and (with include_usage) a last
// chunk with empty `choices` and `usage`. Events are handled as they arrive; events without
// content are skipped.
//
// A 200 answered with `Content-Type: application/json` instead (a server that ignores
// "stream", which our `Accept: text/event-stream, application/json` allows) is read as a
// chat.completion and delivered as one delta.
//
// Every upstream body goes through one guard (a non-throwing parse, then explicit type
// checks): a chunk whose `choices` is not an array of objects, a `delta.content` that is
// neither a string nor null, `usage` counts that are not unsigned integers, a JSON answer
// without choices... end the call with INTERNAL "malformed upstream response: <what>" naming
// the model, never an exception; other calls and models are not affected. An in-stream
// {"error": ...} event (an object, or a bare string) is UNAVAILABLE with the upstream's message.
//
// Retries (RetryPolicy of openai_rest.h, from ModelDeployment): 408, 409, 429, 5xx, network
// errors and timeouts, error events and streams that end early, but only while no text has
// reached the caller; after the first delta, any failure ends the call (UNAVAILABLE,
// DEADLINE_EXCEEDED), with ChatResult::delivered_bytes saying how much was received. Malformed
// responses are not retried. first_token_timeout_ms runs until the first content token, not the
// first byte (Azure sends its prompt-filter chunk at once). Status mapping: chat_model.h.
//
// The API key (resolved by ResolveApiKey of openai_rest.h) is held in memory only; error
// messages are scrubbed of it even when a server echoes it, and nothing here logs request
// headers.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "models/chat_model.h"
#include "models/http_client.h"
#include "models/openai_rest.h"

namespace ragd::models {

// Thread safety: Stream and Complete may be called concurrently.
class OpenAiChatModel final : public ChatModel {
 public:
  // `deployment.provider` must be kAzureOpenAi or kOpenAi. Validates and resolves the key
  // (ResolveApiKey: api_key, api_key_env, api_key_file, else AZURE_OPENAI_API_KEY /
  // OPENAI_API_KEY; openai may have none).
  static absl::StatusOr<std::unique_ptr<OpenAiChatModel>> Create(ModelDeployment deployment);

  const ModelDeployment& deployment() const override { return deployment_; }
  absl::Status Stream(const ChatRequest& request,
                      const std::function<bool(const ChatDelta&)>& on_delta, ChatResult* result,
                      const std::atomic<bool>* cancelled) override;
  absl::StatusOr<ChatCompletion> Complete(const ChatRequest& request,
                                          const std::atomic<bool>* cancelled) override;

  // The URL requests go to (no secret in it).
  const std::string& url() const { return url_; }
  // The JSON body sent for `request`.
  std::string RequestBody(const ChatRequest& request, bool stream) const;

 private:
  struct Attempt;

  OpenAiChatModel(ModelDeployment deployment, std::string api_key, std::string key_source);

  // The retry loop shared by Stream (stream == true) and Complete; `body_out` receives the
  // JSON body of a non-streaming 200.
  absl::Status Run(const ChatRequest& request, bool stream,
                   const std::function<bool(const ChatDelta&)>& on_delta, ChatResult* result,
                   const std::atomic<bool>* cancelled, std::string* body_out);
  // The status of a non-200 response; `result` gets finish_reason "content_filter" for a
  // filtered prompt (then the status is OK).
  absl::Status ErrorStatus(int http_status, const std::string& body, ChatResult* result) const;
  // INTERNAL "<model>: malformed upstream response: <detail>".
  absl::Status Malformed(std::string_view detail) const;
  // Sleeps `d` in short slices; false when *cancelled became true.
  static bool SleepUnlessCancelled(std::chrono::milliseconds d, const std::atomic<bool>* cancelled);
  std::string Scrub(std::string message) const;
  std::string Describe() const;

  const ModelDeployment deployment_;  // with the key fields cleared
  const std::string api_key_;
  const std::string key_source_;  // e.g. "environment variable AZURE_OPENAI_API_KEY", for messages
  std::string url_;
  std::vector<std::pair<std::string, std::string>> headers_;
  const Tokenizer& tokenizer_;
  HttpClient http_;
  RetryBackoff backoff_;
};

}  // namespace ragd::models
