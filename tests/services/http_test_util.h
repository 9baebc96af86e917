#pragma once
// Shared pieces of the HTTP API tests (http_api_test, openai_sdk_test): an OpenAI-style HTTP
// call, SSE parsing, request bodies, and HttpStack: a fake Azure OpenAI server with chat
// completions and a real ragd configured to use it, with the Korean corpus ingested into
// collection "corpus" with the local embedder.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "ragd/v1/collections.grpc.pb.h"
#include "ragd/v1/ingest.grpc.pb.h"
#include "tests/services/service_test_util.h"
#include "tests/testing/fake_chat_server.h"
#include "tests/testing/fake_openai_server.h"

namespace ragd::testing {

using Json = nlohmann::json;

inline constexpr char kCollection[] = "corpus";
inline constexpr char kAzure[] = "azure-gpt4o";
inline constexpr char kQuestion[] = "임베딩이란 무엇인가요?";

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::string WriteFile(const TempDir& dir, const std::string& name, const std::string& text) {
  std::filesystem::path path = dir.path() / name;
  std::ofstream(path) << text;
  return path.string();
}

inline std::string AzureDeploymentYaml(const std::string& name, const std::string& endpoint) {
  return absl::StrCat("    - name: ", name,
                      "\n"
                      "      provider: azure-openai\n"
                      "      endpoint: ",
                      endpoint,
                      "\n"
                      "      deployment: gpt-4o\n"
                      "      api_key: test-key\n"
                      "      max_retries: 1\n"
                      "      initial_backoff_ms: 1\n"
                      "      max_backoff_ms: 5\n"
                      "      max_retry_after_ms: 5\n");
}

struct HttpResult {
  int status = 0;
  std::string body;
  std::string retry_after;
  std::string content_type;
  Json json;  // the body when it is JSON
};

inline HttpResult Call(int port, const std::string& method, const std::string& path,
                       const std::string& body = "", const std::string& key = "") {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(60, 0);
  httplib::Headers headers;
  if (!key.empty()) headers.emplace("Authorization", "Bearer " + key);
  httplib::Result r = method == "GET"
                          ? client.Get(path.c_str(), headers)
                          : client.Post(path.c_str(), headers, body, "application/json");
  HttpResult out;
  if (!r) return out;
  out.status = r->status;
  out.body = r->body;
  out.retry_after = r->get_header_value("Retry-After");
  out.content_type = r->get_header_value("Content-Type");
  out.json = Json::parse(out.body, nullptr, false);
  return out;
}

// The `data: ...` payloads of an SSE body, in order.
inline std::vector<std::string> SseData(const std::string& body) {
  std::vector<std::string> data;
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    if (line.substr(0, 6) == "data: ") data.emplace_back(line.substr(6));
  }
  return data;
}

inline Json ChatBody(const std::string& model, const std::string& question, bool stream = false) {
  Json body = {{"model", model},
               {"messages",
                {{{"role", "system"}, {"content", "You are terse."}},
                 {{"role", "user"}, {"content", question}}}}};
  if (stream) {
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
  }
  return body;
}

inline Json Grounded(Json body, Json parameters = {}) {
  parameters["collection"] = kCollection;
  body["data_sources"] = {{{"type", "ragd"}, {"parameters", parameters}}};
  return body;
}

// The fake, and ragd configured with `extra_yaml` (sections other than models and embedders),
// the fake's deployment as kAzure, and an embedder "ada" on the fake. `admin_key` (when the
// YAML configures keys) is sent with the set-up calls. `extra_deployments` (YAML list items of
// models.deployments, where "{endpoint}" stands for the fake's URL) and `chat_options` shape
// the catalog and the fake's answers.
struct HttpStack {
  TempDir dir;
  std::unique_ptr<FakeOpenAiServer> fake;
  std::unique_ptr<FakeChatCompletions> chat;
  std::unique_ptr<RagdProcess> ragd;

  static absl::StatusOr<std::unique_ptr<HttpStack>> Start(const std::string& extra_yaml = "",
                                                          const std::string& admin_key = "",
                                                          const std::string& extra_deployments = "",
                                                          FakeChatOptions chat_options = {}) {
    auto stack = std::make_unique<HttpStack>();
    FakeOpenAiServerOptions fake_options;
    fake_options.deployments = {"gpt-4o", "ada"};
    auto fake = FakeOpenAiServer::Start(fake_options);
    if (!fake.ok()) return fake.status();
    stack->fake = *std::move(fake);
    stack->chat = std::make_unique<FakeChatCompletions>(stack->fake.get(), chat_options);
    std::string config =
        absl::StrCat(extra_yaml,
                     "embedders:\n"
                     "  - name: ada\n    provider: azure-openai\n    endpoint: ",
                     stack->fake->endpoint(),
                     "\n    deployment: ada\n    api_key: test-key\n    dimension: 1536\n"
                     "models:\n  default_model: local\n  deployments:\n",
                     AzureDeploymentYaml(kAzure, stack->fake->endpoint()),
                     absl::StrReplaceAll(extra_deployments, {{"{endpoint}", stack->fake->endpoint()}}));
    std::string config_path = WriteFile(stack->dir, "ragd.yaml", config);
    auto ragd = RagdProcess::Start(
        RagdProcess::OptionsFor((stack->dir.path() / "data").string(), {"--config", config_path}));
    if (!ragd.ok()) return ragd.status();
    stack->ragd = *std::move(ragd);

    auto collections = v1::Collections::NewStub(stack->ragd->channel());
    v1::CreateCollectionRequest create;
    create.set_name(kCollection);
    create.set_dimension(1536);
    create.mutable_embedder()->set_name("local");
    grpc::ClientContext c1;
    c1.set_deadline(CallDeadline());
    if (!admin_key.empty()) c1.AddMetadata("authorization", "Bearer " + admin_key);
    v1::CreateCollectionResponse created;
    grpc::Status s = collections->CreateCollection(&c1, create, &created);
    if (!s.ok()) return absl::InternalError("CreateCollection: " + s.error_message());
    auto ingest = v1::Ingest::NewStub(stack->ragd->channel());
    std::filesystem::path corpus =
        std::filesystem::path(RAGD_SOURCE_DIR) / "tests/models/data/corpus";
    for (const auto& entry : std::filesystem::directory_iterator(corpus)) {
      if (entry.path().extension() != ".md") continue;
      v1::UpsertDocumentRequest request;
      request.set_collection(kCollection);
      v1::Document* doc = request.mutable_document();
      doc->set_id(entry.path().filename().string());
      doc->set_name(entry.path().filename().string());
      doc->set_text(ReadFile(entry.path()));
      grpc::ClientContext c;
      c.set_deadline(CallDeadline(60));
      if (!admin_key.empty()) c.AddMetadata("authorization", "Bearer " + admin_key);
      v1::UpsertDocumentResponse response;
      s = ingest->UpsertDocument(&c, request, &response);
      if (!s.ok()) return absl::InternalError("UpsertDocument: " + s.error_message());
    }
    return stack;
  }
};

}  // namespace ragd::testing
