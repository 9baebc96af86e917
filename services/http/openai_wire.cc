#include <new>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/utf8.h"
#include "ingest/chunk_schema.h"
#include "services/http/http_server.h"
#include "services/http/openai_wire_internal.h"

namespace ragd::services::http_internal {

absl::StatusOr<index::Filter> ParseFilterAt(const Json& j, const std::string& field, int depth);

namespace {

absl::Status Bad(const std::string& field, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", std::string(what)));
}

// The typed accessors: absent or null is nullopt; a value of another type is an error naming
// the field. None of them calls an nlohmann accessor that can throw on outside data.
absl::StatusOr<std::optional<std::string>> OptString(const Json& o, const char* key,
                                                     const std::string& prefix = "") {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return Bad(prefix + key, "must be a string");
  const std::string& s = it->get_ref<const std::string&>();
  if (!IsValidUtf8(s)) return Bad(prefix + key, "not valid UTF-8");
  return std::optional<std::string>(s);
}

absl::StatusOr<std::optional<double>> OptNumber(const Json& o, const char* key,
                                                const std::string& prefix = "") {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::optional<double>();
  if (!it->is_number()) return Bad(prefix + key, "must be a number");
  return std::optional<double>(it->get<double>());
}

absl::StatusOr<std::optional<uint64_t>> OptCount(const Json& o, const char* key,
                                                 const std::string& prefix = "") {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::optional<uint64_t>();
  if (it->is_number_unsigned()) return std::optional<uint64_t>(it->get<uint64_t>());
  return Bad(prefix + key, "must be a non-negative integer");
}

absl::StatusOr<std::optional<bool>> OptBool(const Json& o, const char* key,
                                            const std::string& prefix = "") {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::optional<bool>();
  if (!it->is_boolean()) return Bad(prefix + key, "must be true or false");
  return std::optional<bool>(it->get<bool>());
}

// A message's content: a string, or an array of parts of which only {"type":"text"} is
// supported; null (an assistant turn that called tools) is "".
absl::StatusOr<std::string> ContentOf(const Json& message, const std::string& field) {
  auto it = message.find("content");
  if (it == message.end() || it->is_null()) return std::string();
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    if (!IsValidUtf8(s)) return Bad(field, "not valid UTF-8");
    return s;
  }
  if (!it->is_array()) return Bad(field, "must be a string or an array of content parts");
  std::string text;
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& part = (*it)[i];
    std::string f = absl::StrCat(field, "[", i, "]");
    if (!part.is_object()) return Bad(f, "must be an object");
    ASSIGN_OR_RETURN(std::optional<std::string> type, OptString(part, "type", f + "."));
    if (type.value_or("") != "text") {
      return Bad(f + ".type", "only \"text\" content parts are supported");
    }
    ASSIGN_OR_RETURN(std::optional<std::string> t, OptString(part, "text", f + "."));
    if (!t) return Bad(f + ".text", "required");
    text += *t;
  }
  return text;
}

absl::StatusOr<index::MetadataValue> ValueOf(const Json& v, const std::string& field) {
  if (v.is_string()) return index::MetadataValue(v.get<std::string>());
  if (v.is_boolean()) return index::MetadataValue(v.get<bool>());
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return Bad(field, "integer out of range");
    }
    return index::MetadataValue(v.get<int64_t>());
  }
  if (v.is_number_float()) return index::MetadataValue(v.get<double>());
  if (v.is_array()) {
    std::vector<std::string> list;
    for (const Json& e : v) {
      if (!e.is_string()) return Bad(field, "a list value must hold strings only");
      list.push_back(e.get<std::string>());
    }
    return index::MetadataValue(std::move(list));
  }
  return Bad(field, "must be a string, number, boolean or list of strings");
}

absl::StatusOr<DataSource> ParseDataSources(const Json& sources) {
  if (!sources.is_array() || sources.size() != 1) {
    return Bad("data_sources", "must be an array of exactly one data source");
  }
  const Json& s = sources[0];
  if (!s.is_object()) return Bad("data_sources[0]", "must be an object");
  ASSIGN_OR_RETURN(std::optional<std::string> type, OptString(s, "type", "data_sources[0]."));
  if (type.value_or("") != "ragd") {
    return Bad("data_sources[0].type", "must be \"ragd\" (the only data source ragd serves)");
  }
  auto p = s.find("parameters");
  if (p == s.end() || !p->is_object()) {
    return Bad("data_sources[0].parameters", "required, an object");
  }
  const std::string prefix = "data_sources[0].parameters.";
  DataSource d;
  ASSIGN_OR_RETURN(std::optional<std::string> collection, OptString(*p, "collection", prefix));
  if (!collection || collection->empty()) return Bad(prefix + "collection", "required");
  d.collection = *collection;
  ASSIGN_OR_RETURN(std::optional<uint64_t> top_k, OptCount(*p, "top_k", prefix));
  // Azure's name for the same knob.
  ASSIGN_OR_RETURN(std::optional<uint64_t> top_n, OptCount(*p, "top_n_documents", prefix));
  if (top_k) {
    d.top_k = *top_k;
  } else if (top_n) {
    d.top_k = *top_n;
  }
  if (auto f = p->find("filter"); f != p->end() && !f->is_null()) {
    ASSIGN_OR_RETURN(d.filter, ParseFilter(*f, prefix + "filter"));
  }
  ASSIGN_OR_RETURN(std::optional<std::string> mode, OptString(*p, "search_mode", prefix));
  if (mode) {
    if (*mode == "vector") {
      d.search_mode = index::SearchMode::kVector;
    } else if (*mode == "text") {
      d.search_mode = index::SearchMode::kText;
    } else if (*mode == "hybrid") {
      d.search_mode = index::SearchMode::kHybrid;
    } else {
      return Bad(prefix + "search_mode",
                 absl::StrCat("expected vector, text or hybrid, got \"", EchoPrefix(*mode), "\""));
    }
  }
  ASSIGN_OR_RETURN(std::optional<double> min_score, OptNumber(*p, "min_score", prefix));
  if (min_score) d.min_score = static_cast<float>(*min_score);
  ASSIGN_OR_RETURN(std::optional<uint64_t> max_sources, OptCount(*p, "max_sources", prefix));
  if (max_sources) d.max_sources = *max_sources;
  ASSIGN_OR_RETURN(std::optional<bool> allow_partial, OptBool(*p, "allow_partial", prefix));
  d.allow_partial = allow_partial.value_or(false);
  return d;
}

}  // namespace

absl::Status WithJsonGuard(const std::function<absl::Status()>& fn) {
  try {
    return fn();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("request body: ", e.what()));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory");
  } catch (const std::exception& e) {
    return absl::InternalError(e.what());
  } catch (...) {
    return absl::InternalError("unknown exception");
  }
}

absl::StatusOr<Json> ParseJsonObject(std::string_view body) {
  Json json = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return absl::InvalidArgumentError(
        "request body: not valid JSON (expected an object, Content-Type: application/json)");
  }
  if (!json.is_object()) return absl::InvalidArgumentError("request body: must be a JSON object");
  return json;
}

absl::StatusOr<index::Filter> ParseFilter(const Json& j, const std::string& field) {
  return ParseFilterAt(j, field, 1);
}

absl::StatusOr<index::Filter> ParseFilterAt(const Json& j, const std::string& field, int depth) {
  // Bounded before recursing: a hostile body nests far deeper than a stack allows.
  if (depth > index::Filter::kMaxDepth) {
    return Bad(field, absl::StrCat("nested deeper than ", index::Filter::kMaxDepth));
  }
  if (!j.is_object()) return Bad(field, "must be an object");
  auto group = [&](const char* key, index::Filter::Kind kind) -> absl::StatusOr<index::Filter> {
    const Json& list = j[key];
    if (!list.is_array() || list.empty())
      return Bad(field + "." + key, "must be a non-empty array");
    std::vector<index::Filter> children;
    for (size_t i = 0; i < list.size(); ++i) {
      ASSIGN_OR_RETURN(
          index::Filter c,
          ParseFilterAt(list[i], absl::StrCat(field, ".", key, "[", i, "]"), depth + 1));
      children.push_back(std::move(c));
    }
    return kind == index::Filter::Kind::kAnd ? index::Filter::And(std::move(children))
                                             : index::Filter::Or(std::move(children));
  };
  if (j.contains("and")) return group("and", index::Filter::Kind::kAnd);
  if (j.contains("or")) return group("or", index::Filter::Kind::kOr);
  if (j.contains("not")) {
    ASSIGN_OR_RETURN(index::Filter c, ParseFilterAt(j["not"], field + ".not", depth + 1));
    return index::Filter::Not(std::move(c));
  }
  index::Condition c;
  if (j.contains("document_id")) {
    const Json& d = j["document_id"];
    if (!d.is_string()) return Bad(field + ".document_id", "must be a string");
    c.on_document_id = true;
    c.value = d.get<std::string>();
    return index::Filter::Cond(std::move(c));
  }
  ASSIGN_OR_RETURN(std::optional<std::string> key, OptString(j, "key", field + "."));
  if (!key || key->empty()) {
    return Bad(field, "expected {key, equals|in|range}, {document_id}, {and}, {or} or {not}");
  }
  c.key = *key;
  if (j.contains("equals")) {
    c.op = index::Condition::Op::kEquals;
    ASSIGN_OR_RETURN(c.value, ValueOf(j["equals"], field + ".equals"));
  } else if (j.contains("in")) {
    c.op = index::Condition::Op::kIn;
    const Json& in = j["in"];
    if (!in.is_array() || in.empty()) return Bad(field + ".in", "must be a non-empty array");
    for (size_t i = 0; i < in.size(); ++i) {
      ASSIGN_OR_RETURN(index::MetadataValue v, ValueOf(in[i], absl::StrCat(field, ".in[", i, "]")));
      c.values.push_back(std::move(v));
    }
  } else if (j.contains("range")) {
    c.op = index::Condition::Op::kRange;
    const Json& r = j["range"];
    if (!r.is_object()) return Bad(field + ".range", "must be an object");
    const std::string p = field + ".range.";
    ASSIGN_OR_RETURN(c.gt, OptNumber(r, "gt", p));
    ASSIGN_OR_RETURN(c.gte, OptNumber(r, "gte", p));
    ASSIGN_OR_RETURN(c.lt, OptNumber(r, "lt", p));
    ASSIGN_OR_RETURN(c.lte, OptNumber(r, "lte", p));
  } else {
    return Bad(field, "a condition needs equals, in or range");
  }
  return index::Filter::Cond(std::move(c));
}

absl::StatusOr<ChatCompletionRequest> ParseChatCompletionRequest(const Json& body) {
  ChatCompletionRequest r;
  ASSIGN_OR_RETURN(std::optional<std::string> model, OptString(body, "model"));
  if (!model || model->empty()) return Bad("model", "required");
  r.model = *model;
  auto messages = body.find("messages");
  if (messages == body.end() || !messages->is_array() || messages->empty()) {
    return Bad("messages", "required, a non-empty array");
  }
  for (size_t i = 0; i < messages->size(); ++i) {
    const Json& m = (*messages)[i];
    std::string field = absl::StrCat("messages[", i, "]");
    if (!m.is_object()) return Bad(field, "must be an object");
    ASSIGN_OR_RETURN(std::optional<std::string> role, OptString(m, "role", field + "."));
    models::ChatMessage message;
    if (role == "system" || role == "developer") {
      message.role = models::ChatRole::kSystem;
    } else if (role == "user") {
      message.role = models::ChatRole::kUser;
    } else if (role == "assistant") {
      message.role = models::ChatRole::kAssistant;
    } else {
      return Bad(field + ".role",
                 "expected system, developer, user or assistant (tools are not supported)");
    }
    ASSIGN_OR_RETURN(message.content, ContentOf(m, field + ".content"));
    r.messages.push_back(std::move(message));
  }
  ASSIGN_OR_RETURN(std::optional<bool> stream, OptBool(body, "stream"));
  r.stream = stream.value_or(false);
  if (auto so = body.find("stream_options"); so != body.end() && !so->is_null()) {
    if (!so->is_object()) return Bad("stream_options", "must be an object");
    ASSIGN_OR_RETURN(std::optional<bool> usage, OptBool(*so, "include_usage", "stream_options."));
    r.include_usage = usage.value_or(false);
  }
  ASSIGN_OR_RETURN(r.temperature, OptNumber(body, "temperature"));
  ASSIGN_OR_RETURN(r.top_p, OptNumber(body, "top_p"));
  ASSIGN_OR_RETURN(std::optional<uint64_t> max_completion, OptCount(body, "max_completion_tokens"));
  ASSIGN_OR_RETURN(std::optional<uint64_t> max_tokens, OptCount(body, "max_tokens"));
  if (max_completion) {
    r.max_tokens = *max_completion;
  } else if (max_tokens) {
    r.max_tokens = *max_tokens;
  }
  ASSIGN_OR_RETURN(std::optional<uint64_t> n, OptCount(body, "n"));
  if (n && *n != 1) return Bad("n", "only 1 is supported");
  if (auto stop = body.find("stop"); stop != body.end() && !stop->is_null()) {
    if (stop->is_string()) {
      r.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
      for (const Json& s : *stop) {
        if (!s.is_string()) return Bad("stop", "must be a string or an array of strings");
        r.stop.push_back(s.get<std::string>());
      }
    } else {
      return Bad("stop", "must be a string or an array of strings");
    }
  }
  ASSIGN_OR_RETURN(std::optional<std::string> user, OptString(body, "user"));
  r.user = user.value_or("");
  if (auto ds = body.find("data_sources"); ds != body.end() && !ds->is_null()) {
    ASSIGN_OR_RETURN(r.data_source, ParseDataSources(*ds));
  }
  for (const char* unsupported : {"tools", "functions", "logprobs", "response_format"}) {
    auto it = body.find(unsupported);
    if (it != body.end() && !it->is_null() && !(it->is_boolean() && !it->get<bool>())) {
      return Bad(unsupported, "not supported by ragd");
    }
  }
  return r;
}

absl::StatusOr<EmbeddingsRequest> ParseEmbeddingsRequest(const Json& body) {
  EmbeddingsRequest r;
  ASSIGN_OR_RETURN(std::optional<std::string> model, OptString(body, "model"));
  if (!model || model->empty()) return Bad("model", "required");
  r.model = *model;
  auto input = body.find("input");
  if (input == body.end() || input->is_null()) return Bad("input", "required");
  if (input->is_string()) {
    r.input.push_back(input->get<std::string>());
  } else if (input->is_array() && !input->empty()) {
    for (size_t i = 0; i < input->size(); ++i) {
      const Json& s = (*input)[i];
      if (!s.is_string()) {
        return Bad(absl::StrCat("input[", i, "]"),
                   "must be a string (token arrays are not supported)");
      }
      r.input.push_back(s.get<std::string>());
    }
  } else {
    return Bad("input", "must be a string or a non-empty array of strings");
  }
  if (r.input.size() > kMaxEmbeddingInputs) {
    return Bad("input", absl::StrCat(r.input.size(), " texts; at most ", kMaxEmbeddingInputs,
                                     " per request"));
  }
  for (size_t i = 0; i < r.input.size(); ++i) {
    if (r.input[i].empty()) return Bad(absl::StrCat("input[", i, "]"), "must not be empty");
    if (!IsValidUtf8(r.input[i])) return Bad(absl::StrCat("input[", i, "]"), "not valid UTF-8");
  }
  ASSIGN_OR_RETURN(std::optional<std::string> format, OptString(body, "encoding_format"));
  if (format && *format != "float" && *format != "base64") {
    return Bad("encoding_format", "expected float or base64");
  }
  r.base64 = format.value_or("float") == "base64";
  ASSIGN_OR_RETURN(std::optional<uint64_t> dimensions, OptCount(body, "dimensions"));
  if (dimensions) r.dimensions = *dimensions;
  return r;
}

namespace {

// The request field a 400 is about, as OpenAI's `param`: ragd's parse errors start with the
// field's path ("messages[0].role: must be a string"); anything else (a sentence, a path with
// spaces) names no field, and `param` stays null.
Json ParamOf(absl::string_view message) {
  const size_t colon = message.find(": ");
  if (colon == 0 || colon == absl::string_view::npos) return nullptr;
  const absl::string_view path = message.substr(0, colon);
  if (!absl::ascii_isalpha(static_cast<unsigned char>(path[0]))) return nullptr;
  for (char c : path) {
    const bool in_path = absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
                         c == '.' || c == '[' || c == ']';
    if (!in_path) return nullptr;
  }
  return std::string(path);
}

}  // namespace

std::string ErrorBody(const absl::Status& status) {
  const int http = HttpStatusOf(status.code());
  const char* type = "server_error";
  Json code = nullptr;
  switch (http) {
    case 400:
      type = "invalid_request_error";
      break;
    case 401:
      type = "authentication_error";
      code = "invalid_api_key";
      break;
    case 403:
      type = "permission_error";
      break;
    case 404:
      type = "invalid_request_error";
      code = "not_found";
      break;
    case 429:
      type = "rate_limit_error";
      code = "rate_limit_exceeded";
      break;
    default:
      break;
  }
  Json error = {{"message", std::string(status.message())},
                {"type", type},
                {"param", http == 400 ? ParamOf(status.message()) : Json(nullptr)},
                {"code", code}};
  return Dump(Json{{"error", std::move(error)}});
}

Json CoverageOf(const rag::ShardCoverage& coverage) {
  return {{"shards_total", coverage.shards_total},
          {"shards_answered", coverage.shards_answered},
          {"missing_shards", coverage.missing_shards}};
}

Json CitationOf(const index::ScoredPoint& hit) {
  const index::Point& p = hit.point;
  Json c = {{"content", p.text},         {"title", nullptr}, {"url", nullptr},
            {"filepath", p.document_id}, {"chunk_id", p.id}, {"document_id", p.document_id},
            {"score", hit.score}};
  auto string_field = [&](std::string_view key) -> const std::string* {
    auto it = p.metadata.find(std::string(key));
    return it == p.metadata.end() ? nullptr : std::get_if<std::string>(&it->second);
  };
  auto int_field = [&](std::string_view key) -> const int64_t* {
    auto it = p.metadata.find(std::string(key));
    return it == p.metadata.end() ? nullptr : std::get_if<int64_t>(&it->second);
  };
  if (const std::string* title = string_field(ingest::kTitleKey)) c["title"] = *title;
  if (const std::string* url = string_field("url")) c["url"] = *url;
  if (auto it = p.metadata.find(std::string(ingest::kHeadingPathKey)); it != p.metadata.end()) {
    if (const auto* list = std::get_if<std::vector<std::string>>(&it->second)) {
      c["heading_path"] = *list;
    }
  }
  if (const int64_t* page = int_field(ingest::kPageKey)) c["page"] = *page;
  if (const int64_t* ordinal = int_field(ingest::kOrdinalKey)) c["ordinal"] = *ordinal;
  if (const int64_t* begin = int_field(ingest::kByteBeginKey)) c["byte_begin"] = *begin;
  if (const int64_t* end = int_field(ingest::kByteEndKey)) c["byte_end"] = *end;
  return c;
}

std::string Dump(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace ragd::services::http_internal
