#include "index/engine/fusion.h"

namespace ragd::index {

std::vector<double> FusionContributions(std::span<const double> scores, bool vector_leg,
                                        const HybridOptions& options) {
  std::vector<double> out(scores.size());
  if (options.fusion.value_or(Fusion::kRrf) == Fusion::kRrf) {
    for (size_t i = 0; i < scores.size(); ++i) {
      out[i] = 1.0 / (options.rrf_k + static_cast<double>(i + 1));
    }
    return out;
  }
  const double alpha = options.alpha.value_or(0.5);
  const double weight = vector_leg ? alpha : 1 - alpha;
  const double hi = scores.empty() ? 0 : scores.front();
  const double lo = scores.empty() ? 0 : scores.back();
  for (size_t i = 0; i < scores.size(); ++i) {
    out[i] = weight * (hi > lo ? (scores[i] - lo) / (hi - lo) : 1.0);
  }
  return out;
}

}  // namespace ragd::index
