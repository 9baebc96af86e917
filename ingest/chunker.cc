#include "ingest/chunker.h"

#include <algorithm>
#include <cstdio>

#include "common/utf8.h"

namespace ragd::ingest {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Candidate cut positions of one document: a chunk may end at p (text[begin, p)) and the
// next start there. Computed in one pass; the word level is found on demand by scanning.
struct Boundaries {
  std::vector<size_t> heading;
  std::vector<size_t> paragraph;
  std::vector<size_t> sentence;
  std::vector<size_t> page;  // also in `paragraph`; kept apart because overlap stops there
};

Boundaries FindBoundaries(const Document& doc) {
  const std::string& t = doc.text;
  const size_t n = t.size();
  Boundaries b;
  for (const Section& s : doc.sections) {
    if (!s.heading_path.empty() && s.begin > 0 && s.begin < n) b.heading.push_back(s.begin);
  }
  for (const PageSpan& p : doc.pages) {
    if (p.begin > 0 && p.begin < n) {
      b.paragraph.push_back(p.begin);
      b.page.push_back(p.begin);
    }
  }
  for (size_t i = 0; i < n; ++i) {
    const char c = t[i];
    if (c == '\n') {
      b.sentence.push_back(i + 1);  // a line break ends a sentence-like unit (list items)
      size_t j = i + 1;
      while (j < n && (t[j] == ' ' || t[j] == '\t' || t[j] == '\r')) ++j;
      if (j < n && t[j] == '\n') {
        while (j < n && IsSpace(t[j])) ++j;
        if (j < n) b.paragraph.push_back(j);
      }
    } else if (c == '.' || c == '!' || c == '?') {
      // "다. " and "end. " alike; "3.5" and "e.g.x" are not sentence ends.
      if (i + 1 == n || IsSpace(t[i + 1])) b.sentence.push_back(i + 1);
    } else if (c == '\xE3' && i + 2 < n && t[i + 1] == '\x80' && t[i + 2] == '\x82') {
      b.sentence.push_back(i + 3);  // 。 U+3002
    } else if (c == '\xEF' && i + 2 < n && t[i + 1] == '\xBC' &&
               (t[i + 2] == '\x81' || t[i + 2] == '\x9F')) {
      b.sentence.push_back(i + 3);  // ！ U+FF01, ？ U+FF1F
    }
  }
  for (auto* v : {&b.heading, &b.paragraph, &b.sentence, &b.page}) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }
  return b;
}

// The largest element of sorted `v` in [lo, hi], or 0 when there is none (0 is never a cut).
size_t LastIn(const std::vector<size_t>& v, size_t lo, size_t hi) {
  auto it = std::upper_bound(v.begin(), v.end(), hi);
  if (it == v.begin()) return 0;
  --it;
  return *it >= lo ? *it : 0;
}

class Chunker {
 public:
  Chunker(const Document& doc, const ChunkingOptions& o)
      : doc_(doc),
        text_(doc.text),
        n_(doc.text.size()),
        options_(o),
        tokenizer_(models::Tokenizer::Get(o.encoding)),
        bounds_(FindBoundaries(doc)) {
    // One encoding of the whole document gives every budget estimate; only each chunk's own
    // text is encoded again (Count), to record its exact size.
    for (const models::TokenSpan& s : tokenizer_.EncodeWithOffsets(text_)) {
      token_begin_.push_back(s.begin);
    }
  }

  std::vector<Chunk> Run() {
    std::vector<Chunk> chunks;
    size_t begin = SkipSpace(0);
    size_t prev_end = 0;
    while (begin < n_) {
      Cut cut = CutFrom(begin, prev_end);
      if (cut.end <= prev_end && begin < prev_end) {
        // The budget left no room past the overlap: start after the previous chunk instead.
        begin = SkipSpace(prev_end);
        continue;
      }
      auto [b, e] = Trim(begin, cut.end);
      if (b < e) {
        Chunk c;
        c.document_id = doc_.id;
        c.ordinal = static_cast<uint32_t>(chunks.size());
        c.begin = b;
        c.end = e;
        c.heading_path = HeadingPathAt(b);
        c.page = PageAt(b);
        c.token_count = cut.tokens;
        c.cut = cut.kind;
        c.text = text_.substr(b, e - b);
        chunks.push_back(std::move(c));
      }
      if (cut.end >= n_) break;
      size_t next = cut.end;
      const bool page_start = std::binary_search(bounds_.page.begin(), bounds_.page.end(), cut.end);
      if (cut.kind != CutKind::kHeading && !page_start && options_.overlap_tokens > 0 && b < e) {
        size_t o = OverlapStart(b, e);
        if (o > b && o < e) next = o;
      }
      prev_end = std::max(prev_end, e);
      begin = SkipSpace(next);
    }
    return chunks;
  }

 private:
  struct Cut {
    size_t end = 0;
    size_t tokens = 0;
    CutKind kind = CutKind::kEnd;
  };

  // Index of the first token starting at or after byte `pos`.
  size_t TokenAt(size_t pos) const {
    return std::lower_bound(token_begin_.begin(), token_begin_.end(), pos) - token_begin_.begin();
  }
  size_t ByteOfToken(size_t t) const { return t < token_begin_.size() ? token_begin_[t] : n_; }

  size_t SkipSpace(size_t p) const {
    while (p < n_ && IsSpace(text_[p])) ++p;
    return p;
  }
  std::pair<size_t, size_t> Trim(size_t b, size_t e) const {
    b = SkipSpace(b);
    while (e > b && IsSpace(text_[e - 1])) --e;
    return {b, e};
  }

  // Chooses the end of the chunk starting at `begin`, shrinking the budget until the chunk's
  // own encoding fits: tokens at the edges of a substring can merge differently than inside
  // the whole document, so the estimate from the document's encoding may be off by a few.
  Cut CutFrom(size_t begin, size_t prev_end) {
    const size_t first = TokenAt(begin);
    const size_t max = options_.max_tokens;
    size_t budget = max;
    while (true) {
      Cut cut;
      size_t limit = ByteOfToken(first + budget);
      if (limit >= n_) {
        cut.end = n_;
        cut.kind = CutKind::kEnd;
      } else {
        const size_t min_tokens = static_cast<size_t>(options_.min_fill * budget);
        const size_t floor = std::max(begin, prev_end) + 1;
        const size_t min_pos = std::max(floor, ByteOfToken(first + min_tokens));
        cut = Choose(begin, floor, min_pos, limit);
      }
      auto [b, e] = Trim(begin, cut.end);
      cut.tokens = tokenizer_.Count(std::string_view(text_).substr(b, e - b));
      if (cut.tokens <= max || budget <= 1) return cut;
      const size_t excess = cut.tokens - max;
      budget = budget > excess + 1 + budget / 64 ? budget - excess - 1 - budget / 64 : 1;
    }
  }

  Cut Choose(size_t begin, size_t floor, size_t min_pos, size_t limit) const {
    Cut cut;
    if (size_t p = LastIn(bounds_.heading, floor, limit); p > 0) {
      cut.end = p;
      cut.kind = CutKind::kHeading;
      return cut;
    }
    if (size_t p = LastIn(bounds_.paragraph, min_pos, limit); p > 0) {
      cut.end = p;
      cut.kind = CutKind::kParagraph;
      return cut;
    }
    if (size_t p = LastIn(bounds_.sentence, min_pos, limit); p > 0) {
      cut.end = p;
      cut.kind = CutKind::kSentence;
      return cut;
    }
    // A word ends where whitespace follows a non-space character.
    for (size_t p = limit; p >= min_pos && p > 0; --p) {
      if (IsSpace(text_[p]) && !IsSpace(text_[p - 1])) {
        cut.end = p;
        cut.kind = CutKind::kWord;
        return cut;
      }
    }
    // A token boundary can fall inside a character (rare characters are byte tokens).
    size_t p = limit;
    while (p > begin && IsContinuation(text_[p])) --p;
    if (p <= begin) {  // one character larger than the budget: take it whole
      p = begin + 1;
      while (p < n_ && IsContinuation(text_[p])) ++p;
    }
    cut.end = p;
    cut.kind = CutKind::kToken;
    return cut;
  }

  // Where the chunk after [b, e) starts: about overlap_tokens before e, at the sentence start
  // (else word start) nearest to that point within half the overlap either way.
  size_t OverlapStart(size_t b, size_t e) const {
    const size_t ov = options_.overlap_tokens;
    const size_t te = TokenAt(e);
    const size_t tb = TokenAt(b);
    if (te <= tb + ov) return b;  // the chunk is no longer than the overlap: none
    const size_t target = ByteOfToken(te - ov);
    const size_t lo = std::max(ByteOfToken(te - std::min(te - tb - 1, ov + ov / 2)), b + 1);
    const size_t hi = ByteOfToken(te - std::max<size_t>(ov / 2, 1));
    auto nearest = [&](size_t p, size_t best) {
      if (p < lo || p > hi || p >= e) return best;
      if (best == 0) return p;
      auto dist = [&](size_t x) { return x > target ? x - target : target - x; };
      return dist(p) < dist(best) ? p : best;
    };
    size_t best = 0;
    auto it = std::lower_bound(bounds_.sentence.begin(), bounds_.sentence.end(), lo);
    for (; it != bounds_.sentence.end() && *it <= hi; ++it) best = nearest(SkipSpace(*it), best);
    if (best > 0) return best;
    for (size_t p = std::max(lo, size_t{1}); p <= hi && p < e; ++p) {
      if (!IsSpace(text_[p]) && IsSpace(text_[p - 1])) best = nearest(p, best);
    }
    if (best > 0) return best;
    size_t p = target;
    while (p > b && IsContinuation(text_[p])) --p;
    return p;
  }

  std::vector<std::string> HeadingPathAt(size_t pos) const {
    const auto& s = doc_.sections;
    auto it = std::upper_bound(s.begin(), s.end(), pos,
                               [](size_t p, const Section& x) { return p < x.begin; });
    if (it == s.begin()) return {};
    --it;
    return pos < it->end ? it->heading_path : std::vector<std::string>{};
  }

  int PageAt(size_t pos) const {
    const auto& pages = doc_.pages;
    auto it = std::upper_bound(pages.begin(), pages.end(), pos,
                               [](size_t p, const PageSpan& x) { return p < x.begin; });
    if (it == pages.begin()) return 0;
    --it;
    return pos < it->end ? it->page : 0;
  }

  const Document& doc_;
  const std::string& text_;
  const size_t n_;
  const ChunkingOptions& options_;
  const models::Tokenizer& tokenizer_;
  const Boundaries bounds_;
  std::vector<size_t> token_begin_;
};

}  // namespace

absl::Status ChunkingOptions::Validate() const {
  if (max_tokens < 16 || max_tokens > kMaxEmbeddingTokens) {
    return absl::InvalidArgumentError(
        "chunking.max_tokens must be between 16 and 8191 (the embedding model's input limit), "
        "got " +
        std::to_string(max_tokens));
  }
  if (overlap_tokens * 2 >= max_tokens) {
    return absl::InvalidArgumentError(
        "chunking.overlap_tokens must be less than half of max_tokens (" +
        std::to_string(max_tokens) + "), got " + std::to_string(overlap_tokens) +
        "; otherwise chunks repeat more than they advance");
  }
  if (!(min_fill >= 0.0 && min_fill <= 0.9)) {
    return absl::InvalidArgumentError("chunking.min_fill must be in [0, 0.9], got " +
                                      std::to_string(min_fill));
  }
  return absl::OkStatus();
}

std::string ChunkingOptions::Fingerprint() const {
  char fill[32];
  std::snprintf(fill, sizeof(fill), "%.3f", min_fill);
  // "v1" names the boundary rules above; bump it when they change.
  return std::string(models::Tokenizer::Get(encoding).name()) + "/" + std::to_string(max_tokens) +
         "/" + std::to_string(overlap_tokens) + "/" + fill + "/v1";
}

absl::StatusOr<std::vector<Chunk>> ChunkDocument(const Document& doc,
                                                 const ChunkingOptions& options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  if (!IsValidUtf8(doc.text)) {
    return absl::InvalidArgumentError("document \"" + doc.id + "\": text is not valid UTF-8");
  }
  return Chunker(doc, options).Run();
}

}  // namespace ragd::ingest
