#include "services/http/http_server.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <random>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/utf8.h"
#include "models/tokenizer.h"
#include "services/http/chat_call_internal.h"
#include "services/http/openai_wire_internal.h"
#include "services/http/peer_watch_internal.h"
#include "services/http/playground_internal.h"
#include "services/http/routes_internal.h"

namespace ragd::services {

using http_internal::ChatCall;
using http_internal::Json;

// What the route handlers share; lives as long as the server.
struct HttpServer::State {
  HttpFrontResources resources;
  std::atomic<bool> stopping{false};
  size_t max_body_bytes = 0;  // HttpFrontOptions::max_body_bytes, named in 413 errors
};

namespace {

// How often a streaming writer with nothing to write checks whether its client is still there.
constexpr std::chrono::milliseconds kPollInterval{50};

// The record of the request this thread serves: cpp-httplib runs the pre-routing handler, the
// route, a streamed response's content provider and the logger of one request on one thread.
struct CurrentCall {
  HttpCallRecord record;
  std::chrono::steady_clock::time_point start;
};
thread_local CurrentCall current_call;

}  // namespace

namespace http_internal {

void SendError(httplib::Response& res, const absl::Status& status) {
  current_call.record.code = status.code();
  res.status = HttpStatusOf(status.code());
  if (res.status == 429 || res.status == 503) res.set_header("Retry-After", "1");
  res.set_content(http_internal::ErrorBody(status), "application/json");
}

void SendJson(httplib::Response& res, const Json& json) {
  res.status = 200;
  res.set_content(http_internal::Dump(json), "application/json");
}

namespace {
// The request's key headers in the shape the Authorizer reads (gRPC metadata: lower-case
// names). The strings live in `storage`.
Authorizer::Metadata MetadataOf(const httplib::Request& req,
                                std::vector<std::pair<std::string, std::string>>* storage) {
  for (const auto& [name, value] : req.headers) {
    std::string lower = absl::AsciiStrToLower(name);
    if (lower == "authorization" || lower == "api-key") storage->emplace_back(lower, value);
  }
  Authorizer::Metadata metadata;
  for (const auto& [name, value] : *storage) {
    metadata.emplace(grpc::string_ref(name), grpc::string_ref(value));
  }
  return metadata;
}
}  // namespace

absl::Status Admit(const HttpFrontResources& r, const httplib::Request& req, Method method,
                   std::string_view collection, std::string_view collection_field) {
  const MethodSpec& spec = SpecOf(method);
  if (r.authorizer != nullptr) {
    std::vector<std::pair<std::string, std::string>> storage;
    RETURN_IF_ERROR(r.authorizer->Check(MetadataOf(req, &storage), spec, collection,
                                        /*consume=*/true));
  }
  if (!collection.empty()) {
    return ValidateCollectionName(collection_field, collection);
  }
  return absl::OkStatus();
}

absl::Status InScope(const HttpFrontResources& r, const httplib::Request& req, Method method,
                     std::string_view collection) {
  if (r.authorizer == nullptr) return absl::OkStatus();
  std::vector<std::pair<std::string, std::string>> storage;
  return r.authorizer->Check(MetadataOf(req, &storage), SpecOf(method), collection,
                             /*consume=*/false);
}

}  // namespace http_internal

namespace {

using http_internal::Admit;
using http_internal::SendError;
using http_internal::SendJson;


// A finished model run of the current request.
void RecordModelRun(const HttpFrontResources& r, ChatCall& call, const models::ChatResult& result) {
  HttpCallRecord& rec = current_call.record;
  rec.collection = call.request().data_source ? call.request().data_source->collection : "";
  if (!call.model_ran()) return;
  rec.ran_model = true;
  rec.model = call.request().model;
  rec.usage = result.usage;
  if (absl::StatusOr<models::ChatModel*> m = r.answers.models->Get(rec.model); m.ok()) {
    rec.cost_usd = models::EstimateCostUsd((*m)->deployment(), result.usage);
  }
}

std::string NewCompletionId() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "chatcmpl-";
  for (int i = 0; i < 24; ++i) id.push_back(kHex[rng() % 16]);
  return id;
}

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Json UsageOf(const models::ChatUsage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.total_tokens}};
}

std::string FinishReasonOf(const models::ChatResult& r) {
  return r.finish_reason.empty() ? "stop" : r.finish_reason;
}

// One `chat.completion.chunk` with `choices` (an array, or empty) and `usage` (null unless the
// final usage chunk).
std::string ChunkEvent(const std::string& id, int64_t created, const std::string& model,
                       Json choices, Json usage, bool with_usage_field) {
  Json chunk = {
      {"id", id},       {"object", "chat.completion.chunk"}, {"created", created},
      {"model", model}, {"system_fingerprint", nullptr},     {"choices", std::move(choices)}};
  if (with_usage_field) chunk["usage"] = std::move(usage);
  return absl::StrCat("data: ", http_internal::Dump(chunk), "\n\n");
}

Json DeltaChoice(Json delta, Json finish_reason = nullptr) {
  return Json::array({{{"index", 0},
                       {"delta", std::move(delta)},
                       {"logprobs", nullptr},
                       {"finish_reason", std::move(finish_reason)}}});
}

// `deployment` is set on Azure OpenAI's path (/openai/deployments/{deployment}/...): it names
// the model, whatever the body says, as Azure's does.
void HandleChatCompletions(HttpServer::State* state, const httplib::Request& req,
                           httplib::Response& res, const std::string* deployment = nullptr) {
  const HttpFrontResources& r = state->resources;
  http_internal::ChatCompletionRequest request;
  absl::Status parsed = http_internal::WithJsonGuard([&]() -> absl::Status {
    ASSIGN_OR_RETURN(Json body, http_internal::ParseJsonObject(req.body));
    if (deployment != nullptr) body["model"] = *deployment;
    ASSIGN_OR_RETURN(request, http_internal::ParseChatCompletionRequest(body));
    return absl::OkStatus();
  });
  // Authorization comes before the body's errors are reported, as for gRPC: an unauthenticated
  // caller learns nothing about the request's shape.
  std::string collection = request.data_source ? request.data_source->collection : "";
  if (absl::Status s = Admit(r, req, Method::kAnswer, parsed.ok() ? collection : "",
                                 "data_sources[0].parameters.collection"); !s.ok()) {
    return SendError(res, s);
  }
  if (!parsed.ok()) return SendError(res, parsed);

  absl::StatusOr<std::shared_ptr<ChatCall>> started =
      ChatCall::Start(r.answers, std::move(request));
  if (!started.ok()) return SendError(res, started.status());
  std::shared_ptr<ChatCall> call = *std::move(started);
  // Until the status line is written, a client that hangs up is noticed on its socket.
  http_internal::PeerWatch peer(req.remote_addr, req.remote_port, req.local_port);
  while (!call->WaitForFirstTextOrEnd(kPollInterval)) {
    if (state->stopping.load() || peer.closed()) call->Cancel();
  }
  if (!call->has_text()) {
    // Nothing was said: an error is the response's status.
    http_internal::ChatCall::Taken t = call->Next(std::chrono::milliseconds(0));
    if (t.ended && !call->status().ok()) {
      RecordModelRun(r, *call, call->result());
      return SendError(res, call->status());
    }
  }
  const std::string id = NewCompletionId();
  const int64_t created = UnixNow();
  const std::string model = call->request().model;
  const bool grounded = call->request().data_source.has_value();

  if (!call->request().stream) {
    std::string text;
    while (true) {
      http_internal::ChatCall::Taken t = call->Next(kPollInterval);
      text += t.text;
      if (state->stopping.load() || peer.closed()) call->Cancel();
      if (t.ended) break;
    }
    absl::Status status = call->status();
    models::ChatResult result = call->result();
    RecordModelRun(r, *call, result);
    if (!status.ok()) return SendError(res, status);
    Json message = {{"role", "assistant"}, {"content", text}, {"refusal", nullptr}};
    if (grounded) message["context"] = call->context();
    Json completion = {{"id", id},
                       {"object", "chat.completion"},
                       {"created", created},
                       {"model", model},
                       {"system_fingerprint", nullptr},
                       {"choices", Json::array({{{"index", 0},
                                                 {"message", std::move(message)},
                                                 {"logprobs", nullptr},
                                                 {"finish_reason", FinishReasonOf(result)}}})},
                       {"usage", UsageOf(result.usage)}};
    return SendJson(res, completion);
  }

  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  const bool include_usage = call->request().include_usage;
  auto first = std::make_shared<bool>(true);
  res.set_chunked_content_provider(
      "text/event-stream",
      [call, first, id, created, model, grounded, include_usage, state](
          size_t, httplib::DataSink& sink) -> bool {
        auto write = [&](const std::string& event) {
          return sink.write(event.data(), event.size());
        };
        if (*first) {
          *first = false;
          Json delta = {{"role", "assistant"}, {"content", ""}};
          if (grounded) delta["context"] = call->context();
          if (!write(ChunkEvent(id, created, model, DeltaChoice(std::move(delta)), nullptr,
                                include_usage))) {
            call->Cancel();
            return false;
          }
        }
        http_internal::ChatCall::Taken t = call->Next(kPollInterval);
        if (!t.text.empty() &&
            !write(ChunkEvent(id, created, model, DeltaChoice({{"content", t.text}}), nullptr,
                              include_usage))) {
          call->Cancel();
          return false;
        }
        if (!t.ended) {
          // The client closed its connection, or the server is stopping: stop the model.
          if (!sink.is_writable() || state->stopping.load()) {
            call->Cancel();
            return false;
          }
          return true;
        }
        absl::Status status = call->status();
        models::ChatResult result = call->result();
        RecordModelRun(state->resources, *call, result);
        current_call.record.code = status.code();
        if (!status.ok()) {
          // After text was sent the status line is gone: the error is an event, as OpenAI
          // sends it, and the stream ends without [DONE].
          write(absl::StrCat("data: ", http_internal::ErrorBody(status), "\n\n"));
          sink.done();
          return true;
        }
        write(ChunkEvent(id, created, model, DeltaChoice(Json::object(), FinishReasonOf(result)),
                         nullptr, include_usage));
        if (include_usage) {
          write(ChunkEvent(id, created, model, Json::array(), UsageOf(result.usage), true));
        }
        write("data: [DONE]\n\n");
        sink.done();
        return true;
      },
      [call](bool success) {
        if (!success) {
          call->Cancel();
          current_call.record.code = absl::StatusCode::kCancelled;
        }
      });
}

void HandleEmbeddings(HttpServer::State* state, const httplib::Request& req, httplib::Response& res,
                      const std::string* deployment = nullptr) {
  const HttpFrontResources& r = state->resources;
  http_internal::EmbeddingsRequest request;
  absl::Status parsed = http_internal::WithJsonGuard([&]() -> absl::Status {
    ASSIGN_OR_RETURN(Json body, http_internal::ParseJsonObject(req.body));
    if (deployment != nullptr) body["model"] = *deployment;
    ASSIGN_OR_RETURN(request, http_internal::ParseEmbeddingsRequest(body));
    return absl::OkStatus();
  });
  if (absl::Status s = Admit(r, req, Method::kRetrieve, ""); !s.ok()) return SendError(res, s);
  if (!parsed.ok()) return SendError(res, parsed);
  absl::Status s = http_internal::WithJsonGuard([&]() -> absl::Status {
    ASSIGN_OR_RETURN(std::shared_ptr<models::Embedder> embedder,
                     r.embedders->Get(request.model, 0));
    if (request.dimensions && *request.dimensions != embedder->dimension()) {
      return absl::InvalidArgumentError(
          absl::StrCat("dimensions: embedder '", request.model, "' makes ", embedder->dimension(),
                       "-dimensional vectors, not ", *request.dimensions));
    }
    models::EmbeddingUsage usage;
    ASSIGN_OR_RETURN(std::vector<std::vector<float>> vectors,
                     embedder->Embed(request.input, &usage));
    uint64_t tokens = usage.prompt_tokens;
    if (tokens == 0) {
      // The local embedder reports none: count as OpenAI bills (cl100k_base).
      const models::Tokenizer& t = models::Tokenizer::Get(models::Encoding::kCl100kBase);
      for (const std::string& text : request.input) tokens += t.Count(text);
    }
    Json data = Json::array();
    for (size_t i = 0; i < vectors.size(); ++i) {
      Json embedding;
      if (request.base64) {
        // Little-endian float32s, as OpenAI encodes them.
        std::string bytes(vectors[i].size() * sizeof(float), '\0');
        std::memcpy(bytes.data(), vectors[i].data(), bytes.size());
        embedding = absl::Base64Escape(bytes);
      } else {
        embedding = vectors[i];
      }
      data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", std::move(embedding)}});
    }
    SendJson(res, {{"object", "list"},
                   {"data", std::move(data)},
                   {"model", request.model},
                   {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}});
    return absl::OkStatus();
  });
  if (!s.ok()) SendError(res, s);
}

// GET /v1/models, or GET /v1/models/{id} when `id` is set (404 when it names nothing).
void HandleModels(HttpServer::State* state, const httplib::Request& req, httplib::Response& res,
                  const std::string* id = nullptr) {
  const HttpFrontResources& r = state->resources;
  if (absl::Status s = Admit(r, req, Method::kListModels, ""); !s.ok()) return SendError(res, s);
  const models::ModelCatalog& catalog = *r.answers.catalog;
  Json data = Json::array();
  for (const models::ModelDeployment& d : catalog.deployments()) {
    Json extra = {{"kind", "chat"},
                  {"provider", std::string(models::ChatProviderName(d.provider))},
                  {"family", d.family},
                  {"context_window", d.context_window},
                  {"max_output_tokens", d.max_output_tokens},
                  {"price_per_1k_input", d.price_per_1k_input},
                  {"price_per_1k_output", d.price_per_1k_output},
                  {"default", d.name == catalog.default_model()}};
    data.push_back({{"id", d.name},
                    {"object", "model"},
                    {"created", 0},
                    {"owned_by", "ragd"},
                    {"ragd", std::move(extra)}});
  }
  for (const std::string& name : r.embedders->Names()) {
    data.push_back({{"id", name},
                    {"object", "model"},
                    {"created", 0},
                    {"owned_by", "ragd"},
                    {"ragd", {{"kind", "embedding"}}}});
  }
  if (id == nullptr) return SendJson(res, {{"object", "list"}, {"data", std::move(data)}});
  // A chat deployment first: a name may be both (the built-in `local`).
  for (const Json& m : data) {
    if (m["id"] == *id) return SendJson(res, m);
  }
  SendError(res, absl::NotFoundError(absl::StrCat("model '", EchoPrefix(*id), "' not found")));
}

}  // namespace

int HttpStatusOf(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kDataLoss:
      return 500;
    default:
      return 500;
  }
}

absl::Status ValidateListenAddress(const std::string& key, const std::string& listen) {
  size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(key, ": expected host:port (port 0 to 65535), got \"", listen, "\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& listen,
                                                              HttpFrontResources resources,
                                                              HttpFrontOptions options) {
  RETURN_IF_ERROR(ValidateListenAddress("server.http_listen", listen));
  size_t colon = listen.rfind(':');
  int port = 0;
  (void)absl::SimpleAtoi(listen.substr(colon + 1), &port);
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::unique_ptr<HttpServer> self(new HttpServer());
  self->state_ = std::make_unique<State>();
  self->state_->resources = resources;
  if (options.tls_cert_file.empty() && options.tls_key_file.empty()) {
    self->server_ = std::make_unique<httplib::Server>();
  } else {
    auto https = std::make_unique<httplib::SSLServer>(options.tls_cert_file.c_str(),
                                                      options.tls_key_file.c_str());
    if (!https->is_valid()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "server.http_tls: cannot use cert_file \"", options.tls_cert_file, "\" and key_file \"",
          options.tls_key_file,
          "\": both must be readable PEM files and the key must match the certificate"));
    }
    self->server_ = std::move(https);
  }
  httplib::Server& s = *self->server_;
  const int threads = std::max(1, options.threads);
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // Small SSE writes on a kept-alive connection stall ~40 ms without it (FACTS.md).
  s.set_tcp_nodelay(true);
  s.set_payload_max_length(options.max_body_bytes);
  // SDK clients keep their connections; cpp-httplib would close one after 5 requests.
  s.set_keep_alive_max_count(10000);
  State* state = self->state_.get();
  s.Post("/v1/chat/completions", [state](const httplib::Request& req, httplib::Response& res) {
    HandleChatCompletions(state, req, res);
  });
  s.Post("/v1/embeddings", [state](const httplib::Request& req, httplib::Response& res) {
    HandleEmbeddings(state, req, res);
  });
  // Azure OpenAI's paths, so that its clients (AzureOpenAI in the SDKs) work with ragd as the
  // endpoint: the deployment is the catalog name; `api-version` is accepted and ignored.
  s.Post("/openai/deployments/([^/]+)/chat/completions",
         [state](const httplib::Request& req, httplib::Response& res) {
           const std::string deployment = req.matches[1];
           HandleChatCompletions(state, req, res, &deployment);
         });
  s.Post("/openai/deployments/([^/]+)/embeddings",
         [state](const httplib::Request& req, httplib::Response& res) {
           const std::string deployment = req.matches[1];
           HandleEmbeddings(state, req, res, &deployment);
         });
  s.Get("/v1/models", [state](const httplib::Request& req, httplib::Response& res) {
    HandleModels(state, req, res);
  });
  s.Get("/v1/models/(.+)", [state](const httplib::Request& req, httplib::Response& res) {
    const std::string id = req.matches[1];
    HandleModels(state, req, res, &id);
  });
  http_internal::AddPlaygroundRoutes(s, &state->resources, &state->stopping);
  s.set_pre_routing_handler([](const httplib::Request& req, httplib::Response&) {
    current_call = CurrentCall{};
    current_call.start = std::chrono::steady_clock::now();
    HttpCallRecord& rec = current_call.record;
    if (req.path == "/v1/chat/completions" || req.path == "/v1/embeddings" ||
        req.path == "/v1/models") {
      rec.route = absl::StrCat(req.method, " ", req.path);
    } else if (req.path.rfind("/v1/models/", 0) == 0) {
      rec.route = absl::StrCat(req.method, " /v1/models/{id}");
    } else if (req.path == "/v1/ragd/collections" || req.path == "/v1/ragd/search") {
      rec.route = absl::StrCat(req.method, " ", req.path);
    } else if (req.path.rfind("/v1/ragd/collections/", 0) == 0) {
      // Collection and document names stay out of the metric's labels (unbounded).
      rec.route = absl::StrCat(req.method, absl::StrContains(req.path, "/documents/")
                                               ? " /v1/ragd/collections/{c}/documents/{id}"
                                           : absl::EndsWith(req.path, "/ingest-jobs")
                                               ? " /v1/ragd/collections/{c}/ingest-jobs"
                                               : " /v1/ragd/collections/{c}/files");
    } else if (req.path.rfind("/v1/ragd/ingest-jobs/", 0) == 0) {
      rec.route = absl::StrCat(req.method, " /v1/ragd/ingest-jobs/{id}");
    } else if (req.path == "/" || req.path.rfind("/playground/", 0) == 0) {
      rec.route = "GET /playground";
    } else if (req.path.rfind("/openai/deployments/", 0) == 0) {
      const bool chat = absl::EndsWith(req.path, "/chat/completions");
      const bool embeddings = absl::EndsWith(req.path, "/embeddings");
      rec.route = chat || embeddings
                      ? absl::StrCat(req.method, " /openai/deployments/{deployment}/",
                                     chat ? "chat/completions" : "embeddings")
                      : "other";
    } else {
      rec.route = "other";
    }
    rec.peer = absl::StrCat(req.remote_addr, ":", req.remote_port);
    return httplib::Server::HandlerResponse::Unhandled;
  });
  s.set_logger([state](const httplib::Request&, const httplib::Response& res) {
    HttpCallRecord& rec = current_call.record;
    rec.http_status = res.status;
    rec.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - current_call.start)
            .count();
    if (state->resources.on_call) state->resources.on_call(rec);
  });
  // Anything else: OpenAI's 404 shape, so SDKs report it as such.
  state->max_body_bytes = options.max_body_bytes;
  s.set_error_handler([state](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) {
      SendError(res, absl::NotFoundError(absl::StrCat("no route ", req.method, " ", req.path)));
      res.status = 404;
    } else if (res.status == 413) {
      // cpp-httplib refused the body before any handler ran: say which bound it hit.
      SendError(res, absl::InvalidArgumentError(absl::StrCat(
                         "request body: larger than server.max_message_bytes (",
                         state->max_body_bytes, " bytes)")));
      res.status = 413;
    } else if (res.status == 400) {
      // cpp-httplib could not read the request: a malformed multipart body, or one of more
      // than its 1024 parts (CPPHTTPLIB_MULTIPART_FORM_DATA_FILE_MAX_COUNT).
      SendError(res, absl::InvalidArgumentError(
                     "request: malformed headers or body (a multipart body holds at most 1024 "
                     "parts)"));
      res.status = 400;
    }
  });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    SendError(res, absl::InternalError("internal error"));
  });
  if (port == 0) {
    self->port_ = s.bind_to_any_port(host);
  } else if (s.bind_to_port(host, port)) {
    self->port_ = port;
  }
  if (self->port_ <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", listen, " (HTTP API)"));
  }
  HttpServer* raw = self.get();
  self->thread_ = std::thread([raw] { raw->server_->listen_after_bind(); });
  // cpp-httplib's stop() does nothing until the listening thread has marked the server running,
  // so a Stop() right after Start() (a recovery that fails at once) would leave that thread
  // listening for ever and Stop()'s join hanging: wait for it (bounded; a listener that fails
  // to start ends its thread, which the join then collects).
  for (int i = 0; i < 5000 && !raw->server_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return self;
}

void HttpServer::Stop() {
  if (state_ != nullptr) state_->stopping.store(true);
  if (server_ != nullptr) server_->stop();
  if (thread_.joinable()) thread_.join();
}

HttpServer::~HttpServer() { Stop(); }

}  // namespace ragd::services
