#pragma once
// The split ("pre-tokenization") step of tiktoken, internal to models/: cuts text into the
// pieces that BPE then encodes one at a time. tiktoken defines the pieces by a regular
// expression (`pat_str`) that uses \p{L}, \p{N}, case classes and a look-ahead, which neither
// std::regex nor RE2 can run; this is a hand-written matcher that returns, piece by piece,
// exactly what JavaScript's RegExp (the reference, js-tiktoken) matches. The patterns are
// quoted in pretokenizer.cc beside the code that implements each alternative.
//
// Thread safety: stateless functions; safe from any thread.

#include <cstddef>
#include <string_view>

namespace ragd::models::internal {

enum class SplitPattern { kCl100k, kO200k };

// End (exclusive byte offset) of the piece that starts at `pos`; requires pos < text.size().
// Pieces are never empty and tile the text, so iterating `pos = PieceEnd(...)` from 0 visits
// every byte once. A byte that does not start a well-formed UTF-8 sequence is classified as a
// one-byte punctuation character (see tokenizer.h).
size_t Cl100kPieceEnd(std::string_view text, size_t pos);
size_t O200kPieceEnd(std::string_view text, size_t pos);

inline size_t PieceEnd(SplitPattern pattern, std::string_view text, size_t pos) {
  switch (pattern) {
    case SplitPattern::kCl100k:
      return Cl100kPieceEnd(text, pos);
    case SplitPattern::kO200k:
      return O200kPieceEnd(text, pos);
  }
  return text.size();
}

}  // namespace ragd::models::internal
