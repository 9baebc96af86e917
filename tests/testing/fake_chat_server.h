#pragma once
// Chat-completions routes for FakeOpenAiServer (fake_openai_server.h), speaking the wire format
// of Azure OpenAI and OpenAI:
//
//   Azure:  POST /openai/deployments/{deployment}/chat/completions?api-version={version}
//   OpenAI: POST /v1/chat/completions (body has "model")
//
// Checks like the real services: key (the server's CheckAuth), deployment and api-version
// (404), body JSON with non-empty `messages` of {role, content} (400). A streaming request gets
// `text/event-stream` events exactly as Azure sends them (2024-10-21):
//   data: {"choices":[],"prompt_filter_results":[...],...}           (Azure only)
//   data: {"choices":[{"delta":{"role":"assistant","content":""},...}],...}
//   data: {"choices":[{"delta":{"content":"<delta>"},...}],...}        (one per delta)
//   data: {"choices":[{"delta":{},"finish_reason":"stop",...}],...}
//   data: {"choices":[],"usage":{...}}          (only with stream_options.include_usage)
//   data: [DONE]
// and a non-streaming request a chat.completion object. Usage follows OpenAI's rule with
// js-tiktoken's counts (fake_token_counts.h; o200k_base for gpt-4o* deployments or models,
// cl100k_base otherwise): prompt tokens 3 per message + role + content, + 3 for the reply;
// completion tokens of the answer. Exact for the texts in the token table, estimated (and
// counted in FakeChatCounters::estimated_usage) for others.
//
// Faults are scripted per chat request (FIFO, one per request): HTTP errors (429 with
// Retry-After, 401, 5xx), 400 context_length_exceeded, 400 content_filter (prompt), a
// completion filtered mid-way, an error event mid-stream, a stream cut after some deltas, a
// delay before the response (slow first token), and an endless slow stream that only ends when
// the client goes away. Malformed upstream shapes (issue 13) are sent verbatim: a raw event in
// the middle of a stream (`{"choices":[42]}`, a delta whose content is a number...), a raw
// `usage` value, a raw `error` value, a stream that stalls after Azure's prompt-filter chunk
// and the role chunk, and a plain JSON chat.completion answered to a streaming request.
// Counters record requests, bodies and client disconnects.
//
// Thread safety: all methods may be called from any thread while the server runs. The
// destructor stops the server (its handlers point here).

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/testing/fake_openai_server.h"

namespace ragd::testing {

struct ChatFault {
  enum class Kind {
    kHttpError,                // `status`, `headers`, `body` (Azure-shaped when empty)
    kContextLengthExceeded,    // 400 {"error":{"code":"context_length_exceeded",...}}
    kContentFilterPrompt,      // 400 {"error":{"code":"content_filter",...}} (Azure)
    kContentFilterCompletion,  // `deltas` deltas, then finish_reason "content_filter"
    kCutAfter,                 // `deltas` content deltas, then the connection is dropped
    kDelay,                    // waits `delay` before responding normally (slow first token)
    kEndless,                  // a delta every `delay` until the client disconnects (<= 30 s)
    kNoUsage,                  // a normal stream without the usage chunk
    kErrorEvent,      // `deltas` deltas, then a `data: {"error": ...}` event and a clean end
                      // (`body`, when set, is the raw JSON of the "error" value)
    kRawEvent,        // `deltas` deltas, then `data: <body>` verbatim, then the rest of the stream
    kRawUsage,        // a normal answer whose usage value is `body` verbatim (streams: the usage
                      // chunk is sent even without include_usage)
    kStall,           // the preamble (Azure's prompt-filter chunk, the role chunk), then nothing
                      // for `delay`, then the rest of the stream
    kJsonCompletion,  // a streaming request answered with a plain application/json
                      // chat.completion, as a non-streaming request would be
  };
  Kind kind = Kind::kHttpError;
  int status = 500;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  size_t deltas = 0;
  std::chrono::milliseconds delay{0};

  static ChatFault Http(int status, std::vector<std::pair<std::string, std::string>> headers = {});
  // 429 with `Retry-After: <seconds>` (rounded up) and `retry-after-ms`.
  static ChatFault TooManyRequests(std::chrono::milliseconds retry_after);
  static ChatFault ContextLengthExceeded();
  static ChatFault ContentFilterPrompt();
  static ChatFault ContentFilterCompletion(size_t deltas);
  static ChatFault CutAfter(size_t deltas);
  static ChatFault Delay(std::chrono::milliseconds delay);
  static ChatFault Endless(std::chrono::milliseconds every);
  static ChatFault NoUsage();
  static ChatFault ErrorEvent(size_t deltas);
  // {"error": <error_json>} after `deltas` deltas, e.g. "\"overloaded\"" or {"message":42}.
  static ChatFault RawErrorEvent(size_t deltas, std::string error_json);
  static ChatFault RawEvent(size_t deltas, std::string data);
  static ChatFault RawUsage(std::string usage_json);
  static ChatFault Stall(std::chrono::milliseconds stall);
  static ChatFault JsonCompletion();
};

struct FakeChatOptions {
  // The answer, as the content deltas sent in order.
  // Default: an English answer with a citation, in 6 deltas.
  std::vector<std::string> deltas = {"Embeddings", " are", " vectors", " of", " meaning", " [1]."};
  // The model name reported in chunks.
  // Default: "gpt-4o-2024-08-06".
  std::string model = "gpt-4o-2024-08-06";
  // Pause between two events of a stream.
  // Default: 0.
  std::chrono::milliseconds event_gap{0};
};

struct FakeChatCounters {
  uint64_t requests = 0;            // chat requests (any outcome)
  uint64_t completed_streams = 0;   // streams written through [DONE]
  uint64_t client_disconnects = 0;  // streams whose client went away mid-way
  std::vector<std::string> bodies;  // request bodies in order of arrival
  std::vector<std::chrono::steady_clock::time_point> arrivals;
  // The client's port of each request: equal ports mean one kept-alive connection.
  std::vector<int> remote_ports;
  // Responses whose usage counted a text the token table lacks (fake_token_counts.h): 0 means
  // every reported usage was js-tiktoken's exact count.
  uint64_t estimated_usage = 0;
};

class FakeChatCompletions {
 public:
  // Adds the chat routes to `server` (which must outlive this object's use; this object must
  // be created before chat requests arrive).
  FakeChatCompletions(FakeOpenAiServer* server, FakeChatOptions options = {});
  ~FakeChatCompletions();  // stops `server`
  FakeChatCompletions(const FakeChatCompletions&) = delete;
  FakeChatCompletions& operator=(const FakeChatCompletions&) = delete;

  void Enqueue(ChatFault fault);
  FakeChatCounters counters() const;
  // When the last stream's first content delta was handed to the socket (steady_clock, which
  // is CLOCK_MONOTONIC and so comparable across processes on one machine), or nullopt before
  // any. Cheap, unlike counters(), which copies every request body: benchmarks call it once
  // per request to time what a relay adds to the first token.
  std::optional<std::chrono::steady_clock::time_point> last_first_content_sent() const;
  // The full answer: the deltas concatenated.
  std::string answer() const;
  // A chat.completion.chunk exactly as the real services frame it, with the raw JSON texts
  // `choices` and `usage` in place of those two values (for ChatFault::RawEvent).
  static std::string ChunkWith(std::string_view choices, std::string_view usage = "null");

 private:
  void Handle(const httplib::Request& req, httplib::Response& res, bool azure);

  FakeOpenAiServer* server_;
  FakeChatOptions options_;
  mutable std::mutex mu_;
  std::deque<ChatFault> faults_;
  FakeChatCounters counters_;
  std::optional<std::chrono::steady_clock::time_point> last_first_content_sent_;
};

}  // namespace ragd::testing
