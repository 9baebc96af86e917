#include "services/api/answer_call.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "models/model_catalog.h"
#include "services/api/cluster_writes.h"
#include "services/api/convert.h"
#include "services/api/handler_util.h"
#include "services/api/retrieval_convert.h"

namespace ragd::services {
namespace {

// The request, converted (shapes and UTF-8 are checked by MakeAnswerPlan and FromProto).
absl::StatusOr<rag::AnswerQuestion> FromProto(const v1::AnswerRequest& request) {
  rag::AnswerQuestion q;
  q.collection = request.collection();
  q.question = request.question();
  ASSIGN_OR_RETURN(q.history, services::FromProto(request.history()));
  q.models.assign(request.models().begin(), request.models().end());
  const v1::RetrievalOptions& r = request.retrieval();
  q.k = r.k();
  if (r.has_filter()) {
    ASSIGN_OR_RETURN(q.filter, services::FromProto(r.filter(), "retrieval.filter"));
  }
  if (r.has_min_score()) q.min_score = r.min_score();
  ASSIGN_OR_RETURN(q.mode, services::FromProto(r.mode(), "retrieval.mode"));
  ASSIGN_OR_RETURN(q.hybrid, services::FromProto(r.fusion(), "retrieval.fusion"));
  q.allow_partial = request.allow_partial();
  q.max_sources = r.max_sources();
  if (r.has_mmr_lambda()) q.mmr_lambda = r.mmr_lambda();
  if (r.has_dedup_threshold()) q.dedup_threshold = r.dedup_threshold();
  const v1::GenerationOptions& g = request.generation();
  q.max_output_tokens = g.max_output_tokens();
  if (g.has_temperature()) q.temperature = g.temperature();
  if (g.has_top_p()) q.top_p = g.top_p();
  q.stop.assign(g.stop().begin(), g.stop().end());
  q.user = g.user();
  return q;
}

void FillFinal(const rag::ModelRun& run, const rag::AnswerSources& sources, v1::AnswerFinal* f) {
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
  const rag::PromptResult& pr = run.prompt;
  const std::vector<index::ScoredPoint>& hits = sources.hits;
  const std::vector<size_t>& order = sources.selection.order;
  p->set_sources_used(static_cast<uint32_t>(pr.used_sources.size()));
  for (size_t i : sources.selection.duplicates) p->add_duplicate_chunk_ids(hits[i].point.id);
  for (size_t i : pr.duplicate_sources) p->add_duplicate_chunk_ids(hits[order[i]].point.id);
  for (size_t i : pr.dropped_sources) p->add_dropped_chunk_ids(hits[order[i]].point.id);
  for (size_t i : sources.selection.capped) p->add_dropped_chunk_ids(hits[i].point.id);
  p->set_dropped_history_messages(static_cast<uint32_t>(pr.dropped_history_messages));
  p->set_kept_history_messages(static_cast<uint32_t>(pr.kept_history_messages));
  p->set_prompt_tokens(pr.prompt_tokens);
  p->set_reserved_output_tokens(pr.reserved_output_tokens);
  p->set_context_window(pr.context_window);
}

class AnswerCall final : public grpc::ServerWriteReactor<v1::AnswerEvent>, public rag::AnswerSink {
 public:
  explicit AnswerCall(std::vector<std::string> models)
      : models_(std::move(models)),
        pending_bytes_(models_.size(), 0),
        open_delta_(models_.size(), nullptr) {}

  // Writes started before the handler returns this reactor are held by gRPC until it is bound.
  void Run(const rag::AnswerResources& resources, rag::AnswerPlan plan) {
    absl::StatusOr<std::shared_ptr<rag::Answer>> answer =
        rag::Answer::Start(resources, std::move(plan), this);
    if (!answer.ok()) {
      OnComplete(answer.status());
      return;
    }
    bool cancel = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      answer_ = *std::move(answer);
      cancel = client_cancelled_ || write_failed_;
    }
    if (cancel) answer_->Cancel();
  }

  // --- rag::AnswerSink, from the call's threads.
  void OnSources(const rag::AnswerSources& sources) override {
    auto event = std::make_unique<v1::AnswerEvent>();
    v1::AnswerSources* out = event->mutable_sources();
    out->set_applied_sequence(sources.applied_sequence);
    if (sources.coverage) ToProto(*sources.coverage, out->mutable_coverage());
    for (size_t n = 0; n < sources.used; ++n) {
      v1::AnswerSource* s = out->add_sources();
      s->set_number(static_cast<uint32_t>(n + 1));
      index::ScoredPoint hit = sources.hits[sources.selection.order[n]];
      ToProto(std::move(hit), s->mutable_chunk());
    }
    Enqueue(Pending{-1, std::move(event)});
  }

  bool OnDelta(size_t i, std::string_view text) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return pending_bytes_[i] < kMaxPendingBytesPerModel || stopped_; });
      if (stopped_) return false;
      pending_bytes_[i] += text.size();
      if (open_delta_[i] != nullptr) {
        // Coalesced: the client has not taken the previous text yet.
        open_delta_[i]->mutable_delta()->mutable_text()->append(text);
      } else {
        auto event = std::make_unique<v1::AnswerEvent>();
        event->mutable_delta()->set_model(models_[i]);
        event->mutable_delta()->set_text(std::string(text));
        open_delta_[i] = event.get();
        queue_.push_back(Pending{static_cast<int>(i), std::move(event)});
      }
    }
    Pump();
    return true;
  }

  void OnModelEnd(size_t i, const rag::ModelRun& run, const rag::AnswerSources& sources) override {
    auto event = std::make_unique<v1::AnswerEvent>();
    FillFinal(run, sources, event->mutable_final());
    Enqueue(Pending{-1, std::move(event)});
  }

  void OnAbort() override {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    cv_.notify_all();
  }

  // Ends the call with `status` once the queued events are written.
  void OnComplete(const absl::Status& status) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      final_status_ = (client_cancelled_ || write_failed_)
                          ? absl::CancelledError("cancelled by client")
                          : status;
    }
    Pump();
  }

  // --- grpc::ServerWriteReactor
  void OnWriteDone(bool ok) override {
    std::shared_ptr<rag::Answer> cancel;
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (!ok) {
        // The client is gone: nothing more can be delivered, so stop the models too.
        write_failed_ = true;
        queue_.clear();
        std::fill(open_delta_.begin(), open_delta_.end(), nullptr);
        stopped_ = true;
        cv_.notify_all();
        cancel = answer_;
      }
    }
    if (cancel) cancel->Cancel();
    Pump();
  }

  void OnCancel() override {
    std::shared_ptr<rag::Answer> cancel;
    {
      std::lock_guard<std::mutex> lock(mu_);
      client_cancelled_ = true;
      stopped_ = true;
      cv_.notify_all();
      cancel = answer_;
    }
    if (cancel) cancel->Cancel();
  }

  void OnDone() override { delete this; }

 private:
  struct Pending {
    int model = -1;  // the model of a delta event, -1 otherwise
    std::unique_ptr<v1::AnswerEvent> event;
  };

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
    // The answer's threads are done with this sink (OnComplete came last); drop the answer
    // here so that it does not outlive the reactor.
    std::shared_ptr<rag::Answer> answer = std::move(answer_);
    lock.unlock();
    Finish(ToGrpcStatus(status));
  }

  const std::vector<std::string> models_;
  std::shared_ptr<rag::Answer> answer_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  std::vector<size_t> pending_bytes_;         // per model, text in queue_
  std::vector<v1::AnswerEvent*> open_delta_;  // per model, its delta event in queue_
  std::unique_ptr<v1::AnswerEvent> current_;  // the write in flight
  bool writing_ = false;
  bool write_failed_ = false;
  bool client_cancelled_ = false;
  bool stopped_ = false;  // OnDelta returns false from now on
  bool done_ = false;
  bool finish_called_ = false;
  absl::Status final_status_;
};

}  // namespace

grpc::ServerWriteReactor<v1::AnswerEvent>* StartAnswer(
    const rag::AnswerResources& resources, grpc::CallbackServerContext* server_context,
    const v1::AnswerRequest* request, std::function<absl::StatusOr<uint64_t>()> before_retrieval,
    bool may_wait) {
  absl::StatusOr<rag::AnswerQuestion> question = FromProto(*request);
  if (!question.ok()) return RefuseWriter<v1::AnswerEvent>(question.status());
  absl::StatusOr<rag::AnswerPlan> plan = rag::MakeAnswerPlan(resources, *std::move(question));
  if (!plan.ok()) return RefuseWriter<v1::AnswerEvent>(plan.status());
  plan->min_sequence_from_wait =
      before_retrieval != nullptr && request->consistency() != v1::READ_CONSISTENCY_EVENTUAL;
  plan->before_retrieval = std::move(before_retrieval);
  // A routed retrieval (sharded cluster) ends with the call, as Retrieve's does.
  plan->query.deadline = ReadDeadlineOf(*server_context);
  if (may_wait) plan->cpu_bound = false;
  std::vector<std::string> names;
  for (const rag::ModelRun& run : plan->models) names.push_back(run.name);
  auto* call = new AnswerCall(std::move(names));
  call->Run(resources, *std::move(plan));
  return call;
}

}  // namespace ragd::services
