// ragd.v1.Retrieval end to end: the real ragd on 127.0.0.1 with the Korean corpus ingested
// through the Ingest RPC with the local embedder, the local model, and a fake Azure OpenAI
// deployment (tests/testing/fake_chat_server.h) configured with `ragd --config`.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "models/local_chat_model.h"
#include "ragd/v1/collections.grpc.pb.h"
#include "ragd/v1/ingest.grpc.pb.h"
#include "ragd/v1/retrieval.grpc.pb.h"
#include "tests/services/service_test_util.h"
#include "tests/testing/fake_chat_server.h"
#include "tests/testing/fake_openai_server.h"

namespace ragd::testing {
namespace {

constexpr char kCollection[] = "corpus";
constexpr char kAzure[] = "azure-gpt4o";  // the catalog name of the fake deployment
constexpr char kTiny[] = "tiny";          // a deployment with a 600-token context window

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct Answer {
  grpc::Status status;
  std::vector<v1::AnswerEvent> events;
  std::string Text(const std::string& model) const {
    std::string text;
    for (const auto& e : events) {
      if (e.has_delta() && e.delta().model() == model) text += e.delta().text();
    }
    return text;
  }
  const v1::AnswerFinal* Final(const std::string& model) const {
    for (const auto& e : events) {
      if (e.has_final() && e.final().model() == model) return &e.final();
    }
    return nullptr;
  }
};

// One ragd and one fake for the whole suite: ingesting the corpus once keeps it fast.
class RetrievalTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    FakeOpenAiServerOptions fake_options;
    fake_options.deployments = {"gpt-4o"};
    auto fake = FakeOpenAiServer::Start(fake_options);
    ASSERT_TRUE(fake.ok()) << fake.status();
    fake_ = fake->release();
    chat_ = new FakeChatCompletions(fake_);

    std::string config = absl::StrCat(
        "retrieval:\n"
        "  answer_deadline_ms: 20000\n"
        "models:\n"
        "  default_model: local\n"
        "  deployments:\n"
        "    - name: ",
        kAzure,
        "\n"
        "      provider: azure-openai\n"
        "      endpoint: ",
        fake_->endpoint(),
        "\n"
        "      deployment: gpt-4o\n"
        "      api_key: test-key\n"
        "      max_retries: 1\n"
        "      initial_backoff_ms: 1\n"
        "      max_backoff_ms: 5\n"
        "    - name: ",
        kTiny,
        "\n"
        "      provider: azure-openai\n"
        "      endpoint: ",
        fake_->endpoint(),
        "\n"
        "      deployment: gpt-4o\n"
        "      api_key: test-key\n"
        "      family: gpt-4o\n"
        "      context_window: 600\n"
        "      max_output_tokens: 100\n"
        // A version the catalog does not know: the family's row, and a warning.
        "    - name: future\n"
        "      provider: azure-openai\n"
        "      endpoint: ",
        fake_->endpoint(),
        "\n"
        "      deployment: gpt-4o-2031-01-01\n"
        "      api_key: test-key\n");
    std::filesystem::path config_path = dir_->path() / "ragd.yaml";
    std::ofstream(config_path) << config;
    auto ragd = RagdProcess::Start(RagdProcess::OptionsFor((dir_->path() / "data").string(),
                                                           {"--config", config_path.string()}));
    ASSERT_TRUE(ragd.ok()) << ragd.status();
    ragd_ = ragd->release();

    auto collections = v1::Collections::NewStub(ragd_->channel());
    v1::CreateCollectionRequest create;
    create.set_name(kCollection);
    create.set_dimension(1536);
    create.mutable_embedder()->set_name("local");
    grpc::ClientContext c1;
    c1.set_deadline(CallDeadline());
    v1::CreateCollectionResponse created;
    ASSERT_GRPC_OK(collections->CreateCollection(&c1, create, &created));

    auto ingest = v1::Ingest::NewStub(ragd_->channel());
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
      v1::UpsertDocumentResponse response;
      ASSERT_GRPC_OK(ingest->UpsertDocument(&c, request, &response));
    }
  }

  static void TearDownTestSuite() {
    delete ragd_;
    delete chat_;
    delete fake_;
    delete dir_;
  }

  void SetUp() override { stub_ = v1::Retrieval::NewStub(ragd_->channel()); }

  static v1::AnswerRequest Question(const std::string& question,
                                    std::vector<std::string> models = {}) {
    v1::AnswerRequest request;
    request.set_collection(kCollection);
    request.set_question(question);
    for (const auto& m : models) request.add_models(m);
    return request;
  }

  Answer Ask(const v1::AnswerRequest& request) {
    Answer answer;
    grpc::ClientContext context;
    context.set_deadline(CallDeadline(60));
    auto reader = stub_->Answer(&context, request);
    v1::AnswerEvent event;
    while (reader->Read(&event)) answer.events.push_back(event);
    answer.status = reader->Finish();
    return answer;
  }

  static TempDir* dir_;
  static FakeOpenAiServer* fake_;
  static FakeChatCompletions* chat_;
  static RagdProcess* ragd_;
  std::unique_ptr<v1::Retrieval::Stub> stub_;
};

TempDir* RetrievalTest::dir_ = nullptr;
FakeOpenAiServer* RetrievalTest::fake_ = nullptr;
FakeChatCompletions* RetrievalTest::chat_ = nullptr;
RagdProcess* RetrievalTest::ragd_ = nullptr;

TEST_F(RetrievalTest, RetrieveReturnsChunksWithCitations) {
  v1::RetrieveRequest request;
  request.set_collection(kCollection);
  request.set_query("임베딩이란 무엇인가요?");
  request.set_k(5);
  grpc::ClientContext context;
  context.set_deadline(CallDeadline());
  v1::RetrieveResponse response;
  ASSERT_GRPC_OK(stub_->Retrieve(&context, request, &response));
  ASSERT_EQ(response.chunks_size(), 5);
  EXPECT_EQ(response.embedder().rfind("local/", 0), 0u) << response.embedder();
  for (int i = 0; i < response.chunks_size(); ++i) {
    const v1::RetrievedChunk& c = response.chunks(i);
    EXPECT_FALSE(c.text().empty());
    EXPECT_FALSE(c.citation().document_id().empty());
    EXPECT_FALSE(c.citation().title().empty());
    EXPECT_TRUE(c.citation().has_ordinal());
    EXPECT_TRUE(c.citation().has_byte_begin() && c.citation().has_byte_end());
    EXPECT_LT(c.citation().byte_begin(), c.citation().byte_end());
    EXPECT_EQ(c.metadata().count("title"), 0u) << "promoted to the citation";
    if (i > 0) {
      EXPECT_LE(c.score(), response.chunks(i - 1).score());
    }
  }
}

TEST_F(RetrievalTest, RetrieveErrors) {
  auto retrieve = [&](const std::string& collection, const std::string& query, uint32_t k) {
    v1::RetrieveRequest request;
    request.set_collection(collection);
    request.set_query(query);
    request.set_k(k);
    grpc::ClientContext context;
    context.set_deadline(CallDeadline());
    v1::RetrieveResponse response;
    return stub_->Retrieve(&context, request, &response);
  };
  EXPECT_GRPC_ERROR(retrieve("missing", "q", 3), grpc::StatusCode::NOT_FOUND, "missing");
  EXPECT_GRPC_ERROR(retrieve(kCollection, "", 3), grpc::StatusCode::INVALID_ARGUMENT, "query");
  EXPECT_GRPC_ERROR(retrieve(kCollection, "q", 1000), grpc::StatusCode::INVALID_ARGUMENT, "k");

  // A plain vector collection has no embedder to embed text with.
  Client client(ragd_->channel());
  ASSERT_GRPC_OK(client.Create("vectors_only", 4));
  EXPECT_GRPC_ERROR(retrieve("vectors_only", "q", 3), grpc::StatusCode::FAILED_PRECONDITION,
                    "embedder");
}

// Collections created with an embedder have a lexical index, so Retrieve is hybrid unless a
// mode is asked: TEXT needs no embedding, VECTOR is the vector leg alone.
TEST_F(RetrievalTest, RetrieveIsHybridByDefaultAndTakesAModePerCall) {
  auto retrieve = [&](const std::string& collection, v1::SearchMode mode,
                      v1::RetrieveResponse* response) {
    v1::RetrieveRequest request;
    request.set_collection(collection);
    request.set_query("미세 조정 데이터");
    request.set_k(6);
    request.set_mode(mode);
    grpc::ClientContext context;
    context.set_deadline(CallDeadline());
    return stub_->Retrieve(&context, request, response);
  };
  v1::RetrieveResponse hybrid;
  ASSERT_GRPC_OK(retrieve(kCollection, v1::SEARCH_MODE_UNSPECIFIED, &hybrid));
  ASSERT_EQ(hybrid.chunks_size(), 6);
  EXPECT_EQ(hybrid.embedder().rfind("local/", 0), 0u);
  int both = 0, text_only = 0;
  for (const auto& c : hybrid.chunks()) {
    EXPECT_TRUE(c.has_vector_leg() || c.has_text_leg());
    if (c.has_vector_leg() && c.has_text_leg()) ++both;
    if (!c.has_vector_leg()) ++text_only;
    // The default fusion (retrieval.hybrid_fusion) is the weighted sum of normalised leg
    // scores: in [0, 1].
    EXPECT_GE(c.score(), 0);
    EXPECT_LE(c.score(), 1 + 1e-6);
  }
  EXPECT_GT(both, 0);
  // Above anything reciprocal rank fusion could give (at most 2 / (60 + 1)): not RRF.
  EXPECT_GT(hybrid.chunks(0).score(), 2.0 / 61 + 1e-3);

  // Reciprocal rank fusion asked per call.
  {
    v1::RetrieveRequest request;
    request.set_collection(kCollection);
    request.set_query("미세 조정 데이터");
    request.set_k(6);
    request.mutable_fusion()->set_method(v1::FUSION_METHOD_RRF);
    grpc::ClientContext context;
    context.set_deadline(CallDeadline());
    v1::RetrieveResponse rrf;
    ASSERT_GRPC_OK(stub_->Retrieve(&context, request, &rrf));
    ASSERT_EQ(rrf.chunks_size(), 6);
    for (const auto& c : rrf.chunks()) {
      EXPECT_LE(c.score(), 2.0 / 61 + 1e-6);  // rrf_k 60, two legs
      EXPECT_GT(c.score(), 0);
    }
  }

  v1::RetrieveResponse text;
  ASSERT_GRPC_OK(retrieve(kCollection, v1::SEARCH_MODE_TEXT, &text));
  ASSERT_GT(text.chunks_size(), 0);
  EXPECT_EQ(text.embedder(), "");  // nothing embedded
  for (int i = 0; i < text.chunks_size(); ++i) {
    const auto& c = text.chunks(i);
    EXPECT_TRUE(c.has_text_leg() && !c.has_vector_leg());
    EXPECT_EQ(c.text_leg().rank(), static_cast<uint32_t>(i + 1));
    EXPECT_GT(c.score(), 0);
    // The fine-tuning document is where these words are.
    if (i == 0) {
      EXPECT_EQ(c.citation().document_id(), "fine-tune-chat-model.ko.md");
    }
  }

  v1::RetrieveResponse vector;
  ASSERT_GRPC_OK(retrieve(kCollection, v1::SEARCH_MODE_VECTOR, &vector));
  ASSERT_EQ(vector.chunks_size(), 6);
  for (const auto& c : vector.chunks()) EXPECT_TRUE(c.has_vector_leg() && !c.has_text_leg());

  // Without a lexical index, the default is vector search and TEXT is refused.
  Client client(ragd_->channel());
  v1::CreateCollectionRequest create;
  create.set_name("no_lexical");
  create.set_dimension(64);
  create.mutable_embedder()->set_name("local");
  create.mutable_lexical()->set_enabled(false);
  ASSERT_GRPC_OK(client.Create(create));
  v1::Point p = MakePoint("x", std::vector<float>(64, 0.5f));
  ASSERT_GRPC_OK(client.Upsert("no_lexical", {p}));
  v1::RetrieveResponse plain;
  ASSERT_GRPC_OK(retrieve("no_lexical", v1::SEARCH_MODE_UNSPECIFIED, &plain));
  ASSERT_EQ(plain.chunks_size(), 1);
  EXPECT_TRUE(plain.chunks(0).has_vector_leg());
  EXPECT_GRPC_ERROR(retrieve("no_lexical", v1::SEARCH_MODE_TEXT, &plain),
                    grpc::StatusCode::FAILED_PRECONDITION, "lexical");
  EXPECT_GRPC_ERROR(retrieve(kCollection, static_cast<v1::SearchMode>(8), &plain),
                    grpc::StatusCode::INVALID_ARGUMENT, "mode");

  // Answer takes the mode in its retrieval options.
  v1::AnswerRequest question = Question("미세 조정 데이터", {"local"});
  question.mutable_retrieval()->set_mode(v1::SEARCH_MODE_TEXT);
  Answer a = Ask(question);
  ASSERT_GRPC_OK(a.status);
  ASSERT_TRUE(a.events.front().has_sources());
  ASSERT_GT(a.events.front().sources().sources_size(), 0);
  EXPECT_TRUE(a.events.front().sources().sources(0).chunk().has_text_leg());
  question.mutable_retrieval()->mutable_fusion()->set_rrf_k(-1);
  question.mutable_retrieval()->set_mode(v1::SEARCH_MODE_HYBRID);
  a = Ask(question);
  EXPECT_EQ(a.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << a.status.error_message();
}

TEST_F(RetrievalTest, LocalAnswerCitesTheAiModelsDocumentInEventOrder) {
  Answer a = Ask(Question("임베딩이란 무엇인가요?", {"local"}));
  ASSERT_GRPC_OK(a.status);
  ASSERT_GE(a.events.size(), 3u);
  // sources, then deltas, then the final event.
  ASSERT_TRUE(a.events.front().has_sources());
  ASSERT_TRUE(a.events.back().has_final());
  for (size_t i = 1; i + 1 < a.events.size(); ++i) {
    EXPECT_TRUE(a.events[i].has_delta()) << "event " << i;
    EXPECT_EQ(a.events[i].delta().model(), "local");
  }
  const v1::AnswerSources& sources = a.events.front().sources();
  ASSERT_GT(sources.sources_size(), 0);
  std::string text = a.Text("local");
  bool cites_models_doc = false;
  for (const v1::AnswerSource& s : sources.sources()) {
    std::string marker = absl::StrCat("[", s.number(), "]");
    if (text.find(marker) != std::string::npos &&
        s.chunk().citation().document_id() == "ai-models-and-deployment.ko.md") {
      cites_models_doc = true;
    }
  }
  EXPECT_TRUE(cites_models_doc) << text;
  const v1::AnswerFinal& f = a.events.back().final();
  EXPECT_EQ(f.status_code(), 0);
  EXPECT_EQ(f.finish_reason(), "stop");
  EXPECT_TRUE(f.usage().counted_locally());
  EXPECT_GT(f.usage().prompt_tokens(), 0u);
  EXPECT_GT(f.usage().completion_tokens(), 0u);
  EXPECT_EQ(f.usage().total_tokens(), f.usage().prompt_tokens() + f.usage().completion_tokens());
  EXPECT_EQ(f.cost_usd(), 0.0);
  EXPECT_EQ(f.prompt().sources_used(), static_cast<uint32_t>(sources.sources_size()));
  EXPECT_EQ(f.prompt().prompt_tokens(), f.usage().prompt_tokens());
}

TEST_F(RetrievalTest, QuestionTheCorpusDoesNotAnswer) {
  // Neither 펭귄 nor 남극 occurs in the corpus; the default model is "local".
  Answer a = Ask(Question("펭귄은 남극에서 무엇을 먹나요?"));
  ASSERT_GRPC_OK(a.status);
  EXPECT_EQ(a.Text("local"), std::string(models::kNotInSourcesKo));
}

TEST_F(RetrievalTest, TwoModelsSideBySide) {
  Answer a = Ask(Question("임베딩이란 무엇인가요?", {"local", kAzure}));
  ASSERT_GRPC_OK(a.status);
  ASSERT_TRUE(a.events.front().has_sources());
  const v1::AnswerFinal* local = a.Final("local");
  const v1::AnswerFinal* azure = a.Final(kAzure);
  ASSERT_NE(local, nullptr);
  ASSERT_NE(azure, nullptr);
  EXPECT_EQ(local->status_code(), 0);
  EXPECT_EQ(azure->status_code(), 0);
  EXPECT_EQ(a.Text(kAzure), chat_->answer());
  EXPECT_FALSE(a.Text("local").empty());
  // Azure reports usage; its list price makes the cost positive. The local model is free.
  EXPECT_FALSE(azure->usage().counted_locally());
  EXPECT_GT(azure->usage().prompt_tokens(), 0u);
  EXPECT_GT(azure->cost_usd(), 0.0);
  EXPECT_EQ(azure->upstream_model(), "gpt-4o-2024-08-06");
  EXPECT_GT(azure->latency_us(), 0);
  EXPECT_GT(azure->time_to_first_token_us(), 0);
  EXPECT_EQ(local->cost_usd(), 0.0);
  // Each model's final event comes after all of its deltas.
  for (const std::string& model : {std::string("local"), std::string(kAzure)}) {
    bool final_seen = false;
    for (const auto& e : a.events) {
      if (e.has_final() && e.final().model() == model) final_seen = true;
      if (e.has_delta() && e.delta().model() == model) {
        EXPECT_FALSE(final_seen) << model;
      }
    }
  }
}

TEST_F(RetrievalTest, UpstreamErrorsMapToStatuses) {
  // 429 on the first try and the one retry: RESOURCE_EXHAUSTED, in the final event and the call.
  chat_->Enqueue(ChatFault::TooManyRequests(std::chrono::milliseconds(1)));
  chat_->Enqueue(ChatFault::TooManyRequests(std::chrono::milliseconds(1)));
  Answer a = Ask(Question("임베딩이란 무엇인가요?", {kAzure}));
  EXPECT_EQ(a.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << a.status.error_message();
  ASSERT_NE(a.Final(kAzure), nullptr);
  EXPECT_EQ(a.Final(kAzure)->status_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  chat_->Enqueue(ChatFault::Http(401));
  a = Ask(Question("임베딩이란 무엇인가요?", {kAzure}));
  EXPECT_GRPC_ERROR(a.status, grpc::StatusCode::FAILED_PRECONDITION, "gpt-4o");

  chat_->Enqueue(ChatFault::ContextLengthExceeded());
  a = Ask(Question("임베딩이란 무엇인가요?", {kAzure}));
  EXPECT_EQ(a.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << a.status.error_message();

  // With two models, one model's failure is its final event's; the other answers.
  chat_->Enqueue(ChatFault::TooManyRequests(std::chrono::milliseconds(1)));
  chat_->Enqueue(ChatFault::TooManyRequests(std::chrono::milliseconds(1)));
  a = Ask(Question("임베딩이란 무엇인가요?", {"local", kAzure}));
  ASSERT_GRPC_OK(a.status);
  ASSERT_NE(a.Final(kAzure), nullptr);
  EXPECT_EQ(a.Final(kAzure)->status_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_FALSE(a.Final(kAzure)->status_message().empty());
  ASSERT_NE(a.Final("local"), nullptr);
  EXPECT_EQ(a.Final("local")->status_code(), 0);
  EXPECT_FALSE(a.Text("local").empty());
}

TEST_F(RetrievalTest, RequestErrors) {
  EXPECT_GRPC_ERROR(Ask(Question("임베딩?", {"no-such-model"})).status, grpc::StatusCode::NOT_FOUND,
                    "no-such-model");
  v1::AnswerRequest missing = Question("임베딩?");
  missing.set_collection("missing");
  EXPECT_GRPC_ERROR(Ask(missing).status, grpc::StatusCode::NOT_FOUND, "missing");
  EXPECT_GRPC_ERROR(Ask(Question("")).status, grpc::StatusCode::INVALID_ARGUMENT, "question");

  // A question that cannot fit the context window even alone: INVALID_ARGUMENT from ragd,
  // and nothing is sent upstream.
  uint64_t before = chat_->counters().requests;
  std::string long_question;
  for (int i = 0; i < 400; ++i) long_question += "임베딩 모델의 배포 비용은 얼마인가요? ";
  Answer a = Ask(Question(long_question, {kTiny}));
  EXPECT_EQ(a.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << a.status.error_message();
  EXPECT_TRUE(a.events.empty());
  EXPECT_EQ(chat_->counters().requests, before);
}

TEST_F(RetrievalTest, ClientCancellationAbortsTheUpstream) {
  uint64_t disconnects = chat_->counters().client_disconnects;
  chat_->Enqueue(ChatFault::Endless(std::chrono::milliseconds(20)));
  grpc::ClientContext context;
  context.set_deadline(CallDeadline(30));
  auto reader = stub_->Answer(&context, Question("임베딩이란 무엇인가요?", {kAzure}));
  v1::AnswerEvent event;
  int deltas = 0;
  while (deltas < 3 && reader->Read(&event)) {
    if (event.has_delta()) ++deltas;
  }
  ASSERT_EQ(deltas, 3);
  context.TryCancel();
  while (reader->Read(&event)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (chat_->counters().client_disconnects == disconnects &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(chat_->counters().client_disconnects, disconnects + 1);
}

TEST_F(RetrievalTest, ListModelsShowsTheCatalogWithoutSecrets) {
  grpc::ClientContext context;
  context.set_deadline(CallDeadline());
  v1::ListModelsResponse response;
  ASSERT_GRPC_OK(stub_->ListModels(&context, {}, &response));
  EXPECT_EQ(response.default_model(), "local");
  ASSERT_EQ(response.models_size(), 4);
  EXPECT_EQ(response.models(0).name(), "local");
  EXPECT_EQ(response.models(1).name(), kAzure);
  EXPECT_EQ(response.models(1).provider(), "azure-openai");
  EXPECT_EQ(response.models(1).family(), "gpt-4o");
  EXPECT_EQ(response.models(1).context_window(), 128000u);
  EXPECT_EQ(response.models(1).tokenizer(), "o200k_base");
  EXPECT_EQ(response.models(2).context_window(), 600u);
  EXPECT_EQ(response.models(1).catalog_warning(), "");
  EXPECT_EQ(response.models(3).name(), "future");
  EXPECT_EQ(response.models(3).family(), "gpt-4o");
  EXPECT_NE(response.models(3).catalog_warning().find("2031-01-01"), std::string::npos)
      << response.models(3).catalog_warning();
  EXPECT_EQ(response.DebugString().find("test-key"), std::string::npos);
}

}  // namespace
}  // namespace ragd::testing

namespace ragd::testing {
namespace {

// A ragd of its own with `config`, and a collection `kCollection` bound to `embedder`.
std::unique_ptr<RagdProcess> StartWithCollection(const TempDir& dir, const std::string& config,
                                                 const std::string& embedder) {
  std::filesystem::path config_path = dir.path() / "ragd.yaml";
  std::ofstream(config_path) << config;
  auto ragd = RagdProcess::Start(
      RagdProcess::OptionsFor((dir.path() / "data").string(), {"--config", config_path.string()}));
  EXPECT_TRUE(ragd.ok()) << ragd.status();
  if (!ragd.ok()) return nullptr;
  auto collections = v1::Collections::NewStub((*ragd)->channel());
  v1::CreateCollectionRequest create;
  create.set_name(kCollection);
  create.set_dimension(1536);
  create.mutable_embedder()->set_name(embedder);
  grpc::ClientContext context;
  context.set_deadline(CallDeadline());
  v1::CreateCollectionResponse created;
  grpc::Status s = collections->CreateCollection(&context, create, &created);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return *std::move(ragd);
}

grpc::Status RetrieveOnce(v1::Retrieval::Stub* stub, const std::string& query) {
  v1::RetrieveRequest request;
  request.set_collection(kCollection);
  request.set_query(query);
  v1::RetrieveResponse response;
  grpc::ClientContext context;
  context.set_deadline(CallDeadline(30));
  return stub->Retrieve(&context, request, &response);
}

// Retrieve and Answer's retrieval run on the bounded search executor: with its one worker
// held by a query waiting for a slow remote embedder and its one queue slot taken, both are
// refused with RESOURCE_EXHAUSTED at once, and the held calls still succeed.
TEST(RetrievalOverloadTest, RetrieveAndAnswerAreRefusedWhenTheSearchQueueIsFull) {
  FakeOpenAiServerOptions fake_options;
  fake_options.deployments = {"ada"};
  fake_options.latency = std::chrono::milliseconds(1500);
  auto fake = FakeOpenAiServer::Start(fake_options);
  ASSERT_TRUE(fake.ok()) << fake.status();
  TempDir dir;
  auto ragd = StartWithCollection(dir,
                                  absl::StrCat("server:\n"
                                               "  search_workers: 1\n"
                                               "  max_queued_searches: 1\n"
                                               "embedders:\n"
                                               "  - name: ada\n"
                                               "    provider: azure-openai\n"
                                               "    endpoint: ",
                                               (*fake)->endpoint(),
                                               "\n"
                                               "    deployment: ada\n"
                                               "    api_key: test-key\n"
                                               "    dimension: 1536\n"
                                               "    timeout_ms: 10000\n"),
                                  "ada");
  ASSERT_NE(ragd, nullptr);
  auto stub = v1::Retrieval::NewStub(ragd->channel());

  grpc::Status held, queued;
  std::thread first([&] { held = RetrieveOnce(stub.get(), "first query"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // on the worker, embedding
  std::thread second([&] { queued = RetrieveOnce(stub.get(), "second query"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // in the queue

  auto start = std::chrono::steady_clock::now();
  grpc::Status refused = RetrieveOnce(stub.get(), "third query");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  v1::AnswerRequest request;
  request.set_collection(kCollection);
  request.set_question("fourth question");
  grpc::ClientContext context;
  context.set_deadline(CallDeadline(30));
  auto reader = stub->Answer(&context, request);
  v1::AnswerEvent event;
  EXPECT_FALSE(reader->Read(&event));
  grpc::Status answer = reader->Finish();
  EXPECT_EQ(answer.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << answer.error_message();
  // Refused at once, not after the held calls' embedder round trips.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1000));

  first.join();
  second.join();
  EXPECT_TRUE(held.ok()) << held.error_message();
  EXPECT_TRUE(queued.ok()) << queued.error_message();
}

// retrieval.answer_deadline_ms ends a model that streams for ever: DEADLINE_EXCEEDED in its
// final event and as the call's status, and the upstream connection is closed.
TEST(RetrievalDeadlineTest, TheAnswerDeadlineEndsAnEndlessStream) {
  FakeOpenAiServerOptions fake_options;
  fake_options.deployments = {"gpt-4o"};
  auto fake = FakeOpenAiServer::Start(fake_options);
  ASSERT_TRUE(fake.ok()) << fake.status();
  FakeChatCompletions chat(fake->get());
  chat.Enqueue(ChatFault::Endless(std::chrono::milliseconds(20)));
  TempDir dir;
  auto ragd = StartWithCollection(dir,
                                  absl::StrCat("retrieval:\n"
                                               "  answer_deadline_ms: 500\n"
                                               "models:\n"
                                               "  default_model: ",
                                               kAzure,
                                               "\n"
                                               "  deployments:\n"
                                               "    - name: ",
                                               kAzure,
                                               "\n"
                                               "      provider: azure-openai\n"
                                               "      endpoint: ",
                                               (*fake)->endpoint(),
                                               "\n"
                                               "      deployment: gpt-4o\n"
                                               "      api_key: test-key\n"),
                                  "local");
  ASSERT_NE(ragd, nullptr);
  auto stub = v1::Retrieval::NewStub(ragd->channel());

  auto start = std::chrono::steady_clock::now();
  v1::AnswerRequest request;
  request.set_collection(kCollection);
  request.set_question("a question for an endless model");
  grpc::ClientContext context;
  context.set_deadline(CallDeadline(30));
  auto reader = stub->Answer(&context, request);
  v1::AnswerEvent event;
  int deltas = 0;
  const v1::AnswerFinal* final_event = nullptr;
  std::vector<v1::AnswerEvent> events;
  while (reader->Read(&event)) events.push_back(event);
  grpc::Status status = reader->Finish();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  for (const v1::AnswerEvent& e : events) {
    if (e.has_delta()) ++deltas;
    if (e.has_final()) final_event = &e.final();
  }
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  ASSERT_NE(final_event, nullptr);
  EXPECT_EQ(final_event->status_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_GT(deltas, 0);
  EXPECT_GE(elapsed, std::chrono::milliseconds(500));
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (chat.counters().client_disconnects == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(chat.counters().client_disconnects, 1u);
}

}  // namespace
}  // namespace ragd::testing
