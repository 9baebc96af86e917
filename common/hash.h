#pragma once
// Stable, fast, non-cryptographic hashing. The values are persisted (shard routing, snapshot
// checksums, cache keys), so the algorithm (XXH3-64 with seed 0) must never change.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ragd {

// XXH3 64-bit hash of `data`. Stable across versions and platforms.
uint64_t Hash64(std::string_view data);
uint64_t Hash64(const void* data, size_t size);

// Incremental XXH3-64, for checksumming data written in pieces.
class Hasher64 {
 public:
  Hasher64();
  ~Hasher64();
  Hasher64(const Hasher64&) = delete;
  Hasher64& operator=(const Hasher64&) = delete;
  void Update(const void* data, size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  uint64_t Digest() const;

 private:
  void* state_;  // XXH3_state_t, kept opaque so that no xxhash header leaks.
};

}  // namespace ragd
