// The real OpenAI Node SDK against ragd's HTTP API (tests/services/node/openai_sdk_test.mjs):
// this test starts the fake chat server and ragd with API keys, queues the fake's faults in the
// order the script uses them, runs the script with Node.js, and checks what only this side
// sees: the upstream stream the SDK aborted was closed, and the embedding the SDK got is the
// one Retrieve searches with. The SDK is installed into the build tree by the CTest fixture
// openai_sdk_install (npm); without it this test fails, it does not skip.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "absl/strings/str_split.h"
#include "ragd/v1/points.grpc.pb.h"
#include "ragd/v1/retrieval.grpc.pb.h"
#include "tests/services/http_test_util.h"

namespace ragd::testing {
namespace {

constexpr char kAdminKey[] = "admin-secret-4f5e6d";
constexpr char kReaderKey[] = "reader-secret-9e8d7c";
constexpr char kScopedKey[] = "scoped-secret-1b2c3d";
constexpr int kScriptChecks = 15;

TEST(OpenAiSdkTest, TheOfficialNodeClientWorksAgainstRagd) {
  const std::filesystem::path sdk_dir = OPENAI_SDK_DIR;
  ASSERT_TRUE(std::filesystem::exists(sdk_dir / "node_modules/openai/package.json"))
      << "the OpenAI Node SDK is not installed in " << sdk_dir
      << ": the CTest fixture openai_sdk_install (npm install --prefix " << sdk_dir << " openai@"
      << OPENAI_SDK_VERSION
      << ") failed or did not run; run `ctest -R 'openai_sdk'` and read its output";

  TempDir keys;
  std::string auth = absl::StrCat(
      "auth:\n  api_keys:\n"
      "    - {name: ops, role: admin, key_file: ",
      WriteFile(keys, "admin.key", kAdminKey),
      "}\n    - {name: viewer, role: reader, key_file: ", WriteFile(keys, "reader.key", kReaderKey),
      "}\n    - {name: scoped, role: reader, collections: [other], key_file: ",
      WriteFile(keys, "scoped.key", kScopedKey), "}\n");
  auto stack = HttpStack::Start(auth, kAdminKey);
  ASSERT_TRUE(stack.ok()) << stack.status();
  HttpStack& s = **stack;
  // In the script's order: a 429 and its retry, then the stream the SDK aborts.
  s.chat->Enqueue(ChatFault::TooManyRequests(std::chrono::milliseconds(1)));
  s.chat->Enqueue(ChatFault::TooManyRequests(std::chrono::milliseconds(1)));
  s.chat->Enqueue(ChatFault::Endless(std::chrono::milliseconds(20)));

  absl::StatusOr<CommandResult> run = RunCommand(
      {"/usr/bin/env", "node", (sdk_dir / "openai_sdk_test.mjs").string()}, absl::Seconds(120),
      {absl::StrCat("RAGD_BASE_URL=http://127.0.0.1:", s.ragd->http_port(), "/v1"),
       absl::StrCat("RAGD_AZURE_MODEL=", kAzure), absl::StrCat("RAGD_COLLECTION=", kCollection),
       absl::StrCat("RAGD_QUESTION=", kQuestion),
       absl::StrCat("RAGD_EXPECTED_ANSWER=", s.chat->answer()),
       absl::StrCat("RAGD_READER_KEY=", kReaderKey), absl::StrCat("RAGD_SCOPED_KEY=", kScopedKey)});
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->exit_code, 0) << "stdout:\n" << run->out << "\nstderr:\n" << run->err;
  std::vector<std::string> lines = absl::StrSplit(run->out, '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  Json result = Json::parse(lines.back(), nullptr, false);
  ASSERT_TRUE(result.is_object()) << run->out;
  EXPECT_EQ(result["checks"], kScriptChecks);

  // The README's example app (examples/openai/ask.mjs), as a user would run it.
  absl::StatusOr<CommandResult> example = RunCommand(
      {"/usr/bin/env", "node", (sdk_dir / "ask.mjs").string(), kQuestion, "--collection",
       kCollection, "--model", kAzure},
      absl::Seconds(60),
      {absl::StrCat("RAGD_BASE_URL=http://127.0.0.1:", s.ragd->http_port(), "/v1"),
       absl::StrCat("RAGD_API_KEY=", kReaderKey)});
  ASSERT_TRUE(example.ok()) << example.status();
  ASSERT_EQ(example->exit_code, 0) << example->out << example->err;
  EXPECT_EQ(example->out.rfind(s.chat->answer(), 0), 0u) << example->out;
  EXPECT_NE(example->out.find("\nSources:\n[1] "), std::string::npos) << example->out;
  EXPECT_NE(example->out.find("tokens: prompt "), std::string::npos) << example->out;

  // The aborted stream's upstream request was closed.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (s.chat->counters().client_disconnects == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(s.chat->counters().client_disconnects, 1u);

  // The SDK's embedding finds what Retrieve finds, with the same scores.
  std::vector<float> vector = result["embedding"].get<std::vector<float>>();
  ASSERT_EQ(vector.size(), 1536u);
  v1::RetrieveRequest retrieve;
  retrieve.set_collection(kCollection);
  retrieve.set_query(kQuestion);
  retrieve.set_k(5);
  retrieve.set_mode(v1::SEARCH_MODE_VECTOR);  // the vector leg alone (hybrid is the default)
  grpc::ClientContext c1;
  c1.set_deadline(CallDeadline());
  c1.AddMetadata("authorization", std::string("Bearer ") + kReaderKey);
  v1::RetrieveResponse retrieved;
  ASSERT_GRPC_OK(v1::Retrieval::NewStub(s.ragd->channel())->Retrieve(&c1, retrieve, &retrieved));
  v1::SearchRequest search;
  search.set_collection(kCollection);
  SetVector(search.mutable_vector(), vector);
  search.set_k(5);
  grpc::ClientContext c2;
  c2.set_deadline(CallDeadline());
  c2.AddMetadata("authorization", std::string("Bearer ") + kReaderKey);
  v1::SearchResponse found;
  ASSERT_GRPC_OK(v1::Points::NewStub(s.ragd->channel())->Search(&c2, search, &found));
  ASSERT_EQ(found.hits_size(), retrieved.chunks_size());
  for (int i = 0; i < found.hits_size(); ++i) {
    EXPECT_EQ(found.hits(i).point().id(), retrieved.chunks(i).id());
    EXPECT_FLOAT_EQ(found.hits(i).score(), retrieved.chunks(i).score());
  }
}

}  // namespace
}  // namespace ragd::testing
