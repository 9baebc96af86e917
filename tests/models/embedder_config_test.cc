// Embedder configuration and its rate limiter, without a server: option checks that name the
// field to change, key requirements, the REST URL shapes, and the token bucket's arithmetic.

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "absl/strings/match.h"
#include "models/embedder.h"
#include "models/openai_embedder.h"
#include "models/rate_limiter.h"
#include "tests/testing/host_secrets.h"
#include "tests/testing/status_matchers.h"

namespace ragd::models {
namespace {

using ::ragd::testing::HostSecrets;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

TEST(TokenBucketTest, RefillsAtTheRateAndQueuesReservations) {
  auto t0 = Clock::now();
  TokenBucket bucket(600, milliseconds(1000), t0);  // 10/s, capacity 10
  EXPECT_DOUBLE_EQ(bucket.capacity(), 10);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(bucket.Reserve(1, t0), Clock::duration::zero());
  // Empty: the next ones wait 100 ms, 200 ms, ... in order.
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(bucket.Reserve(1, t0)).count(), 100);
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(bucket.Reserve(1, t0)).count(), 200);
  // Later, the debt has been repaid and one more unit has accrued.
  auto t1 = t0 + milliseconds(300);
  EXPECT_EQ(bucket.Reserve(1, t1), Clock::duration::zero());
  // A reservation larger than the capacity waits for its refill, not forever.
  auto wait = bucket.Reserve(25, t1);
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(wait).count(), 2500);
}

TEST(TokenBucketTest, NeverHoldsMoreThanTheBurst) {
  auto t0 = Clock::now();
  TokenBucket bucket(60, milliseconds(10), t0);  // 1/s, capacity max(1, 0.01) = 1
  EXPECT_DOUBLE_EQ(bucket.capacity(), 1);
  auto later = t0 + std::chrono::hours(1);
  EXPECT_EQ(bucket.Reserve(1, later), Clock::duration::zero());
  EXPECT_GT(bucket.Reserve(1, later), Clock::duration::zero());
}

TEST(EmbedderConfigTest, ValidateNamesTheFieldToChange) {
  auto check = [](const EmbedderConfig& c, const std::string& field) {
    absl::Status s = c.Validate();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_TRUE(absl::StrContains(Msg(s), field)) << s;
  };
  EmbedderConfig azure;
  azure.provider = EmbedderProvider::kAzureOpenAi;
  check(azure, "endpoint");
  azure.endpoint = "my-resource.openai.azure.com";
  check(azure, "https://");
  azure.endpoint = "https://my-resource.openai.azure.com/";
  check(azure, "deployment");
  azure.deployment = "ada";
  EXPECT_OK(azure.Validate());
  EmbedderConfig c = azure;
  c.dimension = 0;
  check(c, "dimension");
  c = azure;
  c.max_tokens_per_request = 100;
  check(c, "max_tokens_per_request");
  c = azure;
  c.max_inputs_per_request = 5000;
  check(c, "max_inputs_per_request");
  c = azure;
  c.max_concurrency = 0;
  check(c, "max_concurrency");
  c = azure;
  c.initial_backoff_ms = 10;
  c.max_backoff_ms = 5;
  check(c, "initial_backoff_ms");
  EmbedderConfig openai;
  openai.provider = EmbedderProvider::kOpenAi;
  EXPECT_OK(openai.Validate());
  openai.model.clear();
  check(openai, "model");

  EXPECT_EQ(*ParseEmbedderProvider("azure-openai"), EmbedderProvider::kAzureOpenAi);
  EXPECT_EQ(*ParseEmbedderProvider("local"), EmbedderProvider::kLocal);
  EXPECT_EQ(ParseEmbedderProvider("azure").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(EmbedderConfigTest, AzureNeedsAKey) {
  EmbedderConfig c;
  c.provider = EmbedderProvider::kAzureOpenAi;
  c.endpoint = "https://example.invalid";
  c.deployment = "ada";
  c.api_key_env = "RAGD_EMBEDDER_TEST_UNSET_VARIABLE";
  c.secrets = HostSecrets::Shared();
  auto e = MakeEmbedder(c);
  EXPECT_EQ(e.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(Msg(e.status()), "RAGD_EMBEDDER_TEST_UNSET_VARIABLE"));
}

TEST(EmbedderConfigTest, UrlsFollowTheRestShapes) {
  EmbedderConfig c;
  c.provider = EmbedderProvider::kAzureOpenAi;
  c.endpoint = "https://res.openai.azure.com/";
  c.deployment = "emb";
  c.api_key = "k";
  ASSERT_OK_AND_ASSIGN(auto azure, OpenAiEmbedder::Create(c));
  EXPECT_EQ(
      azure->url(),
      "https://res.openai.azure.com/openai/deployments/emb/embeddings?api-version=2024-02-01");
  c.provider = EmbedderProvider::kOpenAi;
  c.endpoint.clear();
  c.deployment.clear();
  c.send_dimensions = true;
  c.dimension = 256;
  c.model = "text-embedding-3-small";
  ASSERT_OK_AND_ASSIGN(auto openai, OpenAiEmbedder::Create(c));
  EXPECT_EQ(openai->url(), "https://api.openai.com/v1/embeddings");
  EXPECT_EQ(openai->model_id(), "openai/text-embedding-3-small@256");
}

}  // namespace
}  // namespace ragd::models
