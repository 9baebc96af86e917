// rag/ without gRPC: a collection bound with BindCollection, documents ingested through the
// IngestorCache, read back whole with ingest::ReadDocument, source selection, and whole Answer
// calls with the local model reported to a recording AnswerSink — on a real engine in a
// temporary directory.

#include "rag/answerer.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "index/engine/engine.h"
#include "ingest/chunk_schema.h"
#include "rag/collection_binding.h"
#include "rag/engine_handle.h"
#include "rag/ingestors.h"
#include "rag/retriever.h"
#include "rag/source_selection.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace ragd::rag {
namespace {

// Records every event in order; Wait() returns once OnComplete was called.
class RecordingSink final : public AnswerSink {
 public:
  void OnSources(const AnswerSources& sources) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back("sources");
    sources_used_ = sources.used;
    for (size_t n = 0; n < sources.used; ++n) {
      cited_ids_.push_back(sources.hits[sources.selection.order[n]].point.id);
    }
  }
  bool OnDelta(size_t model, std::string_view text) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (events_.empty() || events_.back() != "delta") events_.push_back("delta");
    text_ += std::string(text);
    return true;
  }
  void OnModelEnd(size_t model, const ModelRun& run, const AnswerSources&) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back("end:" + run.name);
    model_status_ = run.status;
    prompt_tokens_ = run.prompt.prompt_tokens;
  }
  void OnComplete(const absl::Status& status) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back("complete");
    status_ = status;
    done_ = true;
    cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, std::chrono::seconds(30), [&] { return done_; }));
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::vector<std::string> events_;
  std::vector<std::string> cited_ids_;
  size_t sources_used_ = 0;
  std::string text_;
  absl::Status model_status_;
  absl::Status status_;
  size_t prompt_tokens_ = 0;
};

class AnswererTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(embedders_, EmbedderRegistry::Create({}));
    index::Engine::Options o;
    o.data_dir = dir_.str() + "/db";
    o.sync_writes = false;  // nothing here pulls the plug
    o.snapshot_interval_seconds = 0;
    ASSERT_OK_AND_ASSIGN(engine_, index::Engine::Open(o));
    handle_.Set(engine_.get());

    BindRequest bind;
    bind.embedder = "local";
    bind.max_tokens = 64;
    bind.overlap_tokens = 8;
    ASSERT_OK_AND_ASSIGN(CollectionBinding binding,
                         BindCollection(embedders_.get(), bind, ChunkingBinding{}));
    index::CollectionSpec spec;
    spec.name = "kb";
    spec.dimension = binding.embedder.dimension;
    spec.index.kind = index::IndexKind::kFlat;
    spec.attributes = EncodeBinding(binding);
    ASSERT_OK(engine_->CreateCollection(spec));

    ingestors_ = std::make_unique<IngestorCache>(embedders_.get(), IngestorCacheOptions{});
    Ingest("embeddings", "Embeddings",
           "An embedding is a vector of numbers that represents the meaning of a text. "
           "text-embedding-ada-002 produces vectors of 1536 dimensions.");
    Ingest("tokens", "Tokens",
           "A token is a piece of text. Models count their context window in tokens, and "
           "cl100k_base is the encoding of gpt-4 and gpt-35-turbo.");

    retriever_ = std::make_unique<Retriever>(&handle_, embedders_.get(), RetrieverOptions{});
    pool_ = std::make_unique<ChatModelPool>(&catalog_);
    resources_.retriever = retriever_.get();
    resources_.prepare = &prepare_;
    resources_.streams = &streams_;
    resources_.deadlines = &deadlines_;
    resources_.catalog = &catalog_;
    resources_.models = pool_.get();
    resources_.settings = &settings_;
    resources_.active = &active_;
  }

  void Ingest(const std::string& id, const std::string& title, const std::string& text) {
    ASSERT_OK_AND_ASSIGN(IngestorCache::Bound bound, ingestors_->For(engine_.get(), "kb"));
    ingest::Document doc;
    doc.id = id;
    doc.title = title;
    doc.text = text;
    doc.content_hash = ingest::ContentHash(doc);
    ingest::DocumentResult r = bound.ingestor->IngestDocument("kb", doc);
    ASSERT_TRUE(r.status.ok()) << r.status;
    ASSERT_GT(r.chunks, 0u);
  }

  AnswerQuestion Question(const std::string& text) {
    AnswerQuestion q;
    q.collection = "kb";
    q.question = text;
    return q;
  }

  testing::TempDir dir_;
  std::unique_ptr<EmbedderRegistry> embedders_;
  std::unique_ptr<index::Engine> engine_;
  EngineHandle handle_;
  std::unique_ptr<IngestorCache> ingestors_;
  std::unique_ptr<Retriever> retriever_;
  models::ModelCatalog catalog_;
  std::unique_ptr<ChatModelPool> pool_;
  AnswerSettings settings_;
  std::atomic<size_t> active_{0};
  concurrency::BoundedExecutor prepare_{1, 4};
  concurrency::StreamThreads streams_{4};
  concurrency::DeadlineTimer deadlines_;
  AnswerResources resources_;
};

TEST_F(AnswererTest, BindCollectionValidatesEmbedderAndChunking) {
  BindRequest bind;
  bind.embedder = "local";
  bind.max_tokens = 32;
  bind.overlap_tokens = 32;  // overlap must stay below the chunk size
  absl::StatusOr<CollectionBinding> b = BindCollection(embedders_.get(), bind, ChunkingBinding{});
  ASSERT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(b.status().message().rfind("chunking: ", 0), 0u) << b.status();

  bind = BindRequest{};
  bind.embedder = "no-such-embedder";
  EXPECT_EQ(BindCollection(embedders_.get(), bind, ChunkingBinding{}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(BindCollection(nullptr, bind, ChunkingBinding{}).status().code(),
            absl::StatusCode::kFailedPrecondition);

  bind.embedder = "local";
  ASSERT_OK_AND_ASSIGN(CollectionBinding defaults,
                       BindCollection(embedders_.get(), bind, ChunkingBinding{100, 10}));
  EXPECT_EQ(defaults.chunking.max_tokens, 100);
  EXPECT_EQ(defaults.chunking.overlap_tokens, 10);
  EXPECT_EQ(defaults.embedder.name, "local");
  EXPECT_GT(defaults.embedder.dimension, 0u);
}

TEST_F(AnswererTest, ReadDocumentRebuildsTheDocumentFromItsChunks) {
  ASSERT_OK_AND_ASSIGN(ingest::StoredDocument doc,
                       ingest::ReadDocument(*engine_, "kb", "embeddings", false));
  EXPECT_EQ(doc.id, "embeddings");
  EXPECT_EQ(doc.title, "Embeddings");
  EXPECT_EQ(doc.content_hash.size(), 16u);
  ASSERT_FALSE(doc.chunks.empty());
  for (size_t i = 0; i < doc.chunks.size(); ++i) {
    EXPECT_EQ(doc.chunks[i].id, ingest::ChunkId("embeddings", i));
  }
  EXPECT_EQ(ingest::ReadDocument(*engine_, "kb", "nope", false).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ingest::ReadDocument(*engine_, "other", "embeddings", false).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(AnswererTest, IngestorCacheSharesOneIngestorPerCollection) {
  ASSERT_OK_AND_ASSIGN(IngestorCache::Bound a, ingestors_->For(engine_.get(), "kb"));
  ASSERT_OK_AND_ASSIGN(IngestorCache::Bound b, ingestors_->For(engine_.get(), "kb"));
  EXPECT_EQ(a.ingestor.get(), b.ingestor.get());
  EXPECT_EQ(a.binding.chunking.max_tokens, 64);
  EXPECT_EQ(ingestors_->For(engine_.get(), "missing").status().code(), absl::StatusCode::kNotFound);
  ingestors_->Clear();
  ASSERT_OK_AND_ASSIGN(IngestorCache::Bound c, ingestors_->For(engine_.get(), "kb"));
  EXPECT_NE(c.ingestor.get(), nullptr);
}

TEST_F(AnswererTest, SelectionDropsNearDuplicatesThenCaps) {
  std::vector<PromptSource> s(4);
  s[0].text = "Embeddings are vectors that represent meaning.";
  s[1].text = "Embeddings are vectors that represent meaning.";  // duplicate of 0
  s[2].text = "Tokens are pieces of text counted by the tokenizer.";
  s[3].text = "Prices are per thousand tokens of input and output.";
  SelectionOptions o;
  o.max_sources = 2;
  ASSERT_OK(o.Validate());
  Selection sel = SelectSources(models::Tokenizer::Get(models::Encoding::kCl100kBase), s, o);
  EXPECT_EQ(sel.order, (std::vector<size_t>{0, 2}));
  EXPECT_EQ(sel.duplicates, (std::vector<size_t>{1}));
  EXPECT_EQ(sel.capped, (std::vector<size_t>{3}));
  o.dedup_threshold = 0;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AnswererTest, AnAnswerReportsSourcesThenTextThenEndsInOrder) {
  ASSERT_OK_AND_ASSIGN(AnswerPlan plan,
                       MakeAnswerPlan(resources_, Question("What is an embedding?")));
  EXPECT_TRUE(plan.cpu_bound);  // local embedder: no network round trip
  RecordingSink sink;
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<Answer> answer,
                       Answer::Start(resources_, std::move(plan), &sink));
  sink.Wait();
  ASSERT_OK(sink.status_);
  ASSERT_OK(sink.model_status_);
  ASSERT_GE(sink.events_.size(), 4u);
  EXPECT_EQ(sink.events_.front(), "sources");
  EXPECT_EQ(sink.events_[1], "delta");
  EXPECT_EQ(sink.events_[sink.events_.size() - 2], "end:local");
  EXPECT_EQ(sink.events_.back(), "complete");
  ASSERT_GE(sink.sources_used_, 1u);
  EXPECT_EQ(sink.cited_ids_[0].rfind("embeddings#", 0), 0u) << sink.cited_ids_[0];
  EXPECT_NE(sink.text_.find("[1]"), std::string::npos) << sink.text_;
  EXPECT_GT(sink.prompt_tokens_, 0u);
  EXPECT_EQ(active_.load(), 0u);
}

TEST_F(AnswererTest, PlansAreCheckedBeforeAnythingRuns) {
  AnswerQuestion twice = Question("q?");
  twice.models = {"local", "local"};
  EXPECT_EQ(MakeAnswerPlan(resources_, twice).status().code(), absl::StatusCode::kInvalidArgument);
  AnswerQuestion unknown = Question("q?");
  unknown.models = {"gpt-99"};
  EXPECT_EQ(MakeAnswerPlan(resources_, unknown).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(MakeAnswerPlan(resources_, Question("")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeAnswerPlan(resources_, Question("\xff\xfe")).status().code(),
            absl::StatusCode::kInvalidArgument);
  AnswerQuestion lambda = Question("q?");
  lambda.mmr_lambda = 1.5;
  EXPECT_EQ(MakeAnswerPlan(resources_, lambda).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AnswererTest, OverTheConcurrencyLimitNothingStarts) {
  settings_.max_concurrent_answers = 0;
  ASSERT_OK_AND_ASSIGN(AnswerPlan plan, MakeAnswerPlan(resources_, Question("embedding?")));
  RecordingSink sink;
  absl::StatusOr<std::shared_ptr<Answer>> answer =
      Answer::Start(resources_, std::move(plan), &sink);
  EXPECT_EQ(answer.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(sink.events_.empty());
  EXPECT_EQ(active_.load(), 0u);
}

TEST_F(AnswererTest, AnAnswerCancelledBeforeItStartsCompletesCancelled) {
  // One prepare worker, kept busy, so that the call waits in the queue and is cancelled there.
  std::mutex gate;
  gate.lock();
  ASSERT_TRUE(prepare_.TrySubmit([&] { std::lock_guard<std::mutex> wait(gate); }));
  ASSERT_OK_AND_ASSIGN(AnswerPlan plan, MakeAnswerPlan(resources_, Question("embedding?")));
  plan.cpu_bound = false;  // queued, not run inline
  RecordingSink sink;
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<Answer> answer,
                       Answer::Start(resources_, std::move(plan), &sink));
  answer->Cancel();
  gate.unlock();
  sink.Wait();
  EXPECT_EQ(sink.status_.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(sink.events_, (std::vector<std::string>{"complete"}));
}

}  // namespace
}  // namespace ragd::rag
