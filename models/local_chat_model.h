#pragma once
// The built-in `local` chat model: an offline, deterministic, extractive answerer, so that
// ragd answers out of the box, in tests and without credentials.
//
// It reads the question and the numbered sources from ChatRequest::grounding_question and
// grounding_sources, which PromptBuilder fills with exactly what it put in the prompt (the
// same numbers); it does not parse the prompt text. Without grounding_question it takes the
// last user message as the question; without sources it cannot answer.
//
// Answering:
//   1. every source is split into sentences (line ends and . ? ! 。 followed by a space);
//      Markdown headings, images, link-only lines, HTML tags, code fences and front matter
//      are skipped, as are list markers and ** emphasis;
//   2. question and sentences become features after lowercasing: words (runs of Unicode
//      letters and digits, a few English stop words left out) and, for Hangul, kana and CJK
//      ideographs, character bigrams inside each word. Korean words lose one trailing
//      particle when a stem of two or more syllables remains ("임베딩이란", "임베딩은" ->
//      "임베딩"), and words starting with an interrogative ("무엇인가요", "어떻게") are no
//      features: they ask, they do not name the topic. A heuristic, not a morphological
//      analyser;
//   3. a sentence scores the IDF-weighted share of the question's features it contains (IDF
//      over all sentences of the sources, so "무엇" that every heading has weighs little);
//   4. the best sentences (at most max_sentences, each scoring >= min_score and >= half the
//      best score) are answered in order of score, each in its source's language followed by
//      its citation marker " [n]";
//   5. when no sentence reaches min_score, the answer is a fixed sentence: Korean
//      ("제공된 자료에서 답을 찾을 수 없습니다.") when the question contains Hangul, else
//      English ("The provided sources do not contain the answer.").
// The answer is streamed in deltas of about delta_bytes bytes (never splitting a UTF-8
// sequence), finish_reason "stop" ("length" when max_output_tokens cut it, at a token
// boundary); usage is counted with the deployment's tokenizer (counted_locally = true) as
// remote usage would be (CountChatPromptTokens for the prompt).
//
// Thread safety: immutable; Stream and Complete may be called concurrently.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "models/chat_model.h"

namespace ragd::models {

inline constexpr std::string_view kNotInSourcesKo = "제공된 자료에서 답을 찾을 수 없습니다.";
inline constexpr std::string_view kNotInSourcesEn =
    "The provided sources do not contain the answer.";

struct LocalChatOptions {
  // Least IDF-weighted share of the question's features a sentence must contain.
  // Default: 0.3.
  double min_score = 0.3;
  // Most sentences in an answer.
  // Default: 3.
  size_t max_sentences = 3;
  // Approximate size of a streamed delta.
  // Default: 12.
  size_t delta_bytes = 12;
  // Pause between deltas, to imitate a model's pace in demos; 0 streams at once.
  // Default: 0.
  std::chrono::milliseconds delta_delay{0};
};

class LocalChatModel final : public ChatModel {
 public:
  explicit LocalChatModel(ModelDeployment deployment, LocalChatOptions options = {});

  const ModelDeployment& deployment() const override { return deployment_; }
  // Status codes: INVALID_ARGUMENT (see ValidateChatRequest), CANCELLED.
  absl::Status Stream(const ChatRequest& request,
                      const std::function<bool(const ChatDelta&)>& on_delta, ChatResult* result,
                      const std::atomic<bool>* cancelled) override;
  absl::StatusOr<ChatCompletion> Complete(const ChatRequest& request,
                                          const std::atomic<bool>* cancelled) override;

  // The full answer to `request` (before any max_output_tokens cut), deterministic.
  std::string Answer(const ChatRequest& request) const;

 private:
  ModelDeployment deployment_;
  LocalChatOptions options_;
};

}  // namespace ragd::models
