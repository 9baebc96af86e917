#pragma once
// For the index tests: the float32 vectors that quantized indexes re-score with (the engine
// keeps them in RocksDB), a VectorIndex decorator that passes them to every search, clustered
// test vectors, and the brute-force score every recall check compares with.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "index/vector_index.h"

namespace ragd::index {

// The float32 vectors that quantized indexes re-score with (the engine keeps them in RocksDB):
// the last vector added under each label.
class VectorStore {
 public:
  explicit VectorStore(size_t dim) : dim_(dim) {}
  void Put(std::span<const Label> labels, std::span<const float> vectors) {
    if (vectors.size() != labels.size() * dim_) return;
    for (size_t i = 0; i < labels.size(); ++i) {
      rows_[labels[i]].assign(vectors.begin() + i * dim_, vectors.begin() + (i + 1) * dim_);
    }
  }
  const ExactVectorFetcher& fetcher() const { return fetcher_; }

 private:
  size_t dim_;
  std::map<Label, std::vector<float>> rows_;  // read concurrently only while no Put runs
  ExactVectorFetcher fetcher_ = [this](std::span<const Label> labels, std::vector<float>* out,
                                       std::vector<bool>* found) {
    out->assign(labels.size() * dim_, 0.0f);
    found->assign(labels.size(), false);
    for (size_t i = 0; i < labels.size(); ++i) {
      auto it = rows_.find(labels[i]);
      if (it == rows_.end()) continue;
      std::copy(it->second.begin(), it->second.end(), out->begin() + i * dim_);
      (*found)[i] = true;
    }
    return absl::OkStatus();
  };
};

// Passes every search and ScoreLabels of `inner` the store's fetcher, as the engine does, and
// records what is added; everything else is forwarded.
class WithExactVectors final : public VectorIndex {
 public:
  WithExactVectors(std::unique_ptr<VectorIndex> inner, std::shared_ptr<VectorStore> store)
      : inner_(std::move(inner)), store_(std::move(store)) {}
  size_t dim() const override { return inner_->dim(); }
  Metric metric() const override { return inner_->metric(); }
  const IndexSpec& spec() const override { return inner_->spec(); }
  size_t size() const override { return inner_->size(); }
  size_t removed_count() const override { return inner_->removed_count(); }
  size_t MemoryBytes() const override { return inner_->MemoryBytes(); }
  absl::Status Add(std::span<const Label> labels, std::span<const float> vectors) override {
    absl::Status s = inner_->Add(labels, vectors);
    if (s.ok()) store_->Put(labels, vectors);
    return s;
  }
  absl::Status Remove(std::span<const Label> labels) override { return inner_->Remove(labels); }
  absl::StatusOr<std::vector<SearchHit>> Search(std::span<const float> query,
                                                const SearchOptions& options) const override {
    SearchOptions o = options;
    o.exact_vectors = &store_->fetcher();
    return inner_->Search(query, o);
  }
  absl::StatusOr<std::vector<SearchHit>> ScoreLabels(std::span<const float> query,
                                                     std::span<const Label> labels,
                                                     size_t top_k) const override {
    return ScoreLabels(query, labels, SearchOptions{.top_k = top_k});
  }
  absl::StatusOr<std::vector<SearchHit>> ScoreLabels(std::span<const float> query,
                                                     std::span<const Label> labels,
                                                     const SearchOptions& options) const override {
    SearchOptions o = options;
    o.exact_vectors = &store_->fetcher();
    return inner_->ScoreLabels(query, labels, o);
  }
  bool Contains(Label label) const override { return inner_->Contains(label); }
  std::vector<Label> Labels() const override { return inner_->Labels(); }
  absl::Status Save(std::string* out) const override { return inner_->Save(out); }

 private:
  std::unique_ptr<VectorIndex> inner_;
  std::shared_ptr<VectorStore> store_;
};

inline absl::StatusOr<std::unique_ptr<VectorIndex>> Wrap(
    absl::StatusOr<std::unique_ptr<VectorIndex>> index, std::shared_ptr<VectorStore> store) {
  if (!index.ok()) return index.status();
  return std::unique_ptr<VectorIndex>(
      std::make_unique<WithExactVectors>(std::move(index).value(), std::move(store)));
}

// Test data: Gaussian clusters (`clusters` centres drawn from a fixed seed, 7, so that data and
// queries of different seeds share them, each centre moved by `offset` in every dimension),
// each vector scaled by U(0.5, 1.5): n rows of `dim` floats.
inline std::vector<float> ClusteredVectors(size_t n, size_t dim, uint32_t seed, float offset = 0,
                                           size_t clusters = 20) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0, 1);
  std::mt19937 centre_rng(7);
  std::vector<float> centres(clusters * dim);
  for (float& c : centres) c = normal(centre_rng) + offset;
  std::uniform_int_distribution<size_t> pick(0, clusters - 1);
  std::uniform_real_distribution<float> scale(0.5f, 1.5f);
  std::vector<float> out(n * dim);
  for (size_t i = 0; i < n; ++i) {
    const size_t c = pick(rng);
    const float s = scale(rng);
    for (size_t d = 0; d < dim; ++d) {
      out[i * dim + d] = s * (centres[c * dim + d] + 0.8f * normal(rng));
    }
  }
  return out;
}

// The exact score of `a` against `b` by brute force in double precision (higher is better:
// cosine, dot, or minus the squared L2 distance), the reference the index tests compare with.
inline double BruteForceScore(Metric metric, const float* a, const float* b, size_t dim) {
  double dot = 0, na = 0, nb = 0, l2 = 0;
  for (size_t d = 0; d < dim; ++d) {
    dot += double{a[d]} * b[d];
    na += double{a[d]} * a[d];
    nb += double{b[d]} * b[d];
    l2 += (double{a[d]} - b[d]) * (double{a[d]} - b[d]);
  }
  switch (metric) {
    case Metric::kCosine:
      return dot / std::sqrt(na * nb);
    case Metric::kDot:
      return dot;
    case Metric::kL2:
      return -l2;
  }
  return 0;
}

}  // namespace ragd::index
