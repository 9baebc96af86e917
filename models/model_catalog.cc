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

// Keeps the table of model_catalog.h and this one in step. Sources, read 2026-12-01 (what the
// reference copies available here show; the live pages were not reachable):
//  [AZ-M]  Azure OpenAI "models" page (learn.microsoft.com/azure/ai-services/openai/concepts/
//          models; MicrosoftDocs/azure-docs articles/ai-services/openai/concepts/models.md as of
//          2023-11-22): gpt-35-turbo 0301/0613 4,096; gpt-35-turbo (1106) input 16,385 output
//          4,096; gpt-35-turbo-16k 16,384; gpt-4 0314/0613 8,192; gpt-4-32k 32,768; gpt-4
//          1106-preview and vision-preview input 128,000 output 4,096.
//  [OAI-M] OpenAI model pages (platform.openai.com/docs/models), seen through secondary copies
//          only (provider catalogues quoting them): gpt-3.5-turbo alias of -0125, 0125 and 1106
//          16,385 / 4,096; gpt-4-turbo alias of -2024-04-09, gpt-4-turbo-preview alias of
//          gpt-4-0125-preview, both 128,000 / 4,096.
//  [OAI-P] OpenAI pricing (openai.com/api/pricing, legacy models table), seen through
//          secondary copies only: gpt-3.5-turbo-0125 $0.50/$1.50 per 1M, -1106 $1/$2, -0613
//          $1.50/$2; gpt-4 turbo (1106/0125-preview, 2024-04-09) $10/$30; gpt-4 $30/$60;
//          gpt-4-32k $60/$120; gpt-4o-2024-05-13 $5/$15, -08-06 and -11-20 $2.50/$10;
//          gpt-4o-mini $0.15/$0.60. Azure's global standard prices were the same (not
//          re-checked here).
//  [R1]    The values this file had before the version table (October 2024 list prices).
// Unconfirmed here: gpt-35-turbo-0301 prices (taken as 0613's), gpt-35-turbo-16k's output cap
// (taken as its window), gpt-4-32k max output (taken as its window), gpt-4o-2024-05-13's
// 4,096-token output cap ([OAI-M] through one secondary copy).
const std::vector<ModelProfile>& Profiles() {
  constexpr Encoding kCl = Encoding::kCl100kBase;
  constexpr Encoding kO200 = Encoding::kO200kBase;
  static const std::vector<ModelProfile> profiles = {
      // family, version, family default, window, max output, $/1K in, $/1K out, tokenizer
      {"gpt-35-turbo", "0301", false, 4096, 4096, 0.0015, 0.002, kCl},         // [AZ-M] [R1]
      {"gpt-35-turbo", "0613", false, 4096, 4096, 0.0015, 0.002, kCl},         // [AZ-M] [OAI-P]
      {"gpt-35-turbo", "1106", false, 16385, 4096, 0.001, 0.002, kCl},         // [AZ-M] [OAI-P]
      {"gpt-35-turbo", "0125", true, 16385, 4096, 0.0005, 0.0015, kCl},        // [OAI-M] [OAI-P]
      {"gpt-35-turbo-16k", "0613", true, 16384, 16384, 0.003, 0.004, kCl},     // [AZ-M] [R1]
      {"gpt-4", "0314", false, 8192, 8192, 0.03, 0.06, kCl},                   // [AZ-M] [OAI-P]
      {"gpt-4", "0613", true, 8192, 8192, 0.03, 0.06, kCl},                    // [AZ-M] [OAI-P]
      {"gpt-4", "1106-preview", false, 128000, 4096, 0.01, 0.03, kCl},         // [AZ-M] [OAI-P]
      {"gpt-4", "0125-preview", false, 128000, 4096, 0.01, 0.03, kCl},         // [OAI-M] [OAI-P]
      {"gpt-4", "vision-preview", false, 128000, 4096, 0.01, 0.03, kCl},       // [AZ-M] [OAI-P]
      {"gpt-4", "1106-vision-preview", false, 128000, 4096, 0.01, 0.03, kCl},  // [OAI-M]
      {"gpt-4-32k", "0314", false, 32768, 32768, 0.06, 0.12, kCl},             // [AZ-M] [OAI-P]
      {"gpt-4-32k", "0613", true, 32768, 32768, 0.06, 0.12, kCl},              // [AZ-M] [OAI-P]
      {"gpt-4-turbo", "2024-04-09", true, 128000, 4096, 0.01, 0.03, kCl},      // [OAI-M] [OAI-P]
      {"gpt-4-turbo", "preview", false, 128000, 4096, 0.01, 0.03, kCl},        // [OAI-M] [OAI-P]
      {"gpt-4o", "2024-05-13", false, 128000, 4096, 0.005, 0.015, kO200},      // [OAI-M] [OAI-P]
      {"gpt-4o", "2024-08-06", true, 128000, 16384, 0.0025, 0.01, kO200},      // [OAI-P] [R1]
      {"gpt-4o", "2024-11-20", false, 128000, 16384, 0.0025, 0.01, kO200},     // [OAI-P]
      {"gpt-4o-mini", "2024-07-18", true, 128000, 16384, 0.00015, 0.0006, kO200},  // [OAI-P]
      {"local", "", true, 128000, 4096, 0.0, 0.0, kCl},
  };
  return profiles;
}

// Lower case, and OpenAI's "gpt-3.5-turbo" spelled as Azure's "gpt-35-turbo".
std::string Normalize(std::string_view model) {
  std::string out(model);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (out.starts_with("gpt-3.5-turbo")) out.replace(0, 13, "gpt-35-turbo");
  return out;
}

// True when `name` is `family` followed by "-<digit>..." (a version the table may lack).
bool HasVersionSuffix(std::string_view name, std::string_view family) {
  return name.size() > family.size() + 1 && name.starts_with(family) &&
         name[family.size()] == '-' && name[family.size() + 1] >= '0' &&
         name[family.size() + 1] <= '9';
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

ModelProfileMatch LookupModelProfile(std::string_view model) {
  const std::string name = Normalize(model);
  ModelProfileMatch match;
  for (const ModelProfile& p : Profiles()) {
    const bool exact = p.version.empty()
                           ? name == p.family
                           : (name.size() == p.family.size() + 1 + p.version.size() &&
                              name.starts_with(p.family) && name[p.family.size()] == '-' &&
                              name.ends_with(p.version));
    if (exact || (p.family_default && name == p.family)) return {&p, false};
  }
  // Unknown version: the longest family it extends, so "gpt-4-32k-9999" is a gpt-4-32k.
  for (const ModelProfile& p : Profiles()) {
    if (p.family_default && HasVersionSuffix(name, p.family) &&
        (match.profile == nullptr || p.family.size() > match.profile->family.size())) {
      match = {&p, true};
    }
  }
  return match;
}

const ModelProfile* FindModelProfile(std::string_view model) {
  return LookupModelProfile(model).profile;
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

std::vector<std::string> ModelCatalog::Warnings() const {
  std::vector<std::string> out;
  for (const ModelDeployment& d : deployments_) {
    if (!d.catalog_warning.empty()) out.push_back(d.catalog_warning);
  }
  return out;
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

// Fills the fields the YAML entry did not set from the profile of the entry: the first of
// model, deployment, name that the table knows decides; an explicit family replaces an
// unknown version's family row (and silences the warning).
void ApplyProfile(const std::set<std::string>& set_keys, ModelDeployment* d) {
  const ModelProfile* profile = nullptr;
  std::string fallback_from;  // the name whose version is unknown
  ModelProfileMatch fallback;
  for (const std::string* key : {&d->model, &d->deployment, &d->name}) {
    if (key->empty()) continue;
    ModelProfileMatch m = LookupModelProfile(*key);
    if (m.profile == nullptr) continue;
    if (m.unknown_version) {
      fallback = m;
      fallback_from = *key;
    } else {
      profile = m.profile;
    }
    break;
  }
  if (profile == nullptr && !d->family.empty()) profile = FindModelProfile(d->family);
  if (profile == nullptr && fallback.profile != nullptr) {
    profile = fallback.profile;
    std::vector<std::string> filled;
    for (const char* key : {"context_window", "max_output_tokens", "price_per_1k_input",
                            "price_per_1k_output", "encoding"}) {
      if (!set_keys.count(key)) filled.push_back(key);
    }
    if (!filled.empty()) {
      d->catalog_warning = absl::StrCat(
          "model deployment '", d->name, "': unknown version '", fallback_from, "' of ",
          std::string(profile->family), "; ", absl::StrJoin(filled, ", "), " taken from ",
          std::string(profile->family), "-", std::string(profile->version), " (",
          profile->context_window, " tokens, $", profile->price_per_1k_input, " / $",
          profile->price_per_1k_output, " per 1K); set them in the deployment if they differ");
    }
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
