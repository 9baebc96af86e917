// ragd_lexical's analyzers: goldens for English (stop words, Porter2), Korean (particles,
// endings, bigram mixes), mixed text, NFKC and case folding, invalid UTF-8, question words,
// and one analyzer shared by threads. The BM25 index is tested in lexical_test.cc.

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/hash.h"
#include "gtest/gtest.h"
#include "index/lexical/analyzer.h"
#include "index/lexical/bm25_index.h"
#include "tests/testing/status_matchers.h"

namespace ragd::index::lexical {
namespace {

using Terms = std::vector<std::string>;

Terms Analyze(AnalyzerKind kind, std::string_view text, KoreanMix mix = KoreanMix::kBoth) {
  auto analyzer = Analyzer::Create({kind, mix});
  EXPECT_OK(analyzer);
  if (!analyzer.ok()) return {};
  auto terms = (*analyzer)->Analyze(text);
  EXPECT_OK(terms);
  return terms.ok() ? *terms : Terms{};
}

// ---------------------------------------------------------------------------------------------
// Analyzer

TEST(AnalyzerKindTest, ParsesAndNamesEveryKind) {
  for (AnalyzerKind kind : {AnalyzerKind::kAuto, AnalyzerKind::kEnglish, AnalyzerKind::kKorean,
                            AnalyzerKind::kSimple}) {
    ASSERT_OK_AND_ASSIGN(AnalyzerKind parsed, ParseAnalyzerKind(AnalyzerKindName(kind)));
    EXPECT_EQ(parsed, kind);
  }
  EXPECT_EQ(ParseAnalyzerKind("English").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseAnalyzerKind("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AnalyzerTest, StatedListsAreWellFormed) {
  // Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET has 33 words; binary search needs order.
  EXPECT_EQ(kEnglishStopWords.size(), 33u);
  EXPECT_TRUE(std::is_sorted(kEnglishStopWords.begin(), kEnglishStopWords.end()));
  // Longest match first: suffix lengths never grow along the list.
  for (size_t i = 1; i < kKoreanSuffixes.size(); ++i) {
    EXPECT_LE(kKoreanSuffixes[i].size(), kKoreanSuffixes[i - 1].size()) << kKoreanSuffixes[i];
  }
  for (std::string_view s : kKoreanSuffixes) {
    EXPECT_EQ(s.size() % 3, 0u) << s;  // Hangul syllables only (3 UTF-8 bytes each)
    EXPECT_EQ(std::count(kKoreanSuffixes.begin(), kKoreanSuffixes.end(), s), 1) << s;
  }
}

TEST(AnalyzerTest, EnglishStopWordsAndPorter2Stemming) {
  EXPECT_EQ(
      Analyze(AnalyzerKind::kEnglish, "The models are running quickly; it's the model's job."),
      (Terms{"model", "run", "quick", "model", "job"}));
  // Porter2 (Snowball "english"), not the original Porter: "generously" -> "generous".
  EXPECT_EQ(Analyze(AnalyzerKind::kEnglish, "Connections connected connecting generously"),
            (Terms{"connect", "connect", "connect", "generous"}));
  // Every listed stop word is dropped, in any case.
  std::string all;
  for (std::string_view w : kEnglishStopWords)
    absl::StrAppend(&all, std::string(w), " ", absl::AsciiStrToUpper(std::string(w)), " ");
  EXPECT_EQ(Analyze(AnalyzerKind::kEnglish, all), Terms{});
  // The typographic apostrophe (U+2019) behaves like '.
  EXPECT_EQ(Analyze(AnalyzerKind::kEnglish, "don\u2019t stop the model\u2019s"),
            Analyze(AnalyzerKind::kEnglish, "don't stop the model's"));
  // simple keeps everything, unstemmed.
  EXPECT_EQ(Analyze(AnalyzerKind::kSimple, "The models are running"),
            (Terms{"the", "models", "are", "running"}));
}

TEST(AnalyzerTest, IdentifiersAndNumbersAreKept) {
  const std::string text = "Error E1234 in text-embedding-ada-002 (v3.14, 2024)";
  EXPECT_EQ(Analyze(AnalyzerKind::kAuto, text),
            (Terms{"error", "e1234", "text", "embed", "ada", "002", "v3.14", "2024"}));
  EXPECT_EQ(Analyze(AnalyzerKind::kSimple, text),
            (Terms{"error", "e1234", "in", "text", "embedding", "ada", "002", "v3.14", "2024"}));
}

TEST(AnalyzerTest, NfkcAndCaseFolding) {
  // Full-width Latin letters and hyphen, sharp s, the "fi" ligature.
  EXPECT_EQ(Analyze(AnalyzerKind::kSimple, "ＡＢＣ ｆｕｌｌ－ｗｉｄｔｈ Straße ﬁle"),
            (Terms{"abc", "full", "width", "strasse", "file"}));
  // A full-width query finds the ASCII text's terms, in every kind.
  for (AnalyzerKind kind : {AnalyzerKind::kAuto, AnalyzerKind::kEnglish, AnalyzerKind::kKorean,
                            AnalyzerKind::kSimple}) {
    EXPECT_EQ(Analyze(kind, "ＧＰＴ－４ Ｍｏｄｅｌｓ"), Analyze(kind, "gpt-4 models"))
        << AnalyzerKindName(kind);
  }
  // Half-width Katakana becomes full-width.
  EXPECT_EQ(Analyze(AnalyzerKind::kSimple, "ｶﾀｶﾅ"), Analyze(AnalyzerKind::kSimple, "カタカナ"));
}

TEST(AnalyzerTest, KoreanMixes) {
  const std::string text = "모델은 데이터에서";
  EXPECT_EQ(Analyze(AnalyzerKind::kKorean, text, KoreanMix::kBigrams),
            (Terms{"모델", "델은", "데이", "이터", "터에", "에서"}));
  EXPECT_EQ(Analyze(AnalyzerKind::kKorean, text, KoreanMix::kWords), (Terms{"모델", "데이터"}));
  // kBoth: the bigrams of the stripped words, then the stripped word; none reaches into the
  // particle (델은, 터에, 에서).
  EXPECT_EQ(Analyze(AnalyzerKind::kKorean, text, KoreanMix::kBoth),
            (Terms{"모델", "모델", "데이", "이터", "데이터"}));
  // A one-syllable word is its own unigram; a one-syllable suffix needs two syllables left.
  EXPECT_EQ(Analyze(AnalyzerKind::kKorean, "수 나이", KoreanMix::kBigrams), (Terms{"수", "나이"}));
  EXPECT_EQ(Analyze(AnalyzerKind::kKorean, "수 나이", KoreanMix::kWords), (Terms{"수", "나이"}));
  // Longest suffix first: "에서는", not "는".
  EXPECT_EQ(Analyze(AnalyzerKind::kKorean, "클라우드에서는 사용합니다 지원되는", KoreanMix::kWords),
            (Terms{"클라우드", "사용", "지원"}));
  // Words that are nothing but a particle are dropped; "english" and "simple" keep Hangul words.
  EXPECT_EQ(Analyze(AnalyzerKind::kKorean, "이 모델", KoreanMix::kWords), (Terms{"모델"}));
  EXPECT_EQ(Analyze(AnalyzerKind::kSimple, "이 모델은"), (Terms{"이", "모델은"}));
  EXPECT_EQ(Analyze(AnalyzerKind::kEnglish, "이 모델은"), (Terms{"이", "모델은"}));
}

// Question words say that a text is a question, not what it is about; they are dropped in
// both languages (expected terms written by hand: Porter2 stems "does" to "doe", "works" to
// "work").
TEST(AnalyzerTest, QuestionWordsAreDropped) {
  EXPECT_EQ(Analyze(AnalyzerKind::kAuto, "How does WAL mode work, and why? Which one, when?"),
            (Terms{"doe", "wal", "mode", "work", "one"}));
  EXPECT_EQ(Analyze(AnalyzerKind::kEnglish, "What/Where/Who/Whom/Whose indexes"), (Terms{"index"}));
  // "simple" keeps every word.
  EXPECT_EQ(Analyze(AnalyzerKind::kSimple, "how does"), (Terms{"how", "does"}));
  // Korean: a word whose stripped form is a question word, with its particle or ending.
  EXPECT_EQ(Analyze(AnalyzerKind::kAuto, "임베딩은 무엇인가요? 어떻게 어디에서 언제 왜 몇 누구를"),
            (Terms{"임베", "베딩", "임베딩"}));
  // The interrogative endings are stripped from other words too (정의되나요 -> 정의); a word
  // that is nothing but one (있나요) is dropped.
  EXPECT_EQ(Analyze(AnalyzerKind::kKorean, "정의되나요 있나요 얼마나", KoreanMix::kWords),
            (Terms{"정의"}));
}

TEST(AnalyzerTest, KoreanSentenceFromTheCorpus) {
  const std::string sentence =
      "대규모 언어 모델(LLM)은 다양한 소스의 방대한 양의 데이터로 학습된 자연어 텍스트를 처리하고 "
      "생성할 수 있는 AI의 한 유형입니다.";
  std::ifstream file(std::string(RAGD_CORPUS_DIR) + "/ai-models-and-deployment.ko.md");
  std::stringstream corpus;
  corpus << file.rdbuf();
  ASSERT_NE(corpus.str().find(sentence), std::string::npos) << "the corpus changed";
  EXPECT_EQ(Analyze(AnalyzerKind::kAuto, sentence, KoreanMix::kWords),
            (Terms{"대규모", "언어", "모델", "llm", "다양", "소스", "방대", "양의", "데이터",
                   "학습", "자연어", "텍스트", "처리", "생성", "수", "있는", "ai", "유형"}));
  const Terms bigrams = Analyze(AnalyzerKind::kAuto, sentence, KoreanMix::kBigrams);
  EXPECT_EQ(Terms(bigrams.begin(), bigrams.begin() + 8),
            (Terms{"대규", "규모", "언어", "모델", "llm", "다양", "양한", "소스"}));
  EXPECT_EQ(Terms(bigrams.end() - 5, bigrams.end()), (Terms{"ai", "유형", "형입", "입니", "니다"}));
}

TEST(AnalyzerTest, MixedKoreanAndEnglish) {
  const std::string text = "Azure OpenAI에서 GPT-4o와 API를 사용합니다";
  // auto: English rules for Latin words (stemmed), Korean rules for Hangul, particles dropped.
  EXPECT_EQ(Analyze(AnalyzerKind::kAuto, text),
            (Terms{"azur", "openai", "gpt", "4o", "api", "사용", "사용"}));
  // korean: Latin words as simple (unstemmed).
  EXPECT_EQ(Analyze(AnalyzerKind::kKorean, text, KoreanMix::kWords),
            (Terms{"azure", "openai", "gpt", "4o", "api", "사용"}));
  // english: Hangul words whole.
  EXPECT_EQ(Analyze(AnalyzerKind::kEnglish, text),
            (Terms{"azur", "openai", "에서", "gpt", "4o", "와", "api", "를", "사용합니다"}));
}

TEST(AnalyzerTest, InvalidUtf8IsReplacedNotFatal) {
  EXPECT_EQ(Analyze(AnalyzerKind::kAuto, "bad \xff\xfe utf8 \xc3 here"),
            (Terms{"bad", "utf8", "here"}));
  // A truncated Hangul syllable splits the word there; a lone surrogate (CESU) likewise.
  EXPECT_EQ(Analyze(AnalyzerKind::kKorean, "모델\xeb\xaa데이터", KoreanMix::kWords),
            (Terms{"모델", "데이터"}));
  EXPECT_EQ(Analyze(AnalyzerKind::kSimple,
                    "ab\xed\xa0\x80"
                    "cd"),
            (Terms{"ab", "cd"}));
  // Random bytes: always OK, never a crash (ASan builds check the reads).
  ASSERT_OK_AND_ASSIGN(auto analyzer, Analyzer::Create({AnalyzerKind::kAuto}));
  std::mt19937 rng(7);
  for (int i = 0; i < 500; ++i) {
    std::string bytes(rng() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    EXPECT_OK(analyzer->Analyze(bytes));
  }
  EXPECT_EQ(Analyze(AnalyzerKind::kAuto, ""), Terms{});
}

TEST(AnalyzerTest, OverlongWordsAreDropped) {
  const std::string blob(kMaxTermBytes + 1, 'x');
  EXPECT_EQ(Analyze(AnalyzerKind::kSimple, "keep " + blob + " this"), (Terms{"keep", "this"}));
  EXPECT_EQ(Analyze(AnalyzerKind::kSimple, std::string(kMaxTermBytes, 'y')).size(), 1u);
}

TEST(AnalyzerTest, CountTerms) {
  const Terms terms = {"b", "a", "b", "c", "b"};
  const std::vector<TermFreq> counted = CountTerms(terms);
  ASSERT_EQ(counted.size(), 3u);
  EXPECT_EQ(counted[0].term, "a");
  EXPECT_EQ(counted[0].freq, 1u);
  EXPECT_EQ(counted[1].term, "b");
  EXPECT_EQ(counted[1].freq, 3u);
  EXPECT_EQ(counted[2].term, "c");
}

TEST(AnalyzerConcurrentTest, ThreadsShareOneAnalyzer) {
  ASSERT_OK_AND_ASSIGN(auto analyzer, Analyzer::Create({AnalyzerKind::kAuto}));
  const std::string text = "Azure OpenAI에서 running models 데이터에서 E1234";
  ASSERT_OK_AND_ASSIGN(const Terms expected, analyzer->Analyze(text));
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto got = analyzer->Analyze(text);
        if (!got.ok() || *got != expected) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace ragd::index::lexical
