// Chunk boundaries and limits: heading > paragraph > sentence > word/token preference, Korean
// and CJK sentence ends, UTF-8 safety, exact token counts under the budget, overlap, and
// offsets that map back to the document text.

#include "ingest/chunker.h"

#include <gtest/gtest.h>

#include <string>

#include "common/utf8.h"
#include "ingest/loaders/document_loader.h"
#include "models/tokenizer.h"
#include "tests/testing/status_matchers.h"

namespace ragd::ingest {
namespace {

const std::filesystem::path kData = RAGD_TEST_DATA_DIR;

const models::Tokenizer& Cl100k() { return models::Tokenizer::Get(models::Encoding::kCl100kBase); }

Document FromMarkdown(const std::string& text) {
  auto docs = MakeLoader(Format::kMarkdown)->Load(text, SourceInfo{"doc", "doc.md"});
  EXPECT_OK(docs.at(0));
  return *docs.at(0);
}

Document FromText(const std::string& text) {
  Document d;
  d.id = "doc";
  d.text = text;
  return d;
}

// A sentence of about `words` tokens.
std::string Sentence(int words, const std::string& word = "alpha") {
  std::string s;
  for (int i = 0; i < words; ++i) s += (i == 0 ? "" : " ") + word;
  return s + ".";
}

// The invariants every chunking must satisfy.
void CheckInvariants(const Document& doc, const std::vector<Chunk>& chunks,
                     const ChunkingOptions& o) {
  size_t prev_begin = 0, prev_end = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const Chunk& c = chunks[i];
    SCOPED_TRACE("chunk " + std::to_string(i));
    EXPECT_EQ(c.ordinal, i);
    EXPECT_EQ(c.document_id, doc.id);
    ASSERT_LT(c.begin, c.end);
    ASSERT_LE(c.end, doc.text.size());
    EXPECT_EQ(c.text, doc.text.substr(c.begin, c.end - c.begin));
    EXPECT_TRUE(IsValidUtf8(c.text));
    EXPECT_EQ(c.token_count, Cl100k().Count(c.text));
    EXPECT_LE(c.token_count, o.max_tokens);
    EXPECT_LE(c.token_count, kMaxEmbeddingTokens);
    if (i > 0) {
      EXPECT_GT(c.begin, prev_begin) << "chunks advance";
      EXPECT_GT(c.end, prev_end) << "chunks advance";
    }
    prev_begin = c.begin;
    prev_end = c.end;
  }
  // Together the chunks cover every non-whitespace byte.
  std::vector<bool> covered(doc.text.size(), false);
  for (const Chunk& c : chunks) {
    for (size_t k = c.begin; k < c.end; ++k) covered[k] = true;
  }
  for (size_t k = 0; k < doc.text.size(); ++k) {
    const char ch = doc.text[k];
    if (ch != ' ' && ch != '\n' && ch != '\t' && ch != '\r') {
      ASSERT_TRUE(covered[k]) << "byte " << k << " not in any chunk";
    }
  }
}

TEST(ChunkingOptionsTest, Validate) {
  ChunkingOptions o;
  EXPECT_OK(o.Validate());
  o.max_tokens = 8192;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(o.Validate().message()).find("8191"), std::string::npos);
  o.max_tokens = 8191;
  EXPECT_OK(o.Validate());
  o.max_tokens = 100;
  o.overlap_tokens = 50;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  o.overlap_tokens = 10;
  o.min_fill = 1.5;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(ChunkingOptions{}.Fingerprint(), o.Fingerprint());
}

TEST(ChunkerTest, EmptyAndShortDocuments) {
  ChunkingOptions o;
  ASSERT_OK_AND_ASSIGN(auto none, ChunkDocument(FromText(" \n\n\t "), o));
  EXPECT_TRUE(none.empty());
  ASSERT_OK_AND_ASSIGN(auto one, ChunkDocument(FromText("\n  Hello world.  \n"), o));
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].text, "Hello world.");
  EXPECT_EQ(one[0].begin, 3u);
  EXPECT_EQ(one[0].cut, CutKind::kEnd);
  Document bad = FromText("abc\xFF");
  EXPECT_EQ(ChunkDocument(bad, o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ChunkerTest, HeadingBeatsParagraph) {
  // Section A: two paragraphs of ~25 tokens; section B: ~60 tokens. A 100-token window from the
  // start holds all of A, the paragraph break inside A and part of B: the cut is at B's heading.
  const std::string md = "# A\n\n" + Sentence(24) + "\n\n" + Sentence(24) + "\n\n## B\n\n" +
                         Sentence(30, "beta") + " " + Sentence(30, "beta") + "\n";
  Document d = FromMarkdown(md);
  ChunkingOptions o;
  o.max_tokens = 100;
  o.overlap_tokens = 10;
  ASSERT_OK_AND_ASSIGN(auto chunks, ChunkDocument(d, o));
  CheckInvariants(d, chunks, o);
  ASSERT_GE(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].cut, CutKind::kHeading);
  EXPECT_EQ(chunks[0].heading_path, std::vector<std::string>{"A"});
  EXPECT_EQ(chunks[1].text.rfind("## B", 0), 0u) << "no overlap across a heading";
  EXPECT_EQ(chunks[1].heading_path, (std::vector<std::string>{"A", "B"}));
}

TEST(ChunkerTest, ParagraphBeatsSentence) {
  // Paragraph 1 ~45 tokens; paragraph 2 is many short sentences. The window of 100 tokens
  // holds sentence ends in paragraph 2, but the paragraph break wins.
  std::string p2;
  for (int i = 0; i < 20; ++i) p2 += Sentence(5, "gamma") + " ";
  const std::string text = Sentence(20) + " " + Sentence(20) + "\n\n" + p2;
  Document d = FromText(text);
  ChunkingOptions o;
  o.max_tokens = 100;
  o.overlap_tokens = 0;
  ASSERT_OK_AND_ASSIGN(auto chunks, ChunkDocument(d, o));
  CheckInvariants(d, chunks, o);
  ASSERT_GE(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].cut, CutKind::kParagraph);
  EXPECT_EQ(chunks[0].end, text.find("\n\n"));
  EXPECT_EQ(chunks[1].text.rfind("gamma", 0), 0u);
  // Within paragraph 2 the cuts fall after sentences.
  for (size_t i = 1; i + 1 < chunks.size(); ++i) {
    EXPECT_EQ(chunks[i].cut, CutKind::kSentence);
    EXPECT_EQ(chunks[i].text.back(), '.');
  }
}

TEST(ChunkerTest, SentenceBeatsWordAndTinyParagraphsAreMerged) {
  // A tiny first paragraph (below min_fill) must not become its own chunk.
  std::string text = "Intro.\n\n";
  for (int i = 0; i < 40; ++i) text += Sentence(7, "delta") + " ";
  Document d = FromText(text);
  ChunkingOptions o;
  o.max_tokens = 64;
  o.overlap_tokens = 0;
  ASSERT_OK_AND_ASSIGN(auto chunks, ChunkDocument(d, o));
  CheckInvariants(d, chunks, o);
  EXPECT_EQ(chunks[0].text.rfind("Intro.\n\ndelta", 0), 0u);
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    EXPECT_EQ(chunks[i].cut, CutKind::kSentence) << i;
    EXPECT_GE(chunks[i].token_count, 48u) << "furthest sentence end in the window";
  }
}

TEST(ChunkerTest, WordThenTokenFallback) {
  // No sentence ends: words; then no spaces at all: tokens, never inside a character.
  std::string words;
  for (int i = 0; i < 300; ++i) words += "word" + std::to_string(i) + " ";
  Document w = FromText(words);
  ChunkingOptions o;
  o.max_tokens = 50;
  o.overlap_tokens = 0;
  ASSERT_OK_AND_ASSIGN(auto wc, ChunkDocument(w, o));
  CheckInvariants(w, wc, o);
  for (size_t i = 0; i + 1 < wc.size(); ++i) EXPECT_EQ(wc[i].cut, CutKind::kWord);

  std::string hangul;  // multi-byte characters, several per token or tokens per character
  for (int i = 0; i < 400; ++i) hangul += (i % 3 == 0 ? "뷁" : i % 3 == 1 ? "가" : "😀");
  Document h = FromText(hangul);
  ASSERT_OK_AND_ASSIGN(auto hc, ChunkDocument(h, o));
  CheckInvariants(h, hc, o);
  ASSERT_GT(hc.size(), 5u);
  for (size_t i = 0; i + 1 < hc.size(); ++i) {
    EXPECT_EQ(hc[i].cut, CutKind::kToken);
    EXPECT_GE(hc[i].token_count, 45u) << "token cuts fill the budget";
  }
}

TEST(ChunkerTest, KoreanAndCjkSentenceEnds) {
  std::string ko;
  for (int i = 0; i < 30; ++i) {
    ko +=
        "임베딩 모델은 텍스트를 고차원 벡터로 변환한다. 벡터 사이의 거리가 가까울수록 의미가 "
        "비슷하다. ";
  }
  Document k = FromText(ko);
  ChunkingOptions o;
  o.max_tokens = 80;
  o.overlap_tokens = 0;
  ASSERT_OK_AND_ASSIGN(auto kc, ChunkDocument(k, o));
  CheckInvariants(k, kc, o);
  ASSERT_GT(kc.size(), 3u);
  for (size_t i = 0; i + 1 < kc.size(); ++i) {
    EXPECT_EQ(kc[i].cut, CutKind::kSentence);
    EXPECT_TRUE(kc[i].text.ends_with("다.")) << kc[i].text;
  }

  std::string cjk;  // Chinese / Japanese full stops need no following space
  for (int i = 0; i < 40; ++i) cjk += "向量数据库存储嵌入。これは文です！本当ですか？";
  Document c = FromText(cjk);
  ASSERT_OK_AND_ASSIGN(auto cc, ChunkDocument(c, o));
  CheckInvariants(c, cc, o);
  ASSERT_GT(cc.size(), 3u);
  for (size_t i = 0; i + 1 < cc.size(); ++i) {
    EXPECT_EQ(cc[i].cut, CutKind::kSentence);
    EXPECT_TRUE(cc[i].text.ends_with("。") || cc[i].text.ends_with("！") ||
                cc[i].text.ends_with("？"))
        << cc[i].text;
  }
}

TEST(ChunkerTest, OverlapStartsAtASentenceBoundary) {
  std::string text;
  for (int i = 0; i < 60; ++i) {
    text += "Sentence number " + std::to_string(i) + " says something short. ";
  }
  Document d = FromText(text);
  ChunkingOptions o;
  o.max_tokens = 100;
  o.overlap_tokens = 20;
  ASSERT_OK_AND_ASSIGN(auto chunks, ChunkDocument(d, o));
  CheckInvariants(d, chunks, o);
  ASSERT_GT(chunks.size(), 3u);
  for (size_t i = 1; i < chunks.size(); ++i) {
    const Chunk& prev = chunks[i - 1];
    const Chunk& c = chunks[i];
    ASSERT_LT(c.begin, prev.end) << "overlap present";
    const size_t overlap = Cl100k().Count(d.text.substr(c.begin, prev.end - c.begin));
    EXPECT_GE(overlap, o.overlap_tokens / 2);
    EXPECT_LE(overlap, o.overlap_tokens * 3 / 2 + 2);
    EXPECT_EQ(c.text.rfind("Sentence number", 0), 0u) << c.text;
  }
}

TEST(ChunkerTest, KoreanCorpusInvariantsAndHeadingPaths) {
  for (const char* name : {"explore-and-compare-llms.ko.md", "ai-workloads-on-azure.ko.md"}) {
    SCOPED_TRACE(name);
    auto docs = LoadFile(kData / name, kData);
    ASSERT_OK(docs.at(0));
    const Document& d = *docs[0];
    for (size_t max : {64, 200, 512}) {
      ChunkingOptions o;
      o.max_tokens = max;
      o.overlap_tokens = max / 8;
      ASSERT_OK_AND_ASSIGN(auto chunks, ChunkDocument(d, o));
      CheckInvariants(d, chunks, o);
      for (const Chunk& c : chunks) {
        // The heading path is that of the section holding the chunk's first byte.
        for (const Section& s : d.sections) {
          if (c.begin >= s.begin && c.begin < s.end) {
            EXPECT_EQ(c.heading_path, s.heading_path);
          }
        }
      }
    }
  }
}

TEST(ChunkerTest, PagesAreRecorded) {
  Document d;
  d.id = "pdf";
  d.text = Sentence(40) + "\n\n" + Sentence(40, "beta");
  d.pages = {PageSpan{0, d.text.find("\n\n"), 1}, PageSpan{d.text.find("beta"), d.text.size(), 2}};
  ChunkingOptions o;
  o.max_tokens = 60;
  o.overlap_tokens = 8;
  ASSERT_OK_AND_ASSIGN(auto chunks, ChunkDocument(d, o));
  CheckInvariants(d, chunks, o);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].page, 1);
  EXPECT_EQ(chunks[1].page, 2);
}

TEST(ChunkerTest, NeverOverTheModelLimit) {
  std::string text;
  for (int i = 0; i < 3000; ++i) text += "token" + std::to_string(i * 7919 % 10007) + " ";
  for (int i = 0; i < 3000; ++i) text += "한국어문장";
  Document d = FromText(text);
  ChunkingOptions o;
  o.max_tokens = kMaxEmbeddingTokens;
  o.overlap_tokens = 256;
  ASSERT_OK_AND_ASSIGN(auto chunks, ChunkDocument(d, o));
  CheckInvariants(d, chunks, o);
  EXPECT_GE(chunks.size(), 2u);
}

}  // namespace
}  // namespace ragd::ingest
