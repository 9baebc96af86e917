#pragma once
// Private to services/http: one /v1/chat/completions call, run either as a relay of the
// messages to one chat model (on a rag::AnswerResources::streams thread) or grounded through
// rag::Answer, with the answer's text handed to the HTTP thread that writes the response.
//
// The HTTP thread waits for the first text or the end (WaitForFirstTextOrEnd) before it picks
// the response status, so that an error before any text (unknown collection, upstream 401/429,
// too many answers) is an HTTP error with its status rather than a stream that fails. Then it
// takes text with Next() until the call has ended. Text not yet taken is bounded
// (kMaxPendingBytes): the model's thread blocks, and so TCP throttles the upstream.
//
// Relays count against retrieval.max_concurrent_answers and end at retrieval.answer_deadline_ms
// (DEADLINE_EXCEEDED) like grounded answers.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "models/chat_model.h"
#include "rag/answerer.h"
#include "services/http/openai_wire_internal.h"

namespace ragd::services::http_internal {

inline constexpr size_t kMaxPendingBytes = 64 * 1024;

class ChatCall final : public rag::AnswerSink, public std::enable_shared_from_this<ChatCall> {
 public:
  // Starts the call. An error status when it is refused at once (bad request, unknown model,
  // RESOURCE_EXHAUSTED beyond max_concurrent_answers).
  static absl::StatusOr<std::shared_ptr<ChatCall>> Start(const rag::AnswerResources& resources,
                                                         ChatCompletionRequest request);

  // Blocks until text arrived or the call ended (true), or for at most `wait` (false).
  bool WaitForFirstTextOrEnd(std::chrono::milliseconds wait);
  // Text produced since the last call (waits up to `wait` for some); `ended` once the call is
  // over and every text was taken.
  struct Taken {
    std::string text;
    bool ended = false;
  };
  Taken Next(std::chrono::milliseconds wait);
  // True once some text was produced (taken or not).
  bool has_text();
  // Stops the call (the upstream connection is closed). Thread-safe, idempotent.
  void Cancel();

  // Valid once ended.
  absl::Status status();
  // True when a model was called (a relay that started, or a grounded call whose retrieval and
  // prompt succeeded), whatever its outcome.
  bool model_ran();
  models::ChatResult result();
  // The message's `context` (grounded calls): the sources as Azure On Your Data `citations`,
  // `intent` null, and in a sharded cluster with allow_partial the `coverage`.
  Json context();
  const ChatCompletionRequest& request() const { return request_; }

  // rag::AnswerSink (grounded calls).
  void OnSources(const rag::AnswerSources& sources) override;
  bool OnDelta(size_t model, std::string_view text) override;
  void OnModelEnd(size_t model, const rag::ModelRun& run,
                  const rag::AnswerSources& sources) override;
  void OnComplete(const absl::Status& status) override;
  void OnAbort() override;

  explicit ChatCall(ChatCompletionRequest request) : request_(std::move(request)) {}

 private:
  absl::Status StartRelay(const rag::AnswerResources& resources);
  absl::Status StartGrounded(const rag::AnswerResources& resources);
  bool Push(std::string_view text);
  void End(absl::Status status);

  const ChatCompletionRequest request_;
  std::atomic<bool> cancelled_{false};          // a relay's cancellation flag
  std::atomic<bool> deadline_exceeded_{false};  // a relay's answer deadline passed
  std::shared_ptr<rag::Answer> answer_;
  std::shared_ptr<ChatCall> self_;  // keeps a grounded call alive until OnComplete

  std::mutex mu_;
  std::condition_variable cv_;
  std::string pending_;
  bool any_text_ = false;
  bool model_ran_ = false;
  bool ended_ = false;
  bool stopped_ = false;
  bool cancel_requested_ = false;
  absl::Status status_;
  models::ChatResult result_;
  Json citations_ = Json::array();
  Json coverage_;  // null unless the retrieval went to a sharded cluster
};

}  // namespace ragd::services::http_internal
