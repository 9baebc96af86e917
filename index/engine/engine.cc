#include "index/engine/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <system_error>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "common/hash.h"
#include "common/status.h"
#include "index/engine/engine_impl.h"
#include "index/engine/keys.h"
#include "index/engine/shard.h"
#include "index/engine/validate.h"
#include "index/storage/encoding.h"
#include "index/storage/store.h"

namespace ragd::index {

uint32_t ShardOfId(std::string_view id, uint32_t shards) {
  return static_cast<uint32_t>(Hash64(id) % shards);
}

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

absl::Status CollectionNotFound(std::string_view name) {
  return absl::NotFoundError("collection \"" + std::string(name) + "\" not found");
}

}  // namespace

size_t Engine::Options::EffectiveInsertThreads() const {
  if (insert_threads > 0) return static_cast<size_t>(insert_threads);
  return std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4);
}

absl::Status Engine::Impl::Open() {
  if (options_.search_leg_threads < 0 || options_.search_leg_threads > 64) {
    return absl::InvalidArgumentError("search_leg_threads: must be in [0, 64], got " +
                                      std::to_string(options_.search_leg_threads));
  }
  if (options_.insert_threads < 0 || options_.insert_threads > 64) {
    return absl::InvalidArgumentError("insert_threads: must be in [0, 64], got " +
                                      std::to_string(options_.insert_threads));
  }
  leg_helpers_ = std::make_unique<IdleHelpers>(options_.search_leg_threads);
  std::error_code ec;
  std::filesystem::create_directories(options_.data_dir, ec);
  if (ec) {
    return absl::InvalidArgumentError("data_dir: cannot create \"" + options_.data_dir +
                                      "\": " + ec.message());
  }
  storage::Store::Options so;
  so.path = options_.data_dir + "/db";
  so.sync_writes = options_.sync_writes;
  so.block_cache_bytes = options_.block_cache_bytes;
  so.env = options_.rocksdb_env;
  ASSIGN_OR_RETURN(store_, storage::Store::Open(so));
  // Only now: the store holds the database's lock, so no other process backs it up.
  ASSIGN_OR_RETURN(int stale, internal::RemoveStagingDirs(options_.data_dir));
  if (stale > 0) {
    spdlog::info("removed {} staging director{} of a backup interrupted by a crash", stale,
                 stale == 1 ? "y" : "ies");
  }

  ASSIGN_OR_RETURN(auto version, store_->GetMeta(kFormatVersionKey));
  if (version && DecodeU64(*version) != kFormatVersion) {
    return absl::FailedPreconditionError(
        "data_dir: format version " + std::to_string(DecodeU64(*version)) +
        " is not supported by this ragd (expects " + std::to_string(kFormatVersion) + ")");
  }
  if (!version) {
    storage::Batch b(store_.get());
    b.PutMeta(kFormatVersionKey, EncodeU64(kFormatVersion));
    RETURN_IF_ERROR(store_->Commit(b));
  }
  ASSIGN_OR_RETURN(auto next_id, store_->GetMeta(kNextCollectionIdKey));
  if (next_id) next_collection_id_ = static_cast<uint32_t>(DecodeU64(*next_id));

  ASSIGN_OR_RETURN(auto catalog, store_->ListCatalog());
  for (const auto& [name, record] : catalog) RETURN_IF_ERROR(LoadCollection(name, record));
  bg_thread_ = std::thread([this] { BackgroundLoop(); });
  return absl::OkStatus();
}

absl::Status Engine::Impl::LoadCollection(std::string_view name, std::string_view record) {
  auto c = std::make_shared<Collection>();
  RETURN_IF_ERROR(DecodeCollectionRecord(name, record, &c->id, &c->created_at_ms, &c->spec));
  ASSIGN_OR_RETURN(auto seq, store_->GetMeta(SequenceKey(c->id)));
  c->last_sequence = seq ? DecodeU64(*seq) : 0;
  const auto start = std::chrono::steady_clock::now();
  absl::Status st = MakeShards(*c);
  if (!st.ok()) {
    return absl::Status(st.code(),
                        "collection \"" + std::string(name) + "\": " + std::string(st.message()));
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("collection \"{}\": recovered {} points in {} shard(s), sequence {}, {:.2f}s", name,
               Info(*c).points, c->spec.shards, c->last_sequence.load(), secs);
  collections_.emplace(std::string(name), std::move(c));
  return absl::OkStatus();
}

absl::Status Engine::Impl::MakeShards(Collection& c) {
  if (c.spec.lexical.enabled) {
    ASSIGN_OR_RETURN(c.analyzer, lexical::Analyzer::Create(
                                     lexical::AnalyzerOptions{.kind = c.spec.lexical.analyzer}));
  }
  for (uint32_t s = 0; s < c.spec.shards; ++s) {
    auto shard =
        std::make_unique<Shard>(store_.get(), storage::ShardKey{c.id, static_cast<uint16_t>(s)},
                                c.spec, options_, c.analyzer.get());
    absl::Status st = shard->Recover();
    if (!st.ok()) {
      return absl::Status(st.code(),
                          "shard " + std::to_string(s) + ": " + std::string(st.message()));
    }
    c.shards.push_back(std::move(shard));
  }
  return absl::OkStatus();
}

absl::StatusOr<Engine::Impl::Analysed> Engine::Impl::AnalyzeUpserts(
    const Collection& c, const std::vector<Point>& upserts) const {
  Analysed out;
  if (c.analyzer == nullptr) return out;
  const size_t n = upserts.size();
  out.resize(n);
  std::vector<absl::Status> errors(n);
  const uint32_t analyzer_id = AnalyzerId(c.analyzer->options());
  auto analyse = [&](size_t i) {
    auto terms = AnalyzeText(*c.analyzer, upserts[i].text);
    if (terms.ok()) {
      // Encoded here, in parallel, rather than under the write mutex.
      out[i].record = storage::EncodeTermRecord(ToTermRecord(analyzer_id, *terms));
      out[i].terms = std::move(*terms);
    } else {
      errors[i] = terms.status();
    }
  };
  // Analysis (ICU, Snowball: about as much CPU per 300-word text as the BM25 update) runs
  // before the write lock, so it can use the insert threads: a bulk Upsert analyses its
  // texts on all of them instead of one (bench/README.md, ragd_hybrid_bench's ingest rows).
  // The analyzer is immutable and thread-safe; the terms do not depend on the thread.
  constexpr size_t kMinTextsPerThread = 16;
  const size_t threads = std::min(options_.EffectiveInsertThreads(), n / kMinTextsPerThread);
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) analyse(i);
  };
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < threads; ++t) {
    try {
      helpers.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // no thread to be had: the others do the work
    }
  }
  work();
  for (std::thread& h : helpers) h.join();
  // The first failing text in batch order, whichever thread analysed it.
  for (size_t i = 0; i < n; ++i) {
    if (!errors[i].ok()) {
      return absl::Status(errors[i].code(), "points[" + std::to_string(i) + "].text: " +
                                                std::string(errors[i].message()));
    }
  }
  return out;
}

absl::StatusOr<std::shared_ptr<Collection>> Engine::Impl::Find(std::string_view name) const {
  RETURN_IF_ERROR(CheckOpen());
  std::shared_lock lock(catalog_mu_);
  auto it = collections_.find(absl::string_view(name.data(), name.size()));
  if (it == collections_.end()) return CollectionNotFound(name);
  return it->second;
}

absl::Status Engine::Impl::CreateCollection(const CollectionSpec& spec) {
  RETURN_IF_ERROR(CheckOpen());
  RETURN_IF_ERROR(spec.Validate());
  // Build an empty index first: a FAISS factory string is only fully checked by FAISS.
  RETURN_IF_ERROR(MakeIndex(spec.index, spec.dimension, spec.metric).status());
  if (spec.lexical.enabled) {
    RETURN_IF_ERROR(
        lexical::Analyzer::Create(lexical::AnalyzerOptions{.kind = spec.lexical.analyzer})
            .status());
  }
  std::unique_lock lock(catalog_mu_);
  if (collections_.contains(spec.name)) {
    return absl::AlreadyExistsError("collection \"" + spec.name + "\" already exists");
  }
  if (next_collection_id_ == UINT32_MAX) {
    return absl::ResourceExhaustedError("collection ids exhausted");
  }
  auto c = std::make_shared<Collection>();
  c->id = next_collection_id_;
  c->created_at_ms = NowMs();
  c->spec = spec;
  storage::Batch b(store_.get());
  b.PutCatalog(spec.name, EncodeCollectionRecord(c->id, c->created_at_ms, spec));
  b.PutMeta(kNextCollectionIdKey, EncodeU64(c->id + 1));
  // Clear any leftovers under this id (none are expected: ids are never reused).
  b.DropCollection(c->id);
  RETURN_IF_ERROR(store_->Commit(b));
  next_collection_id_ = c->id + 1;
  RETURN_IF_ERROR(MakeShards(*c));  // empty: builds empty indexes
  collections_.emplace(spec.name, std::move(c));
  spdlog::info("collection \"{}\" created (dimension {}, {} shard(s))", spec.name, spec.dimension,
               spec.shards);
  return absl::OkStatus();
}

CollectionInfo Engine::Impl::Info(const Collection& c) const {
  CollectionInfo info;
  info.spec = c.spec;
  for (const auto& s : c.shards) {
    info.points += s->live();
    info.deleted_points += s->removed();
    info.index_bytes += s->index_bytes();
    info.rescore_file_reads += s->rescore_file_reads();
    info.rescore_storage_reads += s->rescore_storage_reads();
    info.vector_searches += s->vector_searches();
    info.vector_search_cpu_ns += s->vector_search_cpu_ns();
  }
  info.storage_bytes = store_ ? store_->ApproximateBytes(c.id) : 0;
  info.last_sequence = c.last_sequence;
  info.created_at_unix_ms = c.created_at_ms;
  return info;
}

absl::StatusOr<CollectionInfo> Engine::Impl::GetCollection(std::string_view name) const {
  ASSIGN_OR_RETURN(auto c, Find(name));
  return Info(*c);
}

absl::StatusOr<uint64_t> Engine::Impl::LastSequence(std::string_view name) const {
  ASSIGN_OR_RETURN(auto c, Find(name));
  return c->last_sequence.load();
}

absl::StatusOr<CollectionSpec> Engine::Impl::GetCollectionSpec(std::string_view name) const {
  ASSIGN_OR_RETURN(auto c, Find(name));
  return c->spec;
}

std::vector<CollectionInfo> Engine::Impl::ListCollections() const {
  std::vector<std::shared_ptr<Collection>> all;
  {
    std::shared_lock lock(catalog_mu_);
    for (const auto& [name, c] : collections_) all.push_back(c);
  }
  std::vector<CollectionInfo> out;
  for (const auto& c : all) out.push_back(Info(*c));
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.spec.name < b.spec.name; });
  return out;
}

absl::Status Engine::Impl::DeleteCollection(std::string_view name) {
  RETURN_IF_ERROR(CheckOpen());
  std::shared_ptr<Collection> c;
  {
    std::unique_lock lock(catalog_mu_);
    auto it = collections_.find(absl::string_view(name.data(), name.size()));
    if (it == collections_.end()) return CollectionNotFound(name);
    c = it->second;
    std::lock_guard w(c->write_mu);
    std::unique_lock life(c->lifecycle_mu);
    storage::Batch b(store_.get());
    b.DeleteCatalog(name);
    b.DeleteMeta(SequenceKey(c->id));
    for (const auto& s : c->shards) b.DeleteMeta(NextLabelKey(s->key()));
    b.DropCollection(c->id);
    RETURN_IF_ERROR(store_->Commit(b));
    c->dropped = true;
    collections_.erase(it);
  }
  // The range tombstones already hide the data; compaction makes the disk space come back now.
  absl::Status s = store_->CompactCollection(c->id);
  if (!s.ok())
    spdlog::warn("collection \"{}\": compaction after delete: {}", name, std::string(s.message()));
  spdlog::info("collection \"{}\" deleted", name);
  return absl::OkStatus();
}

absl::StatusOr<WriteResult> Engine::Impl::ApplyLocked(Collection& c, std::vector<Point>& upserts,
                                                      const Analysed& analysed,
                                                      const std::vector<std::string>& deletes,
                                                      uint64_t sequence,
                                                      const std::vector<AuxWrite>* aux) {
  const size_t n = c.shards.size();
  std::vector<std::vector<Shard::Added>> added(n);
  std::vector<std::vector<std::pair<Label, std::string>>> removed(n);
  std::vector<bool> touched(n, false);
  storage::Batch b(store_.get());
  WriteResult result{sequence, 0};
  const bool lexical = c.analyzer != nullptr;
  for (size_t i = 0; i < upserts.size(); ++i) {
    Point& p = upserts[i];
    const size_t s = c.ShardOf(p.id);
    Shard& shard = *c.shards[s];
    const auto key = shard.key();
    const Label label = shard.WriterAllocateLabel();
    if (auto old = shard.WriterLabelOf(p.id)) {
      b.DeleteVector(key, *old);
      if (lexical) b.DeleteTerms(key, *old);
      removed[s].emplace_back(*old, p.id);
    }
    b.PutPoint(key, p.id, storage::PointRecord{label, p.text, p.document_id, p.metadata});
    b.PutVector(key, label, p.vector);
    // The term record rides in the same batch as the point: the lexical index can never
    // disagree with the points after a crash.
    if (lexical) b.PutEncodedTerms(key, label, analysed[i].record);
    added[s].push_back(Shard::Added{label, &p, lexical ? &analysed[i].terms : nullptr});
    touched[s] = true;
    ++result.applied;
  }
  absl::flat_hash_set<std::string_view> deleted;
  for (const std::string& id : deletes) {
    if (!deleted.insert(id).second) continue;
    const size_t s = c.ShardOf(id);
    Shard& shard = *c.shards[s];
    auto old = shard.WriterLabelOf(id);
    if (!old) continue;
    b.DeletePoint(shard.key(), id);
    b.DeleteVector(shard.key(), *old);
    if (lexical) b.DeleteTerms(shard.key(), *old);
    removed[s].emplace_back(*old, id);
    touched[s] = true;
    ++result.applied;
  }
  for (size_t s = 0; s < n; ++s) {
    if (touched[s])
      b.PutMeta(NextLabelKey(c.shards[s]->key()), EncodeU64(c.shards[s]->WriterNextLabel()));
  }
  // The sequence rides in the same atomic batch: after a crash, RocksDB says exactly which
  // batches were applied, and a replayed batch is recognised.
  b.PutMeta(SequenceKey(c.id), EncodeU64(sequence));
  if (aux != nullptr) {
    for (const auto& a : *aux) b.PutAux(a.ns, a.key, a.value);
  }
  RETURN_IF_ERROR(store_->Commit(b));
  size_t written = 0;
  for (const Point& p : upserts) {
    written += p.vector.size() * sizeof(float) + p.text.size() + p.id.size();
  }
  NoteWrite(written);
  c.last_sequence = sequence;
  for (size_t s = 0; s < n; ++s) {
    if (!touched[s]) continue;
    absl::Status st = c.shards[s]->WriterApply(added[s], removed[s]);
    if (!st.ok()) {
      // RocksDB has the batch; only memory is behind. A restart rebuilds from RocksDB.
      spdlog::error("collection \"{}\" shard {}: index update failed after commit: {}", c.spec.name,
                    s, std::string(st.message()));
      return absl::Status(st.code(), "write is durable but the index update failed (" +
                                         std::string(st.message()) +
                                         "); restart ragd to rebuild the index");
    }
  }
  return result;
}

absl::StatusOr<WriteResult> Engine::Impl::Upsert(std::string_view name, std::vector<Point> points) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  RETURN_IF_ERROR(ValidateAndNormalizePoints(c->spec, options_, points));
  ASSIGN_OR_RETURN(auto analysed, AnalyzeUpserts(*c, points));
  absl::StatusOr<WriteResult> r;
  {
    std::lock_guard w(c->write_mu);
    if (c->dropped) return CollectionNotFound(name);
    r = ApplyLocked(*c, points, analysed, {}, c->last_sequence + 1);
  }
  ScheduleCompactions(c);
  return r;
}

absl::StatusOr<WriteResult> Engine::Impl::Delete(std::string_view name,
                                                 const std::vector<std::string>& ids) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  if (ids.empty()) return absl::InvalidArgumentError("ids: must not be empty");
  RETURN_IF_ERROR(ValidateIds(ids, "ids"));
  absl::StatusOr<WriteResult> r;
  {
    std::lock_guard w(c->write_mu);
    if (c->dropped) return CollectionNotFound(name);
    std::vector<Point> none;
    r = ApplyLocked(*c, none, {}, ids, c->last_sequence + 1);
  }
  ScheduleCompactions(c);
  return r;
}

absl::StatusOr<WriteResult> Engine::Impl::DeleteByFilter(std::string_view name,
                                                         const Filter& filter) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  RETURN_IF_ERROR(filter.Validate());
  absl::StatusOr<WriteResult> r;
  {
    std::lock_guard w(c->write_mu);
    if (c->dropped) return CollectionNotFound(name);
    std::vector<std::string> ids;
    for (const auto& s : c->shards) {
      ASSIGN_OR_RETURN(std::vector<std::string> part, s->WriterMatchingIds(filter));
      ids.insert(ids.end(), std::make_move_iterator(part.begin()),
                 std::make_move_iterator(part.end()));
    }
    std::vector<Point> none;
    r = ApplyLocked(*c, none, {}, ids, c->last_sequence + 1);
  }
  ScheduleCompactions(c);
  return r;
}

absl::StatusOr<Engine::MatchingIds> Engine::Impl::FindMatchingIds(std::string_view name,
                                                                  const Filter& filter) const {
  ASSIGN_OR_RETURN(auto c, Find(name));
  RETURN_IF_ERROR(filter.Validate());
  Engine::MatchingIds out;
  std::lock_guard w(c->write_mu);
  if (c->dropped) return CollectionNotFound(name);
  for (const auto& s : c->shards) {
    ASSIGN_OR_RETURN(std::vector<std::string> part, s->WriterMatchingIds(filter));
    out.ids.insert(out.ids.end(), std::make_move_iterator(part.begin()),
                   std::make_move_iterator(part.end()));
  }
  out.sequence = c->last_sequence.load();
  return out;
}

absl::Status Engine::Impl::ValidateBatch(const Collection& c, std::vector<Point>& upserts,
                                         const std::vector<std::string>& deletes) const {
  if (upserts.empty() && deletes.empty()) {
    return absl::InvalidArgumentError("batch: has neither upserts nor deletes");
  }
  if (!upserts.empty()) RETURN_IF_ERROR(ValidateAndNormalizePoints(c.spec, options_, upserts));
  RETURN_IF_ERROR(ValidateIds(deletes, "deletes"));
  absl::flat_hash_set<std::string_view> upserted;
  for (const auto& p : upserts) upserted.insert(p.id);
  for (const auto& id : deletes) {
    if (upserted.contains(id)) {
      return absl::InvalidArgumentError("deletes: \"" + id + "\" is also upserted in the batch");
    }
  }
  return absl::OkStatus();
}

absl::Status Engine::Impl::ValidateAux(const std::vector<AuxWrite>& aux) {
  for (const auto& a : aux) {
    if (a.ns.empty() || a.ns.size() > 255) {
      return absl::InvalidArgumentError("aux: namespace must be 1..255 bytes");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<WriteResult> Engine::Impl::Apply(WriteBatch batch) {
  ASSIGN_OR_RETURN(auto c, Find(batch.collection));
  RETURN_IF_ERROR(ValidateBatch(*c, batch.upserts, batch.deletes));
  RETURN_IF_ERROR(ValidateAux(batch.aux));
  if (batch.holds_shard) {
    // After validating the whole batch: every replica refuses or accepts it alike, whatever
    // part of it it holds.
    const auto shards = static_cast<uint32_t>(c->shards.size());
    std::erase_if(batch.upserts,
                  [&](const Point& p) { return !batch.holds_shard(ShardOfId(p.id, shards), shards); });
    std::erase_if(batch.deletes, [&](const std::string& id) {
      return !batch.holds_shard(ShardOfId(id, shards), shards);
    });
  }
  // A replay needs no analysis (checked again under the mutex; this only saves the work).
  if (batch.sequence <= c->last_sequence) return WriteResult{batch.sequence, 0};
  ASSIGN_OR_RETURN(auto analysed, AnalyzeUpserts(*c, batch.upserts));
  absl::StatusOr<WriteResult> r;
  {
    std::lock_guard w(c->write_mu);
    if (c->dropped) return CollectionNotFound(batch.collection);
    if (batch.sequence <= c->last_sequence) return WriteResult{batch.sequence, 0};  // replay
    r = ApplyLocked(*c, batch.upserts, analysed, batch.deletes, batch.sequence, &batch.aux);
  }
  ScheduleCompactions(c);
  return r;
}

absl::StatusOr<WriteResult> Engine::Impl::Write(std::string_view name, std::vector<Point> upserts,
                                                std::vector<std::string> deletes,
                                                const std::vector<AuxWrite>& aux) {
  ASSIGN_OR_RETURN(auto c, Find(name));
  RETURN_IF_ERROR(ValidateBatch(*c, upserts, deletes));
  RETURN_IF_ERROR(ValidateAux(aux));
  ASSIGN_OR_RETURN(auto analysed, AnalyzeUpserts(*c, upserts));
  absl::StatusOr<WriteResult> r;
  {
    std::lock_guard w(c->write_mu);
    if (c->dropped) return CollectionNotFound(name);
    r = ApplyLocked(*c, upserts, analysed, deletes, c->last_sequence + 1, &aux);
  }
  ScheduleCompactions(c);
  return r;
}

absl::StatusOr<std::optional<std::string>> Engine::Impl::GetAux(std::string_view ns,
                                                                std::string_view key) const {
  RETURN_IF_ERROR(CheckOpen());
  if (ns.empty() || ns.size() > 255) return absl::InvalidArgumentError("namespace: 1..255 bytes");
  return store_->GetAux(ns, key);
}

absl::Status Engine::Impl::PutAux(std::string_view ns,
                                  const std::vector<std::pair<std::string, std::string>>& entries) {
  RETURN_IF_ERROR(CheckOpen());
  if (ns.empty() || ns.size() > 255) return absl::InvalidArgumentError("namespace: 1..255 bytes");
  storage::Batch b(store_.get());
  for (const auto& [k, v] : entries) b.PutAux(ns, k, v);
  return store_->Commit(b);
}

absl::Status Engine::Impl::DeleteAux(std::string_view ns, const std::vector<std::string>& keys) {
  RETURN_IF_ERROR(CheckOpen());
  if (ns.empty() || ns.size() > 255) return absl::InvalidArgumentError("namespace: 1..255 bytes");
  storage::Batch b(store_.get());
  for (const auto& k : keys) b.DeleteAux(ns, k);
  return store_->Commit(b);
}

absl::Status Engine::Impl::ScanAux(
    std::string_view ns, std::string_view prefix,
    const std::function<bool(std::string_view, std::string_view)>& fn) const {
  RETURN_IF_ERROR(CheckOpen());
  if (ns.empty() || ns.size() > 255) return absl::InvalidArgumentError("namespace: 1..255 bytes");
  return store_->ScanAux(ns, prefix, fn);
}

absl::Status Engine::Impl::Close() {
  if (closed_.exchange(true)) return absl::OkStatus();
  {
    std::lock_guard lock(bg_mu_);
    stop_ = true;
  }
  bg_cv_.notify_all();
  if (bg_thread_.joinable()) bg_thread_.join();
  absl::Status st = store_ ? SaveSnapshots() : absl::OkStatus();
  {
    std::unique_lock lock(catalog_mu_);
    collections_.clear();
  }
  store_.reset();
  return st;
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

absl::StatusOr<std::unique_ptr<Engine>> Engine::Open(const Options& options) {
  auto impl = std::make_unique<Impl>(options);
  RETURN_IF_ERROR(impl->Open());
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}
absl::Status Engine::CreateCollection(const CollectionSpec& spec) {
  return impl_->CreateCollection(spec);
}
absl::StatusOr<CollectionInfo> Engine::GetCollection(std::string_view name) const {
  return impl_->GetCollection(name);
}

absl::StatusOr<CollectionSpec> Engine::GetCollectionSpec(std::string_view name) const {
  return impl_->GetCollectionSpec(name);
}
absl::StatusOr<Engine::MatchingIds> Engine::FindMatchingIds(std::string_view collection,
                                                            const Filter& filter) const {
  return impl_->FindMatchingIds(collection, filter);
}
absl::StatusOr<uint64_t> Engine::LastSequence(std::string_view name) const {
  return impl_->LastSequence(name);
}
std::vector<CollectionInfo> Engine::ListCollections() const { return impl_->ListCollections(); }
absl::Status Engine::DeleteCollection(std::string_view name) {
  return impl_->DeleteCollection(name);
}
absl::StatusOr<WriteResult> Engine::Upsert(std::string_view collection, std::vector<Point> points) {
  return impl_->Upsert(collection, std::move(points));
}
absl::StatusOr<WriteResult> Engine::Delete(std::string_view collection,
                                           const std::vector<std::string>& ids) {
  return impl_->Delete(collection, ids);
}
absl::StatusOr<WriteResult> Engine::DeleteByFilter(std::string_view collection,
                                                   const Filter& filter) {
  return impl_->DeleteByFilter(collection, filter);
}
absl::StatusOr<WriteResult> Engine::Apply(WriteBatch batch) {
  return impl_->Apply(std::move(batch));
}
absl::StatusOr<WriteResult> Engine::Write(std::string_view collection, std::vector<Point> upserts,
                                          std::vector<std::string> deletes,
                                          const std::vector<AuxWrite>& aux) {
  return impl_->Write(collection, std::move(upserts), std::move(deletes), aux);
}
absl::StatusOr<std::optional<std::string>> Engine::GetAux(std::string_view ns,
                                                          std::string_view key) const {
  return impl_->GetAux(ns, key);
}
absl::Status Engine::PutAux(std::string_view ns,
                            const std::vector<std::pair<std::string, std::string>>& entries) {
  return impl_->PutAux(ns, entries);
}
absl::Status Engine::DeleteAux(std::string_view ns, const std::vector<std::string>& keys) {
  return impl_->DeleteAux(ns, keys);
}
absl::Status Engine::ScanAux(
    std::string_view ns, std::string_view prefix,
    const std::function<bool(std::string_view, std::string_view)>& fn) const {
  return impl_->ScanAux(ns, prefix, fn);
}
absl::StatusOr<std::vector<Point>> Engine::Get(std::string_view collection,
                                               const std::vector<std::string>& ids,
                                               bool with_vectors) const {
  return impl_->Get(collection, ids, with_vectors);
}
absl::StatusOr<SearchResult> Engine::Search(const SearchRequest& request) const {
  return impl_->Search(request);
}
absl::StatusOr<uint64_t> Engine::Count(std::string_view collection,
                                       const std::optional<Filter>& filter) const {
  return impl_->Count(collection, filter);
}
absl::StatusOr<VerifyReport> Engine::Verify(std::string_view collection,
                                            const VerifyOptions& options) const {
  return impl_->Verify(collection, options);
}
absl::Status Engine::SaveSnapshots() { return impl_->SaveSnapshots(); }
absl::StatusOr<BackupManifest> Engine::CreateBackup(const std::string& dir) {
  return impl_->CreateBackup(dir);
}
void Engine::WaitForCompactions() { impl_->WaitForCompactions(); }
absl::Status Engine::Close() { return impl_->Close(); }

}  // namespace ragd::index
