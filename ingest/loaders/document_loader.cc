#include "ingest/loaders/document_loader.h"

#include <cctype>
#include <fstream>
#include <sstream>
#include <system_error>

#include "ingest/loaders/loader_util.h"

namespace ragd::ingest {

std::string_view FormatName(Format f) {
  switch (f) {
    case Format::kText:
      return "text";
    case Format::kMarkdown:
      return "markdown";
    case Format::kHtml:
      return "html";
    case Format::kPdf:
      return "pdf";
    case Format::kJsonl:
      return "jsonl";
  }
  return "unknown";
}

absl::StatusOr<Format> FormatByName(std::string_view name) {
  for (Format f : {Format::kText, Format::kMarkdown, Format::kHtml, Format::kPdf, Format::kJsonl}) {
    if (FormatName(f) == name) return f;
  }
  return absl::InvalidArgumentError("unknown format \"" + std::string(name) +
                                    "\"; use text, markdown, html, pdf or jsonl");
}

absl::StatusOr<Format> FormatForPath(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == ".txt" || ext == ".text") return Format::kText;
  if (ext == ".md" || ext == ".markdown") return Format::kMarkdown;
  if (ext == ".html" || ext == ".htm") return Format::kHtml;
  if (ext == ".pdf") return Format::kPdf;
  if (ext == ".jsonl") return Format::kJsonl;
  return absl::InvalidArgumentError(
      path.string() + ": unknown format (extension \"" + ext +
      "\"); supported: .txt .md .markdown .html .htm .pdf .jsonl, or name the format");
}

std::unique_ptr<DocumentLoader> MakeLoader(Format format) {
  switch (format) {
    case Format::kText:
      return internal::NewTextLoader();
    case Format::kMarkdown:
      return internal::NewMarkdownLoader();
    case Format::kHtml:
      return internal::NewHtmlLoader();
    case Format::kPdf:
      return internal::NewPdfLoader();
    case Format::kJsonl:
      return internal::NewJsonlLoader();
  }
  return internal::NewTextLoader();  // unreachable: the switch is exhaustive
}

std::vector<absl::StatusOr<Document>> LoadFile(const std::filesystem::path& path,
                                               const std::filesystem::path& root,
                                               std::optional<Format> format) {
  std::vector<absl::StatusOr<Document>> out;
  std::error_code ec;
  std::filesystem::path rel = std::filesystem::relative(path, root, ec);
  // relative() yields "../x" for paths outside root; such ids would depend on the caller's
  // working directory, so fall back to the file name.
  if (ec || rel.empty() || *rel.begin() == "..") rel = path.filename();
  SourceInfo source{rel.generic_string(), rel.generic_string()};

  if (!format) {
    absl::StatusOr<Format> f = FormatForPath(path);
    if (!f.ok()) {
      out.push_back(
          absl::InvalidArgumentError(source.name + ": " + std::string(f.status().message())));
      return out;
    }
    format = *f;
  }
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec)) {
    out.push_back(absl::InvalidArgumentError(source.name + ": not a regular file"));
    return out;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out.push_back(absl::NotFoundError(source.name + ": cannot open " + path.string()));
    return out;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    out.push_back(absl::DataLossError(source.name + ": read error"));
    return out;
  }
  return MakeLoader(*format)->Load(buf.str(), source);
}

}  // namespace ragd::ingest
