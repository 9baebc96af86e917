#include "index/lexical/feedback.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

namespace ragd::index::lexical {

absl::Status FeedbackOptions::Validate() const {
  if (docs > 100) return absl::InvalidArgumentError("feedback docs: must be in [0, 100]");
  if (terms < 1 || terms > 100) {
    return absl::InvalidArgumentError("feedback terms: must be in [1, 100]");
  }
  if (!(original_weight >= 0 && original_weight <= 1)) {
    return absl::InvalidArgumentError("feedback original_weight: must be in [0, 1]");
  }
  if (!(max_df_ratio > 0 && max_df_ratio <= 1)) {
    return absl::InvalidArgumentError("feedback max_df_ratio: must be in (0, 1]");
  }
  return absl::OkStatus();
}

namespace {

// Keeps the `n` entries of largest weight, ties to the smaller term, so that the choice does
// not depend on the order the terms arrived in.
template <typename Weight>
void KeepLargest(std::vector<std::pair<std::string_view, Weight>>& v, size_t n) {
  auto better = [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  if (v.size() > n) {
    std::partial_sort(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n), v.end(), better);
    v.resize(n);
  } else {
    std::sort(v.begin(), v.end(), better);
  }
}

}  // namespace

std::vector<WeightedTerm> ExpandQuery(std::span<const std::string> query_terms,
                                      std::span<const FeedbackDocument> feedback,
                                      const std::function<uint64_t(std::string_view)>& doc_freq,
                                      uint64_t documents, const FeedbackOptions& options) {
  // std::map: the result comes out sorted by term, whatever order the inputs had.
  std::map<std::string_view, double> weights;
  // P(w|R), unnormalised: sum over the documents of P(w|D) * score(D).
  std::map<std::string_view, double> relevance;
  const double max_df = options.max_df_ratio * static_cast<double>(documents);
  for (const FeedbackDocument& d : feedback) {
    if (!(d.score > 0) || !std::isfinite(d.score)) continue;
    std::vector<std::pair<std::string_view, uint32_t>> kept;
    for (const TermFreq& tf : d.terms) {
      if (tf.freq == 0) continue;
      if (static_cast<double>(doc_freq(tf.term)) > max_df) continue;
      kept.emplace_back(tf.term, tf.freq);
    }
    KeepLargest(kept, options.terms);
    double norm = 0;
    for (const auto& [term, freq] : kept) norm += freq;
    if (norm <= 0) continue;
    for (const auto& [term, freq] : kept) relevance[term] += freq / norm * d.score;
  }
  std::vector<std::pair<std::string_view, double>> model(relevance.begin(), relevance.end());
  KeepLargest(model, options.terms);
  double total = 0;
  for (const auto& [term, w] : model) total += w;
  // Without a relevance model the query keeps all the weight (its own ranking, not nothing).
  const double lambda = total > 0 ? options.original_weight : 1.0;
  if (!query_terms.empty() && lambda > 0) {
    const double share = lambda / static_cast<double>(query_terms.size());
    for (const std::string& t : query_terms) weights[t] += share;
  }
  if (total > 0 && lambda < 1) {
    for (const auto& [term, w] : model) weights[term] += (1 - lambda) * (w / total);
  }

  std::vector<WeightedTerm> out;
  out.reserve(weights.size());
  for (const auto& [term, w] : weights) {
    if (w > 0) out.push_back(WeightedTerm{std::string(term), w});
  }
  return out;
}

}  // namespace ragd::index::lexical
