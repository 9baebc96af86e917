#include "models/tokenizer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/utf8.h"
#include "models/bpe_table.h"
#include "models/embedded_data.h"
#include "models/pretokenizer.h"
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

// The per-thread merge cache (tokenizer.cc) must never change a result. The reference below
// is EncodeOrdinary without the cache: split, then one Rank lookup or a merge per piece.
std::vector<TokenSpan> UncachedSpans(Encoding e, std::string_view text) {
  static const internal::BpeTable* const tables[2] = {
      internal::BpeTable::Parse(internal::Cl100kBaseRanks()).value().release(),
      internal::BpeTable::Parse(internal::O200kBaseRanks()).value().release()};
  const bool o200k = e == Encoding::kO200kBase;
  const internal::BpeTable& table = *tables[o200k ? 1 : 0];
  const internal::SplitPattern pattern =
      o200k ? internal::SplitPattern::kO200k : internal::SplitPattern::kCl100k;
  std::vector<TokenSpan> spans;
  std::vector<internal::BpeTable::PieceToken> tokens;
  for (size_t pos = 0; pos < text.size();) {
    const size_t end = internal::PieceEnd(pattern, text, pos);
    tokens.clear();
    const uint32_t rank = table.Rank(text.data() + pos, end - pos);
    if (rank != internal::BpeTable::kNoRank) {
      tokens.push_back({rank, static_cast<uint32_t>(end - pos)});
    } else {
      table.Encode(text.substr(pos, end - pos), &tokens);
    }
    size_t begin = pos;
    for (const internal::BpeTable::PieceToken& t : tokens) {
      spans.push_back(TokenSpan{t.rank, begin, pos + t.end});
      begin = pos + t.end;
    }
    pos = end;
  }
  return spans;
}

bool SameSpans(const std::vector<TokenSpan>& a, const std::vector<TokenSpan>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].id != b[i].id || a[i].begin != b[i].begin || a[i].end != b[i].end) return false;
  }
  return true;
}

// Runs `body` on a new thread, whose merge caches start empty.
template <typename Body>
void OnFreshThread(Body body) {
  std::thread(body).join();
}

// Many words that BPE must merge (not a single token), each repeated many times with the
// separators that make different pieces of them: the cache's best case.
std::string RepeatedWords() {
  const std::vector<std::string> words = {
      "tokenization", "Zipfian",     "retrieval",  "deduplication", "hyperparameter",
      "모델을",       "배포하고",    "미세",       "조정하는",      "데이터를",
      "Azure에서",    "gpt-4o-mini", "embeddings", "사용자",        "shingles"};
  const std::vector<std::string> separators = {" ", "\n", ", ", "  ", "(", "\"", "\t"};
  std::string text;
  std::mt19937 rng(11);
  for (int i = 0; i < 3000; ++i) {
    text += separators[rng() % separators.size()];
    text += words[rng() % words.size()];
  }
  return text;
}

// More distinct merged pieces than the cache has slots (4,096), pieces longer than it keeps
// (24 bytes) and pieces of more tokens than it keeps (8), and invalid UTF-8.
std::string ManyDistinctPieces() {
  std::mt19937 rng(5);
  std::string text;
  for (int i = 0; i < 40000; ++i) {
    switch (rng() % 6) {
      case 0:
      case 1:  // a pseudo-word of 4..15 letters
        text += ' ';
        for (int n = 4 + rng() % 12; n > 0; --n) text += static_cast<char>('a' + rng() % 26);
        break;
      case 2:  // 1..9 random Hangul syllables: rare ones split into several tokens
        text += ' ';
        for (int n = 1 + rng() % 9; n > 0; --n) {
          const uint32_t cp = 0xAC00 + rng() % 11172;
          text += static_cast<char>(0xE0 | cp >> 12);
          text += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
          text += static_cast<char>(0x80 | (cp & 0x3F));
        }
        break;
      case 3:  // a long base64-like piece
        text += ' ';
        for (int n = 20 + rng() % 60; n > 0; --n) {
          text += "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[rng() % 64];
        }
        break;
      case 4:  // random bytes
        for (int n = 1 + rng() % 12; n > 0; --n) text += static_cast<char>(rng() % 256);
        break;
      case 5:  // digits and punctuation runs
        text += ' ';
        for (int n = 1 + rng() % 10; n > 0; --n) text += "0123456789.,;:!?-_=*#"[rng() % 21];
        break;
    }
  }
  return text;
}

TEST_P(TokenizerTest, CachedEncodeMatchesGoldenIdsColdAndWarm) {
  const std::vector<GoldenCase> cases = LoadGolden(GetParam());
  OnFreshThread([&] {
    for (int round = 0; round < 3; ++round) {  // 0: cold caches; 1, 2: every piece cached
      int failures = 0;
      for (const GoldenCase& c : cases) {
        const std::vector<uint32_t> ids =
            tok().Encode(c.text, EncodeOptions{.allow_special_tokens = c.allow_special});
        if (ids != c.ids && ++failures <= 5) ADD_FAILURE() << "round " << round << " " << c.name;
      }
      EXPECT_EQ(failures, 0) << "round " << round;
    }
  });
}

TEST_P(TokenizerTest, CachedSpansMatchUncachedReference) {
  std::vector<std::string> texts = {RepeatedWords(), ManyDistinctPieces()};
  for (const char* name : {"ai-models-and-deployment.ko.md", "ai-workloads-on-azure.ko.md",
                           "compare-models-in-catalog.ko.md", "explore-and-compare-llms.ko.md",
                           "fine-tune-chat-model.ko.md", "sample.cc.txt", "sample.py.txt"}) {
    texts.push_back(CorpusFile(name));
  }
  std::vector<std::vector<TokenSpan>> want;
  for (const std::string& t : texts) want.push_back(UncachedSpans(GetParam(), t));
  OnFreshThread([&] {
    // Twice: the second pass is served from the cache wherever the first one filled it, after
    // ManyDistinctPieces has overwritten most slots.
    for (int round = 0; round < 2; ++round) {
      for (size_t i = 0; i < texts.size(); ++i) {
        SCOPED_TRACE(::testing::Message() << "round " << round << " text " << i);
        EXPECT_TRUE(SameSpans(tok().EncodeWithOffsets(texts[i]), want[i]));
        EXPECT_EQ(tok().Count(texts[i]), want[i].size());
        EXPECT_EQ(tok().Decode(tok().Encode(texts[i])), texts[i]);
      }
    }
  });
}

TEST_P(TokenizerTest, RepeatedWordsEncodeAlikeAtEveryOccurrence) {
  const std::string text = RepeatedWords();
  const std::vector<TokenSpan> want = UncachedSpans(GetParam(), text);
  OnFreshThread([&] { EXPECT_TRUE(SameSpans(tok().EncodeWithOffsets(text), want)); });
  EXPECT_TRUE(SameSpans(tok().EncodeWithOffsets(text), want));
  // Cut points land after cached pieces too.
  for (size_t max_tokens : {1u, 7u, 100u, 1001u}) {
    const size_t cut = tok().PrefixBytesForTokens(text, max_tokens);
    EXPECT_LE(tok().Count(std::string_view(text).substr(0, cut)), max_tokens);
    EXPECT_EQ(cut, want[max_tokens - 1].end);
  }
}

TEST(TokenizerThreadsTest, CachesAreSeparatePerEncoding) {
  // The same pieces merge differently in the two encodings: a cache shared between them would
  // answer one encoding's pieces with the other's tokens.
  const std::string text = RepeatedWords() + CorpusFile("fine-tune-chat-model.ko.md");
  const std::vector<TokenSpan> want_cl = UncachedSpans(Encoding::kCl100kBase, text);
  const std::vector<TokenSpan> want_o = UncachedSpans(Encoding::kO200kBase, text);
  OnFreshThread([&] {
    for (int i = 0; i < 3; ++i) {
      EXPECT_TRUE(
          SameSpans(Tokenizer::Get(Encoding::kCl100kBase).EncodeWithOffsets(text), want_cl));
      EXPECT_TRUE(SameSpans(Tokenizer::Get(Encoding::kO200kBase).EncodeWithOffsets(text), want_o));
    }
  });
}

TEST(TokenizerThreadsTest, ConcurrentCachedEncodesAgree) {
  const std::vector<std::string> texts = {RepeatedWords(), ManyDistinctPieces(),
                                          CorpusFile("ai-workloads-on-azure.ko.md")};
  std::vector<std::vector<TokenSpan>> want[2];
  for (const std::string& t : texts) {
    want[0].push_back(UncachedSpans(Encoding::kCl100kBase, t));
    want[1].push_back(UncachedSpans(Encoding::kO200kBase, t));
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      // Each thread walks the texts and encodings in its own order, so caches fill differently.
      for (int i = 0; i < 12; ++i) {
        const size_t k = (t + i) % texts.size();
        const int e = (t + i / 3) % 2;
        const Tokenizer& tok =
            Tokenizer::Get(e == 0 ? Encoding::kCl100kBase : Encoding::kO200kBase);
        mismatches += !SameSpans(tok.EncodeWithOffsets(texts[k]), want[e][k]);
        mismatches += tok.Count(texts[k]) != want[e][k].size();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
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
