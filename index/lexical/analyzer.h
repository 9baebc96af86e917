#pragma once
// Analyzer: turns text into the terms a lexical (BM25) index stores and a query looks up. The
// same analyzer must be used at index time and at query time.
//
// Every kind runs the same front end:
//   1. UTF-8 is decoded; an invalid sequence is replaced by U+FFFD (which is not part of any
//      word, so it only splits the text there). Analysis never fails on bad input.
//   2. Unicode NFKC with case folding (ICU's NFKC_Casefold: full-width "ＡＢＣ" -> "abc",
//      "ﬁ" -> "fi", "Straße" -> "strasse"; default-ignorable code points removed).
//   3. Word segmentation by the Unicode word-boundary rules (UAX #29, ICU's word
//      BreakIterator, root locale). Segments that are not words (spaces, punctuation, symbols)
//      are dropped; words and numbers are kept, so "E1234" stays one term and
//      "text-embedding-ada-002" gives "text", "embedding", "ada", "002". A word longer than
//      kMaxTermBytes is dropped (base64 blobs, hashes).
// Then, per word, by script (a word that mixes Hangul with other letters or digits is split
// into runs, each treated by its own rules):
//   - Latin words (letters of the Latin script, digits allowed), kEnglish and kAuto: a final
//     possessive 's is removed, English stop words (kEnglishStopWords, Lucene's EnglishAnalyzer
//     set) and question words (kEnglishQuestionWords: how, what, why, ...) are dropped and the
//     rest is stemmed with Snowball's "english" algorithm (Porter2).
//     Numbers and words of other scripts (Han, Cyrillic, ...) are kept as they are.
//   - Hangul, kKorean and kAuto: see KoreanMix. A Hangul word that is nothing but a listed
//     particle or ending is dropped: ICU splits "API를" and "(LLM)은" into a Latin word and a
//     particle, and one-syllable function words (이, 한) are Korean's stop words. So is a word
//     whose stripped form is a question word (kKoreanQuestionWords: 무엇인가요 -> 무엇, 어떻게).
//   - kSimple, Hangul under kEnglish, Latin under kKorean: the folded word as it is.
// kAuto therefore handles mixed Korean/English text by deciding per run.
//
// Korean (Hangul syllables U+AC00..U+D7A3):
//   - bigrams: overlapping pairs of syllables ("데이터베이스" -> 데이 이터 터베 베이 이스), a
//     one-syllable run as a unigram. This is the shape of Lucene's CJKBigramFilter. kBigrams
//     takes them over the whole run; kBoth over the stripped word only ("모델을" -> 모델, not
//     델을), so that particles and endings ("나요" of 되나요) do not become terms.
//   - stripped words: the run with the longest matching suffix of kKoreanSuffixes (particles
//     and common endings) removed ("모델은" -> "모델", "데이터에서" -> "데이터"). A suffix is
//     removed only when at least kMinKoreanStem syllables remain for a one-syllable suffix and
//     one syllable for a longer one ("나이" stays "나이"). The run is kept as it is when no
//     suffix matches.
// A stripped word of two syllables is the same string as a bigram: with KoreanMix::kBoth it
// counts for both (its core then weighs more than an unrelated bigram, which is intended).
//
// Thread safety: an Analyzer is immutable after construction; Analyze() may be called from any
// number of threads at once (each call uses its own ICU break iterator, cloned from a
// prototype, and a per-thread Snowball stemmer).
//
// Errors: never throws. Analyze() returns INVALID_ARGUMENT for text longer than kMaxTextBytes,
// RESOURCE_EXHAUSTED when memory runs out and INTERNAL when ICU fails (missing data).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ragd::index::lexical {

enum class AnalyzerKind {
  kAuto,     // per word run: Hangul as kKorean, everything else as kEnglish
  kEnglish,  // stop words + Porter2 stemming; other scripts as kSimple
  kKorean,   // Hangul bigrams and stripped words; other scripts as kSimple
  kSimple,   // normalised, folded, segmented words; nothing removed or stemmed
};

// "auto", "english", "korean", "simple". INVALID_ARGUMENT for anything else.
absl::StatusOr<AnalyzerKind> ParseAnalyzerKind(std::string_view name);
std::string_view AnalyzerKindName(AnalyzerKind kind);

// Which terms a Hangul run yields (kKorean and kAuto).
enum class KoreanMix {
  kBigrams,  // syllable bigrams only (unigram for a one-syllable run)
  kWords,    // the stripped word only
  kBoth,     // bigrams and the stripped word
};

struct AnalyzerOptions {
  AnalyzerKind kind = AnalyzerKind::kAuto;
  // Default: kBoth (index/lexical/README.md, "Korean mix", has the measurement).
  KoreanMix korean_mix = KoreanMix::kBoth;
};

// Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET (33 words), kept sorted.
extern const std::span<const std::string_view> kEnglishStopWords;
// Question words: in a question they mark it as one and match the question-shaped text of
// FAQ pages and headings rather than the answer. English ones are matched before stemming;
// Korean ones against the stripped word.
extern const std::span<const std::string_view> kEnglishQuestionWords;
extern const std::span<const std::string_view> kKoreanQuestionWords;
// Korean particles (조사) and common endings removed from Hangul words, longest match first.
extern const std::span<const std::string_view> kKoreanSuffixes;
// A one-syllable suffix is removed only when this many syllables remain.
inline constexpr size_t kMinKoreanStem = 2;
// Words longer than this (UTF-8 bytes, after folding) are dropped.
inline constexpr size_t kMaxTermBytes = 128;
// Longer input is rejected (ICU indexes UTF-16 with int32_t). Default engine texts are <= 1 MiB.
inline constexpr size_t kMaxTextBytes = size_t{256} << 20;

class Analyzer {
 public:
  // INTERNAL when ICU's word-break data or normaliser cannot be loaded.
  static absl::StatusOr<std::unique_ptr<Analyzer>> Create(const AnalyzerOptions& options);
  ~Analyzer();
  Analyzer(const Analyzer&) = delete;
  Analyzer& operator=(const Analyzer&) = delete;

  // The terms of `text` in text order, repeated as often as they occur (term frequencies are
  // counted by the caller, see CountTerms).
  absl::StatusOr<std::vector<std::string>> Analyze(std::string_view text) const;

  const AnalyzerOptions& options() const { return options_; }

 private:
  struct Impl;
  Analyzer(const AnalyzerOptions& options, std::unique_ptr<Impl> impl);
  AnalyzerOptions options_;
  std::unique_ptr<Impl> impl_;
};

struct TermFreq {
  std::string term;
  uint32_t freq = 0;
};

// Distinct terms with their counts, sorted by term (the form Bm25Index::Add takes).
std::vector<TermFreq> CountTerms(std::span<const std::string> terms);

}  // namespace ragd::index::lexical
