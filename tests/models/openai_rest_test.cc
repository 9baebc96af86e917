// The OpenAI REST core (models/openai_rest.h) shared by the embedder and the chat client:
// Retry-After in all its forms against an injected clock, back-off ceilings and jitter bounds,
// error bodies of every shape, secret scrubbing, API-key resolution and trimming. Expected
// values are written out by hand (the RFC 9110 example date is 784111777 s after the epoch).

#include "models/openai_rest.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "models/chat_model.h"
#include "models/embedder.h"
#include "tests/testing/fake_chat_server.h"
#include "tests/testing/fake_openai_server.h"
#include "tests/testing/host_secrets.h"
#include "tests/testing/status_matchers.h"

namespace ragd::models {
namespace {

using std::chrono::milliseconds;
using SystemClock = std::chrono::system_clock;

// Sun, 06 Nov 1994 08:49:37 GMT, the example of RFC 9110 section 5.6.7.
const SystemClock::time_point kRfcExample =
    SystemClock::time_point(std::chrono::seconds(784111777));

HttpResponse Head(std::vector<std::pair<std::string, std::string>> headers) {
  HttpResponse r;
  r.status = 429;
  r.headers = std::move(headers);
  return r;
}

std::optional<milliseconds> RetryAfter(std::vector<std::pair<std::string, std::string>> headers,
                                       SystemClock::time_point now = kRfcExample) {
  return ParseRetryAfter(Head(std::move(headers)), now);
}

TEST(RetryAfterTest, MillisecondsHeaderWinsAndRoundsUp) {
  EXPECT_EQ(RetryAfter({{"retry-after-ms", "1500"}}), milliseconds(1500));
  EXPECT_EQ(RetryAfter({{"retry-after-ms", "0"}}), milliseconds(0));
  EXPECT_EQ(RetryAfter({{"retry-after-ms", "0.2"}}), milliseconds(1));
  EXPECT_EQ(RetryAfter({{"retry-after-ms", "1500.5"}}), milliseconds(1501));
  // Both headers, as Azure sends them: the precise one counts.
  EXPECT_EQ(RetryAfter({{"retry-after", "2"}, {"retry-after-ms", "1234"}}), milliseconds(1234));
  // An unreadable ms header falls back to Retry-After.
  EXPECT_EQ(RetryAfter({{"retry-after-ms", "soon"}, {"retry-after", "3"}}), milliseconds(3000));
}

TEST(RetryAfterTest, SecondsRoundUpToTheMillisecond) {
  EXPECT_EQ(RetryAfter({{"retry-after", "2"}}), milliseconds(2000));
  EXPECT_EQ(RetryAfter({{"retry-after", "0"}}), milliseconds(0));
  EXPECT_EQ(RetryAfter({{"retry-after", "0.5"}}), milliseconds(500));
  EXPECT_EQ(RetryAfter({{"retry-after", "1.0001"}}), milliseconds(1001));
  // Clamped to a day, without overflow.
  EXPECT_EQ(RetryAfter({{"retry-after", "99999999999999999999"}}), milliseconds(86400000));
}

TEST(RetryAfterTest, HttpDatesInAllThreeFormsAgainstTheInjectedClock) {
  const auto three_s_before = kRfcExample - std::chrono::seconds(3);
  EXPECT_EQ(RetryAfter({{"retry-after", "Sun, 06 Nov 1994 08:49:37 GMT"}}, three_s_before),
            milliseconds(3000));
  EXPECT_EQ(RetryAfter({{"retry-after", "Sunday, 06-Nov-94 08:49:37 GMT"}}, three_s_before),
            milliseconds(3000));
  EXPECT_EQ(RetryAfter({{"retry-after", "Sun Nov  6 08:49:37 1994"}}, three_s_before),
            milliseconds(3000));
  // A clock 250 ms into the second before: the wait is 750 ms.
  EXPECT_EQ(RetryAfter({{"retry-after", "Sun, 06 Nov 1994 08:49:37 GMT"}},
                       kRfcExample - milliseconds(750)),
            milliseconds(750));
  // A date in the past: retry now. Leap day and year boundaries.
  EXPECT_EQ(RetryAfter({{"retry-after", "Sun, 06 Nov 1994 08:49:37 GMT"}},
                       kRfcExample + std::chrono::seconds(10)),
            milliseconds(0));
  // Thu, 29 Feb 2024 23:59:59 GMT = 1709251199 s; Fri, 01 Jan 2100 00:00:00 GMT = 4102444800 s.
  EXPECT_EQ(RetryAfter({{"retry-after", "Thu, 29 Feb 2024 23:59:59 GMT"}},
                       SystemClock::time_point(std::chrono::seconds(1709251199 - 60))),
            milliseconds(60000));
  EXPECT_EQ(RetryAfter({{"retry-after", "Fri, 01 Jan 2100 00:00:00 GMT"}},
                       SystemClock::time_point(std::chrono::seconds(4102444800 - 1))),
            milliseconds(1000));
}

TEST(RetryAfterTest, UnreadableValuesAreIgnored) {
  for (const char* v : {"", "soon", "-1", "inf", "nan", "1e3", "0x10", "1.2.3", " ", "+5",
                        "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 32 Nov 1994 08:49:37 GMT",
                        "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT"}) {
    EXPECT_EQ(RetryAfter({{"retry-after", v}}), std::nullopt) << "'" << v << "'";
    EXPECT_EQ(RetryAfter({{"retry-after-ms", v}}), std::nullopt) << "'" << v << "'";
  }
  EXPECT_EQ(RetryAfter({}), std::nullopt);
}

TEST(BackoffTest, CeilingsDoubleUpToTheCapWithoutOverflow) {
  RetryPolicy p{.max_retries = 8, .initial_backoff_ms = 100, .max_backoff_ms = 1000};
  const int64_t expected[] = {100, 200, 400, 800, 1000, 1000};
  for (size_t k = 0; k < 6; ++k) EXPECT_EQ(BackoffCeiling(p, k).count(), expected[k]) << k;
  EXPECT_EQ(BackoffCeiling(p, 1000).count(), 1000);
  const uint64_t big = (uint64_t{1} << 62) + 5;
  RetryPolicy huge{.initial_backoff_ms = 3, .max_backoff_ms = big};
  EXPECT_EQ(BackoffCeiling(huge, 1000).count(), static_cast<int64_t>(big));
  RetryPolicy unbounded{.initial_backoff_ms = 3, .max_backoff_ms = ~uint64_t{0}};
  EXPECT_EQ(BackoffCeiling(unbounded, 1000).count(), std::numeric_limits<int64_t>::max());
  RetryPolicy zero{.initial_backoff_ms = 0, .max_backoff_ms = 1000};
  EXPECT_EQ(BackoffCeiling(zero, 5).count(), 0);
}

TEST(BackoffTest, FullJitterStaysWithinTheCeilingAndSpansIt) {
  RetryBackoff backoff(
      RetryPolicy{.initial_backoff_ms = 100, .max_backoff_ms = 1000, .max_retry_after_ms = 3000},
      /*seed=*/42);
  for (size_t k = 0; k < 5; ++k) {
    const int64_t ceiling = std::min<int64_t>(1000, int64_t{100} << k);
    int64_t lo = ceiling, hi = 0;
    for (int i = 0; i < 2000; ++i) {
      const int64_t d = backoff.Delay(k, std::nullopt).count();
      ASSERT_GE(d, 0);
      ASSERT_LE(d, ceiling) << "retry " << k;
      lo = std::min(lo, d);
      hi = std::max(hi, d);
    }
    // Uniform on [0, ceiling]: 2,000 draws all above 10% of it has probability 0.9^2000.
    EXPECT_LT(lo, ceiling / 10) << "retry " << k;
    EXPECT_GT(hi, ceiling - ceiling / 10) << "retry " << k;
  }
  // The server's delay is taken as is, up to max_retry_after_ms.
  EXPECT_EQ(backoff.Delay(0, milliseconds(1234)), milliseconds(1234));
  EXPECT_EQ(backoff.Delay(3, milliseconds(5000)), milliseconds(3000));
  EXPECT_EQ(backoff.Delay(0, milliseconds(0)), milliseconds(0));
}

TEST(BackoffTest, SeededJitterIsReproducible) {
  RetryPolicy p{.initial_backoff_ms = 100, .max_backoff_ms = 1000};
  RetryBackoff a(p, 7), b(p, 7);
  for (size_t k = 0; k < 20; ++k) EXPECT_EQ(a.Delay(k % 5, {}), b.Delay(k % 5, {}));
}

TEST(RetryableTest, TransientStatusesOnly) {
  for (int s : {408, 409, 429, 500, 502, 503, 504}) EXPECT_TRUE(IsRetryableHttpStatus(s)) << s;
  for (int s : {200, 400, 401, 403, 404, 413, 422}) EXPECT_FALSE(IsRetryableHttpStatus(s)) << s;
}

TEST(ErrorBodyTest, EveryShapeGivesCodeAndMessageWithoutThrowing) {
  UpstreamError azure = ParseErrorBody(
      R"({"error":{"code":"429","message":"Requests have exceeded the call rate limit."}})");
  EXPECT_EQ(azure.code, "429");
  EXPECT_EQ(azure.message, "Requests have exceeded the call rate limit.");

  UpstreamError openai = ParseErrorBody(
      R"({"error":{"message":"Incorrect API key provided.","type":"invalid_request_error",)"
      R"("param":null,"code":"invalid_api_key"}})");
  EXPECT_EQ(openai.code, "invalid_api_key");
  EXPECT_EQ(openai.message, "Incorrect API key provided.");

  UpstreamError inner = ParseErrorBody(
      R"({"error":{"message":"filtered","innererror":{"code":"ResponsibleAIPolicyViolation"}}})");
  EXPECT_EQ(inner.code, "ResponsibleAIPolicyViolation");

  EXPECT_EQ(ParseErrorBody(R"({"error":{"code":503,"message":"busy"}})").code, "503");
  EXPECT_EQ(ParseErrorBody(R"({"error":"The engine is overloaded"})").message,
            "The engine is overloaded");
  EXPECT_EQ(ParseErrorBody(R"({"error":{"message":42}})").message, "42");
  EXPECT_EQ(ParseErrorBody(R"({"error":{"message":{"detail":"x"}}})").message, R"({"detail":"x"})");
  EXPECT_EQ(ParseErrorBody(R"({"error":{"message":null,"code":"x"}})").message, "");
  EXPECT_EQ(ParseErrorBody(R"({"error":{"code":["a"]}})").code, "");
  EXPECT_EQ(ParseErrorBody(R"({"error":null})").message, "");
  EXPECT_EQ(ParseErrorBody(R"({"message":"top level"})").message, "top level");
  EXPECT_EQ(ParseErrorBody("<html>502 Bad Gateway</html>\n").message,
            "<html>502 Bad Gateway</html>");
  EXPECT_EQ(ParseErrorBody("").message, "");
  EXPECT_EQ(ParseErrorBody("[1,2]").message, "[1,2]");
  EXPECT_EQ(ParseErrorBody(R"({"error":{"message":"cut)").message, R"({"error":{"message":"cut)");

  // Long messages are cut at a UTF-8 boundary: 300 Hangul syllables are 900 bytes.
  std::string korean;
  for (int i = 0; i < 300; ++i) korean += "\xEA\xB0\x80";  // U+AC00
  UpstreamError cut = ParseErrorBody(absl::StrCat(R"({"error":{"message":")", korean, R"("}})"));
  EXPECT_LE(cut.message.size(), 403u);
  EXPECT_TRUE(absl::EndsWith(cut.message, "..."));
  EXPECT_TRUE(IsValidUtf8(cut.message));
}

TEST(ScrubTest, EveryOccurrenceOfTheSecretGoes) {
  EXPECT_EQ(ScrubSecret("key sk-1 and again sk-1.", "sk-1"),
            "key [redacted] and again [redacted].");
  EXPECT_EQ(ScrubSecret("nothing to hide", "sk-1"), "nothing to hide");
  EXPECT_EQ(ScrubSecret("no secret", ""), "no secret");
}

class ApiKeyTest : public ::testing::Test {
 protected:
  void TearDown() override {
    ::unsetenv("RAGD_REST_TEST_KEY");
    if (!path_.empty()) std::filesystem::remove(path_);
  }
  std::string WriteFile(const std::string& content) {
    path_ =
        (std::filesystem::temp_directory_path() / absl::StrCat("ragd_rest_test_key_", ::getpid()))
            .string();
    std::ofstream(path_, std::ios::binary) << content;
    return path_;
  }
  static ApiKeySources Sources() {
    ApiKeySources s;
    s.default_env = "RAGD_REST_TEST_UNSET_DEFAULT";
    s.owner = "model 'm'";
    s.secrets = testing::HostSecrets::Shared().get();
    return s;
  }
  std::string path_;
};

TEST_F(ApiKeyTest, EverySourceIsTrimmedTheSameWay) {
  ApiKeySources s = Sources();
  s.api_key = "  sk-abc\r\n";
  ASSERT_OK_AND_ASSIGN(ResolvedApiKey k, ResolveApiKey(s));
  EXPECT_EQ(k.key, "sk-abc");
  EXPECT_EQ(k.source, "api_key");

  s = Sources();
  s.api_key_env = "RAGD_REST_TEST_KEY";
  ::setenv("RAGD_REST_TEST_KEY", "sk-env \n", 1);
  ASSERT_OK_AND_ASSIGN(k, ResolveApiKey(s));
  EXPECT_EQ(k.key, "sk-env");
  EXPECT_EQ(k.source, "environment variable RAGD_REST_TEST_KEY");

  s = Sources();
  s.api_key_file = WriteFile("sk-file\r\n");
  ASSERT_OK_AND_ASSIGN(k, ResolveApiKey(s));
  EXPECT_EQ(k.key, "sk-file");
  EXPECT_TRUE(absl::StrContains(k.source, path_));

  s = Sources();
  s.default_env = "RAGD_REST_TEST_KEY";
  ASSERT_OK_AND_ASSIGN(k, ResolveApiKey(s));
  EXPECT_EQ(k.key, "sk-env");
}

// models/ reads no environment and no files itself: without a SecretReader handed in, a key
// named by variable or file is not found even when the variable is set.
TEST_F(ApiKeyTest, WithoutASecretReaderOnlyApiKeyCounts) {
  ::setenv("RAGD_REST_TEST_KEY", "sk-env", 1);
  ApiKeySources s = Sources();
  s.secrets = nullptr;
  s.api_key_env = "RAGD_REST_TEST_KEY";
  EXPECT_EQ(ResolveApiKey(s).status().code(), absl::StatusCode::kFailedPrecondition);
  s = Sources();
  s.secrets = nullptr;
  s.api_key_file = WriteFile("sk-file");
  EXPECT_EQ(ResolveApiKey(s).status().code(), absl::StatusCode::kFailedPrecondition);
  s.api_key_file.clear();
  s.api_key = "sk-direct";
  ASSERT_OK_AND_ASSIGN(ResolvedApiKey k, ResolveApiKey(s));
  EXPECT_EQ(k.key, "sk-direct");
}

TEST_F(ApiKeyTest, MissingEmptyOrUnsafeKeysNameTheSourceNotTheKey) {
  ApiKeySources s = Sources();
  s.api_key_env = "RAGD_REST_TEST_KEY";
  absl::StatusOr<ResolvedApiKey> k = ResolveApiKey(s);
  EXPECT_EQ(k.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(k.status().message(), "RAGD_REST_TEST_KEY")) << k.status();
  EXPECT_TRUE(absl::StrContains(k.status().message(), "model 'm'")) << k.status();

  s = Sources();  // nothing named, the default unset: required -> error, optional -> no key
  EXPECT_EQ(ResolveApiKey(s).status().code(), absl::StatusCode::kFailedPrecondition);
  s.required = false;
  ASSERT_OK_AND_ASSIGN(ResolvedApiKey none, ResolveApiKey(s));
  EXPECT_EQ(none.key, "");

  s = Sources();
  s.api_key_file = WriteFile("\n");
  EXPECT_EQ(ResolveApiKey(s).status().code(), absl::StatusCode::kFailedPrecondition);
  s.api_key_file = path_ + ".missing";
  k = ResolveApiKey(s);
  EXPECT_EQ(k.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(k.status().message(), ".missing")) << k.status();

  s = Sources();
  s.api_key = "sk-SECRET\nX-Injected: 1";
  k = ResolveApiKey(s);
  EXPECT_EQ(k.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(absl::StrContains(k.status().message(), "SECRET")) << k.status();
  s.api_key = "   ";
  EXPECT_EQ(ResolveApiKey(s).status().code(), absl::StatusCode::kFailedPrecondition);
}

// Both clients take a key with a trailing newline (as a secret file or `echo` leaves it) and
// send it trimmed: the fake accepts only the exact key.
TEST(ApiKeyClientsTest, EmbedderAndChatClientTrimAlike) {
  constexpr char kKey[] = "sk-trim-0123456789";
  testing::FakeOpenAiServerOptions options;
  options.api_key = kKey;
  options.deployments = {"ada", "gpt-4o"};
  ASSERT_OK_AND_ASSIGN(auto server, testing::FakeOpenAiServer::Start(options));
  testing::FakeChatCompletions chat(server.get());

  EmbedderConfig e;
  e.provider = EmbedderProvider::kAzureOpenAi;
  e.endpoint = server->endpoint();
  e.deployment = "ada";
  e.api_key = absl::StrCat(kKey, "\n");
  e.max_retries = 0;
  ASSERT_OK_AND_ASSIGN(auto embedder, MakeEmbedder(e));
  EXPECT_OK(embedder->Embed({"hello"}).status());

  ModelDeployment d;
  d.name = "az";
  d.provider = ChatProvider::kAzureOpenAi;
  d.endpoint = server->endpoint();
  d.deployment = "gpt-4o";
  d.api_key = absl::StrCat(kKey, "\n");
  d.context_window = 8192;
  d.max_output_tokens = 1024;
  d.max_retries = 0;
  ASSERT_OK_AND_ASSIGN(auto model, MakeChatModel(d));
  ChatRequest r;
  r.messages = {{ChatRole::kUser, "hi"}};
  EXPECT_OK(model->Complete(r, nullptr).status());
}

}  // namespace
}  // namespace ragd::models
