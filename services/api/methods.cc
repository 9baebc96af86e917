#include "services/api/methods.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "common/utf8.h"

namespace ragd::services {

const char* RoleName(Role role) {
  switch (role) {
    case Role::kReader:
      return "reader";
    case Role::kWriter:
      return "writer";
    case Role::kAdmin:
      return "admin";
  }
  return "admin";
}

const MethodSpec& SpecOf(Method method) {
  static const MethodSpec kCreateCollection{"Collections.CreateCollection", Role::kAdmin, "name"};
  static const MethodSpec kGetCollection{"Collections.GetCollection", Role::kReader, "name"};
  static const MethodSpec kListCollections{"Collections.ListCollections", Role::kReader, ""};
  static const MethodSpec kDeleteCollection{"Collections.DeleteCollection", Role::kAdmin, "name"};
  static const MethodSpec kUpsert{"Points.Upsert", Role::kWriter, "collection"};
  static const MethodSpec kGet{"Points.Get", Role::kReader, "collection"};
  static const MethodSpec kDelete{"Points.Delete", Role::kWriter, "collection"};
  static const MethodSpec kSearch{"Points.Search", Role::kReader, "collection"};
  static const MethodSpec kSearchBatch{"Points.SearchBatch", Role::kReader, "collection"};
  static const MethodSpec kCount{"Points.Count", Role::kReader, "collection"};
  // The collection of a stream arrives with its first message (AdmitCollection).
  static const MethodSpec kIngestDocuments{"Ingest.IngestDocuments", Role::kWriter, ""};
  static const MethodSpec kUpsertDocument{"Ingest.UpsertDocument", Role::kWriter, "collection"};
  static const MethodSpec kDeleteDocument{"Ingest.DeleteDocument", Role::kWriter, "collection"};
  static const MethodSpec kGetDocument{"Ingest.GetDocument", Role::kReader, "collection"};
  static const MethodSpec kGetIngestJob{"Ingest.GetIngestJob", Role::kReader, ""};
  static const MethodSpec kRetrieve{"Retrieval.Retrieve", Role::kReader, "collection"};
  static const MethodSpec kAnswer{"Retrieval.Answer", Role::kReader, "collection"};
  static const MethodSpec kListModels{"Retrieval.ListModels", Role::kReader, ""};
  static const MethodSpec kCountTokens{"Retrieval.CountTokens", Role::kReader, ""};
  static const MethodSpec kCreateBackup{"Admin.CreateBackup", Role::kAdmin, ""};
  static const MethodSpec kVerifyCollection{"Admin.VerifyCollection", Role::kAdmin, "collection"};
  static const MethodSpec kClusterStatus{"Admin.ClusterStatus", Role::kAdmin, ""};
  switch (method) {
    case Method::kCreateCollection:
      return kCreateCollection;
    case Method::kGetCollection:
      return kGetCollection;
    case Method::kListCollections:
      return kListCollections;
    case Method::kDeleteCollection:
      return kDeleteCollection;
    case Method::kUpsert:
      return kUpsert;
    case Method::kGet:
      return kGet;
    case Method::kDelete:
      return kDelete;
    case Method::kSearch:
      return kSearch;
    case Method::kSearchBatch:
      return kSearchBatch;
    case Method::kCount:
      return kCount;
    case Method::kIngestDocuments:
      return kIngestDocuments;
    case Method::kUpsertDocument:
      return kUpsertDocument;
    case Method::kDeleteDocument:
      return kDeleteDocument;
    case Method::kGetDocument:
      return kGetDocument;
    case Method::kGetIngestJob:
      return kGetIngestJob;
    case Method::kRetrieve:
      return kRetrieve;
    case Method::kAnswer:
      return kAnswer;
    case Method::kListModels:
      return kListModels;
    case Method::kCountTokens:
      return kCountTokens;
    case Method::kCreateBackup:
      return kCreateBackup;
    case Method::kVerifyCollection:
      return kVerifyCollection;
    case Method::kClusterStatus:
      return kClusterStatus;
  }
  return kCreateBackup;  // unreachable: every enumerator is handled above
}

const MethodSpec* FindMethod(std::string_view name) {
  static constexpr std::array kAll = {
      Method::kCreateCollection, Method::kGetCollection,   Method::kListCollections,
      Method::kDeleteCollection, Method::kUpsert,          Method::kGet,
      Method::kDelete,           Method::kSearch,          Method::kCount,
      Method::kIngestDocuments,  Method::kUpsertDocument,  Method::kDeleteDocument,
      Method::kGetDocument,      Method::kGetIngestJob,    Method::kRetrieve,
      Method::kAnswer,           Method::kListModels,      Method::kCountTokens,
      Method::kCreateBackup,     Method::kVerifyCollection, Method::kSearchBatch,
      Method::kClusterStatus};
  for (Method m : kAll) {
    if (SpecOf(m).name == name) return &SpecOf(m);
  }
  return nullptr;
}

Role RequiredRole(std::string_view name) {
  const MethodSpec* spec = FindMethod(name);
  return spec != nullptr ? spec->role : Role::kAdmin;
}

absl::Status Admit(grpc::CallbackServerContext* context, const Authorizer* authorizer,
                   Method method, std::string_view collection) {
  const MethodSpec& spec = SpecOf(method);
  if (authorizer != nullptr) {
    absl::Status s = authorizer->Check(context->client_metadata(), spec, collection,
                                       /*consume=*/true);
    if (!s.ok()) return s;
  }
  if (!spec.collection_field.empty()) {
    return ValidateCollectionName(spec.collection_field, collection);
  }
  return absl::OkStatus();
}

absl::Status AdmitCollection(grpc::CallbackServerContext* context, const Authorizer* authorizer,
                             Method method, std::string_view collection) {
  if (authorizer == nullptr) return absl::OkStatus();
  return authorizer->Check(context->client_metadata(), SpecOf(method), collection,
                           /*consume=*/false);
}

absl::Status ValidateCollectionName(std::string_view field, std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(field), ": must be 1 to 64 characters of [A-Za-z0-9_-], got ", name.size()));
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          std::string(field), ": must match [A-Za-z0-9_-]{1,64}, got \"", EchoPrefix(name), "\""));
    }
  }
  return absl::OkStatus();
}

}  // namespace ragd::services
