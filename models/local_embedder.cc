#include "models/local_embedder.h"

#include <utf8proc.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/hash.h"
#include "common/utf8.h"

namespace ragd::models {
namespace {

// Relative weights of the feature kinds. A word of k characters yields about
// k * (char_ngram_max - char_ngram_min + 1) n-grams but one word feature, so n-grams get a
// smaller weight each; word identity should still count for more than any single n-gram.
constexpr float kWordWeight = 1.0f;
constexpr float kNgramWeight = 0.5f;
constexpr float kBigramWeight = 0.7f;

// Salts that separate the feature kinds: the word "ab" and the bigram "ab" must not collide.
constexpr uint64_t kWordSalt = 0x9e3779b97f4a7c15ULL;
constexpr uint64_t kNgramSalt = 0xc2b2ae3d27d4eb4fULL;
constexpr uint64_t kBigramSalt = 0x165667b19e3779f9ULL;
constexpr uint64_t kWholeTextSalt = 0x27d4eb2f165667c5ULL;

// Word begin/end markers, as code points of the padded word. Control characters never occur
// inside a word (words are letters, digits and marks), so they cannot be confused with content.
constexpr uint32_t kBeginMarker = 1;
constexpr uint32_t kEndMarker = 2;

// splitmix64's finaliser: spreads a salted XXH3 value so that the dimension (high bits) and
// the sign (low bit) are independent.
inline uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Counts distinct features of one text: open addressing on the 64-bit feature hash, reused
// across texts by one thread (clearing touches only the used slots).
class FeatureCounter {
 public:
  struct Slot {
    uint64_t key = 0;
    float weight = 0;
    uint32_t count = 0;  // 0 = empty
  };

  void Add(uint64_t key, float weight) {
    if ((used_.size() + 1) * 2 > slots_.size()) Grow();
    size_t mask = slots_.size() - 1;
    for (size_t i = key & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.count == 0) {
        s = Slot{key, weight, 1};
        used_.push_back(static_cast<uint32_t>(i));
        return;
      }
      if (s.key == key) {
        ++s.count;
        return;
      }
    }
  }

  template <typename F>
  void ForEach(F&& f) const {
    for (uint32_t i : used_) f(slots_[i]);
  }

  size_t size() const { return used_.size(); }

  void Clear() {
    for (uint32_t i : used_) slots_[i].count = 0;
    used_.clear();
  }

 private:
  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
    std::vector<uint32_t> old_used = std::move(used_);
    used_.clear();
    size_t mask = slots_.size() - 1;
    for (uint32_t j : old_used) {
      const Slot& o = old[j];
      size_t i = o.key & mask;
      while (slots_[i].count != 0) i = (i + 1) & mask;
      slots_[i] = o;
      used_.push_back(static_cast<uint32_t>(i));
    }
  }

  std::vector<Slot> slots_;
  std::vector<uint32_t> used_;
};

// Per-thread buffers, so that embedding allocates nothing in the steady state.
struct Scratch {
  std::vector<uint32_t> word;  // kBeginMarker, the lowercased code points, kEndMarker
  FeatureCounter features;
};

// The key of a character n-gram. Code points have 21 bits, so up to three of them pack into
// 63 bits exactly: the common n-grams need no hashing at all, only the final Mix. Longer ones
// are folded through Mix one code point at a time.
inline uint64_t NgramKey(const uint32_t* cps, size_t n) {
  uint64_t key;
  if (n <= 3) {
    key = 0;
    for (size_t i = 0; i < n; ++i) key = (key << 21) | cps[i];
  } else {
    key = n;
    for (size_t i = 0; i < n; ++i) key = Mix(key ^ cps[i]);
  }
  return Mix(key ^ (kNgramSalt + n));
}

inline bool IsWordCategory(utf8proc_int32_t cp) {
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return true;
    default:
      return false;
  }
}

// Decodes one code point of valid UTF-8 at s[i] and advances i.
inline uint32_t DecodeUtf8(std::string_view s, size_t& i) {
  auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) {
    ++i;
    return b;
  }
  int len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
  uint32_t cp = b & (0x7F >> len);
  for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += len;
  return cp;
}

// True when NFKC could change the text in a way that matters for matching: conjoining Hangul
// jamo (decomposed syllables, e.g. from macOS file names), combining marks (decomposed
// accents), fullwidth/halfwidth forms, compatibility ideographs. Checking first keeps the
// common case (precomposed Korean, ASCII) free of utf8proc_map's allocation.
bool NeedsNfkc(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    uint32_t cp = DecodeUtf8(s, i);
    if ((cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0xFF00 && cp <= 0xFFEF) ||
        (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x3130 && cp <= 0x318F)) {
      return true;
    }
    switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
      case UTF8PROC_CATEGORY_MN:
      case UTF8PROC_CATEGORY_MC:
      case UTF8PROC_CATEGORY_ME:
        return true;
      default:
        break;
    }
  }
  return false;
}

inline std::string_view Trim(std::string_view s) {
  auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

LocalEmbedder::LocalEmbedder(size_t dimension, const LocalEmbedderOptions& options,
                             EmbeddingObserver* observer)
    : dimension_(dimension), options_(options), observer_(observer) {
  model_id_ = MakeModelId();
}

std::string LocalEmbedder::model_id() const { return model_id_; }

std::string LocalEmbedder::MakeModelId() const {
  std::string id = absl::StrCat("local/hash-v1-", dimension_);
  const LocalEmbedderOptions defaults;
  if (options_.char_ngram_min != defaults.char_ngram_min ||
      options_.char_ngram_max != defaults.char_ngram_max) {
    absl::StrAppend(&id, "-ng", options_.char_ngram_min, "-", options_.char_ngram_max);
  }
  if (options_.word_bigrams != defaults.word_bigrams) {
    absl::StrAppend(&id, options_.word_bigrams ? "-bigrams" : "-nobigrams");
  }
  return id;
}

absl::StatusOr<std::vector<std::vector<float>>> LocalEmbedder::Embed(
    const std::vector<std::string>& texts, EmbeddingUsage* usage) {
  std::vector<std::vector<float>> out(texts.size());
  const auto start = std::chrono::steady_clock::now();
  absl::Status status;
  for (size_t i = 0; i < texts.size() && status.ok(); ++i) {
    absl::Status s = EmbedOne(texts[i], &out[i]);
    if (!s.ok()) {
      status = absl::Status(s.code(), absl::StrCat("input ", i, ": ", std::string(s.message())));
    }
  }
  if (observer_ != nullptr && !texts.empty()) {
    EmbeddingRequestRecord record;
    record.model = model_id_;
    record.code = status.code();
    record.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    record.inputs = texts.size();
    observer_->OnEmbeddingRequest(record);
  }
  if (!status.ok()) return status;
  return out;
}

absl::Status LocalEmbedder::EmbedOne(std::string_view text, std::vector<float>* out) const {
  if (text.empty()) return absl::InvalidArgumentError("empty text cannot be embedded");
  if (!IsValidUtf8(text)) return absl::InvalidArgumentError("text is not valid UTF-8");

  // utf8proc_map allocates with malloc; the guard frees it on every path.
  struct Freer {
    void operator()(utf8proc_uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<utf8proc_uint8_t, Freer> normalized;
  if (NeedsNfkc(text)) {
    utf8proc_uint8_t* buf = nullptr;
    utf8proc_ssize_t n = utf8proc_map(
        reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
        static_cast<utf8proc_ssize_t>(text.size()), &buf,
        static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT));
    if (n >= 0) {
      normalized.reset(buf);
      text = std::string_view(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
    }
  }

  thread_local Scratch scratch;
  FeatureCounter& features = scratch.features;
  std::vector<uint32_t>& word = scratch.word;
  features.Clear();
  const size_t ngram_min = options_.char_ngram_min;
  const size_t ngram_max = options_.char_ngram_max;
  uint64_t prev_word_hash = 0;
  bool have_prev = false;

  auto finish_word = [&] {
    // `word` holds the begin marker and at least one code point here. Words are hashed as
    // their UTF-32 code points (XXH3), which is as stable as hashing their UTF-8.
    uint64_t word_hash = Hash64(word.data() + 1, (word.size() - 1) * sizeof(uint32_t));
    features.Add(Mix(word_hash ^ kWordSalt), kWordWeight);
    if (options_.word_bigrams && have_prev) {
      features.Add(Mix((prev_word_hash * 0x100000001b3ULL + word_hash) ^ kBigramSalt),
                   kBigramWeight);
    }
    prev_word_hash = word_hash;
    have_prev = true;
    if (ngram_max == 0) return;
    word.push_back(kEndMarker);
    const size_t cps = word.size();
    for (size_t n = ngram_min; n <= ngram_max && n <= cps; ++n) {
      for (size_t k = 0; k + n <= cps; ++k) {
        features.Add(NgramKey(word.data() + k, n), kNgramWeight);
      }
    }
  };

  bool in_word = false;
  for (size_t i = 0; i < text.size();) {
    auto b = static_cast<unsigned char>(text[i]);
    uint32_t cp;
    bool is_word;
    if (b < 0x80) {
      ++i;
      cp = b;
      is_word = (cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9') || (cp >= 'A' && cp <= 'Z');
      if (cp >= 'A' && cp <= 'Z') cp |= 0x20;
    } else {
      cp = DecodeUtf8(text, i);
      // Hangul syllables are the bulk of Korean text: skip the category lookup for them.
      if (cp >= 0xAC00 && cp <= 0xD7A3) {
        is_word = true;
      } else {
        is_word = IsWordCategory(static_cast<utf8proc_int32_t>(cp));
        if (is_word)
          cp = static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
      }
    }
    if (is_word) {
      if (!in_word) {
        word.clear();
        word.push_back(kBeginMarker);
        in_word = true;
      }
      word.push_back(cp);
    } else if (in_word) {
      finish_word();
      in_word = false;
    }
  }
  if (in_word) finish_word();

  if (features.size() == 0) {
    // No word characters (punctuation, symbols, emoji only): one feature for the whole text,
    // so that equal texts still match and the vector has unit norm.
    std::string_view trimmed = Trim(text);
    if (trimmed.empty()) trimmed = text;
    features.Add(Mix(Hash64(trimmed) ^ kWholeTextSalt), kWordWeight);
  }

  out->assign(dimension_, 0.0f);
  float* v = out->data();
  const uint64_t dim = dimension_;
  features.ForEach([&](const FeatureCounter::Slot& s) {
    // Lemire's multiply-shift maps the high 32 bits to [0, dim) without a division.
    size_t idx = static_cast<size_t>(((s.key >> 32) * dim) >> 32);
    float w = s.weight * (s.count == 1 ? 1.0f : 1.0f + std::log(static_cast<float>(s.count)));
    v[idx] += (s.key & 1) ? -w : w;
  });
  double norm2 = 0;
  for (size_t i = 0; i < dimension_; ++i) norm2 += static_cast<double>(v[i]) * v[i];
  if (norm2 == 0) {
    // Every feature cancelled out in shared buckets (possible for tiny dimensions): fall back
    // to one fixed component so that the result is still a unit vector.
    v[0] = 1.0f;
    return absl::OkStatus();
  }
  auto inv = static_cast<float>(1.0 / std::sqrt(norm2));
  for (size_t i = 0; i < dimension_; ++i) v[i] *= inv;
  return absl::OkStatus();
}

}  // namespace ragd::models
