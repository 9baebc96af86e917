// services/server/config: precedence (defaults < YAML < environment < flags) and errors that name
// the key.

#include "services/server/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace ragd::services {
namespace {

using ::testing::HasSubstr;

CommandLine Parse(std::vector<std::string> args, const std::vector<std::string>& env,
                  std::string* out_text = nullptr, std::string* err_text = nullptr) {
  args.insert(args.begin(), "ragd");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  CommandLine cl = ParseCommandLine(static_cast<int>(argv.size()), argv.data(), env, out, err);
  if (out_text) *out_text = out.str();
  if (err_text) *err_text = err.str();
  return cl;
}

TEST(ConfigTest, Defaults) {
  CommandLine cl = Parse({}, {});
  EXPECT_FALSE(cl.exit_code.has_value());
  EXPECT_EQ(cl.config.server.listen, "127.0.0.1:50051");
  EXPECT_EQ(cl.config.storage.data_dir, "./ragd-data");
  EXPECT_EQ(cl.config.log.level, "info");
  index::Engine::Options engine = cl.config.EngineOptions();
  EXPECT_EQ(engine.data_dir, "./ragd-data");
  EXPECT_EQ(engine.max_k, index::Engine::Options{}.max_k);
  EXPECT_TRUE(engine.sync_writes);
  EXPECT_TRUE(engine.rescore_file);
}

// The re-scoring file cache can be turned off (here through the environment).
TEST(ConfigTest, RescoreFileCanBeTurnedOff) {
  CommandLine cl = Parse({}, {"RAGD_ENGINE__RESCORE_FILE=false"});
  ASSERT_FALSE(cl.exit_code.has_value());
  EXPECT_FALSE(cl.config.EngineOptions().rescore_file);
}

// One default per setting: the config holds each layer's own options struct, so its defaults
// are the layer's (not restated here), and --print-config prints them.
TEST(ConfigTest, DefaultsAreTheLayersOwn) {
  Config config;
  EXPECT_EQ(config.retrieval.answers.mmr_lambda, rag::AnswerSettings{}.mmr_lambda);
  EXPECT_EQ(config.retrieval.answers.answer_deadline, rag::AnswerSettings{}.answer_deadline);
  EXPECT_EQ(config.retrieval.retriever.max_k, rag::RetrieverOptions{}.max_k);
  EXPECT_EQ(config.retrieval.retriever.hybrid_fusion, rag::RetrieverOptions{}.hybrid_fusion);
  EXPECT_EQ(config.retrieval.retriever.hybrid_alpha, rag::RetrieverOptions{}.hybrid_alpha);
  EXPECT_THAT(ToYaml(config), HasSubstr("hybrid_fusion: weighted"));
  ASSERT_TRUE(ApplyYaml("retrieval:\n  hybrid_fusion: rrf\n  hybrid_alpha: 0.7\n", &config).ok());
  EXPECT_EQ(config.retrieval.retriever.hybrid_fusion, index::Fusion::kRrf);
  EXPECT_EQ(config.retrieval.retriever.hybrid_alpha, 0.7);
  EXPECT_THAT(ToYaml(config), HasSubstr("hybrid_fusion: rrf"));
  EXPECT_EQ(config.retrieval.retriever.text_feedback.docs, 0u);  // RM3 off by default
  ASSERT_TRUE(ApplyYaml("retrieval:\n  text_feedback_docs: 10\n  text_feedback_terms: 20\n"
                        "  text_feedback_weight: 0.7\n",
                        &config)
                  .ok());
  EXPECT_EQ(config.retrieval.retriever.text_feedback.docs, 10u);
  EXPECT_EQ(config.retrieval.retriever.text_feedback.terms, 20u);
  EXPECT_EQ(config.retrieval.retriever.text_feedback.original_weight, 0.7);
  EXPECT_THAT(ToYaml(config), HasSubstr("text_feedback_docs: 10"));
  EXPECT_EQ(config.engine.max_batch_points, index::Engine::Options{}.max_batch_points);
  EXPECT_EQ(config.ingest.service.max_streams, IngestServiceOptions{}.max_streams);
  EXPECT_EQ(config.ingest.chunking.max_tokens, rag::ChunkingBinding{}.max_tokens);
  ASSERT_TRUE(ApplyYaml("retrieval:\n  answer_deadline_ms: 1500\n", &config).ok());
  EXPECT_EQ(config.retrieval.answers.answer_deadline.count(), 1500);
  std::string yaml = ToYaml(config);
  EXPECT_THAT(yaml, HasSubstr("answer_deadline_ms: 1500"));
}

// Cluster mode is off unless nats_urls is set; its options are cluster::JetStreamLogOptions.
TEST(ConfigTest, ClusterSectionIsOffByDefaultAndMapsOntoTheLogOptions) {
  CommandLine cl = Parse({}, {});
  ASSERT_FALSE(cl.exit_code.has_value());
  EXPECT_FALSE(cl.config.cluster.enabled());
  EXPECT_EQ(cl.config.cluster.log.replicas, cluster::JetStreamLogOptions{}.replicas);

  Config config;
  ASSERT_OK(
      ApplyYaml("cluster:\n  nats_urls: [\"nats://a:4222\", \"nats://b:4222\"]\n"
                "  replicas: 3\n  pod_id: ragd-0\n",
                &config));
  EXPECT_TRUE(config.cluster.enabled());
  EXPECT_EQ(config.cluster.log.urls, (std::vector<std::string>{"nats://a:4222", "nats://b:4222"}));
  EXPECT_EQ(config.cluster.log.replicas, 3);
  EXPECT_EQ(config.cluster.pod_id, "ragd-0");
  EXPECT_THAT(ToYaml(config), HasSubstr("nats_urls: nats://a:4222,nats://b:4222"));

  cl = Parse({}, {"RAGD_CLUSTER__NATS_URLS=nats://x:1, nats://y:2", "RAGD_CLUSTER__REPLICAS=3"});
  ASSERT_FALSE(cl.exit_code.has_value());
  EXPECT_EQ(cl.config.cluster.log.urls, (std::vector<std::string>{"nats://x:1", "nats://y:2"}));

  std::string err;
  cl = Parse({}, {"RAGD_CLUSTER__NATS_URLS=http://x:1"}, nullptr, &err);
  EXPECT_EQ(cl.exit_code, 2);
  EXPECT_THAT(err, HasSubstr("cluster.nats_urls"));
  cl = Parse({}, {"RAGD_CLUSTER__REPLICAS=7"}, nullptr, &err);
  EXPECT_EQ(cl.exit_code, 2);
  EXPECT_THAT(err, HasSubstr("cluster.replicas"));
}

// The read path's keys map onto cluster::MonitorOptions, whose defaults they do not restate.
TEST(ConfigTest, ClusterReadKeysMapOntoTheMonitorOptions) {
  Config config;
  EXPECT_EQ(config.cluster.monitor.ready_max_lag, cluster::MonitorOptions{}.ready_max_lag);
  ASSERT_OK(ApplyYaml("cluster:\n  ready_max_lag: 7\n  bounded_staleness_ms: 250\n"
                      "  status_interval_ms: 40\ndebug:\n  apply_delay_ms: 5\n",
                      &config));
  EXPECT_EQ(config.cluster.monitor.ready_max_lag, 7u);
  EXPECT_EQ(config.cluster.monitor.bounded_staleness, std::chrono::milliseconds(250));
  EXPECT_EQ(config.cluster.monitor.status_interval, std::chrono::milliseconds(40));
  EXPECT_EQ(config.debug.apply_delay_ms, 5);
  std::string err;
  CommandLine cl = Parse({}, {"RAGD_CLUSTER__STATUS_INTERVAL_MS=5"}, nullptr, &err);
  EXPECT_EQ(cl.exit_code, 2);
  EXPECT_THAT(err, HasSubstr("cluster.status_interval_ms"));
}

// How long start-up retries reaching JetStream: 60 s by default, 0 (one attempt) allowed, at
// most an hour.
TEST(ConfigTest, ClusterConnectTimeout) {
  Config config;
  EXPECT_EQ(config.cluster.connect_timeout, std::chrono::seconds(60));
  ASSERT_OK(ApplyYaml("cluster:\n  connect_timeout_ms: 0\n", &config));
  EXPECT_EQ(config.cluster.connect_timeout, std::chrono::milliseconds(0));
  std::string err;
  CommandLine cl = Parse({}, {"RAGD_CLUSTER__CONNECT_TIMEOUT_MS=3600001"}, nullptr, &err);
  EXPECT_EQ(cl.exit_code, 2);
  EXPECT_THAT(err, HasSubstr("cluster.connect_timeout_ms"));
}

TEST(ConfigTest, PrecedenceIsDefaultsYamlEnvironmentFlags) {
  testing::TempDir dir;
  std::string path = (dir.path() / "ragd.yaml").string();
  std::ofstream(path) << "server:\n  listen: 0.0.0.0:1\n  workers: 3\n"
                         "storage:\n  data_dir: /yaml\n"
                         "engine:\n  max_k: 50\n  sync_writes: false\n  compaction_ratio: 0.5\n"
                         "log:\n  level: debug\n";
  CommandLine cl = Parse({"--config", path, "--listen", "127.0.0.1:3"},
                         {"RAGD_SERVER__LISTEN=127.0.0.1:2", "RAGD_STORAGE__DATA_DIR=/env",
                          "RAGD_ADDRESS=ignored:1", "PATH=/bin"});
  ASSERT_FALSE(cl.exit_code.has_value());
  EXPECT_EQ(cl.config.server.listen, "127.0.0.1:3");  // flag beats env beats YAML
  EXPECT_EQ(cl.config.storage.data_dir, "/env");      // env beats YAML
  EXPECT_EQ(cl.config.server.workers, 3);             // YAML beats default
  EXPECT_EQ(cl.config.engine.max_k, 50u);
  EXPECT_FALSE(cl.config.engine.sync_writes);
  EXPECT_EQ(cl.config.engine.compaction_ratio, 0.5);
  EXPECT_EQ(cl.config.log.level, "debug");
  EXPECT_EQ(cl.config.EngineOptions().max_k, 50u);
  EXPECT_EQ(cl.config.EngineOptions().data_dir, "/env");
}

TEST(ConfigTest, AdminTlsFromYamlOrEnvironmentBothFilesOrNeither) {
  testing::TempDir dir;
  std::string path = (dir.path() / "ragd.yaml").string();
  std::ofstream(path) << "server:\n  admin_tls:\n    cert_file: /c.pem\n    key_file: /k.pem\n";
  CommandLine cl = Parse({"--config", path}, {"RAGD_SERVER__ADMIN_TLS__KEY_FILE=/env-k.pem"});
  ASSERT_FALSE(cl.exit_code.has_value());
  EXPECT_EQ(cl.config.server.admin_tls.cert_file, "/c.pem");
  EXPECT_EQ(cl.config.server.admin_tls.key_file, "/env-k.pem");
  EXPECT_TRUE(cl.config.server.tls.cert_file.empty());  // independent of gRPC's TLS
  std::string out;
  cl = Parse({"--config", path, "--print-config"}, {}, &out);
  EXPECT_THAT(out, HasSubstr("admin_tls.cert_file: /c.pem"));

  std::string err;
  cl = Parse({}, {"RAGD_SERVER__ADMIN_TLS__CERT_FILE=/c.pem"}, nullptr, &err);
  ASSERT_TRUE(cl.exit_code.has_value());
  EXPECT_EQ(*cl.exit_code, 2);
  EXPECT_THAT(err, HasSubstr("server.admin_tls: set both cert_file and key_file"));
}

// The HTTP API's listener: every source, validated, "" disables it, and like gRPC it refuses a
// non-loopback address without API keys.
TEST(ConfigTest, HttpListenFromEverySourceValidated) {
  EXPECT_EQ(Config{}.server.http_listen, "127.0.0.1:8080");
  testing::TempDir dir;
  std::string path = (dir.path() / "ragd.yaml").string();
  std::ofstream(path) << "server:\n  http_listen: 127.0.0.1:1\n  http_threads: 4\n";
  CommandLine cl = Parse({"--config", path}, {});
  ASSERT_FALSE(cl.exit_code.has_value());
  EXPECT_EQ(cl.config.server.http_listen, "127.0.0.1:1");
  EXPECT_EQ(cl.config.server.http_threads, 4);
  cl = Parse({"--config", path}, {"RAGD_SERVER__HTTP_LISTEN=127.0.0.1:2"});
  EXPECT_EQ(cl.config.server.http_listen, "127.0.0.1:2");
  cl = Parse({"--config", path, "--http-listen", "", "--http-port-file", "/tmp/p"},
             {"RAGD_SERVER__HTTP_LISTEN=127.0.0.1:2"});
  ASSERT_FALSE(cl.exit_code.has_value());
  EXPECT_EQ(cl.config.server.http_listen, "");
  EXPECT_EQ(cl.config.server.http_port_file, "/tmp/p");
  std::string out;
  cl = Parse({"--config", path, "--print-config"}, {}, &out);
  EXPECT_THAT(out, HasSubstr("http_listen: 127.0.0.1:1"));
  EXPECT_THAT(out, HasSubstr("http_threads: 4"));

  for (const char* bad : {"8080", "localhost:", "localhost:65536", ":1", "h:-1", "h:x"}) {
    std::string err;
    cl = Parse({"--http-listen", bad}, {}, nullptr, &err);
    ASSERT_TRUE(cl.exit_code.has_value()) << bad;
    EXPECT_EQ(*cl.exit_code, 2);
    EXPECT_THAT(err, HasSubstr("server.http_listen")) << bad;
  }
  std::string err;
  cl = Parse({"--http-listen", "0.0.0.0:8080"}, {}, nullptr, &err);
  ASSERT_TRUE(cl.exit_code.has_value());
  EXPECT_EQ(*cl.exit_code, 2);
  EXPECT_THAT(err, HasSubstr("server.http_listen is 0.0.0.0:8080 (not loopback)"));
  cl = Parse({"--http-listen", "0.0.0.0:8080"}, {"RAGD_AUTH__ALLOW_UNAUTHENTICATED=true"});
  EXPECT_FALSE(cl.exit_code.has_value());
}

TEST(ConfigTest, UnknownKeysFailNamingTheKey) {
  Config config;
  absl::Status s = ApplyYaml("server:\n  listne: x\n", &config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("server.listne"));
  s = ApplyYaml("srever:\n  listen: x\n", &config);
  EXPECT_THAT(std::string(s.message()), HasSubstr("srever"));
  s = ApplyEnvironment({"RAGD_ENGINE__MAX_KK=3"}, &config);
  EXPECT_THAT(std::string(s.message()), HasSubstr("RAGD_ENGINE__MAX_KK"));

  testing::TempDir dir;
  std::string path = (dir.path() / "bad.yaml").string();
  std::ofstream(path) << "engine:\n  nope: 1\n";
  std::string err;
  CommandLine cl = Parse({"--config", path}, {}, nullptr, &err);
  EXPECT_EQ(cl.exit_code, 2);
  EXPECT_THAT(err, HasSubstr("engine.nope"));
}

// yaml-cpp throws when a node has another shape than the one read (a map where a string is
// expected, as a key or a list item): ragd must exit 2 naming the key, never abort.
TEST(ConfigTest, NodesOfTheWrongShapeFailNamingTheKey) {
  struct Case {
    const char* yaml;
    const char* names;
  };
  const Case cases[] = {
      {"auth:\n  api_keys:\n    - name: a\n      key_sha256: "
       "0000000000000000000000000000000000000000000000000000000000000000\n"
       "      collections: [{a: b}]\n",
       "auth.api_keys[0].collections"},
      {"{a: b}: 1\n", "section name"},
      {"server:\n  {a: b}: 1\n", "server"},
      {"server:\n  tls:\n    {a: b}: c\n", "server.tls"},
      {"embedders:\n  - {a: b}: c\n", "embedders"},
      {"models:\n  deployments:\n    - {a: b}: c\n", "models"},
  };
  for (const Case& c : cases) {
    Config config;
    absl::Status s = ApplyYaml(c.yaml, &config);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.yaml << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.names)) << c.yaml;
  }
  testing::TempDir dir;
  std::string path = (dir.path() / "shape.yaml").string();
  std::ofstream(path) << cases[0].yaml;
  std::string err;
  CommandLine cl = Parse({"--config", path}, {}, nullptr, &err);
  EXPECT_EQ(cl.exit_code, 2);
  EXPECT_THAT(err, HasSubstr("auth.api_keys[0].collections"));
}

TEST(ConfigTest, WrongTypesAndRangesFailNamingTheKey) {
  Config config;
  struct Case {
    std::string yaml;
    std::string key;
  };
  for (const Case& c : std::vector<Case>{
           {"server:\n  workers: many\n", "server.workers"},
           {"server:\n  workers: 0\n", "server.workers"},
           {"server:\n  listen: [a, b]\n", "server.listen"},
           {"engine:\n  sync_writes: maybe\n", "engine.sync_writes"},
           {"engine:\n  compaction_ratio: -1\n", "engine.compaction_ratio"},
           {"log:\n  level: loud\n", "log.level"},
           {"retrieval:\n  hybrid_fusion: max\n", "retrieval.hybrid_fusion"},
           {"retrieval:\n  hybrid_alpha: 1.5\n", "retrieval.hybrid_alpha"},
           {"retrieval:\n  text_feedback_docs: 101\n", "retrieval.text_feedback_docs"},
           {"retrieval:\n  text_feedback_terms: 0\n", "retrieval.text_feedback_terms"},
           {"retrieval:\n  text_feedback_weight: 2\n", "retrieval.text_feedback_weight"},
           {"server: 5\n", "server"},
       }) {
    absl::Status s = ApplyYaml(c.yaml, &config);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.key)) << c.yaml;
  }
  std::string err;
  CommandLine cl = Parse({"--max-message-bytes", "12abc"}, {}, nullptr, &err);
  EXPECT_EQ(cl.exit_code, 2);
  EXPECT_THAT(err, HasSubstr("server.max_message_bytes"));
  cl = Parse({}, {"RAGD_SERVER__WORKERS=-1"}, nullptr, &err);
  EXPECT_EQ(cl.exit_code, 2);
  EXPECT_THAT(err, HasSubstr("RAGD_SERVER__WORKERS"));
  cl = Parse({"--no-such-flag"}, {}, nullptr, &err);
  EXPECT_EQ(cl.exit_code, 2);
  cl = Parse({"--config", "/nonexistent/ragd.yaml"}, {}, nullptr, &err);
  EXPECT_EQ(cl.exit_code, 2);
  EXPECT_THAT(err, HasSubstr("/nonexistent/ragd.yaml"));
}

TEST(ConfigTest, PrintConfigRoundTripsThroughYaml) {
  std::string out;
  CommandLine cl = Parse({"--print-config", "--workers", "7", "--data-dir", "/d"}, {}, &out);
  EXPECT_EQ(cl.exit_code, 0);
  EXPECT_THAT(out, HasSubstr("workers: 7"));
  Config reparsed;
  ASSERT_OK(ApplyYaml(out, &reparsed));
  EXPECT_EQ(reparsed.server.workers, 7);
  EXPECT_EQ(reparsed.storage.data_dir, "/d");
  EXPECT_EQ(ToYaml(reparsed), out);
}

TEST(ConfigTest, HelpExitsZero) {
  std::string out;
  CommandLine cl = Parse({"--help"}, {}, &out);
  EXPECT_EQ(cl.exit_code, 0);
  EXPECT_THAT(out, HasSubstr("--listen"));
  EXPECT_THAT(out, HasSubstr("--port-file"));
}

}  // namespace
}  // namespace ragd::services
