#include "models/openai_embedder.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <new>
#include <system_error>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/utf8.h"
#include "models/tokenizer.h"
#include "nlohmann/json.hpp"

namespace ragd::models {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr size_t kAzureDefaultMaxInputs = 16;
constexpr size_t kOpenAiDefaultMaxInputs = 2048;
constexpr size_t kBodyExcerptBytes = 300;

std::string ProviderLabel(EmbedderProvider p) { return std::string(EmbedderProviderName(p)); }

std::string StripTrailingSlashes(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// At most kBodyExcerptBytes of `body`, cut before a partial UTF-8 sequence, for messages.
std::string Excerpt(std::string_view body) {
  if (body.size() <= kBodyExcerptBytes) return std::string(body);
  size_t n = kBodyExcerptBytes;
  while (n > 0 && (static_cast<unsigned char>(body[n]) & 0xC0) == 0x80) --n;
  return absl::StrCat(std::string(body.substr(0, n)), "...");
}

// The human part of an error body: "[code] message" (ParseErrorBody), else the body quoted.
std::string ErrorDetail(const std::string& body) {
  const UpstreamError e = ParseErrorBody(body);
  if (!e.message.empty()) {
    return e.code.empty() ? e.message : absl::StrCat("[", e.code, "] ", e.message);
  }
  if (body.empty()) return "(empty body)";
  return Excerpt(body);
}

}  // namespace

// Shared by the workers of one Embed call.
struct OpenAiEmbedder::CallState {
  std::mutex mu;
  std::condition_variable cv;
  bool failed = false;  // under mu
  absl::Status error;   // the first error, under mu
  std::atomic<size_t> next_batch{0};
  std::atomic<uint64_t> prompt_tokens{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> retries{0};

  void Fail(absl::Status s) {
    std::lock_guard<std::mutex> lock(mu);
    if (!failed) {
      failed = true;
      error = std::move(s);
    }
    cv.notify_all();
  }
  bool Failed() {
    std::lock_guard<std::mutex> lock(mu);
    return failed;
  }
  // Sleeps for `d` unless the call fails meanwhile; false when it did.
  bool SleepFor(Clock::duration d) {
    std::unique_lock<std::mutex> lock(mu);
    if (d > Clock::duration::zero()) cv.wait_for(lock, d, [this] { return failed; });
    return !failed;
  }
};

absl::StatusOr<std::unique_ptr<OpenAiEmbedder>> OpenAiEmbedder::Create(
    const EmbedderConfig& config, EmbeddingObserver* observer) {
  if (config.provider != EmbedderProvider::kAzureOpenAi &&
      config.provider != EmbedderProvider::kOpenAi) {
    return absl::InvalidArgumentError("OpenAiEmbedder needs provider azure-openai or openai");
  }
  RETURN_IF_ERROR(config.Validate());
  const bool azure = config.provider == EmbedderProvider::kAzureOpenAi;
  ApiKeySources sources{.api_key = config.api_key,
                        .api_key_env = config.api_key_env,
                        .api_key_file = config.api_key_file,
                        .default_env = azure ? "AZURE_OPENAI_API_KEY" : "OPENAI_API_KEY",
                        .required = azure,
                        .owner = absl::StrCat(ProviderLabel(config.provider), " embeddings"),
                        .secrets = config.secrets.get()};
  ASSIGN_OR_RETURN(ResolvedApiKey key, ResolveApiKey(sources));
  EmbedderConfig copy = config;
  copy.api_key.clear();
  return std::unique_ptr<OpenAiEmbedder>(
      new OpenAiEmbedder(std::move(copy), std::move(key.key), observer));
}

OpenAiEmbedder::OpenAiEmbedder(EmbedderConfig config, std::string api_key,
                               EmbeddingObserver* observer)
    : config_(std::move(config)),
      api_key_(std::move(api_key)),
      observer_(observer),
      model_label_(config_.provider == EmbedderProvider::kAzureOpenAi ? config_.deployment
                                                                      : config_.model),
      http_(HttpClientOptions{
          .max_idle_connections = std::max<size_t>(config_.max_concurrency, 1),
          .connect_timeout = std::chrono::milliseconds(config_.connect_timeout_ms)}),
      backoff_(RetryPolicy{.max_retries = config_.max_retries,
                           .initial_backoff_ms = config_.initial_backoff_ms,
                           .max_backoff_ms = config_.max_backoff_ms,
                           .max_retry_after_ms = config_.max_retry_after_ms}) {
  switch (config_.provider) {
    case EmbedderProvider::kAzureOpenAi:
      url_ = absl::StrCat(StripTrailingSlashes(config_.endpoint), "/openai/deployments/",
                          config_.deployment, "/embeddings?api-version=", config_.api_version);
      headers_.emplace_back("api-key", api_key_);
      max_inputs_per_request_ = kAzureDefaultMaxInputs;
      break;
    case EmbedderProvider::kOpenAi:
      url_ = absl::StrCat(StripTrailingSlashes(config_.base_url), "/embeddings");
      if (!api_key_.empty()) headers_.emplace_back("Authorization", "Bearer " + api_key_);
      max_inputs_per_request_ = kOpenAiDefaultMaxInputs;
      break;
    case EmbedderProvider::kLocal:
      break;  // Create rejects it.
  }
  if (config_.max_inputs_per_request > 0) max_inputs_per_request_ = config_.max_inputs_per_request;
  auto now = Clock::now();
  auto burst = std::chrono::milliseconds(config_.rate_limit_burst_ms);
  if (config_.tokens_per_minute > 0)
    tokens_per_minute_.emplace(config_.tokens_per_minute, burst, now);
  if (config_.requests_per_minute > 0) {
    requests_per_minute_.emplace(config_.requests_per_minute, burst, now);
  }
}

OpenAiEmbedder::~OpenAiEmbedder() = default;

std::string OpenAiEmbedder::model_id() const {
  std::string id = config_.provider == EmbedderProvider::kAzureOpenAi
                       ? absl::StrCat("azure-openai/", config_.deployment)
                       : absl::StrCat("openai/", config_.model);
  if (config_.send_dimensions) absl::StrAppend(&id, "@", config_.dimension);
  return id;
}

EmbedderIdentity OpenAiEmbedder::identity() const {
  const bool azure = config_.provider == EmbedderProvider::kAzureOpenAi;
  return {std::string(EmbedderProviderName(config_.provider)),
          NormalizeEndpoint(azure ? config_.endpoint : config_.base_url),
          azure ? config_.deployment : config_.model, config_.dimension};
}

std::string OpenAiEmbedder::Scrub(std::string message) const {
  return ScrubSecret(std::move(message), api_key_);
}

void OpenAiEmbedder::AcquireSlot() {
  std::unique_lock<std::mutex> lock(slots_mu_);
  slots_cv_.wait(lock, [this] { return slots_in_use_ < config_.max_concurrency; });
  ++slots_in_use_;
}

void OpenAiEmbedder::ReleaseSlot() {
  {
    std::lock_guard<std::mutex> lock(slots_mu_);
    --slots_in_use_;
  }
  slots_cv_.notify_one();
}

absl::StatusOr<std::vector<std::vector<float>>> OpenAiEmbedder::Embed(
    const std::vector<std::string>& texts, EmbeddingUsage* usage) {
  if (texts.empty()) return std::vector<std::vector<float>>();

  // Validate and measure everything before the first request: a bad input must not cost a
  // partial, billed run.
  const Tokenizer& tokenizer = Tokenizer::Get(Encoding::kCl100kBase);
  std::vector<Batch> batches;
  Batch current;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string& t = texts[i];
    if (t.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("input ", i, " is empty; the embeddings API rejects empty strings"));
    }
    if (!IsValidUtf8(t)) {
      return absl::InvalidArgumentError(absl::StrCat("input ", i, " is not valid UTF-8"));
    }
    uint64_t tokens = tokenizer.Count(t);
    if (tokens > kMaxEmbeddingInputTokens) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input ", i, " has ", tokens, " tokens (cl100k_base), over the model's limit of ",
          kMaxEmbeddingInputTokens, "; chunk the text smaller"));
    }
    size_t count = current.end - current.begin;
    if (count > 0 && (count + 1 > max_inputs_per_request_ ||
                      current.tokens + tokens > config_.max_tokens_per_request)) {
      batches.push_back(current);
      current = Batch{i, i, 0};
    }
    if (count == 0) current.begin = i;
    current.end = i + 1;
    current.tokens += tokens;
  }
  batches.push_back(current);

  std::vector<std::vector<float>> out(texts.size());
  CallState call;
  auto worker = [&] {
    for (;;) {
      size_t b = call.next_batch.fetch_add(1);
      if (b >= batches.size() || call.Failed()) return;
      absl::Status s = RunBatch(texts, batches[b], out, call);
      if (!s.ok()) {
        call.Fail(absl::Status(s.code(), Scrub(std::string(s.message()))));
        return;
      }
    }
  };
  size_t workers = std::min(batches.size(), config_.max_concurrency);
  std::vector<std::thread> threads;
  threads.reserve(workers - 1);
  for (size_t w = 1; w < workers; ++w) {
    try {
      threads.emplace_back(worker);
    } catch (const std::system_error&) {
      break;  // out of threads: fewer workers do the same work; no exception leaves Embed
    }
  }
  worker();  // the calling thread is one of the workers
  for (auto& t : threads) t.join();

  if (usage != nullptr) {
    usage->prompt_tokens += call.prompt_tokens.load();
    usage->requests += call.requests.load();
    usage->retries += call.retries.load();
  }
  if (call.failed) {
    if (batches.size() > 1) {
      return absl::Status(call.error.code(),
                          absl::StrCat(std::string(call.error.message()), " (", texts.size(),
                                       " inputs in ", batches.size(), " requests; none returned)"));
    }
    return call.error;
  }
  return out;
}

absl::Status OpenAiEmbedder::RunBatch(const std::vector<std::string>& texts, const Batch& batch,
                                      std::vector<std::vector<float>>& out, CallState& call) {
  Tries tries;
  absl::Status status = GuardUpstream([&] { return TryBatch(texts, batch, out, call, tries); });
  if (observer_ != nullptr && tries.sent > 0) {
    EmbeddingRequestRecord record;
    record.model = model_label_;
    record.code = status.code();
    record.seconds = std::chrono::duration<double>(Clock::now() - tries.first_sent).count();
    record.inputs = batch.end - batch.begin;
    record.tokens = status.ok() ? tries.billed_tokens : 0;
    record.retries = tries.sent - 1;
    observer_->OnEmbeddingRequest(record);
  }
  return status;
}

absl::Status OpenAiEmbedder::TryBatch(const std::vector<std::string>& texts, const Batch& batch,
                                      std::vector<std::vector<float>>& out, CallState& call,
                                      Tries& tries) {
  json body;
  json& input = body["input"] = json::array();
  for (size_t i = batch.begin; i < batch.end; ++i) input.push_back(texts[i]);
  if (config_.provider == EmbedderProvider::kOpenAi) body["model"] = config_.model;
  if (config_.send_dimensions) body["dimensions"] = config_.dimension;
  const std::string payload = body.dump();
  const std::string label = ProviderLabel(config_.provider);

  absl::Status last_error;
  std::string last_reason;
  for (size_t attempt = 0;; ++attempt) {
    // Wait for the quotas and for any pause a server asked for, then for a request slot.
    auto now = Clock::now();
    Clock::duration wait = Clock::duration::zero();
    if (requests_per_minute_) wait = std::max(wait, requests_per_minute_->Reserve(1, now));
    if (tokens_per_minute_) wait = std::max(wait, tokens_per_minute_->Reserve(batch.tokens, now));
    auto paused_until = Clock::time_point(std::chrono::nanoseconds(paused_until_ns_.load()));
    if (paused_until > now) wait = std::max<Clock::duration>(wait, paused_until - now);
    if (!call.SleepFor(wait)) return absl::CancelledError("another batch failed");

    AcquireSlot();
    if (tries.sent++ == 0) tries.first_sent = Clock::now();
    absl::StatusOr<HttpResponse> response =
        http_.Post(url_, headers_, payload, std::chrono::milliseconds(config_.timeout_ms));
    ReleaseSlot();
    call.requests.fetch_add(1);
    if (attempt > 0) call.retries.fetch_add(1);

    std::optional<std::chrono::milliseconds> server_delay;
    if (!response.ok()) {
      if (response.status().code() == absl::StatusCode::kInvalidArgument) {
        return absl::FailedPreconditionError(absl::StrCat(
            label, " embeddings: the request URL is invalid (",
            std::string(response.status().message()), "); fix ",
            config_.provider == EmbedderProvider::kAzureOpenAi ? "endpoint" : "base_url"));
      }
      last_error = response.status();
      last_reason = std::string(response.status().message());
    } else if (response->status == 200) {
      uint64_t prompt_tokens = batch.tokens;
      absl::Status parsed = ParseResponse(response->body, batch, out, &prompt_tokens);
      if (!parsed.ok()) {
        if (parsed.code() != absl::StatusCode::kInternal) return parsed;
        return absl::InternalError(absl::StrCat(label,
                                                " embeddings: malformed upstream response from ",
                                                url_, ": ", std::string(parsed.message())));
      }
      call.prompt_tokens.fetch_add(prompt_tokens);
      tries.billed_tokens = prompt_tokens;
      return absl::OkStatus();
    } else if (IsRetryableHttpStatus(response->status)) {
      last_error =
          response->status == 429 ? absl::ResourceExhaustedError("") : absl::UnavailableError("");
      last_reason = absl::StrCat("HTTP ", response->status, ": ", ErrorDetail(response->body));
      server_delay = ParseRetryAfter(*response);
    } else {
      return NonRetryableError(response->status, response->body);
    }

    if (attempt >= config_.max_retries) break;
    const std::chrono::milliseconds delay = backoff_.Delay(attempt, server_delay);
    if (server_delay) {
      // Every request of this embedder would meet the same throttle: hold them all back.
      int64_t until = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          (Clock::now() + delay).time_since_epoch())
                          .count();
      int64_t prev = paused_until_ns_.load();
      while (prev < until && !paused_until_ns_.compare_exchange_weak(prev, until)) {
      }
    }
    spdlog::debug("{} embeddings: {}; retry {}/{} in {} ms", label, Scrub(last_reason), attempt + 1,
                  config_.max_retries, delay.count());
    if (!call.SleepFor(delay)) return absl::CancelledError("another batch failed");
  }

  std::string message = absl::StrCat(label, " embeddings request to ", url_, " failed after ",
                                     config_.max_retries + 1, " tries; last error: ", last_reason);
  switch (last_error.code()) {
    case absl::StatusCode::kResourceExhausted:
      return absl::ResourceExhaustedError(
          absl::StrCat(message,
                       ". The deployment's quota is exhausted: raise it, lower tokens_per_minute / "
                       "requests_per_minute, or raise max_retries"));
    case absl::StatusCode::kDeadlineExceeded:
      return absl::DeadlineExceededError(
          absl::StrCat(message, " (timeout_ms=", config_.timeout_ms, ")"));
    default:
      return absl::UnavailableError(message);
  }
}

absl::Status OpenAiEmbedder::ParseResponse(const std::string& body, const Batch& batch,
                                           std::vector<std::vector<float>>& out,
                                           uint64_t* prompt_tokens) const {
  return GuardUpstream([&] { return ParseResponseUnguarded(body, batch, out, prompt_tokens); });
}

absl::Status OpenAiEmbedder::ParseResponseUnguarded(const std::string& body, const Batch& batch,
                                                    std::vector<std::vector<float>>& out,
                                                    uint64_t* prompt_tokens) const {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return absl::InternalError(
        absl::StrCat("not valid JSON (", body.size(), " bytes): ", Excerpt(body)));
  }
  if (!j.is_object()) return absl::InternalError("the response is not a JSON object");
  auto data = j.find("data");
  if (data == j.end() || !data->is_array()) {
    return absl::InternalError("the response has no \"data\" array");
  }
  const size_t n = batch.end - batch.begin;
  if (data->size() != n) {
    return absl::InternalError(
        absl::StrCat("the response has ", data->size(), " embeddings for ", n, " inputs"));
  }
  std::vector<std::vector<float>> vectors(n);
  std::vector<bool> seen(n, false);
  for (const json& item : *data) {
    auto index_it = item.is_object() ? item.find("index") : item.end();
    if (!item.is_object() || index_it == item.end() || !index_it->is_number_unsigned()) {
      return absl::InternalError("an item of \"data\" has no unsigned integer \"index\"");
    }
    auto index = index_it->get<uint64_t>();
    if (index >= n) {
      return absl::InternalError(
          absl::StrCat("index ", index, " is out of range for ", n, " inputs"));
    }
    if (seen[index]) return absl::InternalError(absl::StrCat("index ", index, " appears twice"));
    seen[index] = true;
    auto emb = item.find("embedding");
    if (emb == item.end() || !emb->is_array()) {
      return absl::InternalError(absl::StrCat("index ", index, " has no \"embedding\" array"));
    }
    if (emb->size() != config_.dimension) {
      return absl::InternalError(absl::StrCat("index ", index, " has dimension ", emb->size(),
                                              ", expected ", config_.dimension,
                                              " (check the dimension setting and the model)"));
    }
    std::vector<float>& v = vectors[index];
    v.reserve(config_.dimension);
    for (const json& x : *emb) {
      if (!x.is_number()) {
        return absl::InternalError(absl::StrCat("index ", index, " has a non-number value"));
      }
      auto f = static_cast<float>(x.get<double>());
      if (!std::isfinite(f)) {
        return absl::InternalError(absl::StrCat("index ", index, " has a non-finite value"));
      }
      v.push_back(f);
    }
  }
  // n items, each index in range and seen once: every index is present.
  auto usage = j.find("usage");
  if (usage != j.end() && !usage->is_null()) {
    if (!usage->is_object()) return absl::InternalError("\"usage\" is not an object");
    auto pt = usage->find("prompt_tokens");
    if (pt != usage->end()) {
      if (!pt->is_number_unsigned()) {
        return absl::InternalError(
            absl::StrCat("usage.prompt_tokens is ",
                         Excerpt(pt->dump(-1, ' ', false, json::error_handler_t::replace)),
                         ", not a token count"));
      }
      *prompt_tokens = pt->get<uint64_t>();
    }
  }
  for (size_t i = 0; i < n; ++i) out[batch.begin + i] = std::move(vectors[i]);
  return absl::OkStatus();
}

absl::Status OpenAiEmbedder::NonRetryableError(int http_status, const std::string& body) const {
  const bool azure = config_.provider == EmbedderProvider::kAzureOpenAi;
  std::string head =
      absl::StrCat(ProviderLabel(config_.provider), " embeddings request to ", url_,
                   " rejected with HTTP ", http_status, ": ", ErrorDetail(body), ". ");
  std::string key_sources = "api_key_env, api_key_file or api_key";
  switch (http_status) {
    case 400:
      return absl::InvalidArgumentError(absl::StrCat(
          head, "The request was refused as invalid: check that inputs are within ",
          kMaxEmbeddingInputTokens, " tokens, max_inputs_per_request (", max_inputs_per_request_,
          ") is allowed by the deployment",
          config_.send_dimensions ? ", and that the model supports send_dimensions" : ""));
    case 401:
      return absl::FailedPreconditionError(absl::StrCat(
          head, "Fix the API key: ", key_sources, " must hold a valid key for ",
          azure ? absl::StrCat("the Azure OpenAI resource at endpoint ", config_.endpoint)
                : absl::StrCat("base_url ", config_.base_url)));
    case 403:
      return absl::FailedPreconditionError(absl::StrCat(
          head, "The key was accepted but is not allowed to use this ",
          azure ? "resource: check that the key belongs to the resource at endpoint " +
                      config_.endpoint + " and its network rules (firewall, private endpoint)"
                : "model: check the key's project and permissions for model " + config_.model));
    case 404:
      if (azure) {
        return absl::FailedPreconditionError(absl::StrCat(
            head, "Check deployment \"", config_.deployment,
            "\" (the deployment name, not the model name) exists on the resource at endpoint ",
            config_.endpoint, ", and api_version \"", config_.api_version, "\""));
      }
      return absl::FailedPreconditionError(absl::StrCat(head, "Check base_url \"", config_.base_url,
                                                        "\" (usually ending in /v1) and model \"",
                                                        config_.model, "\""));
    case 413:
      return absl::InvalidArgumentError(
          absl::StrCat(head, "The request is too large: lower max_tokens_per_request (",
                       config_.max_tokens_per_request, ") or max_inputs_per_request"));
    default:
      break;
  }
  if (http_status >= 300 && http_status < 400) {
    return absl::FailedPreconditionError(
        absl::StrCat(head, "Redirects are not followed: fix ", azure ? "endpoint" : "base_url"));
  }
  if (http_status >= 400 && http_status < 500) return absl::InvalidArgumentError(head);
  return absl::InternalError(absl::StrCat(head, "Unexpected status"));
}

}  // namespace ragd::models
