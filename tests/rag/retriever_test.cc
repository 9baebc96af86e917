// rag::Retriever (rag/retriever.h) on a real engine and real embedders: the local one in
// process, and an azure-openai one against the fake server on 127.0.0.1. What is checked here is
// the rule that decides where a Retrieve or Answer runs: IsCpuBound may let it run on gRPC's own
// thread, so it must be false whenever the call would wait on the network.

#include "rag/retriever.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "index/engine/engine.h"
#include "rag/collection_binding.h"
#include "rag/engine_handle.h"
#include "tests/testing/fake_openai_server.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace ragd::services {
namespace {

constexpr char kKey[] = "retriever-test-key";

class RetrieverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::FakeOpenAiServerOptions fake;
    fake.api_key = kKey;
    auto server = testing::FakeOpenAiServer::Start(fake);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();

    rag::NamedEmbedderConfig ada;
    ada.name = "ada";
    ada.config.provider = models::EmbedderProvider::kAzureOpenAi;
    ada.config.endpoint = server_->endpoint();
    ada.config.deployment = "ada";
    ada.config.api_key = kKey;
    ada.config.timeout_ms = 5000;
    ASSERT_OK_AND_ASSIGN(embedders_, rag::EmbedderRegistry::Create({ada}));

    index::Engine::Options o;
    o.data_dir = dir_.str() + "/db";
    o.sync_writes = false;  // nothing here pulls the plug
    o.snapshot_interval_seconds = 0;
    ASSERT_OK_AND_ASSIGN(engine_, index::Engine::Open(o));
    handle_.Set(engine_.get());
    Create("local_kb", "local");
    Create("remote_kb", "ada");
    retriever_ =
        std::make_unique<rag::Retriever>(&handle_, embedders_.get(), rag::RetrieverOptions{});
  }

  void Create(const std::string& name, const std::string& embedder, bool lexical = false) {
    ASSERT_OK_AND_ASSIGN(rag::EmbedderBinding binding, embedders_->Resolve(embedder, 0));
    rag::CollectionBinding b;
    b.embedder = binding;
    index::CollectionSpec spec;
    spec.name = name;
    spec.dimension = binding.dimension;
    spec.index.kind = index::IndexKind::kFlat;
    spec.lexical.enabled = lexical;
    spec.attributes = rag::EncodeBinding(b);
    ASSERT_OK(engine_->CreateCollection(spec));
  }

  rag::TextQuery Query(const std::string& collection, const std::string& text) {
    rag::TextQuery q;
    q.collection = collection;
    q.text = text;
    return q;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::FakeOpenAiServer> server_;
  std::unique_ptr<rag::EmbedderRegistry> embedders_;
  std::unique_ptr<index::Engine> engine_;
  rag::EngineHandle handle_;
  std::unique_ptr<rag::Retriever> retriever_;
};

TEST_F(RetrieverTest, CpuBoundOnlyWhenNoNetworkCallIsNeeded) {
  // The local embedder runs in process: always CPU-bound, cached or not.
  EXPECT_TRUE(retriever_->IsCpuBound("local_kb", "임베딩이란 무엇인가요?"));

  // A remote embedder is not, until the query's vector is in the cache.
  const std::string question = "what is an embedding?";
  EXPECT_FALSE(retriever_->IsCpuBound("remote_kb", question));
  const size_t before = server_->counters().embeddings;
  ASSERT_OK_AND_ASSIGN(rag::TextQueryResult first,
                       retriever_->Retrieve(Query("remote_kb", question)));
  EXPECT_EQ(server_->counters().embeddings, before + 1) << "the query went to the endpoint";
  EXPECT_TRUE(first.hits.empty());  // an empty collection, but a real round trip
  EXPECT_TRUE(retriever_->IsCpuBound("remote_kb", question));
  // ...and the cached answer is what the next Retrieve uses: no second request.
  ASSERT_OK(retriever_->Retrieve(Query("remote_kb", question)).status());
  EXPECT_EQ(server_->counters().embeddings, before + 1);
  // Another text is not cached.
  EXPECT_FALSE(retriever_->IsCpuBound("remote_kb", question + "?"));

  // Unknown collections are not "CPU-bound": the executor path reports NOT_FOUND.
  EXPECT_FALSE(retriever_->IsCpuBound("nope", question));
  EXPECT_EQ(retriever_->Retrieve(Query("nope", question)).status().code(),
            absl::StatusCode::kNotFound);

  // While ragd shuts down nothing is CPU-bound, and Retrieve says UNAVAILABLE.
  handle_.BeginShutdown();
  EXPECT_FALSE(retriever_->IsCpuBound("local_kb", question));
  EXPECT_EQ(retriever_->Retrieve(Query("local_kb", question)).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(RetrieverTest, NoCacheMeansARemoteQueryIsNeverCpuBound) {
  rag::RetrieverOptions no_cache;
  no_cache.query_cache_entries = 0;
  rag::Retriever r(&handle_, embedders_.get(), no_cache);
  ASSERT_OK(r.Retrieve(Query("remote_kb", "twice")).status());
  EXPECT_FALSE(r.IsCpuBound("remote_kb", "twice"));
  EXPECT_TRUE(r.IsCpuBound("local_kb", "twice"));
}

// The mode rule: hybrid by default when the collection has a lexical index, vector otherwise;
// a mode per call; TEXT asks the embedder nothing.
TEST_F(RetrieverTest, ModeDefaultsToHybridWithALexicalIndexAndTextEmbedsNothing) {
  Create("remote_lex", "ada", /*lexical=*/true);
  ASSERT_OK_AND_ASSIGN(auto spec, engine_->GetCollectionSpec("remote_lex"));
  std::vector<index::Point> points;
  for (int i = 0; i < 3; ++i) {
    index::Point p;
    p.id = "p" + std::to_string(i);
    p.vector.assign(spec.dimension, 0.0f);
    p.vector[i] = 1;
    p.text = i == 1 ? "rocksdb compaction stalls" : "something else entirely";
    points.push_back(std::move(p));
  }
  ASSERT_OK(engine_->Upsert("remote_lex", points).status());

  size_t embeddings = server_->counters().embeddings;
  ASSERT_OK_AND_ASSIGN(rag::TextQueryResult hybrid,
                       retriever_->Retrieve(Query("remote_lex", "compaction stalls")));
  EXPECT_EQ(hybrid.mode, index::SearchMode::kHybrid);
  EXPECT_EQ(server_->counters().embeddings, embeddings + 1);
  ASSERT_FALSE(hybrid.hits.empty());
  bool p1_has_text_leg = false;
  for (const auto& h : hybrid.hits) {
    if (h.point.id == "p1") p1_has_text_leg = h.text_leg.has_value() && h.text_leg->rank == 1;
  }
  EXPECT_TRUE(p1_has_text_leg);

  embeddings = server_->counters().embeddings;
  rag::TextQuery text = Query("remote_lex", "compaction, uncached wording");
  text.mode = index::SearchMode::kText;
  ASSERT_OK_AND_ASSIGN(rag::TextQueryResult lexical, retriever_->Retrieve(text));
  EXPECT_EQ(server_->counters().embeddings, embeddings) << "TEXT needs no embedding";
  EXPECT_EQ(lexical.embedder, "");
  ASSERT_EQ(lexical.hits.size(), 1u);
  EXPECT_EQ(lexical.hits[0].point.id, "p1");
  EXPECT_FALSE(lexical.hits[0].vector_leg.has_value());

  rag::TextQuery vector = Query("remote_lex", "compaction stalls");
  vector.mode = index::SearchMode::kVector;
  ASSERT_OK_AND_ASSIGN(rag::TextQueryResult by_vector, retriever_->Retrieve(vector));
  for (const auto& h : by_vector.hits) EXPECT_FALSE(h.text_leg.has_value());

  // Without a lexical index: vector by default, TEXT refused before any embedding.
  ASSERT_OK_AND_ASSIGN(rag::TextQueryResult plain,
                       retriever_->Retrieve(Query("remote_kb", "compaction stalls")));
  EXPECT_EQ(plain.mode, index::SearchMode::kVector);
  embeddings = server_->counters().embeddings;
  rag::TextQuery refused = Query("remote_kb", "another uncached text");
  refused.mode = index::SearchMode::kHybrid;
  EXPECT_EQ(retriever_->Retrieve(refused).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(server_->counters().embeddings, embeddings);
}

// retrieval.text_feedback_* (RetrieverOptions::text_feedback) reaches the engine's text leg:
// "beta" alone finds one chunk; with RM3 from that chunk ("alpha beta") the expanded query
// also finds the chunk that only says "alpha" (the weights are checked in engine_feedback_test).
TEST_F(RetrieverTest, TextFeedbackOptionExpandsTheTextLeg) {
  Create("local_lex", "local", /*lexical=*/true);
  ASSERT_OK_AND_ASSIGN(auto spec, engine_->GetCollectionSpec("local_lex"));
  const std::vector<std::string> texts = {"alpha beta", "gamma", "alpha alpha delta", "epsilon"};
  std::vector<index::Point> points;
  for (size_t i = 0; i < texts.size(); ++i) {
    index::Point p;
    p.id = "p" + std::to_string(i);
    p.vector.assign(spec.dimension, 0.0f);
    p.vector[i] = 1;
    p.text = texts[i];
    points.push_back(std::move(p));
  }
  ASSERT_OK(engine_->Upsert("local_lex", points).status());
  rag::TextQuery q = Query("local_lex", "beta");
  q.mode = index::SearchMode::kText;
  ASSERT_OK_AND_ASSIGN(rag::TextQueryResult plain, retriever_->Retrieve(q));
  ASSERT_EQ(plain.hits.size(), 1u);
  EXPECT_EQ(plain.hits[0].point.id, "p0");

  rag::RetrieverOptions options;
  options.text_feedback.docs = 1;
  options.text_feedback.max_df_ratio = 1;  // 4 chunks: every term is in a quarter of them
  rag::Retriever with_feedback(&handle_, embedders_.get(), options);
  ASSERT_OK_AND_ASSIGN(rag::TextQueryResult expanded, with_feedback.Retrieve(q));
  ASSERT_EQ(expanded.hits.size(), 2u);
  EXPECT_EQ(expanded.hits[0].point.id, "p0");
  EXPECT_EQ(expanded.hits[1].point.id, "p2");
}

}  // namespace
}  // namespace ragd::services
