#pragma once
// ragd's log output: spdlog to stderr as text (the default) or as one JSON object per line
// (log.format: json) for log collectors, and the access log (one line per RPC at info).
//
// JSON lines look like {"ts":"2026-11-23T07:21:39.123Z","level":"info","msg":"..."}; access
// lines add "request_id", "method", "collection", "key", "code", "latency_ms". Nothing at
// info level carries document text, queries or secrets: handlers log ids and counts only.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ragd::services {

// `level` as log.level, `format` "text" or "json". INVALID_ARGUMENT for anything else.
absl::Status ConfigureLogging(absl::string_view level, absl::string_view format);

struct AccessRecord {
  std::string request_id;
  std::string method;      // "/ragd.v1.Points/Upsert"
  std::string collection;  // "" when the call names none
  std::string key;         // the API key's configured name, "" without auth
  std::string code;        // "OK", "NOT_FOUND"...
  std::string peer;
  double latency_ms = 0;
};
// One access-log line at info (at debug for health checks, which probes send every second).
void LogAccess(const AccessRecord& record);
// Whether LogAccess would write a line for `method` at the current level: a caller skips
// building the record (the peer's address, string copies) when it would not.
bool AccessLogEnabled(absl::string_view method);

// `s` escaped for a JSON string (without the quotes).
std::string JsonEscape(absl::string_view s);

}  // namespace ragd::services
