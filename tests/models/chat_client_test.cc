// The Azure OpenAI / OpenAI chat clients against the fake chat-completions server
// (tests/testing/fake_chat_server.h): SSE streaming order, usage from the stream or counted
// locally, retries only before the first token, error mapping, cancellation reaching the
// upstream, timeouts. Also the SSE decoder. All traffic goes to 127.0.0.1.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "models/chat_model.h"
#include "models/openai_chat_model.h"
#include "models/sse_decoder.h"
#include "nlohmann/json.hpp"
#include "tests/testing/fake_chat_server.h"
#include "tests/testing/fake_openai_server.h"
#include "tests/testing/fake_token_counts.h"
#include "tests/testing/status_matchers.h"

namespace ragd::models {
namespace {

using ::ragd::testing::ChatFault;
using ::ragd::testing::FakeChatCompletions;
using ::ragd::testing::FakeEncoding;
using ::ragd::testing::FakeOpenAiServer;
using ::ragd::testing::FakeOpenAiServerOptions;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr char kKey[] = "sk-test-SECRET-0123456789";

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

// Waits (bounded) until `pred` holds.
template <typename Pred>
bool Eventually(Pred pred, milliseconds limit = milliseconds(3000)) {
  const auto until = Clock::now() + limit;
  while (Clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return pred();
}

class ChatClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeOpenAiServerOptions options;
    options.api_key = kKey;
    options.deployments = {"gpt-4o", "gpt-35-turbo"};
    ASSERT_OK_AND_ASSIGN(server_, FakeOpenAiServer::Start(options));
    chat_ = std::make_unique<FakeChatCompletions>(server_.get());
  }

  // An Azure deployment on the fake, counting with its model's encoding as the service does
  // (o200k_base for gpt-4o, cl100k_base for gpt-35-turbo).
  ModelDeployment Azure(const std::string& deployment = "gpt-4o") const {
    ModelDeployment d;
    d.name = "az-" + deployment;
    d.provider = ChatProvider::kAzureOpenAi;
    d.endpoint = server_->endpoint();
    d.deployment = deployment;
    d.api_key = kKey;
    d.context_window = 8192;
    d.max_output_tokens = 4096;
    d.encoding = deployment.starts_with("gpt-4o") ? Encoding::kO200kBase : Encoding::kCl100kBase;
    d.max_retries = 3;
    d.initial_backoff_ms = 5;
    d.max_backoff_ms = 20;
    return d;
  }

  std::unique_ptr<ChatModel> Make(const ModelDeployment& d) {
    auto m = MakeChatModel(d);
    EXPECT_OK(m);
    return m.ok() ? std::move(*m) : nullptr;
  }

  static ChatRequest Request() {
    ChatRequest r;
    r.messages = {{ChatRole::kSystem, "Answer from the sources. [1] Embeddings are vectors."},
                  {ChatRole::kUser, "What are embeddings?"}};
    return r;
  }

  // Streams and collects the deltas.
  absl::Status Run(ChatModel& model, const ChatRequest& request, std::vector<std::string>* deltas,
                   ChatResult* result, const std::atomic<bool>* cancelled = nullptr) {
    return model.Stream(
        request,
        [&](const ChatDelta& d) {
          deltas->push_back(d.text);
          return true;
        },
        result, cancelled);
  }

  // A request in Korean, which o200k_base encodes in far fewer tokens than cl100k_base.
  static ChatRequest KoreanRequest() {
    ChatRequest r;
    r.messages = {
        {ChatRole::kSystem, "출처에 근거해 답하세요. [1] 임베딩은 의미를 담은 벡터입니다."},
        {ChatRole::kUser, "임베딩이란 무엇인가요?"}};
    return r;
  }

  // What the service reports, from js-tiktoken's counts (the fakes' table, independent of
  // ragd's tokenizer) by OpenAI's rule: 3 per message + role + content, + 3 for the reply.
  static uint64_t ExpectedPromptTokens(const ChatRequest& r,
                                       FakeEncoding e = FakeEncoding::kO200kBase) {
    std::vector<std::pair<std::string, std::string>> messages;
    for (const ChatMessage& m : r.messages) {
      messages.emplace_back(std::string(ChatRoleName(m.role)), m.content);
    }
    bool exact = false;
    const uint64_t n = ::ragd::testing::FakeChatPromptTokens(e, messages, &exact);
    EXPECT_TRUE(exact) << "add the request's texts to tests/testing/tools/make-token-counts.mjs";
    return n;
  }
  static uint64_t ExpectedTokens(std::string_view text, FakeEncoding e = FakeEncoding::kO200kBase) {
    std::optional<uint64_t> n = ::ragd::testing::PrecomputedTokenCount(e, text);
    EXPECT_TRUE(n.has_value()) << "add \"" << text
                               << "\" to tests/testing/tools/make-token-counts.mjs";
    return n.value_or(0);
  }

  std::unique_ptr<FakeOpenAiServer> server_;
  std::unique_ptr<FakeChatCompletions> chat_;
};

TEST_F(ChatClientTest, StreamsDeltasInOrderWithUsageFromTheStream) {
  auto model = Make(Azure());
  std::vector<std::string> deltas;
  ChatResult result;
  ASSERT_OK(Run(*model, Request(), &deltas, &result));
  EXPECT_EQ(deltas, (std::vector<std::string>{"Embeddings", " are", " vectors", " of", " meaning",
                                              " [1]."}));
  EXPECT_EQ(result.finish_reason, "stop");
  EXPECT_FALSE(result.usage.counted_locally);
  EXPECT_EQ(result.usage.prompt_tokens, ExpectedPromptTokens(Request()));
  EXPECT_EQ(result.usage.completion_tokens, ExpectedTokens(chat_->answer()));
  EXPECT_EQ(result.usage.total_tokens, result.usage.prompt_tokens + result.usage.completion_tokens);
  EXPECT_EQ(chat_->counters().estimated_usage, 0u) << "the fake counted every text exactly";
  EXPECT_EQ(result.attempts, 1u);
  EXPECT_EQ(result.delivered_bytes, chat_->answer().size());
  EXPECT_EQ(result.model, "gpt-4o-2024-08-06");
  EXPECT_GT(result.time_to_first_token.count(), 0);
  EXPECT_GE(result.latency, result.time_to_first_token);

  // The wire: Azure body has no model, asks for usage in the stream.
  auto body = nlohmann::json::parse(chat_->counters().bodies.at(0));
  EXPECT_TRUE(body["stream"].get<bool>());
  EXPECT_TRUE(body["stream_options"]["include_usage"].get<bool>());
  EXPECT_FALSE(body.contains("model"));
  EXPECT_EQ(body["messages"][1]["content"], "What are embeddings?");
  EXPECT_EQ(chat_->counters().completed_streams, 1u);
}

TEST_F(ChatClientTest, UsageCountedLocallyWhenTheStreamOmitsIt) {
  auto model = Make(Azure());
  chat_->Enqueue(ChatFault::NoUsage());
  std::vector<std::string> deltas;
  ChatResult result;
  ASSERT_OK(Run(*model, Request(), &deltas, &result));
  EXPECT_TRUE(result.usage.counted_locally);
  // ragd's local count (its tokenizer, the cookbook rule) equals the service's, computed
  // independently from js-tiktoken's counts.
  EXPECT_EQ(result.usage.prompt_tokens, ExpectedPromptTokens(Request()));
  EXPECT_EQ(result.usage.completion_tokens, ExpectedTokens(chat_->answer()));

  ModelDeployment d = Azure();
  d.stream_usage = false;
  auto no_usage = Make(d);
  ASSERT_OK(Run(*no_usage, Request(), &deltas, &result));
  EXPECT_TRUE(result.usage.counted_locally);
  EXPECT_FALSE(nlohmann::json::parse(chat_->counters().bodies.back()).contains("stream_options"));
}

TEST_F(ChatClientTest, RetriesBeforeTheFirstTokenHonouringRetryAfter) {
  auto model = Make(Azure());
  chat_->Enqueue(ChatFault::TooManyRequests(milliseconds(300)));
  chat_->Enqueue(ChatFault::Http(503));
  chat_->Enqueue(ChatFault::CutAfter(0));  // broken before any text: still retryable
  std::vector<std::string> deltas;
  ChatResult result;
  ASSERT_OK(Run(*model, Request(), &deltas, &result));
  EXPECT_EQ(result.attempts, 4u);
  EXPECT_EQ(result.finish_reason, "stop");
  auto counters = chat_->counters();
  ASSERT_EQ(counters.requests, 4u);
  EXPECT_GE(counters.arrivals[1] - counters.arrivals[0], milliseconds(290));
  EXPECT_EQ(deltas.size(), 6u);  // nothing from failed tries leaked to the caller
  EXPECT_GE(result.time_to_first_token, std::chrono::microseconds(290000));
}

TEST_F(ChatClientTest, RateLimitedAfterRetriesIsResourceExhausted) {
  ModelDeployment d = Azure();
  d.max_retries = 2;
  auto model = Make(d);
  for (int i = 0; i < 3; ++i) chat_->Enqueue(ChatFault::TooManyRequests(milliseconds(10)));
  std::vector<std::string> deltas;
  ChatResult result;
  absl::Status s = Run(*model, Request(), &deltas, &result);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_EQ(chat_->counters().requests, 3u);
  EXPECT_EQ(result.attempts, 3u);
}

TEST_F(ChatClientTest, NoRetryAfterTheFirstToken) {
  auto model = Make(Azure());
  chat_->Enqueue(ChatFault::CutAfter(2));
  std::vector<std::string> deltas;
  ChatResult result;
  absl::Status s = Run(*model, Request(), &deltas, &result);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_TRUE(absl::StrContains(Msg(s), "stream broke after 14 bytes")) << s;
  EXPECT_EQ(deltas, (std::vector<std::string>{"Embeddings", " are"}));
  EXPECT_EQ(chat_->counters().requests, 1u);
  EXPECT_EQ(result.delivered_bytes, 14u);
  EXPECT_TRUE(result.usage.counted_locally);
  EXPECT_EQ(result.usage.completion_tokens, ExpectedTokens("Embeddings are"));
}

TEST_F(ChatClientTest, ErrorEventsInTheStreamAreRetriedOnlyBeforeText) {
  auto model = Make(Azure());
  chat_->Enqueue(ChatFault::ErrorEvent(0));
  std::vector<std::string> deltas;
  ChatResult result;
  ASSERT_OK(Run(*model, Request(), &deltas, &result));
  EXPECT_EQ(result.attempts, 2u);
  EXPECT_EQ(deltas.size(), 6u);

  chat_->Enqueue(ChatFault::ErrorEvent(3));
  deltas.clear();
  absl::Status s = Run(*model, Request(), &deltas, &result);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_TRUE(absl::StrContains(Msg(s), "The server had an error")) << s;
  EXPECT_EQ(deltas.size(), 3u);
  EXPECT_EQ(chat_->counters().requests, 3u);
}

TEST_F(ChatClientTest, ContextLengthExceededIsInvalidArgumentWithoutRetry) {
  auto model = Make(Azure());
  chat_->Enqueue(ChatFault::ContextLengthExceeded());
  std::vector<std::string> deltas;
  ChatResult result;
  absl::Status s = Run(*model, Request(), &deltas, &result);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_TRUE(absl::StrContains(Msg(s), "context length exceeded")) << s;
  EXPECT_TRUE(absl::StrContains(Msg(s), "maximum context length is 8192")) << s;
  EXPECT_EQ(chat_->counters().requests, 1u);
}

TEST_F(ChatClientTest, ContentFilterIsAFinishReasonTheCallerSees) {
  auto model = Make(Azure());
  // The prompt filtered: OK, finish reason content_filter, nothing streamed.
  chat_->Enqueue(ChatFault::ContentFilterPrompt());
  std::vector<std::string> deltas;
  ChatResult result;
  ASSERT_OK(Run(*model, Request(), &deltas, &result));
  EXPECT_EQ(result.finish_reason, "content_filter");
  EXPECT_TRUE(deltas.empty());
  EXPECT_EQ(result.usage.total_tokens, 0u);

  // The completion filtered half-way: the text so far, then the finish reason.
  chat_->Enqueue(ChatFault::ContentFilterCompletion(2));
  deltas.clear();
  ASSERT_OK(Run(*model, Request(), &deltas, &result));
  EXPECT_EQ(result.finish_reason, "content_filter");
  EXPECT_EQ(deltas, (std::vector<std::string>{"Embeddings", " are"}));
  EXPECT_EQ(chat_->counters().requests, 2u);
}

TEST_F(ChatClientTest, WrongKeyIsFailedPreconditionNamingTheDeploymentNotTheKey) {
  ModelDeployment d = Azure();
  d.api_key = "sk-WRONG-secret-key-42";
  auto model = Make(d);
  std::vector<std::string> deltas;
  ChatResult result;
  absl::Status s = Run(*model, Request(), &deltas, &result);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(absl::StrContains(Msg(s), "deployment 'gpt-4o'")) << s;
  EXPECT_TRUE(absl::StrContains(Msg(s), "HTTP 401")) << s;
  EXPECT_FALSE(absl::StrContains(Msg(s), "WRONG")) << s;
  EXPECT_EQ(chat_->counters().requests, 1u);

  // OpenAI echoes a masked key; ours is never in the message either.
  ModelDeployment o = d;
  o.provider = ChatProvider::kOpenAi;
  o.base_url = server_->openai_base_url();
  o.model = "gpt-4o";
  auto openai = Make(o);
  s = Run(*openai, Request(), &deltas, &result);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_FALSE(absl::StrContains(Msg(s), "sk-WRONG-secret-key-42")) << s;
}

TEST_F(ChatClientTest, UnknownDeploymentIsFailedPreconditionNamingIt) {
  auto model = Make(Azure("no-such-deployment"));
  std::vector<std::string> deltas;
  ChatResult result;
  absl::Status s = Run(*model, Request(), &deltas, &result);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(absl::StrContains(Msg(s), "no-such-deployment")) << s;
  EXPECT_TRUE(absl::StrContains(Msg(s), server_->endpoint())) << s;
  EXPECT_TRUE(absl::StrContains(Msg(s), "DeploymentNotFound")) << s;
}

TEST_F(ChatClientTest, UnreachableIsUnavailable) {
  ModelDeployment d = Azure();
  d.endpoint = "http://127.0.0.1:1";  // nothing listens on port 1
  d.max_retries = 1;
  auto model = Make(d);
  std::vector<std::string> deltas;
  ChatResult result;
  absl::Status s = Run(*model, Request(), &deltas, &result);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_EQ(result.attempts, 2u);
  EXPECT_FALSE(absl::StrContains(Msg(s), kKey));
}

TEST_F(ChatClientTest, SlowFirstTokenIsTimedAndCanTimeOut) {
  auto model = Make(Azure());
  chat_->Enqueue(ChatFault::Delay(milliseconds(400)));
  std::vector<std::string> deltas;
  ChatResult result;
  ASSERT_OK(Run(*model, Request(), &deltas, &result));
  EXPECT_GE(result.time_to_first_token, std::chrono::microseconds(400000));

  ModelDeployment d = Azure();
  d.first_token_timeout_ms = 100;
  d.max_retries = 0;
  auto impatient = Make(d);
  chat_->Enqueue(ChatFault::Delay(milliseconds(2000)));
  const auto start = Clock::now();
  absl::Status s = Run(*impatient, Request(), &deltas, &result);
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_LT(Clock::now() - start, milliseconds(1500));
}

TEST_F(ChatClientTest, ReturningFalseFromOnDeltaAbortsTheUpstream) {
  auto model = Make(Azure());
  chat_->Enqueue(ChatFault::Endless(milliseconds(20)));
  int seen = 0;
  ChatResult result;
  const auto start = Clock::now();
  absl::Status s = model->Stream(
      Request(), [&](const ChatDelta&) { return ++seen < 3; }, &result, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
  EXPECT_EQ(seen, 3);
  EXPECT_LT(Clock::now() - start, milliseconds(2000));
  // The fake notices the closed connection at its next write.
  EXPECT_TRUE(Eventually([&] { return chat_->counters().client_disconnects == 1; }));
  EXPECT_EQ(chat_->counters().requests, 1u);
}

TEST_F(ChatClientTest, StreamsReuseTheirConnectionUnlessCutOrCancelled) {
  auto model = Make(Azure());
  std::vector<std::string> deltas;
  ChatResult result;
  auto ports = [&] { return chat_->counters().remote_ports; };
  ASSERT_OK(Run(*model, Request(), &deltas, &result));
  ASSERT_OK(Run(*model, Request(), &deltas, &result));
  ASSERT_EQ(ports().size(), 2u);
  EXPECT_EQ(ports()[0], ports()[1]) << "a stream read to its end leaves its connection";

  // A stream cut in the middle is not reused: the next one connects anew.
  chat_->Enqueue(ChatFault::CutAfter(2));
  EXPECT_EQ(Run(*model, Request(), &deltas, &result).code(), absl::StatusCode::kUnavailable);
  ASSERT_OK(Run(*model, Request(), &deltas, &result));
  ASSERT_EQ(ports().size(), 4u);
  EXPECT_EQ(ports()[2], ports()[1]);
  EXPECT_NE(ports()[3], ports()[2]);

  // Neither is a stream the caller abandoned (the upstream must see the connection close).
  chat_->Enqueue(ChatFault::Endless(milliseconds(20)));
  int seen = 0;
  auto stop_after_one = [&](const ChatDelta&) { return ++seen < 2; };
  EXPECT_EQ(model->Stream(Request(), stop_after_one, &result, nullptr).code(),
            absl::StatusCode::kCancelled);
  EXPECT_TRUE(Eventually([&] { return chat_->counters().client_disconnects == 1; }));
  ASSERT_OK(Run(*model, Request(), &deltas, &result));
  ASSERT_EQ(ports().size(), 6u);
  EXPECT_EQ(ports()[4], ports()[3]);
  EXPECT_NE(ports()[5], ports()[4]);
  EXPECT_EQ(chat_->counters().completed_streams, 4u);
}

TEST_F(ChatClientTest, CancelledFlagAbortsTheUpstreamPromptly) {
  auto model = Make(Azure());
  chat_->Enqueue(ChatFault::Endless(milliseconds(20)));
  std::atomic<bool> cancelled{false};
  std::atomic<int> seen{0};
  std::thread canceller([&] {
    Eventually([&] { return seen.load() >= 2; });
    cancelled = true;
  });
  ChatResult result;
  absl::Status s = model->Stream(
      Request(),
      [&](const ChatDelta&) {
        ++seen;
        return true;
      },
      &result, &cancelled);
  canceller.join();
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
  EXPECT_GE(result.delivered_bytes, 10u);
  EXPECT_TRUE(Eventually([&] { return chat_->counters().client_disconnects == 1; }));

  // Cancelled while waiting for a slow first token: returns within the poll interval.
  chat_->Enqueue(ChatFault::Delay(milliseconds(5000)));
  std::atomic<bool> cancel2{false};
  std::thread later([&] {
    std::this_thread::sleep_for(milliseconds(100));
    cancel2 = true;
  });
  const auto start = Clock::now();
  std::vector<std::string> deltas;
  s = Run(*model, Request(), &deltas, &result, &cancel2);
  later.join();
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
  EXPECT_LT(Clock::now() - start, milliseconds(1000));
}

TEST_F(ChatClientTest, OpenAiProviderSendsModelAndBearer) {
  ModelDeployment d = Azure();
  d.name = "openai-4o";
  d.provider = ChatProvider::kOpenAi;
  d.base_url = server_->openai_base_url();
  d.model = "gpt-4o";
  auto model = Make(d);
  std::vector<std::string> deltas;
  ChatResult result;
  ChatRequest r = Request();
  r.temperature = 0.2;
  r.max_output_tokens = 100;
  r.stop = {"\n\n"};
  ASSERT_OK(Run(*model, r, &deltas, &result));
  EXPECT_EQ(deltas.size(), 6u);
  EXPECT_FALSE(result.usage.counted_locally);
  auto body = nlohmann::json::parse(chat_->counters().bodies.at(0));
  EXPECT_EQ(body["model"], "gpt-4o");
  EXPECT_DOUBLE_EQ(body["temperature"].get<double>(), 0.2);
  EXPECT_EQ(body["max_tokens"], 100);
  EXPECT_EQ(body["stop"][0], "\n\n");
}

TEST_F(ChatClientTest, CompleteIsNonStreamingWithRetries) {
  auto model = Make(Azure());
  chat_->Enqueue(ChatFault::Http(500));
  ASSERT_OK_AND_ASSIGN(ChatCompletion c, model->Complete(Request(), nullptr));
  EXPECT_EQ(c.text, chat_->answer());
  EXPECT_EQ(c.result.finish_reason, "stop");
  EXPECT_EQ(c.result.attempts, 2u);
  EXPECT_FALSE(c.result.usage.counted_locally);
  EXPECT_EQ(c.result.usage.prompt_tokens, ExpectedPromptTokens(Request()));
  EXPECT_FALSE(nlohmann::json::parse(chat_->counters().bodies.back())["stream"].get<bool>());
}

TEST_F(ChatClientTest, InvalidRequestsAreRejectedBeforeSending) {
  auto model = Make(Azure());
  std::vector<std::string> deltas;
  ChatResult result;
  EXPECT_EQ(Run(*model, ChatRequest{}, &deltas, &result).code(),
            absl::StatusCode::kInvalidArgument);
  ChatRequest r = Request();
  r.max_output_tokens = 5000;  // over the deployment's 4096
  EXPECT_EQ(Run(*model, r, &deltas, &result).code(), absl::StatusCode::kInvalidArgument);
  r = Request();
  r.messages[1].content = "\xff\xfe";
  EXPECT_EQ(Run(*model, r, &deltas, &result).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(chat_->counters().requests, 0u);
}

TEST_F(ChatClientTest, RetryAfterIsCappedByMaxRetryAfterMs) {
  ModelDeployment d = Azure();
  d.max_retry_after_ms = 200;
  auto model = Make(d);
  chat_->Enqueue(ChatFault::Http(429, {{"Retry-After", "5"}}));  // seconds only
  std::vector<std::string> deltas;
  ChatResult result;
  ASSERT_OK(Run(*model, Request(), &deltas, &result));
  auto counters = chat_->counters();
  ASSERT_EQ(counters.requests, 2u);
  EXPECT_GE(counters.arrivals[1] - counters.arrivals[0], milliseconds(190));
  EXPECT_LT(counters.arrivals[1] - counters.arrivals[0], milliseconds(2000));
}

TEST_F(ChatClientTest, CompleteReportsAFilteredPromptAsAFinishReason) {
  auto model = Make(Azure());
  chat_->Enqueue(ChatFault::ContentFilterPrompt());
  ASSERT_OK_AND_ASSIGN(ChatCompletion c, model->Complete(Request(), nullptr));
  EXPECT_EQ(c.result.finish_reason, "content_filter");
  EXPECT_TRUE(c.text.empty());
}

// Two deployments answering the same grounded question at once, as Answer's side-by-side
// comparison does: both stream completely; each reports its own encoding's usage (the same
// Korean prompt is 45 tokens in o200k_base, 62 in cl100k_base); cost follows each deployment's
// prices.
TEST_F(ChatClientTest, TwoModelsSideBySide) {
  ModelDeployment big = Azure("gpt-4o");
  ModelDeployment small = Azure("gpt-35-turbo");
  const ModelProfile* p4o = FindModelProfile("gpt-4o");
  const ModelProfile* p35 = FindModelProfile("gpt-35-turbo");
  big.price_per_1k_input = p4o->price_per_1k_input;
  big.price_per_1k_output = p4o->price_per_1k_output;
  small.price_per_1k_input = p35->price_per_1k_input;
  small.price_per_1k_output = p35->price_per_1k_output;
  auto a = Make(big);
  auto b = Make(small);
  std::vector<std::string> da, db;
  ChatResult ra, rb;
  absl::Status sa, sb;
  std::thread ta([&] { sa = Run(*a, KoreanRequest(), &da, &ra); });
  std::thread tb([&] { sb = Run(*b, KoreanRequest(), &db, &rb); });
  ta.join();
  tb.join();
  ASSERT_OK(sa);
  ASSERT_OK(sb);
  EXPECT_EQ(da, db);
  EXPECT_FALSE(ra.usage.counted_locally);
  EXPECT_FALSE(rb.usage.counted_locally);
  EXPECT_EQ(ra.usage.prompt_tokens,
            ExpectedPromptTokens(KoreanRequest(), FakeEncoding::kO200kBase));
  EXPECT_EQ(rb.usage.prompt_tokens,
            ExpectedPromptTokens(KoreanRequest(), FakeEncoding::kCl100kBase));
  EXPECT_LT(ra.usage.prompt_tokens, rb.usage.prompt_tokens);
  EXPECT_EQ(ra.usage.completion_tokens, ExpectedTokens(chat_->answer(), FakeEncoding::kO200kBase));
  EXPECT_EQ(rb.usage.completion_tokens, ExpectedTokens(chat_->answer(), FakeEncoding::kCl100kBase));
  const double cost_a = EstimateCostUsd(big, ra.usage);
  const double cost_b = EstimateCostUsd(small, rb.usage);
  EXPECT_DOUBLE_EQ(cost_a, ra.usage.prompt_tokens / 1000.0 * 0.0025 +
                               ra.usage.completion_tokens / 1000.0 * 0.01);
  // A bare gpt-35-turbo is its current version, 0125.
  EXPECT_DOUBLE_EQ(cost_b, rb.usage.prompt_tokens / 1000.0 * 0.0005 +
                               rb.usage.completion_tokens / 1000.0 * 0.0015);
  EXPECT_EQ(chat_->counters().completed_streams, 2u);
  EXPECT_EQ(chat_->counters().estimated_usage, 0u);

  // Counted locally (no usage in the streams), ragd's tokenizers agree with js-tiktoken.
  big.stream_usage = false;
  small.stream_usage = false;
  ASSERT_OK(Run(*Make(big), KoreanRequest(), &da, &ra));
  ASSERT_OK(Run(*Make(small), KoreanRequest(), &db, &rb));
  EXPECT_TRUE(ra.usage.counted_locally);
  EXPECT_TRUE(rb.usage.counted_locally);
  EXPECT_EQ(ra.usage.prompt_tokens,
            ExpectedPromptTokens(KoreanRequest(), FakeEncoding::kO200kBase));
  EXPECT_EQ(rb.usage.prompt_tokens,
            ExpectedPromptTokens(KoreanRequest(), FakeEncoding::kCl100kBase));
}

TEST(SseDecoderTest, DecodesEventsSplitAnywhere) {
  const std::string stream =
      ": keep-alive\r\n\r\ndata: {\"a\":1}\r\n\r\ndata:{\"b\":2}\n\nevent: x\ndata: line1\ndata: "
      "line2\n\ndata: [DONE]\n\n";
  const std::vector<std::string> expected = {"{\"a\":1}", "{\"b\":2}", "line1\nline2", "[DONE]"};
  for (size_t split = 1; split <= stream.size(); ++split) {
    SseDecoder decoder;
    std::vector<std::string> events;
    for (size_t i = 0; i < stream.size(); i += split) {
      ASSERT_TRUE(decoder.Feed(std::string_view(stream).substr(i, split), [&](std::string_view e) {
        events.emplace_back(e);
        return true;
      }));
    }
    EXPECT_EQ(events, expected) << "split " << split;
    EXPECT_FALSE(decoder.has_partial());
  }
}

TEST(SseDecoderTest, StopsWhenAskedAndBoundsLines) {
  SseDecoder decoder;
  int n = 0;
  EXPECT_FALSE(decoder.Feed("data: 1\n\ndata: 2\n\n", [&](std::string_view) { return ++n < 1; }));
  EXPECT_EQ(n, 1);
  SseDecoder small(16);
  EXPECT_FALSE(small.Feed(std::string(100, 'x'), [](std::string_view) { return true; }));
  EXPECT_TRUE(small.overflowed());
  SseDecoder partial;
  EXPECT_TRUE(partial.Feed("data: {\"cut", [](std::string_view) { return true; }));
  EXPECT_TRUE(partial.has_partial());
}

}  // namespace
}  // namespace ragd::models
