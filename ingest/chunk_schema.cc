#include "ingest/chunk_schema.h"

#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace ragd::ingest {
namespace {

const std::string* StringAt(const index::Metadata& m, std::string_view key) {
  auto it = m.find(std::string(key));
  return it == m.end() ? nullptr : std::get_if<std::string>(&it->second);
}

}  // namespace

std::string ChunkId(std::string_view document_id, size_t ordinal) {
  return absl::StrCat(absl::string_view(document_id.data(), document_id.size()), "#", ordinal);
}

absl::StatusOr<StoredDocument> ReadDocument(const index::Engine& engine,
                                            std::string_view collection,
                                            std::string_view document_id, bool with_vectors) {
  ASSIGN_OR_RETURN(std::vector<index::Point> first,
                   engine.Get(collection, {ChunkId(document_id, 0)}, /*with_vectors=*/false));
  if (first.empty()) {
    return absl::NotFoundError(absl::StrCat("document ", std::string(document_id),
                                            " has no chunks in collection ",
                                            std::string(collection)));
  }
  int64_t count = 1;
  if (auto it = first[0].metadata.find(std::string(kChunkCountKey));
      it != first[0].metadata.end()) {
    if (const int64_t* n = std::get_if<int64_t>(&it->second)) count = *n;
  }
  std::vector<std::string> ids;
  for (int64_t i = 0; i < count; ++i) ids.push_back(ChunkId(document_id, static_cast<size_t>(i)));
  StoredDocument doc;
  ASSIGN_OR_RETURN(doc.chunks, engine.Get(collection, ids, with_vectors));
  if (doc.chunks.empty()) {
    return absl::NotFoundError(absl::StrCat("document ", std::string(document_id), " was deleted"));
  }
  doc.id = std::string(document_id);
  if (const std::string* t = StringAt(doc.chunks[0].metadata, kTitleKey)) doc.title = *t;
  if (const std::string* h = StringAt(doc.chunks[0].metadata, kContentHashKey)) {
    doc.content_hash = *h;
  }
  return doc;
}

}  // namespace ragd::ingest
