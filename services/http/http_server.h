#pragma once
// The OpenAI-compatible HTTP front (server.http_listen, default 127.0.0.1:8080; README "HTTP
// API"): an application written against the OpenAI API (its SDKs, LangChain, ...) uses ragd by
// changing its base URL to http://HOST:PORT/v1.
//
//   POST /v1/chat/completions  OpenAI's request and response, streamed (SSE
//                              `chat.completion.chunk` events, `data: [DONE]`) or not. `model`
//                              names a deployment of the catalog (or `local`). Without
//                              `data_sources` the messages are relayed to the model; with a
//                              `data_sources` entry of type `ragd` the answer is grounded by
//                              rag::Answer (the same path as ragd.v1.Retrieval/Answer) and
//                              `choices[0].message.context.citations` lists the sources, as
//                              Azure OpenAI "On Your Data" does.
//   POST /v1/embeddings        `model` = a configured embedder or `local`; the vectors are the
//                              ones Retrieve searches with.
//   GET  /v1/models            the chat catalog and the embedders, with context windows and
//                              list prices in an extra `ragd` field; /v1/models/{id} one of
//                              them.
//   GET  /                     the playground page, and its JSON endpoints under /v1/ragd/
//                              (collections, search, documents, file upload, ingest jobs of
//                              several files with their records; see playground_internal.h
//                              and README "Playground").
//   Azure OpenAI's paths, POST /openai/deployments/{deployment}/chat/completions and
//   .../embeddings (`api-version` ignored): the same, with the deployment as `model`, so
//   that Azure clients (AzureOpenAI in the SDKs) can use ragd as their endpoint.
//
// Authorization: `Authorization: Bearer <key>` (or `api-key: <key>`), checked by the same
// Authorizer as gRPC with the role of the method table's row (services/api/methods.h): chat
// completions are Retrieval.Answer (with the data source's collection), embeddings
// Retrieval.Retrieve, models Retrieval.ListModels.
//
// Errors are OpenAI's error JSON ({"error": {"message", "type", "param", "code"}}) with the
// HTTP status of the absl code (HttpStatusOf); 429 and 503 carry `Retry-After`. A body that is
// not JSON or has a field of the wrong type is a 400 naming the field, never a crash: every
// parse of outside JSON goes through one guard.
//
// Threads: cpp-httplib's pool of `threads` serves requests; a chat completion holds one of them
// until it ends (the models themselves run on rag::AnswerResources::streams). A client that
// goes away cancels the call, which closes the upstream connection: during a stream the SSE
// writer notices, before the response starts the connection's socket is polled
// (peer_watch_internal.h).

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "models/chat_model.h"
#include "rag/answerer.h"
#include "rag/collection_binding.h"
#include "rag/engine_handle.h"
#include "rag/ingestors.h"
#include "services/api/methods.h"

namespace httplib {
class Server;
}

namespace ragd::services {

struct HttpFrontOptions {
  // Threads serving requests; each chat completion holds one until it ends (keep it above
  // retrieval.max_concurrent_answers, so that the excess is shed with 429, not queued).
  // Default: 64.
  int threads = 64;
  // Largest request body; a larger one is refused with 413. Default: 64 MiB.
  size_t max_body_bytes = 64 << 20;
  // HTTPS: PEM files of the certificate chain and the private key; both empty means plain
  // HTTP. Default: empty.
  std::string tls_cert_file;
  std::string tls_key_file;
};

// What one HTTP request did, reported when its response has been written (for metrics and the
// access log, which belong to the server process).
struct HttpCallRecord {
  // "POST /v1/chat/completions", "POST /v1/embeddings", "GET /v1/models",
  // "GET /v1/models/{id}", or "other".
  std::string route;
  int http_status = 0;
  // The outcome as a status code: OK, the error answered, or the error that ended a stream.
  absl::StatusCode code = absl::StatusCode::kOk;
  std::string peer;  // "address:port"
  double seconds = 0;
  // Chat completions that reached a model: its catalog name, the data source's collection
  // ("" for a relay), the usage and its estimated cost (catalog prices).
  bool ran_model = false;
  std::string model;
  std::string collection;
  models::ChatUsage usage;
  double cost_usd = 0;
};

// What the front shares with the gRPC services; every pointer outlives the HttpServer.
struct HttpFrontResources {
  // May be null: every call is allowed.
  const Authorizer* authorizer = nullptr;
  // The resources of the gRPC Answer calls (the same retriever and query cache, model pool,
  // executors and concurrency cap).
  rag::AnswerResources answers;
  rag::EmbedderRegistry* embedders = nullptr;
  // The playground's endpoints (playground_internal.h): the engine, and the Ingestors of
  // ragd.v1.Ingest (shared, so that ingestions of one document serialise whichever edge they
  // came from). Null: those endpoints answer UNAVAILABLE.
  const rag::EngineHandle* engine = nullptr;
  rag::IngestorCache* ingestors = nullptr;
  // Largest uploaded file (ingest.max_document_bytes). Default: 32 MiB.
  size_t max_document_bytes = 32u << 20;
  // Ingest jobs started from the playground and running at once; more are refused with 429
  // (ingest.max_streams, the bound of IngestDocuments streams). Default: 8.
  size_t max_ingest_jobs = 8;
  // Non-empty: uploads are refused UNIMPLEMENTED with this reason (cluster mode: the log does
  // not carry ingestion yet, as for ragd.v1.Ingest).
  std::string uploads_disabled_reason;
  // Called once per request on the thread that served it, after the response; may be empty.
  std::function<void(const HttpCallRecord&)> on_call;
};

// The HTTP status of an absl status code: INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE
// 400; UNAUTHENTICATED 401; PERMISSION_DENIED 403; NOT_FOUND 404; ALREADY_EXISTS, ABORTED 409;
// RESOURCE_EXHAUSTED 429; CANCELLED 499; UNIMPLEMENTED 501; UNAVAILABLE 503;
// DEADLINE_EXCEEDED 504; everything else 500.
int HttpStatusOf(absl::StatusCode code);

class HttpServer {
 public:
  // Binds `listen` ("host:port", port 0 picks one) and serves on its own thread. UNAVAILABLE
  // when the address cannot be bound, INVALID_ARGUMENT when it is malformed or when the TLS
  // files cannot be used (not PEM, or a key that does not match the certificate).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& listen,
                                                           HttpFrontResources resources,
                                                           HttpFrontOptions options = {});
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  // Stops accepting, ends the streams in progress (their calls are cancelled) and joins.
  // Idempotent.
  void Stop();

  struct State;  // what the routes share (http_server.cc)

 private:
  HttpServer() = default;
  std::unique_ptr<State> state_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

// "host:port" with a port in [0, 65535] (an IPv6 host in brackets); INVALID_ARGUMENT naming
// `key` otherwise. Shared with the configuration's validation.
absl::Status ValidateListenAddress(const std::string& key, const std::string& listen);

}  // namespace ragd::services
