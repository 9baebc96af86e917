#include "models/tokenizer.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "models/bpe_table.h"
#include "models/embedded_data.h"
#include "models/pretokenizer.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace ragd::models {

// The rank table plus what the encoding adds to it (split pattern, special tokens).
class EncodingData {
 public:
  struct Special {
    std::string_view text;
    uint32_t id;
  };

  EncodingData(std::unique_ptr<internal::BpeTable> ranks, internal::SplitPattern pattern,
               std::string_view name, std::vector<Special> specials, uint32_t vocab_size)
      : ranks_(std::move(ranks)),
        pattern_(pattern),
        name_(name),
        specials_(std::move(specials)),
        vocab_size_(vocab_size) {}

  const internal::BpeTable& ranks() const { return *ranks_; }
  internal::SplitPattern pattern() const { return pattern_; }
  std::string_view name() const { return name_; }
  const std::vector<Special>& specials() const { return specials_; }
  uint32_t vocab_size() const { return vocab_size_; }

 private:
  std::unique_ptr<internal::BpeTable> ranks_;
  internal::SplitPattern pattern_;
  std::string_view name_;
  std::vector<Special> specials_;
  uint32_t vocab_size_;
};

namespace {

// Special tokens as js-tiktoken 1.0.21 defines them (scripts/tokenizer/export-ranks.mjs fails
// if a new version changes them). n_vocab = largest id + 1, as tiktoken reports it.
std::unique_ptr<const EncodingData> BuildTable(Encoding e) {
  std::string_view blob;
  internal::SplitPattern pattern = internal::SplitPattern::kCl100k;
  std::string_view name;
  std::vector<EncodingData::Special> specials;
  uint32_t vocab_size = 0;
  switch (e) {
    case Encoding::kCl100kBase:
      blob = internal::Cl100kBaseRanks();
      pattern = internal::SplitPattern::kCl100k;
      name = "cl100k_base";
      specials = {{"<|endoftext|>", 100257},
                  {"<|fim_prefix|>", 100258},
                  {"<|fim_middle|>", 100259},
                  {"<|fim_suffix|>", 100260},
                  {"<|endofprompt|>", 100276}};
      vocab_size = 100277;
      break;
    case Encoding::kO200kBase:
      blob = internal::O200kBaseRanks();
      pattern = internal::SplitPattern::kO200k;
      name = "o200k_base";
      specials = {{"<|endoftext|>", 199999}, {"<|endofprompt|>", 200018}};
      vocab_size = 200019;
      break;
  }
  absl::StatusOr<std::unique_ptr<internal::BpeTable>> ranks = internal::BpeTable::Parse(blob);
  if (!ranks.ok()) {
    // The table is compiled into the binary: a bad one is a build defect, not an input error.
    std::fprintf(stderr, "ragd_models: embedded %s table is corrupt: %s\n",
                 std::string(name).c_str(), ranks.status().ToString().c_str());
    std::abort();
  }
  return std::make_unique<const EncodingData>(std::move(ranks).value(), pattern, name,
                                              std::move(specials), vocab_size);
}

// A per-thread cache of the BPE merge of pre-token pieces: piece bytes -> token ids, each with
// the end of its bytes in the piece (so offsets stay exact).
//
// Why: natural text is Zipfian, so the same pieces (" the", " model", "을") recur, and the
// prompt path tokenizes the same source chunks again and again (counting, shingles). Pieces
// that are a token of their own (93% of English pieces, ~half of Korean ones) are one Rank
// lookup and never reach the cache: looking them up in it first cost more instructions on both
// corpora and crowded out the merged pieces. The rest cost a byte-pair merge (MergeQuadratic:
// about n + 2 * merges Rank lookups), which a hit replaces by one hash, one compare and a
// copy. BPE of a piece does not depend on its context, so a hit is exactly what a merge gives.
//
// Bound: direct-mapped, kCacheSlots slots of one 64-byte cache line each: 256 KiB per thread
// per encoding, allocated on a thread's first merged piece, freed at thread exit. Only pieces
// of at most kCacheMaxPieceLen bytes that merge into at most kCacheMaxTokens tokens are cached
// (97% of merged English pieces, 99% of Korean ones); longer ones (base64, runs of spaces)
// always merge. A new piece overwrites whatever shared its slot: eviction is one store, there
// is no clear pause, and adversarial input (random bytes, many distinct pieces) costs at most
// one wasted slot write per merged piece. Thread-local, so no locks and no sharing.
// On the bench's English corpus (bench/README.md), 4,096 slots hit about 70% of the merged
// pieces (an unbounded cache: 80%) and saved 13-18% of instructions; 16,384 slots hit 6
// points more for 4x the memory, 1,024 slots 6 points fewer. 24 bytes is what fits beside 8
// tokens in the line (16 did slightly worse).
constexpr size_t kCacheSlots = 4096;  // power of two
constexpr size_t kCacheMaxPieceLen = 24;
constexpr size_t kCacheMaxTokens = 8;

struct alignas(64) CacheSlot {
  // rank | end << 24: ranks are < 2^24 (BpeTable::Parse caps the table at 16 MiB and 2 bytes
  // per token), `end` is where the token's bytes end in the piece.
  uint32_t tokens[kCacheMaxTokens];
  char bytes[kCacheMaxPieceLen];
  uint8_t len;  // 0: empty slot (pieces are never empty)
  uint8_t count;
};
static_assert(sizeof(CacheSlot) == 64);

class PieceCache {
 public:
  // The slot where `piece` (1..kCacheMaxPieceLen bytes) is or would be cached.
  CacheSlot& SlotFor(std::string_view piece) {
    if (slots_ == nullptr) slots_ = std::make_unique<CacheSlot[]>(kCacheSlots);  // zeroed
    return slots_[XXH3_64bits(piece.data(), piece.size()) & (kCacheSlots - 1)];
  }

 private:
  std::unique_ptr<CacheSlot[]> slots_;
};

// One cache per thread per encoding. Not a static local of the EncodeOrdinary template, which
// would give every Sink type a cache of its own.
PieceCache& ThreadPieceCache(Encoding e) {
  thread_local PieceCache caches[2];
  switch (e) {
    case Encoding::kCl100kBase:
      return caches[0];
    case Encoding::kO200kBase:
      return caches[1];
  }
  std::abort();  // not a valid enumerator
}

}  // namespace

Tokenizer::Tokenizer(Encoding e) : encoding_(e), table_(BuildTable(e)) {}
Tokenizer::~Tokenizer() = default;

const Tokenizer& Tokenizer::Get(Encoding e) {
  // Leaked on purpose: destruction order at exit must not matter to threads still encoding.
  switch (e) {
    case Encoding::kCl100kBase: {
      static const Tokenizer* const cl100k = new Tokenizer(e);
      return *cl100k;
    }
    case Encoding::kO200kBase: {
      static const Tokenizer* const o200k = new Tokenizer(e);
      return *o200k;
    }
  }
  std::abort();  // not a valid enumerator
}

absl::StatusOr<Encoding> Tokenizer::EncodingByName(std::string_view name) {
  if (name == "cl100k_base") return Encoding::kCl100kBase;
  if (name == "o200k_base") return Encoding::kO200kBase;
  return absl::NotFoundError("unknown tokenizer encoding \"" + std::string(name) +
                             "\"; known: cl100k_base, o200k_base");
}

absl::StatusOr<Encoding> Tokenizer::EncodingForModel(std::string_view model) {
  // tiktoken's MODEL_TO_ENCODING / MODEL_PREFIX_TO_ENCODING. o200k prefixes are tested first:
  // "gpt-4o" and "gpt-4.1" also start with "gpt-4".
  static constexpr std::string_view kO200kPrefixes[] = {
      "gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "chatgpt-4o", "o1", "o3", "o4-mini",
  };
  static constexpr std::string_view kCl100kPrefixes[] = {
      "gpt-4", "gpt-3.5-turbo", "gpt-35-turbo", "text-embedding-ada-002", "text-embedding-3-",
  };
  auto matches = [&](std::string_view prefix) {
    // A prefix matches the whole name or a dash-separated variant ("gpt-4o-mini",
    // "gpt-4-32k"), never a different family ("o1" must not claim "o100").
    return model == prefix ||
           (model.starts_with(prefix) && (prefix.back() == '-' || model[prefix.size()] == '-'));
  };
  for (std::string_view prefix : kO200kPrefixes) {
    if (matches(prefix)) return Encoding::kO200kBase;
  }
  for (std::string_view prefix : kCl100kPrefixes) {
    if (matches(prefix)) return Encoding::kCl100kBase;
  }
  return absl::NotFoundError("no tokenizer known for model \"" + std::string(model) + "\"");
}

std::string_view Tokenizer::name() const { return table_->name(); }
uint32_t Tokenizer::vocab_size() const { return table_->vocab_size(); }

template <typename Sink>
void Tokenizer::EncodeOrdinary(std::string_view text, Sink&& sink) const {
  const internal::BpeTable& ranks = table_->ranks();
  const internal::SplitPattern pattern = table_->pattern();
  const size_t max_len = ranks.max_token_len();
  std::vector<internal::BpeTable::PieceToken> tokens;
  PieceCache* cache = nullptr;  // fetched on the first piece that needs a merge
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t end = internal::PieceEnd(pattern, text, pos);
    const size_t len = end - pos;
    // Most pieces (common words with their leading space) are a token of their own.
    if (len <= max_len) {
      const uint32_t rank = ranks.Rank(text.data() + pos, len);
      if (rank != internal::BpeTable::kNoRank) {
        if (!sink(rank, pos, end)) return;
        pos = end;
        continue;
      }
    }
    const std::string_view piece = text.substr(pos, len);
    CacheSlot* slot = nullptr;
    if (len <= kCacheMaxPieceLen) {
      if (cache == nullptr) cache = &ThreadPieceCache(encoding_);
      slot = &cache->SlotFor(piece);
      if (slot->len == len && std::memcmp(slot->bytes, piece.data(), len) == 0) {
        size_t begin = pos;
        for (size_t i = 0; i < slot->count; ++i) {
          const size_t token_end = pos + (slot->tokens[i] >> 24);
          if (!sink(slot->tokens[i] & 0xFFFFFF, begin, token_end)) return;
          begin = token_end;
        }
        pos = end;
        continue;
      }
    }
    tokens.clear();
    ranks.Encode(piece, &tokens);
    const size_t count = tokens.size();
    if (slot != nullptr && count <= kCacheMaxTokens) {
      slot->len = static_cast<uint8_t>(len);
      slot->count = static_cast<uint8_t>(count);
      std::memcpy(slot->bytes, piece.data(), len);
      for (size_t i = 0; i < count; ++i) {
        slot->tokens[i] = tokens[i].rank | tokens[i].end << 24;
      }
    }
    size_t begin = pos;
    for (const internal::BpeTable::PieceToken& t : tokens) {
      if (!sink(t.rank, begin, pos + t.end)) return;
      begin = pos + t.end;
    }
    pos = end;
  }
}

std::vector<uint32_t> Tokenizer::Encode(std::string_view text) const {
  std::vector<uint32_t> ids;
  ids.reserve(text.size() / 3 + 4);  // about 4 bytes per token in English, fewer elsewhere
  EncodeOrdinary(text, [&](uint32_t id, size_t, size_t) {
    ids.push_back(id);
    return true;
  });
  return ids;
}

std::vector<uint32_t> Tokenizer::Encode(std::string_view text, const EncodeOptions& options) const {
  if (!options.allow_special_tokens) return Encode(text);
  std::vector<uint32_t> ids;
  auto push = [&](uint32_t id, size_t, size_t) {
    ids.push_back(id);
    return true;
  };
  // Like tiktoken: split at the leftmost special-token text, encode the ordinary text before
  // it on its own (the split pattern's look-ahead sees the end of that segment), emit the id.
  size_t start = 0;
  size_t search = 0;
  while (true) {
    const size_t at = text.find("<|", search);
    if (at == std::string_view::npos) break;
    const EncodingData::Special* found = nullptr;
    for (const EncodingData::Special& s : table_->specials()) {
      if (text.substr(at).starts_with(s.text)) {
        found = &s;
        break;
      }
    }
    if (found == nullptr) {
      search = at + 1;
      continue;
    }
    EncodeOrdinary(text.substr(start, at - start), push);
    ids.push_back(found->id);
    start = search = at + found->text.size();
  }
  EncodeOrdinary(text.substr(start), push);
  return ids;
}

std::vector<TokenSpan> Tokenizer::EncodeWithOffsets(std::string_view text) const {
  std::vector<TokenSpan> spans;
  spans.reserve(text.size() / 3 + 4);
  EncodeOrdinary(text, [&](uint32_t id, size_t begin, size_t end) {
    spans.push_back(TokenSpan{id, begin, end});
    return true;
  });
  return spans;
}

size_t Tokenizer::Count(std::string_view text) const {
  size_t count = 0;
  EncodeOrdinary(text, [&](uint32_t, size_t, size_t) {
    ++count;
    return true;
  });
  return count;
}

std::string_view Tokenizer::TokenBytes(uint32_t id) const {
  const internal::BpeTable& ranks = table_->ranks();
  if (id < ranks.size()) return ranks.Bytes(id);
  for (const EncodingData::Special& s : table_->specials()) {
    if (s.id == id) return s.text;
  }
  return {};
}

std::string Tokenizer::Decode(std::span<const uint32_t> ids) const {
  std::string out;
  size_t size = 0;
  for (uint32_t id : ids) size += TokenBytes(id).size();
  out.reserve(size);
  for (uint32_t id : ids) out.append(TokenBytes(id));
  return out;
}

size_t Tokenizer::PrefixBytesForTokens(std::string_view text, size_t max_tokens) const {
  if (max_tokens == 0) return 0;
  // Ends of the first max_tokens tokens; the last one is the answer unless backed off below.
  std::vector<size_t> ends;
  EncodeOrdinary(text, [&](uint32_t, size_t, size_t end) {
    ends.push_back(end);
    return ends.size() < max_tokens;
  });
  if (ends.size() < max_tokens) return text.size();
  // A token may end inside a UTF-8 sequence (a rare character split into byte tokens): back off
  // to that sequence's first byte (at most 3 steps, so invalid input cannot walk far). And
  // the prefix, encoded on its own, is what a model API will count: in rare cases (a run of
  // whitespace cut before its last newline) the split step cuts it into more tokens than
  // Encode(text) had there, so give back whole tokens until it fits.
  auto utf8_floor = [&](size_t end) {
    for (int i = 0; i < 3 && end > 0 && end < text.size() &&
                    (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80;
         ++i) {
      --end;
    }
    return end;
  };
  size_t k = ends.size();
  size_t end = utf8_floor(ends[k - 1]);
  while (end > 0 && Count(text.substr(0, end)) > max_tokens) {
    while (k > 0 && ends[k - 1] >= end) --k;
    end = k > 0 ? utf8_floor(ends[k - 1]) : 0;
  }
  return end;
}

}  // namespace ragd::models
