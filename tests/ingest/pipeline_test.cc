// The pipeline against a real Engine in a temporary directory. The embedder is a small real
// implementation of models::Embedder that stands in for the remote embedding service: it
// computes deterministic vectors, counts calls and can be told to fail or to block.

#include "ingest/pipeline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/hash.h"
#include "index/engine/engine.h"
#include "ingest/embedding_cache.h"
#include "ingest/job.h"
#include "ingest/loaders/document_loader.h"
#include "models/local_embedder.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace ragd::ingest {
namespace {

using index::Engine;
using index::Point;

constexpr size_t kDim = 8;
const std::filesystem::path kData = RAGD_TEST_DATA_DIR;

class CountingEmbedder final : public models::Embedder {
 public:
  size_t dimension() const override { return kDim; }
  std::string model_id() const override { return "test/counting-v1"; }
  absl::StatusOr<std::vector<std::vector<float>>> Embed(const std::vector<std::string>& texts,
                                                        models::EmbeddingUsage* usage) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      gate_cv_.wait(lock, [this] { return open_; });
    }
    calls_.fetch_add(1);
    if (fail_.load()) return absl::UnavailableError("embedding endpoint: HTTP 503");
    texts_.fetch_add(texts.size());
    std::vector<std::vector<float>> out;
    for (const std::string& t : texts) {
      uint64_t h = Hash64(t);
      std::vector<float> v(kDim);
      for (size_t i = 0; i < kDim; ++i) v[i] = static_cast<float>((h >> (i * 8)) & 0xFF) + 1.0f;
      out.push_back(std::move(v));
    }
    if (usage != nullptr) ++usage->requests;
    return out;
  }

  size_t calls() const { return calls_.load(); }
  size_t texts() const { return texts_.load(); }
  void set_fail(bool f) { fail_.store(f); }
  // While closed, Embed blocks: a slow endpoint, to observe backpressure.
  void set_gate(bool open) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = open;
    }
    gate_cv_.notify_all();
  }

 private:
  std::atomic<size_t> calls_{0};
  std::atomic<size_t> texts_{0};
  std::atomic<bool> fail_{false};
  std::mutex mu_;
  std::condition_variable gate_cv_;
  bool open_ = true;
};

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OpenEngine();
    index::CollectionSpec spec;
    spec.name = "kb";
    spec.dimension = kDim;
    spec.index.kind = index::IndexKind::kFlat;
    ASSERT_OK(engine_->CreateCollection(spec));
    options_.chunking.max_tokens = 64;
    options_.chunking.overlap_tokens = 8;
    options_.progress_interval_ms = 0;
    MakeIngestor();
  }

  void OpenEngine() {
    Engine::Options o;
    o.data_dir = dir_.str() + "/db";
    o.sync_writes = false;  // the tests do not pull the plug
    o.snapshot_interval_seconds = 0;
    ASSERT_OK_AND_ASSIGN(engine_, Engine::Open(o));
  }

  void MakeIngestor() {
    ASSERT_OK_AND_ASSIGN(ingestor_, Ingestor::Create(engine_.get(), &embedder_, options_));
  }

  static Document Doc(const std::string& id, int sentences, const std::string& word = "alpha") {
    Document d;
    d.id = id;
    d.title = "Title of " + id;
    for (int i = 0; i < sentences; ++i) {
      d.text += "Sentence " + std::to_string(i) + " of " + id + " is about " + word + ". ";
    }
    d.metadata["lang"] = std::string("en");
    d.content_hash = ContentHash(d);
    return d;
  }

  std::vector<Point> Chunks(const std::string& document_id) {
    auto n = engine_->Count("kb", index::Filter::Cond(index::DocumentIdEquals(document_id)));
    EXPECT_OK(n);
    std::vector<std::string> ids;
    for (size_t i = 0; i < *n + 2; ++i) ids.push_back(document_id + "#" + std::to_string(i));
    auto points = engine_->Get("kb", ids, false);
    EXPECT_OK(points);
    EXPECT_EQ(points->size(), *n) << "chunk ids are dense from #0";
    return *points;
  }

  testing::TempDir dir_;
  std::unique_ptr<Engine> engine_;
  CountingEmbedder embedder_;
  IngestorOptions options_;
  std::unique_ptr<Ingestor> ingestor_;
};

template <typename T>
T Meta(const Point& p, const std::string& key) {
  auto it = p.metadata.find(key);
  if (it == p.metadata.end() || !std::holds_alternative<T>(it->second)) {
    ADD_FAILURE() << p.id << ": metadata " << key << " missing or of another type";
    return T{};
  }
  return std::get<T>(it->second);
}

TEST_F(PipelineTest, StoresChunksWithCitationMetadata) {
  auto docs = LoadFile(kData / "explore-and-compare-llms.ko.md", kData);
  ASSERT_OK(docs.at(0));
  const Document& d = *docs[0];
  DocumentResult r = ingestor_->IngestDocument("kb", d);
  ASSERT_EQ(r.outcome, DocumentOutcome::kOk) << r.status;
  EXPECT_GT(r.chunks, 20u);
  EXPECT_EQ(r.embedded_chunks, r.chunks);
  EXPECT_EQ(r.cached_chunks, 0u);
  EXPECT_EQ(embedder_.calls(), 1u) << "one Embed call per document (the embedder batches)";

  std::vector<Point> points = Chunks(d.id);
  ASSERT_EQ(points.size(), r.chunks);
  size_t tokens = 0;
  bool nested_heading = false;
  for (size_t i = 0; i < points.size(); ++i) {
    const Point& p = points[i];
    EXPECT_EQ(p.id, d.id + "#" + std::to_string(i));
    EXPECT_EQ(p.document_id, d.id);
    EXPECT_EQ(Meta<std::string>(p, "title"), "다양한 LLM 탐색 및 비교");
    EXPECT_EQ(Meta<int64_t>(p, "ordinal"), static_cast<int64_t>(i));
    EXPECT_EQ(Meta<int64_t>(p, "chunk_count"), static_cast<int64_t>(points.size()));
    const auto begin = static_cast<size_t>(Meta<int64_t>(p, "byte_begin"));
    const auto end = static_cast<size_t>(Meta<int64_t>(p, "byte_end"));
    EXPECT_EQ(p.text, d.text.substr(begin, end - begin)) << "offsets cite the document";
    EXPECT_LE(Meta<int64_t>(p, "token_count"), 64);
    tokens += static_cast<size_t>(Meta<int64_t>(p, "token_count"));
    EXPECT_EQ(Meta<std::string>(p, "content_hash").size(), 16u);
    EXPECT_EQ(Meta<std::string>(p, "format"), "markdown") << "document metadata is kept";
    EXPECT_EQ(p.metadata.count("page"), 0u) << "no pages in Markdown";
    if (Meta<std::vector<std::string>>(p, "heading_path").size() == 3) nested_heading = true;
  }
  EXPECT_EQ(tokens, r.tokens);
  EXPECT_TRUE(nested_heading);
}

TEST_F(PipelineTest, UnchangedDocumentIsSkippedWithoutEmbedding) {
  Document d = Doc("a", 30);
  ASSERT_EQ(ingestor_->IngestDocument("kb", d).outcome, DocumentOutcome::kOk);
  const size_t calls = embedder_.calls();
  DocumentResult again = ingestor_->IngestDocument("kb", d);
  EXPECT_EQ(again.outcome, DocumentOutcome::kSkipped);
  EXPECT_EQ(embedder_.calls(), calls);

  // Other chunking settings re-chunk the same document.
  options_.chunking.max_tokens = 48;
  MakeIngestor();
  EXPECT_EQ(ingestor_->IngestDocument("kb", d).outcome, DocumentOutcome::kOk);
}

TEST_F(PipelineTest, CacheMakesReingestionFree) {
  Document d = Doc("a", 30);
  DocumentResult first = ingestor_->IngestDocument("kb", d);
  ASSERT_EQ(first.outcome, DocumentOutcome::kOk) << first.status;
  ASSERT_GT(first.chunks, 2u);
  EXPECT_EQ(embedder_.calls(), 1u);
  EXPECT_EQ(embedder_.texts(), first.chunks);

  // Same text, new metadata: the document is re-written, its vectors come from the cache.
  d.metadata["lang"] = std::string("ko");
  DocumentResult meta_only = ingestor_->IngestDocument("kb", d);
  ASSERT_EQ(meta_only.outcome, DocumentOutcome::kOk) << meta_only.status;
  EXPECT_EQ(meta_only.cached_chunks, first.chunks);
  EXPECT_EQ(meta_only.embedded_chunks, 0u);
  EXPECT_EQ(embedder_.calls(), 1u) << "zero embedder calls on re-ingest";
  EXPECT_EQ(Meta<std::string>(Chunks("a")[0], "lang"), "ko");

  // Deleted and ingested again (e.g. into a new collection): still from the cache.
  ASSERT_OK(ingestor_->DeleteDocument("kb", "a"));
  DocumentResult re = ingestor_->IngestDocument("kb", d);
  EXPECT_EQ(re.cached_chunks, first.chunks);
  EXPECT_EQ(embedder_.calls(), 1u);

  // Appending text re-embeds only the chunks whose text changed.
  Document longer = Doc("a", 36);
  DocumentResult grown = ingestor_->IngestDocument("kb", longer);
  ASSERT_EQ(grown.outcome, DocumentOutcome::kOk);
  EXPECT_GT(grown.cached_chunks, 0u);
  EXPECT_GT(grown.embedded_chunks, 0u);
  EXPECT_EQ(embedder_.texts(), first.chunks + grown.embedded_chunks);
}

TEST_F(PipelineTest, ReingestingAShorterDocumentDeletesExtraChunks) {
  Document big = Doc("doc", 60);
  DocumentResult r1 = ingestor_->IngestDocument("kb", big);
  ASSERT_EQ(r1.outcome, DocumentOutcome::kOk);
  ASSERT_GT(r1.chunks, 4u);
  ASSERT_EQ(Chunks("doc").size(), r1.chunks);

  Document small = Doc("doc", 3, "beta");
  DocumentResult r2 = ingestor_->IngestDocument("kb", small);
  ASSERT_EQ(r2.outcome, DocumentOutcome::kOk) << r2.status;
  EXPECT_EQ(r2.chunks, 1u);
  EXPECT_EQ(r2.deleted_chunks, r1.chunks - 1);
  std::vector<Point> now = Chunks("doc");
  ASSERT_EQ(now.size(), 1u);
  EXPECT_EQ(now[0].text, small.text.substr(0, small.text.size() - 1));
  EXPECT_EQ(Meta<int64_t>(now[0], "chunk_count"), 1);
  auto count = engine_->Count("kb", std::nullopt);
  ASSERT_OK(count);
  EXPECT_EQ(*count, 1u);
}

TEST_F(PipelineTest, EmbedderFailureKeepsThePreviousChunks) {
  Document v1 = Doc("doc", 20);
  ASSERT_EQ(ingestor_->IngestDocument("kb", v1).outcome, DocumentOutcome::kOk);
  std::vector<Point> before = Chunks("doc");

  embedder_.set_fail(true);
  Document v2 = Doc("doc", 12, "changed");
  DocumentResult r = ingestor_->IngestDocument("kb", v2);
  EXPECT_EQ(r.outcome, DocumentOutcome::kFailed);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(r.status.message()).find("HTTP 503"), std::string::npos) << r.status;

  std::vector<Point> after = Chunks("doc");
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].text, before[i].text);
    EXPECT_EQ(Meta<std::string>(after[i], "content_hash"),
              Meta<std::string>(before[i], "content_hash"));
  }

  // Once the endpoint recovers, the same document goes through.
  embedder_.set_fail(false);
  EXPECT_EQ(ingestor_->IngestDocument("kb", v2).outcome, DocumentOutcome::kOk);
  EXPECT_EQ(Chunks("doc")[0].text.find("changed") != std::string::npos, true);
}

TEST_F(PipelineTest, DeleteDocumentRemovesAllChunks) {
  ASSERT_EQ(ingestor_->IngestDocument("kb", Doc("gone", 30)).outcome, DocumentOutcome::kOk);
  ASSERT_EQ(ingestor_->IngestDocument("kb", Doc("kept", 5)).outcome, DocumentOutcome::kOk);
  const size_t n = Chunks("gone").size();
  ASSERT_GT(n, 1u);
  ASSERT_OK_AND_ASSIGN(index::WriteResult removed, ingestor_->DeleteDocument("kb", "gone"));
  EXPECT_EQ(removed.applied, n);
  // The removal is a write of its own: its sequence is the consistency token.
  EXPECT_GT(removed.sequence, 0u);
  EXPECT_TRUE(Chunks("gone").empty());
  EXPECT_EQ(Chunks("kept").size(), 1u);
  ASSERT_OK_AND_ASSIGN(index::WriteResult none, ingestor_->DeleteDocument("kb", "never-there"));
  EXPECT_EQ(none.applied, 0u);
  EXPECT_EQ(ingestor_->DeleteDocument("nope", "x").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(PipelineTest, DimensionMismatchAndBadInputAreReported) {
  index::CollectionSpec spec;
  spec.name = "wide";
  spec.dimension = kDim * 2;
  spec.index.kind = index::IndexKind::kFlat;
  ASSERT_OK(engine_->CreateCollection(spec));
  DocumentResult r = ingestor_->IngestDocument("wide", Doc("a", 2));
  EXPECT_EQ(r.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ingestor_->StartSession("wide", {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ingestor_->IngestDocument("missing", Doc("a", 2)).status.code(),
            absl::StatusCode::kNotFound);
  Document bad = Doc("", 2);
  EXPECT_EQ(ingestor_->IngestDocument("kb", bad).status.code(), absl::StatusCode::kInvalidArgument);
  options_.workers = 0;
  EXPECT_EQ(Ingestor::Create(engine_.get(), &embedder_, options_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(PipelineTest, SessionJobRecordSurvivesRestart) {
  std::atomic<int> callbacks{0};
  Ingestor::SessionOptions so;
  so.job_id = "job-test-1";
  so.on_document = [&](const DocumentResult&) { callbacks.fetch_add(1); };
  ASSERT_OK_AND_ASSIGN(auto session, ingestor_->StartSession("kb", so));
  EXPECT_EQ(session->id(), "job-test-1");
  {
    ASSERT_OK_AND_ASSIGN(IngestJob running, LoadJob(*engine_, "job-test-1"));
    EXPECT_EQ(running.state, JobState::kRunning);
  }
  for (int i = 0; i < 20; ++i) ASSERT_OK(session->Add(Doc("d" + std::to_string(i), 10)));
  ASSERT_OK(session->Add(Doc("d3", 10)));  // unchanged duplicate: skipped (or ok, by order)
  session->AddFailure("broken.docx", absl::InvalidArgumentError("broken.docx: unknown format"));
  ASSERT_OK_AND_ASSIGN(IngestJob done, session->Finish());
  EXPECT_EQ(done.state, JobState::kCompleted);
  EXPECT_EQ(done.documents_ok + done.documents_skipped, 21u);
  EXPECT_EQ(done.documents_skipped, 1u);
  EXPECT_EQ(done.documents_failed, 1u);
  ASSERT_EQ(done.failures.size(), 1u);
  EXPECT_EQ(done.failures[0].document_id, "broken.docx");
  EXPECT_GT(done.chunks, 20u);
  EXPECT_EQ(done.embedded_chunks + done.cached_chunks, done.chunks);
  EXPECT_GT(done.finished_unix_ms, 0);
  EXPECT_EQ(callbacks.load(), 22);
  EXPECT_EQ(session->Add(Doc("late", 1)).code(), absl::StatusCode::kFailedPrecondition);

  // A second job that the process "dies" in: its record says running.
  IngestJob crashed;
  crashed.id = "job-test-2";
  crashed.collection = "kb";
  crashed.documents_ok = 5;
  ASSERT_OK(SaveJob(*engine_, crashed));

  session.reset();
  ingestor_.reset();
  ASSERT_OK(engine_->Close());
  engine_.reset();
  OpenEngine();
  ASSERT_OK_AND_ASSIGN(size_t marked, MarkInterruptedJobs(*engine_));
  EXPECT_EQ(marked, 1u);
  ASSERT_OK_AND_ASSIGN(IngestJob reloaded, LoadJob(*engine_, "job-test-1"));
  EXPECT_EQ(reloaded.state, JobState::kCompleted);
  EXPECT_EQ(reloaded.documents_ok, done.documents_ok);
  EXPECT_EQ(reloaded.chunks, done.chunks);
  EXPECT_EQ(reloaded.tokens, done.tokens);
  EXPECT_EQ(reloaded.failures.size(), 1u);
  EXPECT_EQ(reloaded.failures[0].message, done.failures[0].message);
  ASSERT_OK_AND_ASSIGN(IngestJob interrupted, LoadJob(*engine_, "job-test-2"));
  EXPECT_EQ(interrupted.state, JobState::kInterrupted);
  EXPECT_EQ(interrupted.documents_ok, 5u);
  ASSERT_OK_AND_ASSIGN(auto all, ListJobs(*engine_));
  EXPECT_EQ(all.size(), 2u);
  EXPECT_EQ(LoadJob(*engine_, "job-none").status().code(), absl::StatusCode::kNotFound);

  // Re-running the same input converges: everything is skipped, nothing is embedded.
  MakeIngestor();
  const size_t calls = embedder_.calls();
  ASSERT_OK_AND_ASSIGN(auto rerun, ingestor_->StartSession("kb", {}));
  for (int i = 0; i < 20; ++i) ASSERT_OK(rerun->Add(Doc("d" + std::to_string(i), 10)));
  ASSERT_OK_AND_ASSIGN(IngestJob again, rerun->Finish());
  EXPECT_EQ(again.documents_skipped, 20u);
  EXPECT_EQ(embedder_.calls(), calls);
  // The session's buffered cache entries were made durable by Finish: a deleted document comes
  // back without embedding after the restart.
  ASSERT_OK(ingestor_->DeleteDocument("kb", "d7"));
  DocumentResult back = ingestor_->IngestDocument("kb", Doc("d7", 10));
  EXPECT_EQ(back.outcome, DocumentOutcome::kOk);
  EXPECT_EQ(back.embedded_chunks, 0u);
  EXPECT_EQ(embedder_.calls(), calls);
  EXPECT_EQ(again.id.rfind("job-", 0), 0u);
}

TEST_F(PipelineTest, ProgressIsPersistedWhileRunning) {
  ASSERT_OK_AND_ASSIGN(auto session, ingestor_->StartSession("kb", {}));
  for (int i = 0; i < 5; ++i) ASSERT_OK(session->Add(Doc("p" + std::to_string(i), 5)));
  // Wait until the workers have handled all five, then read the record from storage.
  for (int i = 0; i < 500 && session->progress().documents_ok < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_OK_AND_ASSIGN(IngestJob stored, LoadJob(*engine_, session->id()));
  EXPECT_EQ(stored.state, JobState::kRunning);
  EXPECT_EQ(stored.documents_ok, 5u);
  ASSERT_OK(session->Finish());
}

TEST_F(PipelineTest, BoundedQueueAppliesBackpressure) {
  options_.workers = 1;
  options_.queue_capacity = 2;
  MakeIngestor();
  embedder_.set_gate(false);  // the endpoint hangs
  ASSERT_OK_AND_ASSIGN(auto session, ingestor_->StartSession("kb", {}));
  // One document in the worker, two in the queue; the fourth Add must wait.
  ASSERT_OK(session->Add(Doc("q0", 3)));
  for (int i = 0; i < 200 && embedder_.calls() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_OK(session->Add(Doc("q1", 3)));
  ASSERT_OK(session->Add(Doc("q2", 3)));
  std::atomic<bool> added{false};
  std::thread producer([&] {
    EXPECT_OK(session->Add(Doc("q3", 3)));
    added.store(true);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_FALSE(added.load()) << "Add returned although the queue was full";
  embedder_.set_gate(true);
  producer.join();
  EXPECT_TRUE(added.load());
  ASSERT_OK_AND_ASSIGN(IngestJob done, session->Finish());
  EXPECT_EQ(done.documents_ok, 4u);
}

// End to end with the built-in local embedder: the corpus goes in through a session, a Korean
// query comes back with a citation (document, heading path, byte range).
TEST_F(PipelineTest, LocalEmbedderCorpusSearchWithCitation) {
  models::LocalEmbedder local(256, models::LocalEmbedderOptions{});
  index::CollectionSpec spec;
  spec.name = "corpus";
  spec.dimension = 256;
  spec.index.kind = index::IndexKind::kHnsw;
  ASSERT_OK(engine_->CreateCollection(spec));
  IngestorOptions o;  // defaults: 512 tokens, 64 overlap
  ASSERT_OK_AND_ASSIGN(auto ingestor, Ingestor::Create(engine_.get(), &local, o));
  ASSERT_OK_AND_ASSIGN(auto session, ingestor->StartSession("corpus", {}));
  for (const char* name : {"explore-and-compare-llms.ko.md", "ai-workloads-on-azure.ko.md",
                           "sample.html", "sample.jsonl"}) {
    for (auto& d : LoadFile(kData / name, kData)) {
      if (d.ok()) {
        ASSERT_OK(session->Add(*std::move(d)));
      } else {
        session->AddFailure(name, d.status());
      }
    }
  }
  ASSERT_OK_AND_ASSIGN(IngestJob job, session->Finish());
  EXPECT_EQ(job.documents_ok, 6u);
  EXPECT_EQ(job.documents_failed, 2u) << "the two bad JSONL lines";
  EXPECT_GT(job.chunks, 10u);

  index::SearchRequest q;
  q.collection = "corpus";
  ASSERT_OK_AND_ASSIGN(auto qv,
                       local.Embed({"스탠포드 연구진이 만든 파운데이션 모델이라는 용어"}, nullptr));
  q.query = qv[0];
  q.k = 3;
  ASSERT_OK_AND_ASSIGN(index::SearchResult res, engine_->Search(q));
  ASSERT_FALSE(res.hits.empty());
  const Point& top = res.hits[0].point;
  EXPECT_EQ(top.document_id, "explore-and-compare-llms.ko.md");
  auto path = Meta<std::vector<std::string>>(top, "heading_path");
  ASSERT_FALSE(path.empty());
  EXPECT_EQ(path.back(), "파운데이션 모델 vs. LLMs") << top.text;
}

models::EmbedderIdentity Id(std::string model, size_t dim = 2,
                            std::string endpoint = "https://a.openai.azure.com") {
  return {"azure-openai", std::move(endpoint), std::move(model), dim};
}

TEST_F(PipelineTest, CacheWriteBufferIsVisibleAndFlushed) {
  EmbeddingCache cache(engine_.get(), EmbeddingCache::Options{4});
  const std::vector<std::string> texts = {"one", "two", "three"};
  const std::vector<std::vector<float>> vecs = {{1, 2}, {3, 4}, {5, 6}};
  ASSERT_OK(cache.Store(Id("m"), texts, vecs));
  ASSERT_OK_AND_ASSIGN(auto hits, cache.Lookup(Id("m"), texts));
  ASSERT_TRUE(hits[2].has_value()) << "buffered entries are visible";
  EXPECT_EQ(*hits[2], vecs[2]);
  ASSERT_OK_AND_ASSIGN(
      auto raw, engine_->GetAux(kEmbeddingCacheNamespace, EmbeddingCache::Key(Id("m"), "one")));
  EXPECT_FALSE(raw.has_value()) << "not written before the buffer fills";
  ASSERT_OK(cache.Store(Id("m"), {"four"}, {{7, 8}}));  // reaches 4 entries: written
  ASSERT_OK_AND_ASSIGN(
      raw, engine_->GetAux(kEmbeddingCacheNamespace, EmbeddingCache::Key(Id("m"), "one")));
  EXPECT_TRUE(raw.has_value());
  ASSERT_OK_AND_ASSIGN(hits, cache.Lookup(Id("m", 3), {"one"}));
  EXPECT_FALSE(hits[0].has_value()) << "another dimension is a miss";
  ASSERT_OK_AND_ASSIGN(hits, cache.Lookup(Id("other-model"), {"one"}));
  EXPECT_FALSE(hits[0].has_value());
}

// Issue 13 #6: the key was deployment name + 64-bit hash + length, so two Azure resources
// with the same deployment name (or an OpenAI and an Azure model named alike) shared entries.
TEST_F(PipelineTest, CacheKeysAreTheEmbeddersFullIdentity) {
  EmbeddingCache cache(engine_.get());
  const models::EmbedderIdentity east{"azure-openai", "https://east.openai.azure.com", "ada", 2};
  const models::EmbedderIdentity west{"azure-openai", "https://west.openai.azure.com", "ada", 2};
  const models::EmbedderIdentity openai{"openai", "https://api.openai.com/v1", "ada", 2};
  const models::EmbedderIdentity east_wide{"azure-openai", "https://east.openai.azure.com", "ada",
                                           4};
  ASSERT_OK(cache.Store(east, {"same text"}, {{1, 2}}));
  for (const auto& other : {west, openai}) {
    ASSERT_OK_AND_ASSIGN(auto hits, cache.Lookup(other, {"same text"}));
    EXPECT_FALSE(hits[0].has_value()) << other.provider << " " << other.endpoint;
  }
  ASSERT_OK(cache.Store(west, {"same text"}, {{3, 4}}));
  ASSERT_OK(cache.Store(openai, {"same text"}, {{5, 6}}));
  ASSERT_OK(cache.Store(east_wide, {"same text"}, {{7, 8, 9, 10}}));
  ASSERT_OK_AND_ASSIGN(auto e, cache.Lookup(east, {"same text"}));
  ASSERT_OK_AND_ASSIGN(auto w, cache.Lookup(west, {"same text"}));
  ASSERT_OK_AND_ASSIGN(auto o, cache.Lookup(openai, {"same text"}));
  ASSERT_OK_AND_ASSIGN(auto ew, cache.Lookup(east_wide, {"same text"}));
  EXPECT_EQ(e[0], (std::vector<float>{1, 2}));
  EXPECT_EQ(w[0], (std::vector<float>{3, 4}));
  EXPECT_EQ(o[0], (std::vector<float>{5, 6}));
  EXPECT_EQ(ew[0], (std::vector<float>{7, 8, 9, 10}));

  // Every field separates keys, fields cannot run into each other, and equal texts of equal
  // identities share one.
  const std::string base = EmbeddingCache::Key(east, "x");
  EXPECT_EQ(base.size(), 2u + 16u + 32u);
  EXPECT_EQ(base[0], '\x01');
  EXPECT_EQ(EmbeddingCache::Key(east, "x"), base);
  EXPECT_NE(EmbeddingCache::Key(east, "y"), base);
  EXPECT_NE(EmbeddingCache::Key({"", "https://east.openai.azure.com", "ada", 2}, "x"), base);
  EXPECT_NE(EmbeddingCache::Key({"azure-openai", "https://east.openai.azure.coma", "da", 2}, "x"),
            base);
  EXPECT_NE(EmbeddingCache::Key({"azure-openai", "https://east.openai.azure.com", "ada", 3}, "x"),
            base);

  // The remote embedders' identities carry provider and normalized endpoint.
  models::EmbedderConfig az;
  az.provider = models::EmbedderProvider::kAzureOpenAi;
  az.endpoint = "https://East.OpenAI.Azure.com/";
  az.deployment = "ada";
  az.api_key = "k";
  az.dimension = 2;
  ASSERT_OK_AND_ASSIGN(auto az_embedder, models::MakeEmbedder(az));
  EXPECT_EQ(az_embedder->identity(), east);
  az.endpoint = "https://west.openai.azure.com";
  ASSERT_OK_AND_ASSIGN(auto az_west, models::MakeEmbedder(az));
  EXPECT_EQ(az_west->model_id(), az_embedder->model_id()) << "why model_id() is not the key";
  EXPECT_NE(az_west->identity(), az_embedder->identity());
  models::EmbedderConfig oa;
  oa.provider = models::EmbedderProvider::kOpenAi;
  oa.model = "ada";
  oa.dimension = 2;
  ASSERT_OK_AND_ASSIGN(auto oa_embedder, models::MakeEmbedder(oa));
  EXPECT_EQ(oa_embedder->identity(), openai);
}

TEST_F(PipelineTest, CacheEvictsTheOldestAtItsBoundAndCounts) {
  ingestor_.reset();  // its cache would set the engine's bound first
  {
    EmbeddingCache cache(engine_.get(), EmbeddingCache::Options{0, 3});
    EXPECT_EQ(cache.stats().entries, 0u);
    EXPECT_EQ(cache.stats().max_entries, 3u);
    // One write each: within one write the order is the keys' order.
    ASSERT_OK(cache.Store(Id("m"), {"a"}, {{1, 1}}));
    ASSERT_OK(cache.Store(Id("m"), {"b"}, {{2, 2}}));
    ASSERT_OK(cache.Store(Id("m"), {"c"}, {{3, 3}}));
    EXPECT_EQ(cache.stats().entries, 3u);
    EXPECT_EQ(cache.stats().evictions, 0u);
    ASSERT_OK(cache.Store(Id("m"), {"d"}, {{4, 4}}));  // one past the bound: "a" goes
    EmbeddingCache::Stats st = cache.stats();
    EXPECT_EQ(st.entries, 3u);
    EXPECT_EQ(st.evictions, 1u);
    EXPECT_EQ(st.stores, 4u);
    ASSERT_OK_AND_ASSIGN(auto hits, cache.Lookup(Id("m"), {"a", "b", "c", "d", "zz"}));
    EXPECT_FALSE(hits[0].has_value()) << "the oldest was evicted";
    EXPECT_EQ(hits[1], (std::vector<float>{2, 2}));
    EXPECT_EQ(hits[3], (std::vector<float>{4, 4}));
    EXPECT_FALSE(hits[4].has_value());
    st = cache.stats();
    EXPECT_EQ(st.hits, 3u);
    EXPECT_EQ(st.misses, 2u);
    EXPECT_DOUBLE_EQ(st.hit_rate(), 0.6);
    ASSERT_OK_AND_ASSIGN(
        auto raw, engine_->GetAux(kEmbeddingCacheNamespace, EmbeddingCache::Key(Id("m"), "a")));
    EXPECT_FALSE(raw.has_value()) << "deleted from the engine, not only hidden";

    // Several past the bound in one buffered write.
    EmbeddingCache buffered(engine_.get(), EmbeddingCache::Options{4, 3});
    ASSERT_OK(buffered.Store(Id("m"), {"e", "f", "g", "h"}, {{5, 5}, {6, 6}, {7, 7}, {8, 8}}));
    st = buffered.stats();
    EXPECT_EQ(st.entries, 3u);
    EXPECT_EQ(st.evictions, 5u) << "shared with `cache`: one engine, one bound";
    ASSERT_OK_AND_ASSIGN(hits, buffered.Lookup(Id("m"), {"b", "c", "d", "e", "f", "g", "h"}));
    EXPECT_FALSE(hits[0].has_value() || hits[1].has_value() || hits[2].has_value())
        << "the older write goes first";
    size_t found = 0;
    for (const auto& h : hits) found += h.has_value();
    EXPECT_EQ(found, 3u) << "and one of the buffer's four (their order is the key order)";
  }
  // The bound and its bookkeeping survive a restart.
  engine_.reset();
  OpenEngine();
  EmbeddingCache reopened(engine_.get(), EmbeddingCache::Options{0, 3});
  EXPECT_EQ(reopened.stats().entries, 3u);
  ASSERT_OK(reopened.Store(Id("m"), {"i"}, {{9, 9}}));
  EXPECT_EQ(reopened.stats().entries, 3u);
  EXPECT_EQ(reopened.stats().evictions, 1u);
}

// Ingestors of several collections store into one engine at once: one bound, one count, and
// the engine holds exactly the bound's worth of entries afterwards.
TEST_F(PipelineTest, CacheBoundHoldsUnderConcurrentStoresFromSeveralObjects) {
  ingestor_.reset();
  constexpr size_t kThreads = 4, kPerThread = 200, kBound = 100;
  {
    EmbeddingCache a(engine_.get(), EmbeddingCache::Options{0, kBound});
    EmbeddingCache b(engine_.get(), EmbeddingCache::Options{8, kBound});
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (size_t t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        EmbeddingCache& cache = t % 2 == 0 ? a : b;
        for (size_t i = 0; i < kPerThread; ++i) {
          const std::string text = "thread " + std::to_string(t) + " text " + std::to_string(i);
          if (!cache.Store(Id("m"), {text}, {{float(t), float(i)}}).ok()) ++failures;
          if (!cache.Lookup(Id("m"), {text}).ok()) ++failures;
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    ASSERT_OK(b.Flush());
    EmbeddingCache::Stats st = a.stats();
    EXPECT_EQ(st.entries, kBound);
    EXPECT_EQ(st.stores, kThreads * kPerThread);
    EXPECT_EQ(st.evictions, kThreads * kPerThread - kBound);
    EXPECT_EQ(st.hits + st.misses, kThreads * kPerThread);
  }
  size_t entries = 0, order = 0;
  ASSERT_OK(engine_->ScanAux(kEmbeddingCacheNamespace, std::string{'\x01', 'e'},
                             [&](std::string_view, std::string_view) { return ++entries, true; }));
  ASSERT_OK(engine_->ScanAux(kEmbeddingCacheNamespace, std::string{'\x01', 'o'},
                             [&](std::string_view, std::string_view) { return ++order, true; }));
  EXPECT_EQ(entries, kBound);
  EXPECT_EQ(order, kBound);
}

TEST_F(PipelineTest, CacheDropsEntriesOfTheFirstKeyFormat) {
  // An engine that only the first format has written to (the fixture's Ingestor has already
  // opened its own with this format).
  Engine::Options o;
  o.data_dir = dir_.str() + "/legacy";
  o.sync_writes = false;
  o.snapshot_interval_seconds = 0;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Engine> legacy, Engine::Open(o));
  // As the first format wrote them: model id, NUL, 64-bit hash and length of the text.
  std::string old_key = "azure-openai/ada";
  old_key.push_back('\0');
  old_key.append(12, '\x07');
  std::string old_value(1, '\x01');
  const uint32_t dim = 2;
  old_value.append(reinterpret_cast<const char*>(&dim), 4);
  const float v[2] = {1, 2};
  old_value.append(reinterpret_cast<const char*>(v), sizeof(v));
  ASSERT_OK(legacy->PutAux(kEmbeddingCacheNamespace, {{old_key, old_value}}));
  {
    EmbeddingCache cache(legacy.get());
    EXPECT_EQ(cache.stats().legacy_dropped, 1u);
    EXPECT_EQ(cache.stats().entries, 0u);
    ASSERT_OK_AND_ASSIGN(auto raw, legacy->GetAux(kEmbeddingCacheNamespace, old_key));
    EXPECT_FALSE(raw.has_value());
  }
  legacy.reset();
}

TEST(JobTest, JsonRoundTrip) {
  IngestJob j;
  j.id = "job-x";
  j.collection = "kb";
  j.state = JobState::kCompleted;
  j.documents_ok = 3;
  j.tokens = 1234;
  j.failures.push_back({"a.md", "INVALID_ARGUMENT: a.md: invalid UTF-8 at byte 3"});
  j.failures_dropped = 7;
  j.started_unix_ms = 1700000000000;
  ASSERT_OK_AND_ASSIGN(IngestJob back, JobFromJson(JobToJson(j)));
  EXPECT_EQ(back.id, j.id);
  EXPECT_EQ(back.state, JobState::kCompleted);
  EXPECT_EQ(back.documents_ok, 3u);
  EXPECT_EQ(back.tokens, 1234u);
  EXPECT_EQ(back.failures[0].message, j.failures[0].message);
  EXPECT_EQ(back.failures_dropped, 7u);
  EXPECT_EQ(back.started_unix_ms, j.started_unix_ms);
  EXPECT_FALSE(JobFromJson("{not json").ok());
  EXPECT_NE(NewJobId(), NewJobId());
}

}  // namespace
}  // namespace ragd::ingest
