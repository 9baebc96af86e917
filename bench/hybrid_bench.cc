// ragd_hybrid_bench: what the lexical (BM25) index costs, in process, in one run (issue #15's
// targets: hybrid search adds at most 30% to vector-only latency at 100k chunks, p50 and p99;
// ingestion throughput drops by at most 20% with the lexical index on).
//
// Data: N chunks (default 100,000) with embedding-like vectors (bench/dataset.h, default
// 1536-d, the ada-002 shape) and a text of `words` words (default 300, about a 400-token
// chunk) drawn from a Zipf(1.0) vocabulary of 50,000 words whose most frequent 60 are English
// stop words (as real text: the analyzer drops them, so they cost the text leg nothing, as they
// would not in a naive index) and one word in five Hangul (so the Korean half of the `auto`
// analyzer, syllable bigrams included, is exercised). Queries: the dataset's query vectors,
// each with 8 words drawn from the same vocabulary (a question's length).
//
// 1. Ingestion: Engine::Upsert of the first `ingest_n` chunks (batches of 500) into a fresh
//    collection with the lexical index off, then on, `ingest_runs` times alternating (so that
//    both see the same machine), points/s each way and the ratio of each adjacent pair (its
//    spread says whether the ratio is settled). This is the engine's write path alone: a real
//    ingestion also chunks and embeds, which dilutes the lexical index's share, so the ratio
//    here is the pessimistic one.
// 2. Search: the N chunks in one collection with the lexical index on (HNSW, M 16,
//    ef_construction 200 as the other benches), then `passes` passes of the query set, k 10,
//    p50, p99 and QPS per series, hybrid / vector latency ratios. Each pass reopens the engine
//    (from its snapshot, warmed by one untimed pass) in three variants, so that before and
//    after are measured in the same run: the default engine (BM25 top-k with MaxScore pruning,
//    the text leg handed to a helper thread when the leg governor finds it cheaper): VECTOR,
//    HYBRID (the retriever's default, weighted 0.4, and RRF), TEXT, and each leg alone at
//    hybrid's depth of 50 (`*_k50`: the breakdown); the legs always one after the other
//    (`hybrid_sequential`, the default before the governor); and the engine before pruning
//    (every posting scored: `*_before`).
// 3. With --bm25-variants: Bm25Index::Search alone over the n texts (analysed as the engine
//    does), MaxScore with and without its primed floor, MaxScore with block-max bounds and
//    the exhaustive dense accumulator, the four in turn per query, at k 10 and 50
//    (`bm25_search` records, with candidates, block drops and probes per call).
// Results: JSON lines (bench/README.md), with the hardware record and the load average.

#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "bench/dataset.h"
#include "index/engine/engine.h"
#include "index/lexical/analyzer.h"
#include "index/lexical/bm25_index.h"

namespace {

using ragd::bench::Clock;
using ragd::bench::SecondsSince;
using namespace ragd::index;

constexpr const char* kStopWords[] = {
    "the", "of",   "and",  "to",   "a",    "in",    "is",     "it",    "that", "for",
    "on",  "as",   "with", "be",   "by",   "this",  "are",    "or",    "an",   "from",
    "at",  "not",  "but",  "can",  "if",   "which", "when",   "there", "will", "has",
    "its", "was",  "all",  "one",  "also", "into",  "been",   "than",  "more", "other",
    "any", "some", "no",   "only", "so",   "such",  "these",  "their", "they", "then",
    "how", "what", "does", "do",   "may",  "would", "should", "each",  "most", "very"};

// A pronounceable pseudo-word per rank (rank >= 60), deterministic; every fifth one Hangul.
std::string Word(size_t rank) {
  if (rank < std::size(kStopWords)) return kStopWords[rank];
  std::mt19937_64 rng(rank * 0x9E3779B97F4A7C15ull);
  std::string w;
  if (rank % 5 == 0) {
    const int syllables = 2 + static_cast<int>(rng() % 3);
    for (int i = 0; i < syllables; ++i) {
      const char32_t c = 0xAC00 + static_cast<char32_t>(rng() % 11172);
      w += static_cast<char>(0xE0 | (c >> 12));
      w += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      w += static_cast<char>(0x80 | (c & 0x3F));
    }
    return w;
  }
  static const char* kOnsets[] = {"b", "c", "d", "f", "g", "h",  "k",  "l",  "m",  "n",  "p",
                                  "r", "s", "t", "v", "w", "st", "tr", "pl", "gr", "ch", "sh"};
  static const char* kVowels[] = {"a", "e", "i", "o", "u", "io", "ea", "ou"};
  const int syllables = 2 + static_cast<int>(rng() % 3);
  for (int i = 0; i < syllables; ++i) {
    w += kOnsets[rng() % std::size(kOnsets)];
    w += kVowels[rng() % std::size(kVowels)];
  }
  if (rng() % 3 == 0) w += "s";
  return w;
}

// Zipf(s = 1) over [0, n) by inverting the cumulative weights.
class Zipf {
 public:
  explicit Zipf(size_t n) : cdf_(n) {
    double sum = 0;
    for (size_t i = 0; i < n; ++i) cdf_[i] = (sum += 1.0 / static_cast<double>(i + 1));
    for (double& c : cdf_) c /= sum;
  }
  size_t operator()(std::mt19937_64& rng) const {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    return static_cast<size_t>(std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

struct Corpus {
  std::vector<std::string> words;  // by rank
  Zipf zipf;
  explicit Corpus(size_t vocabulary) : zipf(vocabulary) {
    words.reserve(vocabulary);
    for (size_t r = 0; r < vocabulary; ++r) words.push_back(Word(r));
  }
  std::string Text(std::mt19937_64& rng, size_t n) const {
    std::string t;
    for (size_t i = 0; i < n; ++i) {
      if (i > 0) t += (i % 17 == 0) ? ". " : " ";
      t += words[zipf(rng)];
    }
    return t;
  }
};

[[noreturn]] void Die(const absl::Status& s) {
  std::cerr << "ragd_hybrid_bench: " << s << "\n";
  std::exit(1);
}

// The engine settings a series runs with: the default (BM25 top-k with MaxScore pruning; one
// helper thread that a hybrid search hands its text leg to when the leg governor finds that
// cheaper, index/engine/leg_governor.h), the legs always one after the other
// (Engine::Options::search_leg_threads 0, the default before the governor), and the engine
// before pruning (every posting scored, legs one after the other), and the default with
// block-max bounds (Engine::Options::lexical_block_max, off by default).
enum class Variant { kCurrent, kSequential, kBefore, kBlockMax };
int LegThreads(Variant variant) {
  return variant == Variant::kCurrent || variant == Variant::kBlockMax ? 1 : 0;
}

std::unique_ptr<Engine> Open(const std::string& dir, Variant variant = Variant::kCurrent) {
  Engine::Options o;
  o.data_dir = dir;
  o.lexical_pruning = variant != Variant::kBefore;
  o.lexical_block_max = variant == Variant::kBlockMax;
  o.search_leg_threads = LegThreads(variant);
  o.snapshot_interval_seconds = 0;
  o.idle_flush_seconds = 0;
  auto e = Engine::Open(o);
  if (!e.ok()) Die(e.status());
  return *std::move(e);
}

CollectionSpec Spec(const std::string& name, size_t dim, bool lexical) {
  CollectionSpec spec;
  spec.name = name;
  spec.dimension = static_cast<uint32_t>(dim);
  spec.metric = Metric::kCosine;
  spec.index.kind = IndexKind::kHnsw;
  spec.index.m = 16;
  spec.index.ef_construction = 200;
  spec.lexical.enabled = lexical;
  return spec;
}

Point MakePoint(const ragd::bench::Dataset& data, const std::vector<std::string>& texts, size_t i) {
  Point p;
  p.id = "c" + std::to_string(i);
  p.vector.assign(data.base_row(i), data.base_row(i) + data.dim);
  p.document_id = "d" + std::to_string(i / 8);
  p.text = texts[i];
  return p;
}

// Upserts rows [0, n) in batches of 500; returns points/s.
double Load(Engine& engine, const std::string& collection, const ragd::bench::Dataset& data,
            const std::vector<std::string>& texts, size_t n) {
  const auto start = Clock::now();
  std::vector<Point> batch;
  for (size_t i = 0; i < n; ++i) {
    batch.push_back(MakePoint(data, texts, i));
    if (batch.size() == 500 || i + 1 == n) {
      if (auto r = engine.Upsert(collection, std::move(batch)); !r.ok()) Die(r.status());
      batch.clear();
    }
  }
  return static_cast<double>(n) / SecondsSince(start);
}

// CPU seconds of the whole process (every thread): on a machine shared with other builds the
// wall time of a phase measures the scheduler as much as ragd, its CPU time does not.
double ProcessCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

struct Series {
  std::string name;
  SearchMode mode;
  std::optional<Fusion> fusion;
  std::optional<double> alpha;
  Variant variant = Variant::kCurrent;
  // Hits asked for: 10, or 50 for the legs alone at the depth hybrid asks of each.
  size_t k = 10;
  std::vector<double> ms;
  double seconds = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ragd_hybrid_bench: the lexical index's cost to search latency and ingestion"};
  size_t n = 100000, dim = 1536, queries = 300, ingest_n = 10000, words = 300;
  int passes = 3, ef = 64, ingest_runs = 3;
  bool keep = false, bm25_variants = false;
  std::string out = std::string(RAGD_BENCH_SOURCE_DIR) + "/bench/results/hybrid.jsonl";
  std::string dir;
  app.add_option("--n", n, "chunks in the searched collection")->capture_default_str();
  app.add_option("--dim", dim, "vector dimension")->capture_default_str();
  app.add_option("--queries", queries, "queries per pass and mode")->capture_default_str();
  app.add_option("--passes", passes, "alternating passes (0: no engine searches)")
      ->capture_default_str();
  app.add_option("--ef", ef, "HNSW ef of the searches")->capture_default_str();
  app.add_option("--ingest-n", ingest_n, "chunks per ingestion run (0: no ingestion runs)")
      ->capture_default_str();
  app.add_option("--ingest-runs", ingest_runs, "ingestion runs per setting (off, on alternating)")
      ->capture_default_str()
      ->check(CLI::Range(1, 20));
  app.add_option("--words", words, "words per chunk text")->capture_default_str();
  app.add_option("--out", out, "JSON-lines results file ('' for stdout only)");
  app.add_option("--dir", dir, "data directory (default: a temporary one, removed after)");
  app.add_flag("--keep", keep,
               "keep --dir, and search its collection when it already holds the n chunks "
               "(saves the load when iterating; the load rate is then not reported)");
  app.add_flag("--bm25-variants", bm25_variants,
               "also time Bm25Index::Search alone over the n texts: MaxScore with and without "
               "the primed floor, with block-max bounds and the exhaustive dense "
               "accumulator, interleaved per query");
  CLI11_PARSE(app, argc, argv);
  ingest_n = std::min(ingest_n, n);
  if (keep && dir.empty()) {
    std::cerr << "ragd_hybrid_bench: --keep needs --dir\n";
    return 2;
  }

  const bool temporary = dir.empty();
  if (temporary) {
    dir =
        (std::filesystem::temp_directory_path() / ("ragd-hybrid-bench-" + std::to_string(getpid())))
            .string();
  }
  if (!keep) std::filesystem::remove_all(dir);
  std::filesystem::remove_all(dir + "/ingest");
  ragd::bench::Report report(out);
  report.Write(ragd::bench::HardwareRecord(RAGD_BENCH_SOURCE_DIR));

  ragd::bench::DatasetOptions dopt;
  dopt.num_base = n;
  dopt.num_queries = queries;
  dopt.dim = dim;
  const ragd::bench::Dataset data = ragd::bench::GenerateDataset(dopt);
  const Corpus corpus(50000);
  std::vector<std::string> texts(n), query_texts(queries);
  {
    std::mt19937_64 rng(11);
    for (std::string& t : texts) t = corpus.Text(rng, words);
    for (std::string& t : query_texts) t = corpus.Text(rng, 8);
  }
  std::cerr << "ragd_hybrid_bench: data ready (" << n << " x " << dim << ", " << words
            << " words each)\n";

  // 1. Ingestion, lexical off and on, alternating (off, on, off, on, ...), so that both see the
  //    same machine; each run's rate is reported, and the ratio of each adjacent pair, so that
  //    the spread shows whether the ratio is settled.
  if (ingest_n > 0) {
    std::unique_ptr<Engine> engine = Open(dir + "/ingest");
    std::vector<double> off, on, pair_ratio, off_cpu, on_cpu;
    int round = 0;
    for (int r = 0; r < ingest_runs; ++r) {
      for (int lexical = 0; lexical < 2; ++lexical) {
        const std::string name = "ingest" + std::to_string(round++);
        if (absl::Status s = engine->CreateCollection(Spec(name, dim, lexical == 1)); !s.ok()) {
          Die(s);
        }
        const double cpu_start = ProcessCpuSeconds();
        (lexical == 1 ? on : off).push_back(Load(*engine, name, data, texts, ingest_n));
        // CPU milliseconds per point, all threads (cpu_ratio_on_off below: off / on, so that
        // it reads like the points/s ratio).
        (lexical == 1 ? on_cpu : off_cpu)
            .push_back((ProcessCpuSeconds() - cpu_start) * 1000 / static_cast<double>(ingest_n));
        if (absl::Status s = engine->DeleteCollection(name); !s.ok()) Die(s);
      }
      pair_ratio.push_back(on.back() / off.back());
      std::cerr << "ragd_hybrid_bench: ingest run " << r << ": off " << off.back() << ", on "
                << on.back() << " points/s\n";
    }
    auto mean = [](const std::vector<double>& v) {
      double sum = 0;
      for (double x : v) sum += x;
      return sum / static_cast<double>(v.size());
    };
    const double ratio = mean(on) / mean(off);
    report.Write({{"bench", "hybrid_ingest"},
                  {"n", ingest_n},
                  {"dim", dim},
                  {"words", words},
                  {"runs_each", ingest_runs},
                  {"lexical_off_points_per_s", mean(off)},
                  {"lexical_on_points_per_s", mean(on)},
                  {"off_runs", off},
                  {"on_runs", on},
                  {"pair_ratios", pair_ratio},
                  {"pair_ratio_min", *std::min_element(pair_ratio.begin(), pair_ratio.end())},
                  {"pair_ratio_max", *std::max_element(pair_ratio.begin(), pair_ratio.end())},
                  {"ratio_on_off", ratio},
                  {"off_cpu_ms_per_point", off_cpu},
                  {"on_cpu_ms_per_point", on_cpu},
                  {"cpu_ratio_on_off", mean(off_cpu) / mean(on_cpu)},
                  {"target", "ratio_on_off >= 0.8 (issue 15)"},
                  {"met", ratio >= 0.8},
                  {"load_average_1m", ragd::bench::LoadAverage1()}});
  }

  // 2. Search latency by mode. The collection is searched with the lexical index's pruning on
  //    and off (Engine::Options::lexical_pruning; the engine is reopened for each, from its
  //    snapshot, and warmed with one untimed pass), alternating pass by pass.
  // --passes 0 skips the search section (e.g. for --bm25-variants alone).
  if (passes > 0) {
    std::optional<double> load_rate;
    {
      std::unique_ptr<Engine> engine = Open(dir + "/search");
      auto info = engine->GetCollection("h");
      if (!keep || !info.ok() || info->points != n) {
        if (info.ok()) {
          if (absl::Status s = engine->DeleteCollection("h"); !s.ok()) Die(s);
        }
        if (absl::Status s = engine->CreateCollection(Spec("h", dim, true)); !s.ok()) Die(s);
        load_rate = Load(*engine, "h", data, texts, n);
        std::cerr << "ragd_hybrid_bench: loaded " << n << " at " << *load_rate << " points/s\n";
      }
    }
    std::vector<Series> series = {
        {"vector", SearchMode::kVector, std::nullopt, std::nullopt, Variant::kCurrent, 10, {}, 0},
        {"hybrid", SearchMode::kHybrid, Fusion::kWeighted, 0.4, Variant::kCurrent, 10, {}, 0},
        {"hybrid_rrf",
         SearchMode::kHybrid,
         Fusion::kRrf,
         std::nullopt,
         Variant::kCurrent,
         10,
         {},
         0},
        {"text", SearchMode::kText, std::nullopt, std::nullopt, Variant::kCurrent, 10, {}, 0},
        {"vector_k50",
         SearchMode::kVector,
         std::nullopt,
         std::nullopt,
         Variant::kCurrent,
         50,
         {},
         0},
        {"text_k50", SearchMode::kText, std::nullopt, std::nullopt, Variant::kCurrent, 50, {}, 0},
        {"hybrid_sequential",
         SearchMode::kHybrid,
         Fusion::kWeighted,
         0.4,
         Variant::kSequential,
         10,
         {},
         0},
        {"hybrid_before", SearchMode::kHybrid, Fusion::kWeighted, 0.4, Variant::kBefore, 10, {}, 0},
        {"text_before", SearchMode::kText, std::nullopt, std::nullopt, Variant::kBefore, 10, {}, 0},
        {"vector_blockmax",
         SearchMode::kVector,
         std::nullopt,
         std::nullopt,
         Variant::kBlockMax,
         10,
         {},
         0},
        {"hybrid_blockmax",
         SearchMode::kHybrid,
         Fusion::kWeighted,
         0.4,
         Variant::kBlockMax,
         10,
         {},
         0},
        {"text_k50_blockmax",
         SearchMode::kText,
         std::nullopt,
         std::nullopt,
         Variant::kBlockMax,
         50,
         {},
         0},
        {"text_k50_before",
         SearchMode::kText,
         std::nullopt,
         std::nullopt,
         Variant::kBefore,
         50,
         {},
         0},
    };
    auto request = [&](const Series& s, size_t q) {
      SearchRequest req;
      req.collection = "h";
      req.mode = s.mode;
      if (s.mode != SearchMode::kText) req.query.assign(data.query_row(q), data.query_row(q) + dim);
      if (s.mode != SearchMode::kVector) req.text = query_texts[q];
      req.hybrid.fusion = s.fusion;
      req.hybrid.alpha = s.alpha;
      req.k = s.k;
      req.ef = ef;
      req.with_payload = false;
      return req;
    };
    // Start-up: each reopening of the n-chunk collection (the vector snapshot loaded, the BM25
    // index rebuilt from the stored term records), timed.
    std::vector<double> open_seconds, open_cpu_seconds;
    for (int pass = 0; pass < passes; ++pass) {
      for (Variant variant :
           {Variant::kCurrent, Variant::kSequential, Variant::kBefore, Variant::kBlockMax}) {
        const auto open_start = Clock::now();
        const double open_cpu = ProcessCpuSeconds();
        std::unique_ptr<Engine> engine = Open(dir + "/search", variant);
        open_seconds.push_back(SecondsSince(open_start));
        open_cpu_seconds.push_back(ProcessCpuSeconds() - open_cpu);
        for (size_t q = 0; q < queries; ++q) {  // warm-up, untimed
          Series warm{"", SearchMode::kHybrid, std::nullopt, std::nullopt, variant, 10, {}, 0};
          if (auto r = engine->Search(request(warm, q)); !r.ok()) Die(r.status());
        }
        // The series of a variant take turns query by query, so that a change of load during
        // the pass reaches each alike (in blocks, the first series after the warm-up was
        // consistently the slowest). Each series walks the query set from its own offset, so
        // that no search runs right after another series' search of the same query (which
        // would find that query's postings and graph path in the cache).
        for (size_t q = 0; q < queries; ++q) {
          for (size_t i = 0; i < series.size(); ++i) {
            Series& s = series[i];
            if (s.variant != variant) continue;
            const SearchRequest req = request(s, (q + i * queries / series.size()) % queries);
            const auto start = Clock::now();
            auto r = engine->Search(req);
            const double seconds = SecondsSince(start);
            s.ms.push_back(seconds * 1000);
            s.seconds += seconds;
            if (!r.ok()) Die(r.status());
          }
        }
      }
    }
    if (!open_seconds.empty()) {
      std::vector<double> sorted = open_seconds;
      std::sort(sorted.begin(), sorted.end());
      report.Write({{"bench", "hybrid_startup"},
                    {"n", n},
                    {"words", words},
                    {"open_seconds", open_seconds},
                    {"open_cpu_seconds", open_cpu_seconds},
                    {"median_s", ragd::bench::Percentile(sorted, 0.5)},
                    {"load_average_1m", ragd::bench::LoadAverage1()}});
    }
    double vector_p50 = 0, vector_p99 = 0;
    for (Series& s : series) {
      std::sort(s.ms.begin(), s.ms.end());
      const double p50 = ragd::bench::Percentile(s.ms, 0.5);
      const double p99 = ragd::bench::Percentile(s.ms, 0.99);
      if (s.name == "vector") vector_p50 = p50, vector_p99 = p99;
      nlohmann::json record = {{"bench", "hybrid_search"},
                               {"mode", s.name},
                               {"lexical_pruning", s.variant != Variant::kBefore},
                               {"lexical_block_max", s.variant == Variant::kBlockMax},
                               {"search_leg_threads", LegThreads(s.variant)},
                               {"n", n},
                               {"dim", dim},
                               {"ef", ef},
                               {"k", s.k},
                               {"qps", static_cast<double>(s.ms.size()) / s.seconds},
                               {"p50_ms", p50},
                               {"p99_ms", p99},
                               {"calls", s.ms.size()},
                               {"load_average_1m", ragd::bench::LoadAverage1()}};
      if (load_rate) record["load_points_per_s"] = *load_rate;
      if (s.mode == SearchMode::kHybrid) {
        record["p50_ratio_to_vector"] = p50 / vector_p50;
        record["p99_ratio_to_vector"] = p99 / vector_p99;
        record["target"] = "p50 and p99 ratio_to_vector <= 1.3 (issue 15)";
        record["met"] = p50 / vector_p50 <= 1.3 && p99 / vector_p99 <= 1.3;
      }
      report.Write(record);
    }
  }
  // 3. The BM25 search alone (no engine, no vector leg): the n texts analysed as the engine
  //    analyses them (auto), the query texts likewise; per query the three ways in turn
  //    (rotated), at k 10 and at hybrid's depth of 50.
  if (bm25_variants) {
    namespace lx = ragd::index::lexical;
    auto analyzer = lx::Analyzer::Create(lx::AnalyzerOptions{});
    if (!analyzer.ok()) Die(analyzer.status());
    lx::Bm25Index index;
    const auto build_start = Clock::now();
    for (size_t i = 0; i < n; ++i) {
      auto terms = (*analyzer)->Analyze(texts[i]);
      if (!terms.ok()) Die(terms.status());
      if (absl::Status st = index.Add(i, lx::CountTerms(*terms)); !st.ok()) Die(st);
    }
    const double build_s = SecondsSince(build_start);
    std::vector<std::vector<std::string>> query_terms;
    double terms_sum = 0;
    for (const std::string& t : query_texts) {
      auto terms = (*analyzer)->Analyze(t);
      if (!terms.ok()) Die(terms.status());
      terms_sum += static_cast<double>(terms->size());
      query_terms.push_back(std::move(*terms));
    }
    // What the engine's text leg does besides the index's search: the query's analysis.
    {
      std::vector<double> us;
      for (int round = 0; round < 5; ++round) {
        for (const std::string& t : query_texts) {
          const auto start = Clock::now();
          auto terms = (*analyzer)->Analyze(t);
          us.push_back(SecondsSince(start) * 1e6);
          if (!terms.ok()) Die(terms.status());
        }
      }
      std::sort(us.begin(), us.end());
      report.Write({{"bench", "bm25_query_analysis"},
                    {"p50_us", ragd::bench::Percentile(us, 0.5)},
                    {"p99_us", ragd::bench::Percentile(us, 0.99)},
                    {"calls", us.size()},
                    {"load_average_1m", ragd::bench::LoadAverage1()}});
    }
    // maxscore is the default (the terms' bounds); maxscore_blockmax adds the blocks' bounds.
    constexpr size_t kVariants = 4;
    const char* kNames[kVariants] = {"maxscore_primed", "maxscore", "exhaustive_dense",
                                     "maxscore_blockmax"};
    for (size_t k : {size_t{10}, size_t{50}}) {
      std::vector<double> ms[kVariants];
      lx::Bm25SearchStats stats[kVariants];
      for (int pass = 0; pass < std::max(passes, 1); ++pass) {
        for (size_t q = 0; q < queries; ++q) {
          for (size_t j = 0; j < kVariants; ++j) {
            const size_t v = (q + j) % kVariants;
            lx::Bm25SearchOptions opts;
            opts.top_k = k;
            opts.exhaustive = v == 2;
            opts.prime = v == 0;
            opts.block_max = v == 3;
            opts.stats = &stats[v];
            const auto start = Clock::now();
            auto hits = index.Search(query_terms[q], opts);
            ms[v].push_back(SecondsSince(start) * 1000);
            if (!hits.ok()) Die(hits.status());
          }
        }
      }
      for (size_t v = 0; v < kVariants; ++v) {
        std::sort(ms[v].begin(), ms[v].end());
        report.Write({{"bench", "bm25_search"},
                      {"variant", kNames[v]},
                      {"n", n},
                      {"k", k},
                      {"mean_query_terms", terms_sum / static_cast<double>(queries)},
                      {"p50_ms", ragd::bench::Percentile(ms[v], 0.5)},
                      {"p99_ms", ragd::bench::Percentile(ms[v], 0.99)},
                      {"calls", ms[v].size()},
                      {"candidates_per_call", static_cast<double>(stats[v].candidates) /
                                                  static_cast<double>(ms[v].size())},
                      {"block_dropped_per_call", static_cast<double>(stats[v].block_dropped) /
                                                     static_cast<double>(ms[v].size())},
                      {"probes_per_call",
                       static_cast<double>(stats[v].probes) / static_cast<double>(ms[v].size())},
                      {"windows_skipped_per_call", static_cast<double>(stats[v].windows_skipped) /
                                                       static_cast<double>(ms[v].size())},
                      {"build_s", build_s},
                      {"memory_bytes", index.MemoryBytes()},
                      {"load_average_1m", ragd::bench::LoadAverage1()}});
      }
    }
  }
  if (temporary) std::filesystem::remove_all(dir);
  return 0;
}
