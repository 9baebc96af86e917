#include "models/openai_chat_model.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "models/sse_decoder.h"

namespace ragd::models {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

// Error bodies are small JSON documents; keep at most this much of one.
constexpr size_t kMaxErrorBody = 64 << 10;
// A whole JSON completion (non-streaming, or a stream request answered with JSON).
constexpr size_t kMaxJsonBody = 64 << 20;
// Pieces of outside data quoted in malformed-response messages.
constexpr size_t kMaxQuoted = 120;

std::chrono::microseconds Since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
}

std::string WithoutTrailingSlash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

// A short JSON rendering of an outside value for a message (never throws: invalid UTF-8 is
// replaced).
std::string Shown(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() <= kMaxQuoted) return s;
  return std::string(s, 0, Utf8SafePrefix(s, kMaxQuoted)) + "...";
}

std::string Shown(std::string_view raw) {
  if (raw.size() <= kMaxQuoted) return std::string(raw);
  return std::string(raw.substr(0, Utf8SafePrefix(raw, kMaxQuoted))) + "...";
}

// `parent["usage"]`: absent or null -> nullopt; otherwise an object whose prompt_tokens and
// completion_tokens (absent: 0) and total_tokens (absent: their sum) are unsigned integers.
// `error` gets what is wrong.
std::optional<ChatUsage> ParseUsage(const json& parent, std::string* error) {
  auto it = parent.find("usage");
  if (it == parent.end() || it->is_null()) return std::nullopt;
  if (!it->is_object()) {
    *error = "usage is " + Shown(*it) + ", not an object";
    return std::nullopt;
  }
  ChatUsage usage;
  auto count = [&](const char* name, uint64_t* out) {
    auto c = it->find(name);
    if (c == it->end()) return true;
    if (!c->is_number_unsigned()) {
      *error = absl::StrCat("usage.", name, " is ", Shown(*c), ", not a token count");
      return false;
    }
    *out = c->get<uint64_t>();
    return true;
  };
  if (!count("prompt_tokens", &usage.prompt_tokens) ||
      !count("completion_tokens", &usage.completion_tokens)) {
    return std::nullopt;
  }
  usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
  if (!count("total_tokens", &usage.total_tokens)) return std::nullopt;
  return usage;
}

// A string field that may be absent or null; anything else is an error.
bool OptionalString(const json& parent, const char* name, const std::string& where,
                    std::string* out, std::string* error) {
  auto it = parent.find(name);
  if (it == parent.end() || it->is_null()) return true;
  if (!it->is_string()) {
    *error = absl::StrCat(where, name, " is ", Shown(*it), ", not a string");
    return false;
  }
  *out = it->get<std::string>();
  return true;
}

// What a chat.completion (a non-streaming answer) says.
struct ParsedCompletion {
  std::string text;
  std::string finish_reason;
  std::string model;
  std::optional<ChatUsage> usage;
};

// Reads a chat.completion; an error names what is malformed.
absl::StatusOr<ParsedCompletion> ParseCompletion(std::string_view body) {
  ParsedCompletion out;
  absl::Status s = GuardUpstream([&]() -> absl::Status {
    json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      return absl::InternalError(
          absl::StrCat("the answer is not JSON (", body.size(), " bytes): ", Shown(body)));
    }
    if (!j.is_object()) return absl::InternalError("the answer is " + Shown(j) + ", not an object");
    std::string error;
    auto choices = j.find("choices");
    if (choices == j.end() || !choices->is_array() || choices->empty()) {
      return absl::InternalError("the answer has no choices");
    }
    const json& choice = (*choices)[0];
    if (!choice.is_object()) {
      return absl::InternalError("choices[0] is " + Shown(choice) + ", not an object");
    }
    auto message = choice.find("message");
    if (message != choice.end() && !message->is_null()) {
      if (!message->is_object()) {
        return absl::InternalError("choices[0].message is " + Shown(*message) + ", not an object");
      }
      if (!OptionalString(*message, "content", "choices[0].message.", &out.text, &error)) {
        return absl::InternalError(error);
      }
    }
    if (!OptionalString(choice, "finish_reason", "choices[0].", &out.finish_reason, &error)) {
      return absl::InternalError(error);
    }
    if (auto m = j.find("model"); m != j.end() && m->is_string()) out.model = m->get<std::string>();
    out.usage = ParseUsage(j, &error);
    if (!error.empty()) return absl::InternalError(error);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

bool IsJsonContentType(const HttpResponse& head) {
  auto type = head.Header("content-type");
  return type && absl::StartsWithIgnoreCase(*type, "application/json");
}

}  // namespace

// What one try saw.
struct OpenAiChatModel::Attempt {
  int http_status = 0;
  std::optional<std::chrono::milliseconds> retry_after;
  std::string error_body;    // non-200 body, or the raw JSON of a 200 JSON answer
  bool json_answer = false;  // a 200 with a JSON body (Complete, or a stream answered so)
  SseDecoder sse;
  bool first_data = false;         // a content token, or a response that is not a 200 stream
  bool done = false;               // [DONE] seen
  bool stopped_by_caller = false;  // on_delta returned false
  absl::Status malformed;          // why the response cannot be read (INTERNAL), or OK
  bool stream_error = false;       // an {"error": ...} event
  std::string stream_error_message;
  std::string finish_reason;
  std::optional<ChatUsage> usage;
};

absl::StatusOr<std::unique_ptr<OpenAiChatModel>> OpenAiChatModel::Create(
    ModelDeployment deployment) {
  if (deployment.provider == ChatProvider::kLocal) {
    return absl::InvalidArgumentError("OpenAiChatModel needs azure-openai or openai");
  }
  if (absl::Status s = deployment.Validate(); !s.ok()) return s;
  const bool azure = deployment.provider == ChatProvider::kAzureOpenAi;
  ApiKeySources sources{.api_key = deployment.api_key,
                        .api_key_env = deployment.api_key_env,
                        .api_key_file = deployment.api_key_file,
                        .default_env = azure ? "AZURE_OPENAI_API_KEY" : "OPENAI_API_KEY",
                        .required = azure,
                        .owner = absl::StrCat("model '", deployment.name, "'"),
                        .secrets = deployment.secrets.get()};
  auto key = ResolveApiKey(sources);
  if (!key.ok()) return key.status();
  deployment.api_key.clear();
  return std::unique_ptr<OpenAiChatModel>(
      new OpenAiChatModel(std::move(deployment), std::move(key->key), std::move(key->source)));
}

OpenAiChatModel::OpenAiChatModel(ModelDeployment deployment, std::string api_key,
                                 std::string key_source)
    : deployment_(std::move(deployment)),
      api_key_(std::move(api_key)),
      key_source_(std::move(key_source)),
      tokenizer_(Tokenizer::Get(deployment_.encoding)),
      http_(HttpClientOptions{
          .max_idle_connections = 4,
          .connect_timeout = std::chrono::milliseconds(deployment_.connect_timeout_ms)}),
      backoff_(RetryPolicy{.max_retries = deployment_.max_retries,
                           .initial_backoff_ms = deployment_.initial_backoff_ms,
                           .max_backoff_ms = deployment_.max_backoff_ms,
                           .max_retry_after_ms = deployment_.max_retry_after_ms}) {
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
  return ScrubSecret(std::move(message), api_key_);
}

absl::Status OpenAiChatModel::Malformed(std::string_view detail) const {
  return absl::InternalError(
      Scrub(absl::StrCat(Describe(), ": malformed upstream response: ", std::string(detail))));
}

absl::Status OpenAiChatModel::ErrorStatus(int s, const std::string& body,
                                          ChatResult* result) const {
  const UpstreamError error = ParseErrorBody(body);
  const std::string& code = error.code;
  // Azure repeats the status as the code ("429"); only a distinct code says more.
  const bool code_says_more = !code.empty() && code != std::to_string(s);
  std::string detail = absl::StrCat("HTTP ", s, code_says_more ? " " + code : "",
                                    error.message.empty() ? "" : ": " + error.message);
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
  if (IsRetryableHttpStatus(s)) {
    return absl::UnavailableError(Scrub(
        absl::StrCat(Describe(), " failed after ", deployment_.max_retries, " retries: ", detail)));
  }
  if (s == 400 || s == 413 || s == 422) {
    return absl::InvalidArgumentError(
        Scrub(absl::StrCat(Describe(), " rejected the request: ", detail)));
  }
  return absl::FailedPreconditionError(Scrub(absl::StrCat(Describe(), ": ", detail)));
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
  // Hands one piece of answer text to the caller; false when the caller wants no more.
  auto deliver = [&](std::string text, Attempt& a) {
    if (text.empty()) return true;
    a.first_data = true;
    if (!delivered) {
      delivered = true;
      result->time_to_first_token = Since(start);
    }
    received += text;
    if (!on_delta(ChatDelta{std::move(text)})) {
      a.stopped_by_caller = true;
      return false;
    }
    return true;
  };

  // Bounded: at most 1 + max_retries tries.
  for (size_t attempt_index = 0;; ++attempt_index) {
    result->attempts = static_cast<uint32_t>(attempt_index + 1);
    Attempt a;
    const Clock::time_point attempt_start = Clock::now();
    options.first_data = &a.first_data;
    // One chat.completion.chunk. Returns OK to go on; an error (with a.malformed or
    // a.stream_error set) ends the stream.
    auto handle_chunk = [&](const json& j) -> absl::Status {
      std::string error;
      if (!j.is_object()) {
        a.malformed = Malformed("an event is " + Shown(j) + ", not an object");
        return a.malformed;
      }
      if (auto e = j.find("error"); e != j.end() && !e->is_null()) {
        UpstreamError upstream =
            ParseErrorBody(j.dump(-1, ' ', false, json::error_handler_t::replace));
        a.stream_error = true;
        a.stream_error_message = !upstream.message.empty() ? upstream.message
                                 : !upstream.code.empty()  ? upstream.code
                                                           : Shown(*e);
        return absl::UnavailableError("error event");
      }
      if (auto m = j.find("model"); m != j.end() && m->is_string() && !m->empty()) {
        result->model = m->get<std::string>();
      }
      if (auto usage = ParseUsage(j, &error)) a.usage = usage;
      if (!error.empty()) {
        a.malformed = Malformed(error);
        return a.malformed;
      }
      auto choices = j.find("choices");
      if (choices == j.end() || choices->is_null()) return absl::OkStatus();
      if (!choices->is_array()) {
        a.malformed = Malformed("choices is " + Shown(*choices) + ", not an array");
        return a.malformed;
      }
      for (size_t i = 0; i < choices->size(); ++i) {
        const json& choice = (*choices)[i];
        const std::string where = absl::StrCat("choices[", i, "]");
        if (!choice.is_object()) {
          a.malformed = Malformed(where + " is " + Shown(choice) + ", not an object");
          return a.malformed;
        }
        if (auto index = choice.find("index"); index != choice.end()) {
          if (!index->is_number_unsigned()) {
            a.malformed = Malformed(where + ".index is " + Shown(*index) + ", not an index");
            return a.malformed;
          }
          if (index->get<uint64_t>() != 0) continue;  // we ask for one choice (n = 1)
        }
        std::string text;
        if (auto delta = choice.find("delta"); delta != choice.end() && !delta->is_null()) {
          if (!delta->is_object()) {
            a.malformed = Malformed(where + ".delta is " + Shown(*delta) + ", not an object");
            return a.malformed;
          }
          if (!OptionalString(*delta, "content", where + ".delta.", &text, &error)) {
            a.malformed = Malformed(error);
            return a.malformed;
          }
        }
        std::string finish_reason;
        if (!OptionalString(choice, "finish_reason", where + ".", &finish_reason, &error)) {
          a.malformed = Malformed(error);
          return a.malformed;
        }
        if (!deliver(std::move(text), a)) return absl::CancelledError("stopped by the caller");
        if (!finish_reason.empty()) a.finish_reason = std::move(finish_reason);
      }
      return absl::OkStatus();
    };
    auto handle_event = [&](std::string_view event) {
      if (event == "[DONE]") {
        a.done = true;
        return true;
      }
      absl::Status s = GuardUpstream([&]() -> absl::Status {
        json j = json::parse(event.begin(), event.end(), nullptr, /*allow_exceptions=*/false);
        if (j.is_discarded()) {
          a.malformed = Malformed("an event is not JSON: " + Shown(event));
          return a.malformed;
        }
        return handle_chunk(j);
      });
      if (!s.ok() && a.malformed.ok() && !a.stream_error && !a.stopped_by_caller) {
        // An exception the guard caught (bad_alloc, or a check this code forgot).
        a.malformed =
            s.code() == absl::StatusCode::kInternal
                ? Malformed(std::string(s.message()))
                : absl::Status(s.code(),
                               Scrub(absl::StrCat(Describe(), ": ", std::string(s.message()))));
      }
      return s.ok();
    };

    HttpStreamCallbacks callbacks;
    callbacks.on_headers = [&](const HttpResponse& head) {
      a.http_status = head.status;
      a.retry_after = ParseRetryAfter(head);
      // Only a 200 event stream has tokens to wait for; anything else is read whole.
      a.json_answer = head.status == 200 && (!stream || IsJsonContentType(head));
      if (head.status != 200 || a.json_answer) a.first_data = true;
      return true;
    };
    callbacks.on_body = [&](std::string_view data) {
      if (a.http_status != 200 || a.json_answer) {
        const size_t limit = a.json_answer ? kMaxJsonBody : kMaxErrorBody;
        if (a.error_body.size() + data.size() > limit) return false;
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
    if (!a.malformed.ok()) return finish(a.malformed, &a);
    if (a.http_status == 200 && a.json_answer && s.ok()) {
      if (!stream) {
        *body_out = std::move(a.error_body);
        return finish(absl::OkStatus(), nullptr);
      }
      // A stream request answered with a whole chat.completion: one delta.
      absl::StatusOr<ParsedCompletion> parsed = ParseCompletion(a.error_body);
      if (!parsed.ok()) {
        return finish(parsed.status().code() == absl::StatusCode::kInternal
                          ? Malformed(std::string(parsed.status().message()))
                          : parsed.status(),
                      nullptr);
      }
      if (!parsed->model.empty()) result->model = parsed->model;
      a.usage = parsed->usage;
      if (!deliver(std::move(parsed->text), a)) {
        return finish(absl::CancelledError(absl::StrCat("cancelled by the caller after ",
                                                        received.size(), " bytes of answer")),
                      &a);
      }
      result->finish_reason = parsed->finish_reason;
      return finish(absl::OkStatus(), &a);
    }
    // A 200 stream that our event handler ended (an error event) or that broke only after
    // [DONE] is judged by its events, not by the transfer status.
    const bool judged_by_events =
        a.http_status == 200 && !a.json_answer && (s.ok() || a.done || a.stream_error);
    if (judged_by_events) {
      if (!a.stream_error && (a.done || !a.finish_reason.empty())) {
        result->finish_reason = a.finish_reason;
        return finish(absl::OkStatus(), &a);
      }
      s = absl::UnavailableError(Scrub(absl::StrCat(
          Describe(), a.stream_error ? ": error in the stream: " + a.stream_error_message
                                     : ": the stream ended before [DONE]")));
    } else if (s.ok()) {
      if (!IsRetryableHttpStatus(a.http_status)) {
        return finish(ErrorStatus(a.http_status, a.error_body, result), nullptr);
      }
      s = ErrorStatus(a.http_status, a.error_body, result);
    } else if (s.code() == absl::StatusCode::kCancelled) {
      // Only our body callback aborts a transfer now: the body outgrew its limit.
      return finish(absl::InternalError(Scrub(absl::StrCat(Describe(), ": response too large"))),
                    nullptr);
    } else if (s.code() == absl::StatusCode::kDeadlineExceeded && !a.first_data &&
               deployment_.first_token_timeout_ms > 0 &&
               Clock::now() - attempt_start >=
                   std::chrono::milliseconds(deployment_.first_token_timeout_ms)) {
      s = absl::DeadlineExceededError(Scrub(
          absl::StrCat(Describe(), ": no first token within first_token_timeout_ms=",
                       deployment_.first_token_timeout_ms, " (", std::string(s.message()), ")")));
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
    std::chrono::milliseconds wait = backoff_.Delay(attempt_index, a.retry_after);
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
  absl::StatusOr<ParsedCompletion> parsed = ParseCompletion(body);
  if (!parsed.ok()) {
    if (parsed.status().code() != absl::StatusCode::kInternal) return parsed.status();
    return Malformed(std::string(parsed.status().message()));
  }
  completion.text = std::move(parsed->text);
  completion.result.finish_reason = std::move(parsed->finish_reason);
  if (!parsed->model.empty()) completion.result.model = std::move(parsed->model);
  ChatUsage& usage = completion.result.usage;
  if (parsed->usage) {
    usage = *parsed->usage;
  } else {
    usage = ChatUsage{};
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
