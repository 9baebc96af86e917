#include "models/openai_chat_model.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/utf8.h"
#include "models/sse_decoder.h"

namespace ragd::models {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

// Error bodies are small JSON documents; keep at most this much of one.
constexpr size_t kMaxErrorBody = 64 << 10;
// Server messages quoted in our errors are cut to this many bytes.
constexpr size_t kMaxQuotedMessage = 400;

std::chrono::microseconds Since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
}

std::string TrimmedMessage(std::string_view s) {
  if (s.size() <= kMaxQuotedMessage) return std::string(s);
  return std::string(s.substr(0, Utf8SafePrefix(s, kMaxQuotedMessage))) + "...";
}

// {"error": {"code": ..., "message": ..., "innererror": {"code": ...}}} -> (code, message).
std::pair<std::string, std::string> ParseError(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return {"", TrimmedMessage(body)};
  const json* e = j.contains("error") && j["error"].is_object() ? &j["error"] : &j;
  std::string code, message;
  if (e->contains("code") && (*e)["code"].is_string()) code = (*e)["code"].get<std::string>();
  if (e->contains("message") && (*e)["message"].is_string()) {
    message = (*e)["message"].get<std::string>();
  }
  if (code.empty() && e->contains("innererror") && (*e)["innererror"].is_object() &&
      (*e)["innererror"].contains("code") && (*e)["innererror"]["code"].is_string()) {
    code = (*e)["innererror"]["code"].get<std::string>();
  }
  return {code, TrimmedMessage(message)};
}

// `retry-after-ms` (milliseconds, Azure) or `Retry-After` (seconds; HTTP dates ignored).
std::optional<std::chrono::milliseconds> RetryAfter(const HttpResponse& head) {
  if (auto ms = head.Header("retry-after-ms")) {
    char* end = nullptr;
    double v = std::strtod(ms->c_str(), &end);
    if (end != ms->c_str() && std::isfinite(v) && v >= 0) {
      return std::chrono::milliseconds(static_cast<int64_t>(v));
    }
  }
  if (auto s = head.Header("retry-after")) {
    char* end = nullptr;
    double v = std::strtod(s->c_str(), &end);
    if (end != s->c_str() && std::isfinite(v) && v >= 0) {
      return std::chrono::milliseconds(static_cast<int64_t>(v * 1000));
    }
  }
  return std::nullopt;
}

absl::StatusOr<std::string> ReadKeyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::FailedPreconditionError(absl::StrCat("cannot read api_key_file ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return std::string(absl::StripTrailingAsciiWhitespace(ss.str()));
}

std::string WithoutTrailingSlash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

// What one try saw.
struct OpenAiChatModel::Attempt {
  int http_status = 0;
  std::optional<std::chrono::milliseconds> retry_after;
  std::string error_body;  // non-200 body, or the raw JSON of a non-streaming 200
  SseDecoder sse;
  bool done = false;               // [DONE] seen
  bool stopped_by_caller = false;  // on_delta returned false
  bool malformed = false;          // an event that is not JSON
  std::string stream_error;        // an {"error": ...} event
  std::string finish_reason;
  std::optional<ChatUsage> usage;
};

absl::StatusOr<std::string> ResolveChatApiKey(const ModelDeployment& d) {
  std::string key;
  if (!d.api_key.empty()) {
    key = d.api_key;
  } else if (!d.api_key_file.empty()) {
    auto k = ReadKeyFile(d.api_key_file);
    if (!k.ok()) return k.status();
    if (k->empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("api_key_file ", d.api_key_file, " of model '", d.name, "' is empty"));
    }
    key = *k;
  } else {
    std::string var = d.api_key_env;
    bool named = !var.empty();
    if (!named) {
      var = d.provider == ChatProvider::kAzureOpenAi ? "AZURE_OPENAI_API_KEY" : "OPENAI_API_KEY";
    }
    const char* v = std::getenv(var.c_str());
    if (v != nullptr) key = v;
    if (key.empty() && (named || d.provider == ChatProvider::kAzureOpenAi)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "model '", d.name, "' needs an API key: environment variable ", var, " is not set"));
    }
  }
  for (char c : key) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::FailedPreconditionError(
          absl::StrCat("the API key of model '", d.name, "' contains control characters"));
    }
  }
  return key;
}

absl::StatusOr<std::unique_ptr<OpenAiChatModel>> OpenAiChatModel::Create(
    ModelDeployment deployment) {
  if (deployment.provider == ChatProvider::kLocal) {
    return absl::InvalidArgumentError("OpenAiChatModel needs azure-openai or openai");
  }
  if (absl::Status s = deployment.Validate(); !s.ok()) return s;
  auto key = ResolveChatApiKey(deployment);
  if (!key.ok()) return key.status();
  std::string source =
      !deployment.api_key.empty()        ? "api_key"
      : !deployment.api_key_file.empty() ? "api_key_file " + deployment.api_key_file
      : !deployment.api_key_env.empty()  ? "env " + deployment.api_key_env
      : deployment.provider == ChatProvider::kAzureOpenAi ? "env AZURE_OPENAI_API_KEY"
                                                          : "env OPENAI_API_KEY";
  deployment.api_key.clear();
  auto model =
      std::unique_ptr<OpenAiChatModel>(new OpenAiChatModel(std::move(deployment), *std::move(key)));
  model->key_source_ = std::move(source);
  return model;
}

OpenAiChatModel::OpenAiChatModel(ModelDeployment deployment, std::string api_key)
    : deployment_(std::move(deployment)),
      api_key_(std::move(api_key)),
      tokenizer_(Tokenizer::Get(deployment_.encoding)),
      http_(HttpClientOptions{
          .max_idle_connections = 4,
          .connect_timeout = std::chrono::milliseconds(deployment_.connect_timeout_ms)}),
      rng_(std::random_device{}()) {
  if (deployment_.provider == ChatProvider::kAzureOpenAi) {
    std::string endpoint = WithoutTrailingSlash(deployment_.endpoint);
    url_ = absl::StrCat(endpoint, "/openai/deployments/", deployment_.deployment,
                        "/chat/completions?api-version=", deployment_.api_version);
    headers_.emplace_back("api-key", api_key_);
  } else {
    url_ = WithoutTrailingSlash(deployment_.base_url) + "/chat/completions";
    if (!api_key_.empty()) headers_.emplace_back("Authorization", "Bearer " + api_key_);
  }
}

std::string OpenAiChatModel::RequestBody(const ChatRequest& request, bool stream) const {
  json body;
  json messages = json::array();
  for (const ChatMessage& m : request.messages) {
    messages.push_back({{"role", ChatRoleName(m.role)}, {"content", m.content}});
  }
  body["messages"] = std::move(messages);
  if (deployment_.provider == ChatProvider::kOpenAi) body["model"] = deployment_.model;
  body["stream"] = stream;
  if (stream && deployment_.stream_usage) body["stream_options"] = {{"include_usage", true}};
  if (request.temperature) body["temperature"] = *request.temperature;
  if (request.top_p) body["top_p"] = *request.top_p;
  if (request.max_output_tokens) body["max_tokens"] = *request.max_output_tokens;
  if (!request.stop.empty()) body["stop"] = request.stop;
  if (!request.user.empty()) body["user"] = request.user;
  return body.dump();
}

std::string OpenAiChatModel::Describe() const {
  if (deployment_.provider == ChatProvider::kAzureOpenAi) {
    return absl::StrCat("model '", deployment_.name, "' (azure-openai deployment '",
                        deployment_.deployment, "' at ", deployment_.endpoint, ")");
  }
  return absl::StrCat("model '", deployment_.name, "' (openai model '", deployment_.model, "' at ",
                      deployment_.base_url, ")");
}

std::string OpenAiChatModel::Scrub(std::string message) const {
  if (!api_key_.empty()) absl::StrReplaceAll({{api_key_, "[redacted]"}}, &message);
  return message;
}

bool OpenAiChatModel::Retryable(int s) const {
  return s == 408 || s == 409 || s == 429 || s >= 500;
}

absl::Status OpenAiChatModel::ErrorStatus(int s, const std::string& body,
                                          ChatResult* result) const {
  auto [code, message] = ParseError(body);
  // Azure repeats the status as the code ("429"); only a distinct code says more.
  const bool code_says_more = !code.empty() && code != std::to_string(s);
  std::string detail = absl::StrCat("HTTP ", s, code_says_more ? " " + code : "",
                                    message.empty() ? "" : ": " + message);
  if (s == 400 && code == "content_filter") {
    result->finish_reason = "content_filter";
    return absl::OkStatus();
  }
  if (s == 400 && code == "context_length_exceeded") {
    return absl::InvalidArgumentError(
        Scrub(absl::StrCat("context length exceeded for ", Describe(), ": ", detail)));
  }
  if (s == 401 || s == 403) {
    return absl::FailedPreconditionError(
        Scrub(absl::StrCat(Describe(), " rejected the API key from ", key_source_, " (", detail,
                           "); check the key and that it belongs to this resource")));
  }
  if (s == 404) {
    return absl::FailedPreconditionError(
        Scrub(absl::StrCat(Describe(), " was not found (", detail,
                           "); check the deployment or model name, the endpoint and api_version")));
  }
  if (s == 429) {
    return absl::ResourceExhaustedError(
        Scrub(absl::StrCat(Describe(), " is still rate-limited after ", deployment_.max_retries,
                           " retries: ", detail)));
  }
  if (Retryable(s)) {
    return absl::UnavailableError(Scrub(
        absl::StrCat(Describe(), " failed after ", deployment_.max_retries, " retries: ", detail)));
  }
  if (s == 400 || s == 413 || s == 422) {
    return absl::InvalidArgumentError(
        Scrub(absl::StrCat(Describe(), " rejected the request: ", detail)));
  }
  return absl::FailedPreconditionError(Scrub(absl::StrCat(Describe(), ": ", detail)));
}

std::chrono::milliseconds OpenAiChatModel::Backoff(size_t retry, const Attempt& attempt) {
  if (attempt.retry_after) {
    return std::min(*attempt.retry_after,
                    std::chrono::milliseconds(deployment_.max_retry_after_ms));
  }
  uint64_t cap = deployment_.initial_backoff_ms << std::min<size_t>(retry, 20);
  cap = std::min(cap, deployment_.max_backoff_ms);
  std::lock_guard<std::mutex> lock(rng_mu_);
  return std::chrono::milliseconds(std::uniform_int_distribution<uint64_t>(0, cap)(rng_));
}

bool OpenAiChatModel::SleepUnlessCancelled(std::chrono::milliseconds d,
                                           const std::atomic<bool>* cancelled) {
  const Clock::time_point until = Clock::now() + d;
  while (Clock::now() < until) {
    if (cancelled != nullptr && cancelled->load()) return false;
    std::this_thread::sleep_for(
        std::min<Clock::duration>(std::chrono::milliseconds(10), until - Clock::now()));
  }
  return cancelled == nullptr || !cancelled->load();
}

absl::Status OpenAiChatModel::Run(const ChatRequest& request, bool stream,
                                  const std::function<bool(const ChatDelta&)>& on_delta,
                                  ChatResult* result, const std::atomic<bool>* cancelled,
                                  std::string* body_out) {
  const Clock::time_point start = Clock::now();
  *result = ChatResult{};
  const std::string body = RequestBody(request, stream);
  std::string received;  // answer text delivered to the caller
  bool delivered = false;
  absl::Status last;

  HttpStreamOptions options;
  options.timeout = std::chrono::milliseconds(deployment_.timeout_ms);
  options.first_byte_timeout = std::chrono::milliseconds(deployment_.first_token_timeout_ms);
  options.cancelled = cancelled;

  auto finish = [&](absl::Status status, const Attempt* attempt) {
    result->latency = Since(start);
    result->delivered_bytes = received.size();
    if (attempt != nullptr && attempt->usage) {
      result->usage = *attempt->usage;
    } else if (delivered || (status.ok() && attempt != nullptr)) {
      // The stream omitted usage (or broke): count what was sent and received.
      result->usage.prompt_tokens = PromptTokensOf(tokenizer_, request);
      result->usage.completion_tokens = tokenizer_.Count(received);
      result->usage.total_tokens = result->usage.prompt_tokens + result->usage.completion_tokens;
      result->usage.counted_locally = true;
    }
    return status;
  };

  // Bounded: at most 1 + max_retries tries.
  for (size_t attempt_index = 0;; ++attempt_index) {
    result->attempts = static_cast<uint32_t>(attempt_index + 1);
    Attempt a;
    auto handle_event = [&](std::string_view event) {
      if (event == "[DONE]") {
        a.done = true;
        return true;
      }
      json j = json::parse(event, nullptr, false);
      if (j.is_discarded() || !j.is_object()) {
        a.malformed = true;
        return false;
      }
      if (j.contains("error")) {
        a.stream_error = ParseError(std::string(event)).second;
        return false;
      }
      if (j.contains("model") && j["model"].is_string() && !j["model"].get<std::string>().empty()) {
        result->model = j["model"].get<std::string>();
      }
      if (j.contains("usage") && j["usage"].is_object()) {
        const json& u = j["usage"];
        ChatUsage usage;
        usage.prompt_tokens = u.value("prompt_tokens", uint64_t{0});
        usage.completion_tokens = u.value("completion_tokens", uint64_t{0});
        usage.total_tokens = u.value("total_tokens", usage.prompt_tokens + usage.completion_tokens);
        a.usage = usage;
      }
      if (!j.contains("choices") || !j["choices"].is_array()) return true;
      for (const json& choice : j["choices"]) {
        if (choice.value("index", 0) != 0) continue;
        if (choice.contains("delta") && choice["delta"].is_object()) {
          const json& delta = choice["delta"];
          if (delta.contains("content") && delta["content"].is_string()) {
            std::string text = delta["content"].get<std::string>();
            if (!text.empty()) {
              if (!delivered) {
                delivered = true;
                result->time_to_first_token = Since(start);
              }
              received += text;
              if (!on_delta(ChatDelta{std::move(text)})) {
                a.stopped_by_caller = true;
                return false;
              }
            }
          }
        }
        if (choice.contains("finish_reason") && choice["finish_reason"].is_string()) {
          a.finish_reason = choice["finish_reason"].get<std::string>();
        }
      }
      return true;
    };

    HttpStreamCallbacks callbacks;
    callbacks.on_headers = [&](const HttpResponse& head) {
      a.http_status = head.status;
      a.retry_after = RetryAfter(head);
      return true;
    };
    callbacks.on_body = [&](std::string_view data) {
      if (a.http_status != 200 || !stream) {
        if (a.error_body.size() + data.size() > (stream ? kMaxErrorBody : (256u << 20))) {
          return false;
        }
        a.error_body.append(data);
        return true;
      }
      return a.sse.Feed(data, handle_event);
    };

    absl::Status s = http_.PostStream(url_, headers_, body, options, callbacks);

    if (a.stopped_by_caller || (cancelled != nullptr && cancelled->load())) {
      return finish(absl::CancelledError(absl::StrCat("cancelled by the caller after ",
                                                      received.size(), " bytes of answer")),
                    &a);
    }
    // A 200 stream that our event handler ended (an error event, a malformed event) or that
    // broke only after [DONE] is judged by its events, not by the transfer status.
    const bool judged_by_events =
        a.http_status == 200 && (s.ok() || a.done || a.malformed || !a.stream_error.empty());
    if (judged_by_events) {
      if (a.malformed) {
        return finish(
            absl::InternalError(Scrub(absl::StrCat(Describe(), " sent an event that is not JSON"))),
            &a);
      }
      if (!stream) {
        *body_out = std::move(a.error_body);
        return finish(absl::OkStatus(), nullptr);
      }
      if (a.stream_error.empty() && (a.done || !a.finish_reason.empty())) {
        result->finish_reason = a.finish_reason;
        return finish(absl::OkStatus(), &a);
      }
      s = absl::UnavailableError(Scrub(absl::StrCat(
          Describe(), a.stream_error.empty() ? ": the stream ended before [DONE]"
                                             : ": error in the stream: " + a.stream_error)));
    } else if (s.ok()) {
      if (!Retryable(a.http_status)) {
        return finish(ErrorStatus(a.http_status, a.error_body, result), nullptr);
      }
      s = ErrorStatus(a.http_status, a.error_body, result);
    } else if (s.code() == absl::StatusCode::kCancelled) {
      // The body outgrew its limit: not worth retrying.
      return finish(absl::InternalError(Scrub(absl::StrCat(Describe(), ": response too large"))),
                    nullptr);
    } else {
      s = absl::Status(s.code(), Scrub(absl::StrCat(Describe(), ": ", std::string(s.message()))));
    }

    // A failed try. Once text reached the caller, a retry would repeat or contradict it.
    if (delivered) {
      result->finish_reason = a.finish_reason;
      absl::StatusCode code = s.code() == absl::StatusCode::kDeadlineExceeded
                                  ? absl::StatusCode::kDeadlineExceeded
                                  : absl::StatusCode::kUnavailable;
      return finish(absl::Status(code, absl::StrCat("stream broke after ", received.size(),
                                                    " bytes of answer were delivered: ",
                                                    std::string(s.message()))),
                    &a);
    }
    last = s;
    if (attempt_index >= deployment_.max_retries) return finish(last, nullptr);
    std::chrono::milliseconds wait = Backoff(attempt_index, a);
    spdlog::warn(
        "chat {}: try {} failed ({}), retrying in {} ms", deployment_.name, attempt_index + 1,
        a.http_status != 0 && a.http_status != 200 ? "HTTP " + std::to_string(a.http_status)
                                                   : std::string(last.message()),
        wait.count());
    if (!SleepUnlessCancelled(wait, cancelled)) {
      return finish(absl::CancelledError("cancelled by the caller while waiting to retry"),
                    nullptr);
    }
  }
}

absl::Status OpenAiChatModel::Stream(const ChatRequest& request,
                                     const std::function<bool(const ChatDelta&)>& on_delta,
                                     ChatResult* result, const std::atomic<bool>* cancelled) {
  ChatResult local;
  if (result == nullptr) result = &local;
  *result = ChatResult{};
  if (absl::Status s = ValidateChatRequest(deployment_, request); !s.ok()) return s;
  return Run(request, /*stream=*/true, on_delta, result, cancelled, nullptr);
}

absl::StatusOr<ChatCompletion> OpenAiChatModel::Complete(const ChatRequest& request,
                                                         const std::atomic<bool>* cancelled) {
  if (absl::Status s = ValidateChatRequest(deployment_, request); !s.ok()) return s;
  ChatCompletion completion;
  std::string body;
  absl::Status s = Run(
      request, /*stream=*/false, [](const ChatDelta&) { return true; }, &completion.result,
      cancelled, &body);
  if (!s.ok()) return s;
  if (completion.result.finish_reason == "content_filter" && body.empty()) return completion;
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("choices") || !j["choices"].is_array() ||
      j["choices"].empty() || !j["choices"][0].is_object()) {
    return absl::InternalError(absl::StrCat(Describe(), ": malformed completion response"));
  }
  const json& choice = j["choices"][0];
  if (choice.contains("message") && choice["message"].is_object() &&
      choice["message"].contains("content") && choice["message"]["content"].is_string()) {
    completion.text = choice["message"]["content"].get<std::string>();
  }
  if (choice.contains("finish_reason") && choice["finish_reason"].is_string()) {
    completion.result.finish_reason = choice["finish_reason"].get<std::string>();
  }
  if (j.contains("model") && j["model"].is_string()) {
    completion.result.model = j["model"].get<std::string>();
  }
  ChatUsage& usage = completion.result.usage;
  if (j.contains("usage") && j["usage"].is_object()) {
    usage = ChatUsage{};
    usage.prompt_tokens = j["usage"].value("prompt_tokens", uint64_t{0});
    usage.completion_tokens = j["usage"].value("completion_tokens", uint64_t{0});
    usage.total_tokens =
        j["usage"].value("total_tokens", usage.prompt_tokens + usage.completion_tokens);
  } else {
    usage.prompt_tokens = PromptTokensOf(tokenizer_, request);
    usage.completion_tokens = tokenizer_.Count(completion.text);
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    usage.counted_locally = true;
  }
  completion.result.delivered_bytes = completion.text.size();
  completion.result.time_to_first_token = completion.result.latency;
  return completion;
}

}  // namespace ragd::models
