#include <cstdint>
#include <functional>
#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/server/config_yaml_internal.h"

namespace ragd::services {
namespace {

// One key of an entry: how to parse it into an EmbedderConfig and print it back.
struct Field {
  std::string key;
  std::function<absl::Status(const std::string&, models::EmbedderConfig*)> parse;
  std::function<std::string(const models::EmbedderConfig&)> format;
  bool secret = false;
};

template <typename Member>
Field StringField(std::string key, Member member, bool secret = false) {
  return Field{key,
               [member](const std::string& v, models::EmbedderConfig* c) {
                 c->*member = v;
                 return absl::OkStatus();
               },
               [member](const models::EmbedderConfig& c) { return c.*member; }, secret};
}

template <typename Member>
Field UintField(std::string key, Member member) {
  return Field{key,
               [member](const std::string& v, models::EmbedderConfig* c) -> absl::Status {
                 uint64_t n = 0;
                 if (!absl::SimpleAtoi(v, &n)) {
                   return absl::InvalidArgumentError(
                       absl::StrCat("expected a non-negative integer, got \"", v, "\""));
                 }
                 c->*member = static_cast<std::remove_reference_t<decltype(c->*member)>>(n);
                 return absl::OkStatus();
               },
               [member](const models::EmbedderConfig& c) { return absl::StrCat(c.*member); }};
}

const std::vector<Field>& Fields() {
  using C = models::EmbedderConfig;
  static const std::vector<Field>* fields = new std::vector<Field>{
      Field{"provider",
            [](const std::string& v, C* c) -> absl::Status {
              absl::StatusOr<models::EmbedderProvider> p = models::ParseEmbedderProvider(v);
              if (!p.ok()) return p.status();
              c->provider = *p;
              return absl::OkStatus();
            },
            [](const C& c) { return std::string(models::EmbedderProviderName(c.provider)); }},
      StringField("endpoint", &C::endpoint),
      StringField("base_url", &C::base_url),
      StringField("deployment", &C::deployment),
      StringField("model", &C::model),
      StringField("api_version", &C::api_version),
      StringField("api_key", &C::api_key, /*secret=*/true),
      StringField("api_key_env", &C::api_key_env),
      StringField("api_key_file", &C::api_key_file),
      UintField("dimension", &C::dimension),
      Field{"send_dimensions",
            [](const std::string& v, C* c) -> absl::Status {
              std::string lower = absl::AsciiStrToLower(v);
              if (lower != "true" && lower != "false") {
                return absl::InvalidArgumentError(
                    absl::StrCat("expected true or false, got \"", v, "\""));
              }
              c->send_dimensions = lower == "true";
              return absl::OkStatus();
            },
            [](const C& c) { return std::string(c.send_dimensions ? "true" : "false"); }},
      UintField("max_inputs_per_request", &C::max_inputs_per_request),
      UintField("max_tokens_per_request", &C::max_tokens_per_request),
      UintField("max_concurrency", &C::max_concurrency),
      UintField("tokens_per_minute", &C::tokens_per_minute),
      UintField("requests_per_minute", &C::requests_per_minute),
      UintField("rate_limit_burst_ms", &C::rate_limit_burst_ms),
      UintField("max_retries", &C::max_retries),
      UintField("initial_backoff_ms", &C::initial_backoff_ms),
      UintField("max_backoff_ms", &C::max_backoff_ms),
      UintField("max_retry_after_ms", &C::max_retry_after_ms),
      UintField("timeout_ms", &C::timeout_ms),
      UintField("connect_timeout_ms", &C::connect_timeout_ms),
  };
  return *fields;
}

const Field* FindField(const std::string& key) {
  for (const Field& f : Fields()) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

}  // namespace

absl::Status ParseEmbeddersYaml(const YAML::Node& node,
                                std::vector<rag::NamedEmbedderConfig>* out) {
  out->clear();
  if (node.IsNull()) return absl::OkStatus();
  if (!node.IsSequence()) {
    return absl::InvalidArgumentError("embedders: expected a list of embedders");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string where = absl::StrCat("embedders[", i, "]");
    const YAML::Node& entry = node[i];
    if (!entry.IsMap()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": expected a mapping of settings"));
    }
    rag::NamedEmbedderConfig named;
    for (const auto& kv : entry) {
      const std::string key = kv.first.as<std::string>();
      if (!kv.second.IsScalar()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ".", key, ": expected a value"));
      }
      const std::string value = kv.second.Scalar();
      if (key == "name") {
        named.name = value;
        continue;
      }
      const Field* field = FindField(key);
      if (field == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(where, ".", key, ": unknown setting"));
      }
      if (absl::Status s = field->parse(value, &named.config); !s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".", key, ": ", std::string(s.message())));
      }
    }
    if (named.name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ".name: required"));
    }
    if (named.name == "local") {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".name: \"local\" is the built-in embedder; choose another"));
    }
    if (!names.insert(named.name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".name: duplicate \"", named.name, "\""));
    }
    if (absl::Status s = named.config.Validate(); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, " (", named.name, "): ", std::string(s.message())));
    }
    out->push_back(std::move(named));
  }
  return absl::OkStatus();
}

void EmitEmbeddersYaml(const std::vector<rag::NamedEmbedderConfig>& embedders, YAML::Emitter& out) {
  out << YAML::Key << "embedders" << YAML::Value << YAML::BeginSeq;
  for (const rag::NamedEmbedderConfig& e : embedders) {
    out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << e.name;
    for (const Field& f : Fields()) {
      std::string value = f.format(e.config);
      if (f.secret && !value.empty()) value = "<redacted>";
      out << YAML::Key << f.key << YAML::Value << value;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

}  // namespace ragd::services
