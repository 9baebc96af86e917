#pragma once
// The built-in offline embedder: signed feature hashing ("the hashing trick", Weinberger et al.
// 2009) of words and character n-grams. Deterministic, needs no model file and no network, fast
// (tens of thousands of chunks per second per core), and works for any script.
//
// Honest limits: it is LEXICAL, not semantic. Two texts are similar when they share words or
// pieces of words; synonyms, paraphrases and translations are not recognised ("car" and
// "automobile" are unrelated). It is the default so that ragd works out of the box and in tests;
// configure azure-openai or openai for semantic search.
//
// Features of a text, after Unicode NFKC normalisation (only when the text needs it) and
// lowercasing (libutf8proc):
//   - every word: a maximal run of letters, digits and combining marks (Unicode L*, N*, M*);
//   - character n-grams of every word padded with begin/end markers, n in [char_ngram_min,
//     char_ngram_max]. They match inflected forms ("index", "indexes") and make Korean work:
//     a Hangul syllable is one character, and particles attach to nouns ("모델을", "모델은"
//     share "^모", "모델");
//   - optionally every pair of adjacent words.
// Each distinct feature gets a 64-bit key (words: XXH3 of their code points via ragd::Hash64;
// n-grams of up to three code points: the code points packed into the key, no hashing needed),
// mixed and mapped to a dimension and a sign, weighted by its kind and by sublinear term
// frequency 1 + ln(tf); the vector is L2-normalised. A text
// with no word characters at all (e.g. "!!!") hashes its whole trimmed content as one feature,
// so every non-empty text gets a unit vector.
//
// The vectors are a pure function of (text, dimension, options): model_id() encodes all three,
// and changing this algorithm must change the "hash-v1" in it.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "models/embedder.h"

namespace ragd::models {

// Thread safety: immutable after construction; all methods may be called concurrently.
class LocalEmbedder final : public Embedder {
 public:
  // `dimension` must be at least 1 (EmbedderConfig::Validate checks it). `observer` (not owned,
  // may be null) gets one record per non-empty Embed call.
  LocalEmbedder(size_t dimension, const LocalEmbedderOptions& options,
                EmbeddingObserver* observer = nullptr);

  size_t dimension() const override { return dimension_; }
  // "local/hash-v1-<dimension>", plus a suffix when the options are not the defaults.
  std::string model_id() const override;
  // {"local", "", model_id(), dimension()}.
  EmbedderIdentity identity() const override { return {"local", "", model_id_, dimension_}; }
  bool in_process() const override { return true; }
  // INVALID_ARGUMENT for an empty string or invalid UTF-8 (naming the input's index).
  // `usage` is left unchanged: nothing is billed.
  absl::StatusOr<std::vector<std::vector<float>>> Embed(const std::vector<std::string>& texts,
                                                        EmbeddingUsage* usage) override;

  // Embeds one text into `out` (resized to dimension()); the unit of work of Embed.
  absl::Status EmbedOne(std::string_view text, std::vector<float>* out) const;

 private:
  std::string MakeModelId() const;

  size_t dimension_;
  LocalEmbedderOptions options_;
  EmbeddingObserver* observer_;
  std::string model_id_;
};

}  // namespace ragd::models
