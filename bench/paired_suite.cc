// Paired rounds (paired_suite.h): hnswlib -march=native, ragd's backend per storage kind and ragd
// over gRPC measured in alternation, so that issue 16's ratios come from the same minutes.

#include "bench/paired_suite.h"

#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include "bench/index_under_test.h"
#include "bench/native_graph.h"
#include "bench/server_harness.h"

namespace ragd::bench {
namespace {

// Answers query q into ids (kTopK, -1 padded) on behalf of caller `thread`; false on failure.
using PairedSearch = std::function<bool(int thread, size_t q, int64_t* ids)>;

// One system at one ef, searched by `threads` callers at once.
struct Config {
  std::string system;
  size_t ef = 0;
  int threads = 1;
  PairedSearch search;
  double recall = 0;
  std::vector<double> qps;  // by round
};
Config MakeConfig(std::string system, size_t ef, PairedSearch search, int threads = 1) {
  Config c;
  c.system = std::move(system);
  c.ef = ef;
  c.threads = threads;
  c.search = std::move(search);
  return c;
}

double RecallOf(const SuiteContext& ctx, const Config& c, bool* ok) {
  const size_t nq = ctx.data->num_queries;
  std::vector<int64_t> found(nq * kTopK, -1);
  for (size_t q = 0; q < nq; ++q) *ok = c.search(0, q, &found[q * kTopK]) && *ok;
  return RecallAtK(found, *ctx.truth, kTopK);
}

struct Spread {
  double median = 0, q1 = 0, q3 = 0, min = 0, max = 0;
};
Spread SpreadOf(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return {};
  return {Percentile(v, 0.5), Percentile(v, 0.25), Percentile(v, 0.75), v.front(), v.back()};
}

// A paired ratio a/b: Target() of the median of the per-round ratios, with their spread.
nlohmann::json PairedRatio(const Config& a, const Config& b, double goal) {
  std::vector<double> ratios;
  for (size_t r = 0; r < a.qps.size() && r < b.qps.size(); ++r) {
    if (b.qps[r] > 0) ratios.push_back(a.qps[r] / b.qps[r]);
  }
  const Spread s = SpreadOf(ratios);
  nlohmann::json j = goal > 0 ? Target(s.median, goal, true) : nlohmann::json{{"value", s.median}};
  j["q1"] = s.q1;
  j["q3"] = s.q3;
  j["min"] = s.min;
  j["max"] = s.max;
  j["rounds"] = ratios.size();
  auto name = [](const Config& c) {
    return c.system + " ef " + std::to_string(c.ef) +
           (c.threads > 1 ? " x" + std::to_string(c.threads) : "");
  };
  j["of"] = name(a) + " / " + name(b);
  return j;
}

struct EfRecall {
  size_t ef = 0;
  double recall = 0;
};
// The lowest ef of `points` reaching `want`; 0 when none does.
size_t LowestEf(const std::vector<EfRecall>& points, double want) {
  const EfRecall* p = LowestEfReaching(points, want, [](const EfRecall&) { return true; });
  return p == nullptr ? 0 : p->ef;
}

}  // namespace

struct PairedSuite::Impl {
  const SuiteContext* ctx = nullptr;
  PairedOptions options;
  std::unique_ptr<NativeGraph> native;
  Config native_config;  // hnswlib-native at the default ef
  std::vector<std::pair<std::string, std::unique_ptr<IndexUnderTest>>> indexes;

  // Rounds over `configs` (qps appended per round); false when a search failed. A config with
  // N threads shares the round's slice among N callers (query i to caller i mod N), each in a
  // thread of its own, and its QPS is the slice over the wall time of them all.
  bool RunRounds(const std::vector<Config*>& configs) {
    const size_t nq = ctx->data->num_queries;
    const size_t count = configs.size();
    for (int r = 0; r < options.rounds; ++r) {
      const size_t start = (static_cast<size_t>(r) * options.slice) % nq;
      for (size_t j = 0; j < count; ++j) {
        Config& c = *configs[(static_cast<size_t>(r) + j) % count];
        std::atomic<bool> ok{true};
        auto caller = [&](int t) {
          int64_t ids[kTopK];
          const size_t step = static_cast<size_t>(c.threads);
          for (size_t i = static_cast<size_t>(t); i < options.slice; i += step) {
            if (!c.search(t, (start + i) % nq, ids)) ok = false;
          }
        };
        const Clock::time_point t0 = Clock::now();
        std::vector<std::thread> others;
        for (int t = 1; t < c.threads; ++t) others.emplace_back(caller, t);
        caller(0);
        for (std::thread& th : others) th.join();
        c.qps.push_back(static_cast<double>(options.slice) / SecondsSince(t0));
        if (!ok) return false;
      }
    }
    return true;
  }

  void Write(const Config& c, const std::string& where) {
    const Spread s = SpreadOf(c.qps);
    ctx->report->Write({
        {"bench", "paired"},
        {"system", c.system},
        {"where", where},
        {"threads", c.threads},
        {"ef", c.ef},
        {"n", ctx->data->num_base},
        {"recall_at_10", c.recall},
        {"rounds", c.qps.size()},
        {"queries_per_slice", options.slice},
        {"qps_median", s.median},
        {"qps_q1", s.q1},
        {"qps_q3", s.q3},
        {"qps_min", s.min},
        {"qps_max", s.max},
        {"load_average_1m", LoadAverage1()},
    });
  }

  void Error(const std::string& system, const std::string& why) {
    ctx->report->Write({{"bench", "error"},
                        {"system", system},
                        {"threads", 0},
                        {"error", "paired rounds: " + why}});
  }
};

void AddPairedFlags(CLI::App& app, PairedOptions* options) {
  app.add_option("--paired-rounds", options->rounds,
                 "--with-index: also measure issue 16's ratios in paired rounds (hnswlib "
                 "-march=native, ragd's backend per kind, ragd over gRPC in alternation; "
                 "bench/README.md, \"Session 17: paired rounds\"); 0 skips")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  app.add_option("--paired-slice", options->slice, "queries per system per paired round")
      ->check(CLI::Range(size_t{1}, size_t{1000000}))
      ->capture_default_str();
}

PairedSuite::PairedSuite(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PairedSuite::~PairedSuite() = default;

std::unique_ptr<PairedSuite> PairedSuite::Start(const SuiteContext& ctx,
                                                const PairedOptions& options, std::string* error) {
  auto impl = std::make_unique<Impl>();
  impl->ctx = &ctx;
  impl->options = options;
  const Dataset& data = *ctx.data;
  if (options.rounds <= 0 || options.slice == 0 ||
      std::find(options.ef_sweep.begin(), options.ef_sweep.end(), options.default_ef) ==
          options.ef_sweep.end()) {
    *error = "needs rounds > 0, slice > 0 and the default ef in the ef sweep";
    return nullptr;
  }
  impl->native = NativeGraph::Build(data.base_row(0), data.num_base, data.dim, options.m,
                                    options.ef_construction, ctx.build_threads);
  impl->native->SetEf(options.default_ef);
  NativeGraph* native = impl->native.get();
  impl->native_config = MakeConfig(kNativeHnswlibSystem, options.default_ef,
                                   [native, &data](int, size_t q, int64_t* ids) {
                                     native->Search(data.query_row(q), kTopK, ids);
                                     return true;
                                   });
  bool ok = true;
  impl->native_config.recall = RecallOf(ctx, impl->native_config, &ok);
  for (index::Quantization kind :
       {index::Quantization::kNone, index::Quantization::kF16, index::Quantization::kInt8}) {
    IndexOptions io;
    io.m = options.m;
    io.ef_construction = options.ef_construction;
    io.ef = options.default_ef;
    io.quantization = kind;
    io.rescore_file = options.rescore_file;
    auto built = IndexUnderTest::Build(ctx, io);
    if (!built.ok()) {
      *error = QuantizationName(kind) + ": " + std::string(built.status().message());
      return nullptr;
    }
    impl->indexes.emplace_back(QuantizationName(kind), std::move(*built));
  }
  return std::unique_ptr<PairedSuite>(new PairedSuite(std::move(impl)));
}

void PairedSuite::RunInProcess(nlohmann::json* targets) {
  Impl& m = *impl_;
  const SuiteContext& ctx = *m.ctx;
  const Dataset& data = *ctx.data;
  std::vector<Config> configs;
  configs.reserve(m.indexes.size() + 1);
  auto config = [&](const std::string& kind, IndexUnderTest* t, size_t ef) {
    Config c = MakeConfig(kind == "none" ? "ragd-index" : "ragd-index-" + kind, ef,
                          [t, ef, &data](int, size_t q, int64_t* ids) {
                            // Quantized kinds re-scored at their default oversampling, as a
                            // collection is.
                            auto hits = t->Search(data.query_row(q), ef, /*rescore=*/true, 0);
                            if (!hits.ok()) return false;
                            for (size_t i = 0; i < kTopK; ++i) {
                              ids[i] =
                                  i < hits->size() ? static_cast<int64_t>((*hits)[i].label) : -1;
                            }
                            return true;
                          });
    bool ok = true;
    c.recall = RecallOf(ctx, c, &ok);
    return ok ? std::optional<Config>(std::move(c)) : std::nullopt;
  };
  // INT8 over the sweep (which holds the default ef); its equal-recall ef is the lowest of the
  // sweep reaching hnswlib-native's recall. The sweep's configs, recall included, are reused.
  const double want = std::max(m.native_config.recall, 0.95);
  IndexUnderTest* int8 = m.indexes.back().second.get();
  std::vector<Config> int8_sweep;
  std::vector<EfRecall> int8_points;
  for (size_t ef : m.options.ef_sweep) {
    auto c = config("int8", int8, ef);
    if (!c) continue;
    int8_points.push_back({ef, c->recall});
    int8_sweep.push_back(std::move(*c));
  }
  const size_t int8_equal_ef = LowestEf(int8_points, want);
  auto int8_at = [&](size_t ef) -> const Config* {
    for (const Config& c : int8_sweep) {
      if (c.ef == ef) return &c;
    }
    return nullptr;
  };
  for (auto& [kind, t] : m.indexes) {
    if (t.get() == int8) {
      const Config* c = int8_at(m.options.default_ef);
      if (c == nullptr) return m.Error("ragd-index-int8", "a search failed");
      configs.push_back(*c);
      continue;
    }
    auto c = config(kind, t.get(), m.options.default_ef);
    if (!c) return m.Error("ragd-index-" + kind, "a search failed");
    configs.push_back(std::move(*c));
  }
  if (int8_equal_ef != 0 && int8_equal_ef != m.options.default_ef) {
    configs.push_back(*int8_at(int8_equal_ef));  // reached, so in the sweep
  }
  Config native = m.native_config;
  native.qps.clear();
  std::vector<Config*> order = {&native};
  for (Config& c : configs) order.push_back(&c);
  if (!m.RunRounds(order)) return m.Error("ragd-index", "a search failed");
  for (const Config* c : order) m.Write(*c, "in process");

  const Config& none = configs[0];
  const Config& f16 = configs[1];
  const Config& int8_default = configs[2];
  (*targets)["index_f16_qps_ratio_vs_float32_index_1"] = PairedRatio(f16, none, 1.2);
  (*targets)["index_f16_recall_loss_vs_float32"] = Target(none.recall - f16.recall, 0.005, false);
  (*targets)["index_int8_qps_ratio_vs_hnswlib_native_1"] = PairedRatio(int8_default, native, 2.0);
  if (int8_equal_ef != 0) {
    const Config& eq = int8_equal_ef == m.options.default_ef ? int8_default : configs.back();
    (*targets)["index_int8_qps_ratio_vs_hnswlib_native_1_at_equal_recall"] =
        PairedRatio(eq, native, 2.0);
    (*targets)["index_int8_equal_recall_ef_vs_hnswlib_native"] = int8_equal_ef;
    (*targets)["index_int8_equal_recall_vs_hnswlib_native"] = eq.recall;
  }
  // Not targets: each kind's walk against hnswlib's.
  (*targets)["index_qps_ratio_vs_hnswlib_native_1"] = PairedRatio(none, native, 0);
  (*targets)["index_f16_qps_ratio_vs_hnswlib_native_1"] = PairedRatio(f16, native, 0);
  (*targets)["hnswlib_native_recall_at_10_default_ef"] = m.native_config.recall;
  (*targets)["hnswlib_native_flags"] = NativeGraph::Flags();
}

void PairedSuite::ReleaseIndexes() {
  impl_->indexes.clear();
  TrimHeap();
}

void PairedSuite::RunOverGrpc(const std::string& system, const std::string& target,
                              nlohmann::json* targets) {
  Impl& m = *impl_;
  const SuiteContext& ctx = *m.ctx;
  const Dataset& data = *ctx.data;
  // As RunSearchLoad's clients: a connection each, the request reused, ef unset at the default
  // (the collection's own) and set per request otherwise.
  std::vector<std::unique_ptr<SearchClient>> clients;  // every config's, kept for the rounds
  auto config = [&](size_t ef, int threads = 1) {
    std::vector<SearchClient*> mine;
    for (int t = 0; t < threads; ++t) {
      auto cl = std::make_unique<SearchClient>();
      cl->Connect(target, 4000 + static_cast<int>(clients.size()),
                  ef == m.options.default_ef ? 0 : ef);
      mine.push_back(cl.get());
      clients.push_back(std::move(cl));
    }
    Config c = MakeConfig(
        system, ef,
        [mine, &data](int t, size_t q, int64_t* ids) {
          return mine[static_cast<size_t>(t)]->Search(data.query_row(q), data.dim, ids);
        },
        threads);
    bool ok = true;
    c.recall = RecallOf(ctx, c, &ok);
    return ok ? std::optional<Config>(std::move(c)) : std::nullopt;
  };
  std::vector<Config> configs;
  configs.reserve(2);  // pointers into it are taken below
  auto at_default = config(m.options.default_ef);
  if (!at_default) return m.Error(system, "a Search call failed");
  configs.push_back(std::move(*at_default));
  const bool quantized = system != "ragd";
  // The equal-recall point: the lowest ef of the sweep reaching hnswlib-native's recall. The
  // sweep's configs (their connections and recall) are reused for it.
  std::vector<Config> swept;
  std::vector<EfRecall> points;
  for (size_t ef : m.options.ef_sweep) {
    if (ef == m.options.default_ef) {
      points.push_back({ef, configs[0].recall});
      continue;
    }
    auto c = config(ef);
    if (!c) continue;
    points.push_back({ef, c->recall});
    swept.push_back(std::move(*c));
  }
  const size_t equal_ef = LowestEf(points, std::max(m.native_config.recall, 0.95));
  for (Config& c : swept) {
    if (c.ef == equal_ef) configs.push_back(std::move(c));
  }
  Config native = m.native_config;
  native.qps.clear();
  std::vector<Config*> order = {&native};
  for (Config& c : configs) order.push_back(&c);
  // Float32 also with two clients against hnswlib-native on two threads (issue 16: N = 1, 2).
  Config native2 = m.native_config;
  native2.qps.clear();
  native2.threads = 2;
  std::optional<Config> two;
  if (!quantized) {
    two = config(m.options.default_ef, 2);
    if (!two) return m.Error(system, "a Search call failed");
    order.push_back(&native2);
    order.push_back(&*two);
  }
  if (!m.RunRounds(order)) return m.Error(system, "a Search call failed");
  for (const Config* c : order) {
    const bool in_process = c == &native || c == &native2;
    const std::string clients_word = c->threads > 1 ? " clients" : " client";
    m.Write(*c,
            in_process ? "in process" : "over gRPC, " + std::to_string(c->threads) + clients_word);
  }
  if (two) (*targets)["qps_ratio_vs_hnswlib_native_2"] = PairedRatio(*two, native2, 0.8);

  // Issue 16's keys, as the one-after-the-other figures name them.
  const std::string key = quantized ? system.substr(0, 4) + "_" + system.substr(5) + "_" : "";
  const double goal = system == "ragd-int8" ? 1.3 : quantized ? 1.0 : 0.8;
  (*targets)[key + "qps_ratio_vs_hnswlib_native_1"] = PairedRatio(configs[0], native, goal);
  if (equal_ef != 0) {
    const Config& eq = equal_ef == m.options.default_ef ? configs[0] : configs.back();
    (*targets)[key + "qps_ratio_vs_hnswlib_native_1_at_equal_recall"] =
        PairedRatio(eq, native, goal);
    (*targets)[key + "qps_ratio_vs_hnswlib_native_1_equal_recall_ef"] = equal_ef;
  }
}

}  // namespace ragd::bench
