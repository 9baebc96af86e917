// Plain text: the file as it is, one section, no structure.

#include "ingest/loaders/loader_util.h"

namespace ragd::ingest::internal {
namespace {

class TextLoader final : public DocumentLoader {
 public:
  Format format() const override { return Format::kText; }
  std::vector<absl::StatusOr<Document>> Load(std::string_view content,
                                             const SourceInfo& source) const override {
    std::vector<absl::StatusOr<Document>> out;
    if (absl::Status s = CheckUtf8(content, source.name); !s.ok()) {
      out.push_back(s);
      return out;
    }
    Document doc = NewDocument(source, Format::kText);
    // A UTF-8 byte order mark is an encoding artifact, not text.
    if (content.substr(0, 3) == "\xEF\xBB\xBF") content.remove_prefix(3);
    doc.text = std::string(content);
    out.push_back(FinishDocument(std::move(doc), source));
    return out;
  }
};

}  // namespace

std::unique_ptr<DocumentLoader> NewTextLoader() { return std::make_unique<TextLoader>(); }

}  // namespace ragd::ingest::internal
