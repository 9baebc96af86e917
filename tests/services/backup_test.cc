// Backup and restore over the real binaries: `ragctl snapshot create` asks a running ragd for a
// backup, more writes follow, and a new ragd started with --restore-from on an empty data
// directory serves exactly the backed-up points (count, Get, search). A data directory that
// holds another database, or a backup that did not finish, makes ragd exit with code 2. Only an
// unscoped admin key may take a backup.

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ragd/v1/admin.grpc.pb.h"
#include "ragd/v1/collections.grpc.pb.h"
#include "ragd/v1/points.grpc.pb.h"
#include "tests/testing/ragd_process.h"
#include "tests/testing/temp_dir.h"

namespace ragd::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kCollection[] = "kb";

#define ASSERT_GRPC_OK(expr)                                        \
  do {                                                              \
    grpc::Status grpc_status_ = (expr);                             \
    ASSERT_TRUE(grpc_status_.ok()) << grpc_status_.error_message(); \
  } while (false)

class Client {
 public:
  explicit Client(const std::shared_ptr<grpc::Channel>& channel)
      : collections_(v1::Collections::NewStub(channel)), points_(v1::Points::NewStub(channel)) {}

  grpc::Status Create() {
    grpc::ClientContext context;
    v1::CreateCollectionRequest request;
    request.set_name(kCollection);
    request.set_dimension(4);
    request.set_metric(v1::METRIC_L2);
    request.set_shards(2);
    v1::CreateCollectionResponse response;
    return collections_->CreateCollection(&context, request, &response);
  }
  // Points pFIRST..pLAST-1 at (n, n % 3, 0, 1), text "point n".
  grpc::Status Upsert(int first, int last) {
    grpc::ClientContext context;
    v1::UpsertRequest request;
    request.set_collection(kCollection);
    for (int n = first; n < last; ++n) {
      v1::Point* p = request.add_points();
      p->set_id(absl::StrCat("p", n));
      for (float x : {static_cast<float>(n), static_cast<float>(n % 3), 0.0f, 1.0f}) {
        p->add_vector(x);
      }
      p->set_text(absl::StrCat("point ", n));
    }
    v1::UpsertResponse response;
    return points_->Upsert(&context, request, &response);
  }
  grpc::Status Delete(const std::string& id) {
    grpc::ClientContext context;
    v1::DeleteRequest request;
    request.set_collection(kCollection);
    request.mutable_ids()->add_ids(id);
    v1::DeleteResponse response;
    return points_->Delete(&context, request, &response);
  }
  uint64_t Count() {
    grpc::ClientContext context;
    v1::CountRequest request;
    request.set_collection(kCollection);
    v1::CountResponse response;
    grpc::Status s = points_->Count(&context, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.count();
  }
  // id -> text of the ids found.
  std::map<std::string, std::string> Get(const std::vector<std::string>& ids) {
    grpc::ClientContext context;
    v1::GetRequest request;
    request.set_collection(kCollection);
    for (const std::string& id : ids) request.add_ids(id);
    v1::GetResponse response;
    grpc::Status s = points_->Get(&context, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::map<std::string, std::string> out;
    for (const v1::Point& p : response.points()) out[p.id()] = p.text();
    return out;
  }
  std::vector<std::string> Search() {
    grpc::ClientContext context;
    v1::SearchRequest request;
    request.set_collection(kCollection);
    for (float x : {10.2f, 1.0f, 0.0f, 1.0f}) request.add_vector(x);
    request.set_k(5);
    v1::SearchResponse response;
    grpc::Status s = points_->Search(&context, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> ids;
    for (const v1::ScoredPoint& h : response.hits()) ids.push_back(h.point().id());
    return ids;
  }

 private:
  std::unique_ptr<v1::Collections::Stub> collections_;
  std::unique_ptr<v1::Points::Stub> points_;
};

CommandResult Run(std::vector<std::string> argv) {
  absl::StatusOr<CommandResult> r = RunCommand(argv);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : CommandResult{};
}

CommandResult Ragctl(const RagdProcess& ragd, std::vector<std::string> args) {
  args.insert(args.begin(), {RAGCTL_BINARY, "--address", ragd.address()});
  return Run(std::move(args));
}

// ragd that must refuse to start: it exits before it listens.
CommandResult RagdRefusing(const std::string& data_dir, const std::string& restore_from) {
  return Run({RagdBinary(), "--listen", "127.0.0.1:0", "--data-dir", data_dir, "--restore-from",
              restore_from});
}

TEST(BackupTest, SnapshotCreateThenRestoreFromRoundTripsACollection) {
  TempDir dir;
  const std::string data = (dir.path() / "data").string();
  const std::string backup = (dir.path() / "backups" / "2026-11-23").string();
  std::vector<std::string> searched;
  {
    auto ragd = RagdProcess::Start(RagdProcess::OptionsFor(data));
    ASSERT_TRUE(ragd.ok()) << ragd.status();
    Client client((*ragd)->channel());
    ASSERT_GRPC_OK(client.Create());
    ASSERT_GRPC_OK(client.Upsert(0, 40));
    ASSERT_GRPC_OK(client.Delete("p0"));
    searched = client.Search();
    ASSERT_EQ(searched.size(), 5u);

    CommandResult r = Ragctl(**ragd, {"--json", "snapshot", "create", backup});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r.out;
    ASSERT_EQ(j["collections"].size(), 1u) << r.out;
    EXPECT_EQ(j["collections"][0]["name"], kCollection);
    EXPECT_EQ(j["collections"][0]["points"], "39") << r.out;  // uint64 is a JSON string
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(backup) / "manifest.json"));
    // The checkpoint was staged inside the data directory and is gone again.
    for (const auto& e : std::filesystem::directory_iterator(data)) {
      EXPECT_FALSE(e.path().filename().string().starts_with("backup-staging-")) << e.path();
    }

    r = Ragctl(**ragd, {"snapshot", "create", backup});
    EXPECT_EQ(r.exit_code, 4) << r.err;  // ALREADY_EXISTS
    EXPECT_THAT(r.err, HasSubstr("already holds a backup"));
    r = Ragctl(**ragd, {"snapshot", "create", "backups/relative"});
    EXPECT_EQ(r.exit_code, 5) << r.err;  // INVALID_ARGUMENT
    EXPECT_THAT(r.err, HasSubstr("not absolute"));

    // Acknowledged after the backup: none of this may come back from it.
    ASSERT_GRPC_OK(client.Upsert(100, 110));
    ASSERT_GRPC_OK(client.Delete("p1"));
    EXPECT_EQ(client.Count(), 48u);
    absl::StatusOr<int> code = (*ragd)->Terminate(absl::Seconds(30));
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 0) << (*ragd)->LogTail();
  }

  // The old data directory holds a database: restoring over it is refused.
  CommandResult refused = RagdRefusing(data, backup);
  EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
  EXPECT_THAT(refused.out + refused.err, HasSubstr("already holds a database"));
  // A directory without manifest.json is no (complete) backup.
  std::filesystem::create_directories(dir.path() / "partial" / "db");
  refused = RagdRefusing((dir.path() / "fresh").string(), (dir.path() / "partial").string());
  EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
  EXPECT_THAT(refused.out + refused.err, HasSubstr("manifest.json"));

  const std::string restored = (dir.path() / "restored").string();
  RagdProcess::Options options = RagdProcess::OptionsFor(restored, {"--restore-from", backup});
  {
    auto ragd = RagdProcess::Start(options);
    ASSERT_TRUE(ragd.ok()) << ragd.status();
    Client client((*ragd)->channel());
    EXPECT_EQ(client.Count(), 39u);
    std::map<std::string, std::string> got = client.Get({"p0", "p1", "p39", "p100"});
    EXPECT_EQ(got, (std::map<std::string, std::string>{{"p1", "point 1"}, {"p39", "point 39"}}));
    EXPECT_EQ(client.Search(), searched);
    ASSERT_GRPC_OK(client.Upsert(200, 201));
    absl::StatusOr<int> code = (*ragd)->Terminate(absl::Seconds(30));
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 0) << (*ragd)->LogTail();
  }
  // Restarted with the same flags (a pod keeps its spec): starts, and keeps the later write.
  {
    auto ragd = RagdProcess::Start(options);
    ASSERT_TRUE(ragd.ok()) << ragd.status();
    Client client((*ragd)->channel());
    EXPECT_EQ(client.Count(), 40u);
    EXPECT_EQ(client.Get({"p200"}).size(), 1u);
    EXPECT_THAT((*ragd)->LogTail(), HasSubstr("restored by an earlier start"));
  }
}

std::string WriteFile(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = (dir.path() / name).string();
  std::ofstream(path) << text;
  return path;
}

// A backup holds every collection: only an admin key without a collection list may take one.
TEST(BackupTest, CreateBackupNeedsAnUnscopedAdminKey) {
  TempDir dir;
  const std::string yaml =
      absl::StrCat("auth:\n  api_keys:\n    - {name: ops, role: admin, key_file: ",
                   WriteFile(dir, "ops.key", "ops-secret-4d5e6f"),
                   "}\n    - {name: team, role: admin, collections: [kb], key_file: ",
                   WriteFile(dir, "team.key", "team-secret-7a8b9c"),
                   "}\n    - {name: viewer, role: reader, key_file: ",
                   WriteFile(dir, "viewer.key", "viewer-secret-1a2b3c"), "}\n");
  auto ragd = RagdProcess::Start(RagdProcess::OptionsFor(
      (dir.path() / "data").string(), {"--config", WriteFile(dir, "ragd.yaml", yaml)}));
  ASSERT_TRUE(ragd.ok()) << ragd.status();
  for (const char* name : {"kb", "other"}) {
    CommandResult r = Ragctl(**ragd, {"--api-key", "ops-secret-4d5e6f", "collections", "create",
                                      name, "--dimension", "4"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const std::string backup = (dir.path() / "backups" / "b").string();
  CommandResult r = Ragctl(**ragd, {"snapshot", "create", backup});
  EXPECT_THAT(r.err, HasSubstr("UNAUTHENTICATED"));
  EXPECT_EQ(r.exit_code, 8);
  r = Ragctl(**ragd, {"--api-key", "viewer-secret-1a2b3c", "snapshot", "create", backup});
  EXPECT_THAT(r.err, HasSubstr("PERMISSION_DENIED"));
  EXPECT_EQ(r.exit_code, 9);
  r = Ragctl(**ragd, {"--api-key", "team-secret-7a8b9c", "snapshot", "create", backup});
  EXPECT_THAT(r.err, HasSubstr("unscoped admin key"));
  EXPECT_FALSE(std::filesystem::exists(backup));
  r = Ragctl(**ragd, {"--api-key", "ops-secret-4d5e6f", "snapshot", "create", backup});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("other"));
}

// A directory the file system cannot take is refused before anything is touched: a NUL byte
// (it would cut the path short in the C calls and surface as an I/O error) and overlong paths.
TEST(BackupTest, ADirectoryWithANulByteIsInvalidArgument) {
  TempDir dir;
  auto ragd = RagdProcess::Start(RagdProcess::OptionsFor((dir.path() / "data").string()));
  ASSERT_TRUE(ragd.ok()) << ragd.status();
  auto stub = v1::Admin::NewStub((*ragd)->channel());
  const std::string target = (dir.path() / "b").string();
  for (const std::string& directory :
       {target + std::string("\0tail", 5), std::string(5000, 'd'), std::string()}) {
    grpc::ClientContext context;
    v1::CreateBackupRequest request;
    request.set_directory(directory);
    v1::CreateBackupResponse response;
    grpc::Status status = stub->CreateBackup(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr("directory:"));
    EXPECT_LT(status.error_message().size(), 300u);
  }
  EXPECT_FALSE(std::filesystem::exists(target));
}

}  // namespace
}  // namespace ragd::testing
