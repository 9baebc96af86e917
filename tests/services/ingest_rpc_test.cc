// ragd.v1.Ingest against the real ragd on 127.0.0.1 with the local embedder: the Korean
// corpus, citations, skip-unchanged, replacement, deletion, job records across a restart, and
// the collection binding's checks.

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/services/ingest_test_util.h"

namespace ragd::testing {
namespace {

using grpc::StatusCode;

class IngestRpcTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(); }
  void Start() {
    auto started = RagdProcess::Start(RagdProcess::OptionsFor((dir_.path() / "data").string()));
    ASSERT_TRUE(started.ok()) << started.status();
    ragd_ = *std::move(started);
    client_ = std::make_unique<Client>(ragd_->channel());
    ingest_ = std::make_unique<IngestClient>(ragd_->channel());
  }

  TempDir dir_;
  std::unique_ptr<RagdProcess> ragd_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<IngestClient> ingest_;
};

TEST_F(IngestRpcTest, CorpusChunksCitationsSkipReplaceDeleteAndJobAfterRestart) {
  v1::CreateCollectionResponse created;
  v1::CreateCollectionRequest create;
  create.set_name("kb");
  create.mutable_embedder()->set_name("local");
  ASSERT_GRPC_OK(client_->Create(create, &created));
  EXPECT_EQ(created.collection().dimension(), 1536u);
  EXPECT_EQ(created.collection().embedder().provider(), "local");
  EXPECT_EQ(created.collection().chunking().max_tokens(), 512u);

  const std::vector<v1::Document> docs = CorpusDocuments();
  ASSERT_EQ(docs.size(), 5u);
  v1::IngestSummary summary;
  ASSERT_GRPC_OK(ingest_->Stream("kb", "job-corpus", docs, &summary));
  EXPECT_EQ(summary.job_id(), "job-corpus");
  EXPECT_EQ(summary.documents_ok(), 5u);
  EXPECT_EQ(summary.documents_failed(), 0u);
  EXPECT_GT(summary.chunks(), 10u);
  EXPECT_EQ(summary.embedded_chunks() + summary.cached_chunks(), summary.chunks());
  EXPECT_EQ(summary.results_size(), 5);
  EXPECT_EQ(summary.embedder_provider(), "local");

  // Every chunk of every document, once.
  uint64_t total = 0;
  ASSERT_GRPC_OK(client_->Count("kb", nullptr, &total));
  EXPECT_EQ(total, summary.chunks());

  // Citations: ordinal order, heading path, byte ranges into the document, token counts.
  const std::string id = docs[1].id();
  v1::GetDocumentResponse got;
  ASSERT_GRPC_OK(ingest_->GetDocument("kb", id, &got));
  ASSERT_GT(got.chunks_size(), 1);
  EXPECT_FALSE(got.title().empty());
  int64_t previous_begin = -1;
  for (int i = 0; i < got.chunks_size(); ++i) {
    const v1::Point& p = got.chunks(i);
    EXPECT_EQ(p.id(), id + "#" + std::to_string(i));
    EXPECT_EQ(p.document_id(), id);
    const auto& m = p.metadata();
    ASSERT_TRUE(m.count("ordinal") && m.count("byte_begin") && m.count("byte_end") &&
                m.count("token_count") && m.count("heading_path") && m.count("title"));
    EXPECT_EQ(m.at("ordinal").int_value(), i);
    EXPECT_GT(m.at("byte_begin").int_value(), previous_begin);
    previous_begin = m.at("byte_begin").int_value();
    EXPECT_LE(m.at("token_count").int_value(), 512);
    EXPECT_EQ(m.at("source").string_value(), id);
    // Offsets are into the loaded text (front matter removed), so check length and presence.
    EXPECT_EQ(m.at("byte_end").int_value() - m.at("byte_begin").int_value(),
              static_cast<int64_t>(p.text().size()));
    EXPECT_NE(docs[1].content().find(p.text()), std::string::npos) << p.id();
  }
  EXPECT_GT(got.chunks(1).metadata().at("heading_path").list_value().values_size(), 0);

  // Unchanged documents are skipped; nothing is embedded again.
  v1::IngestSummary again;
  ASSERT_GRPC_OK(ingest_->Stream("kb", "", docs, &again));
  EXPECT_EQ(again.documents_skipped(), 5u);
  EXPECT_EQ(again.embedded_chunks(), 0u);
  EXPECT_NE(again.job_id(), "job-corpus");

  // A shorter version replaces the document's chunks (stale ones removed in the same write);
  // its unchanged first section comes from the embedding cache.
  v1::UpsertDocumentResponse upserted;
  v1::Document changed = docs[1];
  changed.set_content(docs[1].content().substr(0, docs[1].content().find("\n## ")));
  ASSERT_GRPC_OK(ingest_->Upsert("kb", changed, &upserted));
  EXPECT_EQ(upserted.result().status(), v1::DOCUMENT_STATUS_OK);
  EXPECT_GT(upserted.result().deleted_chunks(), 0u);
  EXPECT_EQ(CountDocumentChunks(*client_, "kb", id), upserted.result().chunks());

  // Deletion removes every chunk; the document is then NOT_FOUND.
  uint64_t deleted = 0;
  ASSERT_GRPC_OK(ingest_->Delete("kb", id, &deleted));
  EXPECT_EQ(deleted, upserted.result().chunks());
  EXPECT_EQ(CountDocumentChunks(*client_, "kb", id), 0u);
  EXPECT_GRPC_ERROR(ingest_->GetDocument("kb", id, &got), StatusCode::NOT_FOUND, id);

  // Job records survive a restart.
  ASSERT_TRUE(ragd_->Terminate(absl::Seconds(30)).ok());
  Start();
  v1::IngestJob job;
  ASSERT_GRPC_OK(ingest_->Job("job-corpus", &job));
  EXPECT_EQ(job.state(), v1::JOB_STATE_COMPLETED);
  EXPECT_EQ(job.documents_ok(), 5u);
  EXPECT_EQ(job.chunks(), summary.chunks());
  EXPECT_GRPC_ERROR(ingest_->Job("nope", &job), StatusCode::NOT_FOUND, "nope");
}

TEST_F(IngestRpcTest, BindingChecksAndPlainCollections) {
  // A plain vector collection has no embedder: text calls say how to fix it.
  ASSERT_GRPC_OK(client_->Create("plain", 4));
  v1::IngestSummary summary;
  EXPECT_GRPC_ERROR(ingest_->Stream("plain", "", CorpusDocuments(), &summary),
                    StatusCode::FAILED_PRECONDITION, "has no embedder; create it with --embedder");
  v1::UpsertDocumentResponse upserted;
  EXPECT_GRPC_ERROR(ingest_->Upsert("plain", MarkdownDocument("a.md", "# A\n\ntext"), &upserted),
                    StatusCode::FAILED_PRECONDITION, "--embedder");

  v1::CreateCollectionRequest r;
  r.set_name("x");
  r.mutable_embedder()->set_name("nosuch");
  EXPECT_GRPC_ERROR(client_->Create(r), StatusCode::NOT_FOUND, "local");
  r.mutable_embedder()->set_name("local");
  r.mutable_chunking()->set_max_tokens(100);
  r.mutable_chunking()->set_overlap_tokens(60);
  EXPECT_GRPC_ERROR(client_->Create(r), StatusCode::INVALID_ARGUMENT, "chunking");
  // "local" makes any dimension.
  r.clear_chunking();
  r.set_dimension(256);
  v1::CreateCollectionResponse created;
  ASSERT_GRPC_OK(client_->Create(r, &created));
  EXPECT_EQ(created.collection().dimension(), 256u);
  v1::CreateCollectionRequest unbound_chunking;
  unbound_chunking.set_name("y");
  unbound_chunking.set_dimension(4);
  unbound_chunking.mutable_chunking()->set_max_tokens(64);
  EXPECT_GRPC_ERROR(client_->Create(unbound_chunking), StatusCode::INVALID_ARGUMENT, "chunking");

  // Per-document failures do not stop the stream.
  std::vector<v1::Document> docs = {MarkdownDocument("good.md", "# Good\n\n좋은 문서입니다."),
                                    MarkdownDocument("bad.md", std::string("\xff\xfe bad")),
                                    v1::Document()};
  docs[2].set_id("weird.bin");
  docs[2].set_name("weird.bin");
  docs[2].set_content("?");
  ASSERT_GRPC_OK(ingest_->Stream("x", "", docs, &summary));
  EXPECT_EQ(summary.documents_ok(), 1u);
  EXPECT_EQ(summary.documents_failed(), 2u);
  int failed = 0;
  for (const v1::DocumentResult& d : summary.results()) {
    if (d.status() != v1::DOCUMENT_STATUS_FAILED) continue;
    ++failed;
    EXPECT_FALSE(d.reason().empty()) << d.document_id();
  }
  EXPECT_EQ(failed, 2);
}

}  // namespace
}  // namespace ragd::testing
