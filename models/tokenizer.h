#pragma once
// Byte-pair-encoding tokenizers of OpenAI models, exact to tiktoken: `cl100k_base`
// (text-embedding-ada-002, gpt-35-turbo, gpt-4) and `o200k_base` (gpt-4o, gpt-4.1, o-series).
//
// Token ids equal those of the reference implementation js-tiktoken 1.0.21 (tests/models holds
// golden ids produced by it). The rank tables are embedded in the binary (models/data).
//
// Thread safety: a Tokenizer is immutable after construction; every method is const and may be
// called concurrently from any number of threads. Each thread that encodes keeps a bounded
// cache of BPE merges (at most 256 KiB per encoding, freed when the thread exits; see
// tokenizer.cc); it never changes a result.
//
// Input text is expected to be valid UTF-8 (callers validate with ragd::IsValidUtf8 first).
// Invalid UTF-8 never crashes: each byte that is not part of a well-formed sequence is split
// like a punctuation character, so it is encoded byte by byte and Decode(Encode(x)) == x still
// holds for any byte string. Such ids are of course not what a tiktoken running over a
// lossily-decoded string would produce.
//
// Known, deliberate divergences from Python tiktoken (which uses Rust's regex engine), all
// inherited from js-tiktoken, the reference: `\s` means JavaScript's whitespace (includes
// U+FEFF, excludes U+0085); contractions ('s, 'LL, ...) are matched for ASCII letters only
// (Rust's case-insensitive match also accepts U+017F and U+212A). Unicode categories come from
// libutf8proc (Debian 12: Unicode 15.0) while Node.js 20 knows Unicode 17.0: the ~10,600 code
// points assigned since 15.0 (and U+0295, re-categorized) can split differently. A fuzz run of
// 98k random strings that avoid them matched js-tiktoken exactly (scripts/tokenizer).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ragd::models {

enum class Encoding { kCl100kBase, kO200kBase };

// One token of Encode's output and the bytes of the input it covers: text[begin, end).
// A token may cover part of a UTF-8 sequence (rare characters are split into byte tokens).
struct TokenSpan {
  uint32_t id = 0;
  size_t begin = 0;
  size_t end = 0;
};

// Per-call options of Encode.
struct EncodeOptions {
  // When true, the literal text of a special token (e.g. "<|endoftext|>") becomes that token's
  // id. When false, it is encoded as ordinary text (tiktoken's `encode_ordinary`): text from
  // users must never be able to inject control tokens.
  // Default: false.
  bool allow_special_tokens = false;
};

class EncodingData;

class Tokenizer {
 public:
  // The shared tokenizer of `e`, built on first use (tens of milliseconds: it indexes the
  // embedded rank table) and never destroyed. Aborts if the embedded table is corrupt, which
  // is a build error, not a run-time condition.
  static const Tokenizer& Get(Encoding e);

  // "cl100k_base" or "o200k_base". NOT_FOUND for any other name.
  static absl::StatusOr<Encoding> EncodingByName(std::string_view name);

  // The encoding of an OpenAI model or Azure OpenAI deployment model name, following tiktoken's
  // table: "gpt-4o*", "gpt-4.1*", "gpt-4.5*", "gpt-5*", "o1*", "o3*", "o4-mini*",
  // "chatgpt-4o*" -> o200k_base; "gpt-4*", "gpt-3.5-turbo*", "gpt-35-turbo*",
  // "text-embedding-ada-002", "text-embedding-3-*" -> cl100k_base. NOT_FOUND otherwise.
  static absl::StatusOr<Encoding> EncodingForModel(std::string_view model);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Token ids of `text`, special-token text treated as ordinary text.
  std::vector<uint32_t> Encode(std::string_view text) const;
  std::vector<uint32_t> Encode(std::string_view text, const EncodeOptions& options) const;

  // Encode with the byte span of every token; spans are contiguous and cover `text`.
  // Special-token text is ordinary text.
  std::vector<TokenSpan> EncodeWithOffsets(std::string_view text) const;

  // Encode(text).size(), without materializing the ids.
  size_t Count(std::string_view text) const;

  // The bytes of `ids` concatenated: Decode(Encode(x)) == x. The result may end inside a UTF-8
  // sequence when `ids` is a slice of a longer encoding. Special-token ids decode to their text;
  // ids that are not in the vocabulary are skipped (as js-tiktoken does).
  std::string Decode(std::span<const uint32_t> ids) const;

  // The bytes of one token (a view into static data), or an empty view for an unknown id.
  std::string_view TokenBytes(uint32_t id) const;

  // Byte offset in `text` at which its first `max_tokens` tokens (of Encode(text)) end, for
  // chunking and truncation on token boundaries. The offset is moved back to the start of a
  // UTF-8 sequence if the token boundary would split one, and by whole tokens in the rare case
  // that the prefix, encoded on its own, would have more than `max_tokens` tokens. Hence
  // text[0, result) is valid UTF-8 if `text` is, and Count(text[0, result)) <= max_tokens;
  // usually it is equal. text.size() when Count(text) <= max_tokens. Costs about two Encodes
  // of the prefix.
  size_t PrefixBytesForTokens(std::string_view text, size_t max_tokens) const;

  // "cl100k_base" or "o200k_base".
  std::string_view name() const;
  Encoding encoding() const { return encoding_; }
  // One more than the largest token id, special tokens included (100277 / 200019).
  uint32_t vocab_size() const;

 private:
  explicit Tokenizer(Encoding e);

  // Runs the pre-tokenizer and BPE over ordinary text and calls sink(id, begin, end) for every
  // token, offsets relative to `text`. Stops early when sink returns false.
  template <typename Sink>
  void EncodeOrdinary(std::string_view text, Sink&& sink) const;

  Encoding encoding_;
  std::unique_ptr<const EncodingData> table_;
};

}  // namespace ragd::models
