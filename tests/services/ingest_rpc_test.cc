// ragd.v1.Ingest against the real ragd on 127.0.0.1 with the local embedder: the Korean
// corpus, citations, skip-unchanged, replacement, deletion, job records across a restart, and
// the collection binding's checks.

#include <gtest/gtest.h>

#include <string>
#include <vector>

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

// Job ids are bounded (1..128 of [A-Za-z0-9._:-]) and error messages echo at most a short
// prefix of what the client sent: a 1 MB id in a NOT_FOUND message would exceed a default
// client's metadata limit and turn into RESOURCE_EXHAUSTED.
TEST_F(IngestRpcTest, JobIdsAreBoundedAndNeverEchoedWhole) {
  v1::CreateCollectionRequest r;
  r.set_name("jobs");
  r.mutable_embedder()->set_name("local");
  ASSERT_GRPC_OK(client_->Create(r));
  v1::IngestJob job;
  grpc::Status s = ingest_->Job(std::string(1 << 20, 'j'), &job);
  EXPECT_EQ(s.error_code(), StatusCode::NOT_FOUND) << s.error_message();
  EXPECT_LT(s.error_message().size(), 200u);
  s = ingest_->Job("no such job", &job);
  EXPECT_EQ(s.error_code(), StatusCode::NOT_FOUND);

  v1::IngestSummary summary;
  const std::vector<v1::Document> docs = {MarkdownDocument("a.md", "# A\n\n문서")};
  s = ingest_->Stream("jobs", std::string(10 * 1024, 'j'), docs, &summary);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("job_id"), std::string::npos);
  EXPECT_LT(s.error_message().size(), 200u);
  EXPECT_GRPC_ERROR(ingest_->Stream("jobs", "bad/id", docs, &summary), StatusCode::INVALID_ARGUMENT,
                    "job_id");
  ASSERT_GRPC_OK(ingest_->Stream("jobs", "nightly-hr.2026:12", docs, &summary));
  EXPECT_EQ(summary.documents_ok(), 1u);
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

  // So do documents without an id or without any body: ingest.proto documents them as failed
  // results, not a call-level INVALID_ARGUMENT (one bad record must not abort a bulk job).
  v1::Document no_id;
  no_id.set_format("text");
  no_id.set_text("텍스트만 있고 아이디는 없습니다.");
  v1::Document no_body;
  no_body.set_id("empty.txt");
  no_body.set_format("text");
  docs = {MarkdownDocument("good2.md", "# Good\n\n또 다른 좋은 문서."), no_id, no_body};
  ASSERT_GRPC_OK(ingest_->Stream("x", "", docs, &summary));
  EXPECT_EQ(summary.documents_ok(), 1u);
  EXPECT_EQ(summary.documents_failed(), 2u);
  for (const v1::DocumentResult& d : summary.results()) {
    if (d.status() == v1::DOCUMENT_STATUS_FAILED) {
      EXPECT_FALSE(d.reason().empty());
    }
  }
}

}  // namespace
}  // namespace ragd::testing
