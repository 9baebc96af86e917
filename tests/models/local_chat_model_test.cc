// The local extractive model on the Korean corpus (tests/models/data/corpus): the embeddings
// question answered with sentences about embeddings and a citation marker, the "not in the
// sources" answer, streaming in small deltas, usage counted with the tokenizer, determinism.

#include "models/local_chat_model.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "common/utf8.h"
#include "rag/prompt_builder.h"
#include "tests/testing/status_matchers.h"

namespace ragd::models {
namespace {

// The prompts the local model reads are packed by rag/prompt_builder, as in ragd.
using rag::PromptBuilder;
using rag::PromptOptions;
using rag::PromptResult;
using rag::PromptSource;

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The corpus split at "## " headings: one source per section, titled by file.
std::vector<PromptSource> CorpusSources() {
  std::vector<PromptSource> out;
  const std::filesystem::path dir = std::filesystem::path(RAGD_TEST_DATA_DIR) / "corpus";
  for (const char* name : {"ai-models-and-deployment.ko.md", "ai-workloads-on-azure.ko.md"}) {
    std::string text = ReadFile(dir / name);
    EXPECT_FALSE(text.empty()) << name;
    std::string section;
    std::string heading;
    auto flush = [&] {
      if (section.find_first_not_of(" \n") != std::string::npos) {
        PromptSource s;
        s.title = name;
        s.heading_path = heading;
        s.text = section;
        out.push_back(std::move(s));
      }
      section.clear();
    };
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with("## ")) {
        flush();
        heading = std::string(line.substr(3));
      }
      section.append(line);
      section.push_back('\n');
    }
    flush();
  }
  return out;
}

struct Answered {
  std::string text;
  std::vector<std::string> deltas;
  ChatResult result;
  PromptResult prompt;
};

Answered Ask(const std::string& question) {
  PromptBuilder builder;
  ModelDeployment local = LocalModelDeployment();
  Answered a;
  auto prompt = builder.Build(local, question, {}, CorpusSources());
  EXPECT_OK(prompt);
  a.prompt = *prompt;
  LocalChatModel model(local);
  EXPECT_OK(model.Stream(
      a.prompt.request,
      [&](const ChatDelta& d) {
        a.deltas.push_back(d.text);
        a.text += d.text;
        return true;
      },
      &a.result, nullptr));
  return a;
}

TEST(LocalChatModelTest, AnswersTheEmbeddingsQuestionFromTheCorpusWithCitations) {
  const std::vector<PromptSource> sources = CorpusSources();
  ASSERT_GT(sources.size(), 5u);
  Answered a = Ask("임베딩이란 무엇인가요?");
  SCOPED_TRACE(a.text);
  RecordProperty("answer", a.text);
  EXPECT_TRUE(absl::StrContains(a.text, "임베딩은")) << a.text;
  EXPECT_NE(a.text, kNotInSourcesKo);
  // Every cited number points at a source from the AI models document whose text has the
  // sentence before it.
  std::regex cite(R"(([^\[\]]+?) \[(\d+)\])");
  int citations = 0;
  for (std::sregex_iterator it(a.text.begin(), a.text.end(), cite), end; it != end; ++it) {
    const int n = std::stoi((*it)[2]);
    ASSERT_GE(n, 1);
    ASSERT_LE(static_cast<size_t>(n), a.prompt.used_sources.size());
    const PromptSource& s = sources[a.prompt.used_sources[n - 1]];
    EXPECT_EQ(s.title, "ai-models-and-deployment.ko.md");
    std::string sentence = (*it)[1];
    sentence.erase(0, sentence.find_first_not_of(' '));
    EXPECT_TRUE(absl::StrContains(s.text, sentence) ||
                absl::StrContains(absl::StrReplaceAll(s.text, {{"**", ""}}), sentence))
        << sentence;
    ++citations;
  }
  EXPECT_GE(citations, 1);
  // Streamed like a model: several small deltas, never splitting a UTF-8 sequence.
  EXPECT_GT(a.deltas.size(), 5u);
  for (const std::string& d : a.deltas) {
    EXPECT_LE(d.size(), 16u);
    EXPECT_TRUE(IsValidUtf8(d)) << d;
  }
  EXPECT_EQ(a.result.finish_reason, "stop");
  EXPECT_TRUE(a.result.usage.counted_locally);
  const Tokenizer& t = Tokenizer::Get(Encoding::kCl100kBase);
  EXPECT_EQ(a.result.usage.completion_tokens, t.Count(a.text));
  EXPECT_EQ(a.result.usage.prompt_tokens, a.prompt.prompt_tokens);
  EXPECT_EQ(a.result.usage.total_tokens,
            a.result.usage.prompt_tokens + a.result.usage.completion_tokens);
  EXPECT_DOUBLE_EQ(EstimateCostUsd(LocalModelDeployment(), a.result.usage), 0.0);
  // Deterministic.
  EXPECT_EQ(Ask("임베딩이란 무엇인가요?").text, a.text);
}

TEST(LocalChatModelTest, SaysTheSourcesDoNotContainTheAnswer) {
  EXPECT_EQ(Ask("오늘 서울의 날씨는 어떤가요?").text, kNotInSourcesKo);
  EXPECT_EQ(Ask("Who won the football world cup in 1998?").text, kNotInSourcesEn);
  // No sources at all.
  LocalChatModel model(LocalModelDeployment());
  ChatRequest r;
  r.messages = {{ChatRole::kUser, "임베딩이란 무엇인가요?"}};
  ASSERT_OK_AND_ASSIGN(ChatCompletion c, model.Complete(r, nullptr));
  EXPECT_EQ(c.text, kNotInSourcesKo);
}

TEST(LocalChatModelTest, StopsWhenTheCallerStopsAndCutsAtMaxOutputTokens) {
  PromptBuilder builder;
  auto prompt =
      builder.Build(LocalModelDeployment(), "임베딩이란 무엇인가요?", {}, CorpusSources());
  ASSERT_OK(prompt);
  LocalChatModel model(LocalModelDeployment());
  int seen = 0;
  ChatResult result;
  absl::Status s = model.Stream(
      prompt->request, [&](const ChatDelta&) { return ++seen < 2; }, &result, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(seen, 2);

  std::atomic<bool> cancelled{true};
  EXPECT_EQ(model
                .Stream(
                    prompt->request, [](const ChatDelta&) { return true; }, &result, &cancelled)
                .code(),
            absl::StatusCode::kCancelled);

  ChatRequest short_request = prompt->request;
  short_request.max_output_tokens = 5;
  ASSERT_OK_AND_ASSIGN(ChatCompletion c, model.Complete(short_request, nullptr));
  EXPECT_EQ(c.result.finish_reason, "length");
  EXPECT_LE(c.result.usage.completion_tokens, 5u);
  EXPECT_TRUE(IsValidUtf8(c.text));
}

}  // namespace
}  // namespace ragd::models
