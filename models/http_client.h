#pragma once
// A minimal HTTP/1.1 client for JSON APIs (libcurl underneath; no curl type leaks out of
// http_client.cc). Connections are kept alive and reused: the client keeps a small pool of idle
// curl handles, each with its own connection cache, so that a remote embedder does not pay a
// TLS handshake per request.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ragd::models {

struct HttpResponse {
  // The HTTP status code, e.g. 200, 429.
  int status = 0;
  // Response headers in order of arrival, names lowercased.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The value of the first header called `name` (case-insensitive), if any.
  std::optional<std::string> Header(std::string_view name) const;
};

struct HttpClientOptions {
  // Most idle connections kept for reuse; more concurrent requests than this still work, their
  // connections are closed afterwards.
  // Default: 8.
  size_t max_idle_connections = 8;
  // Default: 10000.
  std::chrono::milliseconds connect_timeout{10000};
  // Default: "ragd/0.1".
  std::string user_agent = "ragd/0.1";
};

// Per-call options of HttpClient::PostStream.
struct HttpStreamOptions {
  // Limit of the whole exchange, streaming included.
  // Default: 300000 (a long completion of a slow model).
  std::chrono::milliseconds timeout{300000};
  // Limit from sending the request to the first data of the response: the first byte of the
  // body, or, when `first_data` is set, the moment *first_data becomes true; 0 disables it.
  // Default: 0.
  std::chrono::milliseconds first_byte_timeout{0};
  // When not null, first_byte_timeout runs until the callbacks set *first_data to true (read on
  // the calling thread, between callbacks), not until the first byte: a chat stream sends
  // headers and empty chunks (Azure's prompt-filter results, the role) long before its first
  // token, which is what the timeout is about.
  // Default: nullptr.
  const bool* first_data = nullptr;
  // When not null, polled about every 20 ms; becoming true aborts the transfer.
  // Default: nullptr.
  const std::atomic<bool>* cancelled = nullptr;
};

// Callbacks of HttpClient::PostStream, called on the calling thread. Returning false from
// either aborts the transfer: the connection is closed at once.
struct HttpStreamCallbacks {
  // Called once, when the headers of the final response are complete: `status` and `headers`
  // set, `body` empty. Not called when no response arrives.
  std::function<bool(const HttpResponse& head)> on_headers;
  // Called with every piece of the body as it arrives, split anywhere (not on lines).
  std::function<bool(std::string_view data)> on_body;
};

// Thread safety: Post and PostStream may be called concurrently from any number of threads.
class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // POSTs `body` (sent as `Content-Type: application/json`) to `url` with the extra `headers`
  // ("Name", "value"), waiting at most `timeout` for the whole exchange. Any HTTP status,
  // including 4xx and 5xx, is an OK result. Errors:
  //   DEADLINE_EXCEEDED   the timeout (or the connect timeout) expired;
  //   UNAVAILABLE         the connection failed or broke (refused, reset, DNS, TLS, a
  //                       response cut short);
  //   INVALID_ARGUMENT    the URL is malformed or its scheme unsupported.
  // Error messages carry curl's description and the URL, never header values.
  absl::StatusOr<HttpResponse> Post(const std::string& url,
                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                    std::string_view body, std::chrono::milliseconds timeout);

  // POSTs like Post, but hands the response to `callbacks` as it arrives (server-sent events).
  // The transfer runs on a curl multi handle of its own, polled in short slices, so that
  // cancellation is noticed within ~20 ms instead of curl's once-a-second progress tick. Multi
  // handles (each with its connection cache) are pooled like Post's handles: a stream read to
  // its end leaves its connection for the next one (no TCP or TLS handshake before the prompt
  // goes out, which is most of what an HTTP hop adds to a model's first token); a cancelled,
  // failed or cut stream closes its connection. Returns:
  //   OK                  the whole response was received (any HTTP status);
  //   CANCELLED           a callback returned false or *options.cancelled became true;
  //   DEADLINE_EXCEEDED   options.timeout, first_byte_timeout or the connect timeout expired
  //                       (the message names which);
  //   UNAVAILABLE         the connection failed or broke, also in the middle of the body;
  //   INVALID_ARGUMENT    the URL is malformed or its scheme unsupported.
  // Error messages carry curl's description and the URL, never header values.
  absl::Status PostStream(const std::string& url,
                          const std::vector<std::pair<std::string, std::string>>& headers,
                          std::string_view body, const HttpStreamOptions& options,
                          const HttpStreamCallbacks& callbacks);

 private:
  void* AcquireHandle();
  void ReleaseHandle(void* handle);
  // A CURLM* with the CURL* it drives, opaque like idle_.
  struct StreamHandles {
    void* multi = nullptr;
    void* easy = nullptr;
  };
  StreamHandles AcquireStream();
  // Pools the pair, or cleans it up (closing its connections) when `reusable` is false or the
  // pool is full.
  void ReleaseStream(StreamHandles handles, bool reusable);

  HttpClientOptions options_;
  std::mutex mu_;
  std::vector<void*> idle_;  // CURL* handles, opaque so that no curl header leaks
  std::vector<StreamHandles> idle_streams_;
};

}  // namespace ragd::models
