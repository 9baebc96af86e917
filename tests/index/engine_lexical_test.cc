// The engine's lexical index and hybrid search (issue 15): text and hybrid results against
// scores worked out here from the BM25 and fusion formulas (not from ragd's code), filters on
// both legs, replaces and deletes, restarts, replays, a SIGKILL after acknowledged writes,
// recovery of lost term records, Verify, the catalog's old format, and concurrent rewrites.

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "index/engine/engine.h"
#include "index/engine/leg_governor.h"
#include "index/engine/validate.h"
#include "index/storage/encoding.h"
#include "index/storage/store.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

extern char** environ;

namespace ragd::index {
namespace {

constexpr uint32_t kDim = 4;

CollectionSpec LexicalSpec4(const std::string& name,
                            lexical::AnalyzerKind analyzer = lexical::AnalyzerKind::kSimple,
                            uint32_t shards = 1) {
  CollectionSpec s;
  s.name = name;
  s.dimension = kDim;
  s.metric = Metric::kCosine;
  s.index.kind = IndexKind::kHnsw;
  s.shards = shards;
  s.lexical.enabled = true;
  s.lexical.analyzer = analyzer;
  return s;
}

Point P(std::string id, std::vector<float> v, std::string text, std::string lang = "en") {
  Point p;
  p.id = std::move(id);
  p.vector = std::move(v);
  p.text = std::move(text);
  p.document_id = "doc-" + p.id;
  p.metadata["lang"] = std::move(lang);
  return p;
}

// Four points whose vector and text rankings differ (see the tests for the expected orders).
std::vector<Point> Corpus() {
  return {
      P("a", {1, 0, 0, 0}, "alpha beta", "en"),
      P("b", {0.1f, 1, 0, 0}, "gamma", "en"),
      P("c", {0.2f, 0, 1, 0}, "alpha alpha delta", "ko"),
      P("d", {1, 1, 0, 0}, "epsilon", "ko"),
  };
}

// cos(query e1, v)
double CosE1(const std::vector<float>& v) {
  double n = 0;
  for (float x : v) n += static_cast<double>(x) * x;
  return v[0] / std::sqrt(n);
}

// BM25 of one query term, written out from Robertson & Zaragoza with Lucene's IDF.
double Bm25(double tf, double dl, double avgdl, double n, double df, double k1 = 1.2,
            double b = 0.75) {
  const double idf = std::log(1 + (n - df + 0.5) / (df + 0.5));
  return idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl));
}

std::vector<std::string> Ids(const SearchResult& r) {
  std::vector<std::string> ids;
  for (const auto& h : r.hits) ids.push_back(h.point.id);
  return ids;
}

class EngineLexicalTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  Engine::Options Options() const {
    Engine::Options o;
    o.data_dir = dir_.str();
    o.snapshot_interval_seconds = 0;
    o.search_leg_threads = leg_threads_;
    return o;
  }
  void Open() {
    engine_.reset();
    ASSERT_OK_AND_ASSIGN(engine_, Engine::Open(Options()));
  }
  void Restart() {
    ASSERT_OK(engine_->Close());
    Open();
  }
  SearchRequest Req(SearchMode mode, std::string text, size_t k = 10) const {
    SearchRequest r;
    r.collection = "c";
    r.mode = mode;
    r.query = {1, 0, 0, 0};
    r.text = std::move(text);
    r.k = k;
    return r;
  }
  void ExpectVerified(const std::string& name = "c") {
    ASSERT_OK_AND_ASSIGN(auto report, engine_->Verify(name));
    EXPECT_TRUE(report.ok()) << "missing_from_lexical " << report.missing_from_lexical
                             << " lexical_orphans " << report.lexical_orphans
                             << " missing_from_index " << report.missing_from_index;
  }

  testing::TempDir dir_;
  std::unique_ptr<Engine> engine_;
  int leg_threads_ = Engine::Options{}.search_leg_threads;
};

TEST_F(EngineLexicalTest, TextSearchScoresAreBm25) {
  ASSERT_OK(engine_->CreateCollection(LexicalSpec4("c")));
  ASSERT_OK(engine_->Upsert("c", Corpus()).status());
  ASSERT_OK_AND_ASSIGN(auto r, engine_->Search(Req(SearchMode::kText, "Alpha")));
  // N = 4, lengths 2, 1, 3, 1 (avgdl 1.75); "alpha" in a (tf 1) and c (tf 2).
  ASSERT_EQ(Ids(r), (std::vector<std::string>{"c", "a"}));
  EXPECT_NEAR(r.hits[0].score, Bm25(2, 3, 1.75, 4, 2), 1e-5);
  EXPECT_NEAR(r.hits[1].score, Bm25(1, 2, 1.75, 4, 2), 1e-5);
  ASSERT_TRUE(r.hits[0].text_leg.has_value());
  EXPECT_EQ(r.hits[0].text_leg->rank, 1u);
  EXPECT_EQ(r.hits[1].text_leg->rank, 2u);
  EXPECT_FALSE(r.hits[0].vector_leg.has_value());
  EXPECT_EQ(r.hits[0].point.text, "alpha alpha delta");  // payload as for vector search

  // Two query terms add up; a term no point holds adds nothing; no term at all finds nothing.
  ASSERT_OK_AND_ASSIGN(r, engine_->Search(Req(SearchMode::kText, "gamma alpha zzz")));
  ASSERT_EQ(r.hits.size(), 3u);
  EXPECT_EQ(r.hits[0].point.id, "b");
  EXPECT_NEAR(r.hits[0].score, Bm25(1, 1, 1.75, 4, 1), 1e-5);
  ASSERT_OK_AND_ASSIGN(r, engine_->Search(Req(SearchMode::kText, "...")));
  EXPECT_TRUE(r.hits.empty());
}

TEST_F(EngineLexicalTest, HybridFusesByReciprocalRankAndReportsLegs) {
  ASSERT_OK(engine_->CreateCollection(LexicalSpec4("c")));
  ASSERT_OK(engine_->Upsert("c", Corpus()).status());
  // Vector leg (cosine to e1): a 1.0, d 0.707, c 0.196, b 0.0995 -> ranks a1 d2 c3 b4.
  // Text leg ("alpha"): c 1, a 2. RRF(60): a 1/61+1/62, c 1/63+1/61, d 1/62, b 1/64.
  ASSERT_OK_AND_ASSIGN(auto r, engine_->Search(Req(SearchMode::kHybrid, "alpha")));
  ASSERT_EQ(Ids(r), (std::vector<std::string>{"a", "c", "d", "b"}));
  EXPECT_NEAR(r.hits[0].score, 1.0 / 61 + 1.0 / 62, 1e-6);
  EXPECT_NEAR(r.hits[1].score, 1.0 / 63 + 1.0 / 61, 1e-6);
  EXPECT_NEAR(r.hits[2].score, 1.0 / 62, 1e-6);
  EXPECT_NEAR(r.hits[3].score, 1.0 / 64, 1e-6);
  const auto& a = r.hits[0];
  ASSERT_TRUE(a.vector_leg && a.text_leg);
  EXPECT_EQ(a.vector_leg->rank, 1u);
  EXPECT_NEAR(a.vector_leg->score, 1.0, 1e-5);
  EXPECT_EQ(a.text_leg->rank, 2u);
  EXPECT_NEAR(a.text_leg->score, Bm25(1, 2, 1.75, 4, 2), 1e-5);
  EXPECT_EQ(r.hits[1].vector_leg->rank, 3u);
  EXPECT_EQ(r.hits[1].text_leg->rank, 1u);
  EXPECT_TRUE(r.hits[2].vector_leg.has_value());
  EXPECT_FALSE(r.hits[2].text_leg.has_value());

  // The constant is per call (rrf_k 1: a 1/2 + 1/3, c 1/4 + 1/2, d 1/3, b 1/5).
  auto req = Req(SearchMode::kHybrid, "alpha");
  req.hybrid.rrf_k = 1;
  ASSERT_OK_AND_ASSIGN(r, engine_->Search(req));
  ASSERT_EQ(Ids(r), (std::vector<std::string>{"a", "c", "d", "b"}));
  EXPECT_NEAR(r.hits[0].score, 1.0 / 2 + 1.0 / 3, 1e-6);
  EXPECT_NEAR(r.hits[1].score, 1.0 / 4 + 1.0 / 2, 1e-6);
  EXPECT_NEAR(r.hits[2].score, 1.0 / 3, 1e-6);
  EXPECT_NEAR(r.hits[3].score, 1.0 / 5, 1e-6);

  // Candidate depth per leg: with one candidate each, only a (vector) and c (text) remain.
  req = Req(SearchMode::kHybrid, "alpha", 1);
  req.hybrid.vector_candidates = 1;
  req.hybrid.text_candidates = 1;
  ASSERT_OK_AND_ASSIGN(r, engine_->Search(req));
  ASSERT_EQ(r.hits.size(), 1u);  // a and c tie at 1/61; ties go to the smaller id
  EXPECT_EQ(r.hits[0].point.id, "a");
  EXPECT_FALSE(r.hits[0].text_leg.has_value());
}

TEST_F(EngineLexicalTest, HybridWeightedSumOfMinMaxNormalisedScores) {
  ASSERT_OK(engine_->CreateCollection(LexicalSpec4("c")));
  const auto corpus = Corpus();
  ASSERT_OK(engine_->Upsert("c", corpus).status());
  std::map<std::string, double> cos;
  for (const auto& p : corpus) cos[p.id] = CosE1(p.vector);
  const double lo = cos["b"], hi = cos["a"];
  auto nv = [&](const std::string& id) { return (cos[id] - lo) / (hi - lo); };
  for (double alpha : {0.5, 0.9}) {
    auto req = Req(SearchMode::kHybrid, "alpha");
    req.hybrid.fusion = Fusion::kWeighted;
    req.hybrid.alpha = alpha;
    ASSERT_OK_AND_ASSIGN(auto r, engine_->Search(req));
    // Text: c normalises to 1, a to 0.
    std::map<std::string, double> expected = {{"a", alpha * nv("a") + (1 - alpha) * 0},
                                              {"b", alpha * nv("b")},
                                              {"c", alpha * nv("c") + (1 - alpha) * 1},
                                              {"d", alpha * nv("d")}};
    ASSERT_EQ(r.hits.size(), 4u);
    for (size_t i = 0; i < r.hits.size(); ++i) {
      EXPECT_NEAR(r.hits[i].score, expected[r.hits[i].point.id], 1e-5) << r.hits[i].point.id;
      if (i > 0) EXPECT_GE(r.hits[i - 1].score, r.hits[i].score);
    }
    EXPECT_EQ(r.hits[0].point.id, alpha == 0.5 ? "c" : "a");
  }
}

TEST_F(EngineLexicalTest, FilterAppliesToBothLegs) {
  ASSERT_OK(engine_->CreateCollection(LexicalSpec4("c")));
  ASSERT_OK(engine_->Upsert("c", Corpus()).status());
  auto req = Req(SearchMode::kHybrid, "alpha beta");
  req.filter = Filter::Cond(Equals("lang", std::string("ko")));
  ASSERT_OK_AND_ASSIGN(auto r, engine_->Search(req));
  // Among c and d: vector d1 c2; text c1 (a, the "beta" holder, is filtered out).
  ASSERT_EQ(Ids(r), (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(r.hits[0].vector_leg->rank, 2u);
  EXPECT_EQ(r.hits[0].text_leg->rank, 1u);
  EXPECT_FALSE(r.hits[1].text_leg.has_value());
  req.mode = SearchMode::kText;
  req.filter = Filter::Cond(Equals("lang", std::string("en")));
  ASSERT_OK_AND_ASSIGN(r, engine_->Search(req));
  EXPECT_EQ(Ids(r), (std::vector<std::string>{"a"}));
}

TEST_F(EngineLexicalTest, AnalyzersStemEnglishAndSplitKorean) {
  auto spec = LexicalSpec4("c", lexical::AnalyzerKind::kAuto);
  ASSERT_OK(engine_->CreateCollection(spec));
  ASSERT_OK(engine_
                ->Upsert("c", {P("en", {1, 0, 0, 0}, "Running the databases"),
                               P("ko", {0, 1, 0, 0}, "모델을 미세조정하는 방법"),
                               P("x", {0, 0, 1, 0}, "unrelated words")})
                .status());
  ASSERT_OK_AND_ASSIGN(auto r, engine_->Search(Req(SearchMode::kText, "database runs")));
  EXPECT_EQ(Ids(r), (std::vector<std::string>{"en"}));
  ASSERT_OK_AND_ASSIGN(r, engine_->Search(Req(SearchMode::kText, "모델은 미세 조정")));
  EXPECT_EQ(Ids(r), (std::vector<std::string>{"ko"}));
  // English stop words alone find nothing.
  ASSERT_OK_AND_ASSIGN(r, engine_->Search(Req(SearchMode::kText, "the")));
  EXPECT_TRUE(r.hits.empty());
}

TEST_F(EngineLexicalTest, ReplaceAndDeleteUpdateTheLexicalIndex) {
  ASSERT_OK(engine_->CreateCollection(LexicalSpec4("c")));
  ASSERT_OK(engine_->Upsert("c", Corpus()).status());
  ASSERT_OK(engine_->Upsert("c", {P("a", {1, 0, 0, 0}, "zeta")}).status());
  ASSERT_OK_AND_ASSIGN(auto r, engine_->Search(Req(SearchMode::kText, "alpha")));
  EXPECT_EQ(Ids(r), (std::vector<std::string>{"c"}));
  // N is still 4 and the lengths are now 1, 1, 3, 1 (avgdl 1.5); df(alpha) 1.
  EXPECT_NEAR(r.hits[0].score, Bm25(2, 3, 1.5, 4, 1), 1e-5);
  ASSERT_OK_AND_ASSIGN(r, engine_->Search(Req(SearchMode::kText, "zeta")));
  EXPECT_EQ(Ids(r), (std::vector<std::string>{"a"}));
  ASSERT_OK(engine_->Delete("c", {"c"}).status());
  ASSERT_OK_AND_ASSIGN(r, engine_->Search(Req(SearchMode::kText, "alpha delta")));
  EXPECT_TRUE(r.hits.empty());
  ASSERT_OK(engine_->DeleteByFilter("c", Filter::Cond(Equals("lang", std::string("ko")))).status());
  ASSERT_OK_AND_ASSIGN(r, engine_->Search(Req(SearchMode::kText, "epsilon")));
  EXPECT_TRUE(r.hits.empty());
  // Write: a replace and a delete in one batch.
  ASSERT_OK(engine_->Write("c", {P("b", {0, 1, 0, 0}, "eta theta")}, {"a"}).status());
  ASSERT_OK_AND_ASSIGN(r, engine_->Search(Req(SearchMode::kText, "zeta gamma eta")));
  EXPECT_EQ(Ids(r), (std::vector<std::string>{"b"}));
  ExpectVerified();
}

TEST_F(EngineLexicalTest, RestartKeepsTheLexicalIndexAndSettings) {
  auto spec = LexicalSpec4("c", lexical::AnalyzerKind::kEnglish, 3);
  spec.lexical.k1 = 0.9;
  spec.lexical.b = 0.4;
  ASSERT_OK(engine_->CreateCollection(spec));
  std::vector<Point> points;
  for (int i = 0; i < 60; ++i) {
    points.push_back(P("p" + std::to_string(i), {1, static_cast<float>(i), 0, 1},
                       "item " + std::to_string(i) + (i % 7 == 0 ? " needle" : " hay")));
  }
  ASSERT_OK(engine_->Upsert("c", points).status());
  ASSERT_OK_AND_ASSIGN(auto before, engine_->Search(Req(SearchMode::kText, "needles", 20)));
  ASSERT_EQ(before.hits.size(), 9u);  // 0, 7, ..., 56, across three shards
  Restart();
  ASSERT_OK_AND_ASSIGN(auto got, engine_->GetCollectionSpec("c"));
  EXPECT_TRUE(got.lexical.enabled);
  EXPECT_EQ(got.lexical.analyzer, lexical::AnalyzerKind::kEnglish);
  EXPECT_EQ(got.lexical.k1, 0.9);
  EXPECT_EQ(got.lexical.b, 0.4);
  ASSERT_OK_AND_ASSIGN(auto after, engine_->Search(Req(SearchMode::kText, "needles", 20)));
  ASSERT_EQ(Ids(after), Ids(before));
  for (size_t i = 0; i < after.hits.size(); ++i) {
    EXPECT_EQ(after.hits[i].score, before.hits[i].score);
  }
  ExpectVerified();
}

// A bulk Upsert analyses its texts on the insert threads and updates the BM25 postings on a
// helper thread while the HNSW graph takes the batch (Engine::Options::insert_threads); point
// by point, both run inline on the writer's thread. The two must build the same lexical index:
// every text query returns the same ids with bit-identical scores, in English (stemming, stop
// words) and Korean (bigrams, particles).
TEST_F(EngineLexicalTest, BulkUpsertIndexesTextsLikeOneByOne) {
  ASSERT_OK(engine_->CreateCollection(LexicalSpec4("c", lexical::AnalyzerKind::kAuto)));
  ASSERT_OK(engine_->CreateCollection(LexicalSpec4("one", lexical::AnalyzerKind::kAuto)));
  const std::vector<std::string> words = {"Running", "databases", "the", "index", "it's",
                                          "검색은", "데이터베이스", "모델", "E1234", "ＡＢＣ"};
  std::mt19937 rng(11);
  std::vector<Point> points;
  for (int i = 0; i < 200; ++i) {
    std::string text;
    for (int w = 0; w < 3 + i % 9; ++w) text += words[rng() % words.size()] + " ";
    points.push_back(P("p" + std::to_string(i), {1, static_cast<float>(i % 5), 0, 1}, text));
  }
  for (const Point& p : points) ASSERT_OK(engine_->Upsert("one", {p}).status());
  ASSERT_OK(engine_->Upsert("c", points).status());
  for (const std::string& query : {"run database", "it index", "검색 데이터", "모델은", "e1234 abc"}) {
    SearchRequest bulk = Req(SearchMode::kText, query, 50);
    SearchRequest single = bulk;
    single.collection = "one";
    ASSERT_OK_AND_ASSIGN(auto a, engine_->Search(bulk));
    ASSERT_OK_AND_ASSIGN(auto b, engine_->Search(single));
    ASSERT_FALSE(a.hits.empty()) << query;
    ASSERT_EQ(Ids(a), Ids(b)) << query;
    for (size_t i = 0; i < a.hits.size(); ++i) EXPECT_EQ(a.hits[i].score, b.hits[i].score);
  }
  ExpectVerified();
}

TEST_F(EngineLexicalTest, ReplayedBatchesChangeNothing) {
  ASSERT_OK(engine_->CreateCollection(LexicalSpec4("c")));
  WriteBatch first{"c", 1, Corpus(), {}};
  ASSERT_OK_AND_ASSIGN(auto w, engine_->Apply(first));
  EXPECT_EQ(w.applied, 4u);
  WriteBatch second{"c", 2, {P("a", {1, 0, 0, 0}, "zeta")}, {"b"}};
  ASSERT_OK(engine_->Apply(second).status());
  ASSERT_OK_AND_ASSIGN(auto before, engine_->Search(Req(SearchMode::kText, "alpha zeta gamma")));
  // Both batches again, in and out of order: no change, also after a restart.
  for (int round = 0; round < 2; ++round) {
    ASSERT_OK_AND_ASSIGN(w, engine_->Apply(first));
    EXPECT_EQ(w.applied, 0u);
    ASSERT_OK_AND_ASSIGN(w, engine_->Apply(second));
    EXPECT_EQ(w.applied, 0u);
    ASSERT_OK_AND_ASSIGN(auto again, engine_->Search(Req(SearchMode::kText, "alpha zeta gamma")));
    ASSERT_EQ(Ids(again), Ids(before));
    ASSERT_EQ(Ids(again), (std::vector<std::string>{"a", "c"}));  // a: shorter, same idf
    for (size_t i = 0; i < again.hits.size(); ++i) {
      EXPECT_EQ(again.hits[i].score, before.hits[i].score);
    }
    ExpectVerified();
    Restart();
  }
}

constexpr int kKilledWrites = 40;

// The writes of SigkillAfterAcknowledgedWritesKeepsTextSearchable, run in a child process
// (this executable again, so that sanitizers see no fork of a threaded process): every fifth
// write replaces an earlier point's text; each acknowledged write is reported on a pipe; then
// the process SIGKILLs itself (no Close, no snapshot).
TEST(EngineLexicalChild, WriteThenSigkill) {
  const char* dir = std::getenv("RAGD_LEXICAL_CHILD_DIR");
  const char* fd = std::getenv("RAGD_LEXICAL_CHILD_FD");
  if (dir == nullptr || fd == nullptr) GTEST_SKIP() << "the child of a SIGKILL test";
  Engine::Options o;
  o.data_dir = dir;
  o.snapshot_interval_seconds = 0;
  auto engine = Engine::Open(o);
  if (!engine.ok()) _exit(2);
  for (int i = 0; i < kKilledWrites; ++i) {
    const int id = i % 5 == 4 ? i - 4 : i;
    auto w = (*engine)->Upsert("c", {P("p" + std::to_string(id), {1, 0, 0, static_cast<float>(i)},
                                       "word" + std::to_string(i) + " common")});
    if (!w.ok()) _exit(3);
    const char ack = 1;
    if (write(std::atoi(fd), &ack, 1) != 1) _exit(4);
  }
  kill(getpid(), SIGKILL);
  _exit(5);
}

// The parent reopens the data directory of the killed child and finds every acknowledged text.
TEST_F(EngineLexicalTest, SigkillAfterAcknowledgedWritesKeepsTextSearchable) {
  ASSERT_OK(engine_->CreateCollection(LexicalSpec4("c", lexical::AnalyzerKind::kSimple, 2)));
  ASSERT_OK(engine_->Close());
  engine_.reset();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::vector<std::string> env_strings = {"RAGD_LEXICAL_CHILD_DIR=" + dir_.str(),
                                          "RAGD_LEXICAL_CHILD_FD=" + std::to_string(fds[1])};
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  envp.push_back(nullptr);
  std::string exe = "/proc/self/exe";
  std::string filter = "--gtest_filter=EngineLexicalChild.WriteThenSigkill";
  char* argv[] = {exe.data(), filter.data(), nullptr};
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, exe.c_str(), nullptr, nullptr, argv, envp.data()), 0);
  close(fds[1]);
  int acked = 0;
  char ack;
  while (read(fds[0], &ack, 1) == 1) ++acked;
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  ASSERT_EQ(acked, kKilledWrites);
  Open();
  for (int i = 0; i < kKilledWrites; ++i) {
    const bool replaced = i % 5 == 0;  // p<i>'s text was rewritten by write i + 4
    ASSERT_OK_AND_ASSIGN(auto r,
                         engine_->Search(Req(SearchMode::kText, "word" + std::to_string(i))));
    if (replaced) {
      EXPECT_TRUE(r.hits.empty()) << i;
    } else {
      const int id = i % 5 == 4 ? i - 4 : i;
      ASSERT_EQ(Ids(r), (std::vector<std::string>{"p" + std::to_string(id)})) << i;
    }
  }
  ASSERT_OK_AND_ASSIGN(auto all, engine_->Search(Req(SearchMode::kText, "common", 100)));
  EXPECT_EQ(all.hits.size(), 32u);  // 40 writes, 8 of them replaces
  ExpectVerified();
}

// Term records lost behind the engine's back are analysed again from the stored text at Open,
// and Verify reports that storage lacks them.
TEST_F(EngineLexicalTest, RecoveryReanalysesMissingTermRecordsAndVerifyReportsThem) {
  ASSERT_OK(engine_->CreateCollection(LexicalSpec4("c")));
  ASSERT_OK(engine_->Upsert("c", Corpus()).status());
  ASSERT_OK(engine_->Close());
  engine_.reset();
  {
    ASSERT_OK_AND_ASSIGN(auto store, storage::Store::Open({.path = dir_.str() + "/db"}));
    const storage::ShardKey key{1, 0};  // the first collection's only shard
    ASSERT_OK_AND_ASSIGN(auto rec, store->GetPoint(key, "c"));
    ASSERT_TRUE(rec.has_value());
    size_t records = 0;
    ASSERT_OK(store->ScanTerms(key, [&](storage::Label, storage::TermRecord&&) {
      ++records;
      return absl::OkStatus();
    }));
    EXPECT_EQ(records, 4u);
    storage::Batch b(store.get());
    b.DeleteTerms(key, rec->label);
    ASSERT_OK(store->Commit(b));
  }
  Open();
  ASSERT_OK_AND_ASSIGN(auto r, engine_->Search(Req(SearchMode::kText, "alpha")));
  EXPECT_EQ(Ids(r), (std::vector<std::string>{"c", "a"}));
  ASSERT_OK_AND_ASSIGN(auto report, engine_->Verify("c"));
  EXPECT_EQ(report.missing_from_lexical, 1u);
  EXPECT_EQ(report.missing_from_lexical_ids, (std::vector<std::string>{"c"}));
  EXPECT_EQ(report.lexical_orphans, 0u);
  EXPECT_FALSE(report.ok());
  // Rewriting the point writes its record again.
  ASSERT_OK(engine_->Upsert("c", {P("c", {0.2f, 0, 1, 0}, "alpha alpha delta", "ko")}).status());
  ExpectVerified();
}

// An upgrade that changes the analysis (analyzer version) re-analyses the stored texts at the
// next start and writes their records back in the current version: the start after that reads
// them as they are, and Verify finds nothing to report.
TEST_F(EngineLexicalTest, RecoveryRewritesRecordsOfAnotherAnalyzerVersion) {
  ASSERT_OK(engine_->CreateCollection(LexicalSpec4("c")));
  ASSERT_OK(engine_->Upsert("c", Corpus()).status());
  ASSERT_OK(engine_->Close());
  engine_.reset();
  const storage::ShardKey key{1, 0};  // the first collection's only shard
  // The analyzer id of every record, by label.
  auto analyzer_ids = [&]() {
    std::map<storage::Label, uint32_t> ids;
    auto store = storage::Store::Open({.path = dir_.str() + "/db"});
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) return ids;
    EXPECT_OK((*store)->ScanTerms(key, [&](storage::Label label, storage::TermRecord&& r) {
      ids[label] = r.analyzer;
      return absl::OkStatus();
    }));
    return ids;
  };
  const std::map<storage::Label, uint32_t> before = analyzer_ids();
  ASSERT_EQ(before.size(), 4u);
  const uint32_t current = before.begin()->second;
  storage::Label old_label = 0;
  {
    // One record as an older analyzer version wrote it: its id differs, and its terms are
    // not the text's (so a search that used them would find it for "zulu" only).
    ASSERT_OK_AND_ASSIGN(auto store, storage::Store::Open({.path = dir_.str() + "/db"}));
    ASSERT_OK_AND_ASSIGN(auto rec, store->GetPoint(key, "c"));
    ASSERT_TRUE(rec.has_value());
    old_label = rec->label;
    storage::TermRecord old;
    old.analyzer = current + 1000;
    old.terms = {{"zulu", 1}};
    storage::Batch b(store.get());
    b.PutTerms(key, rec->label, old);
    ASSERT_OK(store->Commit(b));
  }
  Open();
  ASSERT_OK_AND_ASSIGN(auto r, engine_->Search(Req(SearchMode::kText, "alpha")));
  EXPECT_EQ(Ids(r), (std::vector<std::string>{"c", "a"}));
  ASSERT_OK_AND_ASSIGN(auto zulu, engine_->Search(Req(SearchMode::kText, "zulu")));
  EXPECT_TRUE(zulu.hits.empty());
  ExpectVerified();
  ASSERT_OK(engine_->Close());
  engine_.reset();
  const std::map<storage::Label, uint32_t> after = analyzer_ids();
  ASSERT_EQ(after.size(), 4u);
  for (const auto& [label, analyzer] : after) EXPECT_EQ(analyzer, current) << label;
  EXPECT_TRUE(after.contains(old_label));
  Open();
  ASSERT_OK_AND_ASSIGN(auto again, engine_->Search(Req(SearchMode::kText, "alpha")));
  EXPECT_EQ(Ids(again), (std::vector<std::string>{"c", "a"}));
}

TEST_F(EngineLexicalTest, ValidationAndCollectionsWithoutLexicalIndex) {
  auto bad = LexicalSpec4("bad");
  bad.lexical.k1 = 11;
  EXPECT_EQ(engine_->CreateCollection(bad).code(), absl::StatusCode::kInvalidArgument);
  bad.lexical.k1 = 1.2;
  bad.lexical.b = -0.1;
  EXPECT_EQ(engine_->CreateCollection(bad).code(), absl::StatusCode::kInvalidArgument);
  bad.lexical.b = std::nan("");
  EXPECT_EQ(engine_->CreateCollection(bad).code(), absl::StatusCode::kInvalidArgument);

  auto plain = LexicalSpec4("plain");
  plain.lexical.enabled = false;
  ASSERT_OK(engine_->CreateCollection(plain));
  ASSERT_OK(engine_->Upsert("plain", Corpus()).status());
  auto req = Req(SearchMode::kText, "alpha");
  req.collection = "plain";
  EXPECT_EQ(engine_->Search(req).status().code(), absl::StatusCode::kFailedPrecondition);
  req.mode = SearchMode::kHybrid;
  EXPECT_EQ(engine_->Search(req).status().code(), absl::StatusCode::kFailedPrecondition);
  req.mode = SearchMode::kVector;  // the text is ignored
  ASSERT_OK_AND_ASSIGN(auto r, engine_->Search(req));
  EXPECT_EQ(r.hits.front().point.id, "a");
  EXPECT_TRUE(r.hits.front().vector_leg.has_value());
  ExpectVerified("plain");

  ASSERT_OK(engine_->CreateCollection(LexicalSpec4("c")));
  ASSERT_OK(engine_->Upsert("c", Corpus()).status());
  EXPECT_EQ(engine_->Search(Req(SearchMode::kText, "")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_->Search(Req(SearchMode::kText, "bad \xff utf8")).status().code(),
            absl::StatusCode::kInvalidArgument);
  req = Req(SearchMode::kHybrid, "alpha");
  req.query = {1, 0};
  EXPECT_EQ(engine_->Search(req).status().code(), absl::StatusCode::kInvalidArgument);
  req = Req(SearchMode::kText, "alpha");
  req.query.clear();  // text search needs no vector
  EXPECT_OK(engine_->Search(req));
  for (auto mutate : std::vector<std::function<void(SearchRequest&)>>{
           [](SearchRequest& q) { q.hybrid.rrf_k = 0; },
           [](SearchRequest& q) { q.hybrid.alpha = 1.5; },
           [](SearchRequest& q) { q.hybrid.alpha = std::nan(""); },
           [](SearchRequest& q) { q.hybrid.vector_candidates = 2; },  // below k
           [](SearchRequest& q) { q.hybrid.text_candidates = 100000; }}) {
    req = Req(SearchMode::kHybrid, "alpha", 5);
    mutate(req);
    EXPECT_EQ(engine_->Search(req).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

// Catalog records written before issue 15 (format 1, no lexical settings) load with the
// lexical index off; the bytes are spelled out here from the format comment.
TEST(CatalogRecordTest, FormatOneLoadsWithLexicalOff) {
  std::string rec;
  rec.push_back(1);
  storage::PutFixed32LE(&rec, 7);     // id
  storage::PutFixed64LE(&rec, 1234);  // created
  storage::PutFixed32LE(&rec, 8);     // dimension
  rec.push_back(0);                   // cosine
  storage::PutFixed32LE(&rec, 2);     // shards
  rec.push_back(0);                   // hnsw
  for (uint32_t v : {16u, 200u, 64u, 8u}) storage::PutFixed32LE(&rec, v);
  storage::PutLengthPrefixed(&rec, "");
  storage::PutLengthPrefixed(&rec, "{}");
  uint32_t id = 0;
  int64_t created = 0;
  CollectionSpec spec;
  spec.lexical.enabled = true;
  ASSERT_OK(DecodeCollectionRecord("old", rec, &id, &created, &spec));
  EXPECT_EQ(id, 7u);
  EXPECT_EQ(spec.shards, 2u);
  EXPECT_EQ(spec.attributes, "{}");
  EXPECT_FALSE(spec.lexical.enabled);
  // A truncated format-2 record is corrupt.
  CollectionSpec now = spec;
  now.lexical.enabled = true;
  std::string two = EncodeCollectionRecord(7, 1234, now);
  EXPECT_EQ(DecodeCollectionRecord("x", two.substr(0, two.size() - 1), &id, &created, &spec).code(),
            absl::StatusCode::kDataLoss);
  ASSERT_OK(DecodeCollectionRecord("x", two, &id, &created, &spec));
  EXPECT_TRUE(spec.lexical.enabled);
}

// Writers flip points between two texts while readers search one of them: every hit's payload
// is the version that was scored, so it holds the query's word.
TEST_F(EngineLexicalTest, ConcurrentRewritesNeverReturnAnotherVersionsText) {
  ASSERT_OK(engine_->CreateCollection(LexicalSpec4("c", lexical::AnalyzerKind::kSimple, 2)));
  std::vector<Point> points;
  for (int i = 0; i < 50; ++i) {
    points.push_back(P("p" + std::to_string(i), {1, static_cast<float>(i % 3), 0, 0},
                       "red item" + std::to_string(i)));
  }
  ASSERT_OK(engine_->Upsert("c", points).status());
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0}, searches{0}, readers_started{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      bool counted = false;
      while (!stop) {
        auto req = Req(t == 0 ? SearchMode::kText : SearchMode::kHybrid, "red", 20);
        auto r = engine_->Search(req);
        if (!counted) {
          counted = true;
          readers_started.fetch_add(1);
        }
        if (!r.ok()) {
          bad.fetch_add(1);
          continue;
        }
        searches.fetch_add(1);
        for (const auto& h : r->hits) {
          if (h.text_leg && h.point.text.rfind("red ", 0) != 0) bad.fetch_add(1);
        }
      }
    });
  }
  // The rewrites start once both readers are searching (bounded: 20 s): started first, the
  // writer's 200 upserts could be over on a loaded machine before a reader thread first ran,
  // and nothing would have raced them (searches == 0).
  for (int i = 0; i < 2000 && readers_started.load() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::thread writer([&] {
    for (int round = 0; round < 200; ++round) {
      const int i = round % 50;
      const std::string colour = round / 50 % 2 == 0 ? "blue" : "red";
      auto w = engine_->Upsert(
          "c", {P("p" + std::to_string(i), {1, 0, 0, 0}, colour + " item" + std::to_string(i))});
      if (!w.ok()) bad.fetch_add(1000);
    }
    stop = true;
  });
  writer.join();
  for (auto& r : readers) r.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(searches.load(), 0);
  ExpectVerified();
}

// Hybrid searches hand their text leg to a helper thread when one is idle
// (Engine::Options::search_leg_threads): from several threads at once (some calls get the
// helper, some run both legs themselves, some take an offered leg back), every result equals
// the one the engine gives with the legs run one after the other on the calling thread.
TEST_F(EngineLexicalTest, HybridLegsOnAHelperThreadGiveTheSameResults) {
  leg_threads_ = 0;
  Open();
  ASSERT_OK(engine_->CreateCollection(LexicalSpec4("c", lexical::AnalyzerKind::kSimple, 2)));
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> coord(-1, 1);
  const std::vector<std::string> words = {"red", "green", "blue", "item", "lamp", "chair", "desk"};
  std::vector<Point> points;
  for (int i = 0; i < 300; ++i) {
    std::string text;
    for (int w = 0; w < 1 + i % 6; ++w) text += words[rng() % words.size()] + " ";
    points.push_back(P("p" + std::to_string(i), {coord(rng), coord(rng), coord(rng), coord(rng)},
                       text, i % 2 == 0 ? "en" : "ko"));
  }
  ASSERT_OK(engine_->Upsert("c", points).status());
  std::vector<SearchRequest> requests;
  for (int q = 0; q < 40; ++q) {
    SearchRequest r = Req(SearchMode::kHybrid, words[q % words.size()] + " " +
                                                   words[(q * 3 + 1) % words.size()], 10);
    r.query = {coord(rng), coord(rng), coord(rng), coord(rng)};
    if (q % 2 == 1) r.hybrid.fusion = Fusion::kWeighted;
    if (q % 3 == 0) r.filter = Filter::Cond(Equals("lang", std::string("en")));
    requests.push_back(std::move(r));
  }
  std::vector<std::vector<std::pair<std::string, float>>> expected;
  for (const SearchRequest& r : requests) {
    ASSERT_OK_AND_ASSIGN(auto result, engine_->Search(r));
    ASSERT_FALSE(result.hits.empty());
    auto& e = expected.emplace_back();
    for (const auto& h : result.hits) e.emplace_back(h.point.id, h.score);
  }

  leg_threads_ = 1;
  Restart();
  std::atomic<int> mismatches{0}, searches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 10; ++round) {
        for (size_t q = 0; q < requests.size(); ++q) {
          auto result = engine_->Search(requests[(q + t * 7) % requests.size()]);
          const auto& e = expected[(q + t * 7) % requests.size()];
          bool same = result.ok() && result->hits.size() == e.size();
          for (size_t i = 0; same && i < e.size(); ++i) {
            same = result->hits[i].point.id == e[i].first && result->hits[i].score == e[i].second;
          }
          if (!same) mismatches.fetch_add(1);
          searches.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(searches.load(), 3 * 10 * 40);
}

// The governor's choices are a function of the costs recorded, so they are checked with
// hand-written costs (no clock): each way once (hand-off first), then the cheaper way by
// moving average, the other on every 32nd call, and a way that becomes dearer loses its place.
TEST(LegGovernorTest, PrefersTheCheaperWayAndKeepsTryingTheOther) {
  using Way = LegGovernor::Way;
  LegGovernor g;
  EXPECT_EQ(g.Choose(), Way::kHandOff);  // call 0: nothing known
  g.Record(Way::kHandOff, 100);
  EXPECT_EQ(g.Choose(), Way::kSequential);  // call 1: sequential has no sample yet
  g.Record(Way::kSequential, 200);
  EXPECT_DOUBLE_EQ(g.average_nanos(Way::kHandOff), 100);
  EXPECT_DOUBLE_EQ(g.average_nanos(Way::kSequential), 200);
  // Calls 2..65: hand-off is the cheaper; calls 31 and 63 (call % 32 == 31) try sequential.
  std::vector<int> tried;
  for (int call = 2; call < 66; ++call) {
    if (g.Choose() == Way::kSequential) tried.push_back(call);
  }
  EXPECT_EQ(tried, (std::vector<int>{31, 63}));
  // Hand-offs turn slow (a busy machine): 100 + 0.125 x (1000 - 100) = 212.5 after one
  // sample, above sequential's 200: sequential from the next call on, hand-off on 95 and 127.
  g.Record(Way::kHandOff, 1000);
  EXPECT_DOUBLE_EQ(g.average_nanos(Way::kHandOff), 212.5);
  tried.clear();
  for (int call = 66; call < 130; ++call) {
    if (g.Choose() == Way::kHandOff) tried.push_back(call);
  }
  EXPECT_EQ(tried, (std::vector<int>{95, 127}));
  // A tried hand-off comes back cheap (the machine is idle again): 212.5 + 0.125 x
  // (0 - 212.5) = 185.9375 < 200, and hand-off is preferred again.
  g.Record(Way::kHandOff, 0);
  EXPECT_DOUBLE_EQ(g.average_nanos(Way::kHandOff), 185.9375);
  EXPECT_EQ(g.Choose(), Way::kHandOff);  // call 130
  // A negative duration (a clock that stepped) counts as 0, never as a gain.
  g.Record(Way::kSequential, -5000);
  EXPECT_DOUBLE_EQ(g.average_nanos(Way::kSequential), 175);
}

TEST_F(EngineLexicalTest, SearchLegThreadsOutOfRangeIsRefused) {
  engine_.reset();
  for (int threads : {-1, 65}) {
    Engine::Options o = Options();
    o.search_leg_threads = threads;
    auto opened = Engine::Open(o);
    EXPECT_EQ(opened.status().code(), absl::StatusCode::kInvalidArgument) << threads;
  }
}

TEST_F(EngineLexicalTest, InsertThreadsOutOfRangeIsRefused) {
  engine_.reset();
  for (int threads : {-1, 65}) {
    Engine::Options o = Options();
    o.insert_threads = threads;
    auto opened = Engine::Open(o);
    EXPECT_EQ(opened.status().code(), absl::StatusCode::kInvalidArgument) << threads;
    if (!opened.ok()) {
      EXPECT_NE(std::string(opened.status().message()).find("insert_threads"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace ragd::index
