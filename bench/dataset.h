#pragma once
// Synthetic embedding-like vectors for the benchmarks, and their exact nearest neighbours.
//
// Real sentence embeddings (OpenAI text-embedding-ada-002 in particular) are unit-norm, share a
// strong common direction (unrelated texts still score a cosine of about 0.6-0.7), form
// clusters of topics and sub-topics, and vary along a few dozen dominant directions rather than
// uniformly over all 1536. Uniform random vectors have none of this: their cosines are ~0 and
// HNSW behaves very differently on them, so they would mislead every figure measured here.
//
// Each vector is the normalised sum of
//   sqrt(common)   * mu                         one direction shared by every vector
//   sqrt(topic)    * t[topic]                   one of `topics` directions (Zipf-distributed)
//   sqrt(subtopic) * s[topic][sub]              one of `subtopics` directions per topic
//   sum_r z_r * u_r, z_r ~ N(0, style_r^2)      a rank-`style_rank` anisotropic Gaussian whose
//                                               variances decay as 1/(r+1)^style_decay and sum
//                                               to `style`
//   N(0, iso / dim) per coordinate              isotropic noise of total energy `iso`
// where every direction is a random unit vector (nearly orthogonal to the others in high
// dimension). The expected cosine of two unrelated vectors is then about common / (sum of all
// energies). Base vectors and queries come from the same model on different random streams,
// so no query is a copy of a base vector. Everything is a pure function of the seed, also when
// generated on several threads.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ragd::bench {

struct DatasetOptions {
  size_t num_base = 100000;   // Default: 100,000.
  size_t num_queries = 1000;  // Default: 1,000.
  size_t dim = 1536;          // Default: 1536 (ada-002).
  uint64_t seed = 42;         // Default: 42.
  size_t topics = 64;         // Default: 64.
  size_t subtopics = 16;      // per topic. Default: 16.
  double topic_zipf = 0.8;    // topic frequency ~ 1/(rank+1)^topic_zipf. Default: 0.8.
  // Energies (squared norms before normalisation); see the file comment.
  double common = 0.60;    // Default: 0.60.
  double topic = 0.08;     // Default: 0.08.
  double subtopic = 0.04;  // Default: 0.04.
  double style = 0.22;     // Default: 0.22.
  double iso = 0.06;       // Default: 0.06.
  size_t style_rank = 256;    // Default: 256.
  double style_decay = 0.5;   // Default: 0.5.
  int threads = 0;            // 0: one per hardware thread.
};

// Row-major float32 matrices of unit-norm rows.
struct Dataset {
  size_t dim = 0;
  size_t num_base = 0;
  size_t num_queries = 0;
  std::vector<float> base;     // num_base x dim
  std::vector<float> queries;  // num_queries x dim

  const float* base_row(size_t i) const { return base.data() + i * dim; }
  const float* query_row(size_t i) const { return queries.data() + i * dim; }
};

Dataset GenerateDataset(const DatasetOptions& options);

// Cosine statistics of `pairs` random (i, j), i != j, base pairs: what "unrelated items" score.
struct CosineStats {
  double mean = 0;
  double stddev = 0;
  double p05 = 0;
  double p95 = 0;
};
CosineStats RandomPairCosine(const Dataset& data, size_t pairs, uint64_t seed);

// Exact top-k by inner product for every query: num_queries x k base row numbers, best first.
// Multi-threaded and cache-blocked (a query block is scored against a block of base rows that
// stays in cache), with an AVX2/FMA kernel chosen at run time whatever this file was compiled
// for, so that the ground truth costs the same in every build variant.
std::vector<int64_t> ExactTopK(const Dataset& data, size_t k, int threads);

// Mean over queries of |found ∩ truth| / k; `found` rows have k entries (-1 for missing).
double RecallAtK(const std::vector<int64_t>& found, const std::vector<int64_t>& truth, size_t k);

// Mean inner product of each query with its i-th true neighbour (i = 0 and k-1): how far the
// neighbours stand out from the 0.6 background, a property of the data worth printing.
struct NeighbourScores {
  double top1 = 0;
  double topk = 0;
};
NeighbourScores MeanNeighbourScores(const Dataset& data, const std::vector<int64_t>& truth,
                                    size_t k);

}  // namespace ragd::bench
