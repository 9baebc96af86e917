// ragd_int8_error_bench: how far int8 codes score from the exact float32 score on the bench's
// ada-like data (bench/dataset.h), for the training sample sizes an index meets and for
// range rules with and without the floor of a few standard deviations (Codec::Train's
// range_sigmas). No graph: every query is scored against every base vector both ways, so what
// is measured is the codes alone. One JSON line per (training size, rule):
//   clamped_fraction   codes at the limit (±127): values at or beyond the trained range
//   abs_error_p50 ... abs_error_max   |q·x - q·x̂| over (query, vector) pairs (every 16th)
//   gap_10_11_mean     the mean gap between each query's exact 10th and 11th neighbours,
//                      the scale an error must stay under not to swap a result
//   recall_at_10_rescored_{10,15,20}   brute force on codes, the best c re-scored exactly:
//                      what re-scoring recovers when the walk is not in the way
// bench/README.md "Session 14" quotes a run.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/bench_util.h"
#include "bench/dataset.h"
#include "index/hnsw/hnsw_graph_internal.h"

namespace ragd::bench {
namespace {

using index::Metric;
using index::Quantization;
using index::hnsw_graph::Codec;

int Run(int argc, char** argv) {
  CLI::App app("int8_error_bench: int8 code error against exact scores, no graph",
               "ragd_int8_error_bench");
  size_t n = 100000;
  size_t queries = 100;
  std::vector<size_t> train_sizes = {256, 1000, 65536};
  std::vector<double> range_sigmas = {0, Codec::kRangeSigmas};
  std::string out = "";
  app.add_option("--n", n, "base vectors (1536-d, the vector bench's data set, seed 42)")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1000}, size_t{10000000}));
  app.add_option("--queries", queries, "queries scored against every base vector")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{10000}));
  app.add_option("--train", train_sizes, "training sample sizes (the first rows)")
      ->capture_default_str();
  app.add_option("--range-sigmas", range_sigmas,
                 "range floors in standard deviations (0: the largest deviation alone)")
      ->capture_default_str();
  app.add_option("--out", out, "JSON-lines results file ('' for stdout only)");
  CLI11_PARSE(app, argc, argv);
  for (size_t t : train_sizes) {
    if (t < Codec::kMinTrainingVectors || t > n) {
      std::cerr << "int8_error_bench: --train " << t << " must be in [" << Codec::kMinTrainingVectors
                << ", --n]\n";
      return 2;
    }
  }

  Report report(out);
  report.Write(HardwareRecord(RAGD_BENCH_SOURCE_DIR));
  DatasetOptions o;
  o.num_base = n;
  o.num_queries = queries;
  const Dataset data = GenerateDataset(o);
  const size_t dim = data.dim;

  // Exact scores, once: every 16th pair kept for the error quantiles, and each query's gap
  // between its 10th and 11th neighbours.
  std::vector<float> exact(queries * n);
  double gap_sum = 0;
  for (size_t q = 0; q < queries; ++q) {
    const float* qv = data.queries.data() + q * dim;
    float* row = exact.data() + q * n;
    for (size_t i = 0; i < n; ++i) {
      const float* x = data.base.data() + i * dim;
      float s = 0;
      for (size_t d = 0; d < dim; ++d) s += qv[d] * x[d];
      row[i] = s;
    }
    std::vector<float> top(row, row + n);
    std::nth_element(top.begin(), top.begin() + 10, top.end(), std::greater<>());
    const float eleventh = top[10];
    const float tenth = *std::min_element(top.begin(), top.begin() + 10);
    gap_sum += tenth - eleventh;
  }

  for (size_t train : train_sizes) {
    for (double sigmas : range_sigmas) {
      Codec codec(Quantization::kInt8, Metric::kDot, dim);
      codec.Train(data.base.data(), train, sigmas);
      std::vector<char> codes(n * codec.code_bytes());
      size_t at_limit = 0;
      for (size_t i = 0; i < n; ++i) {
        char* code = codes.data() + i * codec.code_bytes();
        codec.Encode(data.base.data() + i * dim, code);
        const auto* c = reinterpret_cast<const int8_t*>(code + sizeof(float));
        for (size_t d = 0; d < dim; ++d) at_limit += c[d] == 127 || c[d] == -127;
      }
      std::vector<double> errors;
      errors.reserve(queries * n / 16 + queries);
      const size_t candidates[] = {10, 15, 20};
      double hits[3] = {0, 0, 0};
      std::vector<float> approx(n);
      Codec::PreparedQuery prepared;
      for (size_t q = 0; q < queries; ++q) {
        const float* row = exact.data() + q * n;
        codec.Prepare(data.queries.data() + q * dim, &prepared);
        for (size_t i = 0; i < n; ++i) {
          approx[i] = 1.0f - codec.Distance(prepared, codes.data() + i * codec.code_bytes());
          if (i % 16 == 0) errors.push_back(std::abs(approx[i] - row[i]));
        }
        std::vector<uint32_t> by_exact(n), by_code(n);
        std::iota(by_exact.begin(), by_exact.end(), 0);
        std::iota(by_code.begin(), by_code.end(), 0);
        std::partial_sort(by_exact.begin(), by_exact.begin() + 10, by_exact.end(),
                          [&](uint32_t a, uint32_t b) { return row[a] > row[b]; });
        std::partial_sort(by_code.begin(), by_code.begin() + 20, by_code.end(),
                          [&](uint32_t a, uint32_t b) { return approx[a] > approx[b]; });
        for (size_t c = 0; c < 3; ++c) {
          std::vector<uint32_t> best(by_code.begin(), by_code.begin() + candidates[c]);
          std::sort(best.begin(), best.end(), [&](uint32_t a, uint32_t b) { return row[a] > row[b]; });
          for (size_t r = 0; r < 10; ++r) {
            hits[c] += std::count(by_exact.begin(), by_exact.begin() + 10, best[r]);
          }
        }
      }
      std::sort(errors.begin(), errors.end());
      double sum_sq = 0;
      for (double e : errors) sum_sq += e * e;
      nlohmann::json r = {
          {"bench", "int8_error"},
          {"system", "ragd-int8-codec"},
          {"n", n},
          {"dim", dim},
          {"queries", queries},
          {"train", train},
          {"range_sigmas", sigmas},
          {"clamped_fraction", static_cast<double>(at_limit) / static_cast<double>(n * dim)},
          {"abs_error_rms", std::sqrt(sum_sq / static_cast<double>(errors.size()))},
          {"abs_error_p50", Percentile(errors, 0.5)},
          {"abs_error_p99", Percentile(errors, 0.99)},
          {"abs_error_p999", Percentile(errors, 0.999)},
          {"abs_error_max", errors.back()},
          {"gap_10_11_mean", gap_sum / static_cast<double>(queries)},
      };
      for (size_t c = 0; c < 3; ++c) {
        r["recall_at_10_rescored_" + std::to_string(candidates[c])] =
            hits[c] / static_cast<double>(queries * 10);
      }
      report.Write(r);
    }
  }
  return 0;
}

}  // namespace
}  // namespace ragd::bench

int main(int argc, char** argv) { return ragd::bench::Run(argc, argv); }
