// The `embedders` and `ingest` settings of ragd's configuration: parsed from YAML, ingest.*
// also from the environment, unknown keys named, secrets never printed.

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "services/server/config.h"
#include "tests/services/ingest_test_util.h"

namespace ragd::services {
namespace {

using ::ragd::testing::TempDir;
using ::ragd::testing::WriteText;

CommandLine Parse(const std::string& yaml, std::vector<std::string> env, std::string* out,
                  std::string* err, std::vector<std::string> extra = {}) {
  static TempDir dir;
  const std::string path = (dir.path() / "ragd.yaml").string();
  WriteText(path, yaml);
  std::vector<std::string> args = {"ragd", "--config", path};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  std::ostringstream o, e;
  CommandLine cl = ParseCommandLine(static_cast<int>(argv.size()), argv.data(), env, o, e);
  *out = o.str();
  *err = e.str();
  return cl;
}

TEST(IngestConfigTest, EmbeddersAndIngestSettings) {
  const std::string yaml =
      "embedders:\n"
      "  - name: ada\n"
      "    provider: azure-openai\n"
      "    endpoint: https://my-resource.openai.azure.com\n"
      "    deployment: text-embedding-ada-002\n"
      "    api_key: sk-very-secret\n"
      "    tokens_per_minute: 350000\n"
      "    max_inputs_per_request: 16\n"
      "  - name: compat\n"
      "    provider: openai\n"
      "    base_url: http://127.0.0.1:9/v1\n"
      "    api_key_env: COMPAT_KEY\n"
      "    dimension: 768\n"
      "ingest:\n"
      "  chunk_tokens: 256\n";
  std::string out, err;
  CommandLine cl = Parse(yaml, {"RAGD_INGEST__WORKERS=3", "COMPAT_KEY=sk-compat"}, &out, &err);
  ASSERT_FALSE(cl.exit_code) << err;
  ASSERT_EQ(cl.config.embedders.size(), 2u);
  EXPECT_EQ(cl.config.embedders[0].name, "ada");
  EXPECT_EQ(cl.config.embedders[0].config.provider, models::EmbedderProvider::kAzureOpenAi);
  EXPECT_EQ(cl.config.embedders[0].config.tokens_per_minute, 350000u);
  EXPECT_EQ(cl.config.embedders[0].config.max_inputs_per_request, 16u);
  EXPECT_EQ(cl.config.embedders[1].config.dimension, 768u);
  EXPECT_EQ(cl.config.embedders[1].config.api_key_env, "COMPAT_KEY");
  EXPECT_EQ(cl.config.ingest.chunking.max_tokens, 256);
  EXPECT_EQ(cl.config.ingest.service.ingestors.workers, 3u);
  // Keys named by variable are read through the reader config hands to models/ (which reads no
  // environment itself), from the environment ragd was given.
  ASSERT_NE(cl.config.embedders[1].config.secrets, nullptr);
  EXPECT_EQ(cl.config.embedders[1].config.secrets->Variable("COMPAT_KEY"), "sk-compat");
  EXPECT_EQ(cl.config.embedders[1].config.secrets->Variable("UNSET_HERE"), std::nullopt);

  cl = Parse(yaml, {}, &out, &err, {"--print-config"});
  ASSERT_EQ(cl.exit_code, 0) << err;
  EXPECT_EQ(out.find("sk-very-secret"), std::string::npos) << out;
  EXPECT_NE(out.find("api_key: <redacted>"), std::string::npos) << out;
  EXPECT_NE(out.find("chunk_tokens: 256"), std::string::npos) << out;
  // The printed configuration is itself valid input (secrets aside).
  std::string again_out;
  cl = Parse(out, {}, &again_out, &err);
  EXPECT_FALSE(cl.exit_code) << err;
}

TEST(IngestConfigTest, ErrorsNameTheKey) {
  std::string out, err;
  CommandLine cl =
      Parse("embedders:\n  - name: a\n    provider: openai\n    colour: red\n", {}, &out, &err);
  EXPECT_EQ(cl.exit_code, 2);
  EXPECT_NE(err.find("embedders[0].colour: unknown setting"), std::string::npos) << err;
  cl = Parse("embedders:\n  - name: local\n", {}, &out, &err);
  EXPECT_EQ(cl.exit_code, 2);
  EXPECT_NE(err.find("embedders[0].name"), std::string::npos) << err;
  cl = Parse("embedders:\n  - name: a\n  - name: a\n", {}, &out, &err);
  EXPECT_EQ(cl.exit_code, 2);
  EXPECT_NE(err.find("duplicate"), std::string::npos) << err;
  cl = Parse("embedders:\n  - name: a\n    provider: azure-openai\n", {}, &out, &err);
  EXPECT_EQ(cl.exit_code, 2);  // no endpoint or deployment
  EXPECT_NE(err.find("embedders[0] (a)"), std::string::npos) << err;
  cl = Parse("ingest:\n  workers: 0\n", {}, &out, &err);
  EXPECT_EQ(cl.exit_code, 2);
  EXPECT_NE(err.find("ingest.workers"), std::string::npos) << err;
  cl = Parse("ingest:\n  nope: 1\n", {}, &out, &err);
  EXPECT_NE(err.find("ingest.nope: unknown setting"), std::string::npos) << err;
}

}  // namespace
}  // namespace ragd::services
