#pragma once
// Token-budgeted chunking with overlap, for embedding and citation.
//
// A chunk is at most `max_tokens` tokens of the embedding model's tokenizer (counted exactly on
// the chunk's own text, as the embedder will see it). Where a chunk must end, the chunker cuts
// at the strongest boundary inside the budget, in this order:
//   1. heading  — the start of a Section (Markdown / HTML heading),
//   2. paragraph — a blank line, or the start of a PDF page,
//   3. sentence — after . ! ? followed by a space or line break (which covers Korean endings
//      such as "다. "), after the CJK full stops 。！？ (no space needed), or at a line break,
//   4. word — after whitespace,
//   5. token — a token boundary of the whole-document encoding, moved back to a UTF-8
//      character boundary.
// Within one strength the furthest boundary wins, so a chunk is as full as it can be without
// breaking a stronger unit. Paragraph, sentence and word cuts are taken only when the chunk
// keeps at least `min_fill` of the budget (else a weaker but later cut is preferred); heading
// cuts always are, so that sections are not merged into one chunk.
//
// Overlap: after a cut that is not at a heading or page start, the next chunk starts about
// `overlap_tokens` before the previous end, at the sentence start (or else the word start)
// nearest to that point, so that it does not begin mid-word. A cut at a heading or a page start
// starts the next chunk exactly there: text from before it would carry the wrong heading path
// or page in the citation.
//
// Chunk offsets are byte offsets into Document::text; a chunk's text is text[begin, end) with
// surrounding whitespace excluded, always valid UTF-8. Whitespace-only stretches make no chunk.
//
// Thread safety: Chunk is a pure function; call it from any number of threads.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ingest/document.h"
#include "models/tokenizer.h"

namespace ragd::ingest {

// The input limit of text-embedding-ada-002 (and text-embedding-3-*), tokens.
inline constexpr size_t kMaxEmbeddingTokens = 8191;

struct ChunkingOptions {
  // Largest chunk, in tokens of `encoding`. 16..8191 (the embedding models' input limit).
  // Default: 512.
  size_t max_tokens = 512;
  // Tokens repeated from the end of one chunk at the start of the next, so that a sentence cut
  // by the budget is whole in one of them. Less than max_tokens / 2. Default: 64.
  size_t overlap_tokens = 64;
  // Smallest share of max_tokens a chunk must reach before a paragraph, sentence or word cut
  // is accepted (heading cuts are always accepted). 0..0.9. Default: 0.25.
  double min_fill = 0.25;
  // The tokenizer of the embedding model. Default: cl100k_base (text-embedding-ada-002).
  models::Encoding encoding = models::Encoding::kCl100kBase;

  // INVALID_ARGUMENT saying which field to change and to what.
  absl::Status Validate() const;
  // A short string that changes whenever the chunks of a document could change, e.g.
  // "cl100k_base/512/64/0.25/v1": stored with the chunks so that re-ingestion with other
  // settings re-chunks an otherwise unchanged document.
  std::string Fingerprint() const;
};

// Which kind of boundary ended a chunk (the strength order above). kEnd: the document ended.
enum class CutKind { kHeading, kParagraph, kSentence, kWord, kToken, kEnd };

struct Chunk {
  std::string document_id;
  // 0, 1, 2, ... in document order.
  uint32_t ordinal = 0;
  // text == document.text.substr(begin, end - begin).
  size_t begin = 0;
  size_t end = 0;
  // Of the section containing `begin`; empty when the document has no headings there.
  std::vector<std::string> heading_path;
  // Page (1-based) containing `begin`; 0 when the document has no pages.
  int page = 0;
  // tokenizer.Count(text), <= max_tokens.
  size_t token_count = 0;
  CutKind cut = CutKind::kEnd;
  std::string text;
};

// Cuts `doc` into chunks. INVALID_ARGUMENT for invalid options or when doc.text is not valid
// UTF-8. A document whose text is empty or only whitespace yields no chunks.
absl::StatusOr<std::vector<Chunk>> ChunkDocument(const Document& doc,
                                                 const ChunkingOptions& options);

}  // namespace ragd::ingest
