// HttpClient::PostStream: a streaming POST on a curl multi handle of its own, polled in short
// slices so that cancellation and the first-byte timeout are noticed promptly.

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "models/http_client.h"
#include "models/http_client_internal.h"

namespace ragd::models {
namespace {

// How often the transfer loop wakes up to check cancellation and timeouts when idle.
constexpr int kPollIntervalMs = 20;

struct StreamState {
  CURL* curl = nullptr;
  const HttpStreamCallbacks* callbacks = nullptr;
  HttpResponse head;
  bool headers_delivered = false;
  bool body_started = false;
  bool aborted_by_callback = false;
};

// Delivers the head once: on the blank line that ends the final response's headers.
bool DeliverHeaders(StreamState* state) {
  if (state->headers_delivered) return true;
  long status = 0;
  curl_easy_getinfo(state->curl, CURLINFO_RESPONSE_CODE, &status);
  state->head.status = static_cast<int>(status);
  state->headers_delivered = true;
  if (state->callbacks->on_headers && !state->callbacks->on_headers(state->head)) {
    state->aborted_by_callback = true;
    return false;
  }
  return true;
}

size_t OnStreamHeader(char* data, size_t size, size_t nmemb, void* user) {
  auto* state = static_cast<StreamState*>(user);
  const size_t n = size * nmemb;
  std::string_view line(data, n);
  if (line.rfind("HTTP/", 0) == 0) {
    state->head.headers.clear();
    return n;
  }
  if (line == "\r\n" || line == "\n") {
    long status = 0;
    curl_easy_getinfo(state->curl, CURLINFO_RESPONSE_CODE, &status);
    // Interim responses (100 Continue) end with a blank line too: wait for the final one.
    if (status >= 200 && !DeliverHeaders(state)) return 0;
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string name(line.substr(0, colon));
  std::string value(line.substr(colon + 1));
  state->head.headers.emplace_back(absl::AsciiStrToLower(name),
                                   std::string(absl::StripAsciiWhitespace(value)));
  return n;
}

size_t OnStreamBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* state = static_cast<StreamState*>(user);
  const size_t n = size * nmemb;
  if (!DeliverHeaders(state)) return 0;
  state->body_started = true;
  if (state->callbacks->on_body && !state->callbacks->on_body(std::string_view(data, n))) {
    state->aborted_by_callback = true;
    return 0;  // makes curl fail the transfer with CURLE_WRITE_ERROR and close the connection
  }
  return n;
}

}  // namespace

HttpClient::StreamHandles HttpClient::AcquireStream() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_streams_.empty()) {
      StreamHandles s = idle_streams_.back();
      idle_streams_.pop_back();
      // Forgets the previous request's options; the multi handle keeps its connections.
      curl_easy_reset(static_cast<CURL*>(s.easy));
      return s;
    }
  }
  StreamHandles s;
  s.easy = curl_easy_init();
  s.multi = curl_multi_init();
  if (s.easy == nullptr || s.multi == nullptr) {
    ReleaseStream(s, false);
    return {};
  }
  return s;
}

void HttpClient::ReleaseStream(StreamHandles handles, bool reusable) {
  if (reusable && handles.easy != nullptr && handles.multi != nullptr) {
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_streams_.size() < options_.max_idle_connections) {
      idle_streams_.push_back(handles);
      return;
    }
  }
  if (handles.easy != nullptr) curl_easy_cleanup(static_cast<CURL*>(handles.easy));
  if (handles.multi != nullptr) curl_multi_cleanup(static_cast<CURLM*>(handles.multi));
}

absl::Status HttpClient::PostStream(const std::string& url,
                                    const std::vector<std::pair<std::string, std::string>>& headers,
                                    std::string_view body, const HttpStreamOptions& options,
                                    const HttpStreamCallbacks& callbacks) {
  using Clock = std::chrono::steady_clock;
  StreamHandles handles = AcquireStream();
  if (handles.easy == nullptr) return absl::ResourceExhaustedError("curl_easy_init failed");
  CURL* curl = static_cast<CURL*>(handles.easy);
  CURLM* multi = static_cast<CURLM*>(handles.multi);

  struct curl_slist* header_list =
      internal::JsonPostHeaders("text/event-stream, application/json", headers);

  StreamState state;
  state.curl = curl;
  state.callbacks = &callbacks;
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min(options_.connect_timeout, options.timeout).count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  // Compression would make curl buffer and delay the small event-stream pieces.
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnStreamBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnStreamHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &state);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_multi_add_handle(multi, curl);

  const Clock::time_point start = Clock::now();
  bool cancelled = false;
  bool first_byte_timed_out = false;
  CURLcode rc = CURLE_OK;
  bool done = false;
  // Bounded: curl's own CURLOPT_TIMEOUT_MS ends the transfer, and each pass waits at most
  // kPollIntervalMs.
  while (!done) {
    int running = 0;
    CURLMcode mc = curl_multi_perform(multi, &running);
    if (mc != CURLM_OK) {
      rc = CURLE_FAILED_INIT;
      break;
    }
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg == CURLMSG_DONE) {
        rc = msg->data.result;
        done = true;
      }
    }
    if (done || running == 0) break;
    if (options.cancelled != nullptr && options.cancelled->load(std::memory_order_relaxed)) {
      cancelled = true;
      break;
    }
    const bool first_data_seen =
        options.first_data != nullptr ? *options.first_data : state.body_started;
    if (options.first_byte_timeout.count() > 0 && !first_data_seen &&
        Clock::now() - start > options.first_byte_timeout) {
      first_byte_timed_out = true;
      break;
    }
    curl_multi_poll(multi, nullptr, 0, kPollIntervalMs, nullptr);
  }

  // A response without a body still gets its head delivered (before the handle goes away).
  if (done && rc == CURLE_OK && !cancelled) DeliverHeaders(&state);

  // Removing the handle mid-transfer closes its connection, which is how the upstream learns
  // that nobody listens any more. A transfer read to its end leaves its connection in the
  // multi handle's cache for the next stream.
  curl_multi_remove_handle(multi, curl);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(header_list);
  const bool complete =
      done && rc == CURLE_OK && !cancelled && !first_byte_timed_out && !state.aborted_by_callback;
  ReleaseStream(handles, complete);

  if (cancelled || state.aborted_by_callback) {
    return absl::CancelledError(absl::StrCat("POST ", url, ": cancelled by the caller"));
  }
  if (first_byte_timed_out) {
    return absl::DeadlineExceededError(absl::StrCat(
        "POST ", url, ": no ", options.first_data != nullptr ? "first data" : "response",
        " within ", options.first_byte_timeout.count(), " ms"));
  }
  if (rc == CURLE_OK) {
    if (!done) return absl::UnavailableError(absl::StrCat("POST ", url, ": transfer lost"));
    return absl::OkStatus();
  }
  std::string detail = error[0] != '\0' ? std::string(error) : curl_easy_strerror(rc);
  std::string message = absl::StrCat("POST ", url, ": ", detail);
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return absl::DeadlineExceededError(message);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return absl::InvalidArgumentError(message);
    default:
      return absl::UnavailableError(message);
  }
}

}  // namespace ragd::models
