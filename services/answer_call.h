#pragma once
// One ragd.v1.Retrieval/Answer call: retrieval, one grounded prompt per requested model, the
// models run concurrently, and their events relayed to the client one write at a time. The
// event order and status rules are those of retrieval.proto.
//
// Threads (no thread is created per call): the gRPC handler validates and admits the call,
// then prepares it through the server's bounded search executor (the one of Points.Search and
// Retrieve, so overload protection covers answers too: a full queue is RESOURCE_EXHAUSTED at
// once) -- on the gRPC thread itself while the executor has idle capacity and nothing is
// queued (server.inline_searches, BoundedExecutor::TryRunInline) and the query's embedding
// needs no network round trip (Retriever::IsCpuBound), else queued for a search worker. There
// the call retrieves, builds the prompts, queues the sources event and hands each model to a
// StreamThreads thread (reused, see stream_threads.h), where ChatModel::Stream blocks on its HTTP
// stream for as long as the model talks; searches never wait behind a model. There is no
// coordinator: the reactor's writes are started from whichever thread queued an event (a search
// worker, a model thread in its delta callback) or from gRPC's OnWriteDone, one write in flight at
// a time, and the last model to end finishes the call. The answer deadline is a DeadlineTimer
// callback.
//
// Backpressure: a model's text waiting to be written is coalesced into one pending delta
// event per model, and a model's thread blocks in its delta callback while that pending text
// exceeds kMaxPendingBytesPerModel, so a slow reader bounds memory at about that much per model
// (the upstream connection is then throttled by TCP). Cancellation (the client's, a failed
// write, the answer deadline, server shutdown) sets the flag every ChatModel::Stream polls,
// which closes the upstream connections at once.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "models/chat_model.h"
#include "models/model_catalog.h"
#include "ragd/v1/retrieval.pb.h"
#include "services/bounded_executor.h"
#include "services/deadline_timer.h"
#include "services/retriever.h"
#include "services/stream_threads.h"

namespace ragd::services {

// Settings of Answer calls (the `retrieval` config section).
struct AnswerSettings {
  // Most sources per prompt when the request does not say; 0 means no limit. Default: 8.
  size_t max_sources = 8;
  // MMR by default, and its lambda. Default: false, 0.7.
  bool mmr = false;
  double mmr_lambda = 0.7;
  // Near-duplicate threshold. Default: 0.8.
  double dedup_threshold = 0.8;
  // Tokens reserved for the answer when the request does not say. Default: 1024.
  size_t reserved_output_tokens = 1024;
  // Zero disables. Default: 300 s.
  std::chrono::milliseconds answer_deadline{300000};
  // Default: 64.
  size_t max_concurrent_answers = 64;
};

// The chat models of the catalog, built on first use (MakeChatModel resolves API keys: a
// deployment whose key is missing fails only the calls that ask for it, not ragd's start-up).
// Thread-safe.
class ChatModelPool {
 public:
  explicit ChatModelPool(const models::ModelCatalog* catalog) : catalog_(catalog) {}
  // NOT_FOUND for an unknown name (listing the configured ones), FAILED_PRECONDITION when the
  // model cannot be built (its API key cannot be read).
  absl::StatusOr<models::ChatModel*> Get(const std::string& name);

 private:
  const models::ModelCatalog* catalog_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<models::ChatModel>> models_;
};

// What an Answer call needs of the service; all pointers outlive every call.
struct AnswerContext {
  Retriever* retriever = nullptr;
  // Runs each call's retrieval and prompt building (bounded queue).
  BoundedExecutor* prepare = nullptr;
  // Run the model streams.
  StreamThreads* streams = nullptr;
  DeadlineTimer* deadlines = nullptr;
  const models::ModelCatalog* catalog = nullptr;
  ChatModelPool* models = nullptr;
  const AnswerSettings* settings = nullptr;
  // Answer calls in progress (checked against settings->max_concurrent_answers).
  std::atomic<size_t>* active = nullptr;
};

// Starts the call (see the top of this file) and returns its reactor, which deletes itself.
grpc::ServerWriteReactor<v1::AnswerEvent>* StartAnswer(const AnswerContext& context,
                                                       grpc::CallbackServerContext* server_context,
                                                       const v1::AnswerRequest* request);

// Text of one model waiting to be written before its delta callback blocks.
inline constexpr size_t kMaxPendingBytesPerModel = 64 * 1024;

}  // namespace ragd::services
