#pragma once
// Internal to ragd_index: exact distance kernels and top-k selection shared by the backends.
// Compiled with the project's SIMD level (ragd_target_simd), so the AVX2/FMA path is taken on
// x86-64-v3 builds; the scalar loop is the portable fallback.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <queue>
#include <span>
#include <string>
#include <vector>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "index/types.h"
#include "index/vector_index.h"

namespace ragd::index::internal {

#if defined(__AVX2__) && defined(__FMA__)
inline float HorizontalSum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_hadd_ps(lo, lo);
  lo = _mm_hadd_ps(lo, lo);
  return _mm_cvtss_f32(lo);
}
#endif

inline float Dot(const float* a, const float* b, size_t n) {
  size_t i = 0;
  float sum = 0;
#if defined(__AVX2__) && defined(__FMA__)
  // Two accumulators hide the FMA latency.
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  }
  sum = HorizontalSum(_mm256_add_ps(acc0, acc1));
#endif
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

inline float L2Sqr(const float* a, const float* b, size_t n) {
  size_t i = 0;
  float sum = 0;
#if defined(__AVX2__) && defined(__FMA__)
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    acc0 = _mm256_fmadd_ps(d0, d0, acc0);
    acc1 = _mm256_fmadd_ps(d1, d1, acc1);
  }
  for (; i + 8 <= n; i += 8) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    acc0 = _mm256_fmadd_ps(d0, d0, acc0);
  }
  sum = HorizontalSum(_mm256_add_ps(acc0, acc1));
#endif
  for (; i < n; ++i) {
    float d = a[i] - b[i];
    sum += d * d;
  }
  return sum;
}

// "Higher is closer" score of two vectors already prepared for `metric` (normalised for
// kCosine).
inline float Score(Metric metric, const float* a, const float* b, size_t n) {
  switch (metric) {
    case Metric::kCosine:
    case Metric::kDot:
      return Dot(a, b, n);
    case Metric::kL2:
      return -L2Sqr(a, b, n);
  }
  return 0;
}

// Scales `v` to unit length in place; a zero vector stays zero (its cosine with anything is 0).
inline void Normalize(float* v, size_t n) {
  float norm = std::sqrt(Dot(v, v, n));
  if (norm > 0) {
    float inv = 1.0f / norm;
    for (size_t i = 0; i < n; ++i) v[i] *= inv;
  }
}

// Copies `vectors` and normalises each row when the metric is cosine; returns the input
// unchanged otherwise (`storage` stays empty).
inline std::span<const float> PrepareVectors(Metric metric, size_t dim,
                                             std::span<const float> vectors,
                                             std::vector<float>* storage) {
  if (metric != Metric::kCosine) return vectors;
  storage->assign(vectors.begin(), vectors.end());
  for (size_t off = 0; off + dim <= storage->size(); off += dim) Normalize(storage->data() + off, dim);
  return *storage;
}

inline bool AllFinite(std::span<const float> v) {
  for (float x : v) {
    if (!std::isfinite(x)) return false;
  }
  return true;
}

// The check every backend makes of a query before searching: INVALID_ARGUMENT for a wrong
// dimension or a non-finite value.
inline absl::Status CheckQuery(std::span<const float> query, size_t dim) {
  if (query.size() != dim) {
    return absl::InvalidArgumentError("query has " + std::to_string(query.size()) +
                                      " floats, index dim is " + std::to_string(dim));
  }
  if (!AllFinite(query)) {
    return absl::InvalidArgumentError("query must be finite (no NaN or infinity)");
  }
  return absl::OkStatus();
}

// Best-first order with a deterministic tie-break (smaller label first).
inline bool Better(const SearchHit& a, const SearchHit& b) {
  return a.score > b.score || (a.score == b.score && a.label < b.label);
}

// Keeps the k best hits seen so far.
class TopK {
 public:
  explicit TopK(size_t k) : k_(k) {}
  void Push(Label label, float score) {
    if (k_ == 0) return;
    SearchHit hit{label, score};
    if (heap_.size() < k_) {
      heap_.push_back(hit);
      std::push_heap(heap_.begin(), heap_.end(), Better);
    } else if (Better(hit, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), Better);
      heap_.back() = hit;
      std::push_heap(heap_.begin(), heap_.end(), Better);
    }
  }
  // Worst kept score; only meaningful when full().
  bool full() const { return heap_.size() >= k_; }
  float worst() const { return heap_.front().score; }
  std::vector<SearchHit> Take() && {
    std::sort_heap(heap_.begin(), heap_.end(), Better);
    return std::move(heap_);
  }

 private:
  size_t k_;
  std::vector<SearchHit> heap_;  // heap whose front is the worst kept hit
};

}  // namespace ragd::index::internal

namespace ragd::index::internal {

// Filtered-search planning shared by the approximate backends. A graph or IVF search that
// must collect `ef` accepted labels visits about ef / selectivity nodes; an exact scan computes
// one distance per matching label (selectivity x live). The scan wins when it computes fewer
// distances, which is the case for small or very selective sets — and it is exact, where a
// graph walk through mostly rejected nodes loses recall.
inline bool PreferExactFilteredScan(size_t live, double selectivity, size_t ef) {
  if (!(selectivity > 0) || selectivity >= 1) return false;
  selectivity = std::max(selectivity, 1e-9);
  return selectivity * static_cast<double>(live) <= static_cast<double>(ef) / selectivity;
}

// Widens a per-call knob by 1 / selectivity (capped) so that an approximate filtered search
// still meets about `value` accepted candidates.
inline size_t WidenForSelectivity(size_t value, double selectivity, size_t cap) {
  if (!(selectivity > 0) || selectivity >= 1) return value;
  const double widened = static_cast<double>(value) / selectivity;
  return std::max(value, static_cast<size_t>(std::min(widened, static_cast<double>(cap))));
}

}  // namespace ragd::index::internal
