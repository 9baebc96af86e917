#include "tests/testing/fake_chat_server.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "tests/testing/fake_token_counts.h"

namespace ragd::testing {
namespace {

using nlohmann::json;

constexpr int64_t kCreated = 1732000000;

json FilterResults() {
  json safe = {{"filtered", false}, {"severity", "safe"}};
  return {{"hate", safe}, {"self_harm", safe}, {"sexual", safe}, {"violence", safe}};
}

std::string Event(const json& j) { return absl::StrCat("data: ", j.dump(), "\n\n"); }

// `j` dumped with its "usage" value replaced by the raw JSON text `usage` (which a JSON library
// would refuse to build when it is malformed on purpose).
std::string DumpWithRawUsage(json j, std::string_view usage) {
  j.erase("usage");
  std::string out = j.dump();
  out.pop_back();  // the closing brace
  absl::StrAppend(&out, R"(,"usage":)", std::string(usage), "}");
  return out;
}

json Chunk(const std::string& model, json choices, json usage = nullptr) {
  return {{"choices", std::move(choices)},
          {"created", kCreated},
          {"id", "chatcmpl-fake"},
          {"model", model},
          {"object", "chat.completion.chunk"},
          {"system_fingerprint", "fp_fake"},
          {"usage", std::move(usage)}};
}

json Choice(json delta, json finish_reason, bool azure) {
  json c = {{"delta", std::move(delta)},
            {"finish_reason", std::move(finish_reason)},
            {"index", 0},
            {"logprobs", nullptr}};
  if (azure) c["content_filter_results"] = FilterResults();
  return c;
}

std::string ContextLengthBody(uint64_t tokens) {
  return json{{"error",
               {{"message", absl::StrCat("This model's maximum context length is 8192 tokens. "
                                         "However, your messages resulted in ",
                                         tokens,
                                         " tokens. Please reduce the length of the "
                                         "messages.")},
                {"type", "invalid_request_error"},
                {"param", "messages"},
                {"code", "context_length_exceeded"}}}}
      .dump();
}

std::string ContentFilterBody() {
  json filtered = {{"filtered", true}, {"severity", "high"}};
  json safe = {{"filtered", false}, {"severity", "safe"}};
  return json{
      {"error",
       {{"message",
         "The response was filtered due to the prompt triggering Azure OpenAI's content "
         "management policy. Please modify your prompt and retry."},
        {"type", nullptr},
        {"param", "prompt"},
        {"code", "content_filter"},
        {"status", 400},
        {"innererror",
         {{"code", "ResponsibleAIPolicyViolation"},
          {"content_filter_result",
           {{"hate", safe}, {"self_harm", safe}, {"sexual", safe}, {"violence", filtered}}}}}}}}
      .dump();
}

}  // namespace

ChatFault ChatFault::Http(int status, std::vector<std::pair<std::string, std::string>> headers) {
  ChatFault f;
  f.kind = Kind::kHttpError;
  f.status = status;
  f.headers = std::move(headers);
  return f;
}

ChatFault ChatFault::TooManyRequests(std::chrono::milliseconds retry_after) {
  return Http(429, {{"Retry-After", std::to_string((retry_after.count() + 999) / 1000)},
                    {"retry-after-ms", std::to_string(retry_after.count())}});
}

ChatFault ChatFault::ContextLengthExceeded() {
  ChatFault f;
  f.kind = Kind::kContextLengthExceeded;
  return f;
}

ChatFault ChatFault::ContentFilterPrompt() {
  ChatFault f;
  f.kind = Kind::kContentFilterPrompt;
  return f;
}

ChatFault ChatFault::ContentFilterCompletion(size_t deltas) {
  ChatFault f;
  f.kind = Kind::kContentFilterCompletion;
  f.deltas = deltas;
  return f;
}

ChatFault ChatFault::CutAfter(size_t deltas) {
  ChatFault f;
  f.kind = Kind::kCutAfter;
  f.deltas = deltas;
  return f;
}

ChatFault ChatFault::Delay(std::chrono::milliseconds delay) {
  ChatFault f;
  f.kind = Kind::kDelay;
  f.delay = delay;
  return f;
}

ChatFault ChatFault::Endless(std::chrono::milliseconds every) {
  ChatFault f;
  f.kind = Kind::kEndless;
  f.delay = every;
  return f;
}

ChatFault ChatFault::NoUsage() {
  ChatFault f;
  f.kind = Kind::kNoUsage;
  return f;
}

ChatFault ChatFault::ErrorEvent(size_t deltas) {
  ChatFault f;
  f.kind = Kind::kErrorEvent;
  f.deltas = deltas;
  return f;
}

ChatFault ChatFault::RawErrorEvent(size_t deltas, std::string error_json) {
  ChatFault f = ErrorEvent(deltas);
  f.body = std::move(error_json);
  return f;
}

ChatFault ChatFault::RawEvent(size_t deltas, std::string data) {
  ChatFault f;
  f.kind = Kind::kRawEvent;
  f.deltas = deltas;
  f.body = std::move(data);
  return f;
}

ChatFault ChatFault::RawUsage(std::string usage_json) {
  ChatFault f;
  f.kind = Kind::kRawUsage;
  f.body = std::move(usage_json);
  return f;
}

ChatFault ChatFault::Stall(std::chrono::milliseconds stall) {
  ChatFault f;
  f.kind = Kind::kStall;
  f.delay = stall;
  return f;
}

ChatFault ChatFault::JsonCompletion() {
  ChatFault f;
  f.kind = Kind::kJsonCompletion;
  return f;
}

std::string FakeChatCompletions::ChunkWith(std::string_view choices, std::string_view usage) {
  return absl::StrCat(R"({"choices":)", std::string(choices), R"(,"created":)", kCreated,
                      R"(,"id":"chatcmpl-fake","model":"gpt-4o-2024-08-06",)",
                      R"("object":"chat.completion.chunk","system_fingerprint":"fp_fake",)",
                      R"("usage":)", std::string(usage), "}");
}

FakeChatCompletions::FakeChatCompletions(FakeOpenAiServer* server, FakeChatOptions options)
    : server_(server), options_(std::move(options)) {
  server_->Route(R"(/openai/deployments/([^/]+)/chat/completions)",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   Handle(req, res, /*azure=*/true);
                 });
  server_->Route(R"(/v1/chat/completions)",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   Handle(req, res, /*azure=*/false);
                 });
}

FakeChatCompletions::~FakeChatCompletions() { server_->Stop(); }

void FakeChatCompletions::Enqueue(ChatFault fault) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back(std::move(fault));
}

FakeChatCounters FakeChatCompletions::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

std::optional<std::chrono::steady_clock::time_point>
FakeChatCompletions::last_first_content_sent() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_first_content_sent_;
}

std::string FakeChatCompletions::answer() const {
  std::string out;
  for (const std::string& d : options_.deltas) out += d;
  return out;
}

void FakeChatCompletions::Handle(const httplib::Request& req, httplib::Response& res, bool azure) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counters_.requests;
    counters_.bodies.push_back(req.body);
    counters_.remote_ports.push_back(req.remote_port);
    counters_.arrivals.push_back(std::chrono::steady_clock::now());
  }
  if (azure) {
    const auto& versions = server_->options().api_versions;
    const auto& deployments = server_->options().deployments;
    std::string deployment = req.matches[1];
    if (!req.has_param("api-version") ||
        std::find(versions.begin(), versions.end(), req.get_param_value("api-version")) ==
            versions.end()) {
      FakeOpenAiServer::SetError(res, 404, "404", "Resource not found");
      return;
    }
    if (std::find(deployments.begin(), deployments.end(), deployment) == deployments.end()) {
      FakeOpenAiServer::SetError(
          res, 404, "DeploymentNotFound",
          "The API deployment for this resource does not exist. If you created the deployment "
          "within the last 5 minutes, please wait a moment and try again.");
      return;
    }
  }
  if (!server_->CheckAuth(req, res, azure)) return;
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("messages") ||
      !body["messages"].is_array() || body["messages"].empty()) {
    FakeOpenAiServer::SetError(res, 400, "invalid_request_error",
                               "'messages' is a required property");
    return;
  }
  std::vector<std::pair<std::string, std::string>> messages;  // (role, content), as sent
  for (const json& m : body["messages"]) {
    if (!m.is_object() || !m.contains("role") || !m.contains("content") ||
        !m["content"].is_string()) {
      FakeOpenAiServer::SetError(res, 400, "invalid_request_error", "invalid message");
      return;
    }
    messages.emplace_back(m["role"].get<std::string>(), m["content"].get<std::string>());
  }
  if (!azure && (!body.contains("model") || !body["model"].is_string())) {
    FakeOpenAiServer::SetError(res, 400, "invalid_request_error", "you must provide a model");
    return;
  }
  const bool stream = body.value("stream", false);
  const bool include_usage = body.contains("stream_options") &&
                             body["stream_options"].is_object() &&
                             body["stream_options"].value("include_usage", false);

  ChatFault fault;
  fault.kind = ChatFault::Kind::kNoUsage;  // a marker for "no fault" below
  bool has_fault = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!faults_.empty()) {
      fault = std::move(faults_.front());
      faults_.pop_front();
      has_fault = true;
    }
  }
  using Kind = ChatFault::Kind;
  // Usage as the service counts it, with js-tiktoken's counts (fake_token_counts.h), never
  // ragd's: the encoding of the deployment's (Azure) or the body's (OpenAI) model.
  const FakeEncoding encoding = FakeEncodingForModel(
      azure ? std::string(req.matches[1]) : body["model"].get<std::string>());
  bool prompt_exact = true;
  const uint64_t prompt_tokens = FakeChatPromptTokens(encoding, messages, &prompt_exact);
  if (has_fault) {
    switch (fault.kind) {
      case Kind::kHttpError: {
        for (const auto& [name, value] : fault.headers) res.set_header(name, value);
        if (!fault.body.empty()) {
          res.status = fault.status;
          res.set_content(fault.body, "application/json");
        } else {
          FakeOpenAiServer::SetError(res, fault.status, std::to_string(fault.status),
                                     absl::StrCat("HTTP ", fault.status, " from the fake"));
        }
        return;
      }
      case Kind::kContextLengthExceeded:
        res.status = 400;
        res.set_content(ContextLengthBody(prompt_tokens), "application/json");
        return;
      case Kind::kContentFilterPrompt:
        res.status = 400;
        res.set_content(ContentFilterBody(), "application/json");
        return;
      case Kind::kDelay:
        if (!server_->SleepUnlessStopped(fault.delay)) return;
        break;
      default:
        break;
    }
  }

  std::vector<std::string> deltas = options_.deltas;
  std::string finish = "stop";
  if (has_fault && fault.kind == Kind::kContentFilterCompletion) {
    deltas.resize(std::min(deltas.size(), fault.deltas));
    finish = "content_filter";
  }
  std::string text;
  for (const std::string& d : deltas) text += d;
  bool completion_exact = true;
  const uint64_t completion_tokens = FakeTokenCount(encoding, text, &completion_exact);
  if (!prompt_exact || !completion_exact) {
    std::lock_guard<std::mutex> lock(mu_);
    ++counters_.estimated_usage;
  }
  json usage = {{"completion_tokens", completion_tokens},
                {"prompt_tokens", prompt_tokens},
                {"total_tokens", prompt_tokens + completion_tokens}};

  const bool raw_usage = has_fault && fault.kind == Kind::kRawUsage;
  if (!stream || (has_fault && fault.kind == Kind::kJsonCompletion)) {
    json message = {{"role", "assistant"}, {"content", text}};
    json choice = {
        {"finish_reason", finish}, {"index", 0}, {"message", message}, {"logprobs", nullptr}};
    if (azure) choice["content_filter_results"] = FilterResults();
    json out = {
        {"choices", json::array({choice})}, {"created", kCreated},         {"id", "chatcmpl-fake"},
        {"model", options_.model},          {"object", "chat.completion"}, {"usage", usage}};
    res.status = 200;
    res.set_content(raw_usage ? DumpWithRawUsage(out, fault.body) : out.dump(), "application/json");
    return;
  }

  const std::string model = options_.model;
  const std::chrono::milliseconds gap = options_.event_gap;
  const bool send_usage =
      raw_usage || (include_usage && !(has_fault && fault.kind == Kind::kNoUsage));
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider("text/event-stream", [this, azure, model, gap, deltas, finish,
                                                         usage, send_usage, raw_usage, has_fault,
                                                         fault](size_t, httplib::DataSink& sink) {
    auto send_text = [&](std::string_view data, bool first_content = false) {
      if (gap.count() > 0 && !server_->SleepUnlessStopped(gap)) return false;
      std::string e = absl::StrCat("data: ", std::string(data), "\n\n");
      if (first_content) {
        // Stamped before the write: a reader in this process may see the bytes before
        // write() returns.
        std::lock_guard<std::mutex> lock(mu_);
        last_first_content_sent_ = std::chrono::steady_clock::now();
      }
      return sink.write(e.data(), e.size());
    };
    auto send = [&](const json& chunk, bool first_content = false) {
      return send_text(chunk.dump(), first_content);
    };
    auto gone = [&] {
      std::lock_guard<std::mutex> lock(mu_);
      ++counters_.client_disconnects;
      return false;
    };
    if (azure) {
      json first = {
          {"choices", json::array()},
          {"created", 0},
          {"id", ""},
          {"model", ""},
          {"object", ""},
          {"prompt_filter_results",
           json::array({{{"prompt_index", 0}, {"content_filter_results", FilterResults()}}})}};
      if (!send(first)) return gone();
    }
    if (!send(Chunk(model, json::array({Choice({{"role", "assistant"}, {"content", ""}}, nullptr,
                                               azure)})))) {
      return gone();
    }
    if (has_fault && fault.kind == ChatFault::Kind::kStall &&
        !server_->SleepUnlessStopped(fault.delay)) {
      return false;
    }
    if (has_fault && fault.kind == ChatFault::Kind::kEndless) {
      // Bounded: at most 30 s of deltas, then the stream is cut.
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (std::chrono::steady_clock::now() < until) {
        if (!send(Chunk(model, json::array({Choice({{"content", "more "}}, nullptr, azure)})))) {
          return gone();
        }
        if (!server_->SleepUnlessStopped(fault.delay)) return false;
      }
      return false;
    }
    for (size_t i = 0; i < deltas.size(); ++i) {
      if (has_fault && fault.kind == ChatFault::Kind::kCutAfter && i == fault.deltas) {
        return false;  // drops the connection without the terminating chunk
      }
      if (has_fault && fault.kind == ChatFault::Kind::kErrorEvent && i == fault.deltas) {
        json error = {{"error",
                       {{"code", "server_error"},
                        {"message", "The server had an error processing your request."}}}};
        const bool sent = fault.body.empty()
                              ? send(error)
                              : send_text(absl::StrCat(R"({"error":)", fault.body, "}"));
        if (!sent) return gone();
        sink.done();  // a well-formed end of the HTTP body, without [DONE]
        return true;
      }
      if (has_fault && fault.kind == ChatFault::Kind::kRawEvent && i == fault.deltas &&
          !send_text(fault.body)) {
        return gone();
      }
      if (!send(Chunk(model, json::array({Choice({{"content", deltas[i]}}, nullptr, azure)})),
                i == 0)) {
        return gone();
      }
    }
    if (has_fault && fault.kind == ChatFault::Kind::kRawEvent && fault.deltas >= deltas.size() &&
        !send_text(fault.body)) {
      return gone();
    }
    if (!send(Chunk(model, json::array({Choice(json::object(), finish, azure)})))) {
      return gone();
    }
    if (send_usage) {
      json chunk = Chunk(model, json::array(), usage);
      if (!(raw_usage ? send_text(DumpWithRawUsage(chunk, fault.body)) : send(chunk))) {
        return gone();
      }
    }
    std::string done = "data: [DONE]\n\n";
    if (!sink.write(done.data(), done.size())) return gone();
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++counters_.completed_streams;
    }
    sink.done();
    return true;
  });
}

}  // namespace ragd::testing
