#include "bench/dataset.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <thread>

namespace ragd::bench {
namespace {

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// xoshiro256**: small, fast and, unlike std::normal_distribution, specified bit for bit, so the
// data set is the same whatever the standard library.
class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream, uint64_t index) {
    uint64_t sm = seed ^ (stream * 0xd1342543de82ef95ULL) ^ (index * 0x9e3779b97f4a7c15ULL);
    for (uint64_t& s : s_) s = SplitMix64(sm);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in (0, 1): never 0, so that log() in Gaussian() is finite.
  double Uniform() { return (static_cast<double>(Next() >> 11) + 0.5) * 0x1.0p-53; }

  // Standard normal by Box-Muller, both outputs used.
  double Gaussian() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double r = std::sqrt(-2.0 * std::log(Uniform()));
    double theta = 2.0 * M_PI * Uniform();
    spare_ = r * std::sin(theta);
    has_spare_ = true;
    return r * std::cos(theta);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
  double spare_ = 0;
  bool has_spare_ = false;
};

// Random streams: one per kind of object, so that changing, say, the number of queries does
// not change the base vectors.
enum Stream : uint64_t {
  kStreamModel = 1,
  kStreamBase = 2,
  kStreamQueries = 3,
  kStreamPairs = 4,
};

int ResolveThreads(int threads) {
  if (threads > 0) return threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

// Runs fn(i) for i in [0, n) on `threads` threads, handing out chunks of `chunk` indices.
template <typename Fn>
void ParallelFor(size_t n, int threads, size_t chunk, Fn fn) {
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (;;) {
      size_t begin = next.fetch_add(chunk);
      if (begin >= n) return;
      size_t end = std::min(n, begin + chunk);
      for (size_t i = begin; i < end; ++i) fn(i);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& th : pool) th.join();
}

void RandomUnit(Rng& rng, float* out, size_t dim) {
  double norm2 = 0;
  for (size_t j = 0; j < dim; ++j) {
    double g = rng.Gaussian();
    out[j] = static_cast<float>(g);
    norm2 += g * g;
  }
  float inv = static_cast<float>(1.0 / std::sqrt(norm2));
  for (size_t j = 0; j < dim; ++j) out[j] *= inv;
}

// The fixed directions of the model (see dataset.h).
struct Model {
  size_t dim = 0;
  std::vector<float> common;        // dim
  std::vector<float> topics;        // topics x dim
  std::vector<float> subtopics;     // topics x subtopics x dim
  std::vector<float> style_dirs;    // style_rank x dim
  std::vector<double> style_sigma;  // style_rank
  std::vector<double> topic_cdf;    // topics, cumulative, last = 1
};

Model MakeModel(const DatasetOptions& o) {
  Model m;
  m.dim = o.dim;
  Rng rng(o.seed, kStreamModel, 0);
  m.common.resize(o.dim);
  RandomUnit(rng, m.common.data(), o.dim);
  m.topics.resize(o.topics * o.dim);
  for (size_t t = 0; t < o.topics; ++t) RandomUnit(rng, &m.topics[t * o.dim], o.dim);
  m.subtopics.resize(o.topics * o.subtopics * o.dim);
  for (size_t s = 0; s < o.topics * o.subtopics; ++s) {
    RandomUnit(rng, &m.subtopics[s * o.dim], o.dim);
  }
  m.style_dirs.resize(o.style_rank * o.dim);
  for (size_t r = 0; r < o.style_rank; ++r) RandomUnit(rng, &m.style_dirs[r * o.dim], o.dim);

  m.style_sigma.resize(o.style_rank);
  double total = 0;
  for (size_t r = 0; r < o.style_rank; ++r) {
    m.style_sigma[r] = std::pow(static_cast<double>(r + 1), -o.style_decay);
    total += m.style_sigma[r];
  }
  for (double& v : m.style_sigma) v = std::sqrt(v / total * o.style);

  m.topic_cdf.resize(o.topics);
  double acc = 0;
  for (size_t t = 0; t < o.topics; ++t) {
    acc += std::pow(static_cast<double>(t + 1), -o.topic_zipf);
    m.topic_cdf[t] = acc;
  }
  for (double& v : m.topic_cdf) v /= acc;
  return m;
}

void SampleVector(const DatasetOptions& o, const Model& m, Stream stream, size_t index,
                  float* out) {
  Rng rng(o.seed, stream, index);
  const size_t dim = o.dim;
  size_t topic = static_cast<size_t>(
      std::lower_bound(m.topic_cdf.begin(), m.topic_cdf.end(), rng.Uniform()) -
      m.topic_cdf.begin());
  topic = std::min(topic, o.topics - 1);
  size_t sub = static_cast<size_t>(rng.Next() % o.subtopics);

  const float a = static_cast<float>(std::sqrt(o.common));
  const float b = static_cast<float>(std::sqrt(o.topic));
  const float c = static_cast<float>(std::sqrt(o.subtopic));
  const float* t = &m.topics[topic * dim];
  const float* s = &m.subtopics[(topic * o.subtopics + sub) * dim];
  const float iso_sigma = static_cast<float>(std::sqrt(o.iso / static_cast<double>(dim)));
  for (size_t j = 0; j < dim; ++j) {
    out[j] = a * m.common[j] + b * t[j] + c * s[j] +
             iso_sigma * static_cast<float>(rng.Gaussian());
  }
  for (size_t r = 0; r < o.style_rank; ++r) {
    const float z = static_cast<float>(rng.Gaussian() * m.style_sigma[r]);
    const float* u = &m.style_dirs[r * dim];
    for (size_t j = 0; j < dim; ++j) out[j] += z * u[j];  // axpy: vectorises without -ffast-math
  }
  double norm2 = 0;
  for (size_t j = 0; j < dim; ++j) norm2 += static_cast<double>(out[j]) * out[j];
  const float inv = static_cast<float>(1.0 / std::sqrt(norm2));
  for (size_t j = 0; j < dim; ++j) out[j] *= inv;
}

double DotExact(const float* a, const float* b, size_t dim) {
  double s = 0;
  for (size_t j = 0; j < dim; ++j) s += static_cast<double>(a[j]) * b[j];
  return s;
}

// Scores one base row against kGroup query rows (stride dim): the base row is loaded once for
// all of them, which is what makes brute force compute-bound rather than memory-bound.
constexpr size_t kGroup = 8;

__attribute__((target("avx2,fma"))) void DotGroupAvx2(const float* base, const float* q,
                                                      size_t dim, float* out) {
  __m256 acc[kGroup];
  for (size_t g = 0; g < kGroup; ++g) acc[g] = _mm256_setzero_ps();
  size_t j = 0;
  for (; j + 8 <= dim; j += 8) {
    __m256 b = _mm256_loadu_ps(base + j);
    for (size_t g = 0; g < kGroup; ++g) {
      acc[g] = _mm256_fmadd_ps(b, _mm256_loadu_ps(q + g * dim + j), acc[g]);
    }
  }
  for (size_t g = 0; g < kGroup; ++g) {
    __m128 lo = _mm256_castps256_ps128(acc[g]);
    __m128 hi = _mm256_extractf128_ps(acc[g], 1);
    __m128 s = _mm_add_ps(lo, hi);
    s = _mm_hadd_ps(s, s);
    s = _mm_hadd_ps(s, s);
    float sum = _mm_cvtss_f32(s);
    for (size_t t = j; t < dim; ++t) sum += base[t] * q[g * dim + t];
    out[g] = sum;
  }
}

void DotGroupScalar(const float* base, const float* q, size_t dim, float* out) {
  for (size_t g = 0; g < kGroup; ++g) {
    float sum = 0;
    for (size_t j = 0; j < dim; ++j) sum += base[j] * q[g * dim + j];
    out[g] = sum;
  }
}

// A fixed-size top-k list, best first; k is small (10), so insertion sort beats a heap.
class TopK {
 public:
  explicit TopK(size_t k)
      : k_(k), scores_(k, -std::numeric_limits<float>::infinity()), ids_(k, -1) {}

  float threshold() const { return scores_[k_ - 1]; }

  void Push(float score, int64_t id) {
    if (score <= scores_[k_ - 1]) return;
    size_t pos = k_ - 1;
    while (pos > 0 && scores_[pos - 1] < score) {
      scores_[pos] = scores_[pos - 1];
      ids_[pos] = ids_[pos - 1];
      --pos;
    }
    scores_[pos] = score;
    ids_[pos] = id;
  }

  const std::vector<int64_t>& ids() const { return ids_; }

 private:
  size_t k_;
  std::vector<float> scores_;
  std::vector<int64_t> ids_;
};

}  // namespace

Dataset GenerateDataset(const DatasetOptions& o) {
  if (o.dim == 0 || o.num_base == 0 || o.topics == 0 || o.subtopics == 0) {
    throw std::invalid_argument("dataset: dim, num_base, topics and subtopics must be positive");
  }
  Model model = MakeModel(o);
  Dataset d;
  d.dim = o.dim;
  d.num_base = o.num_base;
  d.num_queries = o.num_queries;
  d.base.resize(o.num_base * o.dim);
  d.queries.resize(o.num_queries * o.dim);
  const int threads = ResolveThreads(o.threads);
  ParallelFor(o.num_base, threads, 256, [&](size_t i) {
    SampleVector(o, model, kStreamBase, i, &d.base[i * o.dim]);
  });
  ParallelFor(o.num_queries, threads, 64, [&](size_t i) {
    SampleVector(o, model, kStreamQueries, i, &d.queries[i * o.dim]);
  });
  return d;
}

CosineStats RandomPairCosine(const Dataset& data, size_t pairs, uint64_t seed) {
  CosineStats stats;
  if (data.num_base < 2 || pairs == 0) return stats;
  Rng rng(seed, kStreamPairs, 0);
  std::vector<double> values;
  values.reserve(pairs);
  for (size_t p = 0; p < pairs; ++p) {
    size_t i = rng.Next() % data.num_base;
    size_t j = rng.Next() % (data.num_base - 1);
    if (j >= i) ++j;
    values.push_back(DotExact(data.base_row(i), data.base_row(j), data.dim));
  }
  double sum = std::accumulate(values.begin(), values.end(), 0.0);
  stats.mean = sum / static_cast<double>(pairs);
  double var = 0;
  for (double v : values) var += (v - stats.mean) * (v - stats.mean);
  stats.stddev = std::sqrt(var / static_cast<double>(pairs));
  std::sort(values.begin(), values.end());
  stats.p05 = values[pairs * 5 / 100];
  stats.p95 = values[std::min(pairs - 1, pairs * 95 / 100)];
  return stats;
}

std::vector<int64_t> ExactTopK(const Dataset& data, size_t k, int threads) {
  const size_t dim = data.dim;
  const size_t nq = data.num_queries;
  std::vector<int64_t> truth(nq * k, -1);
  if (nq == 0 || k == 0) return truth;
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  // Queries padded to a multiple of the group so the kernel never reads past the end.
  const size_t groups = (nq + kGroup - 1) / kGroup;
  std::vector<float> padded(groups * kGroup * dim, 0.0f);
  std::copy(data.queries.begin(), data.queries.end(), padded.begin());

  // Base rows per block: 256 x 1536 floats = 1.5 MiB stays in the shared L3 (and mostly L2)
  // while every query group of the thread is scored against it.
  const size_t kBlock = 256;
  const int n = ResolveThreads(threads);
  // Each thread takes a span of query groups at a time: large spans read the base matrix
  // from memory fewer times, but there must be enough spans to keep every thread busy.
  const size_t kSpan = std::clamp<size_t>(groups / (2 * static_cast<size_t>(n)), 1, 16);
  std::atomic<size_t> next_group{0};
  auto worker = [&] {
    float scores[kGroup];
    for (;;) {
      size_t g0 = next_group.fetch_add(kSpan);
      if (g0 >= groups) return;
      size_t g1 = std::min(groups, g0 + kSpan);
      std::vector<TopK> tops(static_cast<size_t>((g1 - g0) * kGroup), TopK(k));
      for (size_t b0 = 0; b0 < data.num_base; b0 += kBlock) {
        size_t b1 = std::min(data.num_base, b0 + kBlock);
        for (size_t g = g0; g < g1; ++g) {
          const float* q = &padded[g * kGroup * dim];
          for (size_t b = b0; b < b1; ++b) {
            if (avx2) {
              DotGroupAvx2(data.base_row(b), q, dim, scores);
            } else {
              DotGroupScalar(data.base_row(b), q, dim, scores);
            }
            for (size_t i = 0; i < kGroup; ++i) {
              tops[(g - g0) * kGroup + i].Push(scores[i], static_cast<int64_t>(b));
            }
          }
        }
      }
      for (size_t g = g0; g < g1; ++g) {
        for (size_t i = 0; i < kGroup; ++i) {
          size_t qi = g * kGroup + i;
          if (qi >= nq) break;
          const std::vector<int64_t>& ids = tops[(g - g0) * kGroup + i].ids();
          std::copy(ids.begin(), ids.end(), truth.begin() + static_cast<ptrdiff_t>(qi * k));
        }
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < n; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& th : pool) th.join();
  return truth;
}

double RecallAtK(const std::vector<int64_t>& found, const std::vector<int64_t>& truth,
                 size_t k) {
  if (k == 0 || truth.empty()) return 0;
  const size_t nq = truth.size() / k;
  size_t hits = 0;
  for (size_t q = 0; q < nq; ++q) {
    const int64_t* t = &truth[q * k];
    const int64_t* f = &found[q * k];
    for (size_t i = 0; i < k; ++i) {
      if (f[i] < 0) continue;
      if (std::find(t, t + k, f[i]) != t + k) ++hits;
    }
  }
  return static_cast<double>(hits) / static_cast<double>(nq * k);
}

NeighbourScores MeanNeighbourScores(const Dataset& data, const std::vector<int64_t>& truth,
                                    size_t k) {
  NeighbourScores s;
  if (k == 0 || data.num_queries == 0) return s;
  for (size_t q = 0; q < data.num_queries; ++q) {
    s.top1 += DotExact(data.query_row(q), data.base_row(static_cast<size_t>(truth[q * k])),
                       data.dim);
    s.topk += DotExact(data.query_row(q),
                       data.base_row(static_cast<size_t>(truth[q * k + k - 1])), data.dim);
  }
  s.top1 /= static_cast<double>(data.num_queries);
  s.topk /= static_cast<double>(data.num_queries);
  return s;
}

}  // namespace ragd::bench
