#include "index/lexical/analyzer.h"

#include <libstemmer.h>
#include <unicode/brkiter.h>
#include <unicode/errorcode.h>
#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/uscript.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <exception>
#include <iterator>
#include <new>

#include "absl/strings/str_cat.h"

namespace ragd::index::lexical {
namespace {

// Sorted, for binary search.
constexpr std::string_view kStopWords[] = {
    "a",   "an",    "and",  "are",   "as",    "at",   "be",   "but", "by",  "for",  "if",
    "in",  "into",  "is",   "it",    "no",    "not",  "of",   "on",  "or",  "such", "that",
    "the", "their", "then", "there", "these", "they", "this", "to",  "was", "will", "with"};

// Question words (analyzer.h; measured in index/lexical/README.md, "Question words").
constexpr std::string_view kQuestionWordsEn[] = {"how", "what", "when",  "where", "which",
                                                 "who", "whom", "whose", "why"};
// The same for Korean, matched against the word with its particles and endings stripped
// (무엇인가요 -> 무엇, 어디에서 -> 어디).
// "얼마" rather than 얼마나, whose 나 is stripped as a particle.
constexpr std::string_view kQuestionWordsKo[] = {"몇",     "무엇", "어느", "어디", "어떤",
                                                 "어떻게", "언제", "얼마", "왜",   "누구"};

// Longest first, so that the first match is the longest one ("에서는" before "는").
constexpr std::string_view kSuffixes[] = {
    // four and three syllables
    "했습니다", "시킵니다", "으로서", "으로써", "으로는", "에게서", "에서는", "에서도", "이라는",
    "됩니다", "합니다", "입니다", "적으로", "만으로", "인가요", "되나요", "하나요", "있나요",
    "습니까", "입니까",
    // two syllables
    "나요", "가요", "까요", "으로", "에서", "에게", "께서", "한테", "까지", "부터", "보다", "처럼",
    "마다", "조차", "이나", "이며", "이란", "라는", "로서", "로써", "에는", "로는", "에도", "와는",
    "과는", "만을", "이다", "하다", "하는", "하고", "하여", "해서", "하면", "하며", "되는", "되어",
    "되며", "되고", "적인", "들이", "들은", "들을", "들의", "들에", "들과", "들도", "들로",
    // one syllable
    "이", "가", "은", "는", "을", "를", "의", "에", "와", "과", "도", "만", "로", "께", "나", "며",
    "란", "한", "할", "된", "인", "들"};

bool IsHangulSyllable(UChar32 c) { return c >= 0xAC00 && c <= 0xD7A3; }

// Every Hangul syllable is 3 bytes in UTF-8.
constexpr size_t kSyllableBytes = 3;

bool IsLatinWord(std::string_view utf8) {
  bool has_letter = false;
  for (size_t i = 0; i < utf8.size();) {
    UChar32 c;
    U8_NEXT(utf8.data(), i, static_cast<int32_t>(utf8.size()), c);
    if (c < 0) return false;
    if (u_isalpha(c)) {
      UErrorCode err = U_ZERO_ERROR;
      if (uscript_getScript(c, &err) != USCRIPT_LATIN) return false;
      has_letter = true;
    }
  }
  return has_letter;
}

// One Snowball stemmer per thread: a stemmer keeps its working buffer between calls.
struct StemmerHolder {
  sb_stemmer* stemmer = sb_stemmer_new("english", "UTF_8");
  ~StemmerHolder() {
    if (stemmer != nullptr) sb_stemmer_delete(stemmer);
  }
};

absl::StatusOr<std::string> StemEnglish(const std::string& word) {
  thread_local StemmerHolder holder;
  if (holder.stemmer == nullptr) {
    holder.stemmer = sb_stemmer_new("english", "UTF_8");
    if (holder.stemmer == nullptr) return absl::ResourceExhaustedError("snowball: out of memory");
  }
  const sb_symbol* out =
      sb_stemmer_stem(holder.stemmer, reinterpret_cast<const sb_symbol*>(word.data()),
                      static_cast<int>(word.size()));
  if (out == nullptr) return absl::ResourceExhaustedError("snowball: out of memory");
  return std::string(reinterpret_cast<const char*>(out),
                     static_cast<size_t>(sb_stemmer_length(holder.stemmer)));
}

}  // namespace

const std::span<const std::string_view> kEnglishStopWords = kStopWords;
const std::span<const std::string_view> kKoreanSuffixes = kSuffixes;
const std::span<const std::string_view> kEnglishQuestionWords = kQuestionWordsEn;
const std::span<const std::string_view> kKoreanQuestionWords = kQuestionWordsKo;

absl::StatusOr<AnalyzerKind> ParseAnalyzerKind(std::string_view name) {
  if (name == "auto") return AnalyzerKind::kAuto;
  if (name == "english") return AnalyzerKind::kEnglish;
  if (name == "korean") return AnalyzerKind::kKorean;
  if (name == "simple") return AnalyzerKind::kSimple;
  return absl::InvalidArgumentError(
      absl::StrCat("analyzer must be auto, english, korean or simple, not \"",
                   std::string(name.substr(0, 32)), "\""));
}

std::string_view AnalyzerKindName(AnalyzerKind kind) {
  switch (kind) {
    case AnalyzerKind::kAuto:
      return "auto";
    case AnalyzerKind::kEnglish:
      return "english";
    case AnalyzerKind::kKorean:
      return "korean";
    case AnalyzerKind::kSimple:
      return "simple";
  }
  return "unknown";
}

struct Analyzer::Impl {
  const icu::Normalizer2* nfkc_casefold = nullptr;  // owned by ICU, immutable
  std::unique_ptr<icu::BreakIterator> word_breaks;  // prototype, cloned per call
  bool english_rules = false;
  bool korean_rules = false;
  KoreanMix korean_mix = KoreanMix::kBoth;

  absl::Status Run(std::string_view text, std::vector<std::string>* out) const;
  absl::Status EmitRun(std::string run, bool hangul, std::vector<std::string>* out) const;
};

absl::StatusOr<std::unique_ptr<Analyzer>> Analyzer::Create(const AnalyzerOptions& options) {
  try {
    auto impl = std::make_unique<Impl>();
    UErrorCode err = U_ZERO_ERROR;
    impl->nfkc_casefold = icu::Normalizer2::getNFKCCasefoldInstance(err);
    if (U_FAILURE(err) || impl->nfkc_casefold == nullptr) {
      return absl::InternalError(absl::StrCat("icu NFKC_Casefold: ", u_errorName(err)));
    }
    err = U_ZERO_ERROR;
    impl->word_breaks.reset(icu::BreakIterator::createWordInstance(icu::Locale::getRoot(), err));
    if (U_FAILURE(err) || impl->word_breaks == nullptr) {
      return absl::InternalError(absl::StrCat("icu word BreakIterator: ", u_errorName(err)));
    }
    impl->korean_mix = options.korean_mix;
    switch (options.kind) {
      case AnalyzerKind::kAuto:
        impl->english_rules = impl->korean_rules = true;
        break;
      case AnalyzerKind::kEnglish:
        impl->english_rules = true;
        break;
      case AnalyzerKind::kKorean:
        impl->korean_rules = true;
        break;
      case AnalyzerKind::kSimple:
        break;
    }
    return std::unique_ptr<Analyzer>(new Analyzer(options, std::move(impl)));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("analyzer: out of memory");
  }
}

Analyzer::Analyzer(const AnalyzerOptions& options, std::unique_ptr<Impl> impl)
    : options_(options), impl_(std::move(impl)) {}
Analyzer::~Analyzer() = default;

absl::StatusOr<std::vector<std::string>> Analyzer::Analyze(std::string_view text) const {
  if (text.size() > kMaxTextBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("text of ", text.size(), " bytes exceeds the analyzer's ", kMaxTextBytes));
  }
  std::vector<std::string> out;
  try {
    absl::Status s = impl_->Run(text, &out);
    if (!s.ok()) return s;
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("analyzer: out of memory");
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("analyzer: ", e.what()));
  }
  return out;
}

absl::Status Analyzer::Impl::Run(std::string_view text, std::vector<std::string>* out) const {
  // UTF-8 -> UTF-16 with U+FFFD for invalid sequences. UTF-16 never has more units than the
  // UTF-8 input has bytes.
  icu::UnicodeString decoded;
  {
    const int32_t capacity = static_cast<int32_t>(std::max<size_t>(text.size(), 1));
    char16_t* buffer = decoded.getBuffer(capacity);
    if (buffer == nullptr) throw std::bad_alloc();
    int32_t length = 0;
    UErrorCode err = U_ZERO_ERROR;
    u_strFromUTF8WithSub(buffer, capacity, &length, text.data(), static_cast<int32_t>(text.size()),
                         0xFFFD, nullptr, &err);
    decoded.releaseBuffer(U_SUCCESS(err) ? length : 0);
    if (U_FAILURE(err)) return absl::InternalError(absl::StrCat("icu utf-8: ", u_errorName(err)));
  }
  UErrorCode err = U_ZERO_ERROR;
  const icu::UnicodeString folded = nfkc_casefold->normalize(decoded, err);
  if (U_FAILURE(err)) return absl::InternalError(absl::StrCat("icu normalize: ", u_errorName(err)));

  std::unique_ptr<icu::BreakIterator> breaks(word_breaks->clone());
  if (breaks == nullptr) throw std::bad_alloc();
  breaks->setText(folded);
  std::string run;
  for (int32_t start = breaks->first(), end = breaks->next(); end != icu::BreakIterator::DONE;
       start = end, end = breaks->next()) {
    if (breaks->getRuleStatus() < UBRK_WORD_NONE_LIMIT) continue;  // spaces, punctuation
    // Split the word into runs of Hangul syllables and of everything else (ICU 72 already
    // breaks "API를" into two words; digits and letters of other scripts may still touch).
    int32_t run_start = start;
    bool run_hangul = IsHangulSyllable(folded.char32At(start));
    for (int32_t i = start;; i = folded.moveIndex32(i, 1)) {
      const bool at_end = i >= end;
      const bool hangul = !at_end && IsHangulSyllable(folded.char32At(i));
      if (i == run_start) continue;
      if (at_end || hangul != run_hangul) {
        run.clear();
        folded.tempSubStringBetween(run_start, i).toUTF8String(run);
        absl::Status s = EmitRun(std::move(run), run_hangul, out);
        if (!s.ok()) return s;
        if (at_end) break;
        run_start = i;
        run_hangul = hangul;
      }
    }
  }
  return absl::OkStatus();
}

namespace {

// The length (in syllables) of the run once its longest removable suffix is gone; the whole
// run when no suffix may be removed.
size_t StrippedSyllables(std::string_view run) {
  const size_t syllables = run.size() / kSyllableBytes;
  for (std::string_view suffix : kSuffixes) {
    if (suffix.size() >= run.size() || run.substr(run.size() - suffix.size()) != suffix) continue;
    const size_t suffix_syllables = suffix.size() / kSyllableBytes;
    const size_t min_stem = suffix_syllables == 1 ? kMinKoreanStem : 1;
    if (syllables - suffix_syllables >= min_stem) return syllables - suffix_syllables;
  }
  return syllables;
}

template <size_t N>
bool Contains(const std::string_view (&words)[N], std::string_view word) {
  return std::find(std::begin(words), std::end(words), word) != std::end(words);
}

bool IsSuffix(std::string_view run) {
  return std::find(std::begin(kSuffixes), std::end(kSuffixes), run) != std::end(kSuffixes);
}

// Builds a new string (an in-place std::string::replace trips GCC 12's -Wrestrict).
std::string ReplaceAll(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  for (size_t pos = 0;;) {
    const size_t hit = s.find(from, pos);
    out.append(s.substr(pos, hit == std::string_view::npos ? std::string_view::npos : hit - pos));
    if (hit == std::string_view::npos) return out;
    out.append(to);
    pos = hit + from.size();
  }
}

}  // namespace

absl::Status Analyzer::Impl::EmitRun(std::string run, bool hangul,
                                     std::vector<std::string>* out) const {
  if (run.empty() || run.size() > kMaxTermBytes) return absl::OkStatus();
  if (hangul && korean_rules) {
    // A word that is nothing but a particle or ending: split from a Latin word or a bracket
    // ("API를", "(LLM)은"), or a one-syllable function word (이, 한). Korean's stop words.
    if (IsSuffix(run)) return absl::OkStatus();
    const size_t stem_syllables = StrippedSyllables(run);
    const std::string_view stem(run.data(), stem_syllables * kSyllableBytes);
    if (Contains(kQuestionWordsKo, stem)) return absl::OkStatus();
    // kBoth takes the bigrams of the stem only: bigrams that reach into a particle or an
    // ending ("델을" of 모델을, "나요" of 되나요) match every word with that ending, not the
    // topic. kBigrams keeps the whole run's (it has no stem to fall back on).
    const size_t syllables =
        korean_mix == KoreanMix::kBoth ? stem_syllables : run.size() / kSyllableBytes;
    if (korean_mix != KoreanMix::kWords) {
      if (syllables == 1) {
        out->push_back(run.substr(0, kSyllableBytes));
      } else {
        for (size_t i = 0; i + 1 < syllables; ++i) {
          out->push_back(run.substr(i * kSyllableBytes, 2 * kSyllableBytes));
        }
      }
    }
    if (korean_mix != KoreanMix::kBigrams) {
      run.resize(stem_syllables * kSyllableBytes);
      out->push_back(std::move(run));
    }
    return absl::OkStatus();
  }
  if (!hangul && english_rules && IsLatinWord(run)) {
    // NFKC keeps U+2019 (right single quotation mark), the usual apostrophe of typeset text;
    // Porter2's possessive and contraction rules expect '.
    if (run.find("\u2019") != std::string::npos) run = ReplaceAll(run, "\u2019", "'");
    // Lucene's EnglishPossessiveFilter runs before its stop filter: "it's" is "it", a stop word.
    if (run.size() > 2 && run.ends_with("'s")) run.resize(run.size() - 2);
    if (std::binary_search(std::begin(kStopWords), std::end(kStopWords), std::string_view(run))) {
      return absl::OkStatus();
    }
    if (Contains(kQuestionWordsEn, run)) return absl::OkStatus();
    auto stemmed = StemEnglish(run);
    if (!stemmed.ok()) return stemmed.status();
    if (!stemmed->empty()) out->push_back(*std::move(stemmed));
    return absl::OkStatus();
  }
  out->push_back(std::move(run));
  return absl::OkStatus();
}

std::vector<TermFreq> CountTerms(std::span<const std::string> terms) {
  // A sorted array of views and one pass over its runs: the same order as a std::map of the
  // terms (byte-wise), without a tree node per distinct term.
  std::vector<std::string_view> sorted(terms.begin(), terms.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<TermFreq> out;
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i + 1;
    while (j < sorted.size() && sorted[j] == sorted[i]) ++j;
    out.push_back(TermFreq{std::string(sorted[i]), static_cast<uint32_t>(j - i)});
    i = j;
  }
  return out;
}

}  // namespace ragd::index::lexical
