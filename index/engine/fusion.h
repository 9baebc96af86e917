#pragma once
// Hybrid fusion's arithmetic, shared by the engine (fusing its shards' merged legs) and the
// cluster router (fusing legs merged across shard groups), so that a sharded cluster ranks
// exactly as one node does.

#include <span>
#include <vector>

#include "index/engine/engine.h"

namespace ragd::index {

// What each hit of one leg (scores sorted best first) adds to its fused score, in list order:
// 1 / (rrf_k + rank) for RRF; for kWeighted, the leg's weight (alpha for the vector leg,
// 1 - alpha for the text leg) times the score min-max normalised over the leg (all equal: 1).
// Unset fusion and alpha mean what HybridOptions says (RRF, 0.5).
std::vector<double> FusionContributions(std::span<const double> scores, bool vector_leg,
                                        const HybridOptions& options);

}  // namespace ragd::index
