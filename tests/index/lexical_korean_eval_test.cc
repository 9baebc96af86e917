// Which Korean mix wins: BM25 over the passages of the in-repo Korean corpus
// (tests/services/data/corpus, split at Markdown headings) with the questions of
// data/korean_questions.tsv, for KoreanMix::kBigrams, kWords and kBoth (analyzer auto) and the
// simple analyzer as a baseline. Prints hit@1, hit@5 and MRR@10 per mix; index/lexical/README.md
// quotes the table, and the test fails if the mix that README names stops winning.

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "index/lexical/analyzer.h"
#include "index/lexical/bm25_index.h"
#include "tests/testing/status_matchers.h"

namespace ragd::index::lexical {
namespace {

struct Passage {
  std::string file;
  std::string heading;
  std::string text;
};

struct Question {
  std::string file;
  std::string heading;
  std::string text;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A new passage at every Markdown heading outside code fences.
std::vector<Passage> SplitAtHeadings(const std::string& file, const std::string& text) {
  std::vector<Passage> out = {{file, "", ""}};
  bool fenced = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, "```")) fenced = !fenced;
    if (!fenced && absl::StartsWith(line, "#")) {
      absl::string_view heading = line;
      while (absl::ConsumePrefix(&heading, "#")) {
      }
      out.push_back({file, std::string(absl::StripAsciiWhitespace(heading)), ""});
    }
    absl::StrAppend(&out.back().text, line, "\n");
  }
  return out;
}

struct Row {
  const char* name;
  AnalyzerOptions options;
  double hit1 = 0, hit5 = 0, mrr10 = 0;
};

TEST(KoreanMixEval, MeasureMixes) {
  const std::string dir = RAGD_CORPUS_DIR;
  const std::vector<std::string> files = {
      "ai-models-and-deployment.ko.md", "ai-workloads-on-azure.ko.md",
      "compare-models-in-catalog.ko.md", "explore-and-compare-llms.ko.md",
      "fine-tune-chat-model.ko.md"};
  std::vector<Passage> passages;
  for (const std::string& f : files) {
    const std::string text = ReadFile(dir + "/" + f);
    ASSERT_FALSE(text.empty()) << f;
    for (Passage& p : SplitAtHeadings(f, text)) passages.push_back(std::move(p));
  }
  std::vector<Question> questions;
  for (absl::string_view line :
       absl::StrSplit(ReadFile(RAGD_LEXICAL_DATA_DIR "/korean_questions.tsv"), '\n')) {
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    std::vector<std::string> cols = absl::StrSplit(line, '\t');
    ASSERT_EQ(cols.size(), 3u) << line;
    // The expected passage exists exactly once.
    int found = 0;
    for (const Passage& p : passages) found += p.file == cols[0] && p.heading == cols[1];
    ASSERT_EQ(found, 1) << cols[0] << " / " << cols[1];
    questions.push_back({cols[0], cols[1], cols[2]});
  }
  ASSERT_GE(questions.size(), 20u);

  std::vector<Row> rows = {
      {"auto, bigrams", {AnalyzerKind::kAuto, KoreanMix::kBigrams}},
      {"auto, words", {AnalyzerKind::kAuto, KoreanMix::kWords}},
      {"auto, both", {AnalyzerKind::kAuto, KoreanMix::kBoth}},
      {"simple (baseline)", {AnalyzerKind::kSimple, KoreanMix::kBoth}},
  };
  for (Row& row : rows) {
    ASSERT_OK_AND_ASSIGN(auto analyzer, Analyzer::Create(row.options));
    Bm25Index index;
    for (size_t i = 0; i < passages.size(); ++i) {
      ASSERT_OK_AND_ASSIGN(auto terms, analyzer->Analyze(passages[i].text));
      ASSERT_OK(index.Add(i, CountTerms(terms)));
    }
    for (const Question& q : questions) {
      ASSERT_OK_AND_ASSIGN(auto terms, analyzer->Analyze(q.text));
      ASSERT_OK_AND_ASSIGN(auto hits, index.Search(terms, {.top_k = 10}));
      for (size_t rank = 0; rank < hits.size(); ++rank) {
        const Passage& p = passages[hits[rank].label];
        if (p.file != q.file || p.heading != q.heading) continue;
        row.hit1 += rank == 0;
        row.hit5 += rank < 5;
        row.mrr10 += 1.0 / (rank + 1);
        break;
      }
    }
    const double n = questions.size();
    row.hit1 /= n;
    row.hit5 /= n;
    row.mrr10 /= n;
  }
  std::printf(
      "%zu passages, %zu questions\n| mix | hit@1 | hit@5 | MRR@10 |\n| --- | --- | --- | --- |\n",
      passages.size(), questions.size());
  for (const Row& row : rows) {
    std::printf("| %s | %.2f | %.2f | %.3f |\n", row.name, row.hit1, row.hit5, row.mrr10);
  }
  // README's claim: the default mix (kBoth) is at least as good as the others on every metric.
  const Row& both = rows[2];
  ASSERT_EQ(both.options.korean_mix, AnalyzerOptions{}.korean_mix);
  for (const Row& row : rows) {
    EXPECT_GE(both.hit1, row.hit1) << row.name;
    EXPECT_GE(both.hit5, row.hit5) << row.name;
    EXPECT_GE(both.mrr10, row.mrr10) << row.name;
  }
}

}  // namespace
}  // namespace ragd::index::lexical
