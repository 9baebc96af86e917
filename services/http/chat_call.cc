#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "services/http/chat_call_internal.h"

namespace ragd::services::http_internal {

absl::StatusOr<std::shared_ptr<ChatCall>> ChatCall::Start(const rag::AnswerResources& resources,
                                                          ChatCompletionRequest request) {
  auto call = std::make_shared<ChatCall>(std::move(request));
  if (call->request_.data_source) {
    RETURN_IF_ERROR(call->StartGrounded(resources));
  } else {
    RETURN_IF_ERROR(call->StartRelay(resources));
  }
  return call;
}

absl::Status ChatCall::StartRelay(const rag::AnswerResources& resources) {
  ASSIGN_OR_RETURN(models::ChatModel * model, resources.models->Get(request_.model));
  models::ChatRequest chat;
  chat.messages = request_.messages;
  chat.temperature = request_.temperature;
  chat.top_p = request_.top_p;
  chat.max_output_tokens = request_.max_tokens;
  chat.stop = request_.stop;
  chat.user = request_.user;
  RETURN_IF_ERROR(models::ValidateChatRequest(model->deployment(), chat));
  if (resources.active->fetch_add(1) >= resources.settings->max_concurrent_answers) {
    resources.active->fetch_sub(1);
    return absl::ResourceExhaustedError(absl::StrCat("more than retrieval.max_concurrent_answers (",
                                                     resources.settings->max_concurrent_answers,
                                                     ") answers in progress; retry later"));
  }
  std::atomic<size_t>* active = resources.active;
  auto self = shared_from_this();
  // The answer deadline bounds a relay as it bounds a grounded answer's models.
  concurrency::DeadlineTimer* timer = resources.deadlines;
  const std::chrono::milliseconds deadline = resources.settings->answer_deadline;
  bool started =
      resources.streams->TrySubmit([self, model, chat = std::move(chat), active, timer, deadline] {
        uint64_t timer_id = 0;
        if (deadline.count() > 0) {
          std::weak_ptr<ChatCall> weak = self;
          timer_id = timer->Schedule(concurrency::DeadlineTimer::Clock::now() + deadline, [weak] {
            if (auto call = weak.lock()) {
              call->deadline_exceeded_.store(true);
              call->cancelled_.store(true);
              std::lock_guard<std::mutex> lock(call->mu_);
              call->stopped_ = true;
              call->cv_.notify_all();
            }
          });
        }
        models::ChatResult result;
        absl::Status s = model->Stream(
            chat, [&](const models::ChatDelta& d) { return self->Push(d.text); }, &result,
            &self->cancelled_);
        if (timer_id != 0) timer->Cancel(timer_id);
        if (self->deadline_exceeded_.load()) {
          s = absl::DeadlineExceededError(absl::StrCat("model '", self->request_.model,
                                                       "': retrieval.answer_deadline_ms (",
                                                       deadline.count(), " ms) exceeded"));
        }
        {
          std::lock_guard<std::mutex> lock(self->mu_);
          self->result_ = std::move(result);
          self->model_ran_ = true;
        }
        active->fetch_sub(1);
        self->End(std::move(s));
      });
  if (!started) {
    active->fetch_sub(1);
    return absl::ResourceExhaustedError("every model stream thread is busy; retry later");
  }
  return absl::OkStatus();
}

absl::Status ChatCall::StartGrounded(const rag::AnswerResources& resources) {
  const DataSource& source = *request_.data_source;
  rag::AnswerQuestion q;
  q.collection = source.collection;
  // The last turn is the question; earlier user and assistant turns are the history. System
  // turns are dropped: the grounding rules are the server's (README "HTTP API").
  const std::vector<models::ChatMessage>& messages = request_.messages;
  if (messages.back().role != models::ChatRole::kUser) {
    return absl::InvalidArgumentError(
        "messages: with data_sources the last message must be the user's question");
  }
  q.question = messages.back().content;
  for (size_t i = 0; i + 1 < messages.size(); ++i) {
    if (messages[i].role != models::ChatRole::kSystem) q.history.push_back(messages[i]);
  }
  q.models = {request_.model};
  q.k = source.top_k;
  q.filter = source.filter;
  q.min_score = source.min_score;
  q.mode = source.search_mode;
  q.max_sources = source.max_sources;
  q.allow_partial = source.allow_partial;
  q.max_output_tokens = request_.max_tokens.value_or(0);
  q.temperature = request_.temperature;
  q.top_p = request_.top_p;
  q.stop = request_.stop;
  q.user = request_.user;
  ASSIGN_OR_RETURN(rag::AnswerPlan plan, rag::MakeAnswerPlan(resources, std::move(q)));
  self_ = shared_from_this();
  absl::StatusOr<std::shared_ptr<rag::Answer>> answer =
      rag::Answer::Start(resources, std::move(plan), this);
  if (!answer.ok()) {
    self_.reset();
    return answer.status();
  }
  bool cancel = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    answer_ = *std::move(answer);
    cancel = cancel_requested_;
  }
  if (cancel) answer_->Cancel();
  return absl::OkStatus();
}

bool ChatCall::WaitForFirstTextOrEnd(std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, wait, [&] { return any_text_ || ended_; });
}

ChatCall::Taken ChatCall::Next(std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, wait, [&] { return !pending_.empty() || ended_; });
  Taken taken;
  taken.text = std::move(pending_);
  pending_.clear();
  taken.ended = ended_;
  cv_.notify_all();  // a producer blocked on the bound
  return taken;
}

bool ChatCall::has_text() {
  std::lock_guard<std::mutex> lock(mu_);
  return any_text_;
}

void ChatCall::Cancel() {
  std::shared_ptr<rag::Answer> answer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancel_requested_ = true;
    stopped_ = true;
    answer = answer_;
    cv_.notify_all();
  }
  cancelled_.store(true);
  if (answer) answer->Cancel();
}

absl::Status ChatCall::status() {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

bool ChatCall::model_ran() {
  std::lock_guard<std::mutex> lock(mu_);
  return model_ran_;
}

models::ChatResult ChatCall::result() {
  std::lock_guard<std::mutex> lock(mu_);
  return result_;
}

Json ChatCall::context() {
  std::lock_guard<std::mutex> lock(mu_);
  Json context = {{"citations", citations_}, {"intent", nullptr}};
  if (!coverage_.is_null()) context["coverage"] = coverage_;
  return context;
}

bool ChatCall::Push(std::string_view text) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return pending_.size() < kMaxPendingBytes || stopped_; });
  if (stopped_) return false;
  pending_.append(text);
  any_text_ = true;
  cv_.notify_all();
  return true;
}

void ChatCall::End(absl::Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (cancel_requested_) status = absl::CancelledError("cancelled by client");
  status_ = std::move(status);
  ended_ = true;
  cv_.notify_all();
}

void ChatCall::OnSources(const rag::AnswerSources& sources) {
  Json citations = Json::array();
  for (size_t n = 0; n < sources.used; ++n) {
    citations.push_back(CitationOf(sources.hits[sources.selection.order[n]]));
  }
  Json coverage = sources.coverage ? CoverageOf(*sources.coverage) : Json();
  std::lock_guard<std::mutex> lock(mu_);
  citations_ = std::move(citations);
  coverage_ = std::move(coverage);
}

bool ChatCall::OnDelta(size_t model, std::string_view text) { return Push(text); }

void ChatCall::OnModelEnd(size_t model, const rag::ModelRun& run,
                          const rag::AnswerSources& sources) {
  std::lock_guard<std::mutex> lock(mu_);
  result_ = run.result;
  model_ran_ = true;
}

void ChatCall::OnComplete(const absl::Status& status) {
  // The last event: the answer needs this sink no more.
  std::shared_ptr<ChatCall> keep = std::move(self_);
  End(status);
}

void ChatCall::OnAbort() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
  cv_.notify_all();
}

}  // namespace ragd::services::http_internal
