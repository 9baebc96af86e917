// ragd's own hnsw backend (index::VectorIndex from MakeIndex), in process: the middle row between
// in-process hnswlib and ragd over gRPC. It separates what the backend's graph walk costs
// against hnswlib's searchKnn at the same ef (same graph parameters, same data) from what the
// service (gRPC, threads, the engine's bookkeeping) adds on top.
//
// With --quantization f16/int8 it also measures the quantized storage (IndexSpec::quantization):
// the walk on codes, then the top k x oversampling candidates re-scored with float32 vectors
// read from RocksDB, as the engine does (a storage::Store in a temporary directory holding
// every vector, 64 MiB block cache, opened and filled before the index is built so that the
// RSS delta is the index's), and without re-scoring (scores from the codes).

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

#include "bench/index_under_test.h"
#include "bench/suites.h"
#include "index/hnsw/hnsw_index.h"
#include "index/storage/store.h"
#include "index/storage/vector_file.h"
#include "index/vector_index.h"

namespace ragd::bench {

std::string QuantizationName(index::Quantization q) {
  switch (q) {
    case index::Quantization::kNone:
      return "none";
    case index::Quantization::kF16:
      return "f16";
    case index::Quantization::kInt8:
      return "int8";
  }
  return "?";
}

bool ParseQuantization(const std::string& name, index::Quantization* out) {
  for (index::Quantization q :
       {index::Quantization::kNone, index::Quantization::kF16, index::Quantization::kInt8}) {
    if (QuantizationName(q) == name) {
      *out = q;
      return true;
    }
  }
  return false;
}

IndexUnderTest::~IndexUnderTest() {
  index_.reset();
  vector_file_.reset();
  store_.reset();
  if (!store_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(store_dir_, ec);
  }
}

absl::StatusOr<std::unique_ptr<IndexUnderTest>> IndexUnderTest::Build(const SuiteContext& ctx,
                                                                      const IndexOptions& options) {
  std::unique_ptr<IndexUnderTest> t(new IndexUnderTest());
  t->options_ = options;
  const Dataset& data = *ctx.data;
  t->dim_ = data.dim;
  const size_t n = data.num_base;
  const index::storage::ShardKey key{1, 0};
  // The float32 vectors where the engine keeps them: RocksDB (quantized kinds only).
  if (t->quantized()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "ragd-index-bench-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError("cannot create a temporary directory");
    }
    t->store_dir_ = pattern;
    index::storage::Store::Options so;
    so.path = t->store_dir_ + "/db";
    so.sync_writes = false;
    so.block_cache_bytes = 64u << 20;
    auto opened = index::storage::Store::Open(so);
    if (!opened.ok()) return opened.status();
    t->store_ = std::move(*opened);
    for (size_t begin = 0; begin < n; begin += 1000) {
      index::storage::Batch batch(t->store_.get());
      for (size_t i = begin; i < std::min(n, begin + 1000); ++i) {
        batch.PutVector(key, i, std::span<const float>(data.base_row(i), data.dim));
      }
      absl::Status s = t->store_->Commit(batch);
      if (!s.ok()) return s;
    }
    // And, as the engine's shards (engine.rescore_file), the read-through file cache in front.
    if (options.rescore_file) {
      auto created = index::storage::VectorFile::Create(t->store_dir_, data.dim);
      if (!created.ok()) return created.status();
      t->vector_file_ = std::move(*created);
    }
    IndexUnderTest* self = t.get();  // heap-allocated and never moved: the fetcher may keep it
    t->fetch_ = [self, key](std::span<const index::Label> labels, std::vector<float>* vectors,
                            std::vector<bool>* found) {
      return index::storage::ReadThroughVectors(*self->store_, key, self->vector_file_.get(),
                                                labels, self->dim_, vectors, found);
    };
  }

  index::IndexSpec spec;
  spec.kind = index::IndexKind::kHnsw;
  spec.m = static_cast<int>(options.m);
  spec.ef_construction = static_cast<int>(options.ef_construction);
  spec.ef = static_cast<int>(options.ef);
  spec.quantization = options.quantization;
  // COSINE as the ragd suite's collection: the data is unit-norm, so the walk is the same
  // inner-product walk as hnswlib's (the backend normalises the query once per search).
  auto made = index::MakeIndex(spec, data.dim, index::Metric::kCosine);
  if (!made.ok()) return made.status();
  t->index_ = std::move(*made);
  if (auto* hnsw = dynamic_cast<index::HnswIndex*>(t->index_.get())) {
    absl::Status s = hnsw->SetLevelSeed(options.level_seed);
    if (!s.ok()) return s;
  }
  // As the engine's insert_threads: each Add links its batch with the bench's build threads
  // (hnswlib's build uses as many).
  t->index_->SetAddThreads(static_cast<size_t>(std::max(1, ctx.build_threads)));

  // Add needs exclusive access (vector_index.h): one writer, in batches like the engine's
  // (each batch linked by build_threads threads inside Add).
  TrimHeap();
  const uint64_t rss_before = SelfRssBytes();
  Clock::time_point build_start = Clock::now();
  constexpr size_t kBatch = 1000;
  std::vector<index::Label> labels;
  for (size_t begin = 0; begin < n; begin += kBatch) {
    const size_t end = std::min(n, begin + kBatch);
    labels.clear();
    for (size_t i = begin; i < end; ++i) labels.push_back(i);
    absl::Status s = t->index_->Add(
        labels, std::span<const float>(data.base_row(begin), (end - begin) * data.dim));
    if (!s.ok()) return s;
  }
  t->build_seconds_ = SecondsSince(build_start);
  TrimHeap();
  t->rss_delta_bytes_ = static_cast<double>(SelfRssBytes()) - static_cast<double>(rss_before);
  return t;
}

absl::StatusOr<std::vector<index::SearchHit>> IndexUnderTest::Search(const float* query, size_t ef,
                                                                     bool rescore,
                                                                     float oversampling) const {
  index::SearchOptions search;
  search.top_k = kTopK;
  search.ef = static_cast<int>(ef);
  search.rescore = rescore;
  search.oversampling = oversampling;
  search.exact_vectors = quantized() ? &fetch_ : nullptr;
  return index_->Search(std::span<const float>(query, dim_), search);
}

IndexFigures RunIndexSuite(const SuiteContext& ctx, const IndexOptions& options) {
  IndexFigures figures;
  const Dataset& data = *ctx.data;
  const size_t n = data.num_base;
  const bool quantized = options.quantization != index::Quantization::kNone;
  const std::string system =
      quantized ? "ragd-index-" + QuantizationName(options.quantization) : "ragd-index";
  auto built = IndexUnderTest::Build(ctx, options);
  if (!built.ok()) {
    figures.error = std::string(built.status().message());
    return figures;
  }
  std::unique_ptr<IndexUnderTest> under_test = std::move(*built);
  const index::VectorIndex& idx = under_test->index();
  ctx.report->Write({
      {"bench", "build"},
      {"system", system},
      {"quantization", QuantizationName(options.quantization)},
      {"rescore_file", quantized && options.rescore_file},
      {"threads", std::max(1, ctx.build_threads)},
      {"n", n},
      {"dim", data.dim},
      {"m", options.m},
      {"ef_construction", options.ef_construction},
      {"level_seed", options.level_seed},
      {"build_seconds", under_test->build_seconds()},
      {"rss_delta_bytes_per_vector", under_test->rss_delta_bytes() / static_cast<double>(n)},
      {"rss_source", "/proc/self/statm delta around the build (after malloc_trim)"},
      {"index_bytes_per_vector", static_cast<double>(idx.MemoryBytes()) / static_cast<double>(n)},
      {"index_bytes_source", "VectorIndex::MemoryBytes (ragd's own accounting)"},
      {"float32_source",
       !quantized ? "in the index"
       : options.rescore_file
           ? "storage::VectorFile (page cache) in front of RocksDB (64 MiB block cache), not "
             "resident"
           : "RocksDB (storage::Store, 64 MiB block cache), not resident"},
      {"load_average_1m", LoadAverage1()},
  });
  figures.index_bytes_per_vector = static_cast<double>(idx.MemoryBytes()) / static_cast<double>(n);

  // (rescore, oversampling) settings: float32 has one; quantized kinds each oversampling
  // factor re-scored from RocksDB, and the codes alone.
  struct Setting {
    bool rescore;
    float oversampling;
  };
  std::vector<Setting> settings;
  // 0 is the index's default for this kind (index::DefaultOversampling); a factor listed twice
  // (e.g. 0 and 2 for INT8) runs once. The first is the figure.
  auto effective = [&](float o) {
    return o > 0 ? o : index::DefaultOversampling(options.quantization);
  };
  if (quantized) {
    for (float o : options.oversampling) {
      const bool dup = std::any_of(settings.begin(), settings.end(), [&](const Setting& s) {
        return s.oversampling == effective(o);
      });
      if (!dup) settings.push_back({true, effective(o)});
    }
    settings.push_back({false, 0});
  } else {
    settings.push_back({false, 0});
  }
  for (size_t ef : options.ef_sweep) {
    for (const Setting& setting : settings) {
      const bool default_point = ef == options.ef;
      for (int threads : ctx.search_threads) {
        if (threads != 1 && !default_point) continue;  // thread counts at the default ef only
        LoadOptions load = ctx.load;
        load.threads = threads;
        const double cpu_start = ProcessCpuSeconds(static_cast<int>(getpid()));
        LoadResult r =
            RunQueryLoad(data.num_queries, kTopK, load, nullptr, [&](int, size_t q, int64_t* ids) {
              auto hits =
                  under_test->Search(data.query_row(q), ef, setting.rescore, setting.oversampling);
              if (!hits.ok()) return false;
              for (size_t i = 0; i < kTopK; ++i) {
                ids[i] = i < hits->size() ? static_cast<int64_t>((*hits)[i].label) : -1;
              }
              return true;
            });
        const double cpu_ms_per_search =
            (ProcessCpuSeconds(static_cast<int>(getpid())) - cpu_start) * 1000 /
            std::max<double>(1, static_cast<double>(r.ops));
        const double recall = RecallAtK(r.first_results, *ctx.truth, kTopK);
        nlohmann::json record = SearchRecord(system, threads, ef, n, recall, r);
        record["quantization"] = QuantizationName(options.quantization);
        record["level_seed"] = options.level_seed;
        record["cpu_ms_per_search"] = cpu_ms_per_search;
        if (quantized) {
          record["rescore"] = setting.rescore;
          record["oversampling"] = setting.rescore ? setting.oversampling : 0.0f;
          record["rescore_file"] = setting.rescore && options.rescore_file;
        }
        ctx.report->Write(record);
        const bool figure_setting =
            !quantized ||
            (setting.rescore && setting.oversampling == effective(options.oversampling.front()));
        if (figure_setting && threads == 1) figures.one_thread_by_ef.push_back({ef, recall, r.qps});
        if (default_point && figure_setting) {
          figures.qps_by_threads.push_back(r.qps);
          if (threads == 1) {
            figures.recall_default_ef = recall;
            figures.cpu_ms_per_search = cpu_ms_per_search;
          }
        }
      }
    }
  }
  figures.ran = true;
  under_test.reset();
  TrimHeap();
  return figures;
}

}  // namespace ragd::bench
