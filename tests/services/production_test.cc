// Production features over the real ragd and ragctl on 127.0.0.1: the admin port (/metrics,
// /livez, /readyz; also over HTTPS is in production_auth_test.cc with TLS) and its metrics, and
// print-config. API keys, scopes, rate limits, TLS and ragctl auth: production_auth_test.cc.

#include <gtest/gtest.h>
#include <httplib.h>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ragd/v1/ingest.grpc.pb.h"
#include "tests/services/service_test_util.h"
#include "tests/services/production_util.h"

namespace ragd::testing {
namespace {

TEST(AdminPort, ReadyzDuringRecoveryThenMetricsAfterCalls) {
  // debug.open_delay_ms holds recovery back; the delay starts after ragd wrote its port files,
  // so after `launched`. /readyz seen within the delay of `launched` was certainly asked before
  // recovery; one seen later proves nothing (a loaded machine can stretch start-up past a fixed
  // delay), so that attempt is repeated with twice the delay (bounded: 2, 4, 8, 16 s).
  TempDir dir;
  std::unique_ptr<RagdProcess> ragd;
  for (int delay_ms = 2000; ragd == nullptr && delay_ms <= 16000; delay_ms *= 2) {
    std::string config = WriteFile(dir, absl::StrCat("ragd-", delay_ms, ".yaml"),
                                   absl::StrCat("debug:\n  open_delay_ms: ", delay_ms, "\n"));
    const absl::Time launched = absl::Now();
    auto started = RagdProcess::Start(RagdProcess::OptionsFor(
        (dir.path() / absl::StrCat("data-", delay_ms)).string(), {"--config", config},
        /*wait_for_serving=*/false));
    ASSERT_TRUE(started.ok()) << started.status();
    const int admin = (*started)->admin_port();
    ASSERT_GT(admin, 0);
    const HttpResult live = HttpGet(admin, "/livez");
    const HttpResult ready = HttpGet(admin, "/readyz");
    const absl::Duration took = absl::Now() - launched;
    if (took >= absl::Milliseconds(delay_ms)) {
      std::cout << "/readyz answered " << absl::FormatDuration(took)
                << " after launch, past open_delay_ms " << delay_ms
                << ": inconclusive, again with a longer delay\n";
      continue;  // ~RagdProcess kills this one
    }
    EXPECT_EQ(live.status, 200);
    EXPECT_EQ(ready.status, 503);
    EXPECT_NE(ready.body.find("recovering"), std::string::npos) << ready.body;
    ragd = *std::move(started);
  }
  ASSERT_NE(ragd, nullptr) << "every attempt's /readyz came after its recovery delay";
  const int admin = ragd->admin_port();

  ASSERT_TRUE(ragd->WaitForServing(absl::Seconds(60)).ok());
  EXPECT_EQ(HttpGet(admin, "/readyz").status, 200);
  EXPECT_EQ(HttpGet(admin, "/livez").status, 200);

  Client client(ragd->channel());
  v1::CreateCollectionRequest create;
  create.set_name("m");
  create.set_dimension(3);
  ASSERT_GRPC_OK(client.Create(create));
  for (int i = 0; i < 3; ++i) ASSERT_GRPC_OK(UpsertWithKey(ragd->channel(), "", "m"));
  EXPECT_FALSE(UpsertWithKey(ragd->channel(), "", "missing").ok());
  // A quantized collection: its re-scoring reads go to RocksDB once, then to the file cache.
  v1::CreateCollectionRequest quantized;
  quantized.set_name("q");
  quantized.set_dimension(3);
  quantized.mutable_index()->mutable_hnsw()->set_quantization(v1::QUANTIZATION_F16);
  ASSERT_GRPC_OK(client.Create(quantized));
  std::vector<v1::Point> qpoints;
  for (int i = 0; i < 8; ++i) {
    qpoints.push_back(MakePoint("q" + std::to_string(i), {1.0f + i, 2.0f, 0.5f * i}));
  }
  ASSERT_GRPC_OK(client.Upsert("q", qpoints));
  v1::SearchRequest qsearch;
  qsearch.set_collection("q");
  SetVector(qsearch.mutable_vector(), {1, 1, 1});
  qsearch.set_k(4);  // F16's default oversampling 1: the 4 results re-scored
  for (int i = 0; i < 3; ++i) {
    v1::SearchResponse r;
    ASSERT_GRPC_OK(client.Search(qsearch, &r));
    ASSERT_EQ(r.hits_size(), 4);
  }

  HttpResult metrics = HttpGet(admin, "/metrics");
  ASSERT_EQ(metrics.status, 200);
  const std::string& t = metrics.body;
  EXPECT_EQ(
      Sample(t, "ragd_grpc_requests_total", {{"method", "/ragd.v1.Points/Upsert"}, {"code", "OK"}}),
      4)
      << t;
  EXPECT_EQ(Sample(t, "ragd_grpc_requests_total",
                   {{"method", "/ragd.v1.Points/Upsert"}, {"code", "NOT_FOUND"}}),
            1);
  EXPECT_EQ(Sample(t, "ragd_grpc_requests_total",
                   {{"method", "/ragd.v1.Collections/CreateCollection"}, {"code", "OK"}}),
            2);
  EXPECT_EQ(
      Sample(t, "ragd_grpc_request_duration_seconds_count", {{"method", "/ragd.v1.Points/Upsert"}}),
      5);
  EXPECT_EQ(Sample(t, "ragd_collection_points", {{"collection", "m"}}), 1);
  EXPECT_GE(Sample(t, "ragd_collection_index_bytes", {{"collection", "m"}}), 1);
  // The first search reads its 4 candidates from RocksDB, the next two from the file (the
  // same 4 points each time).
  EXPECT_EQ(
      Sample(t, "ragd_collection_rescore_reads", {{"collection", "q"}, {"source", "storage"}}), 4);
  EXPECT_EQ(Sample(t, "ragd_collection_rescore_reads", {{"collection", "q"}, {"source", "file"}}),
            8);
  EXPECT_EQ(Sample(t, "ragd_collection_rescore_reads", {{"collection", "m"}, {"source", "file"}}),
            0);
  // q's three searches, on its one shard, and the CPU time they took; none of m.
  EXPECT_EQ(Sample(t, "ragd_collection_vector_searches_total", {{"collection", "q"}}), 3);
  EXPECT_GT(Sample(t, "ragd_collection_vector_search_cpu_seconds_total", {{"collection", "q"}}),
            0);
  EXPECT_EQ(Sample(t, "ragd_collection_vector_searches_total", {{"collection", "m"}}), 0);
  EXPECT_EQ(Sample(t, "ragd_collection_vector_search_cpu_seconds_total", {{"collection", "m"}}),
            0);
  EXPECT_GE(Sample(t, "ragd_recovery_duration_seconds", {}), 0);
  EXPECT_NE(t.find("# TYPE ragd_grpc_request_duration_seconds histogram"), std::string::npos);

  auto code = ragd->Terminate(absl::Seconds(30));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
}

// Ingest and chat metrics come from the summaries and Answer final events as they are sent.
TEST(AdminPort, IngestAndChatMetrics) {
  TempDir dir;
  auto ragd = RagdProcess::Start(RagdProcess::OptionsFor((dir.path() / "data").string()));
  ASSERT_TRUE(ragd.ok()) << ragd.status();
  const std::string address = (*ragd)->address();
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {RAGCTL_BINARY, "--address", address});
    auto r = RunCommand(args, absl::Seconds(60));
    EXPECT_TRUE(r.ok()) << r.status();
    if (r.ok()) EXPECT_EQ(r->exit_code, 0) << r->err;
  };
  run({"collections", "create", "kb", "--embedder", "local"});
  WriteFile(dir, "a.md", "# Backups\n\nRun ragctl snapshot create every night.\n");
  WriteFile(dir, "b.md", "# Keys\n\nAPI keys have roles: admin, writer and reader.\n");
  run({"ingest", (dir.path() / "a.md").string(), (dir.path() / "b.md").string(), "--collection",
       "kb"});
  run({"ask", "--collection", "kb", "which roles do keys have?"});

  std::string t = HttpGet((*ragd)->admin_port(), "/metrics").body;
  EXPECT_EQ(Sample(t, "ragd_ingest_documents_total", {{"result", "ok"}}), 2) << t;
  EXPECT_GE(Sample(t, "ragd_ingest_chunks_total", {}), 2);
  EXPECT_GT(Sample(t, "ragd_ingest_tokens_total", {}), 0);
  EXPECT_EQ(Sample(t, "ragd_chat_requests_total", {{"model", "local"}, {"code", "OK"}}), 1);
  EXPECT_GT(Sample(t, "ragd_chat_prompt_tokens_total", {{"model", "local"}}), 0);
  EXPECT_EQ(Sample(t, "ragd_grpc_requests_total",
                   {{"method", "/ragd.v1.Ingest/IngestDocuments"}, {"code", "OK"}}),
            1);
  EXPECT_EQ(Sample(t, "ragd_collection_points", {{"collection", "kb"}}),
            Sample(t, "ragd_ingest_chunks_total", {}));

  // Every embedding is counted by the embedder itself, ingestion and queries alike: the
  // chunks, then the question of `ask`.
  const std::map<std::string, std::string> local = {{"model", "local/hash-v1-1536"}};
  const double chunks = Sample(t, "ragd_ingest_chunks_total", {});
  EXPECT_EQ(Sample(t, "ragd_embedding_inputs_total", local), chunks + 1) << t;
  const double requests =
      Sample(t, "ragd_embedding_requests_total", {{"model", "local/hash-v1-1536"}, {"code", "OK"}});
  EXPECT_GE(requests, 2);  // at least one per document, plus the question
  EXPECT_EQ(Sample(t, "ragd_embedding_request_duration_seconds_count", local), requests);
  EXPECT_EQ(Sample(t, "ragd_embedding_retries_total", local), 0);
  EXPECT_EQ(Sample(t, "ragd_embedding_tokens_total", local), 0);  // local bills nothing
  EXPECT_NE(t.find("# TYPE ragd_embedding_request_duration_seconds histogram"), std::string::npos);

  // A new query is one more request; the same query again comes from the query cache.
  run({"search", "--collection", "kb", "nightly snapshot"});
  run({"search", "--collection", "kb", "nightly snapshot"});
  t = HttpGet((*ragd)->admin_port(), "/metrics").body;
  EXPECT_EQ(
      Sample(t, "ragd_embedding_requests_total", {{"model", "local/hash-v1-1536"}, {"code", "OK"}}),
      requests + 1)
      << t;
  EXPECT_EQ(Sample(t, "ragd_embedding_inputs_total", local), chunks + 2);

  // The two caches' own series: the query LRU saw the question of `ask` and the new search
  // miss, the repeated one hit; the ingest cache looked up every chunk once and found none.
  const std::map<std::string, std::string> query = {{"cache", "query"}};
  EXPECT_EQ(Sample(t, "ragd_embedding_cache_lookups_total", {{"cache", "query"}, {"result", "hit"}}),
            1)
      << t;
  EXPECT_EQ(
      Sample(t, "ragd_embedding_cache_lookups_total", {{"cache", "query"}, {"result", "miss"}}), 2);
  EXPECT_EQ(Sample(t, "ragd_embedding_cache_entries", query), 2);
  EXPECT_EQ(Sample(t, "ragd_embedding_cache_max_entries", query), 4096);
  EXPECT_EQ(
      Sample(t, "ragd_embedding_cache_lookups_total", {{"cache", "ingest"}, {"result", "miss"}}),
      chunks);
  EXPECT_EQ(Sample(t, "ragd_embedding_cache_entries", {{"cache", "ingest"}}), chunks);
}

// Snapshot and backup durations come from the engine's events; a deleted collection's series
// go away.
TEST(AdminPort, SnapshotAndBackupMetrics) {
  TempDir dir;
  auto ragd = RagdProcess::Start(RagdProcess::OptionsFor((dir.path() / "data").string()));
  ASSERT_TRUE(ragd.ok()) << ragd.status();
  const int admin = (*ragd)->admin_port();
  std::string t = HttpGet(admin, "/metrics").body;
  EXPECT_EQ(Sample(t, "ragd_backup_duration_seconds_count", {}), 0) << t;
  EXPECT_EQ(Sample(t, "ragd_backup_failures_total", {}), 0);

  Client client((*ragd)->channel());
  for (const char* name : {"m", "gone"}) {
    v1::CreateCollectionRequest create;
    create.set_name(name);
    create.set_dimension(3);
    ASSERT_GRPC_OK(client.Create(create));
    ASSERT_GRPC_OK(UpsertWithKey((*ragd)->channel(), "", name));
  }
  const std::string backup = (dir.path() / "backup").string();
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {RAGCTL_BINARY, "--address", (*ragd)->address()});
    auto r = RunCommand(args, absl::Seconds(60));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->exit_code : -1;
  };
  EXPECT_EQ(run({"snapshot", "create", backup}), 0);
  EXPECT_NE(run({"snapshot", "create", backup}), 0);  // already holds a backup

  t = HttpGet(admin, "/metrics").body;
  EXPECT_EQ(Sample(t, "ragd_backup_duration_seconds_count", {}), 2) << t;
  EXPECT_EQ(Sample(t, "ragd_backup_failures_total", {}), 1);
  EXPECT_GT(Sample(t, "ragd_backup_duration_seconds_sum", {}), 0);
  // Only the backup that ran paused writes; the refused one stopped before.
  EXPECT_EQ(Sample(t, "ragd_backup_pause_seconds_count", {}), 1) << t;
  EXPECT_LE(Sample(t, "ragd_backup_pause_seconds_sum", {}),
            Sample(t, "ragd_backup_duration_seconds_sum", {}));
  // The backup saved fresh snapshots of both collections first.
  EXPECT_EQ(Sample(t, "ragd_snapshot_duration_seconds_count", {{"collection", "m"}}), 1);
  EXPECT_EQ(Sample(t, "ragd_snapshot_duration_seconds_count", {{"collection", "gone"}}), 1);
  EXPECT_EQ(Sample(t, "ragd_snapshot_failures_total", {{"collection", "m"}}), 0);
  EXPECT_EQ(Sample(t, "ragd_compaction_failures_total", {{"collection", "m"}}), 0);
  EXPECT_NE(t.find("# TYPE ragd_snapshot_duration_seconds histogram"), std::string::npos);
  EXPECT_NE(t.find("# TYPE ragd_compaction_duration_seconds histogram"), std::string::npos);

  ASSERT_GRPC_OK(client.DeleteCollection("gone"));
  t = HttpGet(admin, "/metrics").body;
  EXPECT_EQ(Sample(t, "ragd_snapshot_duration_seconds_count", {{"collection", "gone"}}), -1) << t;
  EXPECT_EQ(Sample(t, "ragd_snapshot_duration_seconds_count", {{"collection", "m"}}), 1);
  auto code = (*ragd)->Terminate(absl::Seconds(30));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
}

TEST(PrintConfig, NestedTlsKeyFromEnvironment) {
  auto r = RunCommand({RagdBinary(), "--print-config"}, absl::Seconds(20),
                      {"RAGD_SERVER__TLS__CLIENT_CA_FILE=/ca.pem", "RAGD_LOG__FORMAT=json"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_NE(r->out.find("tls.client_ca_file: /ca.pem"), std::string::npos) << r->out;
  EXPECT_NE(r->out.find("format: json"), std::string::npos) << r->out;
}

TEST(PrintConfig, ShowsKeyNamesNeverKeysOrHashes) {
  TempDir dir;
  const std::string hash(64, 'a');
  std::string config = WriteFile(
      dir, "c.yaml",
      absl::StrCat("auth:\n  api_keys:\n    - {name: ops, role: admin, key_sha256: ", hash,
                   "}\n    - {name: env, role: reader, key_env: SOME_KEY}\n"
                   "server:\n  tls:\n    cert_file: /c.pem\n    key_file: /k.pem\n"));
  auto r = RunCommand({RagdBinary(), "--config", config, "--print-config"}, absl::Seconds(20));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_EQ(r->out.find(hash), std::string::npos) << r->out;
  EXPECT_NE(r->out.find("name: ops"), std::string::npos) << r->out;
  EXPECT_NE(r->out.find("key_env: SOME_KEY"), std::string::npos) << r->out;
  EXPECT_NE(r->out.find("tls.cert_file: /c.pem"), std::string::npos) << r->out;
  // An unset key_env stops start-up naming the entry.
  r = RunCommand({RagdBinary(), "--config", config, "--data-dir", (dir.path() / "d").string()},
                 absl::Seconds(20));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 2);
  EXPECT_NE(r->err.find("auth.api_keys[1].key_env"), std::string::npos) << r->err;
}


}  // namespace
}  // namespace ragd::testing
