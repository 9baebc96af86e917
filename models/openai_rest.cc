#include "models/openai_rest.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/utf8.h"

namespace ragd::models {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxQuotedMessage = 400;
constexpr int64_t kMaxRetryAfterMs = int64_t{24} * 3600 * 1000;

std::string Quote(std::string_view s) {
  if (s.size() <= kMaxQuotedMessage) return std::string(s);
  return absl::StrCat(std::string(s.substr(0, Utf8SafePrefix(s, kMaxQuotedMessage))), "...");
}

// A non-negative finite decimal number (digits, one optional '.'), the whole string. strtod
// would also take "inf", "nan", hex and exponents, none of which a header should carry.
std::optional<double> ParseDecimal(std::string_view s) {
  if (s.empty() || s.size() > 32) return std::nullopt;
  bool digits = false, dot = false;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      digits = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      return std::nullopt;
    }
  }
  if (!digits) return std::nullopt;
  double v = std::strtod(std::string(s).c_str(), nullptr);
  if (!std::isfinite(v) || v < 0) return std::nullopt;
  return v;
}

std::chrono::milliseconds ClampedMs(double ms) {
  double up = std::ceil(ms);
  if (up >= static_cast<double>(kMaxRetryAfterMs))
    return std::chrono::milliseconds(kMaxRetryAfterMs);
  return std::chrono::milliseconds(static_cast<int64_t>(up));
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::optional<int> ParseInt(std::string_view s, size_t min_len, size_t max_len) {
  if (s.size() < min_len || s.size() > max_len) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::optional<unsigned> ParseMonth(std::string_view s) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (unsigned i = 0; i < kMonths.size(); ++i) {
    if (s == kMonths[i]) return i + 1;
  }
  return std::nullopt;
}

// "HH:MM:SS" -> seconds of the day.
std::optional<int64_t> ParseClock(std::string_view s) {
  if (s.size() != 8 || s[2] != ':' || s[5] != ':') return std::nullopt;
  auto h = ParseInt(s.substr(0, 2), 2, 2);
  auto m = ParseInt(s.substr(3, 2), 2, 2);
  auto sec = ParseInt(s.substr(6, 2), 2, 2);
  if (!h || !m || !sec || *h > 23 || *m > 59 || *sec > 60) return std::nullopt;
  return int64_t{*h} * 3600 + *m * 60 + *sec;
}

std::vector<std::string_view> SplitSpaces(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ') ++j;
    if (j > i) parts.push_back(s.substr(i, j - i));
    i = j;
  }
  return parts;
}

// Seconds since the epoch of an HTTP-date in any of its three forms (RFC 9110 5.6.7).
std::optional<int64_t> ParseHttpDate(std::string_view s) {
  std::vector<std::string_view> p = SplitSpaces(s);
  std::optional<int> day, year;
  std::optional<unsigned> month;
  std::optional<int64_t> clock;
  if (p.size() == 6 && p[0].size() == 4 && p[0][3] == ',' && p[5] == "GMT") {
    // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
    day = ParseInt(p[1], 2, 2);
    month = ParseMonth(p[2]);
    year = ParseInt(p[3], 4, 4);
    clock = ParseClock(p[4]);
  } else if (p.size() == 4 && !p[0].empty() && p[0].back() == ',' && p[3] == "GMT" &&
             p[1].size() == 9 && p[1][2] == '-' && p[1][6] == '-') {
    // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT (two-digit years: 70-99 -> 19xx, else 20xx)
    day = ParseInt(p[1].substr(0, 2), 2, 2);
    month = ParseMonth(p[1].substr(3, 3));
    year = ParseInt(p[1].substr(7, 2), 2, 2);
    if (year) *year += *year >= 70 ? 1900 : 2000;
    clock = ParseClock(p[2]);
  } else if (p.size() == 5 && p[0].size() == 3) {
    // asctime: Sun Nov  6 08:49:37 1994
    month = ParseMonth(p[1]);
    day = ParseInt(p[2], 1, 2);
    clock = ParseClock(p[3]);
    year = ParseInt(p[4], 4, 4);
  }
  if (!day || !month || !year || !clock || *day < 1 || *day > 31) return std::nullopt;
  return DaysFromCivil(*year, *month, static_cast<unsigned>(*day)) * 86400 + *clock;
}

// The printable text of a JSON value: strings as they are, anything else as JSON.
std::string Printed(const json& v) {
  if (v.is_string()) return v.get_ref<const std::string&>();
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

bool IsRetryableHttpStatus(int s) { return s == 408 || s == 409 || s == 429 || s >= 500; }

std::optional<std::chrono::milliseconds> ParseRetryAfter(
    const HttpResponse& head, std::chrono::system_clock::time_point now) {
  if (auto ms = head.Header("retry-after-ms")) {
    if (auto v = ParseDecimal(*ms)) return ClampedMs(*v);
  }
  if (auto value = head.Header("retry-after")) {
    if (auto v = ParseDecimal(*value)) return ClampedMs(*v * 1000);
    if (auto when = ParseHttpDate(*value)) {
      const int64_t now_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
      const double delta = static_cast<double>(*when) * 1000 - static_cast<double>(now_ms);
      return ClampedMs(std::max(0.0, delta));
    }
  }
  return std::nullopt;
}

std::chrono::milliseconds BackoffCeiling(const RetryPolicy& policy, size_t retry) {
  const uint64_t cap =
      std::min<uint64_t>(policy.max_backoff_ms, std::numeric_limits<int64_t>::max());
  uint64_t ceiling = std::min(policy.initial_backoff_ms, cap);
  for (size_t i = 0; i < retry && ceiling < cap; ++i) {
    ceiling = ceiling > cap / 2 ? cap : ceiling * 2;
  }
  return std::chrono::milliseconds(static_cast<int64_t>(ceiling));
}

RetryBackoff::RetryBackoff(RetryPolicy policy, std::optional<uint64_t> seed)
    : policy_(policy), rng_(seed ? *seed : std::random_device{}()) {}

std::chrono::milliseconds RetryBackoff::Delay(
    size_t retry, std::optional<std::chrono::milliseconds> server_delay) {
  if (server_delay) {
    return std::min(*server_delay, std::chrono::milliseconds(policy_.max_retry_after_ms));
  }
  const uint64_t ceiling = static_cast<uint64_t>(BackoffCeiling(policy_, retry).count());
  std::lock_guard<std::mutex> lock(mu_);
  return std::chrono::milliseconds(std::uniform_int_distribution<uint64_t>(0, ceiling)(rng_));
}

UpstreamError ParseErrorBody(std::string_view body) {
  UpstreamError out;
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    const std::string whole(body);
    out.message = Quote(std::string(absl::StripAsciiWhitespace(whole)));
    return out;
  }
  auto error = j.find("error");
  if (error != j.end() && !error->is_object()) {
    // {"error": "text"} (some streams), or a number, or null.
    if (!error->is_null()) out.message = Quote(Printed(*error));
    return out;
  }
  const json& e = error != j.end() ? *error : j;
  auto code = e.find("code");
  if (code != e.end() && (code->is_string() || code->is_number_integer())) {
    out.code = Printed(*code);
  }
  if (out.code.empty()) {
    auto inner = e.find("innererror");
    if (inner != e.end() && inner->is_object()) {
      auto c = inner->find("code");
      if (c != inner->end() && c->is_string()) out.code = c->get<std::string>();
    }
  }
  auto message = e.find("message");
  if (message != e.end() && !message->is_null()) out.message = Quote(Printed(*message));
  return out;
}

std::string ScrubSecret(std::string text, std::string_view secret) {
  if (secret.empty()) return text;
  absl::StrReplaceAll({{absl::string_view(secret.data(), secret.size()), "[redacted]"}}, &text);
  return text;
}

absl::StatusOr<ResolvedApiKey> ResolveApiKey(const ApiKeySources& s) {
  ResolvedApiKey out;
  std::string raw;
  if (!s.api_key.empty()) {
    raw = s.api_key;
    out.source = "api_key";
  } else if (!s.api_key_file.empty()) {
    out.source = absl::StrCat("api_key_file \"", s.api_key_file, "\"");
    absl::StatusOr<std::string> read =
        s.secrets == nullptr ? absl::UnavailableError("no secret reader was handed in")
                             : s.secrets->File(s.api_key_file);
    if (!read.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("cannot read the API key of ", s.owner,
                                                        " from ", out.source,
                                                        ": check that it exists and is readable"));
    }
    raw = *std::move(read);
  } else {
    const bool named = !s.api_key_env.empty();
    const std::string& var = named ? s.api_key_env : s.default_env;
    out.source = absl::StrCat("environment variable ", var);
    std::optional<std::string> value;
    if (!var.empty() && s.secrets != nullptr) value = s.secrets->Variable(var);
    if (!value.has_value() || value->empty()) {
      if (!named && !s.required) return out;  // no credential: OpenAI-compatible servers
      return absl::FailedPreconditionError(
          absl::StrCat(s.owner, " needs an API key: the ", out.source,
                       " is not set or empty; set it, or set api_key_file or api_key_env"));
    }
    raw = *std::move(value);
  }
  out.key = std::string(absl::StripAsciiWhitespace(raw));
  if (out.key.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the API key of ", s.owner, " from ", out.source, " is empty"));
  }
  for (char c : out.key) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the API key of ", s.owner, " from ", out.source, " contains control characters"));
    }
  }
  return out;
}

}  // namespace ragd::models
