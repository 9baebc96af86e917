#pragma once
// Private to index/hnsw: the distance kernels of the HNSW storage kinds (IndexSpec::
// quantization: float32, f16, int8), with run-time dispatch on the CPU's instruction sets. Each kernel exists as a
// generic scalar reference (compiled for baseline x86-64, no intrinsics) and, where the CPU has
// them, AVX2+F16C+FMA, AVX-512 BW and AVX-512 VNNI versions, all in quant_kernels.cc, which is
// compiled for baseline x86-64 with per-function target attributes (so the scalar path really
// is generic). tests/index/quant_kernels_test.cc checks every level the CPU supports against
// the scalar reference on random inputs.
//
// Integer kernels are exact (the same int32 on every level); float kernels differ from the
// reference only by summation order.

#include <cstddef>
#include <cstdint>

namespace ragd::index::quant {

enum class SimdLevel { kScalar = 0, kAvx2 = 1, kAvx512Bw = 2, kAvx512Vnni = 3 };

// IEEE 754 binary16 conversions, round to nearest even (overflow to infinity, NaN kept NaN).
uint16_t FloatToHalf(float x);
float HalfToFloat(uint16_t h);

struct Kernels {
  SimdLevel level;
  const char* name;
  // Σ q[i] · half(c[i]).
  float (*dot_f32_f16)(const float* q, const uint16_t* c, size_t n);
  // Σ (q[i] − half(c[i]))².
  float (*l2_f32_f16)(const float* q, const uint16_t* c, size_t n);
  // Σ half(a[i]) · half(b[i]) and Σ (half(a[i]) − half(b[i]))²: code against code (graph
  // construction and repair).
  float (*dot_f16_f16)(const uint16_t* a, const uint16_t* b, size_t n);
  float (*l2_f16_f16)(const uint16_t* a, const uint16_t* b, size_t n);
  // Encodes n floats as halves.
  void (*encode_f16)(const float* x, uint16_t* out, size_t n);
  // Σ q[i] · c[i], exact. The caller bounds |q[i]| so that n · 127 · max|q| < 2^31
  // (MaxQueryMagnitude), so no partial sum overflows in any order.
  int32_t (*dot_i16_i8)(const int16_t* q, const int8_t* c, size_t n);
  // Decoded int8 codes x = mean + scale · c, code against code: Σ x_a · x_b and
  // Σ (x_a − x_b)² = Σ (scale · (a − b))².
  float (*dot_sq8_sq8)(const float* mean, const float* scale, const int8_t* a, const int8_t* b,
                       size_t n);
  float (*l2_sq8_sq8)(const float* scale, const int8_t* a, const int8_t* b, size_t n);
  // Σ a[i] · b[i] and Σ (a[i] − b[i])² on float32 rows: the unquantized storage's distances.
  // hnswlib picks its kernel when it is compiled (AVX2 in ragd's x86-64-v3 build); these let a
  // CPU with AVX-512 use it without a build for that CPU.
  float (*dot_f32_f32)(const float* a, const float* b, size_t n);
  float (*l2_f32_f32)(const float* a, const float* b, size_t n);
};

// The largest |q[i]| for which dot_i16_i8 cannot overflow on n dimensions (<= 32767).
int32_t MaxQueryMagnitude(size_t n);

// True when this CPU (and OS) can run `level`.
bool CpuSupports(SimdLevel level);
// The kernels of one level; the caller checks CpuSupports first.
const Kernels& KernelsFor(SimdLevel level);
// The best level this CPU supports, chosen once.
const Kernels& BestKernels();

}  // namespace ragd::index::quant
