#include "common/document_format.h"

#include <cctype>
#include <string>

namespace ragd {

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

}  // namespace ragd
