#pragma once
// The one table of ragd.v1's methods: the role each needs and whether its request names a
// collection, and the prologue every handler runs first (Admit). Handlers name their method
// by enum, never by a string typed by hand, so a new method fails to compile until it is in
// the table (the switch in methods.cc has no default).
//
// Authorization is injected: the server hands each service an Authorizer (its API-key policy,
// services/server/auth.h); a null Authorizer allows every call (no keys configured, tests).
// gRPC 1.51 runs an AuthMetadataProcessor only with TLS credentials and its server interceptors
// cannot reject a call, which is why the check is in the handlers' prologue.

#include <grpcpp/grpcpp.h>

#include <map>
#include <string_view>

#include "absl/status/status.h"

namespace ragd::services {

// reader < writer < admin: a key of a higher role may call everything a lower one may.
enum class Role { kReader = 0, kWriter = 1, kAdmin = 2 };
const char* RoleName(Role role);

enum class Method {
  kCreateCollection,
  kGetCollection,
  kListCollections,
  kDeleteCollection,
  kUpsert,
  kGet,
  kDelete,
  kSearch,
  kSearchBatch,
  kCount,
  kIngestDocuments,
  kUpsertDocument,
  kDeleteDocument,
  kGetDocument,
  kGetIngestJob,
  kRetrieve,
  kAnswer,
  kListModels,
  kCountTokens,
  kCreateBackup,
  kVerifyCollection,
  kClusterStatus,
};

struct MethodSpec {
  std::string_view name;              // "Points.Upsert": in logs, errors and metrics
  Role role;                          // the least role allowed to call it
  std::string_view collection_field;  // the request field naming the collection, "" for none
};
const MethodSpec& SpecOf(Method method);

// The table row of a method given by name ("Points.Upsert"); nullptr for unknown names.
const MethodSpec* FindMethod(std::string_view name);
// The role of a method given by name ("Points.Upsert"); unknown names need admin.
Role RequiredRole(std::string_view name);

// Decides whether the caller of a method may proceed. Implementations are thread-safe.
class Authorizer {
 public:
  using Metadata = std::multimap<grpc::string_ref, grpc::string_ref>;
  virtual ~Authorizer() = default;
  // OK, UNAUTHENTICATED (no or unknown key), PERMISSION_DENIED (role or collection scope) or
  // RESOURCE_EXHAUSTED (rate limit; one token per call when `consume`). `collection` is ""
  // when the call names none (yet).
  virtual absl::Status Check(const Metadata& metadata, const MethodSpec& method,
                             std::string_view collection, bool consume) const = 0;
};

// The prologue of every handler: the caller against `authorizer` (null allows all, spending
// one rate-limit token), then, for a method whose table row names a collection field, the
// collection name's shape ([A-Za-z0-9_-]{1,64}, INVALID_ARGUMENT naming the field).
absl::Status Admit(grpc::CallbackServerContext* context, const Authorizer* authorizer,
                   Method method, std::string_view collection);
// The collection scope only, without spending a rate-limit token: for a stream whose
// collection arrives after Admit() (IngestDocuments).
absl::Status AdmitCollection(grpc::CallbackServerContext* context, const Authorizer* authorizer,
                             Method method, std::string_view collection);

// [A-Za-z0-9_-]{1,64}; INVALID_ARGUMENT naming `field` otherwise (at most the first 64 bytes
// of a bad name are echoed).
absl::Status ValidateCollectionName(std::string_view field, std::string_view name);

}  // namespace ragd::services
