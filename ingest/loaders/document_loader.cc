#include "ingest/loaders/document_loader.h"

#include <cctype>
#include <fstream>
#include <sstream>
#include <system_error>

#include "ingest/loaders/loader_util.h"

namespace ragd::ingest {

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

std::vector<absl::StatusOr<Document>> LoadWithOverlay(Format format, std::string_view body,
                                                      const SourceInfo& source,
                                                      const std::string& title,
                                                      const index::Metadata& metadata) {
  std::vector<absl::StatusOr<Document>> docs = MakeLoader(format)->Load(body, source);
  for (absl::StatusOr<Document>& d : docs) {
    if (!d.ok()) continue;
    if (!title.empty()) d->title = title;
    for (const auto& [key, value] : metadata) d->metadata[key] = value;
    d->content_hash = ContentHash(*d);
  }
  return docs;
}

}  // namespace ragd::ingest
