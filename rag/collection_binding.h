#pragma once
// What a collection is bound to above the engine: the embedder that turns its text (chunks and
// queries) into vectors, and how documents are chunked. Persisted as JSON in the engine's
// CollectionSpec::attributes, written once at CreateCollection.
//
// EmbedderRegistry turns a binding into a live models::Embedder, built from ragd's
// configuration (named embedders of the `embedders` config section, plus the built-in
// "local"), created once per (name, dimension) and shared: embedders are thread-safe.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "index/engine/engine.h"
#include "models/embedder.h"

namespace ragd::rag {

struct EmbedderBinding {
  // A configured embedder name, or "local" (the built-in, offline, lexical embedder).
  // Default: "local".
  std::string name = "local";
  // Informational copies taken at create time, shown by GetCollection: provider
  // ("local", "azure-openai", "openai"), model or deployment, and the vector dimension.
  std::string provider = "local";
  std::string model;
  uint32_t dimension = 0;
};

struct ChunkingBinding {
  // Default: 512 and 64 (tokens of cl100k_base).
  int max_tokens = 512;
  int overlap_tokens = 64;
};

struct CollectionBinding {
  EmbedderBinding embedder;
  ChunkingBinding chunking;
};

// JSON for CollectionSpec::attributes, and back. An empty string (a collection created before
// bindings existed, or without text) decodes to the defaults with dimension 0, meaning "no
// embedder": text calls on it return FAILED_PRECONDITION.
std::string EncodeBinding(const CollectionBinding& binding);
absl::StatusOr<CollectionBinding> DecodeBinding(std::string_view attributes);

// A named embedder from the configuration.
struct NamedEmbedderConfig {
  std::string name;
  models::EmbedderConfig config;
};

class EmbedderRegistry {
 public:
  // INVALID_ARGUMENT for a duplicate or invalid name ("local" is reserved) or config.
  // `observer` (not owned, may be null; must outlive every embedder handed out) is given to
  // each embedder built, so that every embedding request is reported (metrics.h).
  static absl::StatusOr<std::unique_ptr<EmbedderRegistry>> Create(
      std::vector<NamedEmbedderConfig> configured, models::EmbeddingObserver* observer = nullptr);

  // The embedder named `name` producing vectors of `dimension` (for "local" any dimension;
  // for a configured one it must equal its configured dimension: INVALID_ARGUMENT otherwise,
  // naming both). NOT_FOUND for an unknown name, listing the known ones. A dimension of 0
  // means the embedder's own (1536 for "local"). FAILED_PRECONDITION when the embedder cannot
  // be built (e.g. its API key cannot be read).
  absl::StatusOr<std::shared_ptr<models::Embedder>> Get(std::string_view name, uint32_t dimension);
  // The binding to store for a new collection: Get()s the embedder (same errors) and fills
  // provider, model and dimension.
  absl::StatusOr<EmbedderBinding> Resolve(std::string_view name, uint32_t dimension);
  // The embedder a collection is bound to (decodes spec.attributes).
  // FAILED_PRECONDITION when the collection has no embedder binding.
  absl::StatusOr<std::shared_ptr<models::Embedder>> ForCollection(
      const index::CollectionSpec& spec);
  // Names of every embedder, "local" first.
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, models::EmbedderConfig> configs_;
  models::EmbeddingObserver* observer_ = nullptr;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, uint32_t>, std::shared_ptr<models::Embedder>> live_;
};

// What a CreateCollection with an embedder asks for; 0 means "the default" in every field.
struct BindRequest {
  std::string embedder;    // a configured name or "local"
  uint32_t dimension = 0;  // 0: the embedder's own
  int max_tokens = 0;      // chunking; 0: `defaults`
  int overlap_tokens = 0;
};

// The binding to store with a new text collection: resolves the embedder (which fixes the
// dimension, see EmbedderRegistry::Resolve) and completes and validates the chunking settings
// (ingest::ChunkingOptions::Validate). FAILED_PRECONDITION without a registry; NOT_FOUND,
// INVALID_ARGUMENT ("chunking: ..." or the dimension) and FAILED_PRECONDITION as Resolve.
absl::StatusOr<CollectionBinding> BindCollection(EmbedderRegistry* embedders,
                                                 const BindRequest& request,
                                                 const ChunkingBinding& defaults);

}  // namespace ragd::rag
