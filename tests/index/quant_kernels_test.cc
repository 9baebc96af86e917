// The quantized HNSW storage's distance kernels (index/hnsw/quant_kernels.h): every SIMD level
// this CPU supports against the generic scalar reference, on random inputs of many lengths
// (tails included); integer kernels must agree exactly, float kernels up to summation order.
// The half conversions against F16C's and against hand-picked values.

#include "index/hnsw/quant_kernels.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace ragd::index::quant {
namespace {

std::vector<SimdLevel> Supported() {
  std::vector<SimdLevel> out;
  for (SimdLevel l : {SimdLevel::kAvx2, SimdLevel::kAvx512Bw, SimdLevel::kAvx512Vnni}) {
    if (CpuSupports(l)) out.push_back(l);
  }
  return out;
}

constexpr size_t kLengths[] = {1, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 100, 768, 1536, 1543};

TEST(QuantKernelsTest, HalfConversionKnownValues) {
  EXPECT_EQ(FloatToHalf(0.0f), 0x0000);
  EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7c00);  // rounds to infinity
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(FloatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie: to even
  EXPECT_EQ(FloatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie: to even
  EXPECT_EQ(HalfToFloat(0x3555), 0.333251953125f);
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(HalfToFloat(0x7c00)));
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7e00)));
  // Every finite half survives a round trip.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00) continue;
    EXPECT_EQ(FloatToHalf(HalfToFloat(static_cast<uint16_t>(h))), h) << h;
  }
}

TEST(QuantKernelsTest, EveryLevelMatchesTheScalarReference) {
  const Kernels& ref = KernelsFor(SimdLevel::kScalar);
  std::mt19937 rng(20261201);
  std::normal_distribution<float> normal(0, 1);
  std::uniform_int_distribution<int> code(-127, 127);
  std::printf("[ kernels  ] best on this CPU: %s\n", BestKernels().name);
  for (SimdLevel level : Supported()) {
    const Kernels& k = KernelsFor(level);
    SCOPED_TRACE(k.name);
    for (size_t n : kLengths) {
      SCOPED_TRACE(n);
      for (int trial = 0; trial < 5; ++trial) {
        std::vector<float> q(n), x(n), mean(n), scale(n);
        for (size_t i = 0; i < n; ++i) {
          q[i] = normal(rng);
          x[i] = normal(rng) * 3;
          mean[i] = normal(rng) * 0.1f;
          scale[i] = std::abs(normal(rng)) * 0.01f + 1e-4f;
        }
        std::vector<uint16_t> h_ref(n), h(n), g(n);
        ref.encode_f16(x.data(), h_ref.data(), n);
        k.encode_f16(x.data(), h.data(), n);
        EXPECT_EQ(h, h_ref);  // F16C rounds to nearest even too
        ref.encode_f16(q.data(), g.data(), n);
        double abs_sum = 0;
        for (size_t i = 0; i < n; ++i) abs_sum += std::abs(q[i] * x[i]) + q[i] * q[i] + x[i] * x[i];
        const float tol = 1e-5f * static_cast<float>(abs_sum) + 1e-5f;
        EXPECT_NEAR(k.dot_f32_f16(q.data(), h.data(), n), ref.dot_f32_f16(q.data(), h.data(), n),
                    tol);
        EXPECT_NEAR(k.l2_f32_f16(q.data(), h.data(), n), ref.l2_f32_f16(q.data(), h.data(), n),
                    tol);
        EXPECT_NEAR(k.dot_f16_f16(g.data(), h.data(), n), ref.dot_f16_f16(g.data(), h.data(), n),
                    tol);
        EXPECT_NEAR(k.l2_f16_f16(g.data(), h.data(), n), ref.l2_f16_f16(g.data(), h.data(), n),
                    tol);
        EXPECT_NEAR(k.dot_f32_f32(q.data(), x.data(), n), ref.dot_f32_f32(q.data(), x.data(), n),
                    tol);
        EXPECT_NEAR(k.l2_f32_f32(q.data(), x.data(), n), ref.l2_f32_f32(q.data(), x.data(), n),
                    tol);

        std::vector<int8_t> a(n), b(n);
        for (size_t i = 0; i < n; ++i) {
          a[i] = static_cast<int8_t>(code(rng));
          b[i] = static_cast<int8_t>(code(rng));
        }
        // Integer dot product at the largest allowed query magnitude: exact on every level.
        const int32_t limit = MaxQueryMagnitude(n);
        std::vector<int16_t> q16(n);
        std::uniform_int_distribution<int> weight(-limit, limit);
        for (size_t i = 0; i < n; ++i) q16[i] = static_cast<int16_t>(weight(rng));
        q16[0] = static_cast<int16_t>(limit);
        int64_t exact = 0;
        for (size_t i = 0; i < n; ++i) exact += int64_t{q16[i]} * a[i];
        EXPECT_EQ(ref.dot_i16_i8(q16.data(), a.data(), n), exact);
        EXPECT_EQ(k.dot_i16_i8(q16.data(), a.data(), n), exact);
        double sq8_abs = 0;
        for (size_t i = 0; i < n; ++i) {
          const double xa = mean[i] + scale[i] * a[i], xb = mean[i] + scale[i] * b[i];
          sq8_abs += std::abs(xa * xb) + (xa - xb) * (xa - xb);
        }
        const float sq8_tol = 1e-5f * static_cast<float>(sq8_abs) + 1e-6f;
        EXPECT_NEAR(k.dot_sq8_sq8(mean.data(), scale.data(), a.data(), b.data(), n),
                    ref.dot_sq8_sq8(mean.data(), scale.data(), a.data(), b.data(), n), sq8_tol);
        EXPECT_NEAR(k.l2_sq8_sq8(scale.data(), a.data(), b.data(), n),
                    ref.l2_sq8_sq8(scale.data(), a.data(), b.data(), n), sq8_tol);
      }
    }
  }
}

TEST(QuantKernelsTest, ScalarReferenceMatchesDoubleArithmetic) {
  const Kernels& ref = KernelsFor(SimdLevel::kScalar);
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0, 1);
  const size_t n = 300;
  std::vector<float> q(n), x(n);
  for (size_t i = 0; i < n; ++i) {
    q[i] = normal(rng);
    x[i] = normal(rng);
  }
  std::vector<uint16_t> h(n);
  ref.encode_f16(x.data(), h.data(), n);
  double dot = 0, l2 = 0;
  for (size_t i = 0; i < n; ++i) {
    const double xv = HalfToFloat(h[i]);
    EXPECT_NEAR(xv, x[i], std::abs(x[i]) * 0x1p-11 + 0x1p-24);  // half: 11 significant bits
    dot += q[i] * xv;
    l2 += (q[i] - xv) * (q[i] - xv);
  }
  EXPECT_NEAR(ref.dot_f32_f16(q.data(), h.data(), n), dot, 1e-3);
  EXPECT_NEAR(ref.l2_f32_f16(q.data(), h.data(), n), l2, 1e-3);
  double dot32 = 0, l232 = 0;
  for (size_t i = 0; i < n; ++i) {
    dot32 += double{q[i]} * x[i];
    l232 += (double{q[i]} - x[i]) * (double{q[i]} - x[i]);
  }
  EXPECT_NEAR(ref.dot_f32_f32(q.data(), x.data(), n), dot32, 1e-3);
  EXPECT_NEAR(ref.l2_f32_f32(q.data(), x.data(), n), l232, 1e-3);
  EXPECT_EQ(MaxQueryMagnitude(1), 32767);
  EXPECT_LE(int64_t{MaxQueryMagnitude(1536)} * 127 * 1536, std::numeric_limits<int32_t>::max());
  EXPECT_LE(int64_t{MaxQueryMagnitude(65536)} * 127 * 65536, std::numeric_limits<int32_t>::max());
}

}  // namespace
}  // namespace ragd::index::quant
