#pragma once
// Answer calls without gRPC: retrieve → select the sources (source_selection.h, once for every
// model, so that a citation number means the same chunk whichever model cites it) → pack one
// prompt per model (prompt_builder.h) → stream the models concurrently, reporting each step to
// an AnswerSink. The gRPC edge (services/api/answer_call) is such a sink: it turns the events
// into ragd.v1.AnswerEvent writes.
//
// Threads (no thread is created per call): Answer::Start prepares the call (retrieval and the
// prompts) on the bounded `prepare` executor -- on the calling thread itself while the executor
// has idle capacity and the query's embedding needs no network round trip
// (AnswerPlan::cpu_bound, concurrency::BoundedExecutor::TryRunInline), else queued (a full queue
// ends the call RESOURCE_EXHAUSTED at once). Each model then streams on a StreamThreads thread
// (reused), where ChatModel::Stream blocks on its HTTP stream for as long as the model talks;
// searches never wait behind a model. The last model to end completes the call. The answer
// deadline is a DeadlineTimer callback.
//
// Cancellation (Cancel(), the deadline) sets the flag every ChatModel::Stream polls, which
// closes the upstream connections at once.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/concurrency/bounded_executor.h"
#include "common/concurrency/deadline_timer.h"
#include "common/concurrency/stream_threads.h"
#include "index/types.h"
#include "models/chat_model.h"
#include "models/model_catalog.h"
#include "rag/prompt_builder.h"
#include "rag/retriever.h"
#include "rag/source_selection.h"

namespace ragd::rag {

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

// One requested model of a call, and what became of it.
struct ModelRun {
  std::string name;
  models::ChatModel* model = nullptr;
  PromptResult prompt;
  models::ChatResult result;
  absl::Status status;
};

// What an Answer call asks, checked and resolved (see MakeAnswerPlan).
struct AnswerPlan {
  std::string question;
  std::vector<models::ChatMessage> history;
  std::vector<ModelRun> models;
  TextQuery query;
  // Applied once for all models, before the prompts are packed.
  SelectionOptions selection;
  // Per call; its own selection is off (the call's selection is applied once, above).
  PromptOptions prompt_options;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::vector<std::string> stop;
  std::string user;
  // Retrieval costs only CPU (Retriever::IsCpuBound): the call may be prepared inline.
  bool cpu_bound = false;
  // Run on the prepare executor before retrieval (cluster mode's read consistency wait); its
  // value is AnswerSources::applied_sequence and its error ends the call. Unset: nothing.
  // One that may block must come with cpu_bound false (not prepared inline).
  std::function<absl::StatusOr<uint64_t>()> before_retrieval;
  // The query's min_sequence becomes before_retrieval's value (cluster mode, a level other than
  // EVENTUAL: every shard group reads at least what this pod waited for). Default: false.
  bool min_sequence_from_wait = false;
};

// What a caller sets of an Answer call; unset optional fields take AnswerSettings' defaults.
struct AnswerQuestion {
  std::string collection;
  std::string question;
  std::vector<models::ChatMessage> history;
  std::vector<std::string> models;  // empty: the catalog's default model
  size_t k = 0;                     // 0: the retriever's default
  std::optional<index::Filter> filter;
  std::optional<float> min_score;
  std::optional<index::SearchMode>
      mode;  // unset: TextQuery's default (hybrid with a lexical index)
  index::HybridOptions hybrid;
  bool allow_partial = false;  // TextQuery::allow_partial
  size_t max_sources = 0;  // 0: AnswerSettings::max_sources
  std::optional<double> mmr_lambda;
  std::optional<double> dedup_threshold;
  size_t max_output_tokens = 0;  // 0: AnswerSettings::reserved_output_tokens
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::vector<std::string> stop;
  std::string user;
};

// The retrieved chunks and the order of the prompts' sources; read-only once the sources
// event has been reported.
struct AnswerSources {
  std::vector<index::ScoredPoint> hits;
  Selection selection;  // indices into hits
  // Sources in the largest prompt: hits[selection.order[0 .. used)] are numbered 1..used.
  size_t used = 0;
  // What AnswerPlan::before_retrieval returned (0 without it).
  uint64_t applied_sequence = 0;
  // TextQueryResult::coverage of the retrieval (sharded cluster only).
  std::optional<ShardCoverage> coverage;
};

// Receives the events of one Answer call. OnSources comes first (unless preparation fails),
// then OnDelta and OnModelEnd from the models' threads (concurrently for different models),
// and OnComplete exactly once, last; no method is called after OnComplete returns.
class AnswerSink {
 public:
  virtual ~AnswerSink() = default;
  virtual void OnSources(const AnswerSources& sources) = 0;
  // Text of model `model` (index into AnswerPlan::models). May block to apply backpressure;
  // false stops that model's stream (the call is being cancelled).
  virtual bool OnDelta(size_t model, std::string_view text) = 0;
  virtual void OnModelEnd(size_t model, const ModelRun& run, const AnswerSources& sources) = 0;
  // With one model, its status; with several, OK (each model's status is in its end event);
  // CANCELLED after Cancel(); an error when the call could not be prepared.
  virtual void OnComplete(const absl::Status& status) = 0;
  // The answer deadline passed: models are stopping; an OnDelta blocked for backpressure
  // should return false now. Called under the call's lock: must not call back into Answer.
  virtual void OnAbort() {}
};

// What Answer calls share; all pointers outlive every call.
struct AnswerResources {
  Retriever* retriever = nullptr;
  // Runs each call's retrieval and prompt building (bounded queue).
  concurrency::BoundedExecutor* prepare = nullptr;
  // Run the model streams.
  concurrency::StreamThreads* streams = nullptr;
  concurrency::DeadlineTimer* deadlines = nullptr;
  const models::ModelCatalog* catalog = nullptr;
  ChatModelPool* models = nullptr;
  const AnswerSettings* settings = nullptr;
  // Answer calls in progress (checked against settings->max_concurrent_answers).
  std::atomic<size_t>* active = nullptr;
};

// Checks `question` against the settings and the catalog and resolves its models.
// INVALID_ARGUMENT (empty or non-UTF-8 question, a model asked twice, a bad option or output
// limit), NOT_FOUND / FAILED_PRECONDITION (model, see ChatModelPool::Get).
absl::StatusOr<AnswerPlan> MakeAnswerPlan(const AnswerResources& resources,
                                          AnswerQuestion question);

class Answer : public std::enable_shared_from_this<Answer> {
 public:
  // Admits the call (RESOURCE_EXHAUSTED beyond settings->max_concurrent_answers, returned
  // without any sink call) and starts it (see the top of this file). `sink` is not owned and
  // must live until its OnComplete returns.
  static absl::StatusOr<std::shared_ptr<Answer>> Start(const AnswerResources& resources,
                                                       AnswerPlan plan, AnswerSink* sink);

  // Stops the call: models stop streaming, and the call completes CANCELLED. Thread-safe,
  // idempotent.
  void Cancel();
  // True once Cancel() was called or the deadline passed: nothing more will be delivered.
  bool aborted() const { return abort_.load(); }

  Answer(const AnswerResources& resources, AnswerPlan plan, AnswerSink* sink)
      : resources_(resources), plan_(std::move(plan)), sink_(sink) {}

 private:
  void Begin();
  absl::Status Prepare();
  void RunModel(size_t i);
  void EndModel(size_t i);
  void OnDeadline();
  void Complete(absl::Status status);

  const AnswerResources resources_;
  AnswerPlan plan_;
  AnswerSink* const sink_;
  std::atomic<bool> abort_{false};
  AnswerSources sources_;  // written in Prepare(), before any model starts

  std::mutex mu_;
  size_t running_ = 0;
  bool cancelled_ = false;
  bool deadline_exceeded_ = false;
  bool completed_ = false;
  uint64_t deadline_id_ = 0;  // of the DeadlineTimer callback, 0 when none
};

// The prompt source of a retrieved chunk (text, and title, heading path and page from the
// chunk schema of ingest/chunk_schema.h).
PromptSource ToPromptSource(const index::ScoredPoint& hit);

}  // namespace ragd::rag
