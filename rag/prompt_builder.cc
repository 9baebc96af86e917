#include "rag/prompt_builder.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "common/utf8.h"

namespace ragd::rag {
namespace {

// "[number] title — heading_path (p. page)\n" + text: one source of the system message.
void AppendSource(std::string* out, size_t number, const PromptSource& s) {
  absl::StrAppend(out, "[", number, "]");
  if (!s.title.empty()) absl::StrAppend(out, " ", s.title);
  if (!s.heading_path.empty()) {
    absl::StrAppend(out, s.title.empty() ? " " : " \u2014 ", s.heading_path);
  }
  if (s.page) absl::StrAppend(out, " (p. ", *s.page, ")");
  absl::StrAppend(out, "\n", s.text);
}

}  // namespace

absl::Status PromptOptions::Validate() const {
  if (!(dedup_threshold > 0 && dedup_threshold <= 1)) {
    return absl::InvalidArgumentError("dedup_threshold must be in (0, 1]");
  }
  if (shingle_tokens == 0) return absl::InvalidArgumentError("shingle_tokens must be >= 1");
  if (!(mmr_lambda >= 0 && mmr_lambda <= 1)) {
    return absl::InvalidArgumentError("mmr_lambda must be in [0, 1]");
  }
  if (reserved_output_tokens == 0) {
    return absl::InvalidArgumentError("reserved_output_tokens must be >= 1");
  }
  for (const std::string* s :
       {&prompt_template.system_rules, &prompt_template.sources_header,
        &prompt_template.no_sources_text, &prompt_template.question_prefix}) {
    if (!IsValidUtf8(*s)) return absl::InvalidArgumentError("prompt template is not UTF-8");
  }
  return absl::OkStatus();
}

std::string PromptBuilder::RenderSystem(const std::vector<const PromptSource*>& sources) const {
  const PromptTemplate& t = options_.prompt_template;
  std::string out = absl::StrCat(t.system_rules, "\n\n", t.sources_header);
  if (sources.empty()) {
    absl::StrAppend(&out, "\n\n", t.no_sources_text);
    return out;
  }
  for (size_t i = 0; i < sources.size(); ++i) {
    absl::StrAppend(&out, "\n\n");
    AppendSource(&out, i + 1, *sources[i]);
  }
  return out;
}

absl::StatusOr<PromptResult> PromptBuilder::Build(const models::ModelDeployment& deployment,
                                                  std::string_view question,
                                                  const std::vector<models::ChatMessage>& history,
                                                  const std::vector<PromptSource>& sources) const {
  if (absl::Status s = options_.Validate(); !s.ok()) return s;
  if (question.empty()) return absl::InvalidArgumentError("the question is empty");
  if (!IsValidUtf8(question)) return absl::InvalidArgumentError("the question is not UTF-8");
  for (size_t i = 0; i < history.size(); ++i) {
    if (history[i].role == models::ChatRole::kSystem) {
      return absl::InvalidArgumentError(
          absl::StrCat("history message ", i, " is a system message"));
    }
    if (!IsValidUtf8(history[i].content)) {
      return absl::InvalidArgumentError(absl::StrCat("history message ", i, " is not UTF-8"));
    }
  }
  for (size_t i = 0; i < sources.size(); ++i) {
    const PromptSource& s = sources[i];
    if (!IsValidUtf8(s.text) || !IsValidUtf8(s.title) || !IsValidUtf8(s.heading_path)) {
      return absl::InvalidArgumentError(absl::StrCat("source ", i, " is not UTF-8"));
    }
  }
  PromptResult result;
  result.context_window = deployment.context_window;
  result.reserved_output_tokens =
      std::min(options_.reserved_output_tokens, deployment.max_output_tokens);
  if (result.reserved_output_tokens >= deployment.context_window) {
    return absl::InvalidArgumentError(
        absl::StrCat("reserved output (", result.reserved_output_tokens,
                     " tokens) leaves no room for a prompt in '", deployment.name,
                     "' (context window ", deployment.context_window, ")"));
  }
  const size_t limit = deployment.context_window - result.reserved_output_tokens;
  const models::Tokenizer& tokenizer = models::Tokenizer::Get(deployment.encoding);

  // Candidates in rank order, after dedup, MMR and the max_sources cap (source_selection.h).
  SelectionOptions selection;
  selection.dedup = options_.dedup;
  selection.dedup_threshold = options_.dedup_threshold;
  selection.shingle_tokens = options_.shingle_tokens;
  selection.mmr = options_.mmr;
  selection.mmr_lambda = options_.mmr_lambda;
  selection.max_sources = options_.max_sources;
  Selection selected = SelectSources(tokenizer, sources, selection);
  std::vector<size_t> candidates = std::move(selected.order);
  result.duplicate_sources = std::move(selected.duplicates);
  result.dropped_sources = std::move(selected.capped);

  // History turns: each starts at a user message (leading assistant messages form a turn).
  std::vector<size_t> turn_starts;
  for (size_t i = 0; i < history.size(); ++i) {
    if (i == 0 || history[i].role == models::ChatRole::kUser) turn_starts.push_back(i);
  }
  size_t turns = std::min(turn_starts.size(), options_.max_history_turns);

  const std::string user_text = options_.prompt_template.question_prefix + std::string(question);
  auto messages_for = [&](size_t k, size_t t) {
    std::vector<const PromptSource*> chosen;
    for (size_t i = 0; i < k; ++i) chosen.push_back(&sources[candidates[i]]);
    std::vector<models::ChatMessage> messages;
    messages.push_back({models::ChatRole::kSystem, RenderSystem(chosen)});
    const size_t first = t == 0 ? history.size() : turn_starts[turn_starts.size() - t];
    for (size_t i = first; i < history.size(); ++i) messages.push_back(history[i]);
    messages.push_back({models::ChatRole::kUser, user_text});
    return messages;
  };

  // Every candidate prompt is counted from parts, each tokenized at most once, instead of
  // re-tokenizing the whole prompt per step. Messages are counted separately anyway (the
  // cookbook rule). Within the system message, the count is additive when it is cut just
  // before each "[n]" marker: the marker follows "\n\n", and a newline followed by "[" is
  // always a pre-tokenizer boundary of cl100k_base and o200k_base (their patterns take
  // newlines only in whitespace runs or after punctuation as [\r\n]* (o200k: [\r\n/]*), and
  // none looks behind), and BPE never merges across such boundaries. So
  //   count(system with k sources) = count(head + "\n\n")
  //                                 + sum over i < k-1 of count(source_i + "\n\n")
  //                                 + count(source_{k-1})
  // where source_i is "[i+1] ...header\n" + text, rendered as RenderSystem does. The last
  // source lacks the trailing "\n\n", whose tokens may merge with its end ("." + "\n\n" is
  // one token), hence its own count. tests/rag/prompt_builder_test checks every result
  // against a full re-count.
  const PromptTemplate& tpl = options_.prompt_template;
  // RenderSystem's layout: head, then "\n\n" + AppendSource(...) per source.
  const std::string head = absl::StrCat(tpl.system_rules, "\n\n", tpl.sources_header);
  const size_t system_fixed =
      models::kTokensPerMessage + tokenizer.Count(models::ChatRoleName(models::ChatRole::kSystem));
  const size_t no_sources_tokens = tokenizer.Count(absl::StrCat(head, "\n\n", tpl.no_sources_text));
  std::optional<size_t> head_tokens;  // count(head + "\n\n"), needed once a source is in
  std::vector<std::optional<size_t>> middle_tokens(candidates.size());  // + "\n\n"
  std::vector<std::optional<size_t>> last_tokens(candidates.size());
  auto render_source = [&](size_t i) {
    std::string one;
    AppendSource(&one, i + 1, sources[candidates[i]]);
    return one;
  };
  auto system_tokens = [&](size_t k) {
    if (k == 0) return no_sources_tokens;
    if (!head_tokens) head_tokens = tokenizer.Count(absl::StrCat(head, "\n\n"));
    size_t n = *head_tokens;
    for (size_t i = 0; i + 1 < k; ++i) {
      if (!middle_tokens[i]) middle_tokens[i] = tokenizer.Count(render_source(i) + "\n\n");
      n += *middle_tokens[i];
    }
    if (!last_tokens[k - 1]) last_tokens[k - 1] = tokenizer.Count(render_source(k - 1));
    return n + *last_tokens[k - 1];
  };
  // history_tokens[t]: the newest t turns; fixed_tokens: the question and the reply priming.
  std::vector<size_t> history_tokens(turns + 1, 0);
  {
    std::vector<size_t> message_tokens(history.size());
    for (size_t i = 0; i < history.size(); ++i) {
      message_tokens[i] = models::kTokensPerMessage +
                          tokenizer.Count(models::ChatRoleName(history[i].role)) +
                          tokenizer.Count(history[i].content);
    }
    for (size_t t = 1; t <= turns; ++t) {
      const size_t end = t == 1 ? history.size() : turn_starts[turn_starts.size() - t + 1];
      history_tokens[t] = history_tokens[t - 1];
      for (size_t i = turn_starts[turn_starts.size() - t]; i < end; ++i) {
        history_tokens[t] += message_tokens[i];
      }
    }
  }
  const size_t fixed_tokens = models::kTokensPerMessage +
                              tokenizer.Count(models::ChatRoleName(models::ChatRole::kUser)) +
                              tokenizer.Count(user_text) + models::kTokensReplyPriming;
  auto prompt_tokens = [&](size_t k, size_t t) {
    return system_fixed + system_tokens(k) + history_tokens[t] + fixed_tokens;
  };
  auto fits = [&](size_t k, size_t t) { return prompt_tokens(k, t) <= limit; };

  if (!fits(0, 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the question does not fit in '", deployment.name, "': the prompt needs ",
        prompt_tokens(0, 0), " tokens with no source and no history, but only ", limit,
        " of the context window of ", deployment.context_window, " are left after reserving ",
        result.reserved_output_tokens, " for the answer"));
  }
  // Each step costs at most one new tokenization of one source.
  size_t k = candidates.size();
  const size_t keep = std::min(options_.min_sources_before_history, k);
  while (k > keep && !fits(k, turns)) --k;
  while (turns > 0 && !fits(k, turns)) --turns;
  while (k > 0 && !fits(k, turns)) --k;

  for (size_t i = k; i < candidates.size(); ++i) result.dropped_sources.push_back(candidates[i]);
  std::sort(result.dropped_sources.begin(), result.dropped_sources.end());
  result.used_sources.assign(candidates.begin(), candidates.begin() + k);
  result.request.messages = messages_for(k, turns);
  result.kept_history_messages = result.request.messages.size() - 2;
  result.dropped_history_messages = history.size() - result.kept_history_messages;
  result.prompt_tokens = prompt_tokens(k, turns);
  result.request.prompt_tokens = result.prompt_tokens;
  result.request.max_output_tokens = result.reserved_output_tokens;
  result.request.grounding_question = std::string(question);
  for (size_t i = 0; i < k; ++i) {
    result.request.grounding_sources.push_back(
        models::GroundingSource{static_cast<int>(i + 1), sources[candidates[i]].text});
  }
  return result;
}

}  // namespace ragd::rag
