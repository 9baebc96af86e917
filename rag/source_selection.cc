#include "rag/source_selection.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <unordered_set>

#include "absl/strings/str_cat.h"

namespace ragd::rag {
namespace {

// A set of shingle hashes, sorted and without repeats: built with one sort instead of a node
// allocation per shingle, and intersected by a merge (de-duplication compares every pair).
using ShingleSet = std::vector<uint64_t>;

ShingleSet Shingles(const models::Tokenizer& tokenizer, std::string_view text, size_t k) {
  std::vector<uint32_t> ids = tokenizer.Encode(text);
  ShingleSet set;
  if (ids.empty()) return set;
  const size_t n = ids.size() < k ? 1 : ids.size() - k + 1;
  const size_t width = std::min(k, ids.size());
  set.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    // FNV-1a over the ids of the shingle; collisions only make two texts look a bit closer.
    uint64_t h = 1469598103934665603ull;
    for (size_t j = i; j < i + width; ++j) {
      h = (h ^ ids[j]) * 1099511628211ull;
    }
    set.push_back(h);
  }
  std::sort(set.begin(), set.end());
  set.erase(std::unique(set.begin(), set.end()), set.end());
  return set;
}

double Jaccard(const ShingleSet& a, const ShingleSet& b) {
  if (a.empty() && b.empty()) return 1.0;
  size_t common = 0;
  for (size_t i = 0, j = 0; i < a.size() && j < b.size();) {
    if (a[i] < b[j]) {
      ++i;
    } else if (b[j] < a[i]) {
      ++j;
    } else {
      ++common;
      ++i;
      ++j;
    }
  }
  return static_cast<double>(common) / static_cast<double>(a.size() + b.size() - common);
}

// Whether Jaccard(a, b) >= threshold, without finishing the merge once it cannot be.
// De-duplication runs this for every pair of kept sources on every Answer, and unrelated chunks
// (the usual case) fail after a few percent of the merge. Exactly `Jaccard(a, b) >= threshold`:
// with s = |a| + |b| and c common elements, J = c / (s - c) grows with c, so J >= t iff
// c >= needed (the least such c, found with the same double arithmetic as Jaccard), and the
// merge ends with s - 2c unmatched elements, so it can stop once more than s - 2 * needed are.
bool JaccardAtLeast(const ShingleSet& a, const ShingleSet& b, double threshold) {
  if (a.empty() && b.empty()) return 1.0 >= threshold;
  const size_t sum = a.size() + b.size();
  auto enough = [&](size_t c) {
    return static_cast<double>(c) / static_cast<double>(sum - c) >= threshold;
  };
  const size_t most = std::min(a.size(), b.size());  // c <= min(|a|, |b|)
  if (!enough(most)) return false;
  // Start at the real-number answer t * s / (1 + t), then settle on the least c `enough` takes.
  const double t = std::max(0.0, threshold);
  size_t needed =
      std::min(most, static_cast<size_t>(std::ceil(t * static_cast<double>(sum) / (1.0 + t))));
  while (needed > 0 && enough(needed - 1)) --needed;
  while (!enough(needed)) ++needed;  // stops by `most` at the latest
  const size_t max_unmatched = sum - 2 * needed;
  size_t unmatched = 0, common = 0;
  for (size_t i = 0, j = 0; i < a.size() && j < b.size();) {
    if (a[i] < b[j]) {
      ++i;
      if (++unmatched > max_unmatched) return false;
    } else if (b[j] < a[i]) {
      ++j;
      if (++unmatched > max_unmatched) return false;
    } else {
      ++common;
      ++i;
      ++j;
    }
  }
  return common >= needed;
}

double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    na += static_cast<double>(a[i]) * a[i];
    nb += static_cast<double>(b[i]) * b[i];
  }
  if (na == 0 || nb == 0) return 0;
  return dot / std::sqrt(na * nb);
}

}  // namespace

absl::Status SelectionOptions::Validate() const {
  if (!(dedup_threshold > 0 && dedup_threshold <= 1)) {
    return absl::InvalidArgumentError("dedup_threshold must be in (0, 1]");
  }
  if (!(mmr_lambda >= 0 && mmr_lambda <= 1)) {
    return absl::InvalidArgumentError("mmr_lambda must be in [0, 1]");
  }
  if (shingle_tokens < 1) return absl::InvalidArgumentError("shingle_tokens must be at least 1");
  return absl::OkStatus();
}

double ShingleJaccard(const models::Tokenizer& tokenizer, std::string_view a, std::string_view b,
                      size_t shingle_tokens) {
  return Jaccard(Shingles(tokenizer, a, shingle_tokens), Shingles(tokenizer, b, shingle_tokens));
}

std::vector<size_t> DeduplicateSources(const models::Tokenizer& tokenizer,
                                       const std::vector<PromptSource>& sources,
                                       const std::vector<size_t>& candidates, double threshold,
                                       size_t shingle_tokens) {
  std::vector<size_t> kept;
  std::vector<ShingleSet> kept_shingles;
  for (size_t i : candidates) {
    ShingleSet s = Shingles(tokenizer, sources[i].text, shingle_tokens);
    bool duplicate = false;
    for (const ShingleSet& k : kept_shingles) {
      if (JaccardAtLeast(s, k, threshold)) {
        duplicate = true;
        break;
      }
    }
    if (!duplicate) {
      kept.push_back(i);
      kept_shingles.push_back(std::move(s));
    }
  }
  return kept;
}

std::vector<size_t> MmrOrder(const models::Tokenizer& tokenizer,
                             const std::vector<PromptSource>& sources,
                             const std::vector<size_t>& candidates, double lambda,
                             size_t shingle_tokens) {
  const size_t n = candidates.size();
  if (n <= 1) return candidates;
  bool use_vectors = !sources[candidates[0]].vector.empty();
  for (size_t i : candidates) {
    use_vectors = use_vectors && sources[i].vector.size() == sources[candidates[0]].vector.size();
  }
  std::vector<ShingleSet> shingles;
  if (!use_vectors) {
    for (size_t i : candidates)
      shingles.push_back(Shingles(tokenizer, sources[i].text, shingle_tokens));
  }
  auto similarity = [&](size_t a, size_t b) {
    return use_vectors ? Cosine(sources[candidates[a]].vector, sources[candidates[b]].vector)
                       : Jaccard(shingles[a], shingles[b]);
  };
  double lo = sources[candidates[0]].score, hi = lo;
  for (size_t i : candidates) {
    lo = std::min(lo, sources[i].score);
    hi = std::max(hi, sources[i].score);
  }
  auto relevance = [&](size_t a) {
    return hi > lo ? (sources[candidates[a]].score - lo) / (hi - lo) : 1.0;
  };

  std::vector<size_t> order;
  std::vector<bool> chosen(n, false);
  std::vector<double> max_sim(n, 0.0);  // to the chosen ones
  for (size_t step = 0; step < n; ++step) {
    size_t best = n;
    double best_score = 0;
    for (size_t a = 0; a < n; ++a) {
      if (chosen[a]) continue;
      double s = lambda * relevance(a) - (step == 0 ? 0.0 : (1 - lambda) * max_sim[a]);
      if (best == n || s > best_score) {  // ties keep the better retrieval rank
        best = a;
        best_score = s;
      }
    }
    chosen[best] = true;
    order.push_back(candidates[best]);
    for (size_t a = 0; a < n; ++a) {
      if (!chosen[a]) max_sim[a] = std::max(max_sim[a], similarity(a, best));
    }
  }
  return order;
}

Selection SelectSources(const models::Tokenizer& tokenizer,
                        const std::vector<PromptSource>& sources, const SelectionOptions& options) {
  Selection s;
  std::vector<size_t> candidates(sources.size());
  for (size_t i = 0; i < sources.size(); ++i) candidates[i] = i;
  if (options.dedup) {
    std::vector<size_t> kept = DeduplicateSources(tokenizer, sources, candidates,
                                                  options.dedup_threshold, options.shingle_tokens);
    std::unordered_set<size_t> kept_set(kept.begin(), kept.end());
    for (size_t i : candidates) {
      if (!kept_set.count(i)) s.duplicates.push_back(i);
    }
    candidates = std::move(kept);
  }
  if (options.mmr) {
    candidates =
        MmrOrder(tokenizer, sources, candidates, options.mmr_lambda, options.shingle_tokens);
  }
  if (options.max_sources > 0 && candidates.size() > options.max_sources) {
    s.capped.assign(candidates.begin() + static_cast<long>(options.max_sources), candidates.end());
    candidates.resize(options.max_sources);
  }
  s.order = std::move(candidates);
  return s;
}

}  // namespace ragd::rag
