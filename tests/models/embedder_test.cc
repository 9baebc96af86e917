// The Azure OpenAI / OpenAI embedders against the fake server (tests/testing): wire shapes,
// reordering, batching, retries and back-off, non-retryable errors, response validation,
// rate limits, concurrency, key handling. All traffic goes to 127.0.0.1.

#include "models/embedder.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "models/http_client.h"
#include "models/openai_embedder.h"
#include "models/rate_limiter.h"
#include "tests/testing/fake_openai_server.h"
#include "tests/testing/fake_token_counts.h"
#include "tests/testing/host_secrets.h"
#include "tests/testing/status_matchers.h"

namespace ragd::models {
namespace {

using ::ragd::testing::FakeEncoding;
using ::ragd::testing::FakeOpenAiCounters;
using ::ragd::testing::FakeOpenAiServer;
using ::ragd::testing::Fault;
using ::ragd::testing::HostSecrets;
using ::ragd::testing::PrecomputedTokenCount;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr char kKey[] = "sk-test-SECRET-0123456789";

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

std::vector<std::string> Texts(size_t n, const std::string& prefix = "text") {
  std::vector<std::string> t;
  for (size_t i = 0; i < n; ++i) t.push_back(absl::StrCat(prefix, " number ", i));
  return t;
}

// "word word word ..." is one cl100k_base token per word.
std::string Words(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += i == 0 ? "word" : " word";
  return s;
}

int64_t MsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<milliseconds>(b - a).count();
}

// A port on 127.0.0.1 that nothing listens on.
int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

class RemoteEmbedderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::FakeOpenAiServerOptions options;
    options.api_key = kKey;
    auto server = FakeOpenAiServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();
  }

  EmbedderConfig Azure() const {
    EmbedderConfig c;
    c.provider = EmbedderProvider::kAzureOpenAi;
    c.endpoint = server_->endpoint();
    c.deployment = "ada";
    c.api_key = kKey;
    c.max_retries = 3;
    c.initial_backoff_ms = 5;
    c.max_backoff_ms = 20;
    c.timeout_ms = 5000;
    return c;
  }

  EmbedderConfig OpenAi() const {
    EmbedderConfig c = Azure();
    c.provider = EmbedderProvider::kOpenAi;
    c.endpoint.clear();
    c.deployment.clear();
    c.base_url = server_->openai_base_url();
    return c;
  }

  std::unique_ptr<Embedder> Make(const EmbedderConfig& c) {
    auto e = MakeEmbedder(c);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? std::move(e).value() : nullptr;
  }

  void ExpectVectorsOf(const std::vector<std::string>& texts,
                       const std::vector<std::vector<float>>& vs) {
    ASSERT_EQ(vs.size(), texts.size());
    for (size_t i = 0; i < texts.size(); ++i) {
      ASSERT_EQ(vs[i], FakeOpenAiServer::ExpectedEmbedding(texts[i], 1536)) << "input " << i;
    }
  }

  std::unique_ptr<FakeOpenAiServer> server_;
};

TEST_F(RemoteEmbedderTest, AzureRoundTripPlacesVectorsByIndex) {
  auto e = Make(Azure());
  EXPECT_EQ(e->model_id(), "azure-openai/ada");
  EXPECT_EQ(e->dimension(), 1536u);
  std::vector<std::string> texts = Texts(12, "임베딩 텍스트");
  EmbeddingUsage usage;
  ASSERT_OK_AND_ASSIGN(auto vs, e->Embed(texts, &usage));
  ExpectVectorsOf(texts, vs);
  // Billed as the service bills: js-tiktoken's cl100k_base counts (the fake's table), not
  // ragd's tokenizer.
  uint64_t tokens = 0;
  for (const auto& t : texts) {
    std::optional<uint64_t> n = PrecomputedTokenCount(FakeEncoding::kCl100kBase, t);
    ASSERT_TRUE(n.has_value()) << t << ": add it to tests/testing/tools/make-token-counts.mjs";
    tokens += *n;
  }
  EXPECT_EQ(tokens, 12u * 11) << "\"임베딩 텍스트 number N\" is 11 tokens in cl100k_base";
  EXPECT_EQ(usage.prompt_tokens, tokens);
  EXPECT_EQ(server_->counters().estimated_inputs, 0u);
  EXPECT_EQ(usage.requests, 1u);
  EXPECT_EQ(usage.retries, 0u);
  FakeOpenAiCounters c = server_->counters();
  EXPECT_EQ(c.per_path["/openai/deployments/ada/embeddings"], 1u);
  EXPECT_EQ(c.inputs, 12u);
}

TEST_F(RemoteEmbedderTest, OpenAiRoundTrip) {
  auto e = Make(OpenAi());
  EXPECT_EQ(e->model_id(), "openai/text-embedding-ada-002");
  std::vector<std::string> texts = Texts(40);
  ASSERT_OK_AND_ASSIGN(auto vs, e->Embed(texts));
  ExpectVectorsOf(texts, vs);
  FakeOpenAiCounters c = server_->counters();
  EXPECT_EQ(c.per_path["/v1/embeddings"], 1u);  // OpenAI takes up to 2048 inputs at once
}

TEST_F(RemoteEmbedderTest, EmptyCallSendsNothing) {
  auto e = Make(Azure());
  ASSERT_OK_AND_ASSIGN(auto vs, e->Embed({}));
  EXPECT_TRUE(vs.empty());
  EXPECT_EQ(server_->counters().requests, 0u);
}

TEST_F(RemoteEmbedderTest, BatchesByInputCount) {
  auto e = Make(Azure());  // Azure default: 16 inputs per request
  std::vector<std::string> texts = Texts(40);
  EmbeddingUsage usage;
  ASSERT_OK_AND_ASSIGN(auto vs, e->Embed(texts, &usage));
  ExpectVectorsOf(texts, vs);
  FakeOpenAiCounters c = server_->counters();
  ASSERT_EQ(c.log.size(), 3u);
  std::vector<size_t> sizes;
  for (const auto& r : c.log) sizes.push_back(r.inputs);
  std::sort(sizes.begin(), sizes.end());
  EXPECT_EQ(sizes, (std::vector<size_t>{8, 16, 16}));
  EXPECT_EQ(usage.requests, 3u);

  EmbedderConfig five = Azure();
  five.max_inputs_per_request = 5;
  server_->ResetCounters();
  ASSERT_OK_AND_ASSIGN(vs, Make(five)->Embed(Texts(12)));
  EXPECT_EQ(server_->counters().log.size(), 3u);  // 5 + 5 + 2
}

TEST_F(RemoteEmbedderTest, BatchesByTokens) {
  EmbedderConfig c = Azure();
  c.max_tokens_per_request = 8191;
  auto e = Make(c);
  std::vector<std::string> texts = {Words(3000), Words(3000) + " a", Words(3000) + " b",
                                    Words(3000) + " c", Words(100)};
  ASSERT_OK_AND_ASSIGN(auto vs, e->Embed(texts));
  ExpectVectorsOf(texts, vs);
  FakeOpenAiCounters counters = server_->counters();
  // 3000 + 3001 fit, a third does not: [0,1] (6001 tokens), [2,3,4] (6102), as counted by
  // js-tiktoken (the fake's table).
  EXPECT_EQ(counters.estimated_inputs, 0u);
  ASSERT_EQ(counters.log.size(), 2u);
  std::vector<size_t> sizes;
  for (const auto& r : counters.log) {
    EXPECT_LE(r.tokens, 8191u);
    EXPECT_TRUE(r.tokens == 6001u || r.tokens == 6102u) << r.tokens;
    sizes.push_back(r.inputs);
  }
  std::sort(sizes.begin(), sizes.end());
  EXPECT_EQ(sizes, (std::vector<size_t>{2, 3}));
}

TEST_F(RemoteEmbedderTest, InvalidInputsAreRejectedBeforeAnyRequest) {
  auto e = Make(Azure());
  auto too_long = e->Embed({"fine", Words(9000)});
  EXPECT_EQ(too_long.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(Msg(too_long.status()), "input 1 has 9000 tokens"))
      << too_long.status();
  EXPECT_EQ(e->Embed({"ok", ""}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(e->Embed({"\xC3"}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server_->counters().requests, 0u);
  // Exactly at the limit is fine.
  ASSERT_OK(e->Embed({Words(8191)}));
}

TEST_F(RemoteEmbedderTest, RetriesOn429HonouringRetryAfterMs) {
  server_->Enqueue(Fault::TooManyRequests(milliseconds(150)));
  server_->Enqueue(Fault::TooManyRequests(milliseconds(150)));
  auto e = Make(Azure());
  EmbeddingUsage usage;
  std::vector<std::string> texts = Texts(3);
  ASSERT_OK_AND_ASSIGN(auto vs, e->Embed(texts, &usage));
  ExpectVectorsOf(texts, vs);
  EXPECT_EQ(usage.requests, 3u);
  EXPECT_EQ(usage.retries, 2u);
  FakeOpenAiCounters c = server_->counters();
  ASSERT_EQ(c.log.size(), 3u);
  for (int i = 1; i < 3; ++i) {
    int64_t gap = MsBetween(c.log[i - 1].arrived, c.log[i].arrived);
    // retry-after-ms (150) wins over the rounded-up Retry-After (1 s).
    EXPECT_GE(gap, 145) << "retry " << i;
    EXPECT_LT(gap, 800) << "retry " << i;
  }
}

// Records what an embedder reports, for the observer tests.
class RecordingObserver final : public EmbeddingObserver {
 public:
  struct Record {
    std::string model;
    absl::StatusCode code;
    double seconds;
    uint64_t inputs;
    uint64_t tokens;
    uint64_t retries;
  };
  void OnEmbeddingRequest(const EmbeddingRequestRecord& r) override {
    std::lock_guard<std::mutex> lock(mu_);
    records_.push_back({std::string(r.model), r.code, r.seconds, r.inputs, r.tokens, r.retries});
  }
  std::vector<Record> records() {
    std::lock_guard<std::mutex> lock(mu_);
    return records_;
  }

 private:
  std::mutex mu_;
  std::vector<Record> records_;
};

// One record per batch sent, with its retries, billed tokens, duration and outcome.
TEST_F(RemoteEmbedderTest, ObserverGetsOneRecordPerBatch) {
  RecordingObserver observer;
  EmbedderConfig c = Azure();
  c.max_inputs_per_request = 5;
  c.max_concurrency = 1;  // batches in order, so the fault hits the first one
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Embedder> e, MakeEmbedder(c, &observer));
  server_->Enqueue(Fault::TooManyRequests(milliseconds(50)));
  std::vector<std::string> texts = Texts(12);
  EmbeddingUsage usage;
  ASSERT_OK(e->Embed(texts, &usage));
  std::vector<RecordingObserver::Record> records = observer.records();
  ASSERT_EQ(records.size(), 3u);  // 5 + 5 + 2
  uint64_t inputs = 0, tokens = 0, retries = 0;
  for (const auto& r : records) {
    EXPECT_EQ(r.model, "ada");
    EXPECT_EQ(r.code, absl::StatusCode::kOk);
    EXPECT_GT(r.tokens, 0u);
    inputs += r.inputs;
    tokens += r.tokens;
    retries += r.retries;
  }
  EXPECT_EQ(inputs, 12u);
  EXPECT_EQ(tokens, usage.prompt_tokens);
  EXPECT_EQ(retries, 1u);
  EXPECT_EQ(records[0].retries, 1u);
  EXPECT_GE(records[0].seconds, 0.045);  // the server's retry-after-ms is part of it
  EXPECT_EQ(records[0].inputs, 5u);

  // A refused key: one record, the failure's code, no tokens. An invalid input: none.
  server_->Enqueue(Fault::Http(401));
  EXPECT_EQ(e->Embed({"x"}).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(e->Embed({""}).status().code(), absl::StatusCode::kInvalidArgument);
  records = observer.records();
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[3].code, absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(records[3].tokens, 0u);
  EXPECT_EQ(records[3].retries, 0u);

  // openai: the model is the label.
  RecordingObserver openai_observer;
  ASSERT_OK_AND_ASSIGN(e, MakeEmbedder(OpenAi(), &openai_observer));
  ASSERT_OK(e->Embed({"hello"}));
  ASSERT_EQ(openai_observer.records().size(), 1u);
  EXPECT_EQ(openai_observer.records()[0].model, "text-embedding-ada-002");
}

TEST_F(RemoteEmbedderTest, ObserverSeesRetriesThatEndInFailure) {
  RecordingObserver observer;
  EmbedderConfig c = Azure();
  c.max_retries = 2;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Embedder> e, MakeEmbedder(c, &observer));
  for (int i = 0; i < 3; ++i) server_->Enqueue(Fault::Http(503));
  EXPECT_EQ(e->Embed(Texts(2)).status().code(), absl::StatusCode::kUnavailable);
  std::vector<RecordingObserver::Record> records = observer.records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].code, absl::StatusCode::kUnavailable);
  EXPECT_EQ(records[0].retries, 2u);
  EXPECT_EQ(records[0].inputs, 2u);
  EXPECT_EQ(records[0].tokens, 0u);
}

TEST_F(RemoteEmbedderTest, RetriesOn429HonouringRetryAfterSeconds) {
  server_->Enqueue(Fault::TooManyRequestsSeconds(1));
  auto e = Make(Azure());
  ASSERT_OK(e->Embed(Texts(2)));
  FakeOpenAiCounters c = server_->counters();
  ASSERT_EQ(c.log.size(), 2u);
  EXPECT_GE(MsBetween(c.log[0].arrived, c.log[1].arrived), 990);
}

TEST_F(RemoteEmbedderTest, RetryAfterIsCappedByMaxRetryAfter) {
  server_->Enqueue(Fault::TooManyRequestsSeconds(30));
  EmbedderConfig c = Azure();
  c.max_retry_after_ms = 100;
  auto start = Clock::now();
  ASSERT_OK(Make(c)->Embed(Texts(1)));
  EXPECT_LT(MsBetween(start, Clock::now()), 2000);
}

TEST_F(RemoteEmbedderTest, RetriesOnServerAndNetworkErrors) {
  server_->Enqueue(Fault::Http(500));
  server_->Enqueue(Fault::Http(503));
  server_->Enqueue(Fault::Http(408));
  server_->Enqueue(Fault::Http(409));
  server_->Enqueue(Fault::Http(502));
  server_->Enqueue(Fault::DropConnection());
  EmbedderConfig c = Azure();
  c.max_retries = 6;
  EmbeddingUsage usage;
  std::vector<std::string> texts = Texts(4);
  ASSERT_OK_AND_ASSIGN(auto vs, Make(c)->Embed(texts, &usage));
  ExpectVectorsOf(texts, vs);
  EXPECT_EQ(usage.requests, 7u);
  EXPECT_EQ(usage.retries, 6u);
  EXPECT_EQ(server_->counters().embeddings, 7u);
}

TEST_F(RemoteEmbedderTest, GivesUpAfterMaxRetriesWithTheLastReason) {
  EmbedderConfig c = Azure();
  c.max_retries = 2;
  auto e = Make(c);
  for (int i = 0; i < 3; ++i) server_->Enqueue(Fault::Http(503));
  auto r = e->Embed(Texts(2));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(Msg(r.status()), "after 3 tries")) << r.status();
  EXPECT_TRUE(absl::StrContains(Msg(r.status()), "HTTP 503")) << r.status();
  EXPECT_TRUE(absl::StrContains(Msg(r.status()), "temporarily unable")) << r.status();
  EXPECT_EQ(server_->counters().embeddings, 3u);

  for (int i = 0; i < 3; ++i) server_->Enqueue(Fault::TooManyRequests(milliseconds(10)));
  r = e->Embed(Texts(2));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(absl::StrContains(Msg(r.status()), "quota")) << r.status();
  EXPECT_EQ(server_->counters().embeddings, 6u);
}

TEST_F(RemoteEmbedderTest, DroppedConnectionsAreUnavailableAfterRetries) {
  EmbedderConfig c = Azure();
  c.max_retries = 1;
  server_->Enqueue(Fault::DropConnection());
  server_->Enqueue(Fault::DropConnection());
  EmbeddingUsage usage;
  auto r = Make(c)->Embed(Texts(2), &usage);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_TRUE(absl::StrContains(Msg(r.status()), "after 2 tries")) << r.status();
  EXPECT_EQ(usage.requests, 2u);
}

TEST_F(RemoteEmbedderTest, BackoffIsExponentialWithFullJitterAndCapped) {
  EmbedderConfig c = Azure();
  c.max_retries = 4;
  c.initial_backoff_ms = 100;
  c.max_backoff_ms = 200;
  for (int i = 0; i < 4; ++i) server_->Enqueue(Fault::Http(500));  // no Retry-After
  ASSERT_OK(Make(c)->Embed(Texts(1)));
  FakeOpenAiCounters counters = server_->counters();
  ASSERT_EQ(counters.log.size(), 5u);
  // Ceilings 100, 200, 200 (capped), 200; slack for scheduling.
  const int64_t ceilings[] = {100, 200, 200, 200};
  int64_t total = 0;
  for (int i = 1; i < 5; ++i) {
    int64_t gap = MsBetween(counters.log[i - 1].arrived, counters.log[i].arrived);
    EXPECT_LE(gap, ceilings[i - 1] + 60) << "retry " << i;
    total += gap;
  }
  // The expected total is 350 ms; below 20 ms has a probability of about 1e-5.
  EXPECT_GE(total, 20);
}

TEST_F(RemoteEmbedderTest, NonRetryableErrorsSayWhatToFix) {
  struct Case {
    EmbedderConfig config;
    absl::StatusCode code;
    std::string must_mention;
  };
  EmbedderConfig wrong_key = Azure();
  wrong_key.api_key = "not-the-key";
  EmbedderConfig wrong_deployment = Azure();
  wrong_deployment.deployment = "text-embedding-ada-002";
  EmbedderConfig wrong_version = Azure();
  wrong_version.api_version = "1999-01-01";
  EmbedderConfig too_many_inputs = Azure();
  too_many_inputs.max_inputs_per_request = 32;  // the deployment allows 16
  EmbedderConfig openai_wrong_key = OpenAi();
  openai_wrong_key.api_key = "sk-wrong-key-abcdef";
  EmbedderConfig openai_wrong_url = OpenAi();
  openai_wrong_url.base_url = server_->endpoint();  // missing /v1
  std::vector<Case> cases = {
      {wrong_key, absl::StatusCode::kFailedPrecondition, "Fix the API key"},
      {wrong_deployment, absl::StatusCode::kFailedPrecondition,
       "Check deployment \"text-embedding-ada-002\""},
      {wrong_version, absl::StatusCode::kFailedPrecondition, "api_version \"1999-01-01\""},
      {too_many_inputs, absl::StatusCode::kInvalidArgument, "max_inputs_per_request (32)"},
      {openai_wrong_key, absl::StatusCode::kFailedPrecondition, "Fix the API key"},
      {openai_wrong_url, absl::StatusCode::kFailedPrecondition, "usually ending in /v1"},
  };
  for (const Case& c : cases) {
    server_->ResetCounters();
    EmbeddingUsage usage;
    // 20 inputs: two batches on Azure, which may both be in flight when the first fails.
    auto r = Make(c.config)->Embed(Texts(20), &usage);
    EXPECT_EQ(r.status().code(), c.code) << r.status();
    EXPECT_TRUE(absl::StrContains(Msg(r.status()), c.must_mention)) << r.status();
    EXPECT_EQ(usage.retries, 0u) << r.status();
    EXPECT_LE(server_->counters().requests, 2u) << r.status();
  }
  server_->ResetCounters();
  server_->Enqueue(Fault::Http(403));
  auto r = Make(Azure())->Embed(Texts(1));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(Msg(r.status()), "network rules")) << r.status();
  server_->Enqueue(Fault::Http(400));
  r = Make(Azure())->Embed(Texts(1));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server_->counters().embeddings, 2u);
}

TEST_F(RemoteEmbedderTest, FirstFailureStopsTheOtherBatches) {
  EmbedderConfig c = Azure();
  c.max_inputs_per_request = 1;
  c.max_concurrency = 2;
  server_->SetLatency(milliseconds(20));
  server_->Enqueue(Fault::Http(401));
  EmbeddingUsage usage;
  auto r = Make(c)->Embed(Texts(20), &usage);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(Msg(r.status()), "none returned")) << r.status();
  EXPECT_LE(usage.requests, 4u);
}

TEST_F(RemoteEmbedderTest, MalformedResponsesAreInternalErrorsAndNotPartial) {
  struct Case {
    Fault fault;
    std::string must_mention;
  };
  std::vector<Case> cases = {
      {Fault::WrongDimension(1535), "dimension 1535, expected 1536"},
      {Fault::WrongCount(), "2 embeddings for 3 inputs"},
      {Fault::DuplicateIndex(), "appears twice"},
      {Fault::MalformedJson(), "not valid JSON"},
      {Fault::NonFinite(), "non-finite"},
  };
  EmbedderConfig c = Azure();
  c.max_inputs_per_request = 3;
  c.max_concurrency = 1;
  auto e = Make(c);
  for (const Case& k : cases) {
    server_->ResetCounters();
    // The second of two batches is bad: the whole call fails.
    server_->Enqueue(Fault::Delay(milliseconds(0)));
    server_->Enqueue(k.fault);
    auto r = e->Embed(Texts(6));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal) << r.status();
    EXPECT_TRUE(absl::StrContains(Msg(r.status()), k.must_mention)) << r.status();
    EXPECT_EQ(server_->counters().embeddings, 2u) << "a bad response is not retried";
  }
}

// Issue 13: shapes a fake Azure / OpenAI server sends that a careless reader would throw on
// (on an Embed worker thread, which would abort the process). Each is INTERNAL, "malformed
// upstream response", not retried; the next call works.
TEST_F(RemoteEmbedderTest, MalformedShapesAreInternalForBothProviders) {
  struct Case {
    Fault fault;
    std::string must_mention;
  };
  const std::vector<Case> cases = {
      {Fault::RawBody(R"({"data":[42]})"), R"(no unsigned integer "index")"},
      {Fault::RawBody(R"({"data":[null]})"), R"(no unsigned integer "index")"},
      {Fault::RawBody(R"({"data":null})"), R"(no "data" array)"},
      {Fault::RawBody(R"({"data":"[]"})"), R"(no "data" array)"},
      {Fault::RawBody("[1,2,3]"), "not a JSON object"},
      {Fault::RawBody(R"({"data":[{"index":"0","embedding":[0.5]}]})"),
       R"(no unsigned integer "index")"},
      {Fault::RawBody(R"({"data":[{"index":-1,"embedding":[0.5]}]})"),
       R"(no unsigned integer "index")"},
      {Fault::RawBody(R"({"data":[{"index":0,"embedding":"0.1,0.2"}]})"),
       R"(no "embedding" array)"},
      {Fault::RawBody(R"({"data":[{"index":0,"embedding":[null]}]})"), "dimension 1"},
      {Fault::RawUsage(R"({"prompt_tokens":"5","total_tokens":5})"),
       R"(usage.prompt_tokens is "5", not a token count)"},
      {Fault::RawUsage(R"({"prompt_tokens":"many","total_tokens":5})"),
       R"(usage.prompt_tokens is "many")"},
      {Fault::RawUsage(R"({"prompt_tokens":null,"total_tokens":5})"),
       "usage.prompt_tokens is null"},
      {Fault::RawUsage(R"({"prompt_tokens":-5,"total_tokens":5})"), "usage.prompt_tokens is -5"},
      {Fault::RawUsage(R"("lots")"), R"("usage" is not an object)"},
  };
  for (bool azure : {true, false}) {
    EmbedderConfig c = azure ? Azure() : OpenAi();
    auto e = Make(c);
    for (const Case& k : cases) {
      SCOPED_TRACE(absl::StrCat(azure ? "azure " : "openai ", k.fault.body));
      server_->ResetCounters();
      server_->Enqueue(k.fault);
      auto r = e->Embed(Texts(1));
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal) << r.status();
      EXPECT_TRUE(absl::StrContains(Msg(r.status()), "malformed upstream response")) << r.status();
      EXPECT_TRUE(absl::StrContains(Msg(r.status()), k.must_mention)) << r.status();
      EXPECT_EQ(server_->counters().embeddings, 1u) << "a bad response is not retried";
    }
    ASSERT_OK(e->Embed(Texts(2)));
  }
}

TEST_F(RemoteEmbedderTest, ApiKeyNeverAppearsInErrors) {
  // A server that echoes the key in its error body (real ones echo parts of it).
  Fault echo = Fault::Http(500);
  echo.body = absl::StrCat(R"({"error":{"code":"500","message":"bad key )", kKey, R"("}})");
  EmbedderConfig c = Azure();
  c.max_retries = 0;
  server_->Enqueue(echo);
  auto r = Make(c)->Embed(Texts(1));
  ASSERT_FALSE(r.ok());
  EXPECT_FALSE(absl::StrContains(Msg(r.status()), kKey)) << r.status();
  EXPECT_TRUE(absl::StrContains(Msg(r.status()), "[redacted]")) << r.status();

  EmbedderConfig o = OpenAi();
  o.api_key = "sk-another-SECRET-987654";
  r = Make(o)->Embed(Texts(1));
  ASSERT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(absl::StrContains(Msg(r.status()), "SECRET")) << r.status();

  EmbedderConfig unreachable = Azure();
  unreachable.endpoint = absl::StrCat("http://127.0.0.1:", ClosedPort());
  unreachable.max_retries = 0;
  r = Make(unreachable)->Embed(Texts(1));
  EXPECT_FALSE(absl::StrContains(Msg(r.status()), kKey)) << r.status();
}

TEST_F(RemoteEmbedderTest, KeysComeFromEnvironmentOrFile) {
  EmbedderConfig from_env = Azure();
  from_env.api_key.clear();
  from_env.api_key_env = "RAGD_EMBEDDER_TEST_KEY";
  from_env.secrets = HostSecrets::Shared();  // what ragd hands in: its environment and files
  unsetenv("RAGD_EMBEDDER_TEST_KEY");
  auto missing = MakeEmbedder(from_env);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(Msg(missing.status()), "RAGD_EMBEDDER_TEST_KEY"));
  setenv("RAGD_EMBEDDER_TEST_KEY", kKey, 1);
  ASSERT_OK(Make(from_env)->Embed(Texts(1)));
  unsetenv("RAGD_EMBEDDER_TEST_KEY");

  std::string path =
      (std::filesystem::temp_directory_path() / absl::StrCat("ragd_embedder_test_key_", getpid()))
          .string();
  {
    std::ofstream f(path);
    f << kKey << "\r\n";
  }
  EmbedderConfig from_file = Azure();
  from_file.api_key.clear();
  from_file.api_key_file = path;
  from_file.secrets = HostSecrets::Shared();
  ASSERT_OK(Make(from_file)->Embed(Texts(1)));
  std::filesystem::remove(path);
  auto gone = MakeEmbedder(from_file);
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(Msg(gone.status()), path));

  EmbedderConfig two = Azure();
  two.api_key_env = "X";
  EXPECT_EQ(MakeEmbedder(two).status().code(), absl::StatusCode::kInvalidArgument);
  EmbedderConfig newline = Azure();
  newline.api_key = "abc\ndef";
  EXPECT_EQ(MakeEmbedder(newline).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(RemoteEmbedderTest, UnreachableEndpointIsUnavailableAfterBoundedRetries) {
  EmbedderConfig c = Azure();
  c.endpoint = absl::StrCat("http://127.0.0.1:", ClosedPort());
  c.max_retries = 2;
  EmbeddingUsage usage;
  auto start = Clock::now();
  auto r = Make(c)->Embed(Texts(1), &usage);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_TRUE(absl::StrContains(Msg(r.status()), "after 3 tries")) << r.status();
  EXPECT_EQ(usage.requests, 3u);
  EXPECT_LT(MsBetween(start, Clock::now()), 2000);
}

TEST_F(RemoteEmbedderTest, TimeoutsAreRetriedThenDeadlineExceeded) {
  EmbedderConfig c = Azure();
  c.timeout_ms = 150;
  c.max_retries = 1;
  server_->Enqueue(Fault::Delay(milliseconds(1000)));
  server_->Enqueue(Fault::Delay(milliseconds(1000)));
  auto start = Clock::now();
  auto r = Make(c)->Embed(Texts(1));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_TRUE(absl::StrContains(Msg(r.status()), "timeout_ms=150")) << r.status();
  EXPECT_LT(MsBetween(start, Clock::now()), 900);

  // One slow response, then a good one.
  server_->Enqueue(Fault::Delay(milliseconds(1000)));
  EmbeddingUsage usage;
  ASSERT_OK(Make(c)->Embed(Texts(1), &usage));
  EXPECT_EQ(usage.retries, 1u);
}

TEST_F(RemoteEmbedderTest, ConcurrencyIsBoundedPerEmbedder) {
  EmbedderConfig c = Azure();
  c.max_inputs_per_request = 1;
  c.max_concurrency = 3;
  server_->SetLatency(milliseconds(60));
  auto e = Make(c);
  std::vector<std::string> texts = Texts(12);
  auto start = Clock::now();
  ASSERT_OK_AND_ASSIGN(auto vs, e->Embed(texts));
  ExpectVectorsOf(texts, vs);
  int64_t elapsed = MsBetween(start, Clock::now());
  // In parallel, counted by the server rather than timed (a wall-clock upper bound failed at
  // 735 ms > 720 under ASan beside other builds): exactly 3 requests were in flight at once.
  EXPECT_EQ(server_->counters().max_in_flight, 3u);
  EXPECT_GE(elapsed, 4 * 60 - 10);  // 12 requests, 3 at a time: a lower bound load cannot break

  // Two concurrent calls share the limit.
  server_->ResetCounters();
  std::thread other([&] { EXPECT_TRUE(e->Embed(Texts(6, "other")).ok()); });
  ASSERT_OK(e->Embed(Texts(6)));
  other.join();
  EXPECT_LE(server_->counters().max_in_flight, 3u);
  EXPECT_EQ(server_->counters().embeddings, 12u);
}

TEST_F(RemoteEmbedderTest, RateLimiterSpacesRequests) {
  EmbedderConfig c = Azure();
  c.max_inputs_per_request = 1;
  c.max_concurrency = 4;
  c.requests_per_minute = 600;  // one per 100 ms
  c.rate_limit_burst_ms = 100;  // a bucket of one request
  auto e = Make(c);
  ASSERT_OK(e->Embed(Texts(6)));
  FakeOpenAiCounters counters = server_->counters();
  ASSERT_EQ(counters.log.size(), 6u);
  std::vector<Clock::time_point> t;
  for (const auto& r : counters.log) t.push_back(r.arrived);
  std::sort(t.begin(), t.end());
  EXPECT_GE(MsBetween(t.front(), t.back()), 5 * 100 - 30);
  for (size_t i = 1; i < t.size(); ++i) EXPECT_GE(MsBetween(t[i - 1], t[i]), 60) << i;

  // Tokens per minute: 60,000/min = 1,000 tokens/s, a bucket of 100 tokens; 4 requests of 200.
  EmbedderConfig tpm = Azure();
  tpm.max_inputs_per_request = 1;
  tpm.tokens_per_minute = 60000;
  tpm.rate_limit_burst_ms = 100;
  auto start = Clock::now();
  ASSERT_OK(
      Make(tpm)->Embed({Words(200), Words(200) + " a", Words(200) + " b", Words(200) + " c"}));
  // 800 tokens with 100 in the bucket: at least 700 ms.
  EXPECT_GE(MsBetween(start, Clock::now()), 650);
}

// The fake rejects what the real services reject, so that client bugs cannot hide behind it.
TEST_F(RemoteEmbedderTest, FakeServerChecksRequestsLikeTheRealService) {
  HttpClient http;
  const std::string azure =
      server_->endpoint() + "/openai/deployments/ada/embeddings?api-version=2024-02-01";
  const std::string openai = server_->openai_base_url() + "/embeddings";
  const std::vector<std::pair<std::string, std::string>> azure_key = {{"api-key", kKey}};
  const std::vector<std::pair<std::string, std::string>> bearer = {
      {"Authorization", absl::StrCat("Bearer ", kKey)}};
  auto status_of = [&](const std::string& url,
                       const std::vector<std::pair<std::string, std::string>>& headers,
                       const std::string& body) {
    auto r = http.Post(url, headers, body, milliseconds(5000));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->status : -1;
  };
  EXPECT_EQ(status_of(azure, azure_key, R"({"input":["a","b"]})"), 200);
  EXPECT_EQ(status_of(azure, azure_key, R"({"input":"one string"})"), 200);
  EXPECT_EQ(status_of(azure, {}, R"({"input":["a"]})"), 401);
  EXPECT_EQ(status_of(azure, bearer, R"({"input":["a"]})"), 401);
  EXPECT_EQ(status_of(server_->endpoint() + "/openai/deployments/ada/embeddings", azure_key,
                      R"({"input":["a"]})"),
            404);  // no api-version
  EXPECT_EQ(
      status_of(server_->endpoint() + "/openai/deployments/gpt/embeddings?api-version=2024-02-01",
                azure_key, R"({"input":["a"]})"),
      404);
  EXPECT_EQ(status_of(azure, azure_key, R"({"input":[""]})"), 400);
  EXPECT_EQ(status_of(azure, azure_key, R"({"input":[1,2]})"), 400);
  EXPECT_EQ(status_of(azure, azure_key, R"({"input":)"), 400);
  EXPECT_EQ(status_of(azure, azure_key, absl::StrCat(R"({"input":[")", Words(8192), R"("]})")),
            400);
  EXPECT_EQ(status_of(openai, bearer, R"({"input":["a"],"model":"text-embedding-ada-002"})"), 200);
  EXPECT_EQ(status_of(openai, bearer, R"({"input":["a"]})"), 400);  // no model
  EXPECT_EQ(status_of(openai, azure_key, R"({"input":["a"],"model":"m"})"), 401);
  EXPECT_EQ(status_of(server_->endpoint() + "/v2/embeddings", bearer, R"({"input":["a"]})"), 404);
  FakeOpenAiCounters c = server_->counters();
  EXPECT_EQ(c.inputs, 4u);  // only accepted requests count inputs
  EXPECT_EQ(c.requests, 14u);
  EXPECT_EQ(c.per_path["/openai/deployments/ada/embeddings"], 9u);
  EXPECT_EQ(c.per_path["/v1/embeddings"], 3u);
}

}  // namespace
}  // namespace ragd::models
