// ragctl: a command-line client of ragd. Parses flags with CLI11 and runs one command of
// cli/ragctl_commands.h; see `ragctl --help` for commands and exit codes.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli/ragctl_admin.h"
#include "cli/ragctl_commands.h"
#include "cli/ragctl_eval.h"
#include "cli/ragctl_ingest.h"
#include "cli/ragctl_retrieval.h"
#include "cli/session_tokens.h"

namespace {

constexpr const char* kFooter =
    R"(Filters are JSON: {"key":"lang","equals":"ko"}, {"key":"tag","in":["a","b"]},
{"key":"year","range":{"gte":2020,"lt":2024}}, {"document_id":"doc1"},
{"and":[...]}, {"or":[...]}, {"not":{...}}.
Exit codes: 0 ok, 1 failure, 2 usage, 3 NOT_FOUND, 4 ALREADY_EXISTS, 5 INVALID_ARGUMENT,
6 UNAVAILABLE or DEADLINE_EXCEEDED, 7 RESOURCE_EXHAUSTED, 8 UNAUTHENTICATED,
9 PERMISSION_DENIED, 10 `admin verify` found a problem.)";

void AddSearchModeFlags(CLI::App* cmd, ragd::cli::SearchModeFlags* flags,
                        const std::string& mode_help) {
  cmd->add_option("--mode", flags->mode, mode_help)
      ->check(CLI::IsMember({"vector", "text", "hybrid"}));
  cmd->add_option("--fusion", flags->fusion,
                  "hybrid fusion: rrf or weighted (default: the server's)")
      ->check(CLI::IsMember({"rrf", "weighted"}));
  cmd->add_option("--rrf-k", flags->rrf_k, "reciprocal rank fusion constant (default 60)");
  cmd->add_option("--alpha", flags->alpha, "weighted fusion: the vector leg's weight, 0..1");
  cmd->add_option("--vector-candidates", flags->vector_candidates,
                  "hybrid: candidates of the vector leg (default max(k, 50))");
  cmd->add_option("--text-candidates", flags->text_candidates,
                  "hybrid: candidates of the text leg (default max(k, 50))");
}

int Run(int argc, char** argv) {
  CLI::App app("ragctl: command-line client of ragd", "ragctl");
  app.footer(kFooter);
  app.require_subcommand(1);
  ragd::cli::GlobalOptions global;
  if (const char* env = std::getenv("RAGD_ADDRESS"); env != nullptr && *env != '\0') {
    global.address = env;
  }
  global.tty = isatty(STDOUT_FILENO) == 1;
  app.add_option("--address", global.address,
                 "ragd address host:port, or unix:PATH for a Unix socket (env RAGD_ADDRESS)")
      ->capture_default_str();
  app.add_flag("--json", global.json, "print JSON instead of tables");
  if (const char* env = std::getenv("RAGD_API_KEY"); env != nullptr) global.api_key = env;
  app.add_option("--api-key", global.api_key,
                 "API key sent as `authorization: Bearer` (env RAGD_API_KEY)");
  app.add_flag("--tls", global.tls, "connect with TLS");
  app.add_option("--ca", global.ca_file, "PEM CA bundle that verifies ragd (with --tls)");
  app.add_option("--cert", global.cert_file, "PEM client certificate for mTLS (with --tls)");
  app.add_option("--key", global.key_file, "PEM client private key for mTLS (with --tls)");
  global.session_file = ragd::cli::DefaultSessionTokenPath();
  app.add_option("--consistency", global.consistency,
                 "cluster mode: how fresh reads must be: eventual, bounded (the server's "
                 "default), session (read your writes) or strong; default: session when this "
                 "address has a recorded write token for the collection")
      ->check(CLI::IsMember({"eventual", "bounded", "session", "strong"}));
  app.add_flag("--allow-partial", global.allow_partial,
               "cluster mode with shard groups: answer reads from the groups that have a ready "
               "replica instead of failing UNAVAILABLE (a note on stderr names the missing "
               "shards)");
  app.add_option("--token", global.token,
                 "cluster mode: SESSION's consistency token (a write's `sequence`); default: "
                 "the last one ragctl recorded for the address and collection");
  CLI::Option* timeout_opt =
      app.add_option("--timeout", global.timeout_seconds, "deadline of each call, seconds")
          ->capture_default_str()
          ->check(CLI::PositiveNumber);

  // collections
  CLI::App* collections = app.add_subcommand("collections", "create, list, get, delete");
  collections->require_subcommand(1);
  ragd::cli::CreateCollectionOptions create;
  CLI::App* c_create = collections->add_subcommand("create", "create a collection");
  c_create->add_option("name", create.name, "collection name [A-Za-z0-9_-]{1,64}")->required();
  c_create->add_option("--dimension", create.dimension,
                       "vector dimension (default: the embedder's)");
  c_create->add_option("--embedder", create.embedder,
                       "embedder for text: local or a configured name (default: local when "
                       "--dimension is not given; none otherwise)");
  c_create->add_option("--chunk-tokens", create.chunk_tokens,
                       "largest chunk, tokens (default 512)");
  c_create->add_option("--chunk-overlap", create.chunk_overlap,
                       "tokens repeated between chunks (default 64)");
  c_create->add_option("--metric", create.metric, "cosine, dot or l2")->capture_default_str();
  c_create->add_option("--index", create.index, "hnsw, faiss or flat")->capture_default_str();
  c_create->add_option("--m", create.m, "HNSW links per node (default 16)");
  c_create->add_option("--ef-construction", create.ef_construction,
                       "HNSW build candidate list (default 200)");
  c_create->add_option("--ef", create.ef, "default search candidate list (default 128)");
  c_create->add_option("--faiss-factory", create.faiss_factory,
                       "FAISS index_factory string, e.g. HNSW32,SQ8");
  c_create->add_option("--nprobe", create.nprobe, "FAISS IVF lists probed (default 16)");
  c_create
      ->add_option("--quantization", create.quantization,
                   "HNSW vector storage in memory: none, f16 or int8")
      ->capture_default_str();
  c_create->add_option(
      "--shards", create.shards,
      "number of shards, 1..256 (default: the server's: 1, or cluster.default_shards "
      "in cluster mode)");
  c_create->add_option("--lexical", create.lexical,
                       "BM25 index over the text for text/hybrid search: on or off (default: on "
                       "with an embedder)");
  c_create->add_option("--analyzer", create.analyzer,
                       "text analyzer: auto, english, korean or simple (default auto)");
  c_create->add_option("--bm25-k1", create.bm25_k1, "BM25 k1, 0..10 (default 1.2)");
  c_create->add_option("--bm25-b", create.bm25_b, "BM25 b, 0..1 (default 0.75)");
  CLI::App* c_list = collections->add_subcommand("list", "list collections");
  std::string collection_name;
  CLI::App* c_get = collections->add_subcommand("get", "show a collection");
  c_get->add_option("name", collection_name, "collection name")->required();
  CLI::App* c_delete = collections->add_subcommand("delete", "delete a collection and its data");
  c_delete->add_option("name", collection_name, "collection name")->required();

  // points
  CLI::App* points = app.add_subcommand("points", "upsert, search, get, delete, count");
  points->require_subcommand(1);
  std::string collection;
  std::string upsert_file;
  size_t batch_size = 500;
  CLI::App* p_upsert = points->add_subcommand("upsert", "upsert points from a JSON Lines file");
  p_upsert->add_option("--collection", collection, "collection name")->required();
  p_upsert->add_option("file", upsert_file, "FILE.jsonl, one point per line (- for stdin)")
      ->required();
  p_upsert->add_option("--batch-size", batch_size, "points per Upsert call")->capture_default_str();

  ragd::cli::SearchOptions search;
  std::optional<uint32_t> ef;
  std::optional<float> min_score;
  CLI::App* p_search =
      points->add_subcommand("search", "nearest neighbours of a vector, BM25 of a text, or both");
  p_search->add_option("--collection", search.collection, "collection name")->required();
  CLI::Option* vector_opt =
      p_search->add_option("--vector", search.vector_json, "query as a JSON array");
  CLI::Option* file_opt =
      p_search->add_option("--file", search.vector_file, "file holding the query JSON array");
  vector_opt->excludes(file_opt);
  p_search->add_option("--k", search.k, "number of results")->capture_default_str();
  p_search->add_option("--ef", ef, "search candidate list size");
  p_search->add_option("--filter", search.filter_json, "filter JSON");
  p_search->add_option("--min-score", min_score, "drop hits scoring below this");
  p_search->add_flag("--with-vectors", search.with_vectors, "return vectors");
  p_search->add_option("--text", search.text, "query text (text or hybrid search)");
  AddSearchModeFlags(p_search, &search.modes,
                     "vector, text or hybrid (default: hybrid with --vector and --text, else "
                     "the one given)");
  p_search->add_flag("--no-rescore", search.no_rescore,
                     "quantized collections: scores from the codes, no float32 re-scoring");
  p_search->add_option(
      "--oversampling", search.oversampling,
      "quantized collections: candidates re-scored per result (default: 1.5 for int8, 1 "
      "for f16)");
  CLI::Option* batch_opt = p_search->add_option(
      "--batch", search.batch_file,
      "JSON-lines file of searches (vector, text, mode, k, ef, min_score, filter; the flags "
      "give the defaults): Points.SearchBatch, one JSON array of hits per line, in order");
  batch_opt->excludes(vector_opt)->excludes(file_opt);
  p_search
      ->add_option("--batch-size", search.batch_size,
                   "with --batch: searches per call (at most the server's "
                   "server.max_search_batch)")
      ->capture_default_str();

  std::vector<std::string> ids;
  bool with_vectors = false;
  CLI::App* p_get = points->add_subcommand("get", "points by id");
  p_get->add_option("--collection", collection, "collection name")->required();
  p_get->add_option("ids", ids, "point ids")->required();
  p_get->add_flag("--with-vectors", with_vectors, "return vectors");

  std::string filter;
  CLI::App* p_delete = points->add_subcommand("delete", "delete points by id or filter");
  p_delete->add_option("--collection", collection, "collection name")->required();
  CLI::Option* ids_opt = p_delete->add_option("ids", ids, "point ids");
  CLI::Option* filter_opt = p_delete->add_option("--filter", filter, "filter JSON");
  ids_opt->excludes(filter_opt);

  CLI::App* p_count = points->add_subcommand("count", "count points");
  p_count->add_option("--collection", collection, "collection name")->required();
  p_count->add_option("--filter", filter, "filter JSON");

  // retrieval: search, ask, models
  ragd::cli::TextSearchOptions text_search;
  CLI::App* search_cmd = app.add_subcommand("search", "search a collection by text");
  search_cmd->add_option("query", text_search.query, "query text")->required();
  search_cmd->add_option("--collection", text_search.collection, "collection name")->required();
  search_cmd->add_option("--k", text_search.k, "number of results (default: server's)");
  search_cmd->add_option("--filter", text_search.filter_json, "filter JSON");
  std::optional<float> text_min_score;
  search_cmd->add_option("--min-score", text_min_score, "drop chunks scoring below this");
  AddSearchModeFlags(search_cmd, &text_search.modes,
                     "vector, text or hybrid (default: hybrid when the collection has a "
                     "lexical index)");
  ragd::cli::AskOptions ask;
  std::optional<double> temperature;
  std::optional<float> ask_min_score;
  CLI::App* ask_cmd = app.add_subcommand("ask", "answer a question from a collection");
  ask_cmd->add_option("question", ask.question, "the question")->required();
  ask_cmd->add_option("--collection", ask.collection, "collection name")->required();
  ask_cmd->add_option("--model", ask.models, "model deployment; repeat to compare models");
  ask_cmd->add_option("--k", ask.k, "chunks retrieved (default: server's)");
  ask_cmd->add_option("--filter", ask.filter_json, "filter JSON");
  ask_cmd->add_option("--min-score", ask_min_score, "drop chunks scoring below this");
  AddSearchModeFlags(ask_cmd, &ask.modes,
                     "retrieval: vector, text or hybrid (default: hybrid when the collection "
                     "has a lexical index)");
  ask_cmd->add_option("--temperature", temperature, "sampling temperature, 0..2");
  ask_cmd->add_option("--max-output-tokens", ask.max_output_tokens, "answer token limit");
  CLI::App* models_cmd = app.add_subcommand("models", "the model catalog");
  models_cmd->require_subcommand(1);
  CLI::App* m_list = models_cmd->add_subcommand("list", "list the chat models");

  // eval: retrieval quality over a question set.
  ragd::cli::EvalOptions eval;
  CLI::App* eval_cmd = app.add_subcommand(
      "eval", "retrieval quality over questions with known answers: hit@1, hit@5, MRR, nDCG");
  eval_cmd
      ->add_option("questions", eval.questions_file,
                   "JSON Lines: {\"id\", \"question\", \"expected\": [document ids], "
                   "\"slices\": [labels]}")
      ->required();
  eval_cmd->add_option("--collection", eval.collection, "collection name")->required();
  eval_cmd->add_option("--mode", eval.modes,
                       "retrieval mode to evaluate (repeatable): default, vector, text, hybrid "
                       "or all (default: default)");
  eval_cmd->add_option("--k", eval.k, "rank cutoff of MRR and nDCG (default 10)");
  eval_cmd->add_option("--fetch-k", eval.fetch_k, "chunks retrieved per question (default 5*k)");
  eval_cmd->add_option("--baseline", eval.baselines,
                       "NAME=FILE: another system's rankings, {\"id\", \"ranked\": [document "
                       "ids]} per line, judged alike (repeatable)");
  eval_cmd->add_option("--filter", eval.filter_json, "filter JSON");
  eval_cmd->add_option("--fusion", eval.fusion.fusion, "hybrid fusion: rrf or weighted")
      ->check(CLI::IsMember({"rrf", "weighted"}));
  eval_cmd->add_option("--rrf-k", eval.fusion.rrf_k, "reciprocal rank fusion constant");
  eval_cmd->add_option("--alpha", eval.fusion.alpha, "weighted fusion: the vector leg's weight");
  eval_cmd->add_option("--vector-candidates", eval.fusion.vector_candidates,
                       "hybrid: candidates of the vector leg");
  eval_cmd->add_option("--text-candidates", eval.fusion.text_candidates,
                       "hybrid: candidates of the text leg");
  eval_cmd->add_option("--show-misses", eval.show_misses,
                       "list up to N questions per system answered below rank 5");
  eval_cmd->add_option("--ranks", eval.ranks_file,
                       "write each question's rank and top documents per system to FILE "
                       "(JSON Lines)");

  // ingestion: ingest, documents, jobs, tokens
  ragd::cli::IngestOptions ingest;
  CLI::App* ingest_cmd = app.add_subcommand("ingest", "ingest files into a collection");
  ingest_cmd->add_option("paths", ingest.paths, "files and directories (recursive)")->required();
  ingest_cmd->add_option("--collection", ingest.collection, "collection name")->required();
  ingest_cmd->add_option("--include", ingest.include, "glob of files to take (repeatable)");
  ingest_cmd->add_option("--exclude", ingest.exclude, "glob of files to leave (repeatable)");
  ingest_cmd->add_option("--format", ingest.format,
                         "text, markdown, html, pdf or jsonl (default: by extension)");
  ingest_cmd->add_option("--job-id", ingest.job_id, "job id (re-run an interrupted job)");
  CLI::App* documents = app.add_subcommand("documents", "get, delete ingested documents");
  documents->require_subcommand(1);
  std::string document_id;
  CLI::App* d_get = documents->add_subcommand("get", "a document's chunks with citations");
  d_get->add_option("--collection", collection, "collection name")->required();
  d_get->add_option("id", document_id, "document id")->required();
  CLI::App* d_delete = documents->add_subcommand("delete", "remove a document's chunks");
  d_delete->add_option("--collection", collection, "collection name")->required();
  d_delete->add_option("id", document_id, "document id")->required();
  CLI::App* jobs = app.add_subcommand("jobs", "ingest jobs");
  jobs->require_subcommand(1);
  std::string job_id;
  CLI::App* j_get = jobs->add_subcommand("get", "progress or outcome of an ingest job");
  j_get->add_option("id", job_id, "job id")->required();
  std::vector<std::string> token_files;
  std::string encoding = "cl100k_base";
  bool token_ids = false;
  CLI::App* tokens_cmd = app.add_subcommand(
      "tokens", "count tokens as ragd does (cl100k_base, o200k_base), like tiktoken");
  tokens_cmd->add_option("files", token_files, "files (- for stdin)")->required();
  tokens_cmd->add_option("--encoding", encoding, "cl100k_base or o200k_base")
      ->capture_default_str();
  tokens_cmd->add_flag("--ids", token_ids, "print the token ids");

  // snapshot: backups written by ragd on its own filesystem; restore is `ragd --restore-from`.
  CLI::App* snapshot_cmd = app.add_subcommand(
      "snapshot", "backups (restore: start ragd with --restore-from DIR on an empty data dir)");
  snapshot_cmd->require_subcommand(1);
  std::string snapshot_dir;
  CLI::App* s_create = snapshot_cmd->add_subcommand(
      "create", "write a consistent backup into DIR on the server (default --timeout 3600)");
  s_create->add_option("dir", snapshot_dir, "absolute path on ragd's filesystem, absent or empty")
      ->required();

  // admin: operator checks.
  CLI::App* admin_cmd = app.add_subcommand("admin", "operator checks");
  admin_cmd->require_subcommand(1);
  std::string verify_collection;
  uint64_t verify_max_searches = 0;
  uint32_t verify_ef = 0;
  bool verify_skip_searches = false;
  CLI::App* a_verify = admin_cmd->add_subcommand(
      "verify",
      "self-check of a collection: storage against its indexes, every live point "
      "found by its own vector (exit 10 when a problem is found)");
  a_verify->add_option("collection", verify_collection, "collection name")->required();
  a_verify->add_option("--max-searches", verify_max_searches,
                       "points searched for (default 100000; an even sample beyond)");
  a_verify->add_option("--ef", verify_ef, "candidate list of those searches (default 1000)");
  a_verify->add_flag("--skip-searches", verify_skip_searches, "compare storage and indexes only");

  CLI::App* cluster_cmd = app.add_subcommand("cluster", "cluster mode");
  cluster_cmd->require_subcommand(1);
  CLI::App* cl_status = cluster_cmd->add_subcommand(
      "status", "pods, shard groups, applied sequence and lag per pod and collection, readiness");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : ragd::cli::kExitUsage;
  }
  if (p_search->parsed() && search.vector_json.empty() && search.vector_file.empty() &&
      search.text.empty() && search.batch_file.empty()) {
    std::cerr << "ragctl: points search: give --vector, --file, --text or --batch\n";
    return ragd::cli::kExitUsage;
  }
  if (p_delete->parsed() && ids.empty() && filter.empty()) {
    std::cerr << "ragctl: points delete: give ids or --filter\n";
    return ragd::cli::kExitUsage;
  }
  search.ef = ef;
  search.min_score = min_score;

  text_search.min_score = text_min_score;
  ask.min_score = ask_min_score;
  ask.temperature = temperature;
  if (search_cmd->parsed() || ask_cmd->parsed() || m_list->parsed()) {
    ragd::cli::RetrievalCommands retrieval(global, std::cout, std::cerr);
    if (search_cmd->parsed()) return retrieval.Search(text_search);
    if (ask_cmd->parsed()) return retrieval.Ask(ask);
    return retrieval.ListModels();
  }
  if (eval_cmd->parsed()) return ragd::cli::Eval(global, eval, std::cout, std::cerr);
  if (s_create->parsed()) {
    // A backup of a large database takes longer than a query; the default deadline is not
    // meant for it.
    if (timeout_opt->count() == 0) global.timeout_seconds = 3600;
    return ragd::cli::AdminCommands(global, std::cout, std::cerr).CreateSnapshot(snapshot_dir);
  }
  if (a_verify->parsed()) {
    // A check of a large collection takes longer than a query.
    if (timeout_opt->count() == 0) global.timeout_seconds = 3600;
    return ragd::cli::AdminCommands(global, std::cout, std::cerr)
        .Verify(verify_collection, verify_max_searches, verify_skip_searches, verify_ef);
  }
  if (cl_status->parsed()) {
    return ragd::cli::AdminCommands(global, std::cout, std::cerr).ClusterStatus();
  }
  if (tokens_cmd->parsed()) {
    return ragd::cli::CountTokens(global, token_files, encoding, token_ids, std::cout, std::cerr);
  }
  if (ingest_cmd->parsed() || d_get->parsed() || d_delete->parsed() || j_get->parsed()) {
    ingest.progress_tty = isatty(STDERR_FILENO) == 1;
    ragd::cli::IngestCommands commands(global, std::cout, std::cerr);
    if (ingest_cmd->parsed()) return commands.Ingest(ingest);
    if (d_get->parsed()) return commands.GetDocument(collection, document_id);
    if (d_delete->parsed()) return commands.DeleteDocument(collection, document_id);
    return commands.GetJob(job_id);
  }
  ragd::cli::Ragctl ragctl(global, std::cout, std::cerr);
  if (c_create->parsed()) return ragctl.CreateCollection(create);
  if (c_list->parsed()) return ragctl.ListCollections();
  if (c_get->parsed()) return ragctl.GetCollection(collection_name);
  if (c_delete->parsed()) return ragctl.DeleteCollection(collection_name);
  if (p_upsert->parsed()) return ragctl.Upsert(collection, upsert_file, batch_size);
  if (p_search->parsed()) return ragctl.Search(search);
  if (p_get->parsed()) return ragctl.Get(collection, ids, with_vectors);
  if (p_delete->parsed()) return ragctl.Delete(collection, ids, filter);
  if (p_count->parsed()) return ragctl.Count(collection, filter);
  std::cerr << app.help();
  return ragd::cli::kExitUsage;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
