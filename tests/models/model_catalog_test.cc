// The model catalog: built-in profiles, YAML parsing and its errors, cost arithmetic, and the
// factory's key handling.

#include "models/model_catalog.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "models/chat_model.h"
#include "tests/testing/host_secrets.h"
#include "tests/testing/status_matchers.h"

namespace ragd::models {
namespace {

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

TEST(ModelCatalogTest, DefaultCatalogHasTheLocalModel) {
  ModelCatalog catalog;
  ASSERT_EQ(catalog.deployments().size(), 1u);
  EXPECT_EQ(catalog.default_model(), "local");
  ASSERT_OK_AND_ASSIGN(const ModelDeployment* local, catalog.Get("local"));
  EXPECT_EQ(local->provider, ChatProvider::kLocal);
  EXPECT_OK(local->Validate());
  EXPECT_EQ(catalog.Get("gpt-4").status().code(), absl::StatusCode::kNotFound);
}

TEST(ModelCatalogTest, ProfilesMatchFamiliesAndVersions) {
  struct Case {
    const char* model;
    const char* family;
    const char* version;
    size_t window;
  };
  for (const Case& c : {
           Case{"gpt-35-turbo", "gpt-35-turbo", "0125", 16385},
           Case{"gpt-35-turbo-0613", "gpt-35-turbo", "0613", 4096},
           Case{"gpt-35-turbo-0301", "gpt-35-turbo", "0301", 4096},
           Case{"gpt-3.5-turbo", "gpt-35-turbo", "0125", 16385},
           Case{"gpt-35-turbo-16k", "gpt-35-turbo-16k", "0613", 16384},
           Case{"gpt-4", "gpt-4", "0613", 8192},
           Case{"gpt-4-0613", "gpt-4", "0613", 8192},
           Case{"gpt-4-0314", "gpt-4", "0314", 8192},
           Case{"gpt-4-32k", "gpt-4-32k", "0613", 32768},
           Case{"gpt-4-turbo", "gpt-4-turbo", "2024-04-09", 128000},
           Case{"gpt-4-turbo-2024-04-09", "gpt-4-turbo", "2024-04-09", 128000},
           Case{"gpt-4-turbo-preview", "gpt-4-turbo", "preview", 128000},
           Case{"gpt-4-vision-preview", "gpt-4", "vision-preview", 128000},
           Case{"gpt-4o", "gpt-4o", "2024-08-06", 128000},
           Case{"gpt-4o-2024-08-06", "gpt-4o", "2024-08-06", 128000},
           Case{"gpt-4o-2024-05-13", "gpt-4o", "2024-05-13", 128000},
           Case{"gpt-4o-mini", "gpt-4o-mini", "2024-07-18", 128000},
           Case{"gpt-4o-mini-2024-07-18", "gpt-4o-mini", "2024-07-18", 128000},
       }) {
    ModelProfileMatch m = LookupModelProfile(c.model);
    ASSERT_NE(m.profile, nullptr) << c.model;
    EXPECT_FALSE(m.unknown_version) << c.model;
    EXPECT_EQ(m.profile->family, c.family) << c.model;
    EXPECT_EQ(m.profile->version, c.version) << c.model;
    EXPECT_EQ(m.profile->context_window, c.window) << c.model;
  }
  EXPECT_EQ(FindModelProfile("llama3"), nullptr);
  EXPECT_EQ(FindModelProfile("gpt-4-vision"), nullptr);  // not a version: no digit after '-'
  EXPECT_EQ(FindModelProfile("gpt-4o")->encoding, Encoding::kO200kBase);
  EXPECT_EQ(FindModelProfile("gpt-4")->encoding, Encoding::kCl100kBase);
  // The gpt-4o 2024-05-13 snapshot capped output at 4,096; later ones at 16,384.
  EXPECT_EQ(FindModelProfile("gpt-4o-2024-05-13")->max_output_tokens, 4096u);
  EXPECT_EQ(FindModelProfile("gpt-4o-2024-11-20")->max_output_tokens, 16384u);
}

// Issue 13 #5: version prefixes used to give 1106/0125 the 4K window of gpt-35-turbo 0613 and
// gpt-4's 8K window and prices to the 128K gpt-4 Turbo previews.
TEST(ModelCatalogTest, VersionsHaveTheirOwnWindowsAndPrices) {
  for (const char* model :
       {"gpt-35-turbo-1106", "gpt-35-turbo-0125", "gpt-3.5-turbo-1106", "gpt-3.5-turbo-0125"}) {
    const ModelProfile* p = FindModelProfile(model);
    ASSERT_NE(p, nullptr) << model;
    EXPECT_EQ(p->context_window, 16385u) << model;
    EXPECT_EQ(p->max_output_tokens, 4096u) << model;
    EXPECT_EQ(p->encoding, Encoding::kCl100kBase) << model;
  }
  EXPECT_DOUBLE_EQ(FindModelProfile("gpt-35-turbo-1106")->price_per_1k_input, 0.001);
  EXPECT_DOUBLE_EQ(FindModelProfile("gpt-35-turbo-1106")->price_per_1k_output, 0.002);
  EXPECT_DOUBLE_EQ(FindModelProfile("gpt-35-turbo-0125")->price_per_1k_input, 0.0005);
  EXPECT_DOUBLE_EQ(FindModelProfile("gpt-35-turbo-0125")->price_per_1k_output, 0.0015);

  // Azure writes the version as "1106-Preview"; OpenAI as "gpt-4-1106-preview".
  for (const char* model :
       {"gpt-4-1106-preview", "gpt-4-0125-preview", "gpt-4-1106-Preview", "GPT-4-0125-PREVIEW"}) {
    const ModelProfile* p = FindModelProfile(model);
    ASSERT_NE(p, nullptr) << model;
    EXPECT_EQ(p->family, "gpt-4") << model;
    EXPECT_EQ(p->context_window, 128000u) << model;
    EXPECT_EQ(p->max_output_tokens, 4096u) << model;
    EXPECT_DOUBLE_EQ(p->price_per_1k_input, 0.01) << model;
    EXPECT_DOUBLE_EQ(p->price_per_1k_output, 0.03) << model;
  }

  // Through the YAML, as an operator configures them (Azure: deployment name free, version in
  // `model`).
  constexpr char kYaml[] = R"yaml(
deployments:
  - name: turbo16k
    provider: azure-openai
    endpoint: https://r.openai.azure.com
    deployment: chat
    model: gpt-35-turbo-1106
  - name: gpt-4-0125-preview
    provider: openai
    model: gpt-4-0125-preview
)yaml";
  ASSERT_OK_AND_ASSIGN(ModelCatalog catalog, ModelCatalog::FromYaml(kYaml));
  const ModelDeployment* t = catalog.Find("turbo16k");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->family, "gpt-35-turbo");
  EXPECT_EQ(t->context_window, 16385u);
  EXPECT_EQ(t->max_output_tokens, 4096u);
  EXPECT_DOUBLE_EQ(t->price_per_1k_input, 0.001);
  EXPECT_EQ(t->catalog_warning, "");
  const ModelDeployment* g = catalog.Find("gpt-4-0125-preview");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->context_window, 128000u);
  EXPECT_EQ(g->max_output_tokens, 4096u);
  EXPECT_DOUBLE_EQ(g->price_per_1k_input, 0.01);
  EXPECT_DOUBLE_EQ(g->price_per_1k_output, 0.03);
  EXPECT_EQ(g->catalog_warning, "");
  EXPECT_TRUE(catalog.Warnings().empty());
}

TEST(ModelCatalogTest, UnknownVersionFallsBackToTheFamilyWithAWarning) {
  ModelProfileMatch m = LookupModelProfile("gpt-4-0409");
  ASSERT_NE(m.profile, nullptr);
  EXPECT_TRUE(m.unknown_version);
  EXPECT_EQ(m.profile->family, "gpt-4");
  EXPECT_EQ(m.profile->version, "0613");
  // The longest family wins: an unknown gpt-4o-mini is not a gpt-4o.
  m = LookupModelProfile("gpt-4o-mini-2031-01-01");
  ASSERT_NE(m.profile, nullptr);
  EXPECT_TRUE(m.unknown_version);
  EXPECT_EQ(m.profile->family, "gpt-4o-mini");

  constexpr char kYaml[] = R"yaml(
deployments:
  - name: future
    provider: openai
    model: gpt-4o-2031-01-01
  - name: priced
    provider: openai
    model: gpt-4o-2031-01-01
    context_window: 200000
    max_output_tokens: 32000
    price_per_1k_input: 0.001
    price_per_1k_output: 0.004
    encoding: o200k_base
  - name: told
    provider: openai
    model: gpt-4-0409
    family: gpt-4-turbo
)yaml";
  ASSERT_OK_AND_ASSIGN(ModelCatalog catalog, ModelCatalog::FromYaml(kYaml));
  const ModelDeployment* f = catalog.Find("future");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->family, "gpt-4o");
  EXPECT_EQ(f->context_window, 128000u);
  EXPECT_EQ(f->max_output_tokens, 16384u);
  EXPECT_EQ(f->encoding, Encoding::kO200kBase);
  EXPECT_TRUE(absl::StrContains(f->catalog_warning, "unknown version 'gpt-4o-2031-01-01'"))
      << f->catalog_warning;
  EXPECT_TRUE(absl::StrContains(f->catalog_warning, "gpt-4o-2024-08-06")) << f->catalog_warning;
  EXPECT_TRUE(absl::StrContains(f->catalog_warning, "context_window")) << f->catalog_warning;
  // Everything the row would fill is configured: nothing to warn about.
  const ModelDeployment* p = catalog.Find("priced");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->context_window, 200000u);
  EXPECT_EQ(p->catalog_warning, "");
  // An explicit family is the operator's answer.
  const ModelDeployment* t = catalog.Find("told");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->context_window, 128000u);
  EXPECT_EQ(t->catalog_warning, "");
  EXPECT_EQ(catalog.Warnings(), std::vector<std::string>{f->catalog_warning});
}

TEST(ModelCatalogTest, ParsesYamlFillingDefaultsFromProfiles) {
  constexpr char kYaml[] = R"yaml(
default_model: gpt-4o
deployments:
  - name: gpt-4o
    provider: azure-openai
    endpoint: https://my-resource.openai.azure.com
    deployment: gpt-4o
    api_key_env: MY_AZURE_KEY
  - name: cheap
    provider: openai
    model: gpt-4o-mini-2024-07-18
    price_per_1k_input: 0.0002
    max_retries: 2
  - name: gpt35
    provider: azure-openai
    endpoint: https://x.openai.azure.com/
    deployment: chat35
    model: gpt-35-turbo
    context_window: 4096
  - name: vllm
    provider: openai
    base_url: http://localhost:8000/v1
    model: meta-llama/Llama-3-8B-Instruct
    context_window: 8192
    max_output_tokens: 2048
    encoding: o200k_base
)yaml";
  ASSERT_OK_AND_ASSIGN(ModelCatalog catalog, ModelCatalog::FromYaml(kYaml));
  EXPECT_EQ(catalog.default_model(), "gpt-4o");
  ASSERT_EQ(catalog.deployments().size(), 5u);
  EXPECT_EQ(catalog.deployments()[0].name, "local");

  const ModelDeployment* g = catalog.Find("gpt-4o");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->provider, ChatProvider::kAzureOpenAi);
  EXPECT_EQ(g->family, "gpt-4o");
  EXPECT_EQ(g->context_window, 128000u);
  EXPECT_EQ(g->max_output_tokens, 16384u);
  EXPECT_DOUBLE_EQ(g->price_per_1k_input, 0.0025);
  EXPECT_DOUBLE_EQ(g->price_per_1k_output, 0.01);
  EXPECT_EQ(g->encoding, Encoding::kO200kBase);
  EXPECT_EQ(g->api_key_env, "MY_AZURE_KEY");
  EXPECT_EQ(g->api_version, "2024-10-21");

  const ModelDeployment* cheap = catalog.Find("cheap");
  ASSERT_NE(cheap, nullptr);
  EXPECT_EQ(cheap->family, "gpt-4o-mini");
  EXPECT_DOUBLE_EQ(cheap->price_per_1k_input, 0.0002);  // overridden
  EXPECT_DOUBLE_EQ(cheap->price_per_1k_output, 0.0006);
  EXPECT_EQ(cheap->max_retries, 2u);

  EXPECT_EQ(catalog.Find("gpt35")->encoding, Encoding::kCl100kBase);
  EXPECT_EQ(catalog.Find("gpt35")->max_output_tokens, 4096u);

  const ModelDeployment* vllm = catalog.Find("vllm");
  ASSERT_NE(vllm, nullptr);
  EXPECT_EQ(vllm->family, "");
  EXPECT_EQ(vllm->max_output_tokens, 2048u);
  EXPECT_EQ(vllm->encoding, Encoding::kO200kBase);
  EXPECT_DOUBLE_EQ(vllm->price_per_1k_input, 0.0);
}

TEST(ModelCatalogTest, YamlErrorsNameTheProblem) {
  struct Case {
    const char* yaml;
    const char* expected;
  };
  for (const Case& c : {
           Case{"deployments:\n  - name: a\n    provider: local\n    colour: red\n",
                "unknown key 'colour'"},
           Case{"deployment:\n  - name: a\n", "unknown key 'deployment'"},
           Case{"deployments:\n  - name: a\n    provider: bedrock\n", "unknown chat provider"},
           Case{"deployments:\n  - name: a\n    provider: azure-openai\n    deployment: d\n",
                "needs `endpoint`"},
           Case{"deployments:\n  - name: a\n    provider: openai\n    model: my-model\n",
                "context_window"},
           Case{"deployments:\n  - name: a\n    provider: local\n    context_window: lots\n",
                "context_window: wrong value type"},
           Case{
               "deployments:\n  - name: a\n    provider: local\n  - name: a\n    provider: local\n",
               "duplicate name 'a'"},
           Case{"default_model: gpt-5\n", "default_model 'gpt-5'"},
           Case{"deployments: [\n", "YAML error"},
           Case{"deployments:\n  - name: a\n    provider: openai\n    model: gpt-4\n"
                "    api_key: k\n    api_key_env: K\n",
                "at most one of"},
           Case{"deployments:\n  - name: a\n    provider: local\n    encoding: p50k\n",
                "expected cl100k_base or o200k_base"},
       }) {
    auto catalog = ModelCatalog::FromYaml(c.yaml);
    EXPECT_EQ(catalog.status().code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_TRUE(absl::StrContains(Msg(catalog.status()), c.expected))
        << c.yaml << " -> " << catalog.status();
  }
  ASSERT_OK_AND_ASSIGN(ModelCatalog empty, ModelCatalog::FromYaml(""));
  EXPECT_EQ(empty.deployments().size(), 1u);
}

TEST(ModelCatalogTest, CostArithmetic) {
  ChatUsage usage;
  usage.prompt_tokens = 1000;
  usage.completion_tokens = 500;
  usage.total_tokens = 1500;
  ModelDeployment gpt4;
  gpt4.price_per_1k_input = 0.03;
  gpt4.price_per_1k_output = 0.06;
  EXPECT_DOUBLE_EQ(EstimateCostUsd(gpt4, usage), 0.03 + 0.03);
  ModelDeployment mini;
  mini.price_per_1k_input = 0.00015;
  mini.price_per_1k_output = 0.0006;
  usage.prompt_tokens = 1'000'000;
  usage.completion_tokens = 250'000;
  EXPECT_NEAR(EstimateCostUsd(mini, usage), 0.15 + 0.15, 1e-12);
  EXPECT_DOUBLE_EQ(EstimateCostUsd(mini, ChatUsage{}), 0.0);
}

TEST(ModelCatalogTest, FactoryResolvesKeysWithoutRevealingThem) {
  ModelDeployment d;
  d.name = "az";
  d.provider = ChatProvider::kAzureOpenAi;
  d.endpoint = "https://example.openai.azure.com";
  d.deployment = "gpt-4o";
  d.context_window = 128000;
  d.max_output_tokens = 4096;
  d.api_key_env = "RAGD_TEST_UNSET_KEY_VAR";
  d.secrets = testing::HostSecrets::Shared();
  ::unsetenv("RAGD_TEST_UNSET_KEY_VAR");
  auto m = MakeChatModel(d);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(Msg(m.status()), "RAGD_TEST_UNSET_KEY_VAR"));

  ::setenv("RAGD_TEST_UNSET_KEY_VAR", "sk-from-env-123", 1);
  ASSERT_OK_AND_ASSIGN(auto model, MakeChatModel(d));
  EXPECT_EQ(model->deployment().api_key, "");
  ::unsetenv("RAGD_TEST_UNSET_KEY_VAR");

  d.endpoint = "";
  EXPECT_EQ(MakeChatModel(d).status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(auto local, MakeChatModel(LocalModelDeployment()));
  EXPECT_EQ(local->deployment().name, "local");
}

}  // namespace
}  // namespace ragd::models
