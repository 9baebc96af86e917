// The OpenAI-compatible HTTP API (services/http) end to end: the real ragd on 127.0.0.1 with the
// Korean corpus ingested through gRPC with the local embedder, the local model and a fake Azure
// OpenAI deployment (tests/testing/fake_chat_server.h), called over HTTP as an OpenAI client
// would. A second ragd with API keys and one answer at a time checks authorization and load
// shedding.

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ragd/v1/collections.grpc.pb.h"
#include "ragd/v1/ingest.grpc.pb.h"
#include "ragd/v1/points.grpc.pb.h"
#include "ragd/v1/retrieval.grpc.pb.h"
#include "tests/services/http_test_util.h"

namespace ragd::testing {
namespace {

using ::testing::HasSubstr;

// Sends a streaming request on a raw socket, reads until `chunks` content deltas came, then
// closes the connection: what a client that gives up does.
bool StreamThenHangUp(int port, const std::string& body, int chunks, const std::string& key = "") {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return false;
  }
  std::string request = absl::StrCat(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n",
      key.empty() ? "" : absl::StrCat("Authorization: Bearer ", key, "\r\n"),
      "Content-Length: ", body.size(), "\r\n\r\n", body);
  if (send(fd, request.data(), request.size(), 0) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return false;
  }
  std::string received;
  char buffer[4096];
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  size_t seen = 0;
  while (std::chrono::steady_clock::now() < give_up) {
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    received.append(buffer, static_cast<size_t>(n));
    seen = 0;
    for (size_t at = 0; (at = received.find("\"content\":\"", at)) != std::string::npos; ++at) {
      if (received.compare(at, 13, "\"content\":\"\"") != 0) ++seen;
    }
    if (seen >= static_cast<size_t>(chunks)) break;
  }
  close(fd);
  return seen >= static_cast<size_t>(chunks);
}

// Sends a request on a raw socket and closes the connection once `ready` says so (or after 10 s),
// before any response byte is read.
bool SendThenHangUp(int port, const std::string& body, const std::function<bool()>& ready) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return false;
  }
  std::string request = absl::StrCat(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
      "application/json\r\nContent-Length: ",
      body.size(), "\r\n\r\n", body);
  bool sent = send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size());
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool was_ready = false;
  while (sent && !(was_ready = ready()) && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  close(fd);
  return was_ready;
}

class HttpApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto stack = HttpStack::Start("retrieval:\n  answer_deadline_ms: 20000\n");
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = stack->release();
    fake_ = stack_->fake.get();
    chat_ = stack_->chat.get();
    ragd_ = stack_->ragd.get();
    ASSERT_GT(ragd_->http_port(), 0);
  }

  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }

  static int port() { return ragd_->http_port(); }
  static HttpResult Post(const std::string& path, const Json& body) {
    return Call(port(), "POST", path, body.dump());
  }

  static HttpStack* stack_;
  static FakeOpenAiServer* fake_;
  static FakeChatCompletions* chat_;
  static RagdProcess* ragd_;
};

HttpStack* HttpApiTest::stack_ = nullptr;
FakeOpenAiServer* HttpApiTest::fake_ = nullptr;
FakeChatCompletions* HttpApiTest::chat_ = nullptr;
RagdProcess* HttpApiTest::ragd_ = nullptr;

TEST_F(HttpApiTest, ModelsListTheCatalogWithContextWindowsAndPrices) {
  HttpResult r = Call(port(), "GET", "/v1/models");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json["object"], "list");
  bool azure = false, local_chat = false, ada = false;
  for (const Json& m : r.json["data"]) {
    EXPECT_EQ(m["object"], "model");
    if (m["id"] == kAzure) {
      azure = true;
      EXPECT_EQ(m["ragd"]["kind"], "chat");
      EXPECT_EQ(m["ragd"]["context_window"], 128000);
      EXPECT_GT(m["ragd"]["price_per_1k_input"].get<double>(), 0);
      EXPECT_EQ(m.dump().find("test-key"), std::string::npos);  // never a key
    }
    if (m["id"] == "local" && m["ragd"]["kind"] == "chat") local_chat = true;
    if (m["id"] == "ada") ada = m["ragd"]["kind"] == "embedding";
  }
  EXPECT_TRUE(azure && local_chat && ada) << r.body;
}

TEST_F(HttpApiTest, OneModelByItsId) {
  HttpResult r = Call(port(), "GET", absl::StrCat("/v1/models/", kAzure));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json["id"], kAzure);
  EXPECT_EQ(r.json["ragd"]["kind"], "chat");
  HttpResult ada = Call(port(), "GET", "/v1/models/ada");
  EXPECT_EQ(ada.json["ragd"]["kind"], "embedding");
  HttpResult none = Call(port(), "GET", "/v1/models/nope");
  EXPECT_EQ(none.status, 404) << none.body;
  EXPECT_EQ(none.json["error"]["type"], "invalid_request_error");
}

// The HTTP API over HTTPS (server.http_tls) with a self-signed certificate the client verifies;
// plain HTTP gets no answer.
TEST(HttpApiTlsTest, ServesHttpsWithTheConfiguredCertificate) {
  TempDir dir;
  const std::string key = (dir.path() / "key.pem").string();
  const std::string cert = (dir.path() / "cert.pem").string();
  auto gen = RunCommand({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                         "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"},
                        absl::Seconds(30));
  ASSERT_TRUE(gen.ok()) << gen.status();
  ASSERT_EQ(gen->exit_code, 0) << gen->err;
  std::string config = WriteFile(
      dir, "ragd.yaml",
      absl::StrCat("server:\n  http_tls:\n    cert_file: ", cert, "\n    key_file: ", key, "\n"));
  auto ragd = RagdProcess::Start(
      RagdProcess::OptionsFor((dir.path() / "data").string(), {"--config", config}));
  ASSERT_TRUE(ragd.ok()) << ragd.status();
  const int port = (*ragd)->http_port();
  httplib::SSLClient https("127.0.0.1", port);
  https.set_ca_cert_path(cert.c_str());
  https.enable_server_certificate_verification(true);
  https.set_connection_timeout(5);
  https.set_read_timeout(10);
  httplib::Result models = https.Get("/v1/models");
  ASSERT_TRUE(models) << httplib::to_string(models.error());
  EXPECT_EQ(models->status, 200);
  httplib::Result chat =
      https.Post("/v1/chat/completions", ChatBody("local", "q", true).dump(), "application/json");
  ASSERT_TRUE(chat) << httplib::to_string(chat.error());
  EXPECT_EQ(chat->status, 200);
  EXPECT_EQ(SseData(chat->body).back(), "[DONE]");
  EXPECT_EQ(Call(port, "GET", "/v1/models").status, 0);  // plain HTTP: no HTTP answer

  // Only one of the two files: a configuration error (exit 2).
  auto r = RunCommand({RagdBinary(), "--data-dir", (dir.path() / "data2").string(), "--listen",
                       "127.0.0.1:0", "--admin-listen", "", "--http-listen", "127.0.0.1:0"},
                      absl::Seconds(20), {"RAGD_SERVER__HTTP_TLS__CERT_FILE=" + cert});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 2) << r->err;
  EXPECT_THAT(r->err, HasSubstr("server.http_tls"));
}

// While ragd recovers, grounded answers are 503 with Retry-After; relays and the catalog work.
TEST(HttpApiRecoveryTest, GroundedAnswersWaitForRecovery) {
  TempDir dir;
  std::string config = WriteFile(dir, "ragd.yaml", "debug:\n  open_delay_ms: 3000\n");
  auto ragd = RagdProcess::Start(
      RagdProcess::OptionsFor((dir.path() / "data").string(), {"--config", config}, false));
  ASSERT_TRUE(ragd.ok()) << ragd.status();
  const int port = (*ragd)->http_port();
  HttpResult grounded =
      Call(port, "POST", "/v1/chat/completions", Grounded(ChatBody("local", "q")).dump());
  EXPECT_EQ(grounded.status, 503) << grounded.body;
  EXPECT_EQ(grounded.retry_after, "1");
  EXPECT_EQ(grounded.json["error"]["type"], "server_error");
  EXPECT_EQ(Call(port, "GET", "/v1/models").status, 200);
  EXPECT_EQ(Call(port, "POST", "/v1/chat/completions", ChatBody("local", "q").dump()).status, 200);
}

TEST_F(HttpApiTest, RelayWithoutDataSourcesSendsTheMessagesAsTheyAre) {
  size_t before = chat_->counters().bodies.size();
  HttpResult r = Post("/v1/chat/completions", ChatBody(kAzure, "Say hi"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json["object"], "chat.completion");
  EXPECT_EQ(r.json["model"], kAzure);
  EXPECT_EQ(r.json["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(r.json["choices"][0]["message"]["content"], chat_->answer());
  EXPECT_EQ(r.json["choices"][0]["finish_reason"], "stop");
  EXPECT_FALSE(r.json["choices"][0]["message"].contains("context"));
  EXPECT_GT(r.json["usage"]["prompt_tokens"].get<int>(), 0);
  EXPECT_EQ(r.json["usage"]["total_tokens"].get<int>(),
            r.json["usage"]["prompt_tokens"].get<int>() +
                r.json["usage"]["completion_tokens"].get<int>());
  FakeChatCounters c = chat_->counters();
  ASSERT_EQ(c.bodies.size(), before + 1);
  Json sent = Json::parse(c.bodies.back());
  ASSERT_EQ(sent["messages"].size(), 2u);  // the system turn too, nothing added
  EXPECT_EQ(sent["messages"][0]["content"], "You are terse.");
  EXPECT_EQ(sent["messages"][1]["content"], "Say hi");
}

// Azure OpenAI's paths: the deployment in the path is the model, `api-version` is ignored.
TEST_F(HttpApiTest, AzurePathsNameTheDeployment) {
  Json body = Grounded(ChatBody("ignored", kQuestion));
  body.erase("model");
  HttpResult r =
      Post(absl::StrCat("/openai/deployments/", kAzure, "/chat/completions?api-version=2024-10-21"),
           body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json["model"], kAzure);
  EXPECT_EQ(r.json["choices"][0]["message"]["content"], chat_->answer());
  EXPECT_GE(r.json["choices"][0]["message"]["context"]["citations"].size(), 1u);
  HttpResult e = Post("/openai/deployments/local/embeddings?api-version=2024-10-21",
                      {{"input", "x"}, {"model", "ada"}});
  ASSERT_EQ(e.status, 200) << e.body;
  EXPECT_EQ(e.json["model"], "local");
  HttpResult missing = Post("/openai/deployments/nope/chat/completions", ChatBody("local", "q"));
  EXPECT_EQ(missing.status, 404) << missing.body;
}

TEST_F(HttpApiTest, RelayStreamsChunksUsageAndDone) {
  HttpResult r = Post("/v1/chat/completions", ChatBody(kAzure, "Say hi", true));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.content_type, HasSubstr("text/event-stream"));
  std::vector<std::string> data = SseData(r.body);
  ASSERT_GE(data.size(), 4u) << r.body;
  EXPECT_EQ(data.back(), "[DONE]");
  std::string text, id;
  for (size_t i = 0; i + 1 < data.size(); ++i) {
    Json chunk = Json::parse(data[i]);
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    if (id.empty()) id = chunk["id"];
    EXPECT_EQ(chunk["id"], id);  // one id per completion
    if (i + 2 < data.size()) {
      ASSERT_EQ(chunk["choices"].size(), 1u);
      EXPECT_TRUE(chunk["usage"].is_null());
      const Json& delta = chunk["choices"][0]["delta"];
      if (delta.contains("content")) text += delta["content"].get<std::string>();
    }
  }
  EXPECT_EQ(text, chat_->answer());
  Json finish = Json::parse(data[data.size() - 3]);
  EXPECT_EQ(finish["choices"][0]["finish_reason"], "stop");
  Json usage = Json::parse(data[data.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_GT(usage["usage"]["completion_tokens"].get<int>(), 0);
}

TEST_F(HttpApiTest, GroundedAnswerCitesItsSources) {
  HttpResult r =
      Post("/v1/chat/completions", Grounded(ChatBody("local", kQuestion), {{"top_k", 5}}));
  ASSERT_EQ(r.status, 200) << r.body;
  const Json& message = r.json["choices"][0]["message"];
  EXPECT_THAT(message["content"].get<std::string>(), HasSubstr("[1]"));
  const Json& citations = message["context"]["citations"];
  ASSERT_GE(citations.size(), 1u) << r.body;
  ASSERT_LE(citations.size(), 5u);
  for (const Json& c : citations) {
    EXPECT_FALSE(c["content"].get<std::string>().empty());
    EXPECT_FALSE(c["title"].get<std::string>().empty());
    EXPECT_THAT(c["chunk_id"].get<std::string>(), HasSubstr("#"));
    EXPECT_EQ(c["filepath"], c["document_id"]);
    EXPECT_LT(c["byte_begin"].get<int64_t>(), c["byte_end"].get<int64_t>());
  }
}

TEST_F(HttpApiTest, GroundedStreamSendsCitationsFirstAndTheSourcesReachTheModel) {
  size_t before = chat_->counters().bodies.size();
  HttpResult r = Post("/v1/chat/completions", Grounded(ChatBody(kAzure, kQuestion, true)));
  ASSERT_EQ(r.status, 200) << r.body;
  std::vector<std::string> data = SseData(r.body);
  ASSERT_GE(data.size(), 4u);
  Json first = Json::parse(data[0]);
  const Json& citations = first["choices"][0]["delta"]["context"]["citations"];
  ASSERT_GE(citations.size(), 1u) << data[0];
  std::string text;
  for (size_t i = 1; i + 2 < data.size(); ++i) {
    Json chunk = Json::parse(data[i]);
    const Json& delta = chunk["choices"][0]["delta"];
    if (delta.contains("content")) text += delta["content"].get<std::string>();
  }
  EXPECT_EQ(text, chat_->answer());
  FakeChatCounters c = chat_->counters();
  ASSERT_EQ(c.bodies.size(), before + 1);
  // The grounded prompt holds the cited chunks' text (the server's rules, not the client's
  // system turn).
  Json sent = Json::parse(c.bodies.back());
  std::string prompt;
  for (const Json& m : sent["messages"]) prompt += m["content"].get<std::string>();
  EXPECT_THAT(prompt, HasSubstr(citations[0]["content"].get<std::string>()));
  EXPECT_EQ(prompt.find("You are terse."), std::string::npos);
}

// The vectors of /v1/embeddings are the ones Retrieve searches with: searching the collection
// with them gives Retrieve's chunks and scores.
TEST_F(HttpApiTest, EmbeddingsAreWhatRetrieveUses) {
  HttpResult r = Post("/v1/embeddings", {{"model", "local"}, {"input", kQuestion}});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.json["data"].size(), 1u);
  std::vector<float> vector = r.json["data"][0]["embedding"].get<std::vector<float>>();
  ASSERT_EQ(vector.size(), 1536u);
  EXPECT_GT(r.json["usage"]["prompt_tokens"].get<int>(), 0);

  auto retrieval = v1::Retrieval::NewStub(ragd_->channel());
  v1::RetrieveRequest retrieve;
  retrieve.set_collection(kCollection);
  retrieve.set_query(kQuestion);
  retrieve.set_k(5);
  retrieve.set_mode(v1::SEARCH_MODE_VECTOR);  // the vector leg alone (hybrid is the default)
  grpc::ClientContext c1;
  c1.set_deadline(CallDeadline());
  v1::RetrieveResponse retrieved;
  ASSERT_GRPC_OK(retrieval->Retrieve(&c1, retrieve, &retrieved));
  auto points = v1::Points::NewStub(ragd_->channel());
  v1::SearchRequest search;
  search.set_collection(kCollection);
  SetVector(search.mutable_vector(), vector);
  search.set_k(5);
  grpc::ClientContext c2;
  c2.set_deadline(CallDeadline());
  v1::SearchResponse found;
  ASSERT_GRPC_OK(points->Search(&c2, search, &found));
  ASSERT_EQ(found.hits_size(), retrieved.chunks_size());
  for (int i = 0; i < found.hits_size(); ++i) {
    EXPECT_EQ(found.hits(i).point().id(), retrieved.chunks(i).id());
    EXPECT_FLOAT_EQ(found.hits(i).score(), retrieved.chunks(i).score());
  }

  // base64: the same floats, little-endian; arrays keep their order.
  HttpResult b = Post(
      "/v1/embeddings",
      {{"model", "local"}, {"input", {"first text", kQuestion}}, {"encoding_format", "base64"}});
  ASSERT_EQ(b.status, 200) << b.body;
  ASSERT_EQ(b.json["data"].size(), 2u);
  EXPECT_EQ(b.json["data"][1]["index"], 1);
  std::string bytes;
  ASSERT_TRUE(absl::Base64Unescape(b.json["data"][1]["embedding"].get<std::string>(), &bytes));
  ASSERT_EQ(bytes.size(), vector.size() * sizeof(float));
  std::vector<float> decoded(vector.size());
  std::memcpy(decoded.data(), bytes.data(), bytes.size());
  EXPECT_EQ(decoded, vector);
}

TEST_F(HttpApiTest, EmbeddingsOfAConfiguredEmbedderComeFromItsDeployment) {
  uint64_t before = fake_->counters().requests;
  HttpResult r = Post("/v1/embeddings", {{"model", "ada"}, {"input", {"a", "b", "c"}}});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.json["data"].size(), 3u);
  EXPECT_EQ(r.json["data"][0]["embedding"].size(), 1536u);
  EXPECT_GT(fake_->counters().requests, before);
  EXPECT_GT(r.json["usage"]["total_tokens"].get<int>(), 0);
}

TEST_F(HttpApiTest, ErrorsUseOpenAisShapeAndStatus) {
  auto expect_error = [](const HttpResult& r, int status, const std::string& type,
                         const std::string& needle) {
    EXPECT_EQ(r.status, status) << r.body;
    ASSERT_TRUE(r.json.is_object()) << r.body;
    EXPECT_EQ(r.json["error"]["type"], type) << r.body;
    EXPECT_THAT(r.json["error"]["message"].get<std::string>(), HasSubstr(needle));
    EXPECT_TRUE(r.json["error"].contains("param") && r.json["error"].contains("code"));
  };
  expect_error(Call(port(), "POST", "/v1/chat/completions", "{\"model\": "), 400,
               "invalid_request_error", "not valid JSON");
  expect_error(Call(port(), "POST", "/v1/chat/completions", "[1,2]"), 400, "invalid_request_error",
               "JSON object");
  expect_error(Post("/v1/chat/completions", {{"model", 7}, {"messages", Json::array()}}), 400,
               "invalid_request_error", "model");
  HttpResult bad_role =
      Post("/v1/chat/completions", {{"model", "local"}, {"messages", {{{"role", 3}}}}});
  expect_error(bad_role, 400, "invalid_request_error", "messages[0].role");
  EXPECT_EQ(bad_role.json["error"]["param"], "messages[0].role") << bad_role.body;
  expect_error(Post("/v1/chat/completions",
                    {{"model", "local"}, {"messages", {{{"role", "user"}, {"content", {1}}}}}}),
               400, "invalid_request_error", "messages[0].content[0]");
  Json bad_filter = Grounded(ChatBody("local", kQuestion), {{"filter", {{"key", "x"}}}});
  expect_error(Post("/v1/chat/completions", bad_filter), 400, "invalid_request_error",
               "data_sources[0].parameters.filter");
  expect_error(Post("/v1/chat/completions",
                    Grounded(ChatBody("local", kQuestion), {{"search_mode", "fuzzy"}})),
               400, "invalid_request_error", "search_mode");
  expect_error(Post("/v1/chat/completions", ChatBody("no-such-model", "hi")), 404,
               "invalid_request_error", "no-such-model");
  Json unknown = ChatBody("local", kQuestion);
  unknown["data_sources"] = {{{"type", "ragd"}, {"parameters", {{"collection", "nope"}}}}};
  expect_error(Post("/v1/chat/completions", unknown), 404, "invalid_request_error", "nope");
  expect_error(Post("/v1/embeddings", {{"model", "nope"}, {"input", "x"}}), 404,
               "invalid_request_error", "nope");
  expect_error(Post("/v1/embeddings", {{"model", "local"}, {"input", {{1, 2}}}}), 400,
               "invalid_request_error", "input[0]");
  expect_error(Call(port(), "GET", "/v1/nothing"), 404, "invalid_request_error", "/v1/nothing");

  // Upstream 429 after the retries: 429 with Retry-After; 5xx: 503.
  chat_->Enqueue(ChatFault::TooManyRequests(std::chrono::milliseconds(1)));
  chat_->Enqueue(ChatFault::TooManyRequests(std::chrono::milliseconds(1)));
  HttpResult limited = Post("/v1/chat/completions", ChatBody(kAzure, "hi"));
  expect_error(limited, 429, "rate_limit_error", "");
  EXPECT_EQ(limited.retry_after, "1");
  chat_->Enqueue(ChatFault::Http(500));
  chat_->Enqueue(ChatFault::Http(500));
  HttpResult down = Post("/v1/chat/completions", ChatBody(kAzure, "hi", true));
  expect_error(down, 503, "server_error", "");
  EXPECT_EQ(down.retry_after, "1");

  // An error after text was streamed is an error event, and no [DONE].
  chat_->Enqueue(ChatFault::CutAfter(2));
  HttpResult cut = Post("/v1/chat/completions", ChatBody(kAzure, "hi", true));
  ASSERT_EQ(cut.status, 200);
  std::vector<std::string> data = SseData(cut.body);
  ASSERT_FALSE(data.empty());
  EXPECT_NE(data.back(), "[DONE]");
  Json last = Json::parse(data.back());
  EXPECT_EQ(last["error"]["type"], "server_error") << data.back();
}

TEST_F(HttpApiTest, RequestsAreCountedAndLogged) {
  ASSERT_EQ(Post("/v1/chat/completions", ChatBody(kAzure, "count me")).status, 200);
  ASSERT_EQ(Post("/v1/chat/completions", ChatBody("nope", "hi")).status, 404);
  // A model run that failed before any text is counted too.
  chat_->Enqueue(ChatFault::TooManyRequests(std::chrono::milliseconds(1)));
  chat_->Enqueue(ChatFault::TooManyRequests(std::chrono::milliseconds(1)));
  ASSERT_EQ(Post("/v1/chat/completions", ChatBody(kAzure, "hi")).status, 429);
  // A request is recorded once its response is written, so just after the client has it:
  // scrape until the last one is in.
  const std::vector<std::string> expected = {
      R"(ragd_http_requests_total{code="200",route="POST /v1/chat/completions"})",
      R"(ragd_http_requests_total{code="404",route="POST /v1/chat/completions"})",
      R"(ragd_http_requests_total{code="429",route="POST /v1/chat/completions"})",
      R"(ragd_http_request_duration_seconds_count{route="POST /v1/chat/completions"})",
      absl::StrCat(R"(ragd_chat_requests_total{code="OK",model=")", kAzure),
      absl::StrCat(R"(ragd_chat_requests_total{code="RESOURCE_EXHAUSTED",model=")", kAzure)};
  httplib::Client admin("127.0.0.1", ragd_->admin_port());
  std::string m;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto all_in = [&] {
    for (const std::string& e : expected) {
      if (m.find(e) == std::string::npos) return false;
    }
    return true;
  };
  do {
    auto scrape = admin.Get("/metrics");
    ASSERT_TRUE(scrape);
    m = scrape->body;
  } while (!all_in() && std::chrono::steady_clock::now() < deadline &&
           (std::this_thread::sleep_for(std::chrono::milliseconds(20)), true));
  for (const std::string& e : expected) EXPECT_THAT(m, HasSubstr(e));
  while (ragd_->LogTail(100000).find("POST /v1/chat/completions") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_THAT(ragd_->LogTail(100000), HasSubstr("POST /v1/chat/completions"));
}

TEST_F(HttpApiTest, ClientHangingUpClosesTheUpstreamStream) {
  for (bool grounded : {false, true}) {
    uint64_t disconnects = chat_->counters().client_disconnects;
    chat_->Enqueue(ChatFault::Endless(std::chrono::milliseconds(20)));
    Json body = ChatBody(kAzure, kQuestion, true);
    if (grounded) body = Grounded(body);
    ASSERT_TRUE(StreamThenHangUp(port(), body.dump(), 3)) << "grounded=" << grounded;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (chat_->counters().client_disconnects == disconnects &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(chat_->counters().client_disconnects, disconnects + 1) << "grounded=" << grounded;
  }
}

// A client that leaves before the response starts (a non-streamed answer) cancels the upstream
// call too.
TEST_F(HttpApiTest, ClientHangingUpOnANonStreamedAnswerClosesTheUpstreamStream) {
  for (bool grounded : {false, true}) {
    FakeChatCounters before = chat_->counters();
    chat_->Enqueue(ChatFault::Endless(std::chrono::milliseconds(20)));
    Json body = ChatBody(kAzure, kQuestion);
    if (grounded) body = Grounded(body);
    // Hang up once the upstream request is under way.
    ASSERT_TRUE(SendThenHangUp(port(), body.dump(),
                               [&] { return chat_->counters().requests > before.requests; }))
        << "grounded=" << grounded;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (chat_->counters().client_disconnects == before.client_disconnects &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(chat_->counters().client_disconnects, before.client_disconnects + 1)
        << "grounded=" << grounded;
  }
}

// API keys and the method table's roles, and load shedding, on a ragd of their own.
class HttpApiAuthTest : public ::testing::Test {
 protected:
  static constexpr const char* kReaderKey = "reader-secret-9e8d7c";
  static constexpr const char* kScopedKey = "scoped-secret-1b2c3d";
  static constexpr const char* kSlowKey = "slow-secret-5a4b3c";

  void SetUp() override {
    FakeOpenAiServerOptions fake_options;
    fake_options.deployments = {"gpt-4o"};
    auto fake = FakeOpenAiServer::Start(fake_options);
    ASSERT_TRUE(fake.ok()) << fake.status();
    fake_ = *std::move(fake);
    chat_ = std::make_unique<FakeChatCompletions>(fake_.get());
    std::string yaml = absl::StrCat(
        "auth:\n  api_keys:\n"
        "    - {name: viewer, role: reader, key_file: ",
        WriteFile(dir_, "reader.key", kReaderKey),
        "}\n    - {name: scoped, role: reader, collections: [other], key_file: ",
        WriteFile(dir_, "scoped.key", kScopedKey),
        "}\n    - {name: slow, role: reader, requests_per_second: 0.01, burst: 1, key_file: ",
        WriteFile(dir_, "slow.key", kSlowKey),
        "}\n"
        "retrieval:\n  max_concurrent_answers: 1\n  answer_deadline_ms: 1500\n"
        "models:\n  default_model: local\n  deployments:\n",
        AzureDeploymentYaml(kAzure, fake_->endpoint()));
    std::string config = WriteFile(dir_, "ragd.yaml", yaml);
    auto ragd = RagdProcess::Start(
        RagdProcess::OptionsFor((dir_.path() / "data").string(), {"--config", config}));
    ASSERT_TRUE(ragd.ok()) << ragd.status();
    ragd_ = *std::move(ragd);
  }

  TempDir dir_;
  std::unique_ptr<FakeOpenAiServer> fake_;
  std::unique_ptr<FakeChatCompletions> chat_;
  std::unique_ptr<RagdProcess> ragd_;
};

TEST_F(HttpApiAuthTest, KeysRolesScopesAndRateLimits) {
  const int port = ragd_->http_port();
  HttpResult none = Call(port, "GET", "/v1/models");
  EXPECT_EQ(none.status, 401) << none.body;
  EXPECT_EQ(none.json["error"]["type"], "authentication_error");
  EXPECT_EQ(Call(port, "GET", "/v1/models", "", "wrong").status, 401);
  // Unauthenticated callers learn nothing of their request's shape.
  EXPECT_EQ(Call(port, "POST", "/v1/chat/completions", "{bad").status, 401);
  EXPECT_EQ(Call(port, "GET", "/v1/models", "", kReaderKey).status, 200);
  // `api-key`, as Azure clients send it, works too.
  httplib::Client client("127.0.0.1", port);
  auto azure_style = client.Get("/v1/models", {{"api-key", kReaderKey}});
  ASSERT_TRUE(azure_style);
  EXPECT_EQ(azure_style->status, 200);

  Json grounded = ChatBody("local", "hi");
  grounded["data_sources"] = {{{"type", "ragd"}, {"parameters", {{"collection", "mine"}}}}};
  HttpResult denied = Call(port, "POST", "/v1/chat/completions", grounded.dump(), kScopedKey);
  EXPECT_EQ(denied.status, 403) << denied.body;
  EXPECT_EQ(denied.json["error"]["type"], "permission_error");
  EXPECT_THAT(denied.body, HasSubstr("mine"));
  HttpResult relay =
      Call(port, "POST", "/v1/chat/completions", ChatBody("local", "hi").dump(), kScopedKey);
  EXPECT_EQ(relay.status, 200) << relay.body;

  EXPECT_EQ(Call(port, "GET", "/v1/models", "", kSlowKey).status, 200);
  HttpResult limited = Call(port, "GET", "/v1/models", "", kSlowKey);
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(limited.retry_after, "1");
}

TEST_F(HttpApiAuthTest, AnswersBeyondTheLimitAreShedWithRetryAfter) {
  const int port = ragd_->http_port();
  chat_->Enqueue(ChatFault::Endless(std::chrono::milliseconds(20)));
  std::thread busy(
      [&] { StreamThenHangUp(port, ChatBody(kAzure, "long", true).dump(), 20, kReaderKey); });
  // Wait for the first stream to be admitted.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (chat_->counters().requests == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  HttpResult shed =
      Call(port, "POST", "/v1/chat/completions", ChatBody(kAzure, "hi").dump(), kReaderKey);
  EXPECT_EQ(shed.status, 429) << shed.body;
  EXPECT_EQ(shed.retry_after, "1");
  EXPECT_THAT(shed.body, HasSubstr("max_concurrent_answers"));
  busy.join();
}

TEST_F(HttpApiAuthTest, RelaysEndAtTheAnswerDeadline) {
  const int port = ragd_->http_port();
  chat_->Enqueue(ChatFault::Endless(std::chrono::milliseconds(20)));
  auto start = std::chrono::steady_clock::now();
  HttpResult r =
      Call(port, "POST", "/v1/chat/completions", ChatBody(kAzure, "hi").dump(), kReaderKey);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_THAT(r.body, HasSubstr("answer_deadline_ms"));
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (chat_->counters().client_disconnects == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(chat_->counters().client_disconnects, 1u);  // the upstream was closed
}

}  // namespace
}  // namespace ragd::testing
