#pragma once
// A fake Azure OpenAI / OpenAI server on 127.0.0.1 for tests (cpp-httplib, ephemeral port,
// background threads). It speaks the exact REST shapes of the real services:
//
//   Azure:  POST /openai/deployments/{deployment}/embeddings?api-version={version}
//           header `api-key: <key>`
//   OpenAI: POST /v1/embeddings, header `Authorization: Bearer <key>`, body has "model"
//
// and checks them like the real ones do: unknown deployment or missing api-version → 404,
// wrong key → 401, body not JSON or without an `input` string / array of strings → 400, an
// empty string or an input over 8,191 cl100k_base tokens (counted as js-tiktoken counts,
// fake_token_counts.h: exact for the texts of its table, estimated otherwise) → 400, more
// inputs than the
// deployment allows → 400; error bodies are {"error": {"code": ..., "message": ...}}. A valid
// request gets
//   {"object":"list","data":[{"object":"embedding","index":i,"embedding":[...]}, ...],
//    "model":"text-embedding-ada-002","usage":{"prompt_tokens":N,"total_tokens":N}}
// with deterministic unit vectors (ExpectedEmbedding) listed in a shuffled order of `index`, so
// that clients must reorder.
//
// Faults are scripted: Enqueue(Fault) adds to a FIFO consumed by the next embeddings requests
// (one fault per request, after the request passed the checks above). Counters record every
// request for assertions.
//
// Extending: other endpoints (e.g. /chat/completions with SSE) are added with Route(); they can
// reuse CheckAuth and the error helpers.
//
// Thread safety: all methods may be called from any thread while the server runs.

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace ragd::testing {

// One scripted misbehaviour, applied to one embeddings request.
struct Fault {
  enum class Kind {
    kHttpError,       // respond with `status`, `headers` and `body` (default: Azure error JSON)
    kDelay,           // wait `delay`, then respond normally
    kDropConnection,  // send headers announcing a body, then close the connection
    kWrongDimension,  // normal response, every vector of `dimension` values
    kWrongCount,      // normal response minus its last item
    kDuplicateIndex,  // normal response with the first item's index repeated
    kMalformedJson,   // a 200 whose body is cut in the middle
    kNonFinite,       // normal response with one value 1e39 (beyond float: infinite as float)
    kRawUsage,        // normal response whose "usage" value is `body` verbatim
  };
  Kind kind = Kind::kHttpError;
  int status = 500;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // kHttpError: when empty, an Azure-shaped error body for `status`
  std::chrono::milliseconds delay{0};
  size_t dimension = 0;

  // HTTP `status` with the real Azure error body ({"error":{"code":..,"message":..}}).
  static Fault Http(int status, std::vector<std::pair<std::string, std::string>> headers = {});
  // 429 as Azure sends it, with `Retry-After: <seconds>` (rounded up) and `retry-after-ms`.
  static Fault TooManyRequests(std::chrono::milliseconds retry_after);
  // 429 with only `Retry-After: <seconds>`.
  static Fault TooManyRequestsSeconds(int seconds);
  static Fault Delay(std::chrono::milliseconds delay);
  static Fault DropConnection();
  static Fault WrongDimension(size_t dimension);
  static Fault WrongCount();
  static Fault DuplicateIndex();
  static Fault MalformedJson();
  static Fault NonFinite();
  // A normal response with `"usage": <usage_json>`, e.g. {"prompt_tokens":"5"}.
  static Fault RawUsage(std::string usage_json);
  // HTTP 200 with `body` verbatim as application/json, e.g. {"data":[42]}.
  static Fault RawBody(std::string body);
};

struct FakeOpenAiServerOptions {
  // The key both APIs accept (Azure `api-key`, OpenAI `Authorization: Bearer`).
  // Default: "test-key".
  std::string api_key = "test-key";
  // Azure deployments that exist.
  // Default: {"ada"}.
  std::vector<std::string> deployments = {"ada"};
  // Azure `api-version` values accepted.
  // Default: {"2023-05-15", "2024-02-01", "2024-06-01", "2024-10-21"}.
  std::vector<std::string> api_versions = {"2023-05-15", "2024-02-01", "2024-06-01", "2024-10-21"};
  // Length of the returned vectors.
  // Default: 1536.
  size_t dimension = 1536;
  // Most inputs per request: Azure's classic cap and OpenAI's.
  // Default: 16 and 2048.
  size_t azure_max_inputs = 16;
  size_t openai_max_inputs = 2048;
  // Added before every response (faults' delays come on top).
  // Default: 0.
  std::chrono::milliseconds latency{0};
  // List data items in a shuffled order of `index`.
  // Default: true.
  bool shuffle = true;
};

// What the server saw; a snapshot (see FakeOpenAiServer::counters()).
struct FakeOpenAiCounters {
  struct Request {
    std::string path;
    size_t inputs = 0;
    uint64_t tokens = 0;
    int status = 0;  // the status the server chose (0 for a dropped connection)
    std::chrono::steady_clock::time_point arrived;
  };
  uint64_t requests = 0;    // every HTTP request, any path
  uint64_t embeddings = 0;  // requests to an embeddings route
  uint64_t inputs = 0;      // inputs of embeddings requests that passed the checks
  uint64_t tokens = 0;      // their cl100k_base tokens (fake_token_counts.h)
  // Inputs whose tokens the table lacked and were estimated: 0 means `tokens` and the
  // reported usage are js-tiktoken's exact counts.
  uint64_t estimated_inputs = 0;
  size_t max_in_flight = 0;  // most embeddings requests handled at once
  std::map<std::string, uint64_t> per_path;
  std::vector<Request> log;  // embeddings requests in order of arrival
};

class FakeOpenAiServer {
 public:
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

  // Binds 127.0.0.1 on an ephemeral port and starts serving in the background.
  static absl::StatusOr<std::unique_ptr<FakeOpenAiServer>> Start(
      FakeOpenAiServerOptions options = {});
  ~FakeOpenAiServer();  // Stop()s
  FakeOpenAiServer(const FakeOpenAiServer&) = delete;
  FakeOpenAiServer& operator=(const FakeOpenAiServer&) = delete;

  // Stops accepting, wakes delayed handlers and joins the server thread. Idempotent.
  void Stop();

  int port() const { return port_; }
  // "http://127.0.0.1:<port>": the Azure `endpoint`.
  std::string endpoint() const;
  // "http://127.0.0.1:<port>/v1": the OpenAI `base_url`.
  std::string openai_base_url() const;
  const FakeOpenAiServerOptions& options() const { return options_; }

  void Enqueue(Fault fault);
  size_t pending_faults() const;
  void SetLatency(std::chrono::milliseconds latency);
  FakeOpenAiCounters counters() const;
  void ResetCounters();

  // The vector the server returns for `text`: derived from ragd::Hash64(text), unit norm.
  static std::vector<float> ExpectedEmbedding(std::string_view text, size_t dimension);

  // Adds a POST route (an ECMAScript regex over the path, as cpp-httplib matches it). Call
  // before requests arrive; routes added later take precedence over nothing (first match wins).
  void Route(const std::string& pattern, Handler handler);

  // Checks the credential of `req` for the API of `path`: Azure (`api-key`) when azure is
  // true, else OpenAI (`Authorization: Bearer`). On failure fills `res` with the real 401 body
  // and returns false.
  bool CheckAuth(const httplib::Request& req, httplib::Response& res, bool azure) const;
  // Sets `res` to `status` with an {"error": {...}} body in the style of the real service.
  static void SetError(httplib::Response& res, int status, std::string_view code,
                       std::string_view message);

  // Sleeps for `d` unless the server stops first; false when it stopped.
  bool SleepUnlessStopped(std::chrono::milliseconds d);

 private:
  explicit FakeOpenAiServer(FakeOpenAiServerOptions options);

  void HandleEmbeddings(const httplib::Request& req, httplib::Response& res, bool azure);
  void Record(const std::string& path, size_t inputs, uint64_t tokens, int status,
              std::chrono::steady_clock::time_point arrived);

  FakeOpenAiServerOptions options_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;

  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::deque<Fault> faults_;
  std::chrono::milliseconds latency_{0};
  FakeOpenAiCounters counters_;
  size_t in_flight_ = 0;
  uint64_t shuffle_seed_ = 0;
};

}  // namespace ragd::testing
