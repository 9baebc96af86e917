#include "index/storage/store.h"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <string>

#include "common/hash.h"
#include "common/status.h"

namespace ragd::index::storage {
namespace {

enum Cf : int {
  kDefault = 0,
  kCatalog = 1,
  kPoints = 2,
  kVectors = 3,
  kSnapshots = 4,
  kAux = 5,
  kLexical = 6,
};
const char* const kCfNames[] = {"default",   "catalog", "points", "vectors",
                                "snapshots", "aux",     "lexical"};
constexpr uint32_t kSnapshotChunkBytes = 4u << 20;
// A snapshot header that claims more than this is corrupt, whatever its checksum says.
constexpr uint64_t kMaxSnapshotBytes = 1ull << 40;

absl::Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsIOError()) return absl::UnavailableError(msg);
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsMemoryLimit() || s.IsNoSpace()) return absl::ResourceExhaustedError(msg);
  return absl::InternalError(msg);
}

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

// Snapshot chunks are written into an SST file of their own, then ingested (Store::
// WriteSnapshot); the file is made in the database directory, so that ingestion hard-links it,
// under a name RocksDB never uses. One that a crash left behind is removed by the next Open.
constexpr char kIngestPrefix[] = "ragd-snapshot-";
std::atomic<uint64_t> ingest_counter{0};

std::string AuxKey(std::string_view ns, std::string_view key) {
  std::string out;
  out.reserve(1 + ns.size() + key.size());
  out.push_back(static_cast<char>(ns.size()));
  out.append(ns);
  out.append(key);
  return out;
}

}  // namespace

Batch::Batch(Store* store) : store_(store), batch_(std::make_unique<rocksdb::WriteBatch>()) {}
Batch::~Batch() = default;

// WriteBatch operations only fail on invalid column families, which Store never hands out.
void Batch::PutMeta(std::string_view key, std::string_view value) {
  batch_->Put(store_->cf(kDefault), ToSlice(key), ToSlice(value));
}
void Batch::DeleteMeta(std::string_view key) { batch_->Delete(store_->cf(kDefault), ToSlice(key)); }
void Batch::PutCatalog(std::string_view name, std::string_view record) {
  batch_->Put(store_->cf(kCatalog), ToSlice(name), ToSlice(record));
}
void Batch::DeleteCatalog(std::string_view name) {
  batch_->Delete(store_->cf(kCatalog), ToSlice(name));
}
void Batch::PutPoint(ShardKey k, std::string_view id, const PointRecord& record) {
  batch_->Put(store_->cf(kPoints), PointKey(k, id), EncodePointRecord(record));
}
void Batch::DeletePoint(ShardKey k, std::string_view id) {
  batch_->Delete(store_->cf(kPoints), PointKey(k, id));
}
void Batch::PutVector(ShardKey k, Label label, std::span<const float> vector) {
  batch_->Put(store_->cf(kVectors), VectorKey(k, label), EncodeVector(vector));
}
void Batch::DeleteVector(ShardKey k, Label label) {
  batch_->Delete(store_->cf(kVectors), VectorKey(k, label));
}
void Batch::PutTerms(ShardKey k, Label label, const TermRecord& record) {
  batch_->Put(store_->cf(kLexical), VectorKey(k, label), EncodeTermRecord(record));
}
void Batch::PutEncodedTerms(ShardKey k, Label label, std::string_view encoded) {
  batch_->Put(store_->cf(kLexical), VectorKey(k, label),
              rocksdb::Slice(encoded.data(), encoded.size()));
}
void Batch::DeleteTerms(ShardKey k, Label label) {
  batch_->Delete(store_->cf(kLexical), VectorKey(k, label));
}
void Batch::DropCollection(uint32_t collection) {
  const std::string begin = CollectionBegin(collection);
  const std::string end = CollectionEnd(collection);
  for (int cf : {kPoints, kVectors, kSnapshots, kLexical}) {
    batch_->DeleteRange(store_->cf(cf), begin, end);
  }
}
void Batch::PutAux(std::string_view ns, std::string_view key, std::string_view value) {
  batch_->Put(store_->cf(kAux), AuxKey(ns, key), ToSlice(value));
}
void Batch::DeleteAux(std::string_view ns, std::string_view key) {
  batch_->Delete(store_->cf(kAux), AuxKey(ns, key));
}
size_t Batch::count() const { return static_cast<size_t>(batch_->Count()); }

ReadView::~ReadView() { db_->ReleaseSnapshot(snapshot_); }

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const Options& options) {
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  if (options.env != nullptr) db_options.env = options.env;
  db_options.IncreaseParallelism(2);
  // Acknowledged writes must survive kill -9: the WAL is the source of truth between flushes.
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  db_options.max_total_wal_size = 256u << 20;
  // Memtables are resident memory on top of the index: cap them all together, so that the
  // footprint per vector stays near the index's own (bench/README.md measures it).
  db_options.db_write_buffer_size = 32u << 20;

  auto cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  auto make_cf = [&](bool compress, bool bloom) {
    rocksdb::ColumnFamilyOptions cf;
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = cache;
    if (bloom) table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    // Float vectors and index snapshots do not compress; text and metadata do.
    cf.compression = compress ? rocksdb::kLZ4Compression : rocksdb::kNoCompression;
    cf.write_buffer_size = 16u << 20;
    return cf;
  };
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {kCfNames[kDefault], make_cf(false, false)},
      {kCfNames[kCatalog], make_cf(false, false)},
      {kCfNames[kPoints], make_cf(true, true)},
      {kCfNames[kVectors], make_cf(false, true)},
      {kCfNames[kSnapshots], make_cf(false, false)},
      {kCfNames[kAux], make_cf(true, true)},
      // Created on first open by a ragd that has it (create_missing_column_families).
      {kCfNames[kLexical], make_cf(true, false)},
  };
  // Snapshot chunks are large (4 MiB); a bigger memtable keeps them from being flushed
  // piecemeal.
  cfs[kSnapshots].options.write_buffer_size = 32u << 20;
  cfs[kVectors].options.write_buffer_size = 8u << 20;

  std::unique_ptr<Store> store(new Store());
  store->options_ = options;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, options.path, cfs, &store->handles_, &db);
  if (!s.ok()) {
    // LZ4 may be missing from a RocksDB build; fall back rather than refuse to start.
    if (s.IsInvalidArgument() && s.ToString().find("ompression") != std::string::npos) {
      for (auto& cf : cfs) cf.options.compression = rocksdb::kNoCompression;
      s = rocksdb::DB::Open(db_options, options.path, cfs, &store->handles_, &db);
    }
  }
  RETURN_IF_ERROR(FromRocks(s, "open RocksDB at " + options.path));
  store->db_.reset(db);
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(options.path, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (it->path().filename().string().rfind(kIngestPrefix, 0) == 0) {
      std::error_code remove_ec;
      std::filesystem::remove(it->path(), remove_ec);
    }
  }
  return store;
}

Store::~Store() {
  if (db_) {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_->Close();
  }
}

absl::Status Store::Commit(Batch& batch) {
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync_writes;
  return FromRocks(db_->Write(wo, batch.batch_.get()), "write batch");
}

absl::StatusOr<std::optional<std::string>> Store::GetMeta(std::string_view key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kDefault), ToSlice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  RETURN_IF_ERROR(FromRocks(s, "read metadata"));
  return std::optional<std::string>(std::move(value));
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Store::ListCatalog() const {
  std::vector<std::pair<std::string, std::string>> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kCatalog)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out.emplace_back(it->key().ToString(), it->value().ToString());
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "scan catalog"));
  return out;
}

absl::StatusOr<std::optional<PointRecord>> Store::GetPoint(ShardKey k, std::string_view id) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kPoints), PointKey(k, id), &value);
  if (s.IsNotFound()) return std::optional<PointRecord>();
  RETURN_IF_ERROR(FromRocks(s, "read point"));
  ASSIGN_OR_RETURN(PointRecord r, DecodePointRecord(value));
  return std::optional<PointRecord>(std::move(r));
}

absl::StatusOr<std::vector<std::optional<PointRecord>>> Store::MultiGetPoints(
    ShardKey k, std::span<const std::string_view> ids) const {
  std::vector<std::string> keys;
  keys.reserve(ids.size());
  for (auto id : ids) keys.push_back(PointKey(k, id));
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), cf(kPoints), slices.size(), slices.data(), values.data(),
                statuses.data());
  std::vector<std::optional<PointRecord>> out(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    RETURN_IF_ERROR(FromRocks(statuses[i], "read point"));
    ASSIGN_OR_RETURN(out[i], DecodePointRecord(values[i].ToStringView()));
  }
  return out;
}

absl::StatusOr<std::optional<std::vector<float>>> Store::GetVector(ShardKey k, Label label,
                                                                   size_t dim) const {
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kVectors), VectorKey(k, label), &value);
  if (s.IsNotFound()) return std::optional<std::vector<float>>();
  RETURN_IF_ERROR(FromRocks(s, "read vector"));
  std::vector<float> v;
  RETURN_IF_ERROR(DecodeVector(value.ToStringView(), dim, &v));
  return std::optional<std::vector<float>>(std::move(v));
}

absl::Status Store::MultiGetVectors(ShardKey k, std::span<const Label> labels, size_t dim,
                                    std::vector<float>* vectors, std::vector<bool>* found) const {
  std::vector<std::string> keys;
  keys.reserve(labels.size());
  for (Label label : labels) keys.push_back(VectorKey(k, label));
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(rocksdb::ReadOptions(), cf(kVectors), slices.size(), slices.data(), values.data(),
                statuses.data());
  vectors->assign(labels.size() * dim, 0.0f);
  found->assign(labels.size(), false);
  std::vector<float> v;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    RETURN_IF_ERROR(FromRocks(statuses[i], "read vector"));
    RETURN_IF_ERROR(DecodeVector(values[i].ToStringView(), dim, &v));
    std::copy(v.begin(), v.end(), vectors->begin() + i * dim);
    (*found)[i] = true;
  }
  return absl::OkStatus();
}

absl::Status Store::ScanPoints(
    ShardKey k, const std::function<absl::Status(std::string_view, PointRecord&&)>& fn,
    const ReadView* view) const {
  const std::string prefix = ShardPrefix(k);
  const std::string end = ShardEnd(k);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  ro.fill_cache = false;  // a full scan would evict the hot set
  if (view != nullptr) ro.snapshot = view->snapshot_;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(kPoints)));
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    std::string_view key = it->key().ToStringView();
    ASSIGN_OR_RETURN(PointRecord r, DecodePointRecord(it->value().ToStringView()));
    RETURN_IF_ERROR(fn(key.substr(prefix.size()), std::move(r)));
  }
  return FromRocks(it->status(), "scan points");
}

absl::Status Store::ScanVectors(
    ShardKey k, size_t dim,
    const std::function<absl::Status(Label, std::span<const float>)>& fn,
    const ReadView* view) const {
  const std::string prefix = ShardPrefix(k);
  const std::string end = ShardEnd(k);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  ro.fill_cache = false;
  if (view != nullptr) ro.snapshot = view->snapshot_;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(kVectors)));
  std::vector<float> v;
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    std::string_view key = it->key().ToStringView();
    Reader r(key.substr(prefix.size()));
    Label label;
    if (!r.ReadFixed64BE(&label) || !r.done()) return absl::DataLossError("corrupt vector key");
    RETURN_IF_ERROR(DecodeVector(it->value().ToStringView(), dim, &v));
    RETURN_IF_ERROR(fn(label, v));
  }
  return FromRocks(it->status(), "scan vectors");
}

absl::Status Store::ScanTerms(ShardKey k,
                              const std::function<absl::Status(Label, TermRecord&&)>& fn,
                              const ReadView* view) const {
  const std::string prefix = ShardPrefix(k);
  const std::string end = ShardEnd(k);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  ro.fill_cache = false;
  if (view != nullptr) ro.snapshot = view->snapshot_;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(kLexical)));
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    std::string_view key = it->key().ToStringView();
    Reader r(key.substr(prefix.size()));
    Label label;
    if (!r.ReadFixed64BE(&label) || !r.done()) return absl::DataLossError("corrupt term key");
    ASSIGN_OR_RETURN(TermRecord rec, DecodeTermRecord(it->value().ToStringView()));
    RETURN_IF_ERROR(fn(label, std::move(rec)));
  }
  return FromRocks(it->status(), "scan terms");
}

std::unique_ptr<ReadView> Store::NewReadView() const {
  return std::unique_ptr<ReadView>(new ReadView(db_.get(), db_->GetSnapshot()));
}

absl::StatusOr<std::optional<std::string>> Store::GetAux(std::string_view ns,
                                                         std::string_view key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kAux), AuxKey(ns, key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  RETURN_IF_ERROR(FromRocks(s, "read aux record"));
  return std::optional<std::string>(std::move(value));
}

absl::Status Store::ScanAux(
    std::string_view ns, std::string_view prefix,
    const std::function<bool(std::string_view, std::string_view)>& fn) const {
  const std::string start = AuxKey(ns, prefix);
  const size_t skip = 1 + ns.size();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kAux)));
  for (it->Seek(start); it->Valid(); it->Next()) {
    std::string_view key = it->key().ToStringView();
    if (key.substr(0, start.size()) != start) break;
    if (!fn(key.substr(skip), it->value().ToStringView())) break;
  }
  return FromRocks(it->status(), "scan aux records");
}

absl::Status Store::WriteSnapshot(ShardKey k, SnapshotHeader header, std::string_view payload) {
  std::string old;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kSnapshots), SnapshotHeaderKey(k), &old);
  uint64_t generation = 1;
  if (s.ok()) {
    auto h = DecodeSnapshotHeader(old);
    if (h.ok()) generation = h->generation + 1;
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "read snapshot header");
  }
  header.generation = generation;
  header.payload_bytes = payload.size();
  header.chunk_bytes = kSnapshotChunkBytes;
  header.payload_checksum = Hash64(payload);

  // The chunks go into one SST file that is fsynced and then ingested: RocksDB links it into
  // the bottom of the tree as it is. Put through the memtable instead, 630 MB of chunks (100k
  // x 1536 float32) were flushed 32 MiB at a time into level 0, whose file count then throttled
  // the writes (level0_slowdown_writes_trigger) and whose compactions rewrote every byte again:
  // that was most of an 18 s shutdown. The header, written synced afterwards, makes the new
  // generation current; until then the file is unreferenced data.
  const std::string file = options_.path + "/" + kIngestPrefix + std::to_string(k.collection) +
                           "-" + std::to_string(k.shard) + "-" + std::to_string(generation) +
                           "-" + std::to_string(ingest_counter.fetch_add(1)) + ".sst";
  struct RemoveOnExit {
    const std::string& path;
    ~RemoveOnExit() {
      std::error_code ec;
      std::filesystem::remove(path, ec);
    }
  } remove_on_exit{file};
  {
    rocksdb::Options cf_options = db_->GetOptions(cf(kSnapshots));
    rocksdb::SstFileWriter writer(rocksdb::EnvOptions(cf_options), cf_options, cf(kSnapshots));
    RETURN_IF_ERROR(FromRocks(writer.Open(file), "open snapshot file"));
    uint32_t chunk = 0;
    for (size_t off = 0; off < payload.size() || chunk == 0; off += kSnapshotChunkBytes, ++chunk) {
      std::string_view piece = payload.substr(off, std::min<size_t>(kSnapshotChunkBytes,
                                                                     payload.size() - off));
      RETURN_IF_ERROR(FromRocks(writer.Put(SnapshotChunkKey(k, generation, chunk), ToSlice(piece)),
                                "write snapshot chunk"));
      if (payload.empty()) break;
    }
    RETURN_IF_ERROR(FromRocks(writer.Finish(), "finish snapshot file"));  // fsyncs the file
  }
  rocksdb::IngestExternalFileOptions ingest;
  ingest.move_files = true;  // a hard link: no copy of the payload
  RETURN_IF_ERROR(FromRocks(db_->IngestExternalFile(cf(kSnapshots), {file}, ingest),
                            "ingest snapshot file"));
  rocksdb::WriteOptions synced;
  synced.sync = true;
  RETURN_IF_ERROR(FromRocks(db_->Put(synced, cf(kSnapshots), SnapshotHeaderKey(k),
                                     EncodeSnapshotHeader(header)),
                            "write snapshot header"));
  // Older generations are garbage now.
  RETURN_IF_ERROR(FromRocks(db_->DeleteRange(rocksdb::WriteOptions(), cf(kSnapshots),
                                             SnapshotChunkKey(k, 0, 0),
                                             SnapshotChunkKey(k, generation, 0)),
                            "drop old snapshot"));
  // The old generation's files now hold nothing live: drop them at once rather than leave the
  // space to a later compaction (the range tombstone above keeps the drop correct for files
  // that hold other keys too, which this call leaves alone).
  const std::string old_begin = SnapshotChunkKey(k, 0, 0);
  const std::string old_end = SnapshotChunkKey(k, generation, 0);
  rocksdb::Slice begin_slice(old_begin), end_slice(old_end);
  RETURN_IF_ERROR(FromRocks(rocksdb::DeleteFilesInRange(db_.get(), cf(kSnapshots), &begin_slice,
                                                        &end_slice, /*include_end=*/false),
                            "drop old snapshot files"));
  return absl::OkStatus();
}

absl::StatusOr<std::string> Store::ReadSnapshot(ShardKey k, SnapshotHeader* header) const {
  std::string raw;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kSnapshots), SnapshotHeaderKey(k), &raw);
  if (s.IsNotFound()) return absl::NotFoundError("no snapshot");
  RETURN_IF_ERROR(FromRocks(s, "read snapshot header"));
  ASSIGN_OR_RETURN(SnapshotHeader h, DecodeSnapshotHeader(raw));
  if (h.payload_bytes > kMaxSnapshotBytes || h.chunk_bytes != kSnapshotChunkBytes) {
    return absl::DataLossError("snapshot header: implausible sizes");
  }
  const uint64_t chunks =
      h.payload_bytes == 0 ? 1 : (h.payload_bytes + h.chunk_bytes - 1) / h.chunk_bytes;
  std::string payload;
  payload.reserve(h.payload_bytes);
  const std::string first = SnapshotChunkKey(k, h.generation, 0);
  const std::string end = SnapshotChunkKey(k, h.generation + 1, 0);
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(kSnapshots)));
  uint64_t expected = 0;
  for (it->Seek(first); it->Valid(); it->Next(), ++expected) {
    if (it->key().ToStringView() != SnapshotChunkKey(k, h.generation, expected)) {
      return absl::DataLossError("snapshot: chunk " + std::to_string(expected) + " missing");
    }
    if (payload.size() + it->value().size() > h.payload_bytes) {
      return absl::DataLossError("snapshot: more bytes than the header says");
    }
    payload.append(it->value().data(), it->value().size());
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "read snapshot"));
  if (expected != chunks || payload.size() != h.payload_bytes) {
    return absl::DataLossError("snapshot: truncated (" + std::to_string(payload.size()) + " of " +
                               std::to_string(h.payload_bytes) + " bytes)");
  }
  if (Hash64(payload) != h.payload_checksum) return absl::DataLossError("snapshot: checksum");
  *header = h;
  return payload;
}

uint64_t Store::ApproximateBytes(uint32_t collection) const {
  const std::string begin = CollectionBegin(collection);
  const std::string end = CollectionEnd(collection);
  rocksdb::Range range(begin, end);
  rocksdb::SizeApproximationOptions opts;
  opts.include_memtables = true;
  opts.include_files = true;
  uint64_t total = 0;
  for (int c : {kPoints, kVectors, kSnapshots, kLexical}) {
    uint64_t size = 0;
    if (db_->GetApproximateSizes(opts, cf(c), &range, 1, &size).ok()) total += size;
  }
  return total;
}

absl::Status Store::CompactCollection(uint32_t collection) {
  const std::string begin = CollectionBegin(collection);
  const std::string end = CollectionEnd(collection);
  rocksdb::Slice b(begin), e(end);
  rocksdb::CompactRangeOptions opts;
  // Also rewrite the last level: a range tombstone over data it does not cover (an empty
  // family) would otherwise stay behind in a file of its own.
  opts.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (int c : {kPoints, kVectors, kSnapshots, kLexical}) {
    RETURN_IF_ERROR(FromRocks(db_->CompactRange(opts, cf(c), &b, &e), "compact"));
  }
  return absl::OkStatus();
}

absl::Status Store::Flush() {
  rocksdb::FlushOptions opts;
  opts.wait = true;
  return FromRocks(db_->Flush(opts, handles_), "flush");
}

absl::StatusOr<uint64_t> Store::CreateCheckpoint(const std::string& dir) {
  rocksdb::Checkpoint* raw = nullptr;
  RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(db_.get(), &raw), "checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  uint64_t sequence = 0;
  // log_size_for_flush 0: always flush, so the copy is SST files only and opens without
  // replaying a WAL tail.
  RETURN_IF_ERROR(FromRocks(checkpoint->CreateCheckpoint(dir, /*log_size_for_flush=*/0, &sequence),
                            "checkpoint to " + dir));
  return sequence;
}

}  // namespace ragd::index::storage
