// The method table and the handlers' prologue (services/api/methods.h): every method has one
// row, roles are those README "Security" lists, Admit consults the injected Authorizer with the
// method's row and checks the collection name the row names.

#include "services/api/methods.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace ragd::services {
namespace {

// Records what it was asked and answers `verdict`.
class RecordingAuthorizer final : public Authorizer {
 public:
  absl::Status Check(const Metadata&, const MethodSpec& method, std::string_view collection,
                     bool consume) const override {
    asked.push_back(std::string(method.name) + "|" + std::string(collection) + "|" +
                    (consume ? "consume" : "peek"));
    return verdict;
  }
  absl::Status verdict;
  mutable std::vector<std::string> asked;
};

constexpr Method kAll[] = {
    Method::kCreateCollection, Method::kGetCollection,  Method::kListCollections,
    Method::kDeleteCollection, Method::kUpsert,         Method::kGet,
    Method::kDelete,           Method::kSearch,         Method::kCount,
    Method::kIngestDocuments,  Method::kUpsertDocument, Method::kDeleteDocument,
    Method::kGetDocument,      Method::kGetIngestJob,   Method::kRetrieve,
    Method::kAnswer,           Method::kListModels,     Method::kCountTokens,
    Method::kCreateBackup,     Method::kVerifyCollection, Method::kSearchBatch,
    Method::kClusterStatus};

TEST(MethodsTest, EveryMethodHasOneRowAndTheDocumentedRole) {
  std::set<std::string> names;
  for (Method m : kAll) {
    const MethodSpec& spec = SpecOf(m);
    EXPECT_TRUE(names.insert(std::string(spec.name)).second) << spec.name;
    EXPECT_EQ(RequiredRole(spec.name), spec.role) << spec.name;
  }
  EXPECT_EQ(SpecOf(Method::kSearch).role, Role::kReader);
  EXPECT_EQ(SpecOf(Method::kSearchBatch).role, Role::kReader);
  EXPECT_EQ(SpecOf(Method::kAnswer).role, Role::kReader);
  EXPECT_EQ(SpecOf(Method::kUpsert).role, Role::kWriter);
  EXPECT_EQ(SpecOf(Method::kIngestDocuments).role, Role::kWriter);
  EXPECT_EQ(SpecOf(Method::kCreateCollection).role, Role::kAdmin);
  EXPECT_EQ(SpecOf(Method::kCreateBackup).role, Role::kAdmin);
  EXPECT_EQ(SpecOf(Method::kClusterStatus).role, Role::kAdmin);
  // A name nobody registered needs the highest role.
  EXPECT_EQ(RequiredRole("Points.Unknown"), Role::kAdmin);
  EXPECT_STREQ(RoleName(Role::kWriter), "writer");
}

TEST(MethodsTest, AdmitAsksTheAuthorizerThenChecksTheCollectionName) {
  grpc::CallbackServerContext context;
  RecordingAuthorizer auth;
  EXPECT_TRUE(Admit(&context, &auth, Method::kSearch, "kb").ok());
  EXPECT_EQ(auth.asked, (std::vector<std::string>{"Points.Search|kb|consume"}));

  absl::Status bad = Admit(&context, &auth, Method::kSearch, "no spaces");
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("collection:"), std::string::npos) << bad;
  bad = Admit(&context, &auth, Method::kCreateCollection, "");
  EXPECT_NE(bad.message().find("name:"), std::string::npos) << bad;
  // Methods whose request names no collection skip the check.
  EXPECT_TRUE(Admit(&context, &auth, Method::kListCollections, "").ok());

  // The authorizer's refusal wins, before the name is looked at.
  auth.verdict = absl::PermissionDeniedError("no");
  EXPECT_EQ(Admit(&context, &auth, Method::kSearch, "bad name").code(),
            absl::StatusCode::kPermissionDenied);
  auth.asked.clear();
  EXPECT_EQ(AdmitCollection(&context, &auth, Method::kIngestDocuments, "kb").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(auth.asked, (std::vector<std::string>{"Ingest.IngestDocuments|kb|peek"}));

  // Without an authorizer every call is allowed; names are still checked.
  EXPECT_TRUE(Admit(&context, nullptr, Method::kUpsert, "kb").ok());
  EXPECT_FALSE(Admit(&context, nullptr, Method::kUpsert, "k/b").ok());
}

TEST(MethodsTest, AnOverlongNameIsNotEchoedWhole) {
  grpc::CallbackServerContext context;
  const std::string name(100000, 'x');
  absl::Status s = Admit(&context, nullptr, Method::kGet, name);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LT(s.message().size(), 200u) << s.message().size();
}

}  // namespace
}  // namespace ragd::services
