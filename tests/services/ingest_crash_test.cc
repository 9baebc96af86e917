// SIGKILL during a large IngestDocuments stream, restart, and re-run of the same job: the job
// is reported interrupted, and the re-run converges to exactly one copy of every chunk (per
// document: the count of its points equals its chunk count and that of an uninterrupted
// reference ingestion; no duplicates, none missing).

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/services/ingest_test_util.h"

namespace ragd::testing {
namespace {

constexpr int kDocuments = 300;

std::vector<v1::Document> GeneratedDocuments() {
  std::vector<v1::Document> docs;
  for (int i = 0; i < kDocuments; ++i) {
    std::string text = absl::StrCat("# 문서 ", i, "\n\n");
    for (int s = 0; s < 3; ++s) {
      absl::StrAppend(&text, "## 섹션 ", s, "\n\n");
      for (int k = 0; k < 25; ++k) {
        absl::StrAppend(&text, "문서 ", i, "의 섹션 ", s, " 문장 ", k,
                        "은 검색 증강 생성의 수집 경로를 시험합니다. Sentence ", i * 100 + k,
                        " checks chunk ", s, ". ");
      }
      text += "\n\n";
    }
    docs.push_back(MarkdownDocument(absl::StrCat("gen/doc-", i, ".md"), text));
  }
  return docs;
}

TEST(IngestCrashTest, KillDuringStreamThenRerunConvergesToOneCopyOfEveryChunk) {
  TempDir dir;
  // One worker and a short queue: the stream is still running when the kill comes.
  WriteText(dir.path() / "ragd.yaml", "ingest:\n  workers: 1\n  queue_capacity: 2\n");
  const auto options = RagdProcess::OptionsFor(
      (dir.path() / "data").string(), {"--config", (dir.path() / "ragd.yaml").string()});
  auto started = RagdProcess::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<RagdProcess> ragd = *std::move(started);
  {
    Client client(ragd->channel());
    ASSERT_GRPC_OK(CreateBound(client, "kb", "local"));
    ASSERT_GRPC_OK(CreateBound(client, "reference", "local"));
  }
  const std::vector<v1::Document> docs = GeneratedDocuments();

  std::atomic<bool> stream_done{false};
  grpc::Status stream_status;
  std::thread writer([&] {
    IngestClient ingest(ragd->channel());
    v1::IngestSummary summary;
    stream_status = ingest.Stream("kb", "job-crash", docs, &summary);
    stream_done = true;
  });
  IngestClient poll(ragd->channel());
  uint64_t done_before_kill = 0;
  for (int i = 0; i < 3000 && !stream_done; ++i) {
    v1::IngestJob job;
    if (poll.Job("job-crash", &job).ok() && job.documents_ok() >= 40) {
      done_before_kill = job.documents_ok();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ragd->Kill();
  writer.join();
  ASSERT_GT(done_before_kill, 0u) << "the stream ended before the kill";
  EXPECT_FALSE(stream_status.ok());

  started = RagdProcess::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  ragd = *std::move(started);
  Client client(ragd->channel());
  IngestClient ingest(ragd->channel());
  v1::IngestJob job;
  ASSERT_GRPC_OK(ingest.Job("job-crash", &job));
  EXPECT_EQ(job.state(), v1::JOB_STATE_INTERRUPTED);
  EXPECT_GE(job.documents_ok(), done_before_kill);

  v1::IngestSummary rerun;
  ASSERT_GRPC_OK(ingest.Stream("kb", "job-crash", docs, &rerun));
  EXPECT_EQ(rerun.documents_failed(), 0u);
  EXPECT_EQ(rerun.documents_ok() + rerun.documents_skipped(), static_cast<uint64_t>(kDocuments));
  EXPECT_GE(rerun.documents_skipped(), done_before_kill);
  ASSERT_GRPC_OK(ingest.Job("job-crash", &job));
  EXPECT_EQ(job.state(), v1::JOB_STATE_COMPLETED);

  v1::IngestSummary reference;
  ASSERT_GRPC_OK(ingest.Stream("reference", "", docs, &reference));
  ASSERT_EQ(reference.documents_ok(), static_cast<uint64_t>(kDocuments));

  uint64_t expected_total = 0;
  for (const v1::Document& d : docs) {
    const uint64_t want = CountDocumentChunks(client, "reference", d.id());
    expected_total += want;
    ASSERT_GT(want, 1u);
    EXPECT_EQ(CountDocumentChunks(client, "kb", d.id()), want) << d.id();
    v1::GetDocumentResponse got;
    ASSERT_GRPC_OK(ingest.GetDocument("kb", d.id(), &got));
    EXPECT_EQ(static_cast<uint64_t>(got.chunks_size()), want) << d.id();
  }
  uint64_t total = 0;
  ASSERT_GRPC_OK(client.Count("kb", nullptr, &total));
  EXPECT_EQ(total, expected_total);
}

}  // namespace
}  // namespace ragd::testing
