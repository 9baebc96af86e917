// examples/python/ask.py, as a user runs it, against a real ragd (gRPC on loopback) whose
// models answer from the fake chat server: it searches, streams an answer (and compares two
// models), and reports errors as ragd's status codes. The stubs it imports are generated at
// build time (examples/python/CMakeLists.txt), so a proto change that breaks the example fails
// this test.

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/services/http_test_util.h"

namespace ragd::testing {
namespace {

constexpr char kKey[] = "python-secret-5c4b3a";

absl::StatusOr<CommandResult> RunExample(const HttpStack& s, std::vector<std::string> args,
                                         const std::string& key = kKey) {
  std::vector<std::string> argv = {
      SYSTEM_PYTHON, (std::filesystem::path(RAGD_SOURCE_DIR) / "examples/python/ask.py").string(),
      "--target", absl::StrCat("127.0.0.1:", s.ragd->port())};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, absl::Seconds(60),
                    {absl::StrCat("PYTHONPATH=", PYTHON_STUBS_DIR),
                     absl::StrCat("RAGD_API_KEY=", key)});
}

TEST(PythonExampleTest, SearchesAndStreamsAnAnswer) {
  ASSERT_TRUE(std::filesystem::exists(std::filesystem::path(PYTHON_STUBS_DIR) /
                                      "ragd/v1/retrieval_pb2_grpc.py"))
      << "no Python stubs in " << PYTHON_STUBS_DIR << ": build the target python_example_stubs";
  TempDir keys;
  std::string auth = absl::StrCat("auth:\n  api_keys:\n    - {name: py, role: admin, key_file: ",
                                  WriteFile(keys, "py.key", kKey), "}\n");
  FakeChatOptions chat;
  auto stack = HttpStack::Start(
      auth, kKey,
      absl::StrCat(AzureDeploymentYaml("azure-mini", "{endpoint}"), "      model: gpt-4o-mini\n"),
      chat);
  ASSERT_TRUE(stack.ok()) << stack.status();
  const HttpStack& s = **stack;

  absl::StatusOr<CommandResult> run =
      RunExample(s, {"--collection", kCollection, "--model", kAzure, "-k", "3", kQuestion});
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->exit_code, 0) << run->out << run->err;
  EXPECT_NE(run->out.find("Search (local/"), std::string::npos) << run->out;
  EXPECT_NE(run->out.find("  3. "), std::string::npos) << run->out;
  EXPECT_NE(run->out.find("Answer ("), std::string::npos) << run->out;
  EXPECT_NE(run->out.find(s.chat->answer()), std::string::npos) << run->out;
  EXPECT_NE(run->out.find(absl::StrCat(kAzure, ": first token ")), std::string::npos) << run->out;

  // Two models side by side: each one's text and totals.
  absl::StatusOr<CommandResult> compared = RunExample(
      s, {"--collection", kCollection, "--model", kAzure, "--model", "azure-mini", kQuestion});
  ASSERT_TRUE(compared.ok()) << compared.status();
  ASSERT_EQ(compared->exit_code, 0) << compared->out << compared->err;
  EXPECT_NE(compared->out.find("[azure-mini] "), std::string::npos) << compared->out;
  EXPECT_NE(compared->out.find("azure-mini: first token "), std::string::npos) << compared->out;
  EXPECT_EQ(s.chat->counters().requests, 3u);

  // Errors are ragd's status codes, not a traceback.
  absl::StatusOr<CommandResult> absent = RunExample(s, {"--collection", "absent", "hello"});
  ASSERT_TRUE(absent.ok());
  EXPECT_EQ(absent->exit_code, 2);
  EXPECT_NE(absent->err.find("ragd: NOT_FOUND: "), std::string::npos) << absent->err;
  absl::StatusOr<CommandResult> unauthenticated =
      RunExample(s, {"--collection", kCollection, "hello"}, "wrong-key");
  ASSERT_TRUE(unauthenticated.ok());
  EXPECT_EQ(unauthenticated->exit_code, 2);
  EXPECT_NE(unauthenticated->err.find("ragd: UNAUTHENTICATED: "), std::string::npos)
      << unauthenticated->err;
}

}  // namespace
}  // namespace ragd::testing
