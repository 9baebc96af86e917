#include "cli/cli_json.h"

#include <google/protobuf/util/json_util.h>

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace ragd::cli {
namespace {

using nlohmann::json;

absl::Status Invalid(absl::string_view path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path.empty() ? "filter" : path, ": ", what));
}

std::string Child(absl::string_view path, absl::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
}

// Strings, integers, floats and booleans; arrays of strings only where `allow_list`.
absl::StatusOr<v1::Value> ValueFromJson(const json& j, absl::string_view path, bool allow_list) {
  v1::Value v;
  if (j.is_string()) {
    v.set_string_value(j.get<std::string>());
  } else if (j.is_boolean()) {
    v.set_bool_value(j.get<bool>());
  } else if (j.is_number_integer()) {
    if (j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return Invalid(path, "integer out of int64 range");
    }
    v.set_int_value(j.get<int64_t>());
  } else if (j.is_number_float()) {
    v.set_double_value(j.get<double>());
  } else if (j.is_array() && allow_list) {
    for (const json& e : j) {
      if (!e.is_string()) return Invalid(path, "lists may hold strings only");
      v.mutable_list_value()->add_values(e.get<std::string>());
    }
  } else {
    return Invalid(path, absl::StrCat("unsupported value ", j.dump()));
  }
  return v;
}

absl::StatusOr<v1::ValueList> ValueListFromJson(const json& j, absl::string_view path) {
  if (!j.is_array() || j.empty()) return Invalid(path, "expected a non-empty array");
  v1::ValueList list;
  for (size_t i = 0; i < j.size(); ++i) {
    absl::StatusOr<v1::Value> v = ValueFromJson(j[i], absl::StrCat(path, "[", i, "]"), false);
    if (!v.ok()) return v.status();
    *list.add_values() = *std::move(v);
  }
  return list;
}

absl::StatusOr<v1::Filter> FilterAt(const json& j, absl::string_view path, int depth);

absl::StatusOr<v1::FilterList> FilterListAt(const json& j, absl::string_view path, int depth) {
  if (!j.is_array() || j.empty()) return Invalid(path, "expected a non-empty array of filters");
  v1::FilterList list;
  for (size_t i = 0; i < j.size(); ++i) {
    absl::StatusOr<v1::Filter> f = FilterAt(j[i], absl::StrCat(path, "[", i, "]"), depth + 1);
    if (!f.ok()) return f.status();
    *list.add_filters() = *std::move(f);
  }
  return list;
}

absl::Status RangeFromJson(const json& j, absl::string_view path, v1::Range* range) {
  if (!j.is_object() || j.empty()) return Invalid(path, "expected {\"gte\": ..., \"lt\": ...}");
  for (const auto& [bound, value] : j.items()) {
    if (!value.is_number()) return Invalid(Child(path, bound), "expected a number");
    double d = value.get<double>();
    if (bound == "gt") {
      range->set_gt(d);
    } else if (bound == "gte") {
      range->set_gte(d);
    } else if (bound == "lt") {
      range->set_lt(d);
    } else if (bound == "lte") {
      range->set_lte(d);
    } else {
      return Invalid(Child(path, bound), "unknown bound (use gt, gte, lt, lte)");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Filter> ConditionAt(const json& j, absl::string_view path) {
  v1::Filter filter;
  v1::Condition* c = filter.mutable_condition();
  if (j.contains("document_id")) {
    if (j.size() != 1) return Invalid(path, "document_id takes no other keys");
    const json& d = j["document_id"];
    c->set_document_id(true);
    if (d.is_string()) {
      c->mutable_equals()->set_string_value(d.get<std::string>());
    } else if (d.is_object() && d.size() == 1 && d.contains("in")) {
      absl::StatusOr<v1::ValueList> in = ValueListFromJson(d["in"], Child(path, "document_id.in"));
      if (!in.ok()) return in.status();
      *c->mutable_in() = *std::move(in);
    } else {
      return Invalid(Child(path, "document_id"), "expected a string or {\"in\": [...]}");
    }
    return filter;
  }
  if (!j.contains("key") || !j["key"].is_string()) {
    return Invalid(path, "expected \"key\", \"document_id\", \"and\", \"or\" or \"not\"");
  }
  c->set_key(j["key"].get<std::string>());
  int matches = 0;
  for (const auto& [name, value] : j.items()) {
    if (name == "key") continue;
    ++matches;
    if (name == "equals") {
      absl::StatusOr<v1::Value> v = ValueFromJson(value, Child(path, "equals"), false);
      if (!v.ok()) return v.status();
      *c->mutable_equals() = *std::move(v);
    } else if (name == "in") {
      absl::StatusOr<v1::ValueList> in = ValueListFromJson(value, Child(path, "in"));
      if (!in.ok()) return in.status();
      *c->mutable_in() = *std::move(in);
    } else if (name == "range") {
      absl::Status s = RangeFromJson(value, Child(path, "range"), c->mutable_range());
      if (!s.ok()) return s;
    } else {
      return Invalid(Child(path, name), "unknown field (use equals, in or range)");
    }
  }
  if (matches != 1) return Invalid(path, "set exactly one of equals, in, range");
  return filter;
}

absl::StatusOr<v1::Filter> FilterAt(const json& j, absl::string_view path, int depth) {
  if (depth > 16) return Invalid(path, "nested deeper than 16");
  if (!j.is_object()) return Invalid(path, "expected an object");
  for (const char* group : {"and", "or", "not"}) {
    if (!j.contains(group)) continue;
    if (j.size() != 1) return Invalid(path, absl::StrCat("\"", group, "\" takes no other keys"));
    v1::Filter filter;
    std::string child = Child(path, group);
    if (std::string_view(group) == "not") {
      absl::StatusOr<v1::Filter> inner = FilterAt(j[group], child, depth + 1);
      if (!inner.ok()) return inner.status();
      *filter.mutable_not_() = *std::move(inner);
      return filter;
    }
    absl::StatusOr<v1::FilterList> list = FilterListAt(j[group], child, depth);
    if (!list.ok()) return list.status();
    if (std::string_view(group) == "and") {
      *filter.mutable_and_() = *std::move(list);
    } else {
      *filter.mutable_or_() = *std::move(list);
    }
    return filter;
  }
  return ConditionAt(j, path);
}

absl::StatusOr<json> ParseJson(absl::string_view text, absl::string_view what) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(what, ": invalid JSON"));
  return j;
}

}  // namespace

absl::StatusOr<v1::Filter> FilterFromJson(const json& j) { return FilterAt(j, "filter", 1); }

absl::StatusOr<v1::Filter> ParseFilter(absl::string_view text) {
  absl::StatusOr<json> j = ParseJson(text, "filter");
  if (!j.ok()) return j.status();
  return FilterFromJson(*j);
}

absl::StatusOr<v1::Point> PointFromJson(const json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("point: expected an object");
  v1::Point p;
  for (const auto& [name, value] : j.items()) {
    if (name == "id") {
      if (!value.is_string()) return Invalid("id", "expected a string");
      p.set_id(value.get<std::string>());
    } else if (name == "vector") {
      if (!value.is_array()) return Invalid("vector", "expected an array of numbers");
      p.mutable_vector()->Reserve(static_cast<int>(value.size()));
      for (const json& x : value) {
        if (!x.is_number()) return Invalid("vector", "expected an array of numbers");
        p.add_vector(x.get<float>());
      }
    } else if (name == "text") {
      if (!value.is_string()) return Invalid("text", "expected a string");
      p.set_text(value.get<std::string>());
    } else if (name == "document_id") {
      if (!value.is_string()) return Invalid("document_id", "expected a string");
      p.set_document_id(value.get<std::string>());
    } else if (name == "metadata") {
      if (!value.is_object()) return Invalid("metadata", "expected an object");
      for (const auto& [key, v] : value.items()) {
        absl::StatusOr<v1::Value> mv = ValueFromJson(v, Child("metadata", key), true);
        if (!mv.ok()) return mv.status();
        (*p.mutable_metadata())[key] = *std::move(mv);
      }
    } else {
      return Invalid(name, "unknown field (use id, vector, text, document_id, metadata)");
    }
  }
  if (p.id().empty()) return Invalid("id", "missing");
  return p;
}

absl::StatusOr<v1::Point> ParsePoint(absl::string_view line) {
  absl::StatusOr<json> j = ParseJson(line, "point");
  if (!j.ok()) return j.status();
  return PointFromJson(*j);
}

absl::StatusOr<std::vector<float>> ParseVector(absl::string_view text) {
  absl::StatusOr<json> j = ParseJson(text, "vector");
  if (!j.ok()) return j.status();
  if (!j->is_array() || j->empty()) return Invalid("vector", "expected an array of numbers");
  std::vector<float> v;
  v.reserve(j->size());
  for (const json& x : *j) {
    if (!x.is_number()) return Invalid("vector", "expected an array of numbers");
    v.push_back(x.get<float>());
  }
  return v;
}

json ToJson(const v1::Value& value) {
  switch (value.kind_case()) {
    case v1::Value::kStringValue:
      return value.string_value();
    case v1::Value::kIntValue:
      return value.int_value();
    case v1::Value::kDoubleValue:
      return value.double_value();
    case v1::Value::kBoolValue:
      return value.bool_value();
    case v1::Value::kListValue:
      return json(std::vector<std::string>(value.list_value().values().begin(),
                                           value.list_value().values().end()));
    case v1::Value::KIND_NOT_SET:
      break;
  }
  return nullptr;
}

json ToJson(const v1::Point& point) {
  json j = {{"id", point.id()}};
  if (!point.vector().empty()) {
    j["vector"] = std::vector<float>(point.vector().begin(), point.vector().end());
  }
  j["text"] = point.text();
  j["document_id"] = point.document_id();
  json metadata = json::object();
  for (const auto& [key, value] : point.metadata()) metadata[key] = ToJson(value);
  j["metadata"] = std::move(metadata);
  return j;
}

json ToJson(const v1::ScoredPoint& hit) {
  json j = ToJson(hit.point());
  j["score"] = hit.score();
  if (hit.has_vector_leg()) {
    j["vector_leg"] = {{"rank", hit.vector_leg().rank()}, {"score", hit.vector_leg().score()}};
  }
  if (hit.has_text_leg()) {
    j["text_leg"] = {{"rank", hit.text_leg().rank()}, {"score", hit.text_leg().score()}};
  }
  return j;
}

std::string AnalyzerName(v1::Analyzer analyzer) {
  switch (analyzer) {
    case v1::ANALYZER_UNSPECIFIED:
    case v1::ANALYZER_AUTO:
      return "auto";
    case v1::ANALYZER_ENGLISH:
      return "english";
    case v1::ANALYZER_KOREAN:
      return "korean";
    case v1::ANALYZER_SIMPLE:
      return "simple";
    default:
      break;
  }
  return absl::StrCat("analyzer ", static_cast<int>(analyzer));
}

std::string LexicalSummary(const v1::LexicalSpec& spec) {
  if (!spec.enabled()) return "off";
  return absl::StrFormat("%s (k1 %g, b %g)", AnalyzerName(spec.analyzer()), spec.k1(), spec.b());
}

std::string LegsSummary(const v1::LegHit* vector_leg, const v1::LegHit* text_leg) {
  std::string out;
  if (vector_leg != nullptr) absl::StrAppend(&out, "vector #", vector_leg->rank());
  if (text_leg != nullptr) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", "text #", text_leg->rank());
  }
  return out;
}

absl::Status ApplySearchModeFlags(const SearchModeFlags& flags, v1::SearchMode* mode,
                                  v1::FusionOptions* fusion) {
  if (flags.mode.empty()) {
    *mode = v1::SEARCH_MODE_UNSPECIFIED;
  } else if (flags.mode == "vector") {
    *mode = v1::SEARCH_MODE_VECTOR;
  } else if (flags.mode == "text") {
    *mode = v1::SEARCH_MODE_TEXT;
  } else if (flags.mode == "hybrid") {
    *mode = v1::SEARCH_MODE_HYBRID;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--mode: expected vector, text or hybrid, got \"", flags.mode, "\""));
  }
  if (flags.fusion.empty() || flags.fusion == "rrf") {
    fusion->set_method(flags.fusion.empty() ? v1::FUSION_METHOD_UNSPECIFIED
                                            : v1::FUSION_METHOD_RRF);
  } else if (flags.fusion == "weighted") {
    fusion->set_method(v1::FUSION_METHOD_WEIGHTED);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--fusion: expected rrf or weighted, got \"", flags.fusion, "\""));
  }
  if (flags.rrf_k) fusion->set_rrf_k(*flags.rrf_k);
  if (flags.alpha) fusion->set_alpha(*flags.alpha);
  fusion->set_vector_candidates(flags.vector_candidates);
  fusion->set_text_candidates(flags.text_candidates);
  return absl::OkStatus();
}

namespace {

// As ragctl's --quantization takes it.
std::string QuantizationName(v1::Quantization q) {
  switch (q) {
    case v1::QUANTIZATION_NONE:
      return "none";
    case v1::QUANTIZATION_F16:
      return "f16";
    case v1::QUANTIZATION_INT8:
      return "int8";
    default:
      return absl::StrCat("quantization(", static_cast<int>(q), ")");
  }
}

}  // namespace

json ToJson(const v1::CollectionInfo& info) {
  json index;
  switch (info.index().kind_case()) {
    case v1::IndexSpec::kHnsw:
      index = {{"kind", "hnsw"},
               {"m", info.index().hnsw().m()},
               {"ef_construction", info.index().hnsw().ef_construction()},
               {"ef", info.index().hnsw().ef()},
               {"quantization", QuantizationName(info.index().hnsw().quantization())}};
      break;
    case v1::IndexSpec::kFaiss:
      index = {{"kind", "faiss"},
               {"index_factory", info.index().faiss().index_factory()},
               {"ef", info.index().faiss().ef()},
               {"nprobe", info.index().faiss().nprobe()}};
      break;
    case v1::IndexSpec::kFlat:
      index = {{"kind", "flat"}};
      break;
    case v1::IndexSpec::KIND_NOT_SET:
      index = nullptr;
      break;
  }
  return {{"name", info.name()},
          {"dimension", info.dimension()},
          {"metric", MetricName(info.metric())},
          {"index", index},
          {"shards", info.shards()},
          {"points", info.points()},
          {"deleted_points", info.deleted_points()},
          {"index_bytes", info.index_bytes()},
          {"storage_bytes", info.storage_bytes()},
          {"last_sequence", info.last_sequence()},
          {"vector_searches", info.vector_searches()},
          {"vector_search_cpu_seconds", info.vector_search_cpu_seconds()},
          {"lexical",
           {{"enabled", info.lexical().enabled()},
            {"analyzer", AnalyzerName(info.lexical().analyzer())},
            {"k1", info.lexical().k1()},
            {"b", info.lexical().b()}}},
          {"created_at_unix_ms",
           info.created_at().seconds() * 1000 + info.created_at().nanos() / 1000000}};
}

std::string MetricName(v1::Metric metric) {
  switch (metric) {
    case v1::METRIC_UNSPECIFIED:
    case v1::METRIC_COSINE:
      return "cosine";
    case v1::METRIC_DOT:
      return "dot";
    case v1::METRIC_L2:
      return "l2";
    default:  // open enum: a newer server may send a value this client does not know
      break;
  }
  return absl::StrCat("metric(", static_cast<int>(metric), ")");
}

std::string IndexSummary(const v1::IndexSpec& spec) {
  switch (spec.kind_case()) {
    case v1::IndexSpec::kHnsw:
      return absl::StrCat("hnsw(m=", spec.hnsw().m(),
                          ",ef_construction=", spec.hnsw().ef_construction(),
                          ",ef=", spec.hnsw().ef(),
                          spec.hnsw().quantization() == v1::QUANTIZATION_NONE
                              ? ""
                              : absl::StrCat(",quantization=",
                                             QuantizationName(spec.hnsw().quantization())),
                          ")");
    case v1::IndexSpec::kFaiss:
      return absl::StrCat("faiss(", spec.faiss().index_factory(), ",ef=", spec.faiss().ef(),
                          ",nprobe=", spec.faiss().nprobe(), ")");
    case v1::IndexSpec::kFlat:
      return "flat";
    case v1::IndexSpec::KIND_NOT_SET:
      break;
  }
  return "hnsw";
}

std::string ProtoJsonLine(const google::protobuf::Message& message, bool with_defaults) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = with_defaults;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) return "{}";
  return json;
}

}  // namespace ragd::cli
