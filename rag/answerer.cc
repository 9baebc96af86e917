#include "rag/answerer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "common/utf8.h"
#include "ingest/chunk_schema.h"

namespace ragd::rag {
namespace {

using Clock = std::chrono::steady_clock;

template <typename T>
const T* Field(const index::Metadata& m, std::string_view key) {
  auto it = m.find(std::string(key));
  return it == m.end() ? nullptr : std::get_if<T>(&it->second);
}

}  // namespace

absl::StatusOr<models::ChatModel*> ChatModelPool::Get(const std::string& name) {
  ASSIGN_OR_RETURN(const models::ModelDeployment* deployment, catalog_->Get(name));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = models_.find(name);
  if (it != models_.end()) return it->second.get();
  absl::StatusOr<std::unique_ptr<models::ChatModel>> model = models::MakeChatModel(*deployment);
  if (!model.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("model '", name, "' cannot be used: ", std::string(model.status().message())));
  }
  models::ChatModel* raw = model->get();
  models_.emplace(name, *std::move(model));
  return raw;
}

PromptSource ToPromptSource(const index::ScoredPoint& hit) {
  const index::Metadata& m = hit.point.metadata;
  PromptSource s;
  s.text = hit.point.text;
  if (const auto* title = Field<std::string>(m, ingest::kTitleKey)) s.title = *title;
  if (const auto* headings = Field<std::vector<std::string>>(m, ingest::kHeadingPathKey)) {
    s.heading_path = absl::StrJoin(*headings, " > ");
  } else if (const auto* heading = Field<std::string>(m, ingest::kHeadingPathKey)) {
    s.heading_path = *heading;
  }
  if (const auto* page = Field<int64_t>(m, ingest::kPageKey)) s.page = static_cast<int>(*page);
  s.score = hit.score;
  s.vector = hit.point.vector;
  return s;
}

absl::StatusOr<AnswerPlan> MakeAnswerPlan(const AnswerResources& resources, AnswerQuestion q) {
  AnswerPlan plan;
  if (q.question.empty()) return absl::InvalidArgumentError("question: empty");
  if (!IsValidUtf8(q.question)) return absl::InvalidArgumentError("question: not valid UTF-8");
  if (q.models.empty()) q.models.push_back(resources.catalog->default_model());
  for (size_t i = 0; i < q.models.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (q.models[i] == q.models[j]) {
        return absl::InvalidArgumentError(
            absl::StrCat("models[", i, "]: '", EchoPrefix(q.models[i]), "' is asked twice"));
      }
    }
    ModelRun run;
    run.name = q.models[i];
    ASSIGN_OR_RETURN(run.model, resources.models->Get(q.models[i]));
    plan.models.push_back(std::move(run));
  }

  const AnswerSettings& s = *resources.settings;
  plan.query.collection = std::move(q.collection);
  plan.query.text = q.question;
  plan.query.k = q.k;
  plan.query.filter = std::move(q.filter);
  plan.query.min_score = q.min_score;
  plan.query.mode = q.mode;
  plan.query.hybrid = q.hybrid;
  plan.query.allow_partial = q.allow_partial;
  plan.selection.dedup = true;
  plan.selection.max_sources = q.max_sources > 0 ? q.max_sources : s.max_sources;
  plan.selection.mmr = q.mmr_lambda.has_value() || s.mmr;
  plan.selection.mmr_lambda = q.mmr_lambda.value_or(s.mmr_lambda);
  if (!(plan.selection.mmr_lambda >= 0 && plan.selection.mmr_lambda <= 1)) {
    return absl::InvalidArgumentError("retrieval.mmr_lambda: must be in [0, 1]");
  }
  plan.selection.dedup_threshold = q.dedup_threshold.value_or(s.dedup_threshold);
  if (!(plan.selection.dedup_threshold > 0 && plan.selection.dedup_threshold <= 1)) {
    return absl::InvalidArgumentError("retrieval.dedup_threshold: must be in (0, 1]");
  }
  // MMR by cosine needs the chunks' vectors.
  plan.query.with_vectors = plan.selection.mmr;
  plan.cpu_bound = resources.retriever->IsCpuBound(plan.query.collection, plan.query.text);

  plan.question = std::move(q.question);
  plan.history = std::move(q.history);
  plan.temperature = q.temperature;
  plan.top_p = q.top_p;
  plan.stop = std::move(q.stop);
  plan.user = std::move(q.user);
  for (const ModelRun& run : plan.models) {
    const models::ModelDeployment& d = run.model->deployment();
    if (q.max_output_tokens > d.max_output_tokens) {
      return absl::InvalidArgumentError(absl::StrCat(
          "generation.max_output_tokens: ", q.max_output_tokens, " is above the limit of model '",
          run.name, "' (", d.max_output_tokens, ")"));
    }
  }
  plan.prompt_options.reserved_output_tokens =
      q.max_output_tokens > 0 ? q.max_output_tokens : s.reserved_output_tokens;
  plan.selection.shingle_tokens = plan.prompt_options.shingle_tokens;
  // Selection is applied once for all models (Answer::Prepare), not per prompt.
  plan.prompt_options.dedup = false;
  plan.prompt_options.mmr = false;
  plan.prompt_options.max_sources = 0;
  RETURN_IF_ERROR(plan.selection.Validate());
  RETURN_IF_ERROR(plan.prompt_options.Validate());
  return plan;
}

absl::StatusOr<std::shared_ptr<Answer>> Answer::Start(const AnswerResources& resources,
                                                      AnswerPlan plan, AnswerSink* sink) {
  if (resources.active->fetch_add(1) >= resources.settings->max_concurrent_answers) {
    resources.active->fetch_sub(1);
    return absl::ResourceExhaustedError(absl::StrCat("more than retrieval.max_concurrent_answers (",
                                                     resources.settings->max_concurrent_answers,
                                                     ") answers in progress; retry later"));
  }
  auto self = std::make_shared<Answer>(resources, std::move(plan), sink);
  // A hand-off costs a thread wake-up, a good part of what ragd adds to an answer: prepare on
  // this thread when that costs only CPU and the executor has idle capacity.
  if (self->plan_.cpu_bound && resources.prepare->TryRunInline([&self] { self->Begin(); })) {
    return self;
  }
  if (!resources.prepare->TrySubmit([self] { self->Begin(); })) {
    self->Complete(absl::ResourceExhaustedError(
        "too many searches queued (server.max_queued_searches); retry"));
  }
  return self;
}

void Answer::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  abort_.store(true);
}

// On a search worker (or inline): retrieval and prompts, then the models go to their threads.
void Answer::Begin() {
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
  const std::chrono::milliseconds deadline = resources_.settings->answer_deadline;
  if (deadline.count() > 0) {
    std::weak_ptr<Answer> weak = weak_from_this();
    uint64_t id = resources_.deadlines->Schedule(Clock::now() + deadline, [weak] {
      if (std::shared_ptr<Answer> answer = weak.lock()) answer->OnDeadline();
    });
    std::lock_guard<std::mutex> lock(mu_);
    deadline_id_ = id;
  }
  std::shared_ptr<Answer> self = shared_from_this();
  for (size_t i = 0; i < plan_.models.size(); ++i) {
    if (!resources_.streams->TrySubmit([self, i] { self->RunModel(i); })) {
      plan_.models[i].status = absl::ResourceExhaustedError(
          absl::StrCat("model '", plan_.models[i].name, "': no stream thread free; retry"));
      EndModel(i);
    }
  }
}

// Retrieval, the order of the sources, every model's prompt, and the sources event.
absl::Status Answer::Prepare() {
  if (plan_.before_retrieval) {
    ASSIGN_OR_RETURN(sources_.applied_sequence, plan_.before_retrieval());
    if (plan_.min_sequence_from_wait) plan_.query.min_sequence = sources_.applied_sequence;
  }
  ASSIGN_OR_RETURN(TextQueryResult retrieved, resources_.retriever->Retrieve(plan_.query));
  if (abort_.load()) return absl::CancelledError("cancelled by client");
  sources_.hits = std::move(retrieved.hits);
  sources_.coverage = std::move(retrieved.coverage);
  std::vector<PromptSource> all;
  all.reserve(sources_.hits.size());
  for (const index::ScoredPoint& hit : sources_.hits) all.push_back(ToPromptSource(hit));

  // With the first model's tokenizer; each model's budget then keeps a prefix of the list.
  const models::Tokenizer& tokenizer =
      models::Tokenizer::Get(plan_.models[0].model->deployment().encoding);
  sources_.selection = SelectSources(tokenizer, all, plan_.selection);
  std::vector<PromptSource> ordered;
  ordered.reserve(sources_.selection.order.size());
  for (size_t i : sources_.selection.order) ordered.push_back(std::move(all[i]));

  PromptBuilder builder(plan_.prompt_options);
  for (ModelRun& run : plan_.models) {
    const models::ModelDeployment& d = run.model->deployment();
    absl::StatusOr<PromptResult> prompt = builder.Build(d, plan_.question, plan_.history, ordered);
    if (!prompt.ok()) {
      return absl::Status(
          prompt.status().code(),
          absl::StrCat("model '", run.name, "': ", std::string(prompt.status().message())));
    }
    run.prompt = *std::move(prompt);
    models::ChatRequest& r = run.prompt.request;
    r.temperature = plan_.temperature;
    r.top_p = plan_.top_p;
    r.stop = plan_.stop;
    r.user = plan_.user;
    RETURN_IF_ERROR(models::ValidateChatRequest(d, r));
    sources_.used = std::max(sources_.used, run.prompt.used_sources.size());
  }
  sink_->OnSources(sources_);
  return absl::OkStatus();
}

void Answer::RunModel(size_t i) {
  ModelRun& run = plan_.models[i];
  run.status = run.model->Stream(
      run.prompt.request,
      [this, i](const models::ChatDelta& d) { return sink_->OnDelta(i, d.text); }, &run.result,
      &abort_);
  if (run.status.code() == absl::StatusCode::kCancelled) {
    std::lock_guard<std::mutex> lock(mu_);
    if (deadline_exceeded_) {
      run.status = absl::DeadlineExceededError(
          absl::StrCat("model '", run.name, "': retrieval.answer_deadline_ms (",
                       resources_.settings->answer_deadline.count(), " ms) exceeded"));
    }
  }
  EndModel(i);
}

// The end of model i; the last model to end completes the call.
void Answer::EndModel(size_t i) {
  ModelRun& run = plan_.models[i];
  if (!run.status.ok() && run.status.code() != absl::StatusCode::kCancelled) {
    spdlog::warn("answer: model '{}' failed: {}", run.name, run.status.ToString());
  }
  sink_->OnModelEnd(i, run, sources_);
  bool last = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last = --running_ == 0;
  }
  if (last) {
    // With one model the call reports its status; with several, each end event does.
    Complete(plan_.models.size() == 1 ? plan_.models[0].status : absl::OkStatus());
  }
}

void Answer::OnDeadline() {
  std::lock_guard<std::mutex> lock(mu_);
  if (running_ == 0) return;
  deadline_exceeded_ = true;
  abort_.store(true);
  // Under mu_: the sink outlives this call, as Complete() (which ends it) waits for mu_.
  sink_->OnAbort();
}

void Answer::Complete(absl::Status status) {
  resources_.active->fetch_sub(1);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (deadline_id_ != 0) resources_.deadlines->Cancel(deadline_id_);
    if (cancelled_) status = absl::CancelledError("cancelled by client");
    completed_ = true;
  }
  sink_->OnComplete(status);
}

}  // namespace ragd::rag
