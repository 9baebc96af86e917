#include "models/model_catalog.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ragd::models {
namespace {

// Keeps the table of model_catalog.h and this one in step.
const std::vector<ModelProfile>& Profiles() {
  static const std::vector<ModelProfile> profiles = {
      {"gpt-35-turbo", 4096, 4096, 0.0015, 0.002, Encoding::kCl100kBase},
      {"gpt-35-turbo-16k", 16384, 16384, 0.003, 0.004, Encoding::kCl100kBase},
      {"gpt-4", 8192, 8192, 0.03, 0.06, Encoding::kCl100kBase},
      {"gpt-4-32k", 32768, 32768, 0.06, 0.12, Encoding::kCl100kBase},
      {"gpt-4o", 128000, 16384, 0.0025, 0.01, Encoding::kO200kBase},
      {"gpt-4o-mini", 128000, 16384, 0.00015, 0.0006, Encoding::kO200kBase},
      {"local", 128000, 4096, 0.0, 0.0, Encoding::kCl100kBase},
  };
  return profiles;
}

// True when `name` is `family` or `family` followed by "-<digit>..." (a version suffix).
bool MatchesFamily(std::string_view name, std::string_view family) {
  if (!name.starts_with(family)) return false;
  if (name.size() == family.size()) return true;
  return name.size() > family.size() + 1 && name[family.size()] == '-' &&
         name[family.size() + 1] >= '0' && name[family.size() + 1] <= '9';
}

absl::Status Invalid(const ModelDeployment& d, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("model deployment '", d.name, "': ", std::string(what)));
}

}  // namespace

std::string_view ChatProviderName(ChatProvider provider) {
  switch (provider) {
    case ChatProvider::kLocal:
      return "local";
    case ChatProvider::kAzureOpenAi:
      return "azure-openai";
    case ChatProvider::kOpenAi:
      return "openai";
  }
  return "unknown";
}

absl::StatusOr<ChatProvider> ParseChatProvider(std::string_view name) {
  for (ChatProvider p : {ChatProvider::kLocal, ChatProvider::kAzureOpenAi, ChatProvider::kOpenAi}) {
    if (name == ChatProviderName(p)) return p;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown chat provider '", std::string(name),
                                                 "': expected local, azure-openai or openai"));
}

absl::Status ModelDeployment::Validate() const {
  if (name.empty()) return Invalid(*this, "`name` is required");
  switch (provider) {
    case ChatProvider::kLocal:
      break;
    case ChatProvider::kAzureOpenAi:
      if (endpoint.empty()) return Invalid(*this, "azure-openai needs `endpoint`");
      if (deployment.empty()) return Invalid(*this, "azure-openai needs `deployment`");
      if (api_version.empty()) return Invalid(*this, "azure-openai needs `api_version`");
      if (!endpoint.starts_with("http://") && !endpoint.starts_with("https://")) {
        return Invalid(*this, "`endpoint` must start with https:// (or http://)");
      }
      break;
    case ChatProvider::kOpenAi:
      if (base_url.empty()) return Invalid(*this, "openai needs `base_url`");
      if (model.empty()) return Invalid(*this, "openai needs `model`");
      if (!base_url.starts_with("http://") && !base_url.starts_with("https://")) {
        return Invalid(*this, "`base_url` must start with https:// (or http://)");
      }
      break;
  }
  int key_sources = !api_key.empty() + !api_key_env.empty() + !api_key_file.empty();
  if (key_sources > 1) {
    return Invalid(*this, "set at most one of `api_key`, `api_key_env`, `api_key_file`");
  }
  if (context_window == 0) {
    return Invalid(*this, "`context_window` must be > 0 (no built-in profile matches '" +
                              (model.empty() ? name : model) + "'; set it)");
  }
  if (max_output_tokens == 0 || max_output_tokens > context_window) {
    return Invalid(*this, "`max_output_tokens` must be in [1, context_window]");
  }
  if (!std::isfinite(price_per_1k_input) || price_per_1k_input < 0 ||
      !std::isfinite(price_per_1k_output) || price_per_1k_output < 0) {
    return Invalid(*this, "prices must be finite and >= 0");
  }
  if (timeout_ms == 0 || connect_timeout_ms == 0) {
    return Invalid(*this, "`timeout_ms` and `connect_timeout_ms` must be > 0");
  }
  if (max_retries > 20) return Invalid(*this, "`max_retries` must be <= 20");
  if (initial_backoff_ms > max_backoff_ms) {
    return Invalid(*this, "`initial_backoff_ms` must be <= `max_backoff_ms`");
  }
  return absl::OkStatus();
}

const std::vector<ModelProfile>& DefaultModelProfiles() { return Profiles(); }

const ModelProfile* FindModelProfile(std::string_view model) {
  std::string normalized(model);
  if (normalized.starts_with("gpt-3.5-turbo")) normalized.replace(0, 13, "gpt-35-turbo");
  const ModelProfile* best = nullptr;
  for (const ModelProfile& p : Profiles()) {
    if (MatchesFamily(normalized, p.family) &&
        (best == nullptr || p.family.size() > best->family.size())) {
      best = &p;
    }
  }
  return best;
}

ModelDeployment LocalModelDeployment() {
  const ModelProfile* p = FindModelProfile("local");
  ModelDeployment d;
  d.name = "local";
  d.provider = ChatProvider::kLocal;
  d.model = "local";
  d.family = "local";
  d.context_window = p->context_window;
  d.max_output_tokens = p->max_output_tokens;
  d.encoding = p->encoding;
  return d;
}

ModelCatalog::ModelCatalog() { deployments_.push_back(LocalModelDeployment()); }

absl::Status ModelCatalog::Add(ModelDeployment deployment) {
  if (absl::Status s = deployment.Validate(); !s.ok()) return s;
  for (ModelDeployment& d : deployments_) {
    if (d.name == deployment.name) {
      d = std::move(deployment);
      return absl::OkStatus();
    }
  }
  deployments_.push_back(std::move(deployment));
  return absl::OkStatus();
}

absl::Status ModelCatalog::SetDefault(std::string_view name) {
  if (Find(name) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("default_model '", std::string(name), "' is not a configured deployment"));
  }
  default_model_ = std::string(name);
  return absl::OkStatus();
}

const ModelDeployment* ModelCatalog::Find(std::string_view name) const {
  for (const ModelDeployment& d : deployments_) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

absl::StatusOr<const ModelDeployment*> ModelCatalog::Get(std::string_view name) const {
  if (const ModelDeployment* d = Find(name)) return d;
  std::vector<std::string> names;
  for (const ModelDeployment& d : deployments_) names.push_back(d.name);
  return absl::NotFoundError(absl::StrCat("no model deployment '", std::string(name),
                                          "'; configured: ", absl::StrJoin(names, ", ")));
}

namespace {

// Fills the fields the YAML entry did not set from the profile of the entry.
void ApplyProfile(const std::set<std::string>& set_keys, ModelDeployment* d) {
  const ModelProfile* profile = nullptr;
  for (const std::string* key : {&d->family, &d->model, &d->deployment, &d->name}) {
    if (!key->empty() && (profile = FindModelProfile(*key)) != nullptr) break;
  }
  if (profile == nullptr && d->provider == ChatProvider::kLocal)
    profile = FindModelProfile("local");
  if (profile != nullptr) {
    if (!set_keys.count("family")) d->family = std::string(profile->family);
    if (!set_keys.count("context_window")) d->context_window = profile->context_window;
    if (!set_keys.count("max_output_tokens")) {
      d->max_output_tokens = std::min(profile->max_output_tokens, d->context_window);
    }
    if (!set_keys.count("price_per_1k_input")) d->price_per_1k_input = profile->price_per_1k_input;
    if (!set_keys.count("price_per_1k_output")) {
      d->price_per_1k_output = profile->price_per_1k_output;
    }
    if (!set_keys.count("encoding")) d->encoding = profile->encoding;
  } else if (!set_keys.count("encoding") && !d->model.empty()) {
    if (auto e = Tokenizer::EncodingForModel(d->model); e.ok()) d->encoding = *e;
  }
  if (!set_keys.count("max_output_tokens") && d->max_output_tokens == 0) {
    d->max_output_tokens = d->context_window;
  }
}

template <typename T>
T As(const YAML::Node& node, const std::string& where) {
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    throw std::invalid_argument(absl::StrCat(where, ": wrong value type"));
  }
}

ModelDeployment ParseEntry(const YAML::Node& node, size_t index) {
  std::string where = absl::StrCat("models.deployments[", index, "]");
  if (!node.IsMap()) throw std::invalid_argument(absl::StrCat(where, ": expected a map"));
  if (node["name"] && node["name"].IsScalar()) {
    where = absl::StrCat(where, " ('", node["name"].Scalar(), "')");
  }
  ModelDeployment d;
  std::set<std::string> set_keys;
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    const std::string at = absl::StrCat(where, ".", key);
    set_keys.insert(key);
    auto str = [&] { return As<std::string>(v, at); };
    auto u64 = [&] {
      int64_t x = As<int64_t>(v, at);
      if (x < 0) throw std::invalid_argument(absl::StrCat(at, ": must be >= 0"));
      return static_cast<uint64_t>(x);
    };
    if (key == "name") {
      d.name = str();
    } else if (key == "provider") {
      auto p = ParseChatProvider(str());
      if (!p.ok()) throw std::invalid_argument(absl::StrCat(at, ": ", p.status().message()));
      d.provider = *p;
    } else if (key == "endpoint") {
      d.endpoint = str();
    } else if (key == "base_url") {
      d.base_url = str();
    } else if (key == "deployment") {
      d.deployment = str();
    } else if (key == "model") {
      d.model = str();
    } else if (key == "api_version") {
      d.api_version = str();
    } else if (key == "api_key") {
      d.api_key = str();
    } else if (key == "api_key_env") {
      d.api_key_env = str();
    } else if (key == "api_key_file") {
      d.api_key_file = str();
    } else if (key == "family") {
      d.family = str();
    } else if (key == "context_window") {
      d.context_window = u64();
    } else if (key == "max_output_tokens") {
      d.max_output_tokens = u64();
    } else if (key == "price_per_1k_input") {
      d.price_per_1k_input = As<double>(v, at);
    } else if (key == "price_per_1k_output") {
      d.price_per_1k_output = As<double>(v, at);
    } else if (key == "encoding") {
      auto e = Tokenizer::EncodingByName(str());
      if (!e.ok()) {
        throw std::invalid_argument(absl::StrCat(at, ": expected cl100k_base or o200k_base"));
      }
      d.encoding = *e;
    } else if (key == "stream_usage") {
      d.stream_usage = As<bool>(v, at);
    } else if (key == "max_retries") {
      d.max_retries = u64();
    } else if (key == "initial_backoff_ms") {
      d.initial_backoff_ms = u64();
    } else if (key == "max_backoff_ms") {
      d.max_backoff_ms = u64();
    } else if (key == "max_retry_after_ms") {
      d.max_retry_after_ms = u64();
    } else if (key == "timeout_ms") {
      d.timeout_ms = u64();
    } else if (key == "connect_timeout_ms") {
      d.connect_timeout_ms = u64();
    } else if (key == "first_token_timeout_ms") {
      d.first_token_timeout_ms = u64();
    } else {
      throw std::invalid_argument(absl::StrCat(where, ": unknown key '", key, "'"));
    }
  }
  ApplyProfile(set_keys, &d);
  return d;
}

}  // namespace

absl::StatusOr<ModelCatalog> ModelCatalog::FromYaml(std::string_view yaml_text) {
  ModelCatalog catalog;
  std::string default_model;
  try {
    YAML::Node root = YAML::Load(std::string(yaml_text));
    if (root.IsNull()) return catalog;
    if (!root.IsMap()) return absl::InvalidArgumentError("models: expected a map");
    for (const auto& kv : root) {
      const std::string key = kv.first.as<std::string>();
      if (key == "default_model") {
        default_model = As<std::string>(kv.second, "models.default_model");
      } else if (key == "deployments") {
        if (kv.second.IsNull()) continue;
        if (!kv.second.IsSequence()) {
          return absl::InvalidArgumentError("models.deployments: expected a list");
        }
        std::set<std::string> names;
        for (size_t i = 0; i < kv.second.size(); ++i) {
          ModelDeployment d = ParseEntry(kv.second[i], i);
          if (!names.insert(d.name).second) {
            return absl::InvalidArgumentError(
                absl::StrCat("models.deployments: duplicate name '", d.name, "'"));
          }
          if (absl::Status s = catalog.Add(std::move(d)); !s.ok()) return s;
        }
      } else {
        return absl::InvalidArgumentError(absl::StrCat("models: unknown key '", key, "'"));
      }
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("models: YAML error: ", e.what()));
  } catch (const std::invalid_argument& e) {
    return absl::InvalidArgumentError(e.what());
  }
  if (!default_model.empty()) {
    if (absl::Status s = catalog.SetDefault(default_model); !s.ok()) return s;
  }
  return catalog;
}

}  // namespace ragd::models
