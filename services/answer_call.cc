#include "services/answer_call.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "common/utf8.h"
#include "models/prompt_builder.h"
#include "services/convert.h"
#include "services/handler_util.h"
#include "services/retrieval_convert.h"

namespace ragd::services {

absl::StatusOr<models::ChatModel*> ChatModelPool::Get(const std::string& name) {
  ASSIGN_OR_RETURN(const models::ModelDeployment* deployment, catalog_->Get(name));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = models_.find(name);
  if (it != models_.end()) return it->second.get();
  absl::StatusOr<std::unique_ptr<models::ChatModel>> model = models::MakeChatModel(*deployment);
  if (!model.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "model '", name, "' cannot be used: ", std::string(model.status().message())));
  }
  models::ChatModel* raw = model->get();
  models_.emplace(name, *std::move(model));
  return raw;
}

namespace {

using Clock = std::chrono::steady_clock;

// One requested model of a call.
struct ModelRun {
  std::string name;
  models::ChatModel* model = nullptr;
  models::PromptResult prompt;
  models::ChatResult result;
  absl::Status status;
};

// What the handler checked and converted before the call starts.
struct AnswerPlan {
  std::string collection;
  std::string question;
  std::vector<models::ChatMessage> history;
  std::vector<ModelRun> models;
  TextQuery query;
  models::PromptOptions prompt_options;  // per call; dedup and MMR are applied once, before
  bool mmr = false;
  double mmr_lambda = 0.7;
  double dedup_threshold = 0.8;
  size_t max_sources = 0;
  std::optional<size_t> max_output_tokens;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::vector<std::string> stop;
  std::string user;
  // Retrieval costs only CPU (Retriever::IsCpuBound): the call may be prepared on gRPC's thread.
  bool cpu_bound = false;
};

class AnswerCall final : public grpc::ServerWriteReactor<v1::AnswerEvent>,
                         public std::enable_shared_from_this<AnswerCall> {
 public:
  AnswerCall(AnswerContext context, AnswerPlan plan)
      : context_(context), plan_(std::move(plan)), pending_bytes_(plan_.models.size(), 0),
        open_delta_(plan_.models.size(), nullptr) {}

  // Takes ownership of itself (released in OnDone) and runs Begin on this gRPC thread when
  // retrieval costs only CPU and the search executor has idle capacity
  // (BoundedExecutor::TryRunInline: a hand-off costs a thread wake-up, a good part of what
  // ragd adds to an answer), else queues it there. Writes started before the handler returns
  // this reactor are held by gRPC until it is bound.
  static void Start(std::unique_ptr<AnswerCall> call) {
    std::shared_ptr<AnswerCall> self(call.release());
    self->self_ = self;
    if (self->plan_.cpu_bound && self->context_.prepare->TryRunInline([&self] { self->Begin(); })) {
      return;
    }
    if (!self->context_.prepare->TrySubmit([self] { self->Begin(); })) {
      self->Complete(absl::ResourceExhaustedError(
          "too many searches queued (server.max_queued_searches); retry"));
    }
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (!ok) {
        // The client is gone: nothing more can be delivered, so stop the models too.
        write_failed_ = true;
        queue_.clear();
        std::fill(open_delta_.begin(), open_delta_.end(), nullptr);
        abort_.store(true);
        cv_.notify_all();
      }
    }
    Pump();
  }

  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    client_cancelled_ = true;
    abort_.store(true);
    cv_.notify_all();
  }

  void OnDone() override { self_.reset(); }

 private:
  struct Pending {
    int model = -1;  // the model of a delta event, -1 otherwise
    std::unique_ptr<v1::AnswerEvent> event;
  };

  // On a search worker: retrieval and prompts, then the models go to their stream threads.
  void Begin() {
    // A call the client gave up on while it waited in the queue is not started.
    if (abort_.load()) {
      Complete(absl::CancelledError("cancelled by client"));
      return;
    }
    if (absl::Status prepared = Prepare(); !prepared.ok()) {
      Complete(prepared);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_ = plan_.models.size();
    }
    if (context_.settings->answer_deadline.count() > 0) {
      std::weak_ptr<AnswerCall> weak = weak_from_this();
      uint64_t id = context_.deadlines->Schedule(
          Clock::now() + context_.settings->answer_deadline, [weak] {
            if (std::shared_ptr<AnswerCall> call = weak.lock()) call->OnDeadline();
          });
      std::lock_guard<std::mutex> lock(mu_);
      deadline_id_ = id;
    }
    std::shared_ptr<AnswerCall> self = shared_from_this();
    for (size_t i = 0; i < plan_.models.size(); ++i) {
      if (!context_.streams->TrySubmit([self, i] { self->RunModel(i); })) {
        plan_.models[i].status = absl::ResourceExhaustedError(
            absl::StrCat("model '", plan_.models[i].name, "': no stream thread free; retry"));
        EndModel(i);
      }
    }
  }

  void OnDeadline() {
    std::lock_guard<std::mutex> lock(mu_);
    if (running_ == 0) return;
    deadline_exceeded_ = true;
    abort_.store(true);
    cv_.notify_all();
  }

  // Ends the call with `status` (overridden by a client cancellation) once the queued events
  // are written.
  void Complete(absl::Status status) {
    context_.active->fetch_sub(1);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (deadline_id_ != 0) context_.deadlines->Cancel(deadline_id_);
      if (client_cancelled_ || write_failed_) status = absl::CancelledError("cancelled by client");
      done_ = true;
      final_status_ = status;
    }
    Pump();
  }

  // Retrieval, the order of the sources, every model's prompt, and the sources event.
  absl::Status Prepare() {
    ASSIGN_OR_RETURN(TextQueryResult retrieved, context_.retriever->Retrieve(plan_.query));
    if (abort_.load()) return absl::CancelledError("cancelled by client");
    hits_ = std::move(retrieved.hits);
    std::vector<models::PromptSource> all;
    all.reserve(hits_.size());
    for (const index::ScoredPoint& hit : hits_) all.push_back(ToPromptSource(hit));

    // Dedup, MMR and the max_sources cap run once for all models (with the first model's
    // tokenizer), and each model's budget then keeps a prefix of the same list: a citation
    // number means the same chunk whichever model cites it.
    const models::Tokenizer& tokenizer =
        models::Tokenizer::Get(plan_.models[0].model->deployment().encoding);
    std::vector<size_t> candidates(all.size());
    for (size_t i = 0; i < all.size(); ++i) candidates[i] = i;
    std::vector<size_t> kept = models::DeduplicateSources(
        tokenizer, all, candidates, plan_.dedup_threshold, plan_.prompt_options.shingle_tokens);
    for (size_t i : candidates) {
      if (std::find(kept.begin(), kept.end(), i) == kept.end()) duplicates_.push_back(i);
    }
    if (plan_.mmr) {
      kept = models::MmrOrder(tokenizer, all, kept, plan_.mmr_lambda,
                              plan_.prompt_options.shingle_tokens);
    }
    if (plan_.max_sources > 0 && kept.size() > plan_.max_sources) {
      capped_.assign(kept.begin() + static_cast<long>(plan_.max_sources), kept.end());
      kept.resize(plan_.max_sources);
    }
    order_ = kept;
    std::vector<models::PromptSource> ordered;
    ordered.reserve(order_.size());
    for (size_t i : order_) ordered.push_back(std::move(all[i]));

    models::PromptBuilder builder(plan_.prompt_options);
    size_t used = 0;
    for (ModelRun& run : plan_.models) {
      const models::ModelDeployment& d = run.model->deployment();
      absl::StatusOr<models::PromptResult> prompt =
          builder.Build(d, plan_.question, plan_.history, ordered);
      if (!prompt.ok()) {
        return absl::Status(prompt.status().code(),
                            absl::StrCat("model '", run.name, "': ",
                                         std::string(prompt.status().message())));
      }
      run.prompt = *std::move(prompt);
      models::ChatRequest& r = run.prompt.request;
      r.temperature = plan_.temperature;
      r.top_p = plan_.top_p;
      r.stop = plan_.stop;
      r.user = plan_.user;
      RETURN_IF_ERROR(models::ValidateChatRequest(d, r));
      used = std::max(used, run.prompt.used_sources.size());
    }

    auto event = std::make_unique<v1::AnswerEvent>();
    v1::AnswerSources* sources = event->mutable_sources();
    for (size_t n = 0; n < used; ++n) {
      v1::AnswerSource* s = sources->add_sources();
      s->set_number(static_cast<uint32_t>(n + 1));
      index::ScoredPoint hit = hits_[order_[n]];
      ToProto(std::move(hit), s->mutable_chunk());
    }
    Enqueue(Pending{-1, std::move(event)});
    return absl::OkStatus();
  }

  void RunModel(size_t i) {
    ModelRun& run = plan_.models[i];
    run.status = run.model->Stream(
        run.prompt.request, [this, i](const models::ChatDelta& d) { return OnDelta(i, d); },
        &run.result, &abort_);
    if (run.status.code() == absl::StatusCode::kCancelled) {
      std::lock_guard<std::mutex> lock(mu_);
      if (deadline_exceeded_) {
        run.status = absl::DeadlineExceededError(
            absl::StrCat("model '", run.name, "': retrieval.answer_deadline_ms (",
                         context_.settings->answer_deadline.count(), " ms) exceeded"));
      }
    }
    EndModel(i);
  }

  // The final event of model i; the last model to end completes the call.
  void EndModel(size_t i) {
    ModelRun& run = plan_.models[i];
    if (!run.status.ok() && run.status.code() != absl::StatusCode::kCancelled) {
      spdlog::warn("answer: model '{}' failed: {}", run.name, run.status.ToString());
    }
    auto event = std::make_unique<v1::AnswerEvent>();
    FillFinal(run, event->mutable_final());
    Enqueue(Pending{-1, std::move(event)});
    bool last = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      last = --running_ == 0;
    }
    if (last) Complete(CallStatus());
  }

  void FillFinal(const ModelRun& run, v1::AnswerFinal* f) const {
    const models::ModelDeployment& d = run.model->deployment();
    f->set_model(run.name);
    f->set_status_code(static_cast<int32_t>(run.status.code()));
    f->set_status_message(std::string(run.status.message()));
    f->set_finish_reason(run.result.finish_reason);
    ToProto(run.result.usage, f->mutable_usage());
    f->set_cost_usd(models::EstimateCostUsd(d, run.result.usage));
    f->set_time_to_first_token_us(run.result.time_to_first_token.count());
    f->set_latency_us(run.result.latency.count());
    f->set_upstream_model(run.result.model);
    f->set_attempts(run.result.attempts);
    v1::PromptReport* p = f->mutable_prompt();
    const models::PromptResult& pr = run.prompt;
    p->set_sources_used(static_cast<uint32_t>(pr.used_sources.size()));
    for (size_t i : duplicates_) p->add_duplicate_chunk_ids(hits_[i].point.id);
    for (size_t i : pr.duplicate_sources) p->add_duplicate_chunk_ids(hits_[order_[i]].point.id);
    for (size_t i : pr.dropped_sources) p->add_dropped_chunk_ids(hits_[order_[i]].point.id);
    for (size_t i : capped_) p->add_dropped_chunk_ids(hits_[i].point.id);
    p->set_dropped_history_messages(static_cast<uint32_t>(pr.dropped_history_messages));
    p->set_kept_history_messages(static_cast<uint32_t>(pr.kept_history_messages));
    p->set_prompt_tokens(pr.prompt_tokens);
    p->set_reserved_output_tokens(pr.reserved_output_tokens);
    p->set_context_window(pr.context_window);
  }

  // With one model the call reports its status; with several, each final event does.
  absl::Status CallStatus() const {
    if (plan_.models.size() == 1) return plan_.models[0].status;
    return absl::OkStatus();
  }

  bool OnDelta(size_t i, const models::ChatDelta& d) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] {
        return pending_bytes_[i] < kMaxPendingBytesPerModel || abort_.load();
      });
      if (abort_.load()) return false;
      pending_bytes_[i] += d.text.size();
      if (open_delta_[i] != nullptr) {
        // Coalesced: the client has not taken the previous text yet.
        open_delta_[i]->mutable_delta()->mutable_text()->append(d.text);
      } else {
        auto event = std::make_unique<v1::AnswerEvent>();
        event->mutable_delta()->set_model(plan_.models[i].name);
        event->mutable_delta()->set_text(d.text);
        open_delta_[i] = event.get();
        queue_.push_back(Pending{static_cast<int>(i), std::move(event)});
      }
    }
    Pump();
    return true;
  }

  void Enqueue(Pending pending) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (write_failed_) return;
      queue_.push_back(std::move(pending));
    }
    Pump();
  }

  // Starts the next write, or finishes the call once everything is written and done.
  void Pump() {
    std::unique_lock<std::mutex> lock(mu_);
    if (writing_ || finish_called_) return;
    if (!queue_.empty()) {
      Pending next = std::move(queue_.front());
      queue_.pop_front();
      if (next.model >= 0) {
        open_delta_[next.model] = nullptr;
        pending_bytes_[next.model] = 0;
        cv_.notify_all();
      }
      current_ = std::move(next.event);
      writing_ = true;
      lock.unlock();
      StartWrite(current_.get());
      return;
    }
    if (!done_) return;
    finish_called_ = true;
    absl::Status status = final_status_;
    lock.unlock();
    Finish(ToGrpcStatus(status));
  }

  const AnswerContext context_;
  AnswerPlan plan_;
  std::shared_ptr<AnswerCall> self_;
  std::atomic<bool> abort_{false};

  // Written in Prepare() (before any model starts), read-only afterwards.
  std::vector<index::ScoredPoint> hits_;
  std::vector<size_t> order_;       // indices into hits_ of the prompt candidates, in order
  std::vector<size_t> duplicates_;  // indices into hits_ dropped as near-duplicates
  std::vector<size_t> capped_;      // indices into hits_ beyond max_sources

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  std::vector<size_t> pending_bytes_;          // per model, text in queue_
  std::vector<v1::AnswerEvent*> open_delta_;   // per model, its delta event in queue_
  std::unique_ptr<v1::AnswerEvent> current_;   // the write in flight
  bool writing_ = false;
  bool write_failed_ = false;
  bool client_cancelled_ = false;
  bool deadline_exceeded_ = false;
  uint64_t deadline_id_ = 0;  // of the DeadlineTimer callback, 0 when none
  size_t running_ = 0;
  bool done_ = false;
  bool finish_called_ = false;
  absl::Status final_status_;
};

absl::StatusOr<AnswerPlan> MakePlan(const AnswerContext& context,
                                    const v1::AnswerRequest& request) {
  AnswerPlan plan;
  RETURN_IF_ERROR(ValidateCollectionName("collection", request.collection()));
  if (request.question().empty()) return absl::InvalidArgumentError("question: empty");
  if (!IsValidUtf8(request.question())) {
    return absl::InvalidArgumentError("question: not valid UTF-8");
  }
  plan.collection = request.collection();
  plan.question = request.question();
  ASSIGN_OR_RETURN(plan.history, FromProto(request.history()));

  std::vector<std::string> names(request.models().begin(), request.models().end());
  if (names.empty()) names.push_back(context.catalog->default_model());
  for (size_t i = 0; i < names.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (names[i] == names[j]) {
        return absl::InvalidArgumentError(
            absl::StrCat("models[", i, "]: '", names[i], "' is asked twice"));
      }
    }
    ModelRun run;
    run.name = names[i];
    ASSIGN_OR_RETURN(run.model, context.models->Get(names[i]));
    plan.models.push_back(std::move(run));
  }

  const v1::RetrievalOptions& r = request.retrieval();
  const AnswerSettings& s = *context.settings;
  plan.query.collection = request.collection();
  plan.query.text = request.question();
  plan.query.k = r.k();
  if (r.has_filter()) {
    ASSIGN_OR_RETURN(plan.query.filter, FromProto(r.filter(), "retrieval.filter"));
  }
  if (r.has_min_score()) plan.query.min_score = r.min_score();
  plan.max_sources = r.max_sources() > 0 ? r.max_sources() : s.max_sources;
  plan.mmr = r.has_mmr_lambda() || s.mmr;
  plan.mmr_lambda = r.has_mmr_lambda() ? r.mmr_lambda() : s.mmr_lambda;
  if (!(plan.mmr_lambda >= 0 && plan.mmr_lambda <= 1)) {
    return absl::InvalidArgumentError("retrieval.mmr_lambda: must be in [0, 1]");
  }
  plan.dedup_threshold = r.has_dedup_threshold() ? r.dedup_threshold() : s.dedup_threshold;
  if (!(plan.dedup_threshold > 0 && plan.dedup_threshold <= 1)) {
    return absl::InvalidArgumentError("retrieval.dedup_threshold: must be in (0, 1]");
  }
  // MMR by cosine needs the chunks' vectors.
  plan.query.with_vectors = plan.mmr;
  plan.cpu_bound = context.retriever->IsCpuBound(plan.query.collection, plan.query.text);

  const v1::GenerationOptions& g = request.generation();
  if (g.has_temperature()) plan.temperature = g.temperature();
  if (g.has_top_p()) plan.top_p = g.top_p();
  plan.stop.assign(g.stop().begin(), g.stop().end());
  plan.user = g.user();
  size_t reserved = g.max_output_tokens() > 0 ? g.max_output_tokens() : s.reserved_output_tokens;
  for (const ModelRun& run : plan.models) {
    const models::ModelDeployment& d = run.model->deployment();
    if (g.max_output_tokens() > d.max_output_tokens) {
      return absl::InvalidArgumentError(
          absl::StrCat("generation.max_output_tokens: ", g.max_output_tokens(),
                       " is above the limit of model '", run.name, "' (", d.max_output_tokens,
                       ")"));
    }
  }
  plan.prompt_options.reserved_output_tokens = reserved;
  // Applied once for all models in AnswerCall::Prepare.
  plan.prompt_options.dedup = false;
  plan.prompt_options.mmr = false;
  plan.prompt_options.max_sources = 0;
  RETURN_IF_ERROR(plan.prompt_options.Validate());
  return plan;
}

// A reactor that only reports an error, for calls refused before they start.
class RefusedAnswer final : public grpc::ServerWriteReactor<v1::AnswerEvent> {
 public:
  explicit RefusedAnswer(const absl::Status& status) { Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerWriteReactor<v1::AnswerEvent>* StartAnswer(const AnswerContext& context,
                                                       grpc::CallbackServerContext* server_context,
                                                       const v1::AnswerRequest* request) {
  (void)server_context;
  absl::StatusOr<AnswerPlan> plan = MakePlan(context, *request);
  if (!plan.ok()) return new RefusedAnswer(plan.status());
  if (context.active->fetch_add(1) >= context.settings->max_concurrent_answers) {
    context.active->fetch_sub(1);
    return new RefusedAnswer(absl::ResourceExhaustedError(
        absl::StrCat("more than retrieval.max_concurrent_answers (",
                     context.settings->max_concurrent_answers,
                     ") answers in progress; retry later")));
  }
  auto call = std::make_unique<AnswerCall>(context, *std::move(plan));
  AnswerCall* raw = call.get();
  AnswerCall::Start(std::move(call));
  return raw;
}

}  // namespace ragd::services
