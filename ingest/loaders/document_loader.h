#pragma once
// Loaders turn the bytes of one file into Documents: plain text, Markdown (front matter,
// ATX headings), HTML (visible text, title, headings; libgumbo), PDF (text per page;
// libpoppler-cpp) and JSONL (one document per line). One interface, one factory.
//
// Errors are per document and never abort a run: a loader returns one StatusOr per document it
// found (JSONL: per line), INVALID_ARGUMENT naming the file (and line) for invalid UTF-8,
// malformed input or an unknown format. No exception leaves a loader.
//
// Thread safety: loaders are stateless; one instance may be used from any number of threads.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/document_format.h"
#include "ingest/document.h"

namespace ragd::ingest {

// Format, FormatName, FormatByName, FormatForPath: common/document_format.h (ragctl
// picks formats by extension too, without linking the loaders).
using ragd::Format;
using ragd::FormatByName;
using ragd::FormatForPath;
using ragd::FormatName;

// Where the bytes came from.
struct SourceInfo {
  // The document id to assign (JSONL: unused, ids come from the lines).
  std::string id;
  // Shown in error messages and stored as metadata "source", e.g. "guides/install.md".
  std::string name;
};

class DocumentLoader {
 public:
  virtual ~DocumentLoader() = default;
  virtual Format format() const = 0;
  // Parses `content`, the whole file. Returns one entry per document found, in order: the
  // document or the reason it could not be loaded. Never empty for single-document formats.
  virtual std::vector<absl::StatusOr<Document>> Load(std::string_view content,
                                                     const SourceInfo& source) const = 0;
};

// The loader of `format`. Never null.
std::unique_ptr<DocumentLoader> MakeLoader(Format format);

// Loads `body` with the loader of `format`, then applies what the caller said of the
// document(s): a non-empty `title` replaces the loaded one, `metadata` keys win over the loaded
// ones, and the content hash is recomputed over the result (so a changed overlay re-ingests).
// Errors are per document, as Load's.
std::vector<absl::StatusOr<Document>> LoadWithOverlay(Format format, std::string_view body,
                                                      const SourceInfo& source,
                                                      const std::string& title,
                                                      const index::Metadata& metadata);

// Reads `path` and loads it with the loader of `format` (default: FormatForPath). The document
// id is the path relative to `root` ('/'-separated; the file name when `path` is not under
// `root`). A file that cannot be read or has an unknown format yields one error entry.
std::vector<absl::StatusOr<Document>> LoadFile(const std::filesystem::path& path,
                                               const std::filesystem::path& root,
                                               std::optional<Format> format = std::nullopt);

}  // namespace ragd::ingest
