#pragma once
// API keys with roles, collection scopes and per-key rate limits (README "Security").
//
// The policy is the Authorizer (services/api/methods.h) that RagdServer hands to every service;
// each handler's prologue (Admit) consults it first. The role each method needs is the
// method table's (services/api/methods.cc): reader (Search, Get, Count, Retrieve, Answer,
// ListModels, GetCollection, ListCollections, GetDocument, GetIngestJob) < writer (+ Points
// writes, Ingest) < admin (+ CreateCollection, DeleteCollection, Admin.CreateBackup). A key sent as
// `authorization: Bearer <key>` or `api-key: <key>` is hashed (SHA-256) and compared in
// constant time with every configured digest, so neither the key nor its position leaks
// through timing.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "services/api/methods.h"
#include "services/server/config_auth.h"

namespace ragd::services {

class AccessPolicy final : public Authorizer {
 public:
  // `keys` must have been resolved (ResolveApiKeys). No keys: every call is allowed.
  explicit AccessPolicy(std::vector<ApiKeyConfig> keys);
  AccessPolicy(const AccessPolicy&) = delete;
  AccessPolicy& operator=(const AccessPolicy&) = delete;

  bool enabled() const { return !keys_.empty(); }

  // `collection` empty when the call names none (yet). UNAUTHENTICATED: no key or an unknown
  // one. PERMISSION_DENIED: the key's role or collection list does not allow it.
  // RESOURCE_EXHAUSTED: the key's rate limit is spent (one token per call when `consume`).
  // OK for everything when no keys are configured. Thread-safe.
  absl::Status Check(const Metadata& metadata, const MethodSpec& method,
                     std::string_view collection, bool consume) const override;

  // The configured name of the key the call carries, "" without a valid key (for logs).
  std::string KeyName(const Metadata& metadata) const;

 private:
  struct Bucket {
    std::mutex mu;
    double tokens = 0;
    std::chrono::steady_clock::time_point last;
  };
  const ApiKeyConfig* Find(const Metadata& metadata) const;
  bool Take(size_t index) const;

  std::vector<ApiKeyConfig> keys_;
  std::unique_ptr<Bucket[]> buckets_;
};

}  // namespace ragd::services
