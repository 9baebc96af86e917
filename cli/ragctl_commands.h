#pragma once
// The commands of ragctl, one method each, over the generated ragd.v1 stubs. Each returns the
// process exit code and writes results to `out`, and failures as one line to `err`:
//   ragctl: NOT_FOUND: collection "x" not found
//
// Exit codes: 0 success; 1 other failures; 2 usage (bad flags, unreadable or malformed input);
// 3 NOT_FOUND; 4 ALREADY_EXISTS; 5 INVALID_ARGUMENT (rejected by the server); 6 UNAVAILABLE or
// DEADLINE_EXCEEDED (server down, starting or too slow); 7 RESOURCE_EXHAUSTED; 8 UNAUTHENTICATED
// (no or unknown API key); 9 PERMISSION_DENIED (the key's role or collections do not allow it).

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cli/cli_json.h"
#include "ragd/v1/collections.grpc.pb.h"
#include "ragd/v1/points.grpc.pb.h"

namespace ragd::cli {

constexpr int kExitUsage = 2;

// "NOT_FOUND" etc., and the exit code of a failed call (see above); shared by the commands of
// ragctl_retrieval.h.
const char* StatusCodeName(grpc::StatusCode code);
int ExitCodeFor(grpc::StatusCode code);

struct GlobalOptions {
  std::string address = "127.0.0.1:50051";
  bool json = false;  // print JSON instead of tables
  double timeout_seconds = 30;
  bool tty = false;  // stdout is a terminal: align tables
  // Sent as `authorization: Bearer <key>` on every call when set (--api-key, RAGD_API_KEY).
  std::string api_key;
  // TLS (--tls); ca_file verifies the server (default: the system roots), cert_file and
  // key_file present a client certificate (mTLS).
  bool tls = false;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // Cluster mode's read consistency of reads (--consistency eventual|bounded|session|strong)
  // and SESSION's token (--token). Unset: SESSION with the token of this address's last write
  // to the collection when session_file holds one (cli/session_tokens.h), else the server's
  // default (BOUNDED).
  std::string consistency;
  std::optional<uint64_t> token;
  // Cluster mode with shard groups (--allow-partial): answer from the groups that have a ready
  // replica instead of failing UNAVAILABLE; the reply then says which shards are missing.
  bool allow_partial = false;
  // Where write tokens are kept; empty: not kept.
  std::string session_file;
};

// Sets a read request's consistency and consistency_token as `options` ask (see above).
void ApplyReadConsistency(const GlobalOptions& options, const std::string& collection,
                          v1::ReadConsistency* level, uint64_t* token);
template <typename Request>
void ApplyReadConsistency(const GlobalOptions& options, Request* request) {
  v1::ReadConsistency level = v1::READ_CONSISTENCY_UNSPECIFIED;
  uint64_t token = 0;
  ApplyReadConsistency(options, request->collection(), &level, &token);
  request->set_consistency(level);
  request->set_consistency_token(token);
  request->set_allow_partial(options.allow_partial);
}
// With --allow-partial, a reply that misses shards says so on `err` (tables and --json alike:
// --json also carries the coverage where the output is the whole reply).
void WarnPartial(std::ostream& err, const v1::ShardCoverage& coverage);
// Records a write's sequence for later SESSION reads (best effort).
void RememberWrite(const GlobalOptions& options, const std::string& collection,
                   uint64_t sequence);

struct CreateCollectionOptions {
  std::string name;
  uint32_t dimension = 0;
  std::string metric = "cosine";  // cosine | dot | l2
  std::string index = "hnsw";     // hnsw | faiss | flat
  uint32_t m = 0;                 // 0: server default
  uint32_t ef_construction = 0;
  uint32_t ef = 0;
  std::string faiss_factory;
  uint32_t nprobe = 0;
  std::string quantization = "none";  // hnsw only: none | f16 | int8
  uint32_t shards = 0;  // 0: the server's default (1; cluster.default_shards in cluster mode)
  // An embedder name binds the collection for text (ingest, search); with neither dimension
  // nor embedder, ragctl binds "local" (1536-d).
  std::string embedder;
  uint32_t chunk_tokens = 0;   // 0: server default
  uint32_t chunk_overlap = 0;  // 0: server default
  // "" (the server's default: on with an embedder), on, off.
  std::string lexical;
  std::string analyzer;  // "" (auto) | auto | english | korean | simple
  std::optional<double> bm25_k1;
  std::optional<double> bm25_b;
};

struct SearchOptions {
  std::string collection;
  std::string vector_json;  // vector_json, vector_file or text (or a vector and text)
  std::string vector_file;
  std::string text;
  SearchModeFlags modes;
  uint32_t k = 10;
  std::optional<uint32_t> ef;
  std::string filter_json;
  std::optional<float> min_score;
  bool with_vectors = false;
  // Quantized collections: skip re-scoring with float32 (scores from the codes); candidates
  // re-scored per result (0: the server's default).
  bool no_rescore = false;
  float oversampling = 0;
  // JSON-lines file of searches for Points.SearchBatch (one object per line: vector, text,
  // mode, k, ef, filter, min_score; unset fields take the flags' values); the results are
  // printed one JSON array of hits per line, in order. Sent `batch_size` searches per call.
  std::string batch_file;
  size_t batch_size = 256;
};

class Ragctl {
 public:
  Ragctl(GlobalOptions options, std::ostream& out, std::ostream& err);

  int CreateCollection(const CreateCollectionOptions& options);
  int ListCollections();
  int GetCollection(const std::string& name);
  int DeleteCollection(const std::string& name);

  // Reads one JSON point per line of `path` ("-": stdin), blank lines skipped, and sends them
  // in batches of `batch_size`. A malformed line stops before anything of its batch is sent.
  int Upsert(const std::string& collection, const std::string& path, size_t batch_size);
  int Search(const SearchOptions& options);
  int SearchBatch(const SearchOptions& options);
  int Get(const std::string& collection, const std::vector<std::string>& ids, bool with_vectors);
  // Exactly one of `ids` (non-empty) and `filter_json` (non-empty).
  int Delete(const std::string& collection, const std::vector<std::string>& ids,
             const std::string& filter_json);
  int Count(const std::string& collection, const std::string& filter_json);

 private:
  void InitContext(grpc::ClientContext* context) const;
  int Fail(const grpc::Status& status);
  int UsageError(const absl::Status& status);
  void PrintCollection(const v1::CollectionInfo& info);
  void PrintPoints(const google::protobuf::RepeatedPtrField<v1::Point>& points);

  const GlobalOptions options_;
  std::ostream& out_;
  std::ostream& err_;
  std::unique_ptr<v1::Collections::Stub> collections_;
  std::unique_ptr<v1::Points::Stub> points_;
};

}  // namespace ragd::cli
