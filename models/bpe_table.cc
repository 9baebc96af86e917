#include "models/bpe_table.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <functional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace ragd::models::internal {
namespace {

constexpr size_t kHeaderSize = 32;
constexpr uint32_t kFormatVersion = 1;
// Pieces up to this many bytes use the quadratic merge on the stack (nearly all real pieces
// are words of under 20 bytes); longer ones use the heap merge.
constexpr size_t kQuadraticMaxLen = 128;

uint32_t LoadU32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;  // little-endian host (x86-64, aarch64), as the file
}

uint32_t Fnv1a32(std::string_view data) {
  uint32_t h = 0x811c9dc5u;
  for (unsigned char c : data) h = (h ^ c) * 0x01000193u;
  return h;
}

inline uint64_t HashBytes(const char* p, size_t n) { return XXH3_64bits(p, n); }

constexpr size_t kShortMax = 7;

// The 1..7 bytes at p packed little-endian, with n in the top byte: distinct strings give
// distinct non-zero keys. Overlapping loads (XXH3's trick) avoid a byte loop.
inline uint64_t ShortKey(const char* p, size_t n) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  uint64_t v;
  if (n >= 4) {
    uint32_t lo;
    uint32_t hi;
    std::memcpy(&lo, b, 4);
    std::memcpy(&hi, b + n - 4, 4);
    v = lo | uint64_t{hi} << (8 * (n - 4));
  } else {
    v = uint64_t{b[0]} | uint64_t{b[n >> 1]} << (8 * (n >> 1)) |
        uint64_t{b[n - 1]} << (8 * (n - 1));
  }
  return v | uint64_t{n} << 56;
}

inline uint64_t ShortHash(uint64_t key) {
  key *= 0x9E3779B97F4A7C15ull;
  return key ^ (key >> 29);
}

}  // namespace

absl::StatusOr<std::unique_ptr<BpeTable>> BpeTable::Parse(std::string_view blob) {
  if (blob.size() < kHeaderSize || std::memcmp(blob.data(), "RAGDBPE\0", 8) != 0) {
    return absl::DataLossError("BPE table: bad magic");
  }
  const uint32_t version = LoadU32(blob.data() + 8);
  const uint32_t count = LoadU32(blob.data() + 12);
  const uint32_t payload_size = LoadU32(blob.data() + 16);
  const uint32_t checksum = LoadU32(blob.data() + 20);
  if (version != kFormatVersion) {
    return absl::DataLossError(absl::StrCat("BPE table: unsupported version ", version));
  }
  // Sizes are validated before anything is allocated from them.
  if (payload_size != blob.size() - kHeaderSize || payload_size >= (1u << 24) ||
      count > payload_size / 2) {
    return absl::DataLossError("BPE table: inconsistent sizes");
  }
  const std::string_view payload = blob.substr(kHeaderSize);
  if (Fnv1a32(payload) != checksum) return absl::DataLossError("BPE table: checksum mismatch");

  std::unique_ptr<BpeTable> t(new BpeTable());
  t->data_ = payload.data();
  t->entries_.reserve(count);
  size_t pos = 0;
  for (uint32_t rank = 0; rank < count; ++rank) {
    const size_t len = static_cast<unsigned char>(payload[pos]);
    if (len == 0 || pos + 1 + len > payload.size()) {
      return absl::DataLossError(absl::StrCat("BPE table: bad record for rank ", rank));
    }
    t->entries_.push_back(static_cast<uint32_t>((pos + 1) << 8 | len));
    t->max_token_len_ = std::max(t->max_token_len_, len);
    pos += 1 + len;
  }
  if (pos != payload.size()) return absl::DataLossError("BPE table: trailing bytes");

  size_t short_count = 0;
  for (uint32_t rank = 0; rank < count; ++rank) short_count += t->Bytes(rank).size() <= kShortMax;
  const size_t short_capacity = std::bit_ceil(std::max<size_t>(16, 2 * short_count));
  const size_t capacity = std::bit_ceil(std::max<size_t>(16, 2 * (count - short_count)));
  t->short_keys_.assign(short_capacity, 0);
  t->short_ranks_.assign(short_capacity, kNoRank);
  t->short_mask_ = short_capacity - 1;
  t->slots_.assign(capacity, Slot{kNoRank, 0});
  t->mask_ = capacity - 1;
  for (uint32_t rank = 0; rank < count; ++rank) {
    const std::string_view bytes = t->Bytes(rank);
    if (t->Rank(bytes.data(), bytes.size()) != kNoRank) {
      return absl::DataLossError(absl::StrCat("BPE table: duplicate token at rank ", rank));
    }
    if (bytes.size() <= kShortMax) {
      const uint64_t key = ShortKey(bytes.data(), bytes.size());
      size_t i = ShortHash(key) & t->short_mask_;
      while (t->short_keys_[i] != 0) i = (i + 1) & t->short_mask_;
      t->short_keys_[i] = key;
      t->short_ranks_[i] = rank;
      continue;
    }
    size_t i = HashBytes(bytes.data(), bytes.size()) & t->mask_;
    while (t->slots_[i].rank != kNoRank) i = (i + 1) & t->mask_;
    t->slots_[i] = Slot{rank, t->entries_[rank]};
  }
  t->pair_rank_.assign(size_t{1} << 16, kNoRank);
  for (uint32_t rank = 0; rank < count; ++rank) {
    const std::string_view bytes = t->Bytes(rank);
    if (bytes.size() == 2) {
      t->pair_rank_[static_cast<unsigned char>(bytes[0]) << 8 |
                    static_cast<unsigned char>(bytes[1])] = rank;
    }
  }
  // Every byte must be a token, or some inputs could not be encoded at all.
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    t->byte_rank_[b] = t->Rank(&c, 1);
    if (t->byte_rank_[b] == kNoRank) {
      return absl::DataLossError(absl::StrCat("BPE table: byte ", b, " has no rank"));
    }
  }
  return t;
}

uint32_t BpeTable::Rank(const char* p, size_t n) const {
  if (n == 2 && !pair_rank_.empty()) {
    return pair_rank_[static_cast<unsigned char>(p[0]) << 8 | static_cast<unsigned char>(p[1])];
  }
  if (n <= kShortMax) {
    const uint64_t key = ShortKey(p, n);
    size_t i = ShortHash(key) & short_mask_;
    while (true) {
      const uint64_t k = short_keys_[i];
      if (k == key) return short_ranks_[i];
      if (k == 0) return kNoRank;
      i = (i + 1) & short_mask_;
    }
  }
  if (n > max_token_len_) return kNoRank;
  size_t i = HashBytes(p, n) & mask_;
  while (true) {
    const Slot& s = slots_[i];
    if (s.rank == kNoRank) return kNoRank;
    if ((s.entry & 0xFF) == n && std::memcmp(data_ + (s.entry >> 8), p, n) == 0) return s.rank;
    i = (i + 1) & mask_;
  }
}

void BpeTable::Encode(std::string_view piece, std::vector<PieceToken>* out) const {
  if (piece.size() == 1) {
    out->push_back({byte_rank_[static_cast<unsigned char>(piece[0])], 1});
  } else if (piece.size() <= kQuadraticMaxLen) {
    MergeQuadratic(piece, out);
  } else {
    MergeHeap(piece, out);
  }
}

void BpeTable::MergeQuadratic(std::string_view piece, std::vector<PieceToken>* out) const {
  // parts[i]: a part starting at `start`, the rank of the token it is (`token`), and the rank
  // of its concatenation with the next part (`pair`). A sentinel part starts at n.
  struct Part {
    uint32_t start;
    uint32_t token;
    uint32_t pair;
  };
  const size_t n = piece.size();
  const char* p = piece.data();
  Part stack_parts[kQuadraticMaxLen + 1];
  std::vector<Part> heap_parts;
  Part* parts = stack_parts;
  if (n > kQuadraticMaxLen) {
    heap_parts.resize(n + 1);
    parts = heap_parts.data();
  }
  for (size_t i = 0; i < n; ++i) {
    parts[i] = {static_cast<uint32_t>(i), byte_rank_[static_cast<unsigned char>(p[i])],
                i + 1 < n ? Rank(p + i, 2) : kNoRank};
  }
  parts[n] = {static_cast<uint32_t>(n), kNoRank, kNoRank};
  size_t count = n + 1;  // parts including the sentinel

  // Rank of parts[i] + parts[i + 1], i.e. bytes [start(i), start(i + 2)).
  auto pair_rank = [&](size_t i) {
    if (i + 2 >= count) return kNoRank;
    return Rank(p + parts[i].start, parts[i + 2].start - parts[i].start);
  };
  while (true) {
    uint32_t min_rank = kNoRank;
    size_t min_i = 0;
    for (size_t i = 0; i + 1 < count; ++i) {
      if (parts[i].pair < min_rank) {  // strict: the leftmost pair wins ties
        min_rank = parts[i].pair;
        min_i = i;
      }
    }
    if (min_rank == kNoRank) break;
    parts[min_i].token = min_rank;
    std::memmove(&parts[min_i + 1], &parts[min_i + 2], (count - min_i - 2) * sizeof(Part));
    --count;
    parts[min_i].pair = pair_rank(min_i);
    if (min_i > 0) parts[min_i - 1].pair = pair_rank(min_i - 1);
  }
  for (size_t i = 0; i + 1 < count; ++i) out->push_back({parts[i].token, parts[i + 1].start});
}

void BpeTable::MergeHeap(std::string_view piece, std::vector<PieceToken>* out) const {
  // Node i is the part starting at byte i (a merge keeps the left part's start), linked to
  // its neighbours; node n is a sentinel. `pair` is the rank of the node merged with its next,
  // kNoRank when none (or once the node is merged away).
  struct Node {
    uint32_t prev;
    uint32_t next;
    uint32_t token;
    uint32_t pair;
  };
  const uint32_t n = static_cast<uint32_t>(piece.size());
  const char* p = piece.data();
  std::vector<Node> nodes(n + 1);
  // Heap keys are rank << 32 | start: popping the minimum gives the lowest rank, leftmost on
  // ties, as the quadratic scan does. Stale keys (the node's pair changed) are skipped.
  std::vector<uint64_t> heap;
  heap.reserve(n);
  auto key = [](uint32_t rank, uint32_t i) { return uint64_t{rank} << 32 | i; };
  for (uint32_t i = 0; i <= n; ++i) {
    nodes[i] = {i - 1, i + 1, i < n ? byte_rank_[static_cast<unsigned char>(p[i])] : kNoRank,
                i + 1 < n ? Rank(p + i, 2) : kNoRank};
    if (nodes[i].pair != kNoRank) heap.push_back(key(nodes[i].pair, i));
  }
  std::make_heap(heap.begin(), heap.end(), std::greater<>());

  // Rank of node i merged with its next node.
  auto pair_rank = [&](uint32_t i) {
    const uint32_t j = nodes[i].next;
    if (j >= n) return kNoRank;
    return Rank(p + i, nodes[j].next - i);
  };
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    const uint64_t top = heap.back();
    heap.pop_back();
    const uint32_t rank = static_cast<uint32_t>(top >> 32);
    const uint32_t i = static_cast<uint32_t>(top);
    if (nodes[i].pair != rank) continue;  // stale
    const uint32_t j = nodes[i].next;
    nodes[i].token = rank;
    nodes[i].next = nodes[j].next;
    nodes[nodes[j].next].prev = i;
    nodes[j].pair = kNoRank;
    nodes[i].pair = pair_rank(i);
    if (nodes[i].pair != kNoRank) {
      heap.push_back(key(nodes[i].pair, i));
      std::push_heap(heap.begin(), heap.end(), std::greater<>());
    }
    if (i > 0) {
      const uint32_t h = nodes[i].prev;
      nodes[h].pair = pair_rank(h);
      if (nodes[h].pair != kNoRank) {
        heap.push_back(key(nodes[h].pair, h));
        std::push_heap(heap.begin(), heap.end(), std::greater<>());
      }
    }
  }
  for (uint32_t i = 0; i < n; i = nodes[i].next) out->push_back({nodes[i].token, nodes[i].next});
}

}  // namespace ragd::models::internal
