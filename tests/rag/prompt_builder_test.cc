// PromptBuilder: exact budget arithmetic (cases where exactly N sources fit and N + 1 do not),
// history trimming, the too-long question, de-duplication and MMR.

#include "rag/prompt_builder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "models/chat_model.h"
#include "models/tokenizer.h"
#include "tests/testing/status_matchers.h"

namespace ragd::rag {
using namespace ragd::models;  // the chat types the prompts are made of
namespace {

const Tokenizer& Cl100k() { return Tokenizer::Get(Encoding::kCl100kBase); }

ModelDeployment Deployment(size_t context_window, size_t max_output = 4096) {
  ModelDeployment d;
  d.name = "test";
  d.provider = ChatProvider::kLocal;
  d.context_window = context_window;
  d.max_output_tokens = std::min(max_output, context_window);
  d.encoding = Encoding::kCl100kBase;
  return d;
}

std::vector<PromptSource> Sources(size_t n) {
  std::vector<PromptSource> out;
  const char* topics[] = {"embeddings turn text into vectors",
                          "임베딩은 텍스트를 벡터로 표현합니다",
                          "gpt-4 has a context window of 8,192 tokens",
                          "retrieval augmented generation grounds answers in documents",
                          "fine-tuning adapts a model with a JSONL training set",
                          "Azure OpenAI deployments are addressed by name"};
  for (size_t i = 0; i < n; ++i) {
    PromptSource s;
    std::string filler;
    for (size_t j = 0; j < 3 + i; ++j) absl::StrAppend(&filler, "w", i, "-", j, " ");
    s.text = absl::StrCat("Source ", i, ": ", topics[i % 6], ". ", filler, "끝.");
    s.title = absl::StrCat("Doc ", i);
    s.heading_path = i % 2 ? "Models > Tokens" : "";
    if (i % 3 == 0) s.page = static_cast<int>(i + 1);
    s.score = 1.0 - 0.1 * static_cast<double>(i);
    out.push_back(std::move(s));
  }
  return out;
}

// The cookbook count of [system(RenderSystem(first k)), history..., user(question)], written
// out by hand.
size_t ExpectedTokens(const PromptBuilder& b, const std::vector<PromptSource>& sources, size_t k,
                      const std::vector<ChatMessage>& history, const std::string& question) {
  std::vector<const PromptSource*> chosen;
  for (size_t i = 0; i < k; ++i) chosen.push_back(&sources[i]);
  const Tokenizer& t = Cl100k();
  size_t n = 3 + t.Count("system") + t.Count(b.RenderSystem(chosen));
  for (const ChatMessage& m : history) n += 3 + t.Count(ChatRoleName(m.role)) + t.Count(m.content);
  n += 3 + t.Count("user") + t.Count(question);
  return n + 3;  // reply priming
}

TEST(PromptBuilderTest, CookbookCountOfASimpleConversation) {
  // 3 + 1 ("system") + 1 ("Hi") per message, + 3 for the priming.
  std::vector<ChatMessage> m = {{ChatRole::kSystem, "Hi"}, {ChatRole::kUser, "Hi"}};
  EXPECT_EQ(CountChatPromptTokens(Cl100k(), m), 3u + 1 + 1 + 3 + 1 + 1 + 3);
}

TEST(PromptBuilderTest, ExactlyNSourcesFitAndNPlusOneDoNot) {
  PromptOptions options;
  options.reserved_output_tokens = 500;
  PromptBuilder builder(options);
  const auto sources = Sources(6);
  const std::string q = "What are embeddings?";
  for (size_t n = 0; n <= 5; ++n) {
    const size_t need = ExpectedTokens(builder, sources, n, {}, q);
    ASSERT_LT(need, ExpectedTokens(builder, sources, n + 1, {}, q));
    // A window where the prompt with n sources fits to the token.
    ASSERT_OK_AND_ASSIGN(PromptResult r, builder.Build(Deployment(need + 500), q, {}, sources));
    EXPECT_EQ(r.used_sources.size(), n) << n;
    EXPECT_EQ(r.prompt_tokens, need);
    EXPECT_EQ(r.prompt_tokens + r.reserved_output_tokens, r.context_window);
    EXPECT_EQ(r.prompt_tokens, CountChatPromptTokens(Cl100k(), r.request.messages));
    for (size_t i = 0; i < n; ++i) EXPECT_EQ(r.used_sources[i], i);
    EXPECT_EQ(r.dropped_sources.size(), 6 - n);
    if (n > 0) {
      // One token less and the lowest-ranked source goes.
      ASSERT_OK_AND_ASSIGN(PromptResult s,
                           builder.Build(Deployment(need + 500 - 1), q, {}, sources));
      EXPECT_EQ(s.used_sources.size(), n - 1) << n;
      EXPECT_LE(s.prompt_tokens + 500, need + 500 - 1);
    }
  }
}

TEST(PromptBuilderTest, SourcesAreRenderedWholeAndNumbered) {
  PromptBuilder builder;
  const auto sources = Sources(4);
  ASSERT_OK_AND_ASSIGN(PromptResult r, builder.Build(Deployment(8192), "질문?", {}, sources));
  ASSERT_EQ(r.used_sources.size(), 4u);
  const std::string& system = r.request.messages.front().content;
  EXPECT_TRUE(system.starts_with(kDefaultSystemRules));
  EXPECT_TRUE(absl::StrContains(system, "[1] Doc 0 (p. 1)\n" + sources[0].text));
  EXPECT_TRUE(absl::StrContains(system, "[2] Doc 1 \u2014 Models > Tokens\n" + sources[1].text));
  EXPECT_TRUE(absl::StrContains(system, "[4] Doc 3 \u2014 Models > Tokens (p. 4)\n"));
  EXPECT_EQ(r.request.messages.back().role, ChatRole::kUser);
  EXPECT_EQ(r.request.messages.back().content, "질문?");
  EXPECT_EQ(r.request.max_output_tokens, 1024u);
  ASSERT_EQ(r.request.grounding_sources.size(), 4u);
  EXPECT_EQ(r.request.grounding_sources[2].number, 3);
  EXPECT_EQ(r.request.grounding_sources[2].text, sources[2].text);
  EXPECT_EQ(r.request.grounding_question, "질문?");
  for (const ChatMessage& m : r.request.messages) EXPECT_TRUE(IsValidUtf8(m.content));
}

TEST(PromptBuilderTest, SourcesGoFirstThenTheOldestHistoryTurns) {
  PromptOptions options;
  options.reserved_output_tokens = 200;
  PromptBuilder builder(options);
  const auto sources = Sources(3);
  const std::string q = "And the context window?";
  std::vector<ChatMessage> history = {
      {ChatRole::kUser, "What is an embedding? " + std::string(40, 'a')},
      {ChatRole::kAssistant, "A vector [1]. " + std::string(40, 'b')},
      {ChatRole::kUser, "Which model makes them? " + std::string(40, 'c')},
      {ChatRole::kAssistant, "text-embedding-ada-002 [2]. " + std::string(40, 'd')},
      {ChatRole::kUser, "How long may inputs be?"},
      {ChatRole::kAssistant, "8,191 tokens [3]."},
  };
  const std::vector<ChatMessage> newest_two(history.begin() + 2, history.end());
  // Room for 1 source and the newest two turns, not for the oldest turn as well.
  const size_t fit = ExpectedTokens(builder, sources, 1, newest_two, q);
  ASSERT_GT(ExpectedTokens(builder, sources, 1, history, q), fit);
  ASSERT_GT(ExpectedTokens(builder, sources, 2, newest_two, q), fit);
  ASSERT_OK_AND_ASSIGN(PromptResult r, builder.Build(Deployment(fit + 200), q, history, sources));
  EXPECT_EQ(r.used_sources, (std::vector<size_t>{0}));
  EXPECT_EQ(r.dropped_sources, (std::vector<size_t>{1, 2}));
  EXPECT_EQ(r.dropped_history_messages, 2u);
  EXPECT_EQ(r.kept_history_messages, 4u);
  EXPECT_EQ(r.prompt_tokens, fit);
  EXPECT_EQ(r.request.messages[1].content, history[2].content);

  // With everything fitting, nothing is dropped.
  ASSERT_OK_AND_ASSIGN(PromptResult all, builder.Build(Deployment(8192), q, history, sources));
  EXPECT_EQ(all.used_sources.size(), 3u);
  EXPECT_EQ(all.dropped_history_messages, 0u);
  EXPECT_EQ(all.request.messages.size(), 8u);

  // max_history_turns keeps only the newest turns.
  PromptOptions one_turn = options;
  one_turn.max_history_turns = 1;
  ASSERT_OK_AND_ASSIGN(PromptResult t,
                       PromptBuilder(one_turn).Build(Deployment(8192), q, history, sources));
  EXPECT_EQ(t.kept_history_messages, 2u);
  EXPECT_EQ(t.dropped_history_messages, 4u);
}

TEST(PromptBuilderTest, AQuestionThatCannotFitIsInvalidArgument) {
  PromptBuilder builder;
  std::string q;
  for (int i = 0; i < 5000; ++i) q += "token ";
  auto r = builder.Build(Deployment(4096), q, {}, Sources(2));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(std::string(r.status().message()), "does not fit"));

  // The boundary: the question alone fits exactly, and one token less does not.
  PromptOptions options;
  options.reserved_output_tokens = 100;
  PromptBuilder b(options);
  const size_t alone = ExpectedTokens(b, {}, 0, {}, "short question");
  ASSERT_OK_AND_ASSIGN(PromptResult ok,
                       b.Build(Deployment(alone + 100), "short question", {}, Sources(3)));
  EXPECT_TRUE(ok.used_sources.empty());
  EXPECT_EQ(ok.dropped_sources.size(), 3u);
  EXPECT_TRUE(absl::StrContains(ok.request.messages[0].content, "(no sources)"));
  EXPECT_EQ(b.Build(Deployment(alone + 99), "short question", {}, Sources(3)).status().code(),
            absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(builder.Build(Deployment(4096), "", {}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(builder.Build(Deployment(4096), "\xc3", {}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(builder.Build(Deployment(1000, 1000), "q", {}, {}).status().code(),
            absl::StatusCode::kInvalidArgument);  // reserved output fills the window
}

TEST(PromptBuilderTest, NearDuplicatesAreDroppedBeforePacking) {
  std::string base =
      "Embeddings are a special representation of data that machine learning models can use "
      "easily. The distance between embeddings in vector space correlates with the semantic "
      "similarity of the original texts, which makes vector search possible.";
  std::vector<PromptSource> sources(3);
  sources[0].text = base;
  sources[1].text = base;
  sources[1].text.replace(sources[1].text.find("easily"), 6, "simply");  // one word changed
  sources[2].text = "Fine-tuning adapts gpt-35-turbo with a JSONL training set.";
  EXPECT_GT(ShingleJaccard(Cl100k(), sources[0].text, sources[1].text, 3), 0.8);
  EXPECT_LT(ShingleJaccard(Cl100k(), sources[0].text, sources[2].text, 3), 0.1);
  EXPECT_DOUBLE_EQ(ShingleJaccard(Cl100k(), base, base, 3), 1.0);

  PromptBuilder builder;
  ASSERT_OK_AND_ASSIGN(PromptResult r, builder.Build(Deployment(8192), "q?", {}, sources));
  EXPECT_EQ(r.used_sources, (std::vector<size_t>{0, 2}));
  EXPECT_EQ(r.duplicate_sources, (std::vector<size_t>{1}));

  PromptOptions keep_all;
  keep_all.dedup = false;
  ASSERT_OK_AND_ASSIGN(PromptResult k,
                       PromptBuilder(keep_all).Build(Deployment(8192), "q?", {}, sources));
  EXPECT_EQ(k.used_sources.size(), 3u);
}

// DeduplicateSources stops comparing a pair once the threshold is out of reach: its verdict
// must still be exactly ShingleJaccard >= threshold, at the boundary too.
TEST(PromptBuilderTest, DeduplicationVerdictIsExactlyTheJaccardThreshold) {
  const std::vector<std::string> words = {"vector", "embedding", "모델", "비용",   "search",
                                          "chunk",  "token",     "답변", "prompt", "index"};
  uint64_t state = 42;
  auto next = [&state]() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<size_t>(state >> 33);
  };
  size_t kept_both = 0, dropped = 0;
  for (int trial = 0; trial < 60; ++trial) {
    std::string a, b;
    const size_t len = 5 + next() % 40, change_every = 1 + next() % 12;
    for (size_t i = 0; i < len; ++i) {
      const std::string& w = words[next() % words.size()];
      absl::StrAppend(&a, w, " ");
      absl::StrAppend(&b, i % change_every == 0 ? words[next() % words.size()] : w, " ");
    }
    if (trial % 7 == 0) b += "and a longer tail of other words to change the sizes";
    std::vector<PromptSource> sources(2);
    sources[0].text = a;
    sources[1].text = b;
    const double j = ShingleJaccard(Cl100k(), a, b, 3);
    for (double t : {0.05, 0.3, 0.5, 0.8, 0.95, 1.0, j, std::nextafter(j, 2.0)}) {
      const size_t kept = DeduplicateSources(Cl100k(), sources, {0, 1}, t, 3).size();
      EXPECT_EQ(kept, j >= t ? 1u : 2u) << "trial " << trial << " t " << t << " j " << j;
      (kept == 1 ? dropped : kept_both) += 1;
    }
  }
  EXPECT_GT(dropped, 60u);  // both verdicts are exercised
  EXPECT_GT(kept_both, 60u);
}

TEST(PromptBuilderTest, MmrPrefersDiversity) {
  std::vector<PromptSource> s(3);
  s[0].text = "Embeddings map text to vectors for semantic search in a vector database.";
  s[0].score = 0.90;
  s[1].text = "Embeddings map text to vectors for semantic search in a vector index.";
  s[1].score = 0.89;
  s[2].text = "Fine-tuning gpt-35-turbo needs a JSONL file of conversations.";
  s[2].score = 0.60;
  // Text similarity (no vectors): 1 shares most shingles with 0.
  EXPECT_GT(ShingleJaccard(Cl100k(), s[0].text, s[1].text, 3), 0.6);
  EXPECT_EQ(MmrOrder(Cl100k(), s, {0, 1, 2}, 0.3, 3), (std::vector<size_t>{0, 2, 1}));
  // lambda = 1 is the retrieval order.
  EXPECT_EQ(MmrOrder(Cl100k(), s, {0, 1, 2}, 1.0, 3), (std::vector<size_t>{0, 1, 2}));
  // Vector similarity: 1 is nearly 0, 2 is orthogonal.
  s[0].vector = {1.0f, 0.0f};
  s[1].vector = {0.99f, 0.1f};
  s[2].vector = {0.0f, 1.0f};
  EXPECT_EQ(MmrOrder(Cl100k(), s, {0, 1, 2}, 0.5, 3), (std::vector<size_t>{0, 2, 1}));

  PromptOptions options;
  options.dedup = false;
  options.mmr = true;
  options.mmr_lambda = 0.5;
  options.max_sources = 2;
  ASSERT_OK_AND_ASSIGN(PromptResult r,
                       PromptBuilder(options).Build(Deployment(8192), "embeddings?", {}, s));
  EXPECT_EQ(r.used_sources, (std::vector<size_t>{0, 2}));
  EXPECT_EQ(r.dropped_sources, (std::vector<size_t>{1}));
}

// The builder counts a prompt from parts (each source tokenized once); the usage users see
// must equal a count of the whole rendered prompt. Sources whose ends and starts meet the
// "\n\n" separators in every way BPE could merge (punctuation, spaces, newlines, "/",
// digits, Korean, an empty text, a leading newline), both encodings, budgets that cut
// anywhere, with history.
TEST(PromptBuilderTest, CountFromPartsEqualsAFullRecount) {
  const std::vector<std::string> texts = {
      "Ends with a period.",
      "ends with a space ",
      "ends with newlines\n\n",
      "ends with spaces and a newline  \n",
      "ends with a slash/",
      "ends with punctuation and a newline?!\n",
      "ends with digits 12345",
      "임베딩은 텍스트를 벡터로 표현합니다.",
      "",
      "\nstarts with a newline",
      " starts with a space and ends with a tab\t",
      "[1] looks like a marker]\n\n[2]",
      "mixed 'quotes' and 's contractions'",
      "\u00e9t\u00e9 \u0301 combining mark at the end\u0301",
  };
  std::vector<PromptSource> sources;
  for (size_t i = 0; i < texts.size(); ++i) {
    PromptSource s;
    s.text = texts[i];
    if (i % 3 != 2) s.title = absl::StrCat("Doc ", i, i % 4 == 0 ? "." : "");
    if (i % 2 == 1) s.heading_path = "A > B ";
    if (i % 5 == 0) s.page = static_cast<int>(i + 7);
    s.score = 1.0 - 0.01 * static_cast<double>(i);
    sources.push_back(std::move(s));
  }
  const std::vector<ChatMessage> history = {
      {ChatRole::kUser, "first question."},
      {ChatRole::kAssistant, "first answer [1].\n"},
      {ChatRole::kUser, "second question  "},
      {ChatRole::kAssistant, "second answer."},
  };
  PromptOptions options;
  options.dedup = false;
  options.reserved_output_tokens = 50;
  options.prompt_template.sources_header = "Sources:\n";
  for (Encoding e : {Encoding::kCl100kBase, Encoding::kO200kBase}) {
    const Tokenizer& t = Tokenizer::Get(e);
    for (const auto& h : {std::vector<ChatMessage>{}, history}) {
      for (size_t window = 150; window < 700; window += 7) {
        ModelDeployment d = Deployment(window, 50);
        d.encoding = e;
        auto r = PromptBuilder(options).Build(d, "What is it?", h, sources);
        if (!r.ok()) {
          EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
          continue;
        }
        EXPECT_EQ(r->prompt_tokens, CountChatPromptTokens(t, r->request.messages))
            << t.name() << " window " << window << " sources " << r->used_sources.size();
        EXPECT_EQ(r->request.prompt_tokens, r->prompt_tokens);
        EXPECT_LE(r->prompt_tokens + 50, window);
      }
    }
  }
}

TEST(PromptBuilderTest, ValidatesOptions) {
  PromptOptions o;
  o.mmr_lambda = 1.5;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  o = PromptOptions{};
  o.dedup_threshold = 0;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_OK(PromptOptions{}.Validate());
}

}  // namespace
}  // namespace ragd::rag
