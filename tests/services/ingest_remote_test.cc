// Ingestion through an `azure-openai` embedder configured in ragd's YAML, pointing at the fake
// Azure OpenAI server on 127.0.0.1: retries absorbed, a non-retryable 401 reported per document
// with nothing lost, the embedding cache preventing repeat calls, the dimension check.

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/services/ingest_test_util.h"
#include "tests/testing/fake_openai_server.h"

namespace ragd::testing {
namespace {

using grpc::StatusCode;

class IngestRemoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fake = FakeOpenAiServer::Start();
    ASSERT_TRUE(fake.ok()) << fake.status();
    fake_ = *std::move(fake);
    WriteText(dir_.path() / "key", "test-key\n");
    const std::string config = absl::StrCat(
        "embedders:\n"
        "  - name: ada\n"
        "    provider: azure-openai\n"
        "    endpoint: ", fake_->endpoint(), "\n"
        "    deployment: ada\n"
        "    api_key_file: ", (dir_.path() / "key").string(), "\n"
        "    dimension: 1536\n"
        "    max_retries: 4\n"
        "    initial_backoff_ms: 10\n"
        "    max_backoff_ms: 50\n"
        "    timeout_ms: 10000\n");
    WriteText(dir_.path() / "ragd.yaml", config);
    auto started = RagdProcess::Start(RagdProcess::OptionsFor(
        (dir_.path() / "data").string(), {"--config", (dir_.path() / "ragd.yaml").string()}));
    ASSERT_TRUE(started.ok()) << started.status();
    ragd_ = *std::move(started);
    client_ = std::make_unique<Client>(ragd_->channel());
    ingest_ = std::make_unique<IngestClient>(ragd_->channel());
  }

  TempDir dir_;
  std::unique_ptr<FakeOpenAiServer> fake_;
  std::unique_ptr<RagdProcess> ragd_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<IngestClient> ingest_;
};

TEST_F(IngestRemoteTest, RetriesAbsorbedAndCacheAvoidsRepeatCalls) {
  v1::CreateCollectionRequest mismatch;
  mismatch.set_name("kb");
  mismatch.set_dimension(8);
  mismatch.mutable_embedder()->set_name("ada");
  EXPECT_GRPC_ERROR(client_->Create(mismatch), StatusCode::INVALID_ARGUMENT, "1536");
  ASSERT_GRPC_OK(CreateBound(*client_, "kb", "ada"));

  fake_->Enqueue(Fault::TooManyRequests(std::chrono::milliseconds(100)));
  fake_->Enqueue(Fault::Http(500));
  const std::vector<v1::Document> docs = CorpusDocuments();
  v1::IngestSummary summary;
  ASSERT_GRPC_OK(ingest_->Stream("kb", "", docs, &summary));
  EXPECT_EQ(summary.documents_ok(), docs.size());
  EXPECT_EQ(summary.documents_failed(), 0u);
  EXPECT_EQ(summary.embedder_provider(), "azure-openai");
  EXPECT_GE(summary.embedding_retries(), 2u);
  EXPECT_GT(summary.embedded_tokens(), 0u);
  EXPECT_EQ(fake_->pending_faults(), 0u);
  uint64_t total = 0;
  ASSERT_GRPC_OK(client_->Count("kb", nullptr, &total));
  EXPECT_EQ(total, summary.chunks());
  // The stored vector is the one the endpoint returned for the chunk's text.
  v1::GetResponse got;
  ASSERT_GRPC_OK(client_->Get("kb", {docs[0].id() + "#0"}, true, &got));
  ASSERT_EQ(got.points_size(), 1);
  std::vector<float> expected = FakeOpenAiServer::ExpectedEmbedding(got.points(0).text(), 1536);
  EXPECT_NEAR(got.points(0).vector(0), expected[0], 1e-5);

  // A changed document re-embeds only its new chunks; the rest come from the cache.
  const uint64_t requests = fake_->counters().embeddings;
  v1::Document changed = docs[0];
  changed.set_content(docs[0].content() + "\n\n## 추가\n\n새로운 문단입니다.\n");
  v1::UpsertDocumentResponse upserted;
  ASSERT_GRPC_OK(ingest_->Upsert("kb", changed, &upserted));
  EXPECT_GT(upserted.result().cached_chunks(), 0u);
  EXPECT_LT(upserted.result().embedded_chunks(), upserted.result().chunks());
  // Unchanged: no call at all.
  ASSERT_GRPC_OK(ingest_->Stream("kb", "", docs, &summary));
  EXPECT_EQ(summary.documents_skipped() + summary.documents_ok(), docs.size());
  EXPECT_EQ(summary.embedded_chunks(), 0u);
  EXPECT_LE(fake_->counters().embeddings, requests + 1);
}

TEST_F(IngestRemoteTest, UnauthorizedIsAPerDocumentFailureAndNothingIsLost) {
  ASSERT_GRPC_OK(CreateBound(*client_, "kb", "ada"));
  const std::vector<v1::Document> docs = CorpusDocuments();
  fake_->Enqueue(Fault::Http(401));
  v1::IngestSummary summary;
  ASSERT_GRPC_OK(ingest_->Stream("kb", "job-401", docs, &summary));
  EXPECT_EQ(summary.documents_failed(), 1u);
  EXPECT_EQ(summary.documents_ok(), docs.size() - 1);
  std::string failed_id;
  for (const v1::DocumentResult& r : summary.results()) {
    if (r.status() != v1::DOCUMENT_STATUS_FAILED) continue;
    failed_id = r.document_id();
    EXPECT_NE(r.reason().find("FAILED_PRECONDITION"), std::string::npos) << r.reason();
    EXPECT_NE(r.reason().find("401"), std::string::npos) << r.reason();
  }
  ASSERT_FALSE(failed_id.empty());
  EXPECT_EQ(CountDocumentChunks(*client_, "kb", failed_id), 0u);
  v1::IngestJob job;
  ASSERT_GRPC_OK(ingest_->Job("job-401", &job));
  ASSERT_EQ(job.failures_size(), 1);
  EXPECT_EQ(job.failures(0).document_id(), failed_id);

  // Re-running the input ingests the failed document and skips the others.
  ASSERT_GRPC_OK(ingest_->Stream("kb", "job-401", docs, &summary));
  EXPECT_EQ(summary.documents_ok(), 1u);
  EXPECT_EQ(summary.documents_skipped(), docs.size() - 1);
  v1::GetDocumentResponse got;
  ASSERT_GRPC_OK(ingest_->GetDocument("kb", failed_id, &got));
  EXPECT_EQ(CountDocumentChunks(*client_, "kb", failed_id),
            static_cast<uint64_t>(got.chunks_size()));
}

}  // namespace
}  // namespace ragd::testing
