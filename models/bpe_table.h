#pragma once
// The rank table of one BPE encoding and the byte-pair merge over it, internal to models/.
//
// A token's rank is its id, and also its merge priority: BPE repeatedly merges the adjacent
// pair of parts whose concatenation has the lowest rank (the leftmost such pair on ties) until
// no adjacent pair is a token (tiktoken's `byte_pair_merge`).
//
// Thread safety: immutable after Parse; every method is const and safe from any thread.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ragd::models::internal {

class BpeTable {
 public:
  static constexpr uint32_t kNoRank = UINT32_MAX;

  // One token of a piece: its rank and the end of its bytes, relative to the piece.
  struct PieceToken {
    uint32_t rank;
    uint32_t end;
  };

  // Indexes a rank file in the format of models/data/README.md. `blob` must outlive the table
  // (tokens are views into it; the embedded tables are static). DATA_LOSS when the header,
  // checksum or records are inconsistent.
  static absl::StatusOr<std::unique_ptr<BpeTable>> Parse(std::string_view blob);

  // Rank of the byte string [p, p + n), or kNoRank.
  uint32_t Rank(const char* p, size_t n) const;

  // The bytes of `rank`; requires rank < size().
  std::string_view Bytes(uint32_t rank) const {
    const uint32_t e = entries_[rank];
    return std::string_view(data_ + (e >> 8), e & 0xFF);
  }

  // Number of tokens; ranks are 0 .. size() - 1.
  uint32_t size() const { return static_cast<uint32_t>(entries_.size()); }
  size_t max_token_len() const { return max_token_len_; }

  // Appends the tokens of `piece` (non-empty) to `out`.
  void Encode(std::string_view piece, std::vector<PieceToken>* out) const;

  // The two merge implementations Encode chooses between by piece length; public so that tests
  // can check that they agree. MergeQuadratic is tiktoken's: O(n^2) but with tiny constants and
  // no allocation for short pieces. MergeHeap keeps a linked list of parts and a min-heap of
  // (rank, position) with lazy deletion: O(n log n) for pathological long pieces (10k spaces,
  // base64 blobs). Both merge in the same order, hence produce the same tokens.
  void MergeQuadratic(std::string_view piece, std::vector<PieceToken>* out) const;
  void MergeHeap(std::string_view piece, std::vector<PieceToken>* out) const;

 private:
  BpeTable() = default;

  // Token bytes live in the blob; entries_[rank] = offset << 8 | length (offsets < 16 MiB,
  // lengths < 256, both checked by Parse).
  const char* data_ = nullptr;
  std::vector<uint32_t> entries_;
  // Open addressing with linear probing, load <= 0.5, in two tables. Tokens of up to 7 bytes
  // (most lookups) are keyed by their bytes packed into a uint64_t with the length in the top
  // byte: one integer compare, no indirection. Longer ones: a slot is {rank, entry}, kNoRank
  // marks an empty slot, and the entry's length is compared before the bytes.
  struct Slot {
    uint32_t rank;
    uint32_t entry;
  };
  std::vector<Slot> slots_;
  std::vector<uint64_t> short_keys_;  // 0 marks an empty slot
  std::vector<uint32_t> short_ranks_;
  uint64_t short_mask_ = 0;
  uint64_t mask_ = 0;
  size_t max_token_len_ = 0;
  uint32_t byte_rank_[256] = {};
  // Rank of every two-byte string (kNoRank if none), indexed by b0 << 8 | b1: the first round
  // of every merge looks up all adjacent byte pairs, so this table (256 KiB) saves most hashing.
  std::vector<uint32_t> pair_rank_;
};

}  // namespace ragd::models::internal
