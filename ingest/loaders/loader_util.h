#pragma once
// Internal to ragd_ingest: the concrete loaders and the helpers they share.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "ingest/document.h"
#include "ingest/loaders/document_loader.h"

namespace ragd::ingest::internal {

std::unique_ptr<DocumentLoader> NewTextLoader();
std::unique_ptr<DocumentLoader> NewMarkdownLoader();
std::unique_ptr<DocumentLoader> NewHtmlLoader();
std::unique_ptr<DocumentLoader> NewPdfLoader();
std::unique_ptr<DocumentLoader> NewJsonlLoader();

// OK, or INVALID_ARGUMENT "<what>: invalid UTF-8 at byte N".
absl::Status CheckUtf8(std::string_view content, std::string_view what);

// A Document with the source's id and the metadata every file loader adds.
Document NewDocument(const SourceInfo& source, Format format);

// Validates the id, defaults the title to the file name's stem, sets content_hash.
absl::StatusOr<Document> FinishDocument(Document doc, const SourceInfo& source);

// Tracks the heading path while a loader walks a document and turns heading positions into
// Sections.
class SectionBuilder {
 public:
  // A heading of `level` (1 = outermost) whose text starts at byte `offset` of the output.
  void OnHeading(int level, std::string heading, size_t offset);
  // Closes the last section at `text_size`. Text before the first heading becomes a section
  // with an empty heading path when it is not empty.
  std::vector<Section> Finish(size_t text_size);

 private:
  struct Open {
    int level;
    std::string heading;
  };
  std::vector<Open> stack_;
  std::vector<Section> sections_;
};

// Trims ASCII whitespace (space, tab, CR, LF, FF, VT) from both ends.
std::string_view TrimAscii(std::string_view s);

}  // namespace ragd::ingest::internal
