#include "models/local_chat_model.h"

#include <utf8proc.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/utf8.h"

namespace ragd::models {
namespace {

using Clock = std::chrono::steady_clock;
using FeatureSet = std::unordered_set<std::string>;

bool IsWordChar(utf8proc_int32_t cp) {
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
      return true;
    default:
      return false;
  }
}

bool IsHangul(utf8proc_int32_t cp) {
  return (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0x1100 && cp <= 0x11FF) ||
         (cp >= 0x3130 && cp <= 0x318F);
}

// Scripts written without spaces between words (or with particles glued on): bigrams.
bool IsBigramScript(utf8proc_int32_t cp) {
  return IsHangul(cp) || (cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
         (cp >= 0x3400 && cp <= 0x4DBF);
}

bool ContainsHangul(std::string_view s) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t i = 0, n = static_cast<utf8proc_ssize_t>(s.size());
  while (i < n) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t len = utf8proc_iterate(p + i, n - i, &cp);
    if (len <= 0) return false;
    if (IsHangul(cp)) return true;
    i += len;
  }
  return false;
}

const std::set<std::string, std::less<>>& EnglishStopWords() {
  static const std::set<std::string, std::less<>> words = {
      "a",    "an",   "the", "is",  "are", "was",  "were",  "be",   "to",  "of",
      "in",   "on",   "for", "and", "or",  "what", "which", "who",  "how", "why",
      "does", "do",   "did", "it",  "its", "this", "that",  "with", "as",  "by",
      "at",   "from", "can", "i",   "you", "me",   "my",    "your"};
  return words;
}

void AppendCodePoint(utf8proc_int32_t cp, std::string* out) {
  utf8proc_uint8_t buf[4];
  utf8proc_ssize_t n = utf8proc_encode_char(cp, buf);
  out->append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

// Korean particles (josa) glued to the end of nouns, longest first: "임베딩이란", "임베딩은"
// and "임베딩을" all mean the word "임베딩".
const std::vector<std::u32string>& HangulParticles() {
  static const std::vector<std::u32string> particles = {
      U"이라는", U"에서는", U"으로는", U"에서", U"으로", U"이란", U"라는", U"에게", U"까지",
      U"부터",   U"보다",   U"처럼",   U"과",   U"와",   U"은",   U"는",   U"이",   U"가",
      U"을",     U"를",     U"의",     U"에",   U"로",   U"도",   U"만",   U"란"};
  return particles;
}

// Interrogatives: a Korean word starting with one of them ("무엇인가요", "어떻게") asks
// rather than names a topic, so it is no feature.
const std::vector<std::u32string>& HangulInterrogatives() {
  static const std::vector<std::u32string> words = {U"무엇", U"어떤", U"어떻", U"어느",
                                                    U"언제", U"어디", U"누구", U"누가",
                                                    U"무슨", U"얼마", U"왜",   U"뭐"};
  return words;
}

// Words and in-word bigrams of `text` (see local_chat_model.h).
FeatureSet Features(std::string_view text) {
  FeatureSet features;
  std::u32string word;
  auto add_word = [&](std::u32string_view w, bool bigrams) {
    std::string s;
    for (char32_t cp : w) AppendCodePoint(static_cast<utf8proc_int32_t>(cp), &s);
    if (!EnglishStopWords().count(s) && (w.size() > 1 || bigrams)) features.insert("w:" + s);
    if (!bigrams) return;
    for (size_t i = 0; i + 1 < w.size(); ++i) {
      if (!IsBigramScript(static_cast<utf8proc_int32_t>(w[i])) ||
          !IsBigramScript(static_cast<utf8proc_int32_t>(w[i + 1]))) {
        continue;
      }
      std::string g = "b:";
      AppendCodePoint(static_cast<utf8proc_int32_t>(w[i]), &g);
      AppendCodePoint(static_cast<utf8proc_int32_t>(w[i + 1]), &g);
      features.insert(std::move(g));
    }
  };
  auto flush = [&] {
    if (word.empty()) return;
    bool hangul = false, bigram_script = false;
    for (char32_t cp : word) {
      hangul = hangul || IsHangul(static_cast<utf8proc_int32_t>(cp));
      bigram_script = bigram_script || IsBigramScript(static_cast<utf8proc_int32_t>(cp));
    }
    std::u32string_view w = word;
    if (hangul) {
      for (const std::u32string& q : HangulInterrogatives()) {
        if (w.starts_with(q)) {
          word.clear();
          return;
        }
      }
      for (const std::u32string& p : HangulParticles()) {
        // Only when a stem of two or more syllables remains ("결과" is not "결" + "과").
        if (w.size() >= p.size() + 2 && w.ends_with(p)) {
          w.remove_suffix(p.size());
          break;
        }
      }
    }
    add_word(w, bigram_script);
    word.clear();
  };
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  utf8proc_ssize_t i = 0, n = static_cast<utf8proc_ssize_t>(text.size());
  while (i < n) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t len = utf8proc_iterate(p + i, n - i, &cp);
    if (len <= 0) {  // invalid byte: a separator
      flush();
      ++i;
      continue;
    }
    if (IsWordChar(cp)) {
      word.push_back(static_cast<char32_t>(utf8proc_tolower(cp)));
    } else {
      flush();
    }
    i += len;
  }
  flush();
  return features;
}

// True for lines that carry no prose: Markdown structure, front matter, HTML, links only.
std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool SkipLine(std::string_view line) {
  if (line.empty()) return true;
  for (std::string_view prefix : {"#", "![", "<", "```", "---", ":::", "|", "title:", "slug:"}) {
    if (line.starts_with(prefix)) return true;
  }
  // A line that is only a link: "[text](url)".
  if (line.front() == '[' && line.back() == ')' && line.find("](") != std::string_view::npos) {
    return true;
  }
  return false;
}

struct Sentence {
  std::string text;
  int source = 0;    // citation number
  size_t order = 0;  // position among all sentences, for stable ties
  FeatureSet features;
};

std::vector<Sentence> SplitSentences(const std::vector<GroundingSource>& sources) {
  std::vector<Sentence> out;
  for (const GroundingSource& source : sources) {
    bool in_code = false;
    for (absl::string_view raw : absl::StrSplit(source.text, '\n')) {
      std::string_view line = Trim(std::string_view(raw.data(), raw.size()));
      if (line.starts_with("```")) {
        in_code = !in_code;
        continue;
      }
      if (in_code || SkipLine(line)) continue;
      for (std::string_view marker : {"- ", "* ", "+ ", "> "}) {
        if (line.starts_with(marker)) {
          line.remove_prefix(marker.size());
          break;
        }
      }
      std::string clean =
          absl::StrReplaceAll(absl::string_view(line.data(), line.size()), {{"**", ""}});
      // Sentence ends: . ? ! followed by a space or the end, and the CJK full stops.
      auto emit = [&](std::string_view piece) {
        piece = Trim(piece);
        if (piece.size() < 2) return;
        Sentence sentence;
        sentence.text = std::string(piece);
        sentence.source = source.number;
        sentence.order = out.size();
        sentence.features = Features(sentence.text);
        if (!sentence.features.empty()) out.push_back(std::move(sentence));
      };
      std::string_view text = clean;
      size_t start = 0, i = 0;
      while (i < text.size()) {
        size_t end_len = 0;
        char c = text[i];
        if ((c == '.' || c == '?' || c == '!') && (i + 1 == text.size() || text[i + 1] == ' ')) {
          end_len = 1;
        } else if (text.compare(i, 3, "\u3002") == 0 || text.compare(i, 3, "\uFF1F") == 0 ||
                   text.compare(i, 3, "\uFF01") == 0) {
          end_len = 3;
        }
        if (end_len == 0) {
          ++i;
          continue;
        }
        emit(text.substr(start, i + end_len - start));
        i += end_len;
        start = i;
      }
      emit(text.substr(start));
    }
  }
  return out;
}

}  // namespace

LocalChatModel::LocalChatModel(ModelDeployment deployment, LocalChatOptions options)
    : deployment_(std::move(deployment)), options_(options) {}

std::string LocalChatModel::Answer(const ChatRequest& request) const {
  std::string question = request.grounding_question;
  if (question.empty()) {
    for (auto it = request.messages.rbegin(); it != request.messages.rend(); ++it) {
      if (it->role == ChatRole::kUser) {
        question = it->content;
        break;
      }
    }
  }
  const std::string not_found(ContainsHangul(question) ? kNotInSourcesKo : kNotInSourcesEn);
  FeatureSet q = Features(question);
  std::vector<Sentence> sentences = SplitSentences(request.grounding_sources);
  if (q.empty() || sentences.empty()) return not_found;

  // IDF of each question feature over the sentences: ln(1 + N / df); absent features still
  // count in the denominator, so a question about something else scores low everywhere.
  const double n = static_cast<double>(sentences.size());
  std::unordered_map<std::string, double> idf;
  double total = 0;
  for (const std::string& f : q) {
    size_t df = 0;
    for (const Sentence& s : sentences) df += s.features.count(f);
    double w = std::log(1.0 + n / static_cast<double>(std::max<size_t>(df, 1)));
    idf[f] = w;
    total += w;
  }
  std::vector<std::pair<double, const Sentence*>> scored;
  for (const Sentence& s : sentences) {
    double hit = 0;
    for (const auto& [f, w] : idf) {
      if (s.features.count(f)) hit += w;
    }
    scored.emplace_back(hit / total, &s);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  if (scored.empty() || scored[0].first < options_.min_score) return not_found;

  std::string answer;
  std::set<std::string> seen;
  for (const auto& [score, s] : scored) {
    if (seen.size() >= options_.max_sentences) break;
    if (score < options_.min_score || score < 0.5 * scored[0].first) break;
    if (!seen.insert(s->text).second) continue;
    if (!answer.empty()) answer += ' ';
    absl::StrAppend(&answer, s->text, " [", s->source, "]");
  }
  return answer;
}

absl::Status LocalChatModel::Stream(const ChatRequest& request,
                                    const std::function<bool(const ChatDelta&)>& on_delta,
                                    ChatResult* result, const std::atomic<bool>* cancelled) {
  const Clock::time_point start = Clock::now();
  ChatResult local;
  if (result == nullptr) result = &local;
  *result = ChatResult{};
  if (absl::Status s = ValidateChatRequest(deployment_, request); !s.ok()) return s;
  for (const GroundingSource& g : request.grounding_sources) {
    if (!IsValidUtf8(g.text)) return absl::InvalidArgumentError("a grounding source is not UTF-8");
  }
  if (!IsValidUtf8(request.grounding_question)) {
    return absl::InvalidArgumentError("the grounding question is not UTF-8");
  }
  const Tokenizer& tokenizer = Tokenizer::Get(deployment_.encoding);
  std::string answer = Answer(request);
  result->finish_reason = "stop";
  const size_t max_tokens = request.max_output_tokens.value_or(deployment_.max_output_tokens);
  if (tokenizer.Count(answer) > max_tokens) {
    answer.resize(tokenizer.PrefixBytesForTokens(answer, max_tokens));
    result->finish_reason = "length";
  }
  result->model = "local";
  result->usage.prompt_tokens = PromptTokensOf(tokenizer, request);
  result->usage.counted_locally = true;

  std::string_view rest = answer;
  std::string sent;
  absl::Status status;
  // Bounded: every pass consumes at least one byte.
  while (!rest.empty()) {
    if (cancelled != nullptr && cancelled->load()) {
      status = absl::CancelledError("cancelled by the caller");
      break;
    }
    size_t take = Utf8SafePrefix(rest, options_.delta_bytes);
    if (take == 0) take = std::min(rest.size(), size_t{4});  // a sequence longer than delta_bytes
    // Prefer to end a delta after a space, as model tokens usually do.
    size_t space = rest.substr(0, take).rfind(' ');
    if (space != std::string_view::npos && space > 0 && take < rest.size()) take = space + 1;
    ChatDelta delta{std::string(rest.substr(0, take))};
    rest.remove_prefix(take);
    if (sent.empty()) {
      result->time_to_first_token =
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
    }
    sent += delta.text;
    if (!on_delta(delta)) {
      status = absl::CancelledError("cancelled by the caller");
      break;
    }
    if (options_.delta_delay.count() > 0 && !rest.empty()) {
      std::this_thread::sleep_for(options_.delta_delay);
    }
  }
  if (!status.ok()) result->finish_reason.clear();
  result->delivered_bytes = sent.size();
  result->usage.completion_tokens = tokenizer.Count(sent);
  result->usage.total_tokens = result->usage.prompt_tokens + result->usage.completion_tokens;
  result->latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  return status;
}

absl::StatusOr<ChatCompletion> LocalChatModel::Complete(const ChatRequest& request,
                                                        const std::atomic<bool>* cancelled) {
  ChatCompletion completion;
  absl::Status s = Stream(
      request,
      [&](const ChatDelta& d) {
        completion.text += d.text;
        return true;
      },
      &completion.result, cancelled);
  if (!s.ok()) return s;
  return completion;
}

}  // namespace ragd::models
