#include "services/server/auth.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace ragd::services {
namespace {

absl::string_view View(const grpc::string_ref& s) { return {s.data(), s.size()}; }

// The key of `authorization: Bearer <key>` or `api-key: <key>`; "" when absent.
std::string PresentedKey(const AccessPolicy::Metadata& metadata) {
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    absl::string_view value = View(it->second);
    constexpr absl::string_view kBearer = "bearer ";
    if (value.size() > kBearer.size() &&
        absl::EqualsIgnoreCase(value.substr(0, kBearer.size()), kBearer)) {
      return std::string(absl::StripAsciiWhitespace(value.substr(kBearer.size())));
    }
  }
  if (auto it = metadata.find("api-key"); it != metadata.end()) {
    return std::string(absl::StripAsciiWhitespace(View(it->second)));
  }
  return "";
}

}  // namespace

AccessPolicy::AccessPolicy(std::vector<ApiKeyConfig> keys)
    : keys_(std::move(keys)), buckets_(new Bucket[keys_.size()]) {
  auto now = std::chrono::steady_clock::now();
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i].burst <= 0) {
      keys_[i].burst = std::max<int64_t>(1, static_cast<int64_t>(keys_[i].requests_per_second));
    }
    buckets_[i].tokens = static_cast<double>(keys_[i].burst);
    buckets_[i].last = now;
  }
}

const ApiKeyConfig* AccessPolicy::Find(const Metadata& metadata) const {
  std::string key = PresentedKey(metadata);
  if (key.empty()) return nullptr;
  const std::string digest = Sha256(key);
  const ApiKeyConfig* found = nullptr;
  // Every digest is compared (no early exit), in constant time each.
  for (const ApiKeyConfig& k : keys_) {
    if (k.digest.size() == digest.size() &&
        CRYPTO_memcmp(k.digest.data(), digest.data(), digest.size()) == 0) {
      found = &k;
    }
  }
  return found;
}

bool AccessPolicy::Take(size_t index) const {
  const ApiKeyConfig& k = keys_[index];
  if (k.requests_per_second <= 0) return true;
  Bucket& b = buckets_[index];
  std::lock_guard<std::mutex> lock(b.mu);
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - b.last).count();
  b.last = now;
  b.tokens = std::min(static_cast<double>(k.burst), b.tokens + elapsed * k.requests_per_second);
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

absl::Status AccessPolicy::Check(const Metadata& metadata, const MethodSpec& method,
                                 std::string_view collection, bool consume) const {
  if (keys_.empty()) return absl::OkStatus();
  const ApiKeyConfig* key = Find(metadata);
  if (key == nullptr) {
    return absl::UnauthenticatedError(
        PresentedKey(metadata).empty()
            ? "no API key: send `authorization: Bearer <key>` or `api-key: <key>` metadata"
            : "unknown API key");
  }
  const Role needed = method.role;
  if (static_cast<int>(key->role) < static_cast<int>(needed)) {
    return absl::PermissionDeniedError(
        absl::StrCat("API key '", key->name, "' has role ", RoleName(key->role), "; ",
                     std::string(method.name), " needs ", RoleName(needed)));
  }
  if (!collection.empty() && !key->collections.empty() &&
      std::find(key->collections.begin(), key->collections.end(), collection) ==
          key->collections.end()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "API key '", key->name, "' may not access collection '", std::string(collection), "'"));
  }
  if (consume && !Take(static_cast<size_t>(key - keys_.data()))) {
    return absl::ResourceExhaustedError(
        absl::StrCat("API key '", key->name, "' is over its rate limit (", key->requests_per_second,
                     " requests/s, burst ", key->burst, "); retry with back-off"));
  }
  return absl::OkStatus();
}

std::string AccessPolicy::KeyName(const Metadata& metadata) const {
  if (keys_.empty()) return "";
  const ApiKeyConfig* key = Find(metadata);
  return key == nullptr ? "" : key->name;
}

}  // namespace ragd::services
