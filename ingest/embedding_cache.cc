#include "ingest/embedding_cache.h"

#include <openssl/evp.h>

#include <atomic>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>

namespace ragd::ingest {

// One per engine (see the header): the write buffer, the eviction bookkeeping, the counters.
struct EmbeddingCache::State {
  index::Engine* engine = nullptr;
  uint64_t max_entries = 0;

  std::mutex flush_mu;  // one flush or eviction at a time; taken before mu
  // Under flush_mu: the meta record, once loaded.
  bool loaded = false;
  uint64_t next_seq = 0;
  uint64_t oldest_seq = 0;

  mutable std::mutex mu;
  // Entries not yet durable, by key. They stay here until their write has succeeded, so a
  // Lookup during a flush still finds them.
  std::map<std::string, std::string> buffer;

  std::atomic<uint64_t> durable_entries{0};  // next_seq - oldest_seq, for stats()
  mutable std::atomic<uint64_t> hits{0};
  mutable std::atomic<uint64_t> misses{0};
  std::atomic<uint64_t> stores{0};
  std::atomic<uint64_t> evictions{0};
  std::atomic<uint64_t> legacy_dropped{0};
};

namespace {

constexpr char kFormatV1 = 1;
constexpr char kPrefix = 0x01;  // every key of this format; no first-format key starts so
constexpr char kEntryTag = 'e';
constexpr char kOrderTag = 'o';
constexpr char kMetaTag = 'm';
constexpr size_t kIdentityDigestBytes = 16;
constexpr size_t kLegacyDeleteBatch = 4096;

void PutBigEndian(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

uint64_t GetBigEndian(std::string_view s) {
  uint64_t v = 0;
  for (char c : s) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

// x86-64 and aarch64 are little-endian; the encoding is defined as little-endian so that the
// floats can be copied as they are.
static_assert(std::endian::native == std::endian::little, "the cache encoding assumes LE");

void AppendSha256(std::string_view data, size_t bytes, std::string* out) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // EVP_Digest fails only when OpenSSL cannot allocate its context; a zero digest then would
  // alias every text, so abort as for any failed allocation.
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1 || len != 32) {
    std::abort();
  }
  out->append(reinterpret_cast<const char*>(md), bytes);
}

void AppendField(std::string* out, std::string_view field) {
  PutBigEndian(out, field.size(), 4);
  out->append(field);
}

std::string OrderKey(uint64_t seq) {
  std::string key{kPrefix, kOrderTag};
  PutBigEndian(&key, seq, 8);
  return key;
}

std::string MetaKey() { return std::string{kPrefix, kMetaTag}; }

std::string MetaValue(uint64_t next_seq, uint64_t oldest_seq) {
  std::string v(1, kFormatV1);
  PutBigEndian(&v, next_seq, 8);
  PutBigEndian(&v, oldest_seq, 8);
  return v;
}

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

// Reads the meta record; the first time (none yet), deletes the first format's entries.
// Caller holds flush_mu.
absl::Status Load(EmbeddingCache::State& st) {
  if (st.loaded) return absl::OkStatus();
  absl::StatusOr<std::optional<std::string>> meta =
      st.engine->GetAux(kEmbeddingCacheNamespace, MetaKey());
  if (!meta.ok()) return meta.status();
  if (meta->has_value()) {
    const std::string& v = **meta;
    if (v.size() != 17 || v[0] != kFormatV1) {
      return absl::DataLossError("embedding cache: unreadable meta record");
    }
    st.next_seq = GetBigEndian(std::string_view(v).substr(1, 8));
    st.oldest_seq = GetBigEndian(std::string_view(v).substr(9, 8));
  } else {
    for (;;) {
      std::vector<std::string> legacy;
      absl::Status s = st.engine->ScanAux(kEmbeddingCacheNamespace, "",
                                          [&](std::string_view key, std::string_view) {
                                            if (!key.empty() && key[0] != kPrefix) {
                                              legacy.emplace_back(key);
                                            }
                                            return legacy.size() < kLegacyDeleteBatch;
                                          });
      if (!s.ok()) return s;
      if (legacy.empty()) break;
      if (absl::Status d = st.engine->DeleteAux(kEmbeddingCacheNamespace, legacy); !d.ok()) {
        return d;
      }
      st.legacy_dropped += legacy.size();
    }
    if (absl::Status s =
            st.engine->PutAux(kEmbeddingCacheNamespace, {{MetaKey(), MetaValue(0, 0)}});
        !s.ok()) {
      return s;
    }
  }
  st.durable_entries = st.next_seq - st.oldest_seq;
  st.loaded = true;
  return absl::OkStatus();
}

// Deletes the oldest entries past the bound. Caller holds flush_mu, after Load.
absl::Status Evict(EmbeddingCache::State& st) {
  if (st.max_entries == 0 || st.next_seq - st.oldest_seq <= st.max_entries) {
    return absl::OkStatus();
  }
  const uint64_t n = st.next_seq - st.oldest_seq - st.max_entries;
  std::vector<std::string> keys;
  keys.reserve(2 * n);
  for (uint64_t seq = st.oldest_seq; seq < st.oldest_seq + n; ++seq) {
    std::string order = OrderKey(seq);
    absl::StatusOr<std::optional<std::string>> entry =
        st.engine->GetAux(kEmbeddingCacheNamespace, order);
    if (!entry.ok()) return entry.status();
    // Absent after a crash between an eviction's delete and its meta write. An entry stored
    // again since has a newer order record too; deleting it now costs at most a miss.
    if (entry->has_value()) keys.push_back(std::move(**entry));
    keys.push_back(std::move(order));
  }
  if (absl::Status s = st.engine->DeleteAux(kEmbeddingCacheNamespace, keys); !s.ok()) return s;
  st.oldest_seq += n;
  st.durable_entries = st.next_seq - st.oldest_seq;
  st.evictions += n;
  return st.engine->PutAux(kEmbeddingCacheNamespace,
                           {{MetaKey(), MetaValue(st.next_seq, st.oldest_seq)}});
}

std::shared_ptr<EmbeddingCache::State> StateFor(index::Engine* engine,
                                                const EmbeddingCache::Options& options) {
  static std::mutex mu;
  static auto* states = new std::map<index::Engine*, std::weak_ptr<EmbeddingCache::State>>();
  std::lock_guard<std::mutex> lock(mu);
  for (auto it = states->begin(); it != states->end();) {
    it = it->second.expired() ? states->erase(it) : std::next(it);
  }
  if (auto it = states->find(engine); it != states->end()) {
    if (auto st = it->second.lock()) return st;
  }
  auto st = std::make_shared<EmbeddingCache::State>();
  st->engine = engine;
  st->max_entries = options.max_entries;
  (*states)[engine] = st;
  return st;
}

}  // namespace

EmbeddingCache::EmbeddingCache(index::Engine* engine, Options options)
    : engine_(engine), options_(options), state_(StateFor(engine, options)) {
  std::lock_guard<std::mutex> lock(state_->flush_mu);
  (void)Load(*state_);  // retried by the first Flush when the engine is not readable now
}

std::string EmbeddingCache::Key(const models::EmbedderIdentity& identity, std::string_view text) {
  std::string id("ragd.embedder-identity.v1");
  AppendField(&id, identity.provider);
  AppendField(&id, identity.endpoint);
  AppendField(&id, identity.model);
  PutBigEndian(&id, identity.dimension, 8);
  std::string key{kPrefix, kEntryTag};
  key.reserve(2 + kIdentityDigestBytes + 32);
  AppendSha256(id, kIdentityDigestBytes, &key);
  AppendSha256(text, 32, &key);
  return key;
}

absl::StatusOr<std::vector<std::optional<std::vector<float>>>> EmbeddingCache::Lookup(
    const models::EmbedderIdentity& identity, const std::vector<std::string>& texts) const {
  std::vector<std::optional<std::vector<float>>> out;
  out.reserve(texts.size());
  uint64_t hits = 0;
  for (const std::string& t : texts) {
    const std::string key = Key(identity, t);
    std::optional<std::string> buffered;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      if (auto it = state_->buffer.find(key); it != state_->buffer.end()) buffered = it->second;
    }
    if (buffered.has_value()) {
      out.push_back(Decode(*buffered, identity.dimension));
    } else {
      absl::StatusOr<std::optional<std::string>> v = engine_->GetAux(kEmbeddingCacheNamespace, key);
      if (!v.ok()) return v.status();
      out.push_back(v->has_value() ? Decode(**v, identity.dimension) : std::nullopt);
    }
    hits += out.back().has_value();
  }
  state_->hits += hits;
  state_->misses += texts.size() - hits;
  return out;
}

absl::Status EmbeddingCache::Store(const models::EmbedderIdentity& identity,
                                   const std::vector<std::string>& texts,
                                   const std::vector<std::vector<float>>& vectors) {
  if (texts.size() != vectors.size()) {
    return absl::InvalidArgumentError("embedding cache: texts and vectors differ in count");
  }
  if (texts.empty()) return absl::OkStatus();
  size_t buffered;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    for (size_t i = 0; i < texts.size(); ++i) {
      state_->buffer[Key(identity, texts[i])] = Encode(vectors[i]);
    }
    buffered = state_->buffer.size();
  }
  return buffered >= options_.write_buffer_entries ? Flush() : absl::OkStatus();
}

absl::Status EmbeddingCache::Flush() {
  State& st = *state_;
  std::lock_guard<std::mutex> flush_lock(st.flush_mu);
  if (absl::Status s = Load(st); !s.ok()) return s;
  std::vector<std::pair<std::string, std::string>> entries;
  {
    std::lock_guard<std::mutex> lock(st.mu);
    if (st.buffer.empty()) return absl::OkStatus();
    entries.assign(st.buffer.begin(), st.buffer.end());
  }
  const size_t n = entries.size();
  std::vector<std::pair<std::string, std::string>> order;
  order.reserve(n);
  for (size_t i = 0; i < n; ++i) order.emplace_back(OrderKey(st.next_seq + i), entries[i].first);
  for (auto& o : order) entries.push_back(std::move(o));
  entries.emplace_back(MetaKey(), MetaValue(st.next_seq + n, st.oldest_seq));
  absl::Status s = engine_->PutAux(kEmbeddingCacheNamespace, entries);
  if (!s.ok()) return s;
  st.next_seq += n;
  st.durable_entries = st.next_seq - st.oldest_seq;
  st.stores += n;
  {
    // Entries stored again meanwhile have the same value (same identity and text), so
    // erasing by key is exact.
    std::lock_guard<std::mutex> lock(st.mu);
    for (size_t i = 0; i < n; ++i) st.buffer.erase(entries[i].first);
  }
  return Evict(st);
}

EmbeddingCache::Stats EmbeddingCache::stats() const {
  Stats s;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    s.entries = state_->buffer.size();
  }
  s.entries += state_->durable_entries.load();
  s.max_entries = state_->max_entries;
  s.hits = state_->hits.load();
  s.misses = state_->misses.load();
  s.stores = state_->stores.load();
  s.evictions = state_->evictions.load();
  s.legacy_dropped = state_->legacy_dropped.load();
  return s;
}

EmbeddingCache::~EmbeddingCache() { (void)Flush(); }

}  // namespace ragd::ingest
