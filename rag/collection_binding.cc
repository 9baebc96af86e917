#include "rag/collection_binding.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ingest/chunker.h"

namespace ragd::rag {
namespace {

constexpr int kBindingVersion = 1;
constexpr const char* kLocal = "local";

}  // namespace

std::string EncodeBinding(const CollectionBinding& binding) {
  nlohmann::json j;
  j["v"] = kBindingVersion;
  j["embedder"] = {{"name", binding.embedder.name},
                   {"provider", binding.embedder.provider},
                   {"model", binding.embedder.model},
                   {"dimension", binding.embedder.dimension}};
  j["chunking"] = {{"max_tokens", binding.chunking.max_tokens},
                   {"overlap_tokens", binding.chunking.overlap_tokens}};
  return j.dump();
}

absl::StatusOr<CollectionBinding> DecodeBinding(std::string_view attributes) {
  CollectionBinding binding;
  if (attributes.empty()) {
    binding.embedder.dimension = 0;
    return binding;
  }
  // The attributes are ours (written by EncodeBinding), so a failure here means corruption or
  // a newer ragd's format: say so rather than guess.
  nlohmann::json j = nlohmann::json::parse(attributes, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError("collection attributes are not a JSON object");
  }
  try {
    if (j.value("v", 0) != kBindingVersion) {
      return absl::FailedPreconditionError(
          absl::StrCat("collection binding version ", j.value("v", 0), " is not supported"));
    }
    const nlohmann::json& e = j.at("embedder");
    binding.embedder.name = e.at("name").get<std::string>();
    binding.embedder.provider = e.value("provider", "");
    binding.embedder.model = e.value("model", "");
    binding.embedder.dimension = e.at("dimension").get<uint32_t>();
    if (const auto c = j.find("chunking"); c != j.end()) {
      binding.chunking.max_tokens = c->value("max_tokens", binding.chunking.max_tokens);
      binding.chunking.overlap_tokens = c->value("overlap_tokens", binding.chunking.overlap_tokens);
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat("collection binding: ", e.what()));
  }
  return binding;
}

absl::StatusOr<std::unique_ptr<EmbedderRegistry>> EmbedderRegistry::Create(
    std::vector<NamedEmbedderConfig> configured, models::EmbeddingObserver* observer) {
  auto registry = std::unique_ptr<EmbedderRegistry>(new EmbedderRegistry());
  registry->observer_ = observer;
  for (NamedEmbedderConfig& c : configured) {
    if (c.name.empty()) return absl::InvalidArgumentError("embedders: an entry has no name");
    if (c.name == kLocal) {
      return absl::InvalidArgumentError(
          "embedders: the name \"local\" is reserved for the built-in embedder");
    }
    if (registry->configs_.count(c.name) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("embedders: duplicate name \"", c.name, "\""));
    }
    if (absl::Status s = c.config.Validate(); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("embedders \"", c.name, "\": ", std::string(s.message())));
    }
    registry->configs_.emplace(std::move(c.name), std::move(c.config));
  }
  return registry;
}

absl::StatusOr<std::shared_ptr<models::Embedder>> EmbedderRegistry::Get(std::string_view name,
                                                                        uint32_t dimension) {
  models::EmbedderConfig config;
  if (name == kLocal) {
    config.provider = models::EmbedderProvider::kLocal;
    if (dimension != 0) config.dimension = dimension;
  } else {
    auto it = configs_.find(std::string(name));
    if (it == configs_.end()) {
      return absl::NotFoundError(absl::StrCat("no embedder named \"", std::string(name),
                                              "\"; known: ", absl::StrJoin(Names(), ", ")));
    }
    config = it->second;
    if (dimension != 0 && dimension != config.dimension) {
      return absl::InvalidArgumentError(absl::StrCat("dimension ", dimension,
                                                     " differs from embedder \"", std::string(name),
                                                     "\"'s dimension ", config.dimension));
    }
  }
  const auto key = std::make_pair(std::string(name), static_cast<uint32_t>(config.dimension));
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = live_.find(key); it != live_.end()) return it->second;
  // Built under the lock: construction is cheap (no network), and two callers racing for the
  // same embedder must share one, or they would not share its rate limits.
  absl::StatusOr<std::unique_ptr<models::Embedder>> made = models::MakeEmbedder(config, observer_);
  if (!made.ok()) {
    return absl::Status(made.status().code(), absl::StrCat("embedder \"", std::string(name), "\": ",
                                                           std::string(made.status().message())));
  }
  std::shared_ptr<models::Embedder> shared = std::move(made).value();
  live_.emplace(key, shared);
  return shared;
}

absl::StatusOr<EmbedderBinding> EmbedderRegistry::Resolve(std::string_view name,
                                                          uint32_t dimension) {
  absl::StatusOr<std::shared_ptr<models::Embedder>> embedder = Get(name, dimension);
  if (!embedder.ok()) return embedder.status();
  EmbedderBinding binding;
  binding.name = std::string(name);
  binding.dimension = static_cast<uint32_t>((*embedder)->dimension());
  if (name == kLocal) {
    binding.provider = kLocal;
    binding.model = (*embedder)->model_id();
  } else {
    const models::EmbedderConfig& config = configs_.at(binding.name);
    binding.provider = std::string(models::EmbedderProviderName(config.provider));
    binding.model = config.provider == models::EmbedderProvider::kAzureOpenAi ? config.deployment
                                                                              : config.model;
  }
  return binding;
}

absl::StatusOr<std::shared_ptr<models::Embedder>> EmbedderRegistry::ForCollection(
    const index::CollectionSpec& spec) {
  absl::StatusOr<CollectionBinding> binding = DecodeBinding(spec.attributes);
  if (!binding.ok()) return binding.status();
  if (binding->embedder.dimension == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("collection ", spec.name, " has no embedder; create it with --embedder"));
  }
  return Get(binding->embedder.name, spec.dimension);
}

std::vector<std::string> EmbedderRegistry::Names() const {
  std::vector<std::string> names = {kLocal};
  for (const auto& [name, config] : configs_) names.push_back(name);
  return names;
}

absl::StatusOr<CollectionBinding> BindCollection(EmbedderRegistry* embedders,
                                                 const BindRequest& request,
                                                 const ChunkingBinding& defaults) {
  if (embedders == nullptr) {
    return absl::FailedPreconditionError("embedder: this server has no embedders");
  }
  CollectionBinding binding;
  absl::StatusOr<EmbedderBinding> embedder =
      embedders->Resolve(request.embedder, request.dimension);
  if (!embedder.ok()) return embedder.status();
  binding.embedder = *std::move(embedder);
  binding.chunking = defaults;
  if (request.max_tokens != 0) binding.chunking.max_tokens = request.max_tokens;
  if (request.overlap_tokens != 0) binding.chunking.overlap_tokens = request.overlap_tokens;
  ingest::ChunkingOptions chunking;
  chunking.max_tokens = static_cast<size_t>(binding.chunking.max_tokens);
  chunking.overlap_tokens = static_cast<size_t>(binding.chunking.overlap_tokens);
  if (absl::Status s = chunking.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("chunking: ", std::string(s.message())));
  }
  return binding;
}

}  // namespace ragd::rag
