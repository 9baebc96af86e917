#pragma once
// The unit of ingestion: one document's text with what is needed to cite it (title, heading
// path of every section, page of every byte range) and its own metadata. Loaders produce
// Documents; the chunker cuts them; the pipeline stores their chunks as points.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "index/types.h"

namespace ragd::ingest {

// A part of the document text under one heading: text[begin, end). `heading_path` lists the
// headings from the outermost to the section's own, e.g. {"Guide", "Install", "Debian"}; it is
// empty for text before the first heading. The section's own heading line is inside the range
// (the range starts where the heading starts), so a cut at `begin` keeps heading and body
// together.
struct Section {
  size_t begin = 0;
  size_t end = 0;
  std::vector<std::string> heading_path;
};

// The bytes text[begin, end) that came from page `page` (1-based) of a paged format (PDF).
struct PageSpan {
  size_t begin = 0;
  size_t end = 0;
  int page = 0;
};

struct Document {
  // Unique within a collection. Default (file loaders): the path relative to the ingest root,
  // with '/' separators. 1..200 bytes so that chunk ids "{id}#{ordinal}" stay under 256 bytes.
  std::string id;
  std::string title;
  // Valid UTF-8 (loaders reject anything else).
  std::string text;
  // Copied into every chunk. Keys are the document's own (front matter, JSONL "metadata") plus
  // "source" (the file's relative path) and "format" added by file loaders.
  index::Metadata metadata;
  // Sorted by begin, non-overlapping; empty for formats without headings.
  std::vector<Section> sections;
  // Sorted by begin, non-overlapping; empty for formats without pages.
  std::vector<PageSpan> pages;
  // ContentHash(*this), filled by loaders (call again after editing a Document by hand).
  uint64_t content_hash = 0;
};

// Hash64 over everything that ends up in the stored chunks: id, title, text, metadata,
// sections and pages. Two documents with equal hashes produce identical chunks for the same
// chunking settings, so the pipeline may skip the second.
uint64_t ContentHash(const Document& doc);

// Upper bound of Document::id, bytes.
inline constexpr size_t kMaxDocumentIdBytes = 200;

}  // namespace ragd::ingest
