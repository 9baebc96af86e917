#include "services/server/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ragd::services {
namespace {

std::atomic<bool> g_json{false};

// An access line's message in JSON mode starts with this byte and carries ready-made
// `"field":value` pairs, so that they become top-level fields instead of one escaped string.
constexpr char kFieldsMarker = '\x1e';

// %* in the JSON pattern: `"msg":"<escaped>"`, or the access line's fields.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    absl::string_view text(msg.payload.data(), msg.payload.size());
    std::string out;
    if (!text.empty() && text.front() == kFieldsMarker) {
      out = absl::StrCat("\"msg\":\"access\",", text.substr(1));
    } else {
      out = absl::StrCat("\"msg\":\"", JsonEscape(text), "\"");
    }
    dest.append(out.data(), out.data() + out.size());
  }
  std::unique_ptr<spdlog::custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

}  // namespace

std::string JsonEscape(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += absl::StrFormat("\\u%04x", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  return out;
}

absl::Status ConfigureLogging(absl::string_view level, absl::string_view format) {
  spdlog::level::level_enum lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(absl::StrCat("log.level: unknown level \"", level, "\""));
  }
  spdlog::set_level(lvl);
  if (format == "text") {
    g_json = false;
    return absl::OkStatus();
  }
  if (format != "json") {
    return absl::InvalidArgumentError(
        absl::StrCat("log.format: expected text or json, got \"", format, "\""));
  }
  g_json = true;
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  formatter->add_flag<JsonMessageFlag>('*').set_pattern(
      R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%*})");
  spdlog::set_formatter(std::move(formatter));
  return absl::OkStatus();
}

namespace {
spdlog::level::level_enum AccessLevel(absl::string_view method) {
  return absl::StartsWith(method, "/grpc.health.") ? spdlog::level::debug : spdlog::level::info;
}
}  // namespace

bool AccessLogEnabled(absl::string_view method) {
  return spdlog::should_log(AccessLevel(method));
}

void LogAccess(const AccessRecord& r) {
  const spdlog::level::level_enum level = AccessLevel(r.method);
  if (!spdlog::should_log(level)) return;
  if (g_json) {
    std::string fields = absl::StrFormat(
        "%c\"request_id\":\"%s\",\"method\":\"%s\",\"collection\":\"%s\",\"key\":\"%s\","
        "\"code\":\"%s\",\"latency_ms\":%.3f,\"peer\":\"%s\"",
        kFieldsMarker, JsonEscape(r.request_id), JsonEscape(r.method), JsonEscape(r.collection),
        JsonEscape(r.key), r.code, r.latency_ms, JsonEscape(r.peer));
    spdlog::log(level, "{}", fields);
    return;
  }
  spdlog::log(
      level,
      "access request_id={} method={} collection={} key={} code={} latency_ms={:.3f} peer={}",
      r.request_id, r.method, r.collection.empty() ? "-" : r.collection,
      r.key.empty() ? "-" : r.key, r.code, r.latency_ms, r.peer);
}

}  // namespace ragd::services
