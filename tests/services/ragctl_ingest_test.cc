// The real ragctl against a real ragd: ingest before `collections create` says how to create
// the collection, `collections create` binds "local" by default,
// `ingest` of the Korean corpus (hidden files and ConfigMap internals skipped, re-runs skip
// unchanged documents, failures listed with exit code 1), `documents get|delete`, `jobs get`,
// and `tokens` (counted by ragd's Retrieval.CountTokens) equal to js-tiktoken's golden ids.

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_join.h"

#include <fstream>
#include <map>

#include "tests/services/ingest_test_util.h"

namespace ragd::testing {
namespace {

class RagctlIngestTest : public RagdSuite {
 protected:
  CommandResult Ragctl(std::vector<std::string> args) {
    std::vector<std::string> argv = {RAGCTL_BINARY, "--address", ragd().address()};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = RunCommand(argv, absl::Seconds(120));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CommandResult{};
  }
  TempDir tree_;
};

TEST_F(RagctlIngestTest, IngestCorpusDocumentsJobsAndFailures) {
  // Before the collection exists: NOT_FOUND (exit 3), naming the command that creates it.
  WriteText(tree_.path() / "first" / "a.md", "# a\n");
  CommandResult r = Ragctl({"ingest", (tree_.path() / "first").string(), "--collection", "kb"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("ragctl collections create kb"), std::string::npos) << r.err;

  r = Ragctl({"collections", "create", "kb"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("1536"), std::string::npos);
  EXPECT_NE(r.out.find("local"), std::string::npos);

  // The corpus plus files ragctl must not send: hidden ones and a ConfigMap's ..data.
  const auto root = tree_.path() / "docs";
  for (const auto& f : CorpusFiles()) WriteText(root / "ko" / f.filename(), ReadText(f));
  WriteText(root / ".hidden.md", "# hidden\n");
  WriteText(root / "..data" / "x.md", "# configmap internals\n");
  WriteText(root / "notes.bin", "binary?");
  r = Ragctl({"ingest", root.string(), "--collection", "kb", "--job-id", "job-cli"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("5 ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("$0.0000"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("notes.bin"), std::string::npos) << r.err;  // reported, not sent

  r = Ragctl({"--json", "jobs", "get", "job-cli"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json job = nlohmann::json::parse(r.out);
  EXPECT_EQ(job["state"], "JOB_STATE_COMPLETED");
  EXPECT_EQ(job["documents_ok"], "5");  // uint64 as a JSON string (proto3 JSON mapping)

  r = Ragctl({"ingest", root.string(), "--collection", "kb", "--include", "*.md"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("5 skipped"), std::string::npos) << r.out;

  const std::string id = "ko/" + CorpusFiles()[0].filename().string();
  r = Ragctl({"documents", "get", "--collection", "kb", id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(id + "#0"), std::string::npos) << r.out;
  r = Ragctl({"documents", "delete", "--collection", "kb", id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Ragctl({"documents", "get", "--collection", "kb", id}).exit_code, 3);

  // A document that cannot be loaded: exit code 1 and the list.
  WriteText(tree_.path() / "bad" / "broken.txt", std::string("\xff\xfe\xfd not utf-8"));
  WriteText(tree_.path() / "bad" / "fine.txt", "괜찮은 문서입니다.");
  r = Ragctl({"ingest", (tree_.path() / "bad").string(), "--collection", "kb"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("broken.txt"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("1 ok"), std::string::npos) << r.out;

  // Plain vector collections refuse text, saying how to fix it.
  ASSERT_EQ(Ragctl({"collections", "create", "vec", "--dimension", "4"}).exit_code, 0);
  r = Ragctl({"ingest", root.string(), "--collection", "vec"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_NE(r.err.find("--embedder"), std::string::npos) << r.err;
}

// The token ids js-tiktoken 1.0.21 gives each corpus file (tests/models/data/golden_*.jsonl,
// made by scripts/tokenizer/make-golden.mjs): an independent source, not ragd's tokenizer.
std::map<std::string, std::vector<uint32_t>> GoldenIds(const std::string& encoding) {
  std::map<std::string, std::vector<uint32_t>> out;
  std::ifstream in(std::string(RAGD_SOURCE_DIR) + "/tests/models/data/golden_" + encoding +
                   ".jsonl");
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("name") || !j.contains("ids")) continue;
    out[j["name"].get<std::string>()] = j["ids"].get<std::vector<uint32_t>>();
  }
  return out;
}

TEST_F(RagctlIngestTest, TokensEqualJsTiktoken) {
  const auto cl100k = GoldenIds("cl100k");
  const auto o200k = GoldenIds("o200k");
  std::vector<std::string> args = {"tokens"};
  uint64_t total = 0;
  for (const auto& f : CorpusFiles()) {
    args.push_back(f.string());
    ASSERT_EQ(cl100k.count(f.filename().string()), 1u) << f;
    total += cl100k.at(f.filename().string()).size();
  }
  CommandResult r = Ragctl(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& f : CorpusFiles()) {
    EXPECT_NE(r.out.find(std::to_string(cl100k.at(f.filename().string()).size()) + "\t" +
                         f.string()),
              std::string::npos)
        << r.out;
  }
  EXPECT_NE(r.out.find(std::to_string(total) + "\ttotal"), std::string::npos) << r.out;

  const auto first = CorpusFiles()[0];
  ASSERT_EQ(o200k.count(first.filename().string()), 1u);
  r = Ragctl({"tokens", "--encoding", "o200k_base", "--ids", first.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            first.string() + "\t" + absl::StrJoin(o200k.at(first.filename().string()), " ") + "\n");
  EXPECT_EQ(Ragctl({"tokens", "--encoding", "p50k", first.string()}).exit_code, 2);
}

// On a terminal, ingest redraws a progress bar in place (files, chunks, tokens, rate, ETA) and
// draws it once more with the final counts.
// util-linux `script` (Debian's essential bsdutils) gives ragctl a pseudo-terminal.
TEST_F(RagctlIngestTest, ProgressBarOnATerminal) {
  ASSERT_EQ(Ragctl({"collections", "create", "tty"}).exit_code, 0);
  const auto root = tree_.path() / "many";
  std::string body;
  for (int line = 0; line < 40; ++line) {
    body += "Sentence " + std::to_string(line) + " about embeddings, retrieval and ranking. ";
  }
  constexpr int kFiles = 300;
  for (int i = 0; i < kFiles; ++i) {
    WriteText(root / ("doc" + std::to_string(i) + ".md"),
              "# Document " + std::to_string(i) + "\n\n" + body + std::to_string(i) + "\n");
  }
  const std::string command = std::string(RAGCTL_BINARY) + " --address " + ragd().address() +
                              " ingest " + root.string() + " --collection tty";
  auto r = RunCommand({"/usr/bin/script", "-qec", command, "/dev/null"}, absl::Seconds(120));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit_code, 0) << r->out << r->err;
  // The bar is redrawn in place with a carriage return, and ends with the summary.
  EXPECT_NE(r->out.find("\r["), std::string::npos) << r->out.substr(0, 2000);
  EXPECT_NE(r->out.find("chunks/s"), std::string::npos);
  EXPECT_NE(r->out.find("ETA"), std::string::npos);
  EXPECT_NE(r->out.find(std::to_string(kFiles) + " ok"), std::string::npos) << r->out;
}

}  // namespace
}  // namespace ragd::testing
