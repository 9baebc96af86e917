#pragma once
// Chat models: send a conversation, get the assistant's answer streamed back as text deltas.
//
// Implementations, built by MakeChatModel from a ModelDeployment (model_catalog.h):
//   OpenAiChatModel   azure-openai and openai (openai_chat_model.h), over HTTP with SSE;
//   LocalChatModel    the offline extractive answerer (local_chat_model.h).
//
// Status codes of Stream and Complete (every implementation):
//   OK                  finished; ChatResult::finish_reason says why ("stop", "length",
//                       "content_filter", "tool_calls"...). A prompt rejected by the content
//                       filter (HTTP 400 with code `content_filter`) is also OK, with
//                       finish_reason "content_filter", no text and zero usage: the caller
//                       sees a filtered answer the same way whether the prompt or the
//                       completion was filtered.
//   INVALID_ARGUMENT    a bad request (empty messages, invalid UTF-8, out-of-range knobs), the
//                       context length exceeded (HTTP 400 `context_length_exceeded`), other 400s.
//   FAILED_PRECONDITION HTTP 401/403 (the message names the deployment and the key source),
//                       404 (names the deployment/model and the endpoint), or no API key.
//   RESOURCE_EXHAUSTED  still HTTP 429 after the retries.
//   UNAVAILABLE         unreachable, 5xx/408/409 after the retries, or the stream broke after
//                       text was delivered (no retry then; ChatResult holds what was received).
//   DEADLINE_EXCEEDED   the request or the first token timed out (after the retries).
//   CANCELLED           on_delta returned false or *cancelled became true; the upstream
//                       connection is closed at once. ChatResult holds what was received.
//   INTERNAL            a malformed response ("malformed upstream response: <what>": choices
//                       that are not objects, content that is not a string, usage counts
//                       that are not unsigned integers, ...); not retried.
// Messages never contain API keys.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "models/model_catalog.h"

namespace ragd::models {

enum class ChatRole { kSystem, kUser, kAssistant };
// "system", "user", "assistant": the wire names.
std::string_view ChatRoleName(ChatRole role);

struct ChatMessage {
  ChatRole role = ChatRole::kUser;
  std::string content;
};

// A numbered source of a grounded prompt, as the prompt builder rendered it. Carried beside
// the messages so that the local model answers from the same sources without re-parsing the
// prompt text; remote models ignore it (the sources are in the messages).
struct GroundingSource {
  int number = 0;    // the n of the [n] citation marker
  std::string text;  // the chunk text as it appears in the prompt
};

struct ChatRequest {
  // The conversation, in order. Must not be empty.
  std::vector<ChatMessage> messages;
  // Sampling knobs; unset means the server's default.
  std::optional<double> temperature;  // [0, 2]
  std::optional<double> top_p;        // (0, 1]
  // Most completion tokens; unset means the deployment's max_output_tokens. Must be at most
  // that.
  std::optional<size_t> max_output_tokens;
  // Up to 4 stop sequences.
  std::vector<std::string> stop;
  // Optional `user` id sent upstream for abuse monitoring.
  std::string user;
  // Grounding metadata (see GroundingSource): the question and the numbered sources. Set by
  // PromptBuilder; used by the local model only.
  std::string grounding_question;
  std::vector<GroundingSource> grounding_sources;
  // CountChatPromptTokens(messages) with the deployment's tokenizer, when the caller already
  // counted it (PromptBuilder does): usage counted locally takes it instead of tokenizing the
  // prompt again. Must be exact; unset means "count it".
  std::optional<size_t> prompt_tokens;
};

// One piece of the answer, in order.
struct ChatDelta {
  std::string text;
};

struct ChatUsage {
  uint64_t prompt_tokens = 0;
  uint64_t completion_tokens = 0;
  uint64_t total_tokens = 0;
  // True when the server did not report usage (a stream without the usage chunk, the local
  // model) and the numbers were counted with the deployment's tokenizer: the prompt by
  // CountChatPromptTokens, the completion as the tokens of the received text.
  bool counted_locally = false;
};

struct ChatResult {
  // Why generation stopped, as the API says it: "stop", "length", "content_filter",
  // "tool_calls", "function_call"; "" when the stream ended without one (an error).
  std::string finish_reason;
  ChatUsage usage;
  // From the start of the call to the first non-empty delta (0 when none arrived), and to the
  // end of the call. Retries and back-off included.
  std::chrono::microseconds time_to_first_token{0};
  std::chrono::microseconds latency{0};
  // Tries made (1 + retries); 0 for the local model.
  uint32_t attempts = 0;
  // Bytes of answer text delivered to the caller (also when the call failed half-way).
  uint64_t delivered_bytes = 0;
  // The model the server said answered (e.g. "gpt-4o-2024-08-06"); may be empty.
  std::string model;
};

// The whole answer of a non-streaming call.
struct ChatCompletion {
  std::string text;
  ChatResult result;
};

// Thread safety: Stream and Complete may be called concurrently from any number of threads.
class ChatModel {
 public:
  virtual ~ChatModel() = default;

  virtual const ModelDeployment& deployment() const = 0;

  // Streams the answer to `on_delta` (called on the calling thread, in order, only with
  // non-empty text). Returning false from on_delta, or setting *cancelled (may be null) from
  // another thread, aborts: the upstream connection is closed within ~20 ms and CANCELLED is
  // returned. Retries happen only before the first delta was delivered. `result` (may be null)
  // is filled also on error, with what was received. Status codes: see the top of this file.
  virtual absl::Status Stream(const ChatRequest& request,
                              const std::function<bool(const ChatDelta&)>& on_delta,
                              ChatResult* result, const std::atomic<bool>* cancelled) = 0;

  // The whole answer at once (a non-streaming request for remote models).
  virtual absl::StatusOr<ChatCompletion> Complete(const ChatRequest& request,
                                                  const std::atomic<bool>* cancelled) = 0;
};

// Builds the model of `deployment.provider` (Validate()s first). Remote models resolve their
// API key here: FAILED_PRECONDITION when it cannot be read (naming the variable or file, never
// the key). Sends nothing.
absl::StatusOr<std::unique_ptr<ChatModel>> MakeChatModel(const ModelDeployment& deployment);

// Prompt tokens of `messages` for an OpenAI chat model, as OpenAI's cookbook counts them
// ("How to count tokens with tiktoken", num_tokens_from_messages, for gpt-3.5-turbo-0613,
// gpt-4 and gpt-4o): 3 tokens per message (<|im_start|>, the separator, <|im_end|>), plus the
// tokens of the role name and of the content, plus 3 for the reply priming
// (<|im_start|>assistant<|im_sep|>). A `name` field would add 1; we send none.
size_t CountChatPromptTokens(const Tokenizer& tokenizer, const std::vector<ChatMessage>& messages);
// request.prompt_tokens when set, else CountChatPromptTokens(tokenizer, request.messages).
size_t PromptTokensOf(const Tokenizer& tokenizer, const ChatRequest& request);
inline constexpr size_t kTokensPerMessage = 3;
inline constexpr size_t kTokensReplyPriming = 3;

// The list-price cost of `usage`: prompt_tokens / 1000 * price_per_1k_input +
// completion_tokens / 1000 * price_per_1k_output, in USD.
double EstimateCostUsd(const ModelDeployment& deployment, const ChatUsage& usage);

// INVALID_ARGUMENT when `request` is malformed for `deployment` (see ChatRequest).
absl::Status ValidateChatRequest(const ModelDeployment& deployment, const ChatRequest& request);

}  // namespace ragd::models
