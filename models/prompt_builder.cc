#include "models/prompt_builder.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "common/utf8.h"

namespace ragd::models {
namespace {

// A set of shingle hashes, sorted and without repeats: built with one sort instead of a node
// allocation per shingle, and intersected by a merge (de-duplication compares every pair).
using ShingleSet = std::vector<uint64_t>;

ShingleSet Shingles(const Tokenizer& tokenizer, std::string_view text, size_t k) {
  std::vector<uint32_t> ids = tokenizer.Encode(text);
  ShingleSet set;
  if (ids.empty()) return set;
  const size_t n = ids.size() < k ? 1 : ids.size() - k + 1;
  const size_t width = std::min(k, ids.size());
  set.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    // FNV-1a over the ids of the shingle; collisions only make two texts look a bit closer.
    uint64_t h = 1469598103934665603ull;
    for (size_t j = i; j < i + width; ++j) {
      h = (h ^ ids[j]) * 1099511628211ull;
    }
    set.push_back(h);
  }
  std::sort(set.begin(), set.end());
  set.erase(std::unique(set.begin(), set.end()), set.end());
  return set;
}

double Jaccard(const ShingleSet& a, const ShingleSet& b) {
  if (a.empty() && b.empty()) return 1.0;
  size_t common = 0;
  for (size_t i = 0, j = 0; i < a.size() && j < b.size();) {
    if (a[i] < b[j]) {
      ++i;
    } else if (b[j] < a[i]) {
      ++j;
    } else {
      ++common;
      ++i;
      ++j;
    }
  }
  return static_cast<double>(common) / static_cast<double>(a.size() + b.size() - common);
}

// Whether Jaccard(a, b) >= threshold, without finishing the merge once it cannot be.
// De-duplication runs this for every pair of kept sources on every Answer, and unrelated chunks
// (the usual case) fail after a few percent of the merge. Exactly `Jaccard(a, b) >= threshold`:
// with s = |a| + |b| and c common elements, J = c / (s - c) grows with c, so J >= t iff
// c >= needed (the least such c, found with the same double arithmetic as Jaccard), and the
// merge ends with s - 2c unmatched elements, so it can stop once more than s - 2 * needed are.
bool JaccardAtLeast(const ShingleSet& a, const ShingleSet& b, double threshold) {
  if (a.empty() && b.empty()) return 1.0 >= threshold;
  const size_t sum = a.size() + b.size();
  auto enough = [&](size_t c) {
    return static_cast<double>(c) / static_cast<double>(sum - c) >= threshold;
  };
  const size_t most = std::min(a.size(), b.size());  // c <= min(|a|, |b|)
  if (!enough(most)) return false;
  // Start at the real-number answer t * s / (1 + t), then settle on the least c `enough` takes.
  const double t = std::max(0.0, threshold);
  size_t needed =
      std::min(most, static_cast<size_t>(std::ceil(t * static_cast<double>(sum) / (1.0 + t))));
  while (needed > 0 && enough(needed - 1)) --needed;
  while (!enough(needed)) ++needed;  // stops by `most` at the latest
  const size_t max_unmatched = sum - 2 * needed;
  size_t unmatched = 0, common = 0;
  for (size_t i = 0, j = 0; i < a.size() && j < b.size();) {
    if (a[i] < b[j]) {
      ++i;
      if (++unmatched > max_unmatched) return false;
    } else if (b[j] < a[i]) {
      ++j;
      if (++unmatched > max_unmatched) return false;
    } else {
      ++common;
      ++i;
      ++j;
    }
  }
  return common >= needed;
}

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

double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    na += static_cast<double>(a[i]) * a[i];
    nb += static_cast<double>(b[i]) * b[i];
  }
  if (na == 0 || nb == 0) return 0;
  return dot / std::sqrt(na * nb);
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

double ShingleJaccard(const Tokenizer& tokenizer, std::string_view a, std::string_view b,
                      size_t shingle_tokens) {
  return Jaccard(Shingles(tokenizer, a, shingle_tokens), Shingles(tokenizer, b, shingle_tokens));
}

std::vector<size_t> DeduplicateSources(const Tokenizer& tokenizer,
                                       const std::vector<PromptSource>& sources,
                                       const std::vector<size_t>& candidates, double threshold,
                                       size_t shingle_tokens) {
  std::vector<size_t> kept;
  std::vector<ShingleSet> kept_shingles;
  for (size_t i : candidates) {
    ShingleSet s = Shingles(tokenizer, sources[i].text, shingle_tokens);
    bool duplicate = false;
    for (const ShingleSet& k : kept_shingles) {
      if (JaccardAtLeast(s, k, threshold)) {
        duplicate = true;
        break;
      }
    }
    if (!duplicate) {
      kept.push_back(i);
      kept_shingles.push_back(std::move(s));
    }
  }
  return kept;
}

std::vector<size_t> MmrOrder(const Tokenizer& tokenizer, const std::vector<PromptSource>& sources,
                             const std::vector<size_t>& candidates, double lambda,
                             size_t shingle_tokens) {
  const size_t n = candidates.size();
  if (n <= 1) return candidates;
  bool use_vectors = !sources[candidates[0]].vector.empty();
  for (size_t i : candidates) {
    use_vectors = use_vectors && sources[i].vector.size() == sources[candidates[0]].vector.size();
  }
  std::vector<ShingleSet> shingles;
  if (!use_vectors) {
    for (size_t i : candidates)
      shingles.push_back(Shingles(tokenizer, sources[i].text, shingle_tokens));
  }
  auto similarity = [&](size_t a, size_t b) {
    return use_vectors ? Cosine(sources[candidates[a]].vector, sources[candidates[b]].vector)
                       : Jaccard(shingles[a], shingles[b]);
  };
  double lo = sources[candidates[0]].score, hi = lo;
  for (size_t i : candidates) {
    lo = std::min(lo, sources[i].score);
    hi = std::max(hi, sources[i].score);
  }
  auto relevance = [&](size_t a) {
    return hi > lo ? (sources[candidates[a]].score - lo) / (hi - lo) : 1.0;
  };

  std::vector<size_t> order;
  std::vector<bool> chosen(n, false);
  std::vector<double> max_sim(n, 0.0);  // to the chosen ones
  for (size_t step = 0; step < n; ++step) {
    size_t best = n;
    double best_score = 0;
    for (size_t a = 0; a < n; ++a) {
      if (chosen[a]) continue;
      double s = lambda * relevance(a) - (step == 0 ? 0.0 : (1 - lambda) * max_sim[a]);
      if (best == n || s > best_score) {  // ties keep the better retrieval rank
        best = a;
        best_score = s;
      }
    }
    chosen[best] = true;
    order.push_back(candidates[best]);
    for (size_t a = 0; a < n; ++a) {
      if (!chosen[a]) max_sim[a] = std::max(max_sim[a], similarity(a, best));
    }
  }
  return order;
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

absl::StatusOr<PromptResult> PromptBuilder::Build(const ModelDeployment& deployment,
                                                  std::string_view question,
                                                  const std::vector<ChatMessage>& history,
                                                  const std::vector<PromptSource>& sources) const {
  if (absl::Status s = options_.Validate(); !s.ok()) return s;
  if (question.empty()) return absl::InvalidArgumentError("the question is empty");
  if (!IsValidUtf8(question)) return absl::InvalidArgumentError("the question is not UTF-8");
  for (size_t i = 0; i < history.size(); ++i) {
    if (history[i].role == ChatRole::kSystem) {
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
  const Tokenizer& tokenizer = Tokenizer::Get(deployment.encoding);

  // Candidates in rank order, after dedup and MMR.
  std::vector<size_t> candidates(sources.size());
  for (size_t i = 0; i < sources.size(); ++i) candidates[i] = i;
  if (options_.dedup) {
    std::vector<size_t> kept = DeduplicateSources(
        tokenizer, sources, candidates, options_.dedup_threshold, options_.shingle_tokens);
    std::unordered_set<size_t> kept_set(kept.begin(), kept.end());
    for (size_t i : candidates) {
      if (!kept_set.count(i)) result.duplicate_sources.push_back(i);
    }
    candidates = std::move(kept);
  }
  if (options_.mmr) {
    candidates =
        MmrOrder(tokenizer, sources, candidates, options_.mmr_lambda, options_.shingle_tokens);
  }
  if (options_.max_sources > 0 && candidates.size() > options_.max_sources) {
    result.dropped_sources.assign(candidates.begin() + options_.max_sources, candidates.end());
    candidates.resize(options_.max_sources);
  }

  // History turns: each starts at a user message (leading assistant messages form a turn).
  std::vector<size_t> turn_starts;
  for (size_t i = 0; i < history.size(); ++i) {
    if (i == 0 || history[i].role == ChatRole::kUser) turn_starts.push_back(i);
  }
  size_t turns = std::min(turn_starts.size(), options_.max_history_turns);

  const std::string user_text = options_.prompt_template.question_prefix + std::string(question);
  auto messages_for = [&](size_t k, size_t t) {
    std::vector<const PromptSource*> chosen;
    for (size_t i = 0; i < k; ++i) chosen.push_back(&sources[candidates[i]]);
    std::vector<ChatMessage> messages;
    messages.push_back({ChatRole::kSystem, RenderSystem(chosen)});
    const size_t first = t == 0 ? history.size() : turn_starts[turn_starts.size() - t];
    for (size_t i = first; i < history.size(); ++i) messages.push_back(history[i]);
    messages.push_back({ChatRole::kUser, user_text});
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
  // one token), hence its own count. tests/models/prompt_builder_test checks every result
  // against a full re-count.
  const PromptTemplate& tpl = options_.prompt_template;
  // RenderSystem's layout: head, then "\n\n" + AppendSource(...) per source.
  const std::string head = absl::StrCat(tpl.system_rules, "\n\n", tpl.sources_header);
  const size_t system_fixed = kTokensPerMessage + tokenizer.Count(ChatRoleName(ChatRole::kSystem));
  const size_t no_sources_tokens =
      tokenizer.Count(absl::StrCat(head, "\n\n", tpl.no_sources_text));
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
      message_tokens[i] = kTokensPerMessage + tokenizer.Count(ChatRoleName(history[i].role)) +
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
  const size_t fixed_tokens = kTokensPerMessage + tokenizer.Count(ChatRoleName(ChatRole::kUser)) +
                              tokenizer.Count(user_text) + kTokensReplyPriming;
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
        GroundingSource{static_cast<int>(i + 1), sources[candidates[i]].text});
  }
  return result;
}

}  // namespace ragd::models
