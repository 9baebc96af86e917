// The real ragctl binary against a real ragd: every command, --json output, exit codes and
// the one-line error.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/testing/ragd_process.h"
#include "tests/testing/temp_dir.h"

namespace ragd::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class RagctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = RagdProcess::Start(RagdProcess::OptionsFor((dir_.path() / "data").string()));
    ASSERT_TRUE(started.ok()) << started.status();
    ragd_ = *std::move(started);
  }

  // Runs ragctl with --address pointing at our ragd.
  CommandResult Ragctl(std::vector<std::string> args) {
    args.insert(args.begin(), {RAGCTL_BINARY, "--address", ragd_->address()});
    absl::StatusOr<CommandResult> r = RunCommand(args);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CommandResult{};
  }
  nlohmann::json Json(const CommandResult& r) {
    nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }
  std::string WriteFile(const std::string& name, const std::string& text) {
    std::string path = (dir_.path() / name).string();
    std::ofstream(path) << text;
    return path;
  }
  // 30 points on a line in 3-d: pN = (N, 0, 0), lang "ko" for even N, year 2000+N.
  std::string LineFile() {
    std::string text;
    for (int i = 0; i < 30; ++i) {
      text += nlohmann::json{{"id", absl::StrCat("p", i)},
                             {"vector", {i, 0, 0}},
                             {"text", absl::StrCat("point number ", i)},
                             {"document_id", absl::StrCat("doc", i / 10)},
                             {"metadata", {{"lang", i % 2 == 0 ? "ko" : "en"}, {"year", 2000 + i}}}}
                  .dump();
      text += i == 14 ? "\n\n" : "\n";  // blank lines are skipped
    }
    return WriteFile("points.jsonl", text);
  }

  TempDir dir_;
  std::unique_ptr<RagdProcess> ragd_;
};

TEST_F(RagctlTest, CollectionsLifecycle) {
  CommandResult r = Ragctl({"collections", "create", "docs", "--dimension", "3", "--metric", "l2",
                            "--m", "8", "--shards", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("docs"));
  r = Ragctl({"collections", "create", "flat", "--dimension", "3", "--index", "flat"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Ragctl({"collections", "create", "fx", "--dimension", "3", "--index", "faiss",
              "--faiss-factory", "HNSW16"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  r = Ragctl({"--json", "collections", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json list = Json(r);
  ASSERT_TRUE(list.is_array());
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0]["name"], "docs");
  EXPECT_EQ(list[0]["metric"], "l2");
  EXPECT_EQ(list[0]["shards"], 2);
  EXPECT_EQ(list[0]["index"]["m"], 8);
  EXPECT_EQ(list[2]["index"]["kind"], "faiss");
  EXPECT_EQ(list[2]["index"]["index_factory"], "HNSW16");

  r = Ragctl({"collections", "list"});  // not a TTY: tab-separated with a header
  ASSERT_EQ(r.exit_code, 0);
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_THAT(lines[0], StartsWith("NAME\tDIMENSION"));
  EXPECT_THAT(lines[1], StartsWith("docs\t3\tl2\t"));

  r = Ragctl({"--json", "collections", "get", "docs"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Json(r)["dimension"], 3);

  r = Ragctl({"collections", "delete", "docs"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Ragctl({"collections", "get", "docs"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "");
}

TEST_F(RagctlTest, PointsUpsertSearchGetCountDelete) {
  ASSERT_EQ(
      Ragctl({"collections", "create", "line", "--dimension", "3", "--metric", "l2"}).exit_code, 0);
  CommandResult r =
      Ragctl({"points", "upsert", "--collection", "line", LineFile(), "--batch-size", "7"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "upserted 30 points\n");

  r = Ragctl(
      {"--json", "points", "search", "--collection", "line", "--vector", "[12.2,0,0]", "--k", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json hits = Json(r);
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0]["id"], "p12");
  EXPECT_EQ(hits[0]["text"], "point number 12");
  EXPECT_EQ(hits[0]["metadata"]["year"], 2012);
  EXPECT_NEAR(hits[0]["score"].get<double>(), -0.04, 1e-4);
  EXPECT_EQ(hits[1]["id"], "p13");

  std::string query = WriteFile("query.json", "[12.2, 0, 0]");
  r = Ragctl({"--json", "points", "search", "--collection", "line", "--file", query, "--k", "3",
              "--filter", R"({"and":[{"key":"lang","equals":"ko"},{"document_id":"doc1"}]})",
              "--with-vectors"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  hits = Json(r);
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0]["id"], "p12");
  EXPECT_EQ(hits[1]["id"], "p14");
  EXPECT_EQ(hits[2]["id"], "p10");
  EXPECT_EQ(hits[0]["vector"][0], 12.0);

  // --batch: Points.SearchBatch, one JSON array of hits per line, in order; the flags are the
  // defaults a line may override.
  std::string batch = WriteFile(
      "batch.jsonl",
      "{\"vector\": [12.2, 0, 0]}\n\n{\"vector\": [3.1, 0, 0], \"k\": 1}\n"
      "{\"vector\": [12.2, 0, 0], \"filter\": {\"key\": \"lang\", \"equals\": \"ko\"}}\n");
  r = Ragctl({"points", "search", "--collection", "line", "--batch", batch, "--k", "2",
              "--batch-size", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> results = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(results.size(), 3u) << r.out;
  nlohmann::json first = nlohmann::json::parse(results[0]);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0]["id"], "p12");
  EXPECT_EQ(first[1]["id"], "p13");
  nlohmann::json second = nlohmann::json::parse(results[1]);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0]["id"], "p3");
  nlohmann::json third = nlohmann::json::parse(results[2]);
  ASSERT_EQ(third.size(), 2u);
  EXPECT_EQ(third[0]["id"], "p12");
  EXPECT_EQ(third[1]["id"], "p14");
  // A bad line is named with its number; a bad search is the server's error with its index.
  std::string bad = WriteFile("bad.jsonl", "{\"vector\": [1, 0, 0]}\n{\"vektor\": [1]}\n");
  r = Ragctl({"points", "search", "--collection", "line", "--batch", bad});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("bad.jsonl:2"));
  std::string short_vector = WriteFile("short.jsonl", "{\"vector\": [1, 0, 0]}\n{\"vector\": [1]}\n");
  r = Ragctl({"points", "search", "--collection", "line", "--batch", short_vector});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(r.err, HasSubstr("searches[1]"));

  r = Ragctl({"points", "search", "--collection", "line", "--vector", "[0,0,0]", "--k", "2",
              "--min-score", "-1.5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);  // header, p0, p1
  EXPECT_THAT(lines[0], StartsWith("RANK\tSCORE\tLEGS\tID"));
  EXPECT_THAT(lines[1], StartsWith("1\t-0.0000\tvector #1\tp0\tdoc0\tpoint number 0"));

  r = Ragctl({"--json", "points", "get", "--collection", "line", "p3", "p4", "nope"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json got = Json(r);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1]["id"], "p4");
  EXPECT_EQ(got[1]["document_id"], "doc0");

  r = Ragctl({"points", "count", "--collection", "line", "--filter",
              R"({"key":"year","range":{"gte":2020}})"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "10\n");

  r = Ragctl({"--json", "points", "delete", "--collection", "line", "p0", "p1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Json(r)["deleted"], 2);
  r = Ragctl(
      {"points", "delete", "--collection", "line", "--filter", R"({"key":"lang","in":["ko"]})"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "deleted 14 points\n");
  r = Ragctl({"--json", "points", "count", "--collection", "line"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Json(r)["count"], 14);
}

// Text and hybrid search from the command line: a collection with a lexical index, then
// `points search --text` (and with a vector: hybrid) and `search --mode` (Retrieval).
TEST_F(RagctlTest, TextAndHybridSearch) {
  CommandResult r = Ragctl({"collections", "create", "words", "--dimension", "3", "--embedder",
                            "local", "--analyzer", "english"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("english (k1 1.2, b 0.75)"));
  std::string text;
  const std::vector<std::pair<std::string, std::string>> docs = {
      {"a", "Compacting the databases nightly"},
      {"b", "a garden of roses"},
      {"c", "database compaction and databases"}};
  for (size_t i = 0; i < docs.size(); ++i) {
    text += nlohmann::json{{"id", docs[i].first},
                           {"vector", {static_cast<int>(i) + 1, 1, 0}},
                           {"text", docs[i].second}}
                .dump() +
            "\n";
  }
  r = Ragctl({"points", "upsert", "--collection", "words", WriteFile("words.jsonl", text)});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // "database" stems like "databases": c holds it twice, a once, b never.
  r = Ragctl({"--json", "points", "search", "--collection", "words", "--text", "Database"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json hits = Json(r);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0]["id"], "c");
  EXPECT_EQ(hits[0]["text_leg"]["rank"], 1);
  EXPECT_FALSE(hits[0].contains("vector_leg"));
  EXPECT_EQ(hits[1]["id"], "a");

  // Vector and text: hybrid (cosine to (1,1,0): a 1, b 0.949, c 0.894); b comes only from
  // the vector leg.
  r = Ragctl({"points", "search", "--collection", "words", "--text", "database", "--vector",
              "[1,1,0]", "--k", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_THAT(lines[0], StartsWith("RANK\tSCORE\tLEGS\tID"));
  EXPECT_THAT(r.out, HasSubstr("vector #1, text #2\ta"));
  EXPECT_THAT(r.out, HasSubstr("vector #3, text #1\tc"));
  EXPECT_THAT(r.out, HasSubstr("\tvector #2\tb"));
  r = Ragctl({"--json", "points", "search", "--collection", "words", "--text", "database",
              "--vector", "[1,1,0]", "--mode", "vector"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Json(r).size(), 3u);

  // ragctl search goes through Retrieval: --mode text needs no embedding.
  r = Ragctl(
      {"--json", "search", "compacted databases", "--collection", "words", "--mode", "text"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json retrieved = Json(r);
  ASSERT_EQ(retrieved["chunks"].size(), 2u);
  EXPECT_EQ(retrieved["chunks"][0]["id"], "c");
  EXPECT_TRUE(retrieved["chunks"][0].contains("text_leg"));
  r = Ragctl({"search", "databases", "--collection", "words", "--mode", "hybrid", "--k", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("text #1"));

  r = Ragctl({"search", "databases", "--collection", "words", "--mode", "fuzzy"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = Ragctl({"points", "search", "--collection", "words", "--text", "x", "--vector", "[1,1,0]",
              "--rrf-k", "0"});
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_THAT(r.err, HasSubstr("rrf_k"));

  // After a replace and a delete, verify checks the lexical index too.
  r = Ragctl({"points", "upsert", "--collection", "words",
              WriteFile("replace.jsonl", R"({"id":"a","vector":[1,1,0],"text":"roses"})"
                                         "\n")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(Ragctl({"points", "delete", "--collection", "words", "c"}).exit_code, 0);
  r = Ragctl({"--json", "points", "search", "--collection", "words", "--text", "rose"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Json(r).size(), 2u);  // a and b
  r = Ragctl({"--json", "admin", "verify", "words"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  nlohmann::json verify = Json(r);
  EXPECT_EQ(verify["ok"], true);
  EXPECT_EQ(verify["storage_points"], "2");
  EXPECT_EQ(verify["missing_from_lexical"], "0");
  EXPECT_EQ(verify["lexical_orphans"], "0");
}

// A quantized collection through ragctl: --quantization on create, shown by get, and the
// search flags --no-rescore and --oversampling. 30 points: int8 keeps them float32 until it
// trains, so the scores are exact either way; the flags must still reach the server.
TEST_F(RagctlTest, QuantizedCollection) {
  CommandResult r = Ragctl({"collections", "create", "q", "--dimension", "3", "--metric", "l2",
                            "--quantization", "int8"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("quantization=int8"));
  r = Ragctl({"--json", "collections", "get", "q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Json(r)["index"]["quantization"], "int8");
  ASSERT_EQ(Ragctl({"points", "upsert", "--collection", "q", LineFile()}).exit_code, 0);
  for (std::vector<std::string> extra :
       {std::vector<std::string>{}, {"--no-rescore"}, {"--oversampling", "4"}}) {
    std::vector<std::string> args = {"--json", "points", "search", "--collection", "q",
                                     "--vector", "[12.2,0,0]", "--k", "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    r = Ragctl(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(Json(r)[0]["id"], "p12");
  }
  r = Ragctl({"points", "search", "--collection", "q", "--vector", "[1,0,0]", "--oversampling",
              "0.5"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("oversampling"));
  r = Ragctl({"collections", "create", "bad", "--dimension", "3", "--index", "flat",
              "--quantization", "f16"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("--quantization"));
}

// `ragctl admin verify`: ragd's self-check of a collection, over the wire (Admin.
// VerifyCollection). After replacing and deleting points it reports a consistent collection;
// exit codes follow the call's status.
TEST_F(RagctlTest, AdminVerifyReportsAConsistentCollection) {
  ASSERT_EQ(
      Ragctl({"collections", "create", "line", "--dimension", "3", "--metric", "l2"}).exit_code, 0);
  ASSERT_EQ(Ragctl({"points", "upsert", "--collection", "line", LineFile()}).exit_code, 0);
  // Churn: a third deleted, then every other point replaced (new vectors).
  ASSERT_EQ(Ragctl({"points", "delete", "--collection", "line", "--filter",
                    R"({"key":"year","range":{"lt":2010}})"})
                .exit_code,
            0);
  std::string text;
  for (int i = 10; i < 30; ++i) {
    text += nlohmann::json{{"id", absl::StrCat("p", i)}, {"vector", {i, 1, 0}}}.dump() + "\n";
  }
  ASSERT_EQ(Ragctl({"points", "upsert", "--collection", "line", WriteFile("again.jsonl", text)})
                .exit_code,
            0);

  CommandResult r = Ragctl({"admin", "verify", "line"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_THAT(r.out, HasSubstr("line: consistent"));
  r = Ragctl({"--json", "admin", "verify", "line", "--ef", "64"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = Json(r);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["storage_points"], "20");  // uint64 is a JSON string in proto3 JSON
  EXPECT_EQ(j["index_points"], "20");
  EXPECT_EQ(j["searched"], "20");
  EXPECT_EQ(j["unreachable"], "0");
  r = Ragctl({"--json", "admin", "verify", "line", "--skip-searches"});
  EXPECT_EQ(Json(r)["searched"], "0");

  EXPECT_EQ(Ragctl({"admin", "verify", "nope"}).exit_code, 3);
  r = Ragctl({"admin", "verify", "line", "--ef", "5000"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_THAT(r.err, HasSubstr("ef"));
}

// The quick start of README.md, command for command, on examples/points.jsonl.
TEST_F(RagctlTest, ReadmeQuickStart) {
  CommandResult r = Ragctl({"collections", "create", "kb", "--dimension", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Ragctl({"points", "upsert", "--collection", "kb", RAGD_SOURCE_DIR "/examples/points.jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "upserted 4 points\n");
  r = Ragctl({"points", "search", "--collection", "kb", "--vector", "[0.9,0.1,0,0]", "--k", "2",
              "--filter", R"({"key":"lang","equals":"ko"})"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_THAT(lines[1], StartsWith("1\t1.0000\tvector #1\tko-1\tai-models.ko.md\t"));
  EXPECT_THAT(lines[2], HasSubstr("\tko-2\t"));
  r = Ragctl({"collections", "get", "kb"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("points\t4"));
}

TEST_F(RagctlTest, ErrorsAreOneLineWithExitCodes) {
  CommandResult r = Ragctl({"points", "count", "--collection", "missing"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, StartsWith("ragctl: NOT_FOUND: "));
  EXPECT_THAT(r.err, HasSubstr("missing"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

  ASSERT_EQ(Ragctl({"collections", "create", "c", "--dimension", "2"}).exit_code, 0);
  r = Ragctl({"collections", "create", "c", "--dimension", "2"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_THAT(r.err, StartsWith("ragctl: ALREADY_EXISTS: "));

  r = Ragctl({"points", "search", "--collection", "c", "--vector", "[1,2,3]"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_THAT(r.err, StartsWith("ragctl: INVALID_ARGUMENT: "));

  r = Ragctl({"points", "search", "--collection", "c", "--vector", "[1,2]", "--filter", "{bad"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, StartsWith("ragctl: filter: invalid JSON"));

  std::string bad = WriteFile("bad.jsonl", "{\"id\":\"a\",\"vector\":[1,2]}\nnot json\n");
  r = Ragctl({"points", "upsert", "--collection", "c", bad});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("bad.jsonl:2:"));

  r = Ragctl({"collections", "frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  r = Ragctl({"points", "delete", "--collection", "c"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(RagctlTest, EvalJudgesRagdAndABaselineBySlice) {
  ASSERT_EQ(Ragctl({"collections", "create", "kb", "--embedder", "local"}).exit_code, 0);
  std::string docs = WriteFile(
      "docs.jsonl",
      "{\"id\": \"tea\", \"text\": \"Green tea is steeped in water at eighty degrees for two "
      "minutes.\"}\n"
      "{\"id\": \"bikes\", \"text\": \"Bicycle chains need oil every few hundred "
      "kilometres.\"}\n"
      "{\"id\": \"rust\", \"text\": \"Iron rusts when oxygen and water meet its surface.\"}\n");
  CommandResult r = Ragctl({"ingest", docs, "--collection", "kb", "--format", "jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string questions = WriteFile(
      "q.jsonl",
      "{\"id\": \"q1\", \"question\": \"How long is green tea steeped?\", \"expected\": "
      "[\"tea\"], \"slices\": [\"food\"]}\n"
      "{\"id\": \"q2\", \"question\": \"How often do bicycle chains need oil?\", "
      "\"expected\": \"bikes\", \"slices\": [\"tools\"]}\n"
      "\n"
      "{\"id\": \"q3\", \"question\": \"Why does iron rust?\", \"expected\": [\"rust\"], "
      "\"slices\": [\"tools\"]}\n");
  // Another system's rankings: q1 right at rank 2, q2 right at 1, q3 not ranked at all.
  std::string ranked = WriteFile("other.jsonl",
                                 "{\"id\": \"q1\", \"ranked\": [\"bikes\", \"tea\"]}\n"
                                 "{\"id\": \"q2\", \"ranked\": [\"bikes\"]}\n");
  r = Ragctl({"--json", "eval", questions, "--collection", "kb", "--baseline",
              "other=" + ranked});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, nlohmann::json> rows;  // "system/slice"
  for (absl::string_view line : absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    rows[j["system"].get<std::string>() + "/" + j["slice"].get<std::string>()] = j;
  }
  ASSERT_EQ(rows.size(), 6u) << r.out;  // {ragd, other} x {all, food, tools}
  // The baseline, judged by hand: RR 1/2, 1, 0; hit@1 0, 1, 0.
  EXPECT_EQ(rows["other/all"]["questions"], 3);
  EXPECT_NEAR(rows["other/all"]["mrr@10"].get<double>(), 0.5, 1e-12);
  EXPECT_NEAR(rows["other/all"]["hit@1"].get<double>(), 1.0 / 3, 1e-12);
  EXPECT_NEAR(rows["other/all"]["hit@5"].get<double>(), 2.0 / 3, 1e-12);
  EXPECT_NEAR(rows["other/tools"]["mrr@10"].get<double>(), 0.5, 1e-12);
  EXPECT_EQ(rows["other/tools"]["questions"], 2);
  EXPECT_FALSE(rows["other/all"].contains("p50_ms"));
  // --ranks: one line per system and question, the baseline's ranks as judged above.
  const std::string ranks_file = WriteFile("ranks.jsonl", "");
  r = Ragctl({"eval", questions, "--collection", "kb", "--baseline", "other=" + ranked, "--ranks",
              ranks_file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, nlohmann::json> ranks;  // "system/id"
  {
    std::ifstream in(ranks_file);
    for (std::string line; std::getline(in, line);) {
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      ASSERT_TRUE(j.is_object()) << line;
      ranks[j["system"].get<std::string>() + "/" + j["id"].get<std::string>()] = j;
    }
  }
  ASSERT_EQ(ranks.size(), 6u);
  EXPECT_EQ(ranks["other/q1"]["rank"], 2);
  EXPECT_EQ(ranks["other/q1"]["ranked"], nlohmann::json({"bikes", "tea"}));
  EXPECT_EQ(ranks["other/q3"]["rank"], 0);
  EXPECT_EQ(ranks["other/q3"]["slices"], nlohmann::json({"tools"}));
  EXPECT_EQ(ranks["ragd/q2"]["rank"], 1);
  // ragd: three documents, so each answer is in its top 5; questions share words with their
  // document only, so the lexical local embedder ranks each first.
  EXPECT_EQ(rows["ragd/all"]["questions"], 3);
  EXPECT_EQ(rows["ragd/all"]["hit@5"], 1.0);
  EXPECT_EQ(rows["ragd/all"]["hit@1"], 1.0) << r.out;
  EXPECT_GT(rows["ragd/all"]["p50_ms"].get<double>(), 0);

  // Every retrieval mode, a row each (the collection has a lexical index: it has an embedder).
  r = Ragctl({"--json", "eval", questions, "--collection", "kb", "--mode", "all"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::set<std::string> systems;
  for (absl::string_view line : absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    systems.insert(j["system"].get<std::string>());
    if (j["slice"] == "all") EXPECT_EQ(j["hit@5"], 1.0) << line;
  }
  EXPECT_EQ(systems, (std::set<std::string>{"ragd-vector", "ragd-text", "ragd-hybrid"}));
  r = Ragctl({"eval", questions, "--collection", "kb", "--mode", "fuzzy"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--mode"));

  r = Ragctl({"eval", questions, "--collection", "kb"});  // not a TTY: tab-separated table
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("SLICE\tSYSTEM\tN\tHIT@1\tHIT@5\tMRR@10\tNDCG@10\tP50_MS\n"));
  EXPECT_THAT(r.out, HasSubstr("all\tragd\t3\t1.000\t1.000\t1.000\t1.000\t"));

  // Bad input: the file and line are named; exit 2 before any call.
  std::string bad = WriteFile("bad.jsonl",
                              "{\"id\": \"q1\", \"question\": \"?\", \"expected\": [\"a\"]}\n"
                              "{\"id\": \"q2\", \"question\": \"?\"}\n");
  r = Ragctl({"eval", bad, "--collection", "kb"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("bad.jsonl:2: expected"));
  r = Ragctl({"eval", questions, "--collection", "kb", "--baseline", "nofile"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("NAME=FILE"));
  r = Ragctl({"eval", questions, "--collection", "nope"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, HasSubstr("question q1: NOT_FOUND"));
}

TEST_F(RagctlTest, AddressFromEnvironmentAndUnreachableServer) {
  absl::StatusOr<CommandResult> r =
      RunCommand({RAGCTL_BINARY, "collections", "list"}, absl::Seconds(60),
                 {absl::StrCat("RAGD_ADDRESS=", ragd_->address())});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->err;

  ragd_->Kill();
  r = RunCommand({RAGCTL_BINARY, "--timeout", "2", "collections", "list"}, absl::Seconds(60),
                 {absl::StrCat("RAGD_ADDRESS=", ragd_->address())});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 6);
  EXPECT_THAT(r->err, StartsWith("ragctl: UNAVAILABLE: "));
}

}  // namespace
}  // namespace ragd::testing
