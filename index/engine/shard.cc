#include "index/engine/shard.h"

#include <spdlog/spdlog.h>
#include <time.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "common/hash.h"
#include "common/status.h"
#include "index/engine/keys.h"
#include "index/engine/verify.h"

namespace ragd::index {
namespace {

// The matching set of a scan (Engine::Options::metadata_index off) as a LabelFilter.
class SetFilter final : public LabelFilter {
 public:
  explicit SetFilter(const std::vector<Label>& labels) : set_(labels.begin(), labels.end()) {}
  bool Accept(Label label) const override { return set_.contains(label); }

 private:
  absl::flat_hash_set<Label> set_;
};

constexpr size_t kBuildBatch = 1024;

// Accepts the labels of live points that match a filter (the text leg's filter). Called by
// Bm25Index::Search under the shard's shared lock.
class MetaFilter final : public LabelFilter {
 public:
  MetaFilter(const absl::flat_hash_map<Label, Shard::LiveMeta>& live, const Filter& filter)
      : live_(live), filter_(filter) {}
  bool Accept(Label label) const override {
    auto it = live_.find(label);
    return it != live_.end() && Matches(filter_, it->second.document_id, it->second.metadata);
  }

 private:
  const absl::flat_hash_map<Label, Shard::LiveMeta>& live_;
  const Filter& filter_;
};

std::vector<lexical::TermFreq> FromTermRecord(storage::TermRecord&& r) {
  std::vector<lexical::TermFreq> out;
  out.reserve(r.terms.size());
  for (auto& [term, tf] : r.terms) out.push_back(lexical::TermFreq{std::move(term), tf});
  return out;
}

}  // namespace

absl::StatusOr<std::vector<lexical::TermFreq>> AnalyzeText(const lexical::Analyzer& analyzer,
                                                           std::string_view text) {
  ASSIGN_OR_RETURN(auto terms, analyzer.Analyze(text));
  return lexical::CountTerms(terms);
}

storage::TermRecord ToTermRecord(uint32_t analyzer_id, const std::vector<lexical::TermFreq>& t) {
  storage::TermRecord r;
  r.analyzer = analyzer_id;
  r.terms.reserve(t.size());
  for (const auto& tf : t) r.terms.emplace_back(tf.term, tf.freq);
  return r;
}

Shard::Shard(storage::Store* store, storage::ShardKey key, const CollectionSpec& spec,
             const Engine::Options& options, const lexical::Analyzer* analyzer)
    : store_(store), key_(key), spec_(spec), options_(options), analyzer_(analyzer) {
  if (analyzer_ != nullptr) {
    bm25_ = std::make_unique<lexical::Bm25Index>(
        lexical::Bm25Options{.k1 = spec_.lexical.k1, .b = spec_.lexical.b});
  }
}

absl::Status Shard::RecoverLexical() {
  const uint32_t id = AnalyzerId(analyzer_->options());
  size_t orphans = 0;
  absl::flat_hash_set<Label> redo;
  // Records of another analyzer version (an upgrade that changed the analysis): analysed again
  // and written back, so that the next start reads them instead of analysing every text again.
  // A missing record is not written back: it cannot come from the write path, and Verify must
  // keep reporting it (missing_from_lexical) until the point is rewritten.
  absl::flat_hash_set<Label> upgrade;
  RETURN_IF_ERROR(store_->ScanTerms(key_, [&](Label label, storage::TermRecord&& r) {
    if (!live_.contains(label)) {
      ++orphans;  // cannot come from the write path (same batch as the point); never searched
      return absl::OkStatus();
    }
    if (r.analyzer != id) {
      redo.insert(label);
      upgrade.insert(label);
      return absl::OkStatus();
    }
    return bm25_->Add(label, FromTermRecord(std::move(r)));
  }));
  for (const auto& [label, meta] : live_) {
    if (!bm25_->Contains(label)) redo.insert(label);
  }
  // Rewritten records are committed in batches: a crash part-way leaves the rest in the old
  // version, which the next start upgrades. A record only ever describes its own label's
  // stored text, so writing it again is idempotent.
  constexpr size_t kUpgradeBatch = 1000;
  std::optional<storage::Batch> batch;
  size_t upgraded = 0;
  for (Label label : redo) {
    const std::string& point_id = live_.at(label).id;
    ASSIGN_OR_RETURN(auto rec, store_->GetPoint(key_, point_id));
    if (!rec) return absl::DataLossError("point \"" + point_id + "\" vanished during recovery");
    ASSIGN_OR_RETURN(auto terms, AnalyzeText(*analyzer_, rec->text));
    if (upgrade.contains(label)) {
      if (!batch) batch.emplace(store_);
      batch->PutTerms(key_, label, ToTermRecord(id, terms));
      ++upgraded;
      if (batch->count() >= kUpgradeBatch) {
        RETURN_IF_ERROR(store_->Commit(*batch));
        batch.reset();
      }
    }
    RETURN_IF_ERROR(bm25_->Add(label, terms));
  }
  if (batch) RETURN_IF_ERROR(store_->Commit(*batch));
  if (orphans > 0 || !redo.empty()) {
    spdlog::warn(
        "shard {}/{}: lexical index: {} term records without a point ignored, {} "
        "texts analysed again (missing record or another analyzer version), {} records "
        "rewritten in the current analyzer version",
        key_.collection, key_.shard, orphans, redo.size(), upgraded);
  }
  return absl::OkStatus();
}

uint64_t Shard::SpecFingerprint() const {
  // Everything that shapes the stored index; the search-time defaults (ef, nprobe) do not.
  std::string s = std::to_string(static_cast<int>(spec_.index.kind)) + "/" +
                  std::to_string(spec_.index.m) + "/" +
                  std::to_string(spec_.index.ef_construction) + "/" + spec_.index.faiss_factory +
                  "/" + std::to_string(spec_.dimension) + "/" +
                  std::to_string(static_cast<int>(spec_.metric));
  // Appended only when set, so that snapshots of float32 collections written before the
  // field existed keep their fingerprint.
  if (spec_.index.quantization != Quantization::kNone) {
    s += "/q" + std::to_string(static_cast<int>(spec_.index.quantization));
  }
  return Hash64(s);
}

absl::StatusOr<std::unique_ptr<VectorIndex>> Shard::BuildFromStore(
    const storage::ReadView* view) const {
  ASSIGN_OR_RETURN(auto index, MakeIndex(spec_.index, spec_.dimension, spec_.metric));
  index->SetAddThreads(options_.EffectiveInsertThreads());
  std::vector<Label> labels;
  std::vector<float> vectors;
  labels.reserve(kBuildBatch);
  vectors.reserve(kBuildBatch * spec_.dimension);
  auto flush = [&]() -> absl::Status {
    if (labels.empty()) return absl::OkStatus();
    RETURN_IF_ERROR(index->Add(labels, vectors));
    labels.clear();
    vectors.clear();
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(store_->ScanVectors(
      key_, spec_.dimension,
      [&](Label label, std::span<const float> v) -> absl::Status {
        labels.push_back(label);
        vectors.insert(vectors.end(), v.begin(), v.end());
        if (labels.size() == kBuildBatch) return flush();
        return absl::OkStatus();
      },
      view));
  RETURN_IF_ERROR(flush());
  return index;
}

absl::Status Shard::Recover() {
  if (spec_.index.quantization != Quantization::kNone && options_.rescore_file) {
    auto file = storage::VectorFile::Create(options_.data_dir, spec_.dimension);
    if (file.ok()) {
      vector_file_ = *std::move(file);
    } else {
      spdlog::warn("shard {}/{}: re-scoring reads go to RocksDB only: {}", key_.collection,
                   key_.shard, file.status().ToString());
    }
  }
  uint64_t max_label = 0;
  RETURN_IF_ERROR(store_->ScanPoints(key_, [&](std::string_view id, storage::PointRecord&& r) {
    max_label = std::max(max_label, r.label);
    labels_.emplace(std::string(id), r.label);
    if (options_.metadata_index) RETURN_IF_ERROR(metadata_.Add(r.label, r.document_id, r.metadata));
    live_.emplace(r.label, LiveMeta{std::string(id), std::move(r.document_id),
                                    std::move(r.metadata)});
    return absl::OkStatus();
  }));
  ASSIGN_OR_RETURN(auto stored_next, store_->GetMeta(NextLabelKey(key_)));
  next_label_ = std::max<uint64_t>(max_label + 1, stored_next ? DecodeU64(*stored_next) : 1);

  // The BM25 rebuild (RecoverLexical: reads live_ and the lexical family, writes only bm25_)
  // runs beside the vector snapshot's load and reconciliation (reads live_, writes the vector
  // index): disjoint, and each takes seconds at 100k chunks. Joined on every return below.
  absl::Status lexical_status;
  std::thread lexical_thread;
  if (bm25_ != nullptr) {
    try {
      lexical_thread = std::thread([this, &lexical_status] { lexical_status = RecoverLexical(); });
    } catch (const std::system_error&) {
      // No thread to be had: rebuilt inline below.
    }
  }
  struct JoinOnExit {
    std::thread& thread;
    ~JoinOnExit() {
      if (thread.joinable()) thread.join();
    }
  } join_lexical{lexical_thread};

  storage::SnapshotHeader header;
  auto payload = store_->ReadSnapshot(key_, &header);
  std::unique_ptr<VectorIndex> index;
  std::string why;
  if (!payload.ok()) {
    why = std::string(payload.status().message());
  } else if (header.spec_fingerprint != SpecFingerprint()) {
    why = "it was made for another index spec";
  } else {
    auto loaded = LoadIndex(spec_.index, spec_.dimension, spec_.metric, *payload);
    if (loaded.ok()) {
      index = std::move(*loaded);
      index->SetAddThreads(options_.EffectiveInsertThreads());
    } else {
      why = std::string(loaded.status().message());
    }
  }
  // The snapshot is only trusted after reconciliation with RocksDB, the source of truth.
  if (index != nullptr) {
    next_label_ = std::max(next_label_.load(), header.next_label);
    std::vector<Label> stale;
    absl::flat_hash_set<Label> present;
    for (Label l : index->Labels()) {
      if (live_.contains(l)) {
        present.insert(l);
      } else {
        stale.push_back(l);
      }
    }
    std::vector<Label> missing;
    std::vector<float> vectors;
    for (const auto& [label, meta] : live_) {
      if (present.contains(label)) continue;
      ASSIGN_OR_RETURN(auto v, store_->GetVector(key_, label, spec_.dimension));
      if (!v) {
        return absl::DataLossError("point \"" + meta.id + "\" has no vector in storage");
      }
      missing.push_back(label);
      vectors.insert(vectors.end(), v->begin(), v->end());
    }
    RETURN_IF_ERROR(index->Remove(stale));
    RETURN_IF_ERROR(index->Add(missing, vectors));
    if (!stale.empty() || !missing.empty()) dirty_ = true;
    spdlog::info("shard {}/{}: snapshot loaded ({} points), {} added and {} removed from storage",
                 key_.collection, key_.shard, present.size(), missing.size(), stale.size());
  } else {
    if (!live_.empty() || payload.status().code() != absl::StatusCode::kNotFound) {
      spdlog::warn("shard {}/{}: rebuilding index from storage ({} points): snapshot unusable: {}",
                   key_.collection, key_.shard, live_.size(), why);
    }
    ASSIGN_OR_RETURN(index, BuildFromStore(nullptr));
    if (index->size() != live_.size()) {
      return absl::DataLossError("shard " + std::to_string(key_.shard) + ": " +
                                 std::to_string(live_.size()) + " points but " +
                                 std::to_string(index->size()) + " vectors in storage");
    }
    dirty_ = !live_.empty();
  }
  index_ = std::move(index);
  if (lexical_thread.joinable()) {
    lexical_thread.join();
    RETURN_IF_ERROR(lexical_status);
  } else if (bm25_ != nullptr) {
    RETURN_IF_ERROR(RecoverLexical());
  }
  return absl::OkStatus();
}

std::optional<Label> Shard::WriterLabelOf(std::string_view id) const {
  auto it = labels_.find(absl::string_view(id.data(), id.size()));
  if (it == labels_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::vector<std::string>> Shard::WriterMatchingIds(const Filter& filter) const {
  ASSIGN_OR_RETURN(std::vector<Label> labels, MatchingLabels(filter));
  std::vector<std::string> ids;
  ids.reserve(labels.size());
  for (Label label : labels) {
    auto it = live_.find(label);
    if (it != live_.end()) ids.push_back(it->second.id);
  }
  return ids;
}

absl::StatusOr<std::vector<Label>> Shard::MatchingLabels(const Filter& filter) const {
  if (options_.metadata_index) {
    ASSIGN_OR_RETURN(metadata::LabelSet set, metadata_.Evaluate(filter));
    return set.ToVector();
  }
  std::vector<Label> labels;
  for (const auto& [label, meta] : live_) {
    if (Matches(filter, meta.document_id, meta.metadata)) labels.push_back(label);
  }
  return labels;
}

absl::Status Shard::WriterApply(const std::vector<Added>& added,
                                const std::vector<std::pair<Label, std::string>>& removed) {
  std::vector<Label> add_labels;
  std::vector<float> add_vectors;
  add_labels.reserve(added.size());
  add_vectors.reserve(added.size() * spec_.dimension);
  for (const auto& a : added) {
    add_labels.push_back(a.label);
    add_vectors.insert(add_vectors.end(), a.point->vector.begin(), a.point->vector.end());
  }
  std::vector<Label> remove_labels;
  remove_labels.reserve(removed.size());
  for (const auto& r : removed) remove_labels.push_back(r.first);

  std::unique_lock lock(mu_);
  // The BM25 postings (bm25_ alone) are updated while the vector index takes its batch: both
  // run under the exclusive lock, on disjoint structures, and the update would otherwise add
  // its whole cost to the time searches wait (about a tenth of a 1536-d graph insert per
  // point). Small batches do it inline: a thread start would cost more than it saves.
  constexpr size_t kMinOverlappedPoints = 32;
  auto update_lexical = [&]() -> absl::Status {
    for (const auto& a : added) {
      if (a.terms != nullptr) RETURN_IF_ERROR(bm25_->Add(a.label, *a.terms));
    }
    for (Label l : remove_labels) bm25_->Remove(l);
    return absl::OkStatus();
  };
  absl::Status lexical_status;
  std::thread lexical_thread;
  if (bm25_ != nullptr && added.size() >= kMinOverlappedPoints &&
      options_.EffectiveInsertThreads() > 1) {
    try {
      lexical_thread = std::thread([&] { lexical_status = update_lexical(); });
    } catch (const std::system_error&) {
      // No thread to be had: updated inline below.
    }
  }
  const bool overlapped = lexical_thread.joinable();
  // Add before remove so that a replaced id is never absent from the index.
  absl::Status vector_status = index_->Add(add_labels, add_vectors);
  if (vector_status.ok()) vector_status = index_->Remove(remove_labels);
  if (overlapped) lexical_thread.join();
  RETURN_IF_ERROR(vector_status);
  RETURN_IF_ERROR(lexical_status);
  for (const auto& [label, id] : removed) {
    if (auto meta = live_.find(label); meta != live_.end()) {
      if (options_.metadata_index) {
        metadata_.Remove(label, meta->second.document_id, meta->second.metadata);
      }
      live_.erase(meta);
    }
    auto it = labels_.find(id);
    if (it != labels_.end() && it->second == label) labels_.erase(it);
  }
  for (const auto& a : added) {
    if (options_.metadata_index) {
      RETURN_IF_ERROR(metadata_.Add(a.label, a.point->document_id, a.point->metadata));
    }
    labels_[a.point->id] = a.label;
    live_[a.label] = LiveMeta{a.point->id, a.point->document_id, a.point->metadata};
  }
  if (bm25_ != nullptr && !overlapped) RETURN_IF_ERROR(update_lexical());
  if (compaction_log_ != nullptr) {
    auto& log = *compaction_log_;
    log.labels.insert(log.labels.end(), add_labels.begin(), add_labels.end());
    log.vectors.insert(log.vectors.end(), add_vectors.begin(), add_vectors.end());
    log.removed.insert(log.removed.end(), remove_labels.begin(), remove_labels.end());
  }
  dirty_ = true;
  lock.unlock();
  // The removed labels are never searched again (nor reused): their cached vectors only take
  // disk space. Outside the lock: a few system calls per label.
  if (vector_file_ != nullptr) {
    for (Label l : remove_labels) vector_file_->Forget(l);
  }
  return absl::OkStatus();
}

absl::Status Shard::FetchExactVectors(std::span<const Label> labels, std::vector<float>* vectors,
                                      std::vector<bool>* found) const {
  return storage::ReadThroughVectors(*store_, key_, vector_file_.get(), labels, spec_.dimension,
                                     vectors, found, &storage_reads_);
}

namespace {

uint64_t ThreadCpuNs() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<uint64_t>(t.tv_sec) * 1000000000u + static_cast<uint64_t>(t.tv_nsec);
}

// Adds the CPU time the current thread spends in its scope to a shard's counters. What a
// search costs the index, measured where it runs, is what a server's CPU per call is judged
// against: a benchmark's tight loop of walks says nothing about the caches a walk finds after
// the request's handling (measured at 100k and 2k points: the same cost within 0-7%;
// bench/README.md, "Session 12"). Two clock reads, ~0.2 µs each here, against a walk of
// 0.05-1 ms.
class SearchCpuMeter {
 public:
  SearchCpuMeter(std::atomic<uint64_t>* searches, std::atomic<uint64_t>* cpu_ns)
      : searches_(searches), cpu_ns_(cpu_ns), start_(ThreadCpuNs()) {}
  ~SearchCpuMeter() {
    cpu_ns_->fetch_add(ThreadCpuNs() - start_, std::memory_order_relaxed);
    searches_->fetch_add(1, std::memory_order_relaxed);
  }
  SearchCpuMeter(const SearchCpuMeter&) = delete;
  SearchCpuMeter& operator=(const SearchCpuMeter&) = delete;

 private:
  std::atomic<uint64_t>* searches_;
  std::atomic<uint64_t>* cpu_ns_;
  uint64_t start_;
};

}  // namespace

absl::StatusOr<std::vector<Shard::Hit>> Shard::Search(std::span<const float> query, size_t k,
                                                      int ef, const Filter* filter,
                                                      SearchPlan* plan,
                                                      Rescoring rescoring) const {
  const SearchCpuMeter meter(&vector_searches_, &vector_search_cpu_ns_);
  std::shared_lock lock(mu_);
  std::vector<Hit> out;
  if (live_.empty()) return out;
  // Quantized indexes keep no float32 vector: they read their candidates' from RocksDB. A
  // vector deleted since the index answered is dropped (its delete is being applied).
  const ExactVectorFetcher fetch = [this](std::span<const Label> labels,
                                          std::vector<float>* vectors, std::vector<bool>* found) {
    return FetchExactVectors(labels, vectors, found);
  };
  SearchOptions opts;
  opts.top_k = k;
  opts.ef = ef;
  opts.rescore = rescoring.rescore;
  opts.oversampling = rescoring.oversampling;
  opts.exact_vectors = &fetch;
  std::vector<SearchHit> hits;
  if (filter == nullptr) {
    *plan = SearchPlan::kIndex;
    ASSIGN_OR_RETURN(hits, index_->Search(query, opts));
  } else {
    // Pick the plan by the matching set's size, which the metadata index gives with the set:
    // a set that is small, or cheaper to score than a walk through it, is scored exactly (and
    // the answer is exact); a larger one restricts the index search to the set.
    metadata::LabelSet indexed;
    std::optional<SetFilter> scanned;
    uint64_t size = 0;
    std::vector<Label> labels;
    if (options_.metadata_index) {
      ASSIGN_OR_RETURN(indexed, metadata_.Evaluate(*filter));
      size = indexed.size();
    } else {
      ASSIGN_OR_RETURN(labels, MatchingLabels(*filter));
      size = labels.size();
    }
    if (size == 0) return out;
    if (size <= options_.brute_force_max_matches || ScoringTheSetIsCheaper(size, k, ef)) {
      *plan = SearchPlan::kBruteForce;
      if (options_.metadata_index) labels = indexed.ToVector();
      ASSIGN_OR_RETURN(hits, index_->ScoreLabels(query, labels, opts));
    } else {
      *plan = SearchPlan::kIndexFiltered;
      opts.filter = options_.metadata_index ? static_cast<const LabelFilter*>(&indexed)
                                            : &scanned.emplace(labels);
      opts.filter_selectivity =
          static_cast<double>(size) / static_cast<double>(live_.size());
      ASSIGN_OR_RETURN(hits, index_->Search(query, opts));
    }
  }
  out.reserve(hits.size());
  // The walk has just evicted the map: ask for every hit's slot group at once, so that k
  // lookups wait for memory about once instead of k times.
  for (const auto& h : hits) live_.prefetch(h.label);
  for (const auto& h : hits) {
    auto it = live_.find(h.label);
    if (it == live_.end()) continue;  // cannot happen: removed labels never come back
    out.push_back(Hit{h.label, it->second.id, h.score});
  }
  return out;
}

// A graph walk restricted to a set that accepts a fraction `selectivity` of the points visits
// about ef / selectivity nodes before it has ef accepted ones, and computes a distance to each
// neighbour of each (2·M on HNSW's bottom layer); scoring the set computes one per member.
// Measured at 100k points with 10% matching (bench/README.md, ragd_filter_bench): the walk
// took ~12 ms, scoring the 10,000 members a fraction of that, and is exact.
bool Shard::ScoringTheSetIsCheaper(uint64_t matching, size_t k, int ef) const {
  if (!options_.filter_plan_by_cost) return false;
  const size_t live = live_.size();
  if (live == 0 || matching >= live) return false;
  const double selectivity = static_cast<double>(matching) / static_cast<double>(live);
  const double walk_ef = static_cast<double>(std::max<size_t>(k, ef > 0 ? ef : spec_.index.ef));
  const double links = 2.0 * (spec_.index.kind == IndexKind::kHnsw ? spec_.index.m : 32);
  return static_cast<double>(matching) <= walk_ef / selectivity * links;
}

void Shard::AddTextStatistics(std::span<const std::string_view> terms,
                              std::span<uint64_t> doc_freqs, uint64_t* documents) const {
  if (bm25_ == nullptr) return;
  std::shared_lock lock(mu_);
  *documents += bm25_->size();
  for (size_t i = 0; i < terms.size() && i < doc_freqs.size(); ++i) {
    doc_freqs[i] += bm25_->DocFreq(terms[i]);
  }
}

absl::StatusOr<std::vector<Shard::Hit>> Shard::SearchText(std::span<const std::string> terms,
                                                          size_t k, const Filter* filter,
                                                          std::span<const double> weights) const {
  if (bm25_ == nullptr) return absl::FailedPreconditionError("the collection has no lexical index");
  std::shared_lock lock(mu_);
  std::vector<Hit> out;
  if (live_.empty() || terms.empty()) return out;
  std::optional<MetaFilter> meta;
  metadata::LabelSet matching;
  lexical::Bm25SearchOptions opts;
  opts.top_k = k;
  opts.exhaustive = !options_.lexical_pruning;
  opts.block_max = options_.lexical_block_max;
  opts.weights = weights;
  if (filter != nullptr && options_.metadata_index) {
    ASSIGN_OR_RETURN(matching, metadata_.Evaluate(*filter));
    if (matching.empty()) return out;
    opts.filter = &matching;
  } else if (filter != nullptr) {
    opts.filter = &meta.emplace(live_, *filter);
  }
  ASSIGN_OR_RETURN(auto hits, bm25_->Search(terms, opts));
  out.reserve(hits.size());
  for (const auto& h : hits) {
    auto it = live_.find(h.label);
    if (it == live_.end()) continue;  // cannot happen: removed labels leave bm25_ eagerly
    out.push_back(Hit{h.label, it->second.id, static_cast<float>(h.score)});
  }
  return out;
}

uint64_t Shard::Count(const Filter* filter) const {
  std::shared_lock lock(mu_);
  if (filter == nullptr) return live_.size();
  if (options_.metadata_index) {
    absl::StatusOr<metadata::LabelSet> matches = metadata_.Evaluate(*filter);
    if (matches.ok()) return matches->size();
  }
  uint64_t n = 0;  // no index, or out of memory for the set: count by a scan
  for (const auto& [label, meta] : live_) {
    if (Matches(*filter, meta.document_id, meta.metadata)) ++n;
  }
  return n;
}

size_t Shard::live() const {
  std::shared_lock lock(mu_);
  return live_.size();
}
size_t Shard::removed() const {
  std::shared_lock lock(mu_);
  return index_ ? index_->removed_count() : 0;
}
size_t Shard::index_bytes() const {
  std::shared_lock lock(mu_);
  return (index_ ? index_->MemoryBytes() : 0) + (bm25_ ? bm25_->MemoryBytes() : 0);
}

bool Shard::NeedsCompaction() const {
  std::shared_lock lock(mu_);
  if (index_ == nullptr || compacting_) return false;
  const size_t removed = index_->removed_count();
  return removed >= options_.compaction_min_removed &&
         static_cast<double>(removed) >
             options_.compaction_ratio * static_cast<double>(std::max<size_t>(1, live_.size()));
}

absl::Status Shard::Compact(std::mutex& write_mu) {
  if (compacting_.exchange(true)) return absl::OkStatus();
  std::unique_ptr<storage::ReadView> view;
  {
    std::lock_guard w(write_mu);
    view = store_->NewReadView();
    compaction_log_ = std::make_unique<Logged>();
  }
  auto built = BuildFromStore(view.get());
  view.reset();
  std::lock_guard w(write_mu);
  auto log = std::move(compaction_log_);
  absl::Status status = built.status();
  if (status.ok()) {
    auto& fresh = *built;
    status = fresh->Add(log->labels, log->vectors);
    if (status.ok()) status = fresh->Remove(log->removed);
    if (status.ok()) {
      std::unique_lock lock(mu_);
      const size_t before = index_->removed_count();
      index_.swap(fresh);
      dirty_ = true;
      spdlog::info("shard {}/{}: compacted, {} removed slots reclaimed", key_.collection,
                   key_.shard, before);
    }
  }
  compacting_ = false;
  return status;
}

absl::Status Shard::Verify(std::mutex& write_mu, const VerifyOptions& options, size_t max_searches,
                           VerifyReport* report) const {
  std::unique_ptr<storage::ReadView> view;
  std::vector<Label> index_labels;
  std::vector<Label> bm25_labels;
  {
    // Under the write mutex RocksDB holds exactly what the index has applied.
    std::lock_guard w(write_mu);
    view = store_->NewReadView();
    std::shared_lock lock(mu_);
    index_labels = index_->Labels();
    if (bm25_ != nullptr) bm25_labels = bm25_->Labels();
  }
  std::vector<std::pair<std::string, Label>> points;
  RETURN_IF_ERROR(store_->ScanPoints(
      key_,
      [&](std::string_view id, storage::PointRecord&& r) {
        points.emplace_back(std::string(id), r.label);
        return absl::OkStatus();
      },
      view.get()));
  // Every stride-th point (in id order) is searched for.
  absl::flat_hash_map<Label, size_t> sampled;  // label -> index in points
  if (max_searches > 0) {
    const size_t stride = (points.size() + max_searches - 1) / max_searches;
    for (size_t i = 0; i < points.size(); i += std::max<size_t>(1, stride)) {
      sampled.emplace(points[i].second, i);
    }
  }
  absl::flat_hash_set<Label> vector_labels;
  vector_labels.reserve(points.size());
  RETURN_IF_ERROR(store_->ScanVectors(
      key_, spec_.dimension,
      [&](Label label, std::span<const float> v) -> absl::Status {
        vector_labels.insert(label);
        auto it = sampled.find(label);
        if (it == sampled.end()) return absl::OkStatus();
        std::shared_lock lock(mu_);  // per search: writes are held up by one search at most
        if (!index_->Contains(label)) return absl::OkStatus();  // replaced or deleted since
        ASSIGN_OR_RETURN(bool found, FoundByOwnVector(*index_, label, v, options.ef));
        ++report->searched;
        if (!found) {
          ++report->unreachable;
          if (report->unreachable_ids.size() < VerifyReport::kMaxExamples) {
            report->unreachable_ids.push_back(points[it->second].first);
          }
        }
        return absl::OkStatus();
      },
      view.get()));
  CompareShard(points, vector_labels, index_labels, report);
  if (bm25_ != nullptr) {
    absl::flat_hash_set<Label> term_labels;
    term_labels.reserve(points.size());
    RETURN_IF_ERROR(store_->ScanTerms(
        key_,
        [&](Label label, storage::TermRecord&&) {
          term_labels.insert(label);
          return absl::OkStatus();
        },
        view.get()));
    CompareLexical(points, term_labels, bm25_labels, report);
  }
  return absl::OkStatus();
}

absl::Status Shard::SaveSnapshotIfDirty(uint64_t sequence, bool* attempted) {
  std::lock_guard guard(snapshot_mu_);
  if (!dirty_.exchange(false)) return absl::OkStatus();
  if (attempted != nullptr) *attempted = true;
  std::string payload;
  storage::SnapshotHeader header;
  {
    std::shared_lock lock(mu_);
    absl::Status s = index_->Save(&payload);
    if (!s.ok()) {
      dirty_ = true;
      return s;
    }
    // Read under the lock: every label in the saved index is below it.
    header.next_label = next_label_;
  }
  header.spec_fingerprint = SpecFingerprint();
  header.sequence = sequence;
  absl::Status s = store_->WriteSnapshot(key_, header, payload);
  if (!s.ok()) dirty_ = true;
  return s;
}

}  // namespace ragd::index
