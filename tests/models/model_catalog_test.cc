// The model catalog: built-in profiles, YAML parsing and its errors, cost arithmetic, and the
// factory's key handling.

#include "models/model_catalog.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "models/chat_model.h"
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
    size_t window;
  };
  for (const Case& c :
       {Case{"gpt-35-turbo", "gpt-35-turbo", 4096}, Case{"gpt-35-turbo-0613", "gpt-35-turbo", 4096},
        Case{"gpt-3.5-turbo", "gpt-35-turbo", 4096},
        Case{"gpt-35-turbo-16k", "gpt-35-turbo-16k", 16384}, Case{"gpt-4", "gpt-4", 8192},
        Case{"gpt-4-0613", "gpt-4", 8192}, Case{"gpt-4-32k", "gpt-4-32k", 32768},
        Case{"gpt-4o", "gpt-4o", 128000}, Case{"gpt-4o-2024-08-06", "gpt-4o", 128000},
        Case{"gpt-4o-mini", "gpt-4o-mini", 128000},
        Case{"gpt-4o-mini-2024-07-18", "gpt-4o-mini", 128000}}) {
    const ModelProfile* p = FindModelProfile(c.model);
    ASSERT_NE(p, nullptr) << c.model;
    EXPECT_EQ(p->family, c.family) << c.model;
    EXPECT_EQ(p->context_window, c.window) << c.model;
  }
  // Not guessed: gpt-4-turbo is not an 8K gpt-4.
  EXPECT_EQ(FindModelProfile("gpt-4-turbo"), nullptr);
  EXPECT_EQ(FindModelProfile("llama3"), nullptr);
  EXPECT_EQ(FindModelProfile("gpt-4o")->encoding, Encoding::kO200kBase);
  EXPECT_EQ(FindModelProfile("gpt-4")->encoding, Encoding::kCl100kBase);
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
