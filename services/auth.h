#pragma once
// API keys with roles, collection scopes and per-key rate limits (README "Security").
//
// gRPC 1.51 runs an AuthMetadataProcessor only with TLS credentials, and its server
// interceptors cannot reject a call, so every handler calls Authorize() (handler_util.h)
// first. The policy is process-wide: RagdServer installs it before it listens.
//
// Roles: reader (Search, Get, Count, Retrieve, Answer, ListModels, GetCollection,
// ListCollections, GetDocument, GetIngestJob) < writer (+ Points writes, Ingest) < admin
// (+ CreateCollection, DeleteCollection, Admin.CreateBackup). A key sent as
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
#include "services/config_auth.h"

namespace ragd::services {

class AccessPolicy {
 public:
  // `keys` must have been resolved (ResolveApiKeys). No keys: every call is allowed.
  explicit AccessPolicy(std::vector<ApiKeyConfig> keys);
  AccessPolicy(const AccessPolicy&) = delete;
  AccessPolicy& operator=(const AccessPolicy&) = delete;

  bool enabled() const { return !keys_.empty(); }

  using Metadata = std::multimap<grpc::string_ref, grpc::string_ref>;
  // `method` as "Points.Upsert"; `collection` empty when the call names none (yet).
  // UNAUTHENTICATED: no key or an unknown one. PERMISSION_DENIED: the key's role or collection
  // list does not allow it. RESOURCE_EXHAUSTED: the key's rate limit is spent (one token per
  // call when `consume`). Thread-safe.
  absl::Status Check(const Metadata& metadata, absl::string_view method,
                     absl::string_view collection, bool consume) const;

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

// The policy every handler's Authorize() consults; nullptr (the default) allows everything.
// Not owned; must outlive the server's calls.
void InstallAccessPolicy(const AccessPolicy* policy);
const AccessPolicy* InstalledAccessPolicy();

// The role a method needs ("Collections.CreateCollection" -> admin). Unknown: admin.
Role RequiredRole(absl::string_view method);

}  // namespace ragd::services
