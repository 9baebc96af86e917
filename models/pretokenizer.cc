#include "models/pretokenizer.h"

#include <utf8proc.h>

#include <array>
#include <cstdint>
#include <memory>

namespace ragd::models::internal {
namespace {

// Character classes of the split patterns, as bits, so that each test is one AND.
enum : uint8_t {
  kLetter = 1 << 0,  // \p{L}
  kNumber = 1 << 1,  // \p{N}
  kSpace = 1 << 2,   // \s of JavaScript (js-tiktoken is the reference, not Rust's regex)
  kCrLf = 1 << 3,    // [\r\n]
  kUpper = 1 << 4,   // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]   (o200k)
  kLower = 1 << 5,   // [\p{Ll}\p{Lm}\p{Lo}\p{M}]         (o200k)
  kPunct = 1 << 6,   // [^\s\p{L}\p{N}]
  kOpt = 1 << 7,     // [^\r\n\p{L}\p{N}]
};
// A byte that does not start a well-formed UTF-8 sequence: split like punctuation.
constexpr uint8_t kInvalidFlags = kPunct | kOpt;

uint8_t FlagsOf(int32_t cp) {
  // JavaScript's \s: WhiteSpace (TAB VT FF ZWNBSP and every Zs) plus LineTerminator (LF CR
  // LS PS). Unlike Rust's \s it includes U+FEFF and excludes U+0085.
  if (cp == '\r' || cp == '\n') return kSpace | kCrLf;
  if ((cp >= 0x09 && cp <= 0x0D) || cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF) {
    return kSpace | kOpt;
  }
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_ZS:
      return kSpace | kOpt;
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LT:
      return kLetter | kUpper;
    case UTF8PROC_CATEGORY_LL:
      return kLetter | kLower;
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return kLetter | kUpper | kLower;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
      return kUpper | kLower | kPunct | kOpt;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return kNumber;
    default:
      return kPunct | kOpt;
  }
}

// Flags of the Basic Multilingual Plane, where nearly all text lives, in a 64 KiB table so that
// the hot loop does not call into utf8proc (a two-level table walk per call).
const std::array<uint8_t, 0x10000>& BmpFlags() {
  static const auto* table = [] {
    auto* t = new std::array<uint8_t, 0x10000>();
    for (int32_t cp = 0; cp < 0x10000; ++cp) {
      (*t)[cp] = (cp >= 0xD800 && cp <= 0xDFFF) ? kInvalidFlags : FlagsOf(cp);
    }
    return t;
  }();
  return *table;
}

struct Char {
  uint8_t flags;  // 0 at the end of the text.
  uint8_t len;    // bytes; 0 at the end of the text.
};

inline bool IsCont(uint8_t b) { return (b & 0xC0) == 0x80; }

// Decodes the character at `pos` strictly (no overlongs, surrogates or values past U+10FFFF).
class Reader {
 public:
  explicit Reader(std::string_view text)
      : p_(reinterpret_cast<const uint8_t*>(text.data())), n_(text.size()), bmp_(BmpFlags()) {}

  size_t size() const { return n_; }
  uint8_t byte(size_t pos) const { return pos < n_ ? p_[pos] : 0; }

  Char At(size_t pos) const {
    if (pos >= n_) return {0, 0};
    const uint8_t b0 = p_[pos];
    if (b0 < 0x80) return {bmp_[b0], 1};
    const size_t left = n_ - pos;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      if (left >= 2 && IsCont(p_[pos + 1])) {
        return {bmp_[((b0 & 0x1F) << 6) | (p_[pos + 1] & 0x3F)], 2};
      }
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      if (left >= 3 && IsCont(p_[pos + 1]) && IsCont(p_[pos + 2])) {
        const uint8_t b1 = p_[pos + 1];
        const bool ok = (b0 == 0xE0) ? b1 >= 0xA0 : (b0 == 0xED) ? b1 <= 0x9F : true;
        if (ok) {
          return {bmp_[((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (p_[pos + 2] & 0x3F)], 3};
        }
      }
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      if (left >= 4 && IsCont(p_[pos + 1]) && IsCont(p_[pos + 2]) && IsCont(p_[pos + 3])) {
        const uint8_t b1 = p_[pos + 1];
        const bool ok = (b0 == 0xF0) ? b1 >= 0x90 : (b0 == 0xF4) ? b1 <= 0x8F : true;
        if (ok) {
          const int32_t cp = ((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) |
                             ((p_[pos + 2] & 0x3F) << 6) | (p_[pos + 3] & 0x3F);
          return {FlagsOf(cp), 4};
        }
      }
    }
    return {kInvalidFlags, 1};
  }

  // End of the run of characters having any of `mask`, starting at `pos`.
  size_t SkipWhile(size_t pos, uint8_t mask) const {
    while (true) {
      const Char c = At(pos);
      if (!(c.flags & mask)) return pos;
      pos += c.len;
    }
  }

  // Length of the contraction `'s|'t|'re|'ve|'m|'ll|'d` (any ASCII case) at `pos`, or 0.
  size_t ContractionLen(size_t pos) const {
    if (byte(pos) != '\'') return 0;
    const uint8_t c1 = byte(pos + 1) | 0x20;  // ASCII lower case; harmless for other bytes
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
    const uint8_t c2 = byte(pos + 2) | 0x20;
    if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
      return 3;
    }
    return 0;
  }

 private:
  const uint8_t* p_;
  size_t n_;
  const std::array<uint8_t, 0x10000>& bmp_;
};

constexpr size_t kNoMatch = static_cast<size_t>(-1);

// The alternatives both patterns share, tried in pattern order once the letter alternatives
// have failed at `pos`:
//   \p{N}{1,3} | ' '?[^\s\p{L}\p{N}]+<trail>* | \s*[\r\n]+ | \s+(?!\S) | \s+
// where <trail> is [\r\n] (cl100k) or [\r\n/] (o200k).
template <bool kSlashTrails>
size_t NumberPunctSpace(const Reader& r, size_t pos, Char c0) {
  if (c0.flags & kNumber) {
    size_t end = pos + c0.len;
    for (int i = 1; i < 3; ++i) {
      const Char c = r.At(end);
      if (!(c.flags & kNumber)) break;
      end += c.len;
    }
    return end;
  }
  // A single optional U+0020 (not any \s) may lead a punctuation run.
  size_t punct = kNoMatch;
  if (c0.flags & kPunct) {
    punct = pos;
  } else if (r.byte(pos) == ' ' && (r.At(pos + 1).flags & kPunct)) {
    punct = pos + 1;
  }
  if (punct != kNoMatch) {
    size_t end = r.SkipWhile(punct, kPunct);
    while (true) {
      const uint8_t b = r.byte(end);
      if (end < r.size() && (b == '\r' || b == '\n' || (kSlashTrails && b == '/'))) {
        ++end;
      } else {
        break;
      }
    }
    return end;
  }
  // Every other character is \s. Walk the whole run W = text[pos, end).
  size_t end = pos;
  size_t last_crlf_end = kNoMatch;  // \s*[\r\n]+ backtracks to the last CR/LF of W.
  size_t last_start = pos;          // start of W's last character
  size_t count = 0;
  while (true) {
    const Char c = r.At(end);
    if (!(c.flags & kSpace)) break;
    if (c.flags & kCrLf) last_crlf_end = end + 1;
    last_start = end;
    end += c.len;
    ++count;
  }
  if (last_crlf_end != kNoMatch) return last_crlf_end;
  // \s+(?!\S): all of W at the end of the text; otherwise W minus its last character, which
  // stays to lead the next piece (" word"), if that leaves anything.
  if (end == r.size()) return end;
  if (count >= 2) return last_start;
  return end;  // \s+
}

}  // namespace

// cl100k_base:
//   '(?:[sdmt]|ll|ve|re) (ASCII, any case) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3}
//   | ' '?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
size_t Cl100kPieceEnd(std::string_view text, size_t pos) {
  const Reader r(text);
  if (size_t n = r.ContractionLen(pos)) return pos + n;
  const Char c0 = r.At(pos);
  if (c0.flags & kLetter) return r.SkipWhile(pos + c0.len, kLetter);
  if (c0.flags & kOpt) {
    const Char c1 = r.At(pos + c0.len);
    if (c1.flags & kLetter) return r.SkipWhile(pos + c0.len + c1.len, kLetter);
  }
  return NumberPunctSpace<false>(r, pos, c0);
}

namespace {

// [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+ at `pos`: end, or kNoMatch.
// The greedy upper run U gives back characters until the lower class can match: either the
// character after U is lower (then the lower run continues greedily from there), or the match
// ends just after the last character of U that is itself in the lower class (Lm, Lo, M),
// because every character of U after it is Lu/Lt.
size_t UpperStarLowerPlus(const Reader& r, size_t pos) {
  size_t last_lower_end = kNoMatch;
  while (true) {
    const Char c = r.At(pos);
    if (!(c.flags & kUpper)) {
      if (c.flags & kLower) return r.SkipWhile(pos + c.len, kLower);
      return last_lower_end;
    }
    pos += c.len;
    if (c.flags & kLower) last_lower_end = pos;
  }
}

// [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]* at `pos`: end, or kNoMatch.
size_t UpperPlusLowerStar(const Reader& r, size_t pos) {
  const size_t upper_end = r.SkipWhile(pos, kUpper);
  if (upper_end == pos) return kNoMatch;
  return r.SkipWhile(upper_end, kLower);
}

}  // namespace

// o200k_base:
//   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+<contraction>?
//   | [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*<contraction>?
//   | \p{N}{1,3} | ' '?[^\s\p{L}\p{N}]+[\r\n/]* | \s*[\r\n]+ | \s+(?!\S) | \s+
// Marks (\p{M}) are in the optional leading class and in both case classes, so each letter
// alternative is tried first with the leading character taken, then without it (a leading
// mark then starts the case run), as a backtracking engine does.
size_t O200kPieceEnd(std::string_view text, size_t pos) {
  const Reader r(text);
  const Char c0 = r.At(pos);
  const bool lead = (c0.flags & kOpt) != 0;
  size_t end = lead ? UpperStarLowerPlus(r, pos + c0.len) : kNoMatch;
  if (end == kNoMatch) end = UpperStarLowerPlus(r, pos);
  if (end == kNoMatch && lead) end = UpperPlusLowerStar(r, pos + c0.len);
  if (end == kNoMatch) end = UpperPlusLowerStar(r, pos);
  if (end != kNoMatch) return end + r.ContractionLen(end);
  return NumberPunctSpace<true>(r, pos, c0);
}

}  // namespace ragd::models::internal
