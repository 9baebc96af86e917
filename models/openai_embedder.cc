#include "models/openai_embedder.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
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

// The human part of an error body: Azure and OpenAI both send
// {"error": {"code": ..., "message": ...}}; anything else is quoted as is.
std::string ErrorDetail(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    auto e = j.find("error");
    if (e != j.end() && e->is_object()) {
      std::string code;
      auto c = e->find("code");
      if (c != e->end() && c->is_string()) code = c->get<std::string>();
      if (c != e->end() && c->is_number_integer()) code = std::to_string(c->get<int64_t>());
      std::string message;
      auto m = e->find("message");
      if (m != e->end() && m->is_string()) message = m->get<std::string>();
      if (!message.empty()) {
        return Excerpt(code.empty() ? message : absl::StrCat("[", code, "] ", message));
      }
    }
  }
  if (body.empty()) return "(empty body)";
  return Excerpt(body);
}

bool IsRetryableStatus(int status) {
  return status == 408 || status == 409 || status == 429 || status >= 500;
}

// The delay a response asks for: Azure's `retry-after-ms`, else `Retry-After` in seconds
// (an HTTP date is not supported and falls back to back-off).
std::optional<std::chrono::milliseconds> ServerRetryDelay(const HttpResponse& r) {
  if (auto ms = r.Header("retry-after-ms")) {
    double v = 0;
    if (absl::SimpleAtod(*ms, &v) && v >= 0) {
      return std::chrono::milliseconds(static_cast<int64_t>(std::ceil(v)));
    }
  }
  if (auto s = r.Header("retry-after")) {
    double v = 0;
    if (absl::SimpleAtod(*s, &v) && v >= 0) {
      return std::chrono::milliseconds(static_cast<int64_t>(std::ceil(v * 1000)));
    }
  }
  return std::nullopt;
}

absl::StatusOr<std::string> ReadKeyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read the API key file api_key_file=\"", path,
                     "\": check that it exists and is readable"));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

absl::StatusOr<std::string> ResolveApiKey(const EmbedderConfig& config) {
  std::string key;
  std::string source;
  if (!config.api_key.empty()) {
    key = config.api_key;
    source = "api_key";
  } else if (!config.api_key_file.empty()) {
    ASSIGN_OR_RETURN(key, ReadKeyFile(config.api_key_file));
    source = absl::StrCat("api_key_file \"", config.api_key_file, "\"");
  } else {
    std::string var = config.api_key_env;
    if (var.empty()) {
      var = config.provider == EmbedderProvider::kAzureOpenAi ? "AZURE_OPENAI_API_KEY"
                                                              : "OPENAI_API_KEY";
    }
    const char* value = std::getenv(var.c_str());
    if (value == nullptr || *value == '\0') {
      if (config.provider == EmbedderProvider::kOpenAi && config.api_key_env.empty()) {
        return std::string();  // OpenAI-compatible servers may need no key.
      }
      return absl::FailedPreconditionError(absl::StrCat(
          "no API key for ", ProviderLabel(config.provider), ": the environment variable ", var,
          " is not set or empty; set it, or set api_key_file or api_key_env"));
    }
    key = value;
    source = absl::StrCat("environment variable ", var);
  }
  // Keys are single tokens; files often end with a newline, secrets mounts sometimes with \r\n.
  key = std::string(absl::StripAsciiWhitespace(key));
  if (key.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("the API key from ", source, " is empty"));
  }
  for (char c : key) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      // A newline inside a header value would let the key inject headers.
      return absl::FailedPreconditionError(
          absl::StrCat("the API key from ", source, " contains control characters"));
    }
  }
  return key;
}

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
  ASSIGN_OR_RETURN(std::string key, ResolveApiKey(config));
  EmbedderConfig copy = config;
  copy.api_key.clear();
  return std::unique_ptr<OpenAiEmbedder>(
      new OpenAiEmbedder(std::move(copy), std::move(key), observer));
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
      rng_(std::random_device{}()) {
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
  if (api_key_.empty()) return message;
  return absl::StrReplaceAll(message, {{api_key_, "[redacted]"}});
}

std::chrono::milliseconds OpenAiEmbedder::Backoff(size_t retry) {
  const uint64_t cap = config_.max_backoff_ms;
  uint64_t ceiling = config_.initial_backoff_ms;
  for (size_t i = 0; i < retry && ceiling < cap; ++i) ceiling *= 2;  // no shift overflow
  ceiling = std::min(ceiling, cap);
  std::lock_guard<std::mutex> lock(rng_mu_);
  return std::chrono::milliseconds(std::uniform_int_distribution<uint64_t>(0, ceiling)(rng_));
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
  absl::Status status = TryBatch(texts, batch, out, call, tries);
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
        return absl::InternalError(absl::StrCat(label, " embeddings: malformed response from ",
                                                url_, ": ", std::string(parsed.message())));
      }
      call.prompt_tokens.fetch_add(prompt_tokens);
      tries.billed_tokens = prompt_tokens;
      return absl::OkStatus();
    } else if (IsRetryableStatus(response->status)) {
      last_error =
          response->status == 429 ? absl::ResourceExhaustedError("") : absl::UnavailableError("");
      last_reason = absl::StrCat("HTTP ", response->status, ": ", ErrorDetail(response->body));
      server_delay = ServerRetryDelay(*response);
    } else {
      return NonRetryableError(response->status, response->body);
    }

    if (attempt >= config_.max_retries) break;
    std::chrono::milliseconds delay;
    if (server_delay) {
      delay = std::min(*server_delay, std::chrono::milliseconds(config_.max_retry_after_ms));
      // Every request of this embedder would meet the same throttle: hold them all back.
      int64_t until = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          (Clock::now() + delay).time_since_epoch())
                          .count();
      int64_t prev = paused_until_ns_.load();
      while (prev < until && !paused_until_ns_.compare_exchange_weak(prev, until)) {
      }
    } else {
      delay = Backoff(attempt);
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
  if (usage != j.end() && usage->is_object()) {
    auto pt = usage->find("prompt_tokens");
    if (pt != usage->end() && pt->is_number_unsigned()) *prompt_tokens = pt->get<uint64_t>();
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
