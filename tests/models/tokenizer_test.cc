#include "models/tokenizer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/utf8.h"
#include "tests/testing/status_matchers.h"

namespace ragd::models {
namespace {

struct GoldenCase {
  std::string name;
  std::string text;
  std::vector<uint32_t> ids;
  bool allow_special = false;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// tests/models/data/golden_*.jsonl, written by scripts/tokenizer/make-golden.mjs; or the files
// in $RAGD_TOKENIZER_GOLDEN_DIR (make-golden.mjs --fuzz) for a one-off larger comparison.
std::vector<GoldenCase> LoadGolden(Encoding e) {
  const char* dir = std::getenv("RAGD_TOKENIZER_GOLDEN_DIR");
  const std::string path =
      std::string(dir != nullptr ? dir : RAGD_TEST_DATA_DIR) +
      (e == Encoding::kCl100kBase ? "/golden_cl100k.jsonl" : "/golden_o200k.jsonl");
  std::ifstream in(path);
  std::vector<GoldenCase> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line);
    GoldenCase c;
    c.name = j.at("name").get<std::string>();
    c.text = j.at("text").get<std::string>();
    c.ids = j.at("ids").get<std::vector<uint32_t>>();
    c.allow_special = j.value("allow_special", false);
    cases.push_back(std::move(c));
  }
  return cases;
}

std::string CorpusFile(const std::string& name) {
  return ReadFile(std::string(RAGD_TEST_DATA_DIR) + "/corpus/" + name);
}

class TokenizerTest : public ::testing::TestWithParam<Encoding> {
 protected:
  const Tokenizer& tok() const { return Tokenizer::Get(GetParam()); }
};

TEST_P(TokenizerTest, MatchesJsTiktokenGoldenIds) {
  const std::vector<GoldenCase> cases = LoadGolden(GetParam());
  ASSERT_GT(cases.size(), 1000u);
  int failures = 0;
  for (const GoldenCase& c : cases) {
    const std::vector<uint32_t> ids =
        tok().Encode(c.text, EncodeOptions{.allow_special_tokens = c.allow_special});
    if (ids != c.ids && ++failures <= 10) {
      ADD_FAILURE() << tok().name() << " case " << c.name << " (" << c.text.size()
                    << " bytes): got " << ids.size() << " ids, want " << c.ids.size()
                    << "\ntext: " << c.text.substr(0, 200);
    }
  }
  EXPECT_EQ(failures, 0) << "of " << cases.size() << " cases";
}

TEST_P(TokenizerTest, CountDecodeAndOffsetsAgreeWithEncode) {
  for (const GoldenCase& c : LoadGolden(GetParam())) {
    if (c.allow_special) continue;
    SCOPED_TRACE(c.name);
    EXPECT_EQ(tok().Count(c.text), c.ids.size());
    EXPECT_EQ(tok().Decode(c.ids), c.text);
    const std::vector<TokenSpan> spans = tok().EncodeWithOffsets(c.text);
    ASSERT_EQ(spans.size(), c.ids.size());
    size_t pos = 0;
    for (size_t i = 0; i < spans.size(); ++i) {
      ASSERT_EQ(spans[i].id, c.ids[i]);
      ASSERT_EQ(spans[i].begin, pos);
      ASSERT_EQ(tok().TokenBytes(spans[i].id),
                std::string_view(c.text).substr(spans[i].begin, spans[i].end - spans[i].begin));
      pos = spans[i].end;
    }
    EXPECT_EQ(pos, c.text.size());
  }
}

TEST_P(TokenizerTest, SpecialTokensAreOrdinaryTextUnlessAllowed) {
  const std::string text = "a<|endoftext|>b";
  const std::vector<uint32_t> ordinary = tok().Encode(text);
  const std::vector<uint32_t> special =
      tok().Encode(text, EncodeOptions{.allow_special_tokens = true});
  const uint32_t eot = GetParam() == Encoding::kCl100kBase ? 100257 : 199999;
  EXPECT_EQ(special.size(), 3u);
  EXPECT_EQ(special[1], eot);
  EXPECT_GT(ordinary.size(), 3u);
  for (uint32_t id : ordinary) EXPECT_NE(id, eot);
  EXPECT_EQ(tok().Decode(special), text);
  EXPECT_EQ(tok().Decode(ordinary), text);
}

TEST_P(TokenizerTest, DecodeSkipsUnknownIds) {
  const std::vector<uint32_t> ids = {tok().Encode("hi")[0], 4000000000u, tok().vocab_size()};
  EXPECT_EQ(tok().Decode(ids), "hi");
  EXPECT_TRUE(tok().TokenBytes(4000000000u).empty());
}

TEST_P(TokenizerTest, InvalidUtf8RoundTripsWithoutCrashing) {
  const std::string inputs[] = {
      std::string("\xff\xfe\x80 abc \xc3", 9),
      std::string("caf\xc3\xa9\xed\xa0\x80 \xf4\x90\x80\x80 x\xe2\x82", 17),
      std::string("\x80\x80\x80\x80\x80\x80\x80\x80 \xc0\xaf", 11),
      std::string(1000, '\xe2'),
  };
  for (const std::string& s : inputs) {
    const std::vector<uint32_t> ids = tok().Encode(s);
    EXPECT_EQ(tok().Decode(ids), s);
    EXPECT_EQ(tok().Count(s), ids.size());
    EXPECT_LE(tok().PrefixBytesForTokens(s, 3), s.size());
  }
}

TEST_P(TokenizerTest, PrefixBytesForTokensKeepsUtf8AndTokenCount) {
  for (const std::string name :
       {"ai-models-and-deployment.ko.md", "compare-models-in-catalog.ko.md", "sample.cc.txt"}) {
    SCOPED_TRACE(name);
    const std::string text = CorpusFile(name);
    ASSERT_FALSE(text.empty());
    const std::vector<TokenSpan> spans = tok().EncodeWithOffsets(text);
    int exact = 0;
    int total = 0;
    for (size_t max_tokens = 0; max_tokens <= spans.size() + 2; max_tokens += 7) {
      const size_t end = tok().PrefixBytesForTokens(text, max_tokens);
      const std::string_view prefix = std::string_view(text).substr(0, end);
      ASSERT_TRUE(IsValidUtf8(prefix)) << max_tokens;
      const size_t count = tok().Count(prefix);
      ASSERT_LE(count, max_tokens);
      if (max_tokens >= spans.size()) {
        ASSERT_EQ(end, text.size());
      } else {
        // The prefix never reaches past the end of the max_tokens-th token.
        ASSERT_LE(end, spans[max_tokens - (max_tokens > 0)].end);
      }
      exact += count == std::min(max_tokens, spans.size());
      ++total;
    }
    // Back-offs (a token ending inside a Hangul syllable) are the exception.
    EXPECT_GT(exact, total * 8 / 10) << exact << " of " << total;
  }
}

TEST_P(TokenizerTest, PrefixBytesForTokensIsExactOnEnglish) {
  const std::string text =
      "Retrieval-augmented generation grounds answers in your documents. It's simple: embed, "
      "retrieve, then answer with citations; the rest is plumbing.";
  const size_t total = tok().Count(text);
  for (size_t n = 0; n <= total; ++n) {
    const size_t end = tok().PrefixBytesForTokens(text, n);
    EXPECT_EQ(tok().Count(std::string_view(text).substr(0, end)), n);
  }
  EXPECT_EQ(tok().PrefixBytesForTokens(text, total + 10), text.size());
}

TEST_P(TokenizerTest, HandlesLargeInputs) {
  std::string text;
  for (int i = 0; i < 200; ++i) text += CorpusFile("ai-workloads-on-azure.ko.md");
  const std::vector<uint32_t> ids = tok().Encode(text);
  EXPECT_EQ(tok().Decode(ids), text);
  EXPECT_EQ(tok().Count(text), ids.size());
}

INSTANTIATE_TEST_SUITE_P(Encodings, TokenizerTest,
                         ::testing::Values(Encoding::kCl100kBase, Encoding::kO200kBase),
                         [](const ::testing::TestParamInfo<Encoding>& info) {
                           return std::string(Tokenizer::Get(info.param).name());
                         });

TEST(TokenizerNamesTest, EncodingByName) {
  ASSERT_OK_AND_ASSIGN(Encoding cl, Tokenizer::EncodingByName("cl100k_base"));
  EXPECT_EQ(cl, Encoding::kCl100kBase);
  ASSERT_OK_AND_ASSIGN(Encoding o, Tokenizer::EncodingByName("o200k_base"));
  EXPECT_EQ(o, Encoding::kO200kBase);
  EXPECT_EQ(Tokenizer::EncodingByName("p50k_base").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Tokenizer::Get(Encoding::kCl100kBase).name(), "cl100k_base");
  EXPECT_EQ(Tokenizer::Get(Encoding::kO200kBase).vocab_size(), 200019u);
  EXPECT_EQ(Tokenizer::Get(Encoding::kCl100kBase).vocab_size(), 100277u);
}

TEST(TokenizerNamesTest, EncodingForModel) {
  for (const char* model :
       {"text-embedding-ada-002", "text-embedding-3-small", "gpt-35-turbo", "gpt-35-turbo-16k",
        "gpt-3.5-turbo", "gpt-3.5-turbo-0125", "gpt-4", "gpt-4-32k", "gpt-4-turbo", "gpt-4-0613"}) {
    ASSERT_OK_AND_ASSIGN(Encoding e, Tokenizer::EncodingForModel(model));
    EXPECT_EQ(e, Encoding::kCl100kBase) << model;
  }
  for (const char* model : {"gpt-4o", "gpt-4o-mini", "gpt-4o-2024-08-06", "gpt-4.1", "gpt-4.1-nano",
                            "o1", "o3-mini", "o4-mini", "gpt-5", "chatgpt-4o-latest"}) {
    ASSERT_OK_AND_ASSIGN(Encoding e, Tokenizer::EncodingForModel(model));
    EXPECT_EQ(e, Encoding::kO200kBase) << model;
  }
  for (const char* model : {"", "davinci", "gpt-4x", "o100", "text-embedding-ada-003", "gpt"}) {
    EXPECT_EQ(Tokenizer::EncodingForModel(model).status().code(), absl::StatusCode::kNotFound)
        << model;
  }
}

TEST(TokenizerThreadsTest, ConcurrentEncodeIsConsistent) {
  const std::string text = CorpusFile("fine-tune-chat-model.ko.md");
  const Tokenizer& tok = Tokenizer::Get(Encoding::kO200kBase);
  const std::vector<uint32_t> want = tok.Encode(text);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) mismatches += tok.Encode(text) != want;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace ragd::models
