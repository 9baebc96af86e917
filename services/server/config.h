#pragma once
// ragd's settings and where they come from. Precedence, lowest first: compiled defaults, the
// YAML file named by --config, environment variables RAGD_<SECTION>__<KEY> (for example
// RAGD_SERVER__LISTEN), command-line flags. Every setting has a dotted key ("server.listen")
// used in all three sources; an unknown key, a value of the wrong type or out of range stops
// start-up with a message naming the key (exit code 2).
//
// This is the only file of ragd that reads files or the environment for configuration.

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "cluster/jetstream_log.h"
#include "cluster/monitor.h"
#include "index/engine/engine.h"
#include "models/model_catalog.h"
#include "rag/answerer.h"
#include "rag/collection_binding.h"
#include "rag/retriever.h"
#include "services/api/ingest_service.h"
#include "services/server/config_auth.h"

namespace ragd::services {

struct Config {
  struct Server {
    // host:port to listen on; port 0 picks a free port (see port_file).
    // Default: 127.0.0.1:50051.
    std::string listen = "127.0.0.1:50051";
    // Largest request or response message, bytes. Default: 64 MiB.
    int64_t max_message_bytes = 64 << 20;
    // Threads that run blocking work (writes, collection creation and removal); searches have
    // their own (search_workers). Default: 4.
    int64_t workers = 4;
    // Writes waiting for a worker before new ones get RESOURCE_EXHAUSTED. Default: 1024.
    int64_t max_queued_writes = 1024;
    // Threads that run Points.Search; 0 means one per CPU core. gRPC's threads only admit a
    // search and hand it over, so that under overload they stay free to reject the excess
    // at once instead of leaving it to wait, unbounded, in socket buffers. Default: 0.
    int64_t search_workers = 0;
    // Searches waiting for a search worker before new ones get RESOURCE_EXHAUSTED: bounds the
    // queueing delay of an accepted search to about max_queued_searches / search_workers
    // search times. Default: 128.
    int64_t max_queued_searches = 128;
    // Points.Search calls that may run on gRPC's own thread, without the hand-off to a search
    // worker, while a worker's share of the cores is idle and nothing is queued. The hand-off
    // costs two thread wake-ups per call, which on a small machine is most of what the service
    // adds to a 1 ms search (bench/README.md: 2 clients on 2 cores, 0.55 -> 0.77 of the
    // in-process QPS from 1 to 2). gRPC has max(2, cores / 2) callback threads; while all run
    // searches, new calls wait in the socket for at most one search before being read,
    // admitted or refused. 0 always hands over. Default: 2.
    int64_t inline_searches = 2;
    // Searches in one Points.SearchBatch call; a larger batch is INVALID_ARGUMENT. Bounds the
    // memory and the search-worker time one call may take (its searches hold the workers
    // until the batch is done). Default: 1024.
    int64_t max_search_batch = 1024;
    // On SIGTERM/SIGINT, in-flight calls get this long to finish. Default: 10.
    int64_t shutdown_grace_seconds = 10;
    // When set, the bound port is written to this file once ragd listens. Default: unset.
    std::string port_file;
    // host:port of the admin HTTP port (/metrics, /livez, /readyz); port 0 picks a free port
    // (see admin_port_file); empty disables it. Default: 127.0.0.1:9090.
    std::string admin_listen = "127.0.0.1:9090";
    // When set, the admin port actually bound is written here. Default: unset.
    std::string admin_port_file;
    // host:port of the OpenAI-compatible HTTP API (services/http/http_server.h); port 0 picks
    // a free port (see http_port_file); empty disables it. Same API keys as gRPC.
    // Default: 127.0.0.1:8080.
    std::string http_listen = "127.0.0.1:8080";
    // When set, the HTTP API port actually bound is written here. Default: unset.
    std::string http_port_file;
    // HTTPS for the HTTP API (YAML `server: {http_tls: {cert_file: ...}}`; env
    // RAGD_SERVER__HTTP_TLS__CERT_FILE). PEM certificate chain and key, both or neither; they
    // may be the files of `tls`. Default: unset (plain HTTP).
    struct HttpTls {
      std::string cert_file;
      std::string key_file;
    } http_tls;
    // Threads serving the HTTP API; each chat completion holds one until it ends, so with
    // fewer threads than retrieval.max_concurrent_answers the excess waits for a thread instead
    // of being shed with 429. Default: 64 (the default max_concurrent_answers).
    int64_t http_threads = 64;
    // TLS for gRPC (YAML `server: {tls: {cert_file: ...}}` or `tls.cert_file`; env
    // RAGD_SERVER__TLS__CERT_FILE). PEM files; both cert_file and key_file, or neither.
    // client_ca_file additionally requires and verifies client certificates (mTLS).
    // Default: unset (plaintext).
    struct Tls {
      std::string cert_file;
      std::string key_file;
      std::string client_ca_file;
    } tls;
    // HTTPS for the admin port (YAML `server: {admin_tls: {cert_file: ...}}`; env
    // RAGD_SERVER__ADMIN_TLS__CERT_FILE). PEM certificate chain and key, both or neither; they
    // may be the files of `tls`. No client certificates: kubelet probes cannot send one.
    // Default: unset (plain HTTP).
    struct AdminTls {
      std::string cert_file;
      std::string key_file;
    } admin_tls;
  } server;
  struct Storage {
    // Directory of the RocksDB database and index snapshots. Default: ./ragd-data.
    std::string data_dir = "./ragd-data";
    // A backup directory (`ragctl snapshot create`, index/engine/backup.h) to restore into
    // data_dir before opening it: data_dir/db must be absent or empty, or already hold this
    // very backup (a restarted pod keeps its flags; it then starts normally). Otherwise ragd
    // exits with code 2. Default: unset.
    std::string restore_from;
  } storage;
  // Document ingestion (ragd.v1.Ingest), `ingest.*`. Each layer owns its options, their
  // defaults and meaning; this maps keys onto them (the table in config.cc holds the ranges):
  //   workers, queue_capacity, max_document_bytes, max_streams, max_summary_results ->
  //     IngestServiceOptions (services/api/ingest_service.h);
  //   chunk_tokens, chunk_overlap_tokens -> the default rag::ChunkingBinding of collections
  //     created without chunking settings (rag/collection_binding.h).
  struct Ingest {
    IngestServiceOptions service;
    rag::ChunkingBinding chunking;
  } ingest;
  // Named embedders collections can bind to (`embedders` YAML list, see config_yaml_internal.h;
  // YAML only). "local" is always available. Default: none.
  std::vector<rag::NamedEmbedderConfig> embedders;
  // `engine.*`: index::Engine::Options (index/engine/engine.h), whose data_dir is taken from
  // storage.data_dir (EngineOptions()).
  index::Engine::Options engine;
  struct Log {
    // trace, debug, info, warn, error, critical or off. Default: info.
    std::string level = "info";
    // text (human-readable) or json (one object per line, for log collectors). Default: text.
    std::string format = "text";
  } log;
  // API keys (config_auth.h, auth.h). With none, every call is allowed, so ragd refuses to
  // listen on a non-loopback address unless allow_unauthenticated is true.
  struct Auth {
    // Default: false.
    bool allow_unauthenticated = false;
    // YAML only (`auth: {api_keys: [...]}`). Default: none.
    std::vector<ApiKeyConfig> api_keys;
  } auth;
  // Retrieval and grounded answers (ragd.v1.Retrieval), `retrieval.*`:
  //   default_k, max_k, query_cache_entries -> rag::RetrieverOptions (rag/retriever.h);
  //   max_sources, mmr, mmr_lambda, dedup_threshold, reserved_output_tokens,
  //   answer_deadline_ms, max_concurrent_answers -> rag::AnswerSettings (rag/answerer.h).
  struct Retrieval {
    rag::RetrieverOptions retriever;
    rag::AnswerSettings answers;
  } retrieval;
  // The chat model catalog: the `models` YAML section (models::ModelCatalog::FromYaml), YAML
  // only. Default: only the built-in "local" model, which is the default.
  models::ModelCatalog models;
  // Cluster mode (issue 14: README "Cluster mode"), `cluster.*`. Off while
  // nats_urls is empty, the default: ragd is then single-node, exactly as without this
  // section. On, writes (Upsert, Delete by ids, collection create/delete) go through the
  // replicated log on NATS JetStream and this pod applies the log (cluster/).
  //   nats_urls (comma-separated, or a YAML list), replicas, request_timeout_ms,
  //   duplicate_window_ms -> cluster::JetStreamLogOptions (cluster/jetstream_log.h);
  //   pod_id -> cluster::WriterOptions::pod_id (cluster/writer.h); empty: the host name.
  //   shard_groups, shard_group -> cluster::Placement (cluster/placement.h); peers ->
  //   cluster::RouterOptions::peers (cluster/router.h); advertise: informational (what other
  //   pods dial for this one; peers find it through cluster.peers).
  struct Cluster {
    cluster::JetStreamLogOptions log;
    std::string pod_id;
    // Shard groups G (1..256). Default: 1, every pod holds every shard.
    int64_t shard_groups = 1;
    // This pod's group; -1: the trailing ordinal of pod_id modulo G. Default: -1.
    int64_t shard_group = -1;
    // Shards of a collection created without `shards` (CreateCollection.shards = 0) in cluster
    // mode; 0: shard_groups, one shard per group, so that each pod walks one index per search
    // (bench/README.md "Shard count": each further shard on a pod costs about one more index
    // walk). 0 or shard_groups..256. Default: 0.
    int64_t default_shards = 0;
    // host:port other pods dial for this one. Default: empty (server.listen).
    std::string advertise;
    // host:port or dns:NAME:PORT entries (comma-separated, or a YAML list). Default: none.
    std::vector<std::string> peers;
    // With auth.api_keys and shard_groups > 1: the environment variable holding the API key
    // (one of auth.api_keys, role reader or above, every collection) this pod sends on its
    // calls to other pods. Default: empty.
    std::string peer_key_env;
    // peer_key_env's value, read when the configuration is loaded; never printed.
    std::string peer_key;
    // Reads and readiness (cluster/monitor.h): cluster.ready_max_lag,
    // cluster.bounded_staleness_ms, cluster.status_interval_ms. pod_id and address are filled
    // in at start.
    cluster::MonitorOptions monitor;
    // How long start-up keeps trying to reach JetStream (no NATS server up yet, a NATS cluster
    // still electing its JetStream leader) before ragd exits with an error; health is
    // NOT_SERVING meanwhile. 0: one attempt. Default: 60 s.
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(60);
    bool enabled() const { return !log.urls.empty(); }
  } cluster;
  struct Debug {
    // Delays opening the engine by this long, so tests can watch the NOT_SERVING phase.
    // Default: 0.
    int64_t open_delay_ms = 0;
    // Cluster mode: pauses before each log entry is applied, so tests can watch a lagging
    // pod. Default: 0.
    int64_t apply_delay_ms = 0;
  } debug;

  index::Engine::Options EngineOptions() const;
};

// Sets one setting from its text form ("8", "true", "0.25", "127.0.0.1:0"). INVALID_ARGUMENT
// naming the key for an unknown key, a malformed value or one out of range.
absl::Status SetConfigValue(absl::string_view key, absl::string_view value, Config* config);

// Applies a YAML document of sections (server, storage, engine, log, debug, retrieval) of
// scalar settings, and the structured `models` section (the chat model catalog).
absl::Status ApplyYaml(absl::string_view yaml, Config* config);

// Applies RAGD_<SECTION>__<KEY>=VALUE entries of `environment` ("NAME=VALUE" strings); other
// variables, including RAGD_ ones without "__" (RAGD_ADDRESS belongs to ragctl), are ignored.
absl::Status ApplyEnvironment(const std::vector<std::string>& environment, Config* config);

// "127.0.0.1:50051", "localhost:1", "[::1]:1" and unix: sockets; not "0.0.0.0:50051".
bool IsLoopbackAddress(absl::string_view listen);

// The effective configuration as YAML, every key present.
std::string ToYaml(const Config& config);

// This process's environment as "NAME=VALUE" strings.
std::vector<std::string> ProcessEnvironment();

struct CommandLine {
  Config config;
  // Set when ragd must exit now with this code: 0 after --help or --print-config, 2 on a
  // usage or configuration error (the message has been written to `err`).
  std::optional<int> exit_code;
};

// Parses ragd's flags (--listen, --data-dir, --config, --max-message-bytes, --workers,
// --shutdown-grace-seconds, --log-level, --log-format, --port-file, --admin-listen,
// --admin-port-file, --http-listen, --http-port-file, --restore-from, --print-config, --help), merges every source in order of
// precedence and resolves the API keys (reads key_env / key_file).
//
// Exit code 2 also when no API keys are configured, server.listen or server.http_listen is not
// a loopback address and auth.allow_unauthenticated is false: an open server must be asked for explicitly.
CommandLine ParseCommandLine(int argc, const char* const* argv,
                             const std::vector<std::string>& environment, std::ostream& out,
                             std::ostream& err);

}  // namespace ragd::services
