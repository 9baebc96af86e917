// Malformed upstream responses (issue 13, item 4) against the fake chat-completions server,
// for both URL shapes (Azure OpenAI and OpenAI): choices that are not objects, usage counts
// that are not numbers, content that is not a string, error events whose error is a string or
// whose message is a number, a stream that stalls after its preamble, and a plain JSON
// completion answered to a streaming request. Each must end the call with a clear error of
// that model (or be understood), never an exception; the server and other models go on.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "models/chat_model.h"
#include "models/tokenizer.h"
#include "tests/testing/fake_chat_server.h"
#include "tests/testing/fake_openai_server.h"
#include "tests/testing/status_matchers.h"

namespace ragd::models {
namespace {

using ::ragd::testing::ChatFault;
using ::ragd::testing::FakeChatCompletions;
using ::ragd::testing::FakeOpenAiServer;
using ::ragd::testing::FakeOpenAiServerOptions;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr char kKey[] = "sk-guard-SECRET-0123456789";

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

// A choices array holding one content delta, as the real services frame it.
std::string DeltaChoices(const std::string& content_json) {
  return R"([{"delta":{"content":)" + content_json +
         R"(},"finish_reason":null,"index":0,"logprobs":null}])";
}

class ChatUpstreamGuardTest : public ::testing::TestWithParam<ChatProvider> {
 protected:
  void SetUp() override {
    FakeOpenAiServerOptions options;
    options.api_key = kKey;
    options.deployments = {"gpt-4o"};
    ASSERT_OK_AND_ASSIGN(server_, FakeOpenAiServer::Start(options));
    chat_ = std::make_unique<FakeChatCompletions>(server_.get());
  }

  ModelDeployment Deployment(const FakeOpenAiServer& server) const {
    ModelDeployment d;
    d.provider = GetParam();
    if (d.provider == ChatProvider::kAzureOpenAi) {
      d.name = "az-4o";
      d.endpoint = server.endpoint();
      d.deployment = "gpt-4o";
    } else {
      d.name = "oa-4o";
      d.base_url = server.openai_base_url();
      d.model = "gpt-4o";
    }
    d.api_key = kKey;
    d.context_window = 8192;
    d.max_output_tokens = 4096;
    d.encoding = Encoding::kCl100kBase;
    d.max_retries = 0;
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

  absl::Status Run(ChatModel& model, std::vector<std::string>* deltas, ChatResult* result) {
    return model.Stream(
        Request(),
        [&](const ChatDelta& d) {
          deltas->push_back(d.text);
          return true;
        },
        result, nullptr);
  }

  // The next plain call on `model` must succeed: one bad response poisons nothing.
  void ExpectHealthyAfterwards(ChatModel& model) {
    std::vector<std::string> deltas;
    ChatResult result;
    EXPECT_OK(Run(model, &deltas, &result));
    EXPECT_EQ(deltas.size(), 6u);
  }

  void ExpectMalformed(const absl::Status& s, const std::string& mention) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
    EXPECT_TRUE(absl::StrContains(Msg(s), "malformed upstream response")) << s;
    EXPECT_TRUE(absl::StrContains(Msg(s), mention)) << s;
    EXPECT_TRUE(
        absl::StrContains(Msg(s), GetParam() == ChatProvider::kAzureOpenAi ? "az-4o" : "oa-4o"))
        << s;
    EXPECT_FALSE(absl::StrContains(Msg(s), kKey)) << s;
  }

  std::unique_ptr<FakeOpenAiServer> server_;
  std::unique_ptr<FakeChatCompletions> chat_;
};

INSTANTIATE_TEST_SUITE_P(BothProviders, ChatUpstreamGuardTest,
                         ::testing::Values(ChatProvider::kAzureOpenAi, ChatProvider::kOpenAi),
                         [](const ::testing::TestParamInfo<ChatProvider>& info) {
                           return info.param == ChatProvider::kAzureOpenAi ? "Azure" : "OpenAi";
                         });

TEST_P(ChatUpstreamGuardTest, ChoicesThatAreNotObjectsAreInternal) {
  auto model = Make(Deployment(*server_));
  for (const char* choices : {"[42]", "[null]", R"(["text"])", "[[]]"}) {
    SCOPED_TRACE(choices);
    chat_->Enqueue(ChatFault::RawEvent(0, FakeChatCompletions::ChunkWith(choices)));
    std::vector<std::string> deltas;
    ChatResult result;
    ExpectMalformed(Run(*model, &deltas, &result), "choices");
    EXPECT_TRUE(deltas.empty());
    EXPECT_EQ(result.attempts, 1u) << "a malformed response is not retried";
  }
  // After text was delivered: the same error, with what was received.
  chat_->Enqueue(ChatFault::RawEvent(2, FakeChatCompletions::ChunkWith("[42]")));
  std::vector<std::string> deltas;
  ChatResult result;
  ExpectMalformed(Run(*model, &deltas, &result), "choices");
  EXPECT_EQ(deltas.size(), 2u);
  EXPECT_EQ(result.delivered_bytes, std::string("Embeddings are").size());
  // `choices` itself not an array.
  chat_->Enqueue(ChatFault::RawEvent(0, FakeChatCompletions::ChunkWith(R"({"0":1})")));
  deltas.clear();
  ExpectMalformed(Run(*model, &deltas, &result), "choices");
  ExpectHealthyAfterwards(*model);
}

TEST_P(ChatUpstreamGuardTest, UsageCountsThatAreNotNumbersAreInternal) {
  auto model = Make(Deployment(*server_));
  for (const char* usage : {R"({"completion_tokens":6,"prompt_tokens":"5","total_tokens":11})",
                            R"({"completion_tokens":6,"prompt_tokens":"many","total_tokens":11})",
                            R"({"completion_tokens":null,"prompt_tokens":5,"total_tokens":11})",
                            R"({"completion_tokens":6,"prompt_tokens":-5,"total_tokens":1})",
                            R"("all of them")", "[5,6,11]"}) {
    SCOPED_TRACE(usage);
    chat_->Enqueue(ChatFault::RawUsage(usage));
    std::vector<std::string> deltas;
    ChatResult result;
    ExpectMalformed(Run(*model, &deltas, &result), "usage");
    chat_->Enqueue(ChatFault::RawUsage(usage));
    ExpectMalformed(model->Complete(Request(), nullptr).status(), "usage");
  }
  ExpectHealthyAfterwards(*model);
}

TEST_P(ChatUpstreamGuardTest, ContentThatIsNotAStringIsInternal) {
  auto model = Make(Deployment(*server_));
  for (const char* content : {"42", R"({"text":"hi"})", "[\"a\"]", "true"}) {
    SCOPED_TRACE(content);
    chat_->Enqueue(ChatFault::RawEvent(1, FakeChatCompletions::ChunkWith(DeltaChoices(content))));
    std::vector<std::string> deltas;
    ChatResult result;
    ExpectMalformed(Run(*model, &deltas, &result), "content");
    EXPECT_EQ(deltas, std::vector<std::string>{"Embeddings"});
  }
  // A null content (sent beside tool calls and in the last chunk) is no text, not an error.
  chat_->Enqueue(ChatFault::RawEvent(1, FakeChatCompletions::ChunkWith(DeltaChoices("null"))));
  std::vector<std::string> deltas;
  ChatResult result;
  ASSERT_OK(Run(*model, &deltas, &result));
  EXPECT_EQ(deltas.size(), 6u);
}

TEST_P(ChatUpstreamGuardTest, ErrorEventsReportTheUpstreamMessage) {
  auto model = Make(Deployment(*server_));
  struct Case {
    std::string error;
    std::string mention;
  };
  for (const Case& c : std::vector<Case>{
           {R"("The engine is currently overloaded")", "The engine is currently overloaded"},
           {R"({"code":"server_error","message":42})", "42"},
           {R"({"message":{"detail":"nested"}})", "nested"},
           {R"({"code":"overloaded_error"})", "overloaded_error"},
       }) {
    SCOPED_TRACE(c.error);
    chat_->Enqueue(ChatFault::RawErrorEvent(0, c.error));
    std::vector<std::string> deltas;
    ChatResult result;
    absl::Status s = Run(*model, &deltas, &result);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
    EXPECT_TRUE(absl::StrContains(Msg(s), "error in the stream")) << s;
    EXPECT_TRUE(absl::StrContains(Msg(s), c.mention)) << s;
    EXPECT_FALSE(absl::StrContains(Msg(s), "too large")) << s;
  }
  // Before any text an error event is retried like a 5xx.
  ModelDeployment d = Deployment(*server_);
  d.max_retries = 1;
  auto patient = Make(d);
  chat_->Enqueue(ChatFault::RawErrorEvent(0, R"("overloaded")"));
  std::vector<std::string> deltas;
  ChatResult result;
  ASSERT_OK(Run(*patient, &deltas, &result));
  EXPECT_EQ(result.attempts, 2u);
  EXPECT_EQ(deltas.size(), 6u);
}

TEST_P(ChatUpstreamGuardTest, FirstTokenTimeoutCountsContentNotBytes) {
  ModelDeployment d = Deployment(*server_);
  d.first_token_timeout_ms = 200;
  d.timeout_ms = 20000;
  auto model = Make(d);
  // Headers, the prompt-filter chunk (Azure) and the role chunk arrive at once; no content.
  chat_->Enqueue(ChatFault::Stall(milliseconds(5000)));
  std::vector<std::string> deltas;
  ChatResult result;
  const auto start = Clock::now();
  absl::Status s = Run(*model, &deltas, &result);
  const auto took = Clock::now() - start;
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_TRUE(absl::StrContains(Msg(s), "first token")) << s;
  EXPECT_GE(took, milliseconds(200));
  EXPECT_LT(took, milliseconds(2000));
  EXPECT_TRUE(deltas.empty());

  // A short stall is waited out and timed: time to first token includes it.
  chat_->Enqueue(ChatFault::Stall(milliseconds(100)));
  ASSERT_OK(Run(*model, &deltas, &result));
  EXPECT_GE(result.time_to_first_token, std::chrono::microseconds(100000));

  // Before any text the timeout is retried.
  d.max_retries = 1;
  auto patient = Make(d);
  chat_->Enqueue(ChatFault::Stall(milliseconds(5000)));
  deltas.clear();
  ASSERT_OK(Run(*patient, &deltas, &result));
  EXPECT_EQ(result.attempts, 2u);
  EXPECT_EQ(deltas.size(), 6u);
}

TEST_P(ChatUpstreamGuardTest, PlainJsonCompletionAnswersAStream) {
  ModelDeployment d = Deployment(*server_);
  d.max_retries = 2;
  auto model = Make(d);
  chat_->Enqueue(ChatFault::JsonCompletion());
  std::vector<std::string> deltas;
  ChatResult result;
  ASSERT_OK(Run(*model, &deltas, &result));
  EXPECT_EQ(deltas, std::vector<std::string>{chat_->answer()});
  EXPECT_EQ(result.attempts, 1u);
  EXPECT_EQ(result.finish_reason, "stop");
  EXPECT_EQ(result.model, "gpt-4o-2024-08-06");
  EXPECT_FALSE(result.usage.counted_locally);
  EXPECT_EQ(result.usage.completion_tokens,
            Tokenizer::Get(Encoding::kCl100kBase).Count(chat_->answer()));
  EXPECT_EQ(result.delivered_bytes, chat_->answer().size());
  EXPECT_EQ(chat_->counters().requests, 1u);
}

// Two models answering side by side, as Answer's comparison does: one upstream sends a
// malformed chunk, the other a good stream. The bad one fails alone; the good one answers.
TEST_P(ChatUpstreamGuardTest, OneMalformedModelDoesNotTakeDownItsNeighbour) {
  FakeOpenAiServerOptions options;
  options.api_key = kKey;
  options.deployments = {"gpt-4o"};
  ASSERT_OK_AND_ASSIGN(auto healthy_server, FakeOpenAiServer::Start(options));
  FakeChatCompletions healthy_chat(healthy_server.get());
  auto bad = Make(Deployment(*server_));
  auto good = Make(Deployment(*healthy_server));
  chat_->Enqueue(ChatFault::RawEvent(1, FakeChatCompletions::ChunkWith("[null]")));
  std::vector<std::string> bad_deltas, good_deltas;
  ChatResult bad_result, good_result;
  absl::Status bad_status, good_status;
  std::thread tb([&] { bad_status = Run(*bad, &bad_deltas, &bad_result); });
  std::thread tg([&] { good_status = Run(*good, &good_deltas, &good_result); });
  tb.join();
  tg.join();
  ExpectMalformed(bad_status, "choices");
  ASSERT_OK(good_status);
  EXPECT_EQ(good_deltas.size(), 6u);
  EXPECT_EQ(good_result.finish_reason, "stop");
  EXPECT_EQ(healthy_chat.counters().completed_streams, 1u);
}

}  // namespace
}  // namespace ragd::models
