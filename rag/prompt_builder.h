#pragma once
// Builds a grounded chat prompt from a question, the retrieved chunks and the chat history,
// packed exactly into a model's context window.
//
// The prompt (messages of the ChatRequest):
//   system     {system_rules}
//
//              {sources_header}
//
//              [1] {title} — {heading_path} (p. {page})
//              {text}
//
//              [2] ...                           ({no_sources_text} when none fits)
//   user / assistant ...                         the kept history, oldest first
//   user       {question_prefix}{question}
// The header line leaves out the parts a source lacks ("[3] Title", "[4]"). Sources are
// numbered 1..n in the order they are kept (best first); ChatRequest::grounding_* carries the
// same numbers and texts for the local model.
//
// Budget (exact, with the deployment's tokenizer): CountChatPromptTokens(messages) (OpenAI's
// cookbook rule: 3 tokens per message + role + content, + 3 for the reply priming) plus
// reserved_output_tokens must be at most the context window. Packing, in this order:
//   1. invalid UTF-8 anywhere is INVALID_ARGUMENT; so is a question that does not fit with no
//      source and no history (the caller gets this instead of an upstream 400);
//   2-4. source selection (source_selection.h, the one implementation that Answer calls use
//      too): de-duplication, MMR and the max_sources cap, each optional; then the newest
//      max_history_turns turns are considered;
//   5. the lowest-ranked sources are dropped, one at a time, until the prompt fits or only
//      min_sources_before_history remain; then the oldest history turns (a user message and
//      the assistant replies that follow it) are dropped; then the remaining sources.
// Sources are never truncated: one that does not fit is dropped whole, so no text is cut and
// no UTF-8 sequence is split. Every count is exact, equal to a count of the full rendered
// messages (BPE merges across the joins included), but computed from parts cut only where the
// pre-tokenizer always cuts, so that each packing step re-tokenizes nothing: every source is
// tokenized once with the "\n\n" that follows it, and once alone when it is the last one kept.
// The count is handed on in ChatRequest::prompt_tokens for usage counted locally.
//
// Thread safety: a PromptBuilder is immutable; Build may be called concurrently.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "models/chat_model.h"
#include "models/model_catalog.h"
#include "models/tokenizer.h"
#include "rag/source_selection.h"

namespace ragd::rag {

// The default grounding rules: English, but they ask for the question's language, so they
// work for any corpus.
inline constexpr std::string_view kDefaultSystemRules =
    "You are an assistant that answers questions using only the numbered sources below.\n"
    "- Use only information from the sources; do not use prior knowledge.\n"
    "- Cite the sources you use by their numbers in square brackets, like [1] or [2][3], right "
    "after the statements they support.\n"
    "- If the sources do not contain the answer, say that they do not, instead of guessing.\n"
    "- Answer in the language of the question.";

struct PromptTemplate {
  // Default: kDefaultSystemRules.
  std::string system_rules = std::string(kDefaultSystemRules);
  // Default: "Sources:".
  std::string sources_header = "Sources:";
  // Default: "(no sources)".
  std::string no_sources_text = "(no sources)";
  // Put before the question in the last user message.
  // Default: "".
  std::string question_prefix;
};

struct PromptOptions {
  PromptTemplate prompt_template;
  // Tokens kept free for the answer; also sent as the request's max_output_tokens. Capped at
  // the deployment's max_output_tokens; must be below its context window.
  // Default: 1024.
  size_t reserved_output_tokens = 1024;
  // Most sources considered (after dedup and MMR); 0 means no limit.
  // Default: 0.
  size_t max_sources = 0;
  // Most recent history turns considered.
  // Default: 10.
  size_t max_history_turns = 10;
  // Sources kept before any history turn is dropped (then they go too, if need be). 0 gives
  // the literal "all sources before any history" order.
  // Default: 1.
  size_t min_sources_before_history = 1;
  // De-duplication of near-identical chunks: Jaccard similarity of the sets of
  // `shingle_tokens`-token shingles (token ids of the deployment's tokenizer).
  // Default: true, 0.8, 3.
  bool dedup = true;
  double dedup_threshold = 0.8;
  size_t shingle_tokens = 3;
  // MMR re-ranking: score = lambda * relevance - (1 - lambda) * max similarity to the sources
  // already chosen; relevance is the score min-max normalised to [0, 1]. lambda = 1 keeps the
  // retrieval order.
  // Default: false, 0.7.
  bool mmr = false;
  double mmr_lambda = 0.7;

  // OK, or INVALID_ARGUMENT naming the field.
  absl::Status Validate() const;
};

struct PromptResult {
  // messages, max_output_tokens = reserved output, grounding_question, grounding_sources and
  // prompt_tokens.
  models::ChatRequest request;
  // Indices (into the input sources) of the sources in the prompt; used_sources[i] is [i+1].
  std::vector<size_t> used_sources;
  // Indices of sources dropped as near-duplicates, and for the budget or max_sources.
  std::vector<size_t> duplicate_sources;
  std::vector<size_t> dropped_sources;
  // History messages dropped (the oldest ones) and kept.
  size_t dropped_history_messages = 0;
  size_t kept_history_messages = 0;
  // Exact CountChatPromptTokens(request.messages).
  size_t prompt_tokens = 0;
  size_t reserved_output_tokens = 0;
  size_t context_window = 0;
};

class PromptBuilder {
 public:
  explicit PromptBuilder(PromptOptions options = {}) : options_(std::move(options)) {}

  // Builds the prompt of `question` for `deployment` (see the top of this file). `history` is
  // the conversation so far (user and assistant messages; system messages are rejected).
  // INVALID_ARGUMENT: invalid options, empty question, invalid UTF-8, a system message in the
  // history, reserved output >= context window, or a question that cannot fit.
  absl::StatusOr<PromptResult> Build(const models::ModelDeployment& deployment,
                                     std::string_view question,
                                     const std::vector<models::ChatMessage>& history,
                                     const std::vector<PromptSource>& sources) const;

  // The system message with `sources` numbered 1..n in the given order.
  std::string RenderSystem(const std::vector<const PromptSource*>& sources) const;

  const PromptOptions& options() const { return options_; }

 private:
  PromptOptions options_;
};

}  // namespace ragd::rag
