// Every loader on real files: the project's Korean sample documents (Markdown with front
// matter), an HTML page, a two-page PDF written by the test itself, JSONL; and the error paths
// (invalid UTF-8, unknown extension, broken PDF, bad JSONL lines).

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/utf8.h"
#include "ingest/loaders/document_loader.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace ragd::ingest {
namespace {

namespace fs = std::filesystem;
const fs::path kData = RAGD_TEST_DATA_DIR;

void WriteFile(const fs::path& p, std::string_view bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Exactly one document loaded OK.
Document LoadOne(const fs::path& path, const fs::path& root) {
  auto docs = LoadFile(path, root);
  EXPECT_EQ(docs.size(), 1u);
  if (docs.size() != 1 || !docs[0].ok()) {
    ADD_FAILURE() << (docs.empty() ? "no result" : docs[0].status().ToString());
    return {};
  }
  return *docs[0];
}

template <typename T>
T MetaAs(const Document& d, const std::string& key) {
  auto it = d.metadata.find(key);
  if (it == d.metadata.end() || !std::holds_alternative<T>(it->second)) {
    ADD_FAILURE() << "metadata " << key << " missing or of another type";
    return T{};
  }
  return std::get<T>(it->second);
}

// A minimal PDF 1.4 with one page per entry of `pages`, Helvetica text, and a /Title. The
// cross-reference table holds the real byte offset of every object, as readers require.
std::string MakePdf(const std::vector<std::string>& pages, const std::string& title) {
  std::vector<std::string> objects;  // objects[i] is object number i + 1
  const size_t n = pages.size();
  const size_t font = 3 + 2 * n;  // after catalog, pages tree and (page, content) pairs
  const size_t info = font + 1;
  objects.push_back("<< /Type /Catalog /Pages 2 0 R >>");
  std::string kids;
  for (size_t i = 0; i < n; ++i) kids += std::to_string(3 + 2 * i) + " 0 R ";
  objects.push_back("<< /Type /Pages /Kids [" + kids + "] /Count " + std::to_string(n) + " >>");
  for (size_t i = 0; i < n; ++i) {
    objects.push_back(
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
        "<< /Font << /F1 " +
        std::to_string(font) + " 0 R >> >> /Contents " + std::to_string(4 + 2 * i) + " 0 R >>");
    const std::string content = "BT /F1 14 Tf 72 720 Td (" + pages[i] + ") Tj ET";
    objects.push_back("<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content +
                      "\nendstream");
  }
  objects.push_back("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
  objects.push_back("<< /Title (" + title + ") >>");
  EXPECT_EQ(objects.size(), info);

  std::string pdf = "%PDF-1.4\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < objects.size(); ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
  }
  const size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(objects.size() + 1) + "\n0000000000 65535 f \n";
  for (size_t off : offsets) {
    char line[24];
    std::snprintf(line, sizeof(line), "%010zu 00000 n \n", off);
    pdf += line;
  }
  pdf += "trailer\n<< /Size " + std::to_string(objects.size() + 1) + " /Root 1 0 R /Info " +
         std::to_string(info) + " 0 R >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
  return pdf;
}

TEST(FormatTest, ByExtensionAndName) {
  EXPECT_EQ(*FormatForPath("a/b.TXT"), Format::kText);
  EXPECT_EQ(*FormatForPath("x.md"), Format::kMarkdown);
  EXPECT_EQ(*FormatForPath("x.markdown"), Format::kMarkdown);
  EXPECT_EQ(*FormatForPath("x.htm"), Format::kHtml);
  EXPECT_EQ(*FormatForPath("x.html"), Format::kHtml);
  EXPECT_EQ(*FormatForPath("x.pdf"), Format::kPdf);
  EXPECT_EQ(*FormatForPath("x.jsonl"), Format::kJsonl);
  EXPECT_EQ(FormatForPath("x.docx").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FormatForPath("README").status().code(), absl::StatusCode::kInvalidArgument);
  for (Format f : {Format::kText, Format::kMarkdown, Format::kHtml, Format::kPdf, Format::kJsonl}) {
    EXPECT_EQ(*FormatByName(FormatName(f)), f);
    EXPECT_EQ(MakeLoader(f)->format(), f);
  }
  EXPECT_FALSE(FormatByName("docx").ok());
}

// What a request says of its document (ragd.v1.Document title and metadata) wins over what the
// loader found, and the content hash covers it, so changing only the overlay re-ingests.
TEST(LoadWithOverlayTest, TitleAndMetadataWinAndCountInTheHash) {
  const std::string body = "---\nlang: ko\nteam: a\n---\n# 제목\n\n본문입니다.\n";
  auto plain = LoadWithOverlay(Format::kMarkdown, body, SourceInfo{"d", "d.md"}, "", {});
  ASSERT_EQ(plain.size(), 1u);
  ASSERT_TRUE(plain[0].ok()) << plain[0].status();
  index::Metadata overlay;
  overlay["team"] = std::string("b");
  auto over = LoadWithOverlay(Format::kMarkdown, body, SourceInfo{"d", "d.md"}, "Title", overlay);
  ASSERT_EQ(over.size(), 1u);
  ASSERT_TRUE(over[0].ok()) << over[0].status();
  EXPECT_EQ(over[0]->title, "Title");
  EXPECT_EQ(std::get<std::string>(over[0]->metadata.at("team")), "b");
  EXPECT_EQ(std::get<std::string>(over[0]->metadata.at("lang")), "ko");
  EXPECT_NE(over[0]->content_hash, plain[0]->content_hash);
  EXPECT_EQ(over[0]->content_hash, ContentHash(*over[0]));
}

TEST(MarkdownLoaderTest, KoreanCorpusFrontMatterAndHeadings) {
  Document d = LoadOne(kData / "ai-workloads-on-azure.ko.md", kData.parent_path());
  EXPECT_EQ(d.id, "data/ai-workloads-on-azure.ko.md");
  EXPECT_EQ(d.title, "Azure에서의 AI 워크로드");
  EXPECT_EQ(MetaAs<std::string>(d, "date"), "2025-01-09");
  EXPECT_EQ(MetaAs<bool>(d, "toc"), true);
  EXPECT_EQ(MetaAs<std::string>(d, "typora-root-url"), "../");
  auto tags = MetaAs<std::vector<std::string>>(d, "tags");
  EXPECT_NE(std::find(tags.begin(), tags.end(), "마이크로소프트"), tags.end());
  EXPECT_NE(std::find(tags.begin(), tags.end(), "Azure OpenAI Service"), tags.end());
  EXPECT_EQ(MetaAs<std::vector<std::string>>(d, "categories"),
            (std::vector<std::string>{"Microsoft", "Azure"}));
  EXPECT_EQ(MetaAs<std::string>(d, "format"), "markdown");
  EXPECT_EQ(d.metadata.count("title"), 0u) << "title is a field, not metadata";
  // The front matter is not part of the text; the body is, verbatim.
  EXPECT_EQ(d.text.find("typora-root-url"), std::string::npos);
  EXPECT_EQ(d.text.rfind("기업은 애저(Azure) 서비스를 통해", 0), 0u);
  EXPECT_TRUE(IsValidUtf8(d.text));
  EXPECT_NE(d.content_hash, 0u);

  // Four "##" sections after an untitled lead paragraph.
  ASSERT_EQ(d.sections.size(), 5u);
  EXPECT_TRUE(d.sections[0].heading_path.empty());
  EXPECT_EQ(d.sections[1].heading_path, std::vector<std::string>{"1. 들어 가기 전에"});
  EXPECT_EQ(d.sections[4].heading_path, std::vector<std::string>{"5. 참고 레퍼런스"});
  for (size_t i = 1; i < d.sections.size(); ++i) {
    EXPECT_EQ(d.text.substr(d.sections[i].begin, 3), "## ");
    EXPECT_EQ(d.sections[i - 1].end, d.sections[i].begin);
  }
  EXPECT_EQ(d.sections.back().end, d.text.size());
}

TEST(MarkdownLoaderTest, TitleFromFirstHeadingAndNestedPaths) {
  Document d = LoadOne(kData / "explore-and-compare-llms.ko.md", kData);
  EXPECT_EQ(d.id, "explore-and-compare-llms.ko.md");
  EXPECT_EQ(d.title, "다양한 LLM 탐색 및 비교");
  bool found = false;
  for (const Section& s : d.sections) {
    if (s.heading_path.size() == 3 && s.heading_path[2] == "파운데이션 모델 vs. LLMs") {
      EXPECT_EQ(s.heading_path[0], "다양한 LLM 탐색 및 비교");
      EXPECT_EQ(s.heading_path[1], "다양한 유형의 LLM 이해");
      EXPECT_EQ(d.text.substr(s.begin, 4), "### ");
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST(MarkdownLoaderTest, FencedCodeIsNotAHeading) {
  auto loader = MakeLoader(Format::kMarkdown);
  auto docs = loader->Load("# Top\n\n```bash\n# not a heading\n```\n\n## Real ##\ntext\n",
                           SourceInfo{"doc", "doc.md"});
  ASSERT_EQ(docs.size(), 1u);
  ASSERT_OK(docs[0]);
  ASSERT_EQ(docs[0]->sections.size(), 2u);
  EXPECT_EQ(docs[0]->sections[1].heading_path, (std::vector<std::string>{"Top", "Real"}));
}

TEST(HtmlLoaderTest, VisibleTextTitleAndHeadings) {
  Document d = LoadOne(kData / "sample.html", kData);
  EXPECT_EQ(d.id, "sample.html");
  EXPECT_EQ(d.title, "Vector & Search Guide");
  EXPECT_EQ(d.text.find("MUST_NOT_APPEAR"), std::string::npos) << d.text;
  EXPECT_EQ(d.text.find("font-family"), std::string::npos);
  EXPECT_NE(d.text.find("numbers & distances"), std::string::npos) << d.text;
  EXPECT_NE(d.text.find("The entity <tag> is decoded"), std::string::npos);
  EXPECT_NE(d.text.find("한국어 (Korean)"), std::string::npos);
  EXPECT_NE(d.text.find("Vector Search\n\nVectors are"), std::string::npos) << d.text;
  EXPECT_NE(d.text.find("HNSW builds a graph.\nFAISS"), std::string::npos);
  EXPECT_NE(d.text.find("flat\nhnsw\nivf"), std::string::npos);
  EXPECT_NE(d.text.find("ef_construction = 200\nM               = 16"), std::string::npos)
      << "<pre> keeps its whitespace";
  EXPECT_TRUE(IsValidUtf8(d.text));

  std::vector<std::vector<std::string>> paths;
  for (const Section& s : d.sections) paths.push_back(s.heading_path);
  ASSERT_EQ(paths.size(), 5u) << d.text;  // nav text, then four headings
  EXPECT_TRUE(paths[0].empty());
  EXPECT_EQ(paths[1], std::vector<std::string>{"Vector Search"});
  EXPECT_EQ(paths[2], (std::vector<std::string>{"Vector Search", "Indexes"}));
  EXPECT_EQ(paths[3], (std::vector<std::string>{"Vector Search", "Indexes", "Parameters"}));
  EXPECT_EQ(paths[4], (std::vector<std::string>{"Vector Search", "Chunking"}));
  EXPECT_EQ(d.text.substr(d.sections[2].begin, 7), "Indexes");
}

TEST(PdfLoaderTest, TwoPagesWrittenByTheTest) {
  testing::TempDir dir;
  const fs::path path = dir.path() / "docs" / "manual.pdf";
  WriteFile(path,
            MakePdf({"The first page talks about vectors.", "The second page talks about chunks."},
                    "Test Manual"));
  Document d = LoadOne(path, dir.path());
  EXPECT_EQ(d.id, "docs/manual.pdf");
  EXPECT_EQ(d.title, "Test Manual");
  ASSERT_EQ(d.pages.size(), 2u) << d.text;
  EXPECT_EQ(d.pages[0].page, 1);
  EXPECT_EQ(d.pages[1].page, 2);
  EXPECT_EQ(d.text.substr(d.pages[0].begin, d.pages[0].end - d.pages[0].begin),
            "The first page talks about vectors.");
  EXPECT_EQ(d.text.substr(d.pages[1].begin, d.pages[1].end - d.pages[1].begin),
            "The second page talks about chunks.");
  EXPECT_EQ(MetaAs<std::string>(d, "format"), "pdf");
}

TEST(PdfLoaderTest, BrokenPdfIsAnErrorNotACrash) {
  auto loader = MakeLoader(Format::kPdf);
  for (std::string bytes : {std::string("not a pdf at all"), std::string("%PDF-1.4\n1 0 obj"),
                            MakePdf({"x"}, "t").substr(0, 120), std::string()}) {
    auto docs = loader->Load(bytes, SourceInfo{"bad.pdf", "bad.pdf"});
    ASSERT_EQ(docs.size(), 1u);
    // Poppler may recover some truncated files; whatever it returns must not crash and an
    // error must name the file.
    if (!docs[0].ok()) {
      EXPECT_NE(std::string(docs[0].status().message()).find("bad.pdf"), std::string::npos);
    }
  }
}

TEST(JsonlLoaderTest, DocumentsAndPerLineErrors) {
  auto docs = LoadFile(kData / "sample.jsonl", kData);
  ASSERT_EQ(docs.size(), 5u);
  ASSERT_OK(docs[0]);
  EXPECT_EQ(docs[0]->id, "faq/1");
  EXPECT_EQ(docs[0]->title, "What is RAG?");
  EXPECT_EQ(MetaAs<std::string>(*docs[0], "lang"), "en");
  EXPECT_EQ(MetaAs<int64_t>(*docs[0], "year"), 2024);
  EXPECT_EQ(MetaAs<double>(*docs[0], "score"), 0.5);
  EXPECT_EQ(MetaAs<bool>(*docs[0], "draft"), false);
  EXPECT_EQ(MetaAs<std::vector<std::string>>(*docs[0], "tags"),
            (std::vector<std::string>{"rag", "llm"}));
  ASSERT_OK(docs[1]);
  EXPECT_EQ(docs[1]->id, "faq/2");
  EXPECT_EQ(docs[1]->title, "");
  EXPECT_EQ(docs[1]->text.rfind("임베딩은", 0), 0u);
  ASSERT_OK(docs[2]);
  EXPECT_EQ(docs[2]->id, "faq/3");
  // Line 5 (after a blank line 3) is broken JSON, line 6 lacks "text".
  EXPECT_EQ(docs[3].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(docs[3].status().message()).find("sample.jsonl:5"), std::string::npos)
      << docs[3].status();
  EXPECT_EQ(docs[4].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(docs[4].status().message()).find("sample.jsonl:6: \"text\""),
            std::string::npos)
      << docs[4].status();
}

TEST(LoaderErrorsTest, InvalidUtf8NamesFileAndByte) {
  testing::TempDir dir;
  for (const char* name : {"bad.txt", "bad.md", "bad.html"}) {
    WriteFile(dir.path() / name, std::string("good text \xC3\x28 more"));
    auto docs = LoadFile(dir.path() / name, dir.path());
    ASSERT_EQ(docs.size(), 1u);
    EXPECT_EQ(docs[0].status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(std::string(docs[0].status().message()),
              std::string(name) + ": invalid UTF-8 at byte 10");
  }
  WriteFile(dir.path() / "bad.jsonl",
            "{\"id\":\"a\",\"text\":\"ok\"}\n{\"id\":\"b\",\"text\":\"\xFF\"}\n");
  auto docs = LoadFile(dir.path() / "bad.jsonl", dir.path());
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_OK(docs[0]);
  EXPECT_NE(std::string(docs[1].status().message()).find("bad.jsonl:2: invalid UTF-8"),
            std::string::npos)
      << docs[1].status();
}

TEST(LoaderErrorsTest, UnknownExtensionAndMissingFile) {
  testing::TempDir dir;
  WriteFile(dir.path() / "report.docx", "PK\x03\x04");
  auto docs = LoadFile(dir.path() / "report.docx", dir.path());
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(docs[0].status().message()).find("report.docx"), std::string::npos);
  // An explicit format overrides the extension.
  WriteFile(dir.path() / "notes.log", "plain words");
  docs = LoadFile(dir.path() / "notes.log", dir.path(), Format::kText);
  ASSERT_EQ(docs.size(), 1u);
  ASSERT_OK(docs[0]);
  EXPECT_EQ(docs[0]->text, "plain words");
  EXPECT_EQ(docs[0]->title, "notes");
  docs = LoadFile(dir.path() / "absent.txt", dir.path());
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].status().code(), absl::StatusCode::kNotFound);
  fs::create_directories(dir.path() / "folder.txt");
  docs = LoadFile(dir.path() / "folder.txt", dir.path());
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DocumentTest, ContentHashCoversTextTitleAndMetadata) {
  auto loader = MakeLoader(Format::kText);
  Document a = *loader->Load("same text", SourceInfo{"a", "a.txt"})[0];
  Document b = a;
  EXPECT_EQ(ContentHash(a), ContentHash(b));
  b.metadata["lang"] = std::string("en");
  EXPECT_NE(ContentHash(a), ContentHash(b));
  b = a;
  b.title = "other";
  EXPECT_NE(ContentHash(a), ContentHash(b));
  b = a;
  b.text += " ";
  EXPECT_NE(ContentHash(a), ContentHash(b));
}

}  // namespace
}  // namespace ragd::ingest
