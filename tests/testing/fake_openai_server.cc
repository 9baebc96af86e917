#include "tests/testing/fake_openai_server.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/hash.h"
#include "nlohmann/json.hpp"
#include "tests/testing/fake_token_counts.h"

namespace ragd::testing {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxInputTokens = 8191;
constexpr char kAzureAuthMessage[] =
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide "
    "a valid key for an active subscription and use a correct regional API endpoint for your "
    "resource.";
constexpr char kInvalidInputMessage[] =
    "'$.input' is invalid. Please check the API reference: "
    "https://platform.openai.com/docs/api-reference.";

// The default body of a scripted HTTP error: what Azure OpenAI sends for that status.
std::string AzureErrorBody(int status) {
  std::string code = std::to_string(status);
  std::string message;
  switch (status) {
    case 400:
      message = "Invalid request.";
      break;
    case 401:
      message = kAzureAuthMessage;
      break;
    case 403:
      message = "Traffic is not from an approved private endpoint.";
      code = "AuthenticationTypeDisabled";
      break;
    case 404:
      code = "DeploymentNotFound";
      message =
          "The API deployment for this resource does not exist. If you created the deployment "
          "within the last 5 minutes, please wait a moment and try again.";
      break;
    case 408:
      message = "Request timed out.";
      break;
    case 429:
      message =
          "Requests to the Embeddings_Create Operation under Azure OpenAI API version 2024-02-01 "
          "have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry "
          "after 1 second. Please go here: https://aka.ms/oai/quotaincrease if you would like "
          "to further increase the default rate limit.";
      break;
    case 500:
      code = "InternalServerError";
      message = "The server had an error while processing your request. Sorry about that!";
      break;
    case 503:
      code = "ServiceUnavailable";
      message =
          "The service is temporarily unable to process your request. Please try again later.";
      break;
    default:
      message = absl::StrCat("HTTP ", status);
      break;
  }
  return json{{"error", {{"code", code}, {"message", message}}}}.dump();
}

// splitmix64: the per-dimension stream of ExpectedEmbedding.
uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

void AppendFloat(std::string& out, float f) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), f);
  out.append(buf, r.ptr);
}

}  // namespace

Fault Fault::Http(int status, std::vector<std::pair<std::string, std::string>> headers) {
  Fault f;
  f.kind = Kind::kHttpError;
  f.status = status;
  f.headers = std::move(headers);
  return f;
}

Fault Fault::TooManyRequests(std::chrono::milliseconds retry_after) {
  auto seconds = (retry_after.count() + 999) / 1000;
  return Http(429, {{"Retry-After", std::to_string(seconds)},
                    {"retry-after-ms", std::to_string(retry_after.count())}});
}

Fault Fault::TooManyRequestsSeconds(int seconds) {
  return Http(429, {{"Retry-After", std::to_string(seconds)}});
}

Fault Fault::Delay(std::chrono::milliseconds delay) {
  Fault f;
  f.kind = Kind::kDelay;
  f.delay = delay;
  return f;
}

Fault Fault::DropConnection() {
  Fault f;
  f.kind = Kind::kDropConnection;
  return f;
}

Fault Fault::WrongDimension(size_t dimension) {
  Fault f;
  f.kind = Kind::kWrongDimension;
  f.dimension = dimension;
  return f;
}

Fault Fault::WrongCount() {
  Fault f;
  f.kind = Kind::kWrongCount;
  return f;
}

Fault Fault::DuplicateIndex() {
  Fault f;
  f.kind = Kind::kDuplicateIndex;
  return f;
}

Fault Fault::MalformedJson() {
  Fault f;
  f.kind = Kind::kMalformedJson;
  return f;
}

Fault Fault::RawUsage(std::string usage_json) {
  Fault f;
  f.kind = Kind::kRawUsage;
  f.body = std::move(usage_json);
  return f;
}

Fault Fault::RawBody(std::string body) {
  Fault f = Http(200);
  f.body = std::move(body);
  return f;
}

Fault Fault::NonFinite() {
  Fault f;
  f.kind = Kind::kNonFinite;
  return f;
}

std::vector<float> FakeOpenAiServer::ExpectedEmbedding(std::string_view text, size_t dimension) {
  std::vector<float> v(dimension);
  uint64_t h = ragd::Hash64(text);
  double norm2 = 0;
  for (size_t i = 0; i < dimension; ++i) {
    uint64_t x = SplitMix(h + i);
    v[i] = static_cast<float>(static_cast<double>(x >> 40) / static_cast<double>(1 << 24) * 2 - 1);
    norm2 += static_cast<double>(v[i]) * v[i];
  }
  auto inv = static_cast<float>(1 / std::sqrt(norm2));
  for (float& x : v) x *= inv;
  return v;
}

FakeOpenAiServer::FakeOpenAiServer(FakeOpenAiServerOptions options)
    : options_(std::move(options)), latency_(options_.latency) {}

absl::StatusOr<std::unique_ptr<FakeOpenAiServer>> FakeOpenAiServer::Start(
    FakeOpenAiServerOptions options) {
  std::unique_ptr<FakeOpenAiServer> s(new FakeOpenAiServer(std::move(options)));
  FakeOpenAiServer* self = s.get();
  // Keep-alive connections each hold a worker; clients with several pooled connections and
  // tests with many concurrent requests need more than httplib's default of 8.
  s->server_.new_task_queue = [] { return new httplib::ThreadPool(32); };
  // Streamed events are small writes: without TCP_NODELAY, Nagle holds each one until the
  // previous is acknowledged, and on a kept-alive connection (past TCP's quick-ACK start) the
  // client's delayed ACK makes that 40 ms. Servers that stream (Azure's front ends, nginx with
  // tcp_nodelay, the default) do not wait.
  s->server_.set_tcp_nodelay(true);
  s->server_.set_pre_routing_handler([self](const httplib::Request& req, httplib::Response&) {
    std::lock_guard<std::mutex> lock(self->mu_);
    ++self->counters_.requests;
    ++self->counters_.per_path[req.path];
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // Unknown paths get Azure's 404 body instead of httplib's empty one.
  s->server_.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty() || res.content_length_ != 0) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        SetError(res, res.status, std::to_string(res.status), "Resource not found");
        return httplib::Server::HandlerResponse::Handled;
      }));
  s->Route(R"(/openai/deployments/([^/]+)/embeddings)",
           [self](const httplib::Request& req, httplib::Response& res) {
             self->HandleEmbeddings(req, res, /*azure=*/true);
           });
  s->Route(R"(/v1/embeddings)", [self](const httplib::Request& req, httplib::Response& res) {
    self->HandleEmbeddings(req, res, /*azure=*/false);
  });
  int port = s->server_.bind_to_any_port("127.0.0.1");
  if (port <= 0) return absl::UnavailableError("fake OpenAI server: cannot bind 127.0.0.1");
  s->port_ = port;
  s->thread_ = std::thread([self] { self->server_.listen_after_bind(); });
  // httplib's stop() does nothing until the accept loop runs: a Stop() right after Start()
  // would otherwise hang in join().
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!s->server_.is_running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::UnavailableError("fake OpenAI server: the accept loop did not start");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return s;
}

FakeOpenAiServer::~FakeOpenAiServer() { Stop(); }

void FakeOpenAiServer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

std::string FakeOpenAiServer::endpoint() const { return absl::StrCat("http://127.0.0.1:", port_); }
std::string FakeOpenAiServer::openai_base_url() const { return endpoint() + "/v1"; }

void FakeOpenAiServer::Enqueue(Fault fault) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.push_back(std::move(fault));
}

size_t FakeOpenAiServer::pending_faults() const {
  std::lock_guard<std::mutex> lock(mu_);
  return faults_.size();
}

void FakeOpenAiServer::SetLatency(std::chrono::milliseconds latency) {
  std::lock_guard<std::mutex> lock(mu_);
  latency_ = latency;
}

FakeOpenAiCounters FakeOpenAiServer::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

void FakeOpenAiServer::ResetCounters() {
  std::lock_guard<std::mutex> lock(mu_);
  counters_ = FakeOpenAiCounters{};
}

void FakeOpenAiServer::Route(const std::string& pattern, Handler handler) {
  server_.Post(pattern, std::move(handler));
}

bool FakeOpenAiServer::SleepUnlessStopped(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !stop_cv_.wait_for(lock, d, [this] { return stopping_; });
}

void FakeOpenAiServer::SetError(httplib::Response& res, int status, std::string_view code,
                                std::string_view message) {
  res.status = status;
  res.set_content(json{{"error", {{"code", code}, {"message", message}}}}.dump(),
                  "application/json");
}

bool FakeOpenAiServer::CheckAuth(const httplib::Request& req, httplib::Response& res,
                                 bool azure) const {
  if (azure) {
    if (req.get_header_value("api-key") == options_.api_key) return true;
    SetError(res, 401, "401", kAzureAuthMessage);
    return false;
  }
  std::string auth = req.get_header_value("Authorization");
  if (auth == "Bearer " + options_.api_key) return true;
  res.status = 401;
  json error = {{"type", "invalid_request_error"}, {"param", nullptr}};
  if (auth.empty()) {
    error["message"] =
        "You didn't provide an API key. You need to provide your API key in an Authorization "
        "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
    error["code"] = nullptr;
  } else {
    // Like OpenAI: a masked echo of the key that was sent (clients must not log it either).
    std::string sent = auth.substr(std::min<size_t>(auth.size(), 7));
    std::string masked = sent.size() > 4 ? sent.substr(0, 2) + "**" + sent.substr(sent.size() - 2)
                                         : std::string("**");
    error["message"] = absl::StrCat("Incorrect API key provided: ", masked,
                                    ". You can find your API key at "
                                    "https://platform.openai.com/account/api-keys.");
    error["code"] = "invalid_api_key";
  }
  res.set_content(json{{"error", error}}.dump(), "application/json");
  return false;
}

void FakeOpenAiServer::Record(const std::string& path, size_t inputs, uint64_t tokens, int status,
                              Clock::time_point arrived) {
  std::lock_guard<std::mutex> lock(mu_);
  ++counters_.embeddings;
  if (status == 200) {
    counters_.inputs += inputs;
    counters_.tokens += tokens;
  }
  counters_.log.push_back({path, inputs, tokens, status, arrived});
}

void FakeOpenAiServer::HandleEmbeddings(const httplib::Request& req, httplib::Response& res,
                                        bool azure) {
  const Clock::time_point arrived = Clock::now();
  std::chrono::milliseconds latency;
  uint64_t seed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++in_flight_;
    counters_.max_in_flight = std::max(counters_.max_in_flight, in_flight_);
    latency = latency_;
    seed = ++shuffle_seed_;
  }
  struct InFlight {
    FakeOpenAiServer* s;
    ~InFlight() {
      std::lock_guard<std::mutex> lock(s->mu_);
      --s->in_flight_;
    }
  } in_flight{this};
  size_t inputs_seen = 0;
  uint64_t tokens_seen = 0;
  auto finish = [&](int status) { Record(req.path, inputs_seen, tokens_seen, status, arrived); };
  if (latency.count() > 0 && !SleepUnlessStopped(latency)) {
    SetError(res, 503, "ServiceUnavailable", "shutting down");
    return finish(503);
  }

  // The request checks, in the order the real services apply them.
  if (azure) {
    std::string version = req.get_param_value("api-version");
    if (version.empty() || std::find(options_.api_versions.begin(), options_.api_versions.end(),
                                     version) == options_.api_versions.end()) {
      SetError(res, 404, "404", "Resource not found");
      return finish(404);
    }
  }
  if (!CheckAuth(req, res, azure)) return finish(401);
  if (azure) {
    std::string deployment = req.matches[1];
    if (std::find(options_.deployments.begin(), options_.deployments.end(), deployment) ==
        options_.deployments.end()) {
      SetError(res, 404, "DeploymentNotFound",
               "The API deployment for this resource does not exist. If you created the "
               "deployment within the last 5 minutes, please wait a moment and try again.");
      return finish(404);
    }
  }
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    SetError(res, 400, "", "We could not parse the JSON body of your request.");
    return finish(400);
  }
  if (!azure && (!body.contains("model") || !body["model"].is_string())) {
    SetError(res, 400, "", "you must provide a model parameter");
    return finish(400);
  }
  std::vector<std::string> texts;
  auto input = body.find("input");
  if (input != body.end() && input->is_string()) {
    texts.push_back(input->get<std::string>());
  } else if (input != body.end() && input->is_array()) {
    for (const json& t : *input) {
      if (!t.is_string()) {
        SetError(res, 400, "", kInvalidInputMessage);
        return finish(400);
      }
      texts.push_back(t.get<std::string>());
    }
  }
  inputs_seen = texts.size();
  if (texts.empty() ||
      std::any_of(texts.begin(), texts.end(), [](const std::string& t) { return t.empty(); })) {
    SetError(res, 400, "", kInvalidInputMessage);
    return finish(400);
  }
  size_t max_inputs = azure ? options_.azure_max_inputs : options_.openai_max_inputs;
  if (texts.size() > max_inputs) {
    SetError(res, 400, "",
             absl::StrCat("Too many inputs. The max number of inputs is ", max_inputs,
                          ".  We hope to increase the number of inputs per request soon."));
    return finish(400);
  }
  if (auto d = body.find("dimensions");
      d != body.end() && (!d->is_number_unsigned() || d->get<uint64_t>() != options_.dimension)) {
    SetError(res, 400, "", "This model does not support specifying dimensions.");
    return finish(400);
  }
  // js-tiktoken's cl100k_base counts (the embedding models' encoding), never ragd's.
  for (const std::string& t : texts) {
    bool exact = true;
    uint64_t n = FakeTokenCount(FakeEncoding::kCl100kBase, t, &exact);
    if (!exact) {
      std::lock_guard<std::mutex> lock(mu_);
      ++counters_.estimated_inputs;
    }
    if (n > kMaxInputTokens) {
      SetError(res, 400, "",
               absl::StrCat("This model's maximum context length is 8191 tokens, however you "
                            "requested ",
                            n, " tokens (", n,
                            " in your prompt; 0 for the completion). Please "
                            "reduce your prompt; or completion length."));
      return finish(400);
    }
    tokens_seen += n;
  }

  Fault fault;
  bool have_fault = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!faults_.empty()) {
      fault = std::move(faults_.front());
      faults_.pop_front();
      have_fault = true;
    }
  }
  if (have_fault) {
    switch (fault.kind) {
      case Fault::Kind::kHttpError:
        res.status = fault.status;
        for (const auto& [name, value] : fault.headers) res.set_header(name, value);
        res.set_content(fault.body.empty() ? AzureErrorBody(fault.status) : fault.body,
                        "application/json");
        return finish(fault.status);
      case Fault::Kind::kDelay:
        if (!SleepUnlessStopped(fault.delay)) {
          SetError(res, 503, "ServiceUnavailable", "shutting down");
          return finish(503);
        }
        break;
      case Fault::Kind::kDropConnection:
        // The headers promise a body that never comes: the client sees the connection close
        // in the middle of the response.
        res.set_content_provider(1024, "application/json",
                                 [](size_t, size_t, httplib::DataSink&) { return false; });
        return finish(0);
      case Fault::Kind::kWrongDimension:
      case Fault::Kind::kWrongCount:
      case Fault::Kind::kDuplicateIndex:
      case Fault::Kind::kMalformedJson:
      case Fault::Kind::kNonFinite:
      case Fault::Kind::kRawUsage:
        break;  // applied to the normal response below
    }
  }

  // The normal response, written by hand: it is faster, and the faults need shapes (a number
  // beyond float, a cut body) that a JSON library would not produce.
  std::vector<size_t> order(texts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (options_.shuffle) {
    std::mt19937_64 rng(seed);
    std::shuffle(order.begin(), order.end(), rng);
  }
  // Without a fault (or after a delay, already served) the response is the normal one.
  const Fault::Kind kind = have_fault ? fault.kind : Fault::Kind::kDelay;
  if (kind == Fault::Kind::kWrongCount) order.pop_back();
  if (kind == Fault::Kind::kDuplicateIndex && order.size() > 1) order[1] = order[0];
  size_t dimension = kind == Fault::Kind::kWrongDimension ? fault.dimension : options_.dimension;
  std::string out = R"({"object":"list","data":[)";
  out.reserve(texts.size() * dimension * 12 + 256);
  for (size_t k = 0; k < order.size(); ++k) {
    if (k > 0) out += ',';
    absl::StrAppend(&out, R"({"object":"embedding","index":)", order[k], R"(,"embedding":[)");
    std::vector<float> v = ExpectedEmbedding(texts[order[k]], dimension);
    for (size_t i = 0; i < v.size(); ++i) {
      if (i > 0) out += ',';
      if (kind == Fault::Kind::kNonFinite && k == 0 && i == 0) {
        out += "1e39";
      } else {
        AppendFloat(out, v[i]);
      }
    }
    out += "]}";
  }
  if (kind == Fault::Kind::kRawUsage) {
    absl::StrAppend(&out, R"(],"model":"text-embedding-ada-002","usage":)", fault.body, "}");
  } else {
    absl::StrAppend(&out, R"(],"model":"text-embedding-ada-002","usage":{"prompt_tokens":)",
                    tokens_seen, R"(,"total_tokens":)", tokens_seen, "}}");
  }
  if (kind == Fault::Kind::kMalformedJson) out.resize(out.size() / 2);
  res.status = 200;
  res.set_content(std::move(out), "application/json");
  finish(200);
}

}  // namespace ragd::testing
