#include "ingest/embedding_cache.h"

#include <bit>
#include <cstdint>
#include <cstring>

#include "common/hash.h"

namespace ragd::ingest {
namespace {

constexpr char kFormatV1 = 1;

void PutBigEndian(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// x86-64 and aarch64 are little-endian; the encoding is defined as little-endian so that the
// floats can be copied as they are.
static_assert(std::endian::native == std::endian::little, "the cache encoding assumes LE");

std::string Encode(const std::vector<float>& v) {
  std::string out;
  out.reserve(5 + v.size() * sizeof(float));
  out.push_back(kFormatV1);
  const auto dim = static_cast<uint32_t>(v.size());
  out.append(reinterpret_cast<const char*>(&dim), sizeof(dim));
  out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
  return out;
}

std::optional<std::vector<float>> Decode(std::string_view s, size_t dimension) {
  if (s.size() < 5 || s[0] != kFormatV1) return std::nullopt;
  uint32_t dim = 0;
  std::memcpy(&dim, s.data() + 1, sizeof(dim));
  if (dim != dimension || s.size() != 5 + size_t{dim} * sizeof(float)) return std::nullopt;
  std::vector<float> v(dim);
  std::memcpy(v.data(), s.data() + 5, size_t{dim} * sizeof(float));
  return v;
}

}  // namespace

std::string EmbeddingCache::Key(std::string_view model_id, std::string_view text) {
  std::string key(model_id);
  key.push_back('\0');
  PutBigEndian(&key, Hash64(text), 8);
  PutBigEndian(&key, static_cast<uint32_t>(text.size()), 4);
  return key;
}

absl::StatusOr<std::vector<std::optional<std::vector<float>>>> EmbeddingCache::Lookup(
    std::string_view model_id, size_t dimension, const std::vector<std::string>& texts) const {
  std::vector<std::optional<std::vector<float>>> out;
  out.reserve(texts.size());
  for (const std::string& t : texts) {
    const std::string key = Key(model_id, t);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = buffer_.find(key); it != buffer_.end()) {
        out.push_back(Decode(it->second, dimension));
        continue;
      }
    }
    absl::StatusOr<std::optional<std::string>> v = engine_->GetAux(kEmbeddingCacheNamespace, key);
    if (!v.ok()) return v.status();
    out.push_back(v->has_value() ? Decode(**v, dimension) : std::nullopt);
  }
  return out;
}

absl::Status EmbeddingCache::Store(std::string_view model_id, const std::vector<std::string>& texts,
                                   const std::vector<std::vector<float>>& vectors) {
  if (texts.size() != vectors.size()) {
    return absl::InvalidArgumentError("embedding cache: texts and vectors differ in count");
  }
  if (texts.empty()) return absl::OkStatus();
  std::vector<std::pair<std::string, std::string>> entries;
  entries.reserve(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    entries.emplace_back(Key(model_id, texts[i]), Encode(vectors[i]));
  }
  if (options_.write_buffer_entries == 0) {
    return engine_->PutAux(kEmbeddingCacheNamespace, entries);
  }
  size_t buffered;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [k, v] : entries) buffer_[std::move(k)] = std::move(v);
    buffered = buffer_.size();
  }
  return buffered >= options_.write_buffer_entries ? Flush() : absl::OkStatus();
}

absl::Status EmbeddingCache::Flush() {
  std::lock_guard<std::mutex> flush_lock(flush_mu_);
  std::vector<std::pair<std::string, std::string>> entries;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (buffer_.empty()) return absl::OkStatus();
    entries.assign(buffer_.begin(), buffer_.end());
  }
  absl::Status s = engine_->PutAux(kEmbeddingCacheNamespace, entries);
  if (!s.ok()) return s;
  // Entries stored again meanwhile have the same value (same model and text), so erasing by
  // key is exact.
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [k, v] : entries) buffer_.erase(k);
  return absl::OkStatus();
}

EmbeddingCache::~EmbeddingCache() { (void)Flush(); }

}  // namespace ragd::ingest
