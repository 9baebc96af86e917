#pragma once
// Paired rounds (bench/README.md, "Session 17: paired rounds"): the systems a ratio compares
// are measured in alternation within one process, a short slice of queries each per round, in
// an order that rotates every round, and a ratio is the median of the per-round ratios. On a
// shared 2-vCPU machine whose speed drifts by tens of percent over minutes, two loads run
// minutes apart measure the drift as much as the systems; a drift slower than a round moves
// both sides of a round alike and cancels in its ratio.

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/suites.h"

namespace CLI {
class App;
}

namespace ragd::bench {

struct PairedOptions {
  size_t m = 16;
  size_t ef_construction = 200;
  size_t default_ef = 128;  // every system's ef unless it is matched for recall
  // The ef values searched for INT8's equal-recall point (the lowest whose recall@10 reaches
  // hnswlib-native's at default_ef, and 0.95); they must contain default_ef.
  std::vector<size_t> ef_sweep = {128};
  bool rescore_file = true;  // as IndexOptions::rescore_file
  int rounds = 0;            // 0: no paired rounds
  size_t slice = 200;        // queries per system per round
};

// --paired-rounds and --paired-slice.
void AddPairedFlags(CLI::App& app, PairedOptions* options);

class PairedSuite {
 public:
  // Builds hnswlib -march=native and ragd's backend (float32, F16, INT8) in this process.
  static std::unique_ptr<PairedSuite> Start(const SuiteContext& ctx, const PairedOptions& options,
                                            std::string* error);
  ~PairedSuite();
  // Rounds of hnswlib-native and ragd's backend per kind in process. Writes a "paired" record
  // per system and adds the paired ratios to `targets` (issue 16's in-process keys).
  void RunInProcess(nlohmann::json* targets);
  // Frees ragd's in-process indexes (hnswlib-native stays for RunOverGrpc).
  void ReleaseIndexes();
  // While ragd serves the data set (collection "bench") at `target` as `system` ("ragd",
  // "ragd-int8"): rounds of hnswlib-native against ragd over gRPC with one client, at the
  // default ef and, for quantized collections, at equal recall.
  void RunOverGrpc(const std::string& system, const std::string& target, nlohmann::json* targets);

 private:
  struct Impl;
  explicit PairedSuite(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ragd::bench
