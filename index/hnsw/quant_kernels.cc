// Distance kernels of the HNSW storage kinds (see quant_kernels.h). This file is compiled
// for baseline x86-64 (index/CMakeLists.txt): the scalar functions are the generic path, the
// others carry target attributes and run only after CpuSupports() said yes.

#include "index/hnsw/quant_kernels.h"

#include <immintrin.h>

#include <cstring>
#include <initializer_list>
#include <limits>

// GCC 12's AVX-512 reductions (_mm512_reduce_add_*) start from an undefined register and warn
// about it at every use: a false positive in the compiler's own header.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace ragd::index::quant {
namespace {

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}
float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

// ---- generic scalar reference ----

float DotF32F16Scalar(const float* q, const uint16_t* c, size_t n) {
  float sum = 0;
  for (size_t i = 0; i < n; ++i) sum += q[i] * HalfToFloat(c[i]);
  return sum;
}
float L2F32F16Scalar(const float* q, const uint16_t* c, size_t n) {
  float sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const float d = q[i] - HalfToFloat(c[i]);
    sum += d * d;
  }
  return sum;
}
float DotF16F16Scalar(const uint16_t* a, const uint16_t* b, size_t n) {
  float sum = 0;
  for (size_t i = 0; i < n; ++i) sum += HalfToFloat(a[i]) * HalfToFloat(b[i]);
  return sum;
}
float L2F16F16Scalar(const uint16_t* a, const uint16_t* b, size_t n) {
  float sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const float d = HalfToFloat(a[i]) - HalfToFloat(b[i]);
    sum += d * d;
  }
  return sum;
}
float DotF32Scalar(const float* a, const float* b, size_t n) {
  float sum = 0;
  for (size_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}
float L2F32Scalar(const float* a, const float* b, size_t n) {
  float sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const float d = a[i] - b[i];
    sum += d * d;
  }
  return sum;
}
void EncodeF16Scalar(const float* x, uint16_t* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = FloatToHalf(x[i]);
}
int32_t DotI16I8Scalar(const int16_t* q, const int8_t* c, size_t n) {
  int32_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum += int32_t{q[i]} * int32_t{c[i]};
  return sum;
}
// Inlined into the AVX2 wrappers below too, where the compiler vectorises it with their ISA.
__attribute__((always_inline)) inline float DotSq8Body(const float* mean, const float* scale,
                                                       const int8_t* a, const int8_t* b,
                                                       size_t n) {
  float sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const float xa = mean[i] + scale[i] * static_cast<float>(a[i]);
    const float xb = mean[i] + scale[i] * static_cast<float>(b[i]);
    sum += xa * xb;
  }
  return sum;
}
__attribute__((always_inline)) inline float L2Sq8Body(const float* scale, const int8_t* a,
                                                      const int8_t* b, size_t n) {
  float sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const float d = scale[i] * static_cast<float>(int32_t{a[i]} - int32_t{b[i]});
    sum += d * d;
  }
  return sum;
}
float DotSq8Scalar(const float* mean, const float* scale, const int8_t* a, const int8_t* b,
                   size_t n) {
  return DotSq8Body(mean, scale, a, b, n);
}
float L2Sq8Scalar(const float* scale, const int8_t* a, const int8_t* b, size_t n) {
  return L2Sq8Body(scale, a, b, n);
}

// ---- AVX2 + FMA + F16C ----

#define RAGD_AVX2 __attribute__((target("avx2,fma,f16c")))

RAGD_AVX2 float Sum8(__m256 v) {
  __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  lo = _mm_hadd_ps(lo, lo);
  lo = _mm_hadd_ps(lo, lo);
  return _mm_cvtss_f32(lo);
}
RAGD_AVX2 int32_t SumI8(__m256i v) {
  __m128i lo = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  lo = _mm_hadd_epi32(lo, lo);
  lo = _mm_hadd_epi32(lo, lo);
  return _mm_cvtsi128_si32(lo);
}
RAGD_AVX2 __m256 LoadHalf8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Four accumulators: a stored row comes from DRAM as a stream, and the FMA latency (4 cycles)
// would otherwise bound a loop of one dependent chain.
RAGD_AVX2 float DotF32Avx2(const float* a, const float* b, size_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  }
  const __m256 acc = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
  return Sum8(acc) + DotF32Scalar(a + i, b + i, n - i);
}
RAGD_AVX2 float L2F32Avx2(const float* a, const float* b, size_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    const __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
    const __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
    acc0 = _mm256_fmadd_ps(d0, d0, acc0);
    acc1 = _mm256_fmadd_ps(d1, d1, acc1);
    acc2 = _mm256_fmadd_ps(d2, d2, acc2);
    acc3 = _mm256_fmadd_ps(d3, d3, acc3);
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    acc0 = _mm256_fmadd_ps(d0, d0, acc0);
  }
  const __m256 acc = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
  return Sum8(acc) + L2F32Scalar(a + i, b + i, n - i);
}
RAGD_AVX2 float DotF32F16Avx2(const float* q, const uint16_t* c, size_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), LoadHalf8(c + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8), LoadHalf8(c + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), LoadHalf8(c + i), acc0);
  return Sum8(_mm256_add_ps(acc0, acc1)) + DotF32F16Scalar(q + i, c + i, n - i);
}
RAGD_AVX2 float L2F32F16Avx2(const float* q, const uint16_t* c, size_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(q + i), LoadHalf8(c + i));
    const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(q + i + 8), LoadHalf8(c + i + 8));
    acc0 = _mm256_fmadd_ps(d0, d0, acc0);
    acc1 = _mm256_fmadd_ps(d1, d1, acc1);
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(q + i), LoadHalf8(c + i));
    acc0 = _mm256_fmadd_ps(d0, d0, acc0);
  }
  return Sum8(_mm256_add_ps(acc0, acc1)) + L2F32F16Scalar(q + i, c + i, n - i);
}
RAGD_AVX2 float DotF16F16Avx2(const uint16_t* a, const uint16_t* b, size_t n) {
  __m256 acc = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(LoadHalf8(a + i), LoadHalf8(b + i), acc);
  return Sum8(acc) + DotF16F16Scalar(a + i, b + i, n - i);
}
RAGD_AVX2 float L2F16F16Avx2(const uint16_t* a, const uint16_t* b, size_t n) {
  __m256 acc = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 d = _mm256_sub_ps(LoadHalf8(a + i), LoadHalf8(b + i));
    acc = _mm256_fmadd_ps(d, d, acc);
  }
  return Sum8(acc) + L2F16F16Scalar(a + i, b + i, n - i);
}
RAGD_AVX2 void EncodeF16Avx2(const float* x, uint16_t* out, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  }
  EncodeF16Scalar(x + i, out + i, n - i);
}
RAGD_AVX2 int32_t DotI16I8Avx2(const int16_t* q, const int8_t* c, size_t n) {
  __m256i acc = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i c16 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + i)));
    const __m256i q16 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + i));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(q16, c16));
  }
  return SumI8(acc) + DotI16I8Scalar(q + i, c + i, n - i);
}
// Eight int8 codes as floats.
RAGD_AVX2 __m256 LoadCodes8(const int8_t* p) {
  return _mm256_cvtepi32_ps(
      _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
// The compiler does not vectorise the scalar bodies (a float sum may not be reordered without
// -ffast-math), so the decode-and-multiply is written out.
RAGD_AVX2 float DotSq8Avx2(const float* mean, const float* scale, const int8_t* a,
                           const int8_t* b, size_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 m0 = _mm256_loadu_ps(mean + i), s0 = _mm256_loadu_ps(scale + i);
    const __m256 m1 = _mm256_loadu_ps(mean + i + 8), s1 = _mm256_loadu_ps(scale + i + 8);
    const __m256 xa0 = _mm256_fmadd_ps(s0, LoadCodes8(a + i), m0);
    const __m256 xb0 = _mm256_fmadd_ps(s0, LoadCodes8(b + i), m0);
    const __m256 xa1 = _mm256_fmadd_ps(s1, LoadCodes8(a + i + 8), m1);
    const __m256 xb1 = _mm256_fmadd_ps(s1, LoadCodes8(b + i + 8), m1);
    acc0 = _mm256_fmadd_ps(xa0, xb0, acc0);
    acc1 = _mm256_fmadd_ps(xa1, xb1, acc1);
  }
  return Sum8(_mm256_add_ps(acc0, acc1)) + DotSq8Body(mean + i, scale + i, a + i, b + i, n - i);
}
RAGD_AVX2 float L2Sq8Avx2(const float* scale, const int8_t* a, const int8_t* b, size_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 d0 = _mm256_mul_ps(_mm256_loadu_ps(scale + i),
                                    _mm256_sub_ps(LoadCodes8(a + i), LoadCodes8(b + i)));
    const __m256 d1 = _mm256_mul_ps(_mm256_loadu_ps(scale + i + 8),
                                    _mm256_sub_ps(LoadCodes8(a + i + 8), LoadCodes8(b + i + 8)));
    acc0 = _mm256_fmadd_ps(d0, d0, acc0);
    acc1 = _mm256_fmadd_ps(d1, d1, acc1);
  }
  return Sum8(_mm256_add_ps(acc0, acc1)) + L2Sq8Body(scale + i, a + i, b + i, n - i);
}

// ---- AVX-512 BW (and VNNI) ----

#define RAGD_AVX512 __attribute__((target("avx512f,avx512bw,avx2,fma,f16c")))
#define RAGD_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni,avx2,fma,f16c")))

RAGD_AVX512 __m512 LoadHalf16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
RAGD_AVX512 float DotF32Avx512(const float* a, const float* b, size_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
    acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), acc2);
    acc3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), acc3);
  }
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
  }
  const __m512 acc = _mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3));
  return _mm512_reduce_add_ps(acc) + DotF32Avx2(a + i, b + i, n - i);
}
RAGD_AVX512 float L2F32Avx512(const float* a, const float* b, size_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    const __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
    const __m512 d2 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
    const __m512 d3 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));
    acc0 = _mm512_fmadd_ps(d0, d0, acc0);
    acc1 = _mm512_fmadd_ps(d1, d1, acc1);
    acc2 = _mm512_fmadd_ps(d2, d2, acc2);
    acc3 = _mm512_fmadd_ps(d3, d3, acc3);
  }
  for (; i + 16 <= n; i += 16) {
    const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    acc0 = _mm512_fmadd_ps(d0, d0, acc0);
  }
  const __m512 acc = _mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3));
  return _mm512_reduce_add_ps(acc) + L2F32Avx2(a + i, b + i, n - i);
}
// Four accumulators, as the float32 kernels: F16's walk reads half the bytes of float32's, so
// more of its time is the arithmetic's dependency chain.
RAGD_AVX512 float DotF32F16Avx512(const float* q, const uint16_t* c, size_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), LoadHalf16(c + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 16), LoadHalf16(c + i + 16), acc1);
    acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 32), LoadHalf16(c + i + 32), acc2);
    acc3 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i + 48), LoadHalf16(c + i + 48), acc3);
  }
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + i), LoadHalf16(c + i), acc0);
  }
  const __m512 acc = _mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3));
  return _mm512_reduce_add_ps(acc) + DotF32F16Avx2(q + i, c + i, n - i);
}
RAGD_AVX512 float L2F32F16Avx512(const float* q, const uint16_t* c, size_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  __m512 acc2 = _mm512_setzero_ps(), acc3 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(q + i), LoadHalf16(c + i));
    const __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(q + i + 16), LoadHalf16(c + i + 16));
    const __m512 d2 = _mm512_sub_ps(_mm512_loadu_ps(q + i + 32), LoadHalf16(c + i + 32));
    const __m512 d3 = _mm512_sub_ps(_mm512_loadu_ps(q + i + 48), LoadHalf16(c + i + 48));
    acc0 = _mm512_fmadd_ps(d0, d0, acc0);
    acc1 = _mm512_fmadd_ps(d1, d1, acc1);
    acc2 = _mm512_fmadd_ps(d2, d2, acc2);
    acc3 = _mm512_fmadd_ps(d3, d3, acc3);
  }
  for (; i + 16 <= n; i += 16) {
    const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(q + i), LoadHalf16(c + i));
    acc0 = _mm512_fmadd_ps(d0, d0, acc0);
  }
  const __m512 acc = _mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3));
  return _mm512_reduce_add_ps(acc) + L2F32F16Avx2(q + i, c + i, n - i);
}
RAGD_AVX512 float DotF16F16Avx512(const uint16_t* a, const uint16_t* b, size_t n) {
  __m512 acc = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(LoadHalf16(a + i), LoadHalf16(b + i), acc);
  return _mm512_reduce_add_ps(acc) + DotF16F16Avx2(a + i, b + i, n - i);
}
RAGD_AVX512 float L2F16F16Avx512(const uint16_t* a, const uint16_t* b, size_t n) {
  __m512 acc = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 d = _mm512_sub_ps(LoadHalf16(a + i), LoadHalf16(b + i));
    acc = _mm512_fmadd_ps(d, d, acc);
  }
  return _mm512_reduce_add_ps(acc) + L2F16F16Avx2(a + i, b + i, n - i);
}
RAGD_AVX512 __m512 LoadCodes16(const int8_t* p) {
  return _mm512_cvtepi32_ps(
      _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}
RAGD_AVX512 float DotSq8Avx512(const float* mean, const float* scale, const int8_t* a,
                               const int8_t* b, size_t n) {
  __m512 acc = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 m = _mm512_loadu_ps(mean + i), s = _mm512_loadu_ps(scale + i);
    acc = _mm512_fmadd_ps(_mm512_fmadd_ps(s, LoadCodes16(a + i), m),
                          _mm512_fmadd_ps(s, LoadCodes16(b + i), m), acc);
  }
  return _mm512_reduce_add_ps(acc) + DotSq8Avx2(mean + i, scale + i, a + i, b + i, n - i);
}
RAGD_AVX512 float L2Sq8Avx512(const float* scale, const int8_t* a, const int8_t* b, size_t n) {
  __m512 acc = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 d = _mm512_mul_ps(_mm512_loadu_ps(scale + i),
                                   _mm512_sub_ps(LoadCodes16(a + i), LoadCodes16(b + i)));
    acc = _mm512_fmadd_ps(d, d, acc);
  }
  return _mm512_reduce_add_ps(acc) + L2Sq8Avx2(scale + i, a + i, b + i, n - i);
}
RAGD_AVX512 int32_t DotI16I8Avx512Bw(const int16_t* q, const int8_t* c, size_t n) {
  __m512i acc = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512i c16 =
        _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + i)));
    const __m512i q16 = _mm512_loadu_si512(q + i);
    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(q16, c16));
  }
  return _mm512_reduce_add_epi32(acc) + DotI16I8Avx2(q + i, c + i, n - i);
}
RAGD_VNNI int32_t DotI16I8Vnni(const int16_t* q, const int8_t* c, size_t n) {
  __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512i c0 =
        _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + i)));
    const __m512i c1 =
        _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + i + 32)));
    acc0 = _mm512_dpwssd_epi32(acc0, _mm512_loadu_si512(q + i), c0);
    acc1 = _mm512_dpwssd_epi32(acc1, _mm512_loadu_si512(q + i + 32), c1);
  }
  for (; i + 32 <= n; i += 32) {
    const __m512i c0 =
        _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + i)));
    acc0 = _mm512_dpwssd_epi32(acc0, _mm512_loadu_si512(q + i), c0);
  }
  return _mm512_reduce_add_epi32(_mm512_add_epi32(acc0, acc1)) +
         DotI16I8Avx2(q + i, c + i, n - i);
}

const Kernels kScalar = {SimdLevel::kScalar, "scalar",        DotF32F16Scalar, L2F32F16Scalar,
                         DotF16F16Scalar,    L2F16F16Scalar,  EncodeF16Scalar, DotI16I8Scalar,
                         DotSq8Scalar,       L2Sq8Scalar,     DotF32Scalar,    L2F32Scalar};
const Kernels kAvx2 = {SimdLevel::kAvx2, "avx2",       DotF32F16Avx2, L2F32F16Avx2,
                       DotF16F16Avx2,    L2F16F16Avx2, EncodeF16Avx2, DotI16I8Avx2,
                       DotSq8Avx2,       L2Sq8Avx2,    DotF32Avx2,    L2F32Avx2};
const Kernels kAvx512Bw = {SimdLevel::kAvx512Bw, "avx512bw",      DotF32F16Avx512,
                           L2F32F16Avx512,       DotF16F16Avx512, L2F16F16Avx512,
                           EncodeF16Avx2,        DotI16I8Avx512Bw, DotSq8Avx512,
                           L2Sq8Avx512,          DotF32Avx512,    L2F32Avx512};
const Kernels kAvx512Vnni = {SimdLevel::kAvx512Vnni, "avx512vnni",    DotF32F16Avx512,
                             L2F32F16Avx512,         DotF16F16Avx512, L2F16F16Avx512,
                             EncodeF16Avx2,          DotI16I8Vnni,    DotSq8Avx512,
                             L2Sq8Avx512,            DotF32Avx512,    L2F32Avx512};

}  // namespace

// Round to nearest even through float arithmetic (F. Giesen, "float->half variants").
uint16_t FloatToHalf(float f) {
  const uint32_t sign = Bits(f) & 0x80000000u;
  uint32_t u = Bits(f) ^ sign;
  uint16_t out;
  if (u >= (127u + 16u) << 23) {  // >= 65536: infinity, or NaN
    out = u > (255u << 23) ? 0x7e00 : 0x7c00;
  } else if (u < (113u << 23)) {  // below 2^-14: subnormal half or zero
    const float magic = FromBits(((127u - 15u) + (23u - 10u) + 1u) << 23);
    out = static_cast<uint16_t>(Bits(FromBits(u) + magic) - Bits(magic));
  } else {
    const uint32_t odd = (u >> 13) & 1u;
    u += ((15u - 127u) << 23) + 0xfffu + odd;  // rebias; round half to even
    out = static_cast<uint16_t>(u >> 13);
  }
  return static_cast<uint16_t>(out | (sign >> 16));
}

float HalfToFloat(uint16_t h) {
  constexpr uint32_t kShiftedExp = 0x7c00u << 13;
  uint32_t u = (h & 0x7fffu) << 13;
  const uint32_t exp = u & kShiftedExp;
  u += (127u - 15u) << 23;
  float f;
  if (exp == kShiftedExp) {  // infinity or NaN
    u += (128u - 16u) << 23;
    f = FromBits(u);
  } else if (exp == 0) {  // zero or subnormal: renormalise
    u += 1u << 23;
    f = FromBits(u) - FromBits(113u << 23);
  } else {
    f = FromBits(u);
  }
  return FromBits(Bits(f) | (static_cast<uint32_t>(h & 0x8000u) << 16));
}

int32_t MaxQueryMagnitude(size_t n) {
  const uint64_t bound = static_cast<uint64_t>(std::numeric_limits<int32_t>::max()) /
                         (127u * static_cast<uint64_t>(n == 0 ? 1 : n));
  return static_cast<int32_t>(bound < 32767 ? bound : 32767);
}

bool CpuSupports(SimdLevel level) {
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("f16c");
  const bool bw = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  switch (level) {
    case SimdLevel::kScalar:
      return true;
    case SimdLevel::kAvx2:
      return avx2;
    case SimdLevel::kAvx512Bw:
      return bw;
    case SimdLevel::kAvx512Vnni:
      return bw && __builtin_cpu_supports("avx512vnni");
  }
  return false;
}

const Kernels& KernelsFor(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar:
      return kScalar;
    case SimdLevel::kAvx2:
      return kAvx2;
    case SimdLevel::kAvx512Bw:
      return kAvx512Bw;
    case SimdLevel::kAvx512Vnni:
      return kAvx512Vnni;
  }
  return kScalar;
}

const Kernels& BestKernels() {
  static const Kernels& best = [&]() -> const Kernels& {
    for (SimdLevel level :
         {SimdLevel::kAvx512Vnni, SimdLevel::kAvx512Bw, SimdLevel::kAvx2}) {
      if (CpuSupports(level)) return KernelsFor(level);
    }
    return kScalar;
  }();
  return best;
}

}  // namespace ragd::index::quant
