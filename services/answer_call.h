#pragma once
// One ragd.v1.Retrieval/Answer call: retrieval, one grounded prompt per requested model, the
// models run concurrently, and their events relayed to the client one write at a time. The
// event order and status rules are those of retrieval.proto.
//
// Threads: the gRPC handler only validates and starts a coordinator thread (retrieval may wait
// on a remote embedder, and model streams last seconds to minutes: neither may block gRPC's
// callback threads). The coordinator retrieves, builds the prompts, queues the sources event,
// starts one thread per model and waits for them (or for the answer deadline); model threads
// call ChatModel::Stream. Writes are driven by the reactor: one in flight at a time.
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
#include "services/retriever.h"

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
