#pragma once
// Engine: collections of sharded vector indexes persisted in RocksDB. This is the whole data
// plane behind the gRPC services; it knows nothing of protobuf.
//
// Write path (shaped for a replicated log): every mutation of a collection is a WriteBatch with
// a sequence number that increases by one per batch and collection. Apply() writes the batch's
// records *and* the collection's last applied sequence in one RocksDB WriteBatch (WAL synced),
// then updates the in-memory shard indexes. A batch whose sequence is not greater than the last
// applied one is a replay and changes nothing. Upsert()/Delete() are the local producers: they
// validate, assign the next sequence and Apply().
//
// Collections with a lexical index (CollectionSpec::lexical) also keep each point's analysed
// text: its term record is written in the same RocksDB WriteBatch as the point and the shard's
// in-memory BM25 index is updated with the vector index; analysis happens before the
// collection's write mutex is taken. Search then runs in SearchMode kVector, kText or kHybrid.
//
// Durability: when Upsert/Delete return OK, the change is in the RocksDB WAL (fsync) and
// visible to searches. Index snapshots are a start-up cache only: on Open() each shard loads
// its snapshot when it is intact and then reconciles it with RocksDB (adds missing vectors,
// removes stale ones); a corrupt or missing snapshot is rebuilt from RocksDB.
//
// Thread safety: all methods may be called concurrently. Searches run in parallel with each
// other; a write takes each touched shard's writer lock only for the in-memory index update.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "index/engine/backup.h"
#include "index/engine/engine_events.h"
#include "index/filter.h"
#include "index/lexical/analyzer.h"
#include "index/lexical/feedback.h"
#include "index/types.h"

namespace rocksdb {
class Env;
}  // namespace rocksdb

namespace ragd::index {

// The lexical (BM25) index of a collection (issue 15; index/lexical/README.md): each point's
// `text` is analysed on write and its terms kept per shard, so that Search can run in
// SearchMode::kText and kHybrid.
struct LexicalSpec {
  // Default: false (the engine's; ragd.v1.CreateCollection turns it on for collections with
  // an embedder). Fixed at creation.
  bool enabled = false;
  // The analyzer used at index and at query time (analyzer.h). Default: kAuto.
  lexical::AnalyzerKind analyzer = lexical::AnalyzerKind::kAuto;
  // BM25 term-frequency saturation (k1), in [0, 10]. Default: 1.2.
  double k1 = 1.2;
  // BM25 length normalisation (b), in [0, 1]. Default: 0.75.
  double b = 0.75;

  absl::Status Validate() const;
};

struct CollectionSpec {
  // [A-Za-z0-9_-]{1,64}
  std::string name;
  // Vector dimension, 1..65536.
  uint32_t dimension = 0;
  Metric metric = Metric::kCosine;
  IndexSpec index;
  // Number of shards, 1..256. Points are routed by Hash64(id) % shards; each shard has its own
  // index and its own key range in storage. Default: 1.
  uint32_t shards = 1;
  // Opaque settings owned by the layers above the engine (e.g. the embedder binding and the
  // chunking settings as JSON), persisted in the catalog with the spec. At most 64 KiB.
  std::string attributes;
  // Persisted with the spec; collections created before it existed load with it off.
  LexicalSpec lexical;

  absl::Status Validate() const;
};

struct CollectionInfo {
  CollectionSpec spec;
  uint64_t points = 0;           // live points
  uint64_t deleted_points = 0;   // removed from the index but not compacted yet
  uint64_t index_bytes = 0;      // resident bytes of the vector and BM25 indexes (estimated)
  uint64_t storage_bytes = 0;    // approximate bytes on disk (RocksDB, this collection's ranges)
  uint64_t last_sequence = 0;    // last applied write batch
  int64_t created_at_unix_ms = 0;
  // Quantized indexes, since this process opened the collection: float32 vectors that
  // re-scoring read from the file cache (Options::rescore_file) and from RocksDB.
  uint64_t rescore_file_reads = 0;
  uint64_t rescore_storage_reads = 0;
  // Since this process opened the collection: vector searches of its shards (a search of a
  // collection with S shards counts S; hybrid searches count their vector leg), and the CPU time
  // the threads running them spent in them (the walk, filters, re-scoring; not the request's
  // handling around it).
  uint64_t vector_searches = 0;
  uint64_t vector_search_cpu_ns = 0;
};

// A record of an upper layer (see Engine::PutAux) written in the same atomic batch as points.
struct AuxWrite {
  std::string ns;
  std::string key;
  std::string value;
};

// The shard of a collection with `shards` shards that point `id` is routed to:
// Hash64(id) % shards. Persisted placement (cluster mode's shard groups compute it too).
uint32_t ShardOfId(std::string_view id, uint32_t shards);

// One write of the log: upserts and deletes of one collection, applied atomically.
struct WriteBatch {
  std::string collection;
  uint64_t sequence = 0;         // must be > the collection's last applied sequence to apply
  std::vector<Point> upserts;    // validated, vectors already normalised for kCosine
  std::vector<std::string> deletes;
  // Records of upper layers written in the same atomic batch (see Write()); each namespace
  // 1..255 bytes.
  std::vector<AuxWrite> aux;
  // Which of the collection's shards this engine holds (cluster mode's shard groups: a replica
  // holds only some shards of each collection): called with (shard, shard count); Apply()
  // validates the whole batch, then keeps only the upserts and deletes routed to held shards,
  // so that every replica accepts or refuses a batch alike. A batch left with nothing to
  // write still records its sequence. Must be a pure function of its arguments (replays are
  // then deterministic). Default: null, every shard.
  std::function<bool(uint32_t shard, uint32_t shards)> holds_shard;
};

struct WriteResult {
  uint64_t sequence = 0;  // the batch's sequence
  uint64_t applied = 0;   // points upserted or deleted (deletes count only ids that existed)
};

// Which legs a search runs. kText and kHybrid need a collection with a lexical index.
enum class SearchMode {
  kVector = 0,  // nearest neighbours of SearchRequest::query
  kText = 1,    // BM25 over the analysed SearchRequest::text
  kHybrid = 2,  // both legs, fused (Fusion)
};

// How hybrid search combines its two ranked lists.
enum class Fusion {
  // Reciprocal rank fusion (Cormack, Clarke & Buettcher, SIGIR 2009): score(d) = sum over the
  // legs that found d of 1 / (rrf_k + rank), rank 1-based.
  kRrf = 0,
  // Each leg's scores min-max normalised over its candidates to [0, 1] (all equal: 1), then
  // score = alpha * vector + (1 - alpha) * text; a leg that did not find d adds 0.
  kWeighted = 1,
};

struct HybridOptions {
  // Unset: kRrf. (Unset rather than kRrf so that a layer above, which knows the collection's
  // embedder, can tell "not chosen" from "chosen": rag::Retriever fills in its own default.)
  std::optional<Fusion> fusion;
  // RRF's constant (k in the paper), in [1, 10000]. Default: 60 (the paper's).
  double rrf_k = 60;
  // kWeighted: the vector leg's weight, in [0, 1]. Unset: 0.5.
  std::optional<double> alpha;
  // Candidates each leg contributes before fusion (per leg, across shards), k..max_k.
  // 0: max(k, min(max_k, 50)). Default: 0.
  size_t vector_candidates = 0;
  size_t text_candidates = 0;
};

struct SearchRequest {
  std::string collection;
  // kVector and kHybrid: the query vector (the collection's dimension); ignored by kText.
  std::vector<float> query;
  // kText and kHybrid: the query text (UTF-8, at most Options::max_text_bytes), analysed with
  // the collection's analyzer; ignored by kVector. A text without any term finds nothing.
  std::string text;
  SearchMode mode = SearchMode::kVector;  // Default: kVector.
  HybridOptions hybrid;                   // kHybrid only
  // kText and kHybrid: pseudo-relevance feedback (RM3) for the text leg: its first `docs` hits
  // expand the query, which is then searched again (index/lexical/feedback.h). The hits'
  // texts are read from RocksDB and analysed again, so it costs a second BM25 search plus
  // that. Invalid options: INVALID_ARGUMENT. Default: off.
  lexical::FeedbackOptions feedback;
  size_t k = 10;                    // 1..Engine::Options::max_k
  int ef = 0;                       // 0: the collection's default ef
  std::optional<Filter> filter;     // applies to every leg
  std::optional<float> min_score;   // drop hits whose (final) score is below this
  bool with_vectors = false;
  bool with_payload = true;         // text, document_id, metadata
  // Quantized HNSW collections (IndexSpec::quantization): re-score the candidates with the
  // float32 vectors read from RocksDB, so that scores are exact. Default: true.
  bool rescore = true;
  // Candidates re-scored per result: k x oversampling per shard. 0 = the index default
  // (index::DefaultOversampling: 1.5 for INT8, 1 for F16), else 1..100.
  float oversampling = 0;
};

// A hit's place in one leg of a search.
struct LegHit {
  uint32_t rank = 0;  // 1-based, across shards
  float score = 0;    // the vector similarity (types.h) or the BM25 score
};

struct ScoredPoint {
  Point point;   // vector filled only when requested
  // kVector: the similarity (types.h); kText: the BM25 score; kHybrid: the fused score.
  float score = 0;
  // The legs that found the point (kVector fills vector_leg, kText text_leg, kHybrid either
  // or both).
  std::optional<LegHit> vector_leg;
  std::optional<LegHit> text_leg;
};

// How a (filtered) search was executed; returned for tests and metrics.
enum class SearchPlan { kIndex = 0, kIndexFiltered = 1, kBruteForce = 2 };

struct SearchResult {
  std::vector<ScoredPoint> hits;  // best first, at most k
  SearchPlan plan = SearchPlan::kIndex;
};

// Knobs of Engine::Verify.
struct VerifyOptions {
  // Live points searched for with their own vector, per collection; when the collection holds
  // more, an even sample of this many (VerifyReport::searched says how many). 0 skips the
  // reachability check. Default: 100,000.
  size_t max_searches = 100000;
  // Candidate list size (HNSW ef) of those searches: generous, so that a miss means the point
  // cannot be reached rather than an approximate answer. 1..Engine's max ef. Default: 1,000.
  int ef = 1000;
};

// What Engine::Verify found in one collection (all shards). Counts are exact; the id and label
// lists hold the first kMaxExamples of each kind.
struct VerifyReport {
  static constexpr size_t kMaxExamples = 100;
  uint64_t storage_points = 0;  // point records in RocksDB
  uint64_t index_points = 0;    // live labels in the in-memory indexes
  // Stored points whose current vector the index does not hold (never returned by a search).
  uint64_t missing_from_index = 0;
  std::vector<std::string> missing_from_index_ids;
  // Live index labels that no stored point refers to (a deleted or replaced point's old
  // vector that a search could still return).
  uint64_t missing_from_storage = 0;
  std::vector<uint64_t> missing_from_storage_labels;
  // Stored points without their vector record.
  uint64_t missing_vectors = 0;
  std::vector<std::string> missing_vector_ids;
  // Points searched for with their own vector (top 10 at VerifyOptions::ef), and those of them
  // the search did not return although fewer than 10 returned points score as high: points
  // the index holds but cannot reach.
  uint64_t searched = 0;
  uint64_t unreachable = 0;
  std::vector<std::string> unreachable_ids;
  // Collections with a lexical index: stored points whose label has no term record in
  // storage or is not in the in-memory BM25 index (text searches cannot find them) ...
  uint64_t missing_from_lexical = 0;
  std::vector<std::string> missing_from_lexical_ids;
  // ... and term records or BM25 labels that no stored point holds (a deleted or replaced
  // text that a text search could still return).
  uint64_t lexical_orphans = 0;
  std::vector<uint64_t> lexical_orphan_labels;

  bool ok() const {
    return missing_from_index == 0 && missing_from_storage == 0 && missing_vectors == 0 &&
           unreachable == 0 && missing_from_lexical == 0 && lexical_orphans == 0;
  }
};

class Engine {
 public:
  struct Options {
    std::string data_dir = "./ragd-data";
    // Largest accepted text per point, bytes. Default: 1 MiB.
    size_t max_text_bytes = 1 << 20;
    // Largest accepted number of points per Upsert. Default: 10,000.
    size_t max_batch_points = 10000;
    // Largest accepted k. Default: 1,000.
    size_t max_k = 1000;
    // A shard's index is rebuilt in the background when removed slots exceed this fraction of
    // its live points (and compaction_min_removed). Default: 0.2.
    double compaction_ratio = 0.2;
    size_t compaction_min_removed = 1000;
    // Filtered searches whose matching set is at most this many points (per shard) are
    // answered by exact brute force over the set. Default: 2,000.
    size_t brute_force_max_matches = 2000;
    // Larger matching sets are scored exactly too when that computes fewer distances than an
    // index walk restricted to them (about ef / selectivity × 2·M; Shard's planner). false:
    // brute_force_max_matches alone decides (tests use it to exercise restricted walks on
    // small collections). Default: true.
    bool filter_plan_by_cost = true;
    // Answer filters from the metadata index (index/metadata: posting sets per metadata value,
    // about as much memory again as the metadata itself). false: scan every live point's
    // metadata on each filtered call instead (as before the index existed; benchmarks compare
    // the two). Default: true.
    bool metadata_index = true;
    // Text legs find their top k with MaxScore pruning (lexical::Bm25Index::Search: the same
    // hits and scores, bit for bit, with most postings of common terms never touched). false:
    // score every posting of every query term (the reference; benchmarks compare the two).
    // Default: true.
    bool lexical_pruning = true;
    // With pruning: block-max MaxScore as well (Bm25SearchOptions::block_max; the same hits
    // and scores). Off by default: measured slower at 100k chunks (bench/README.md, "Block-max
    // bounds"). Default: false.
    bool lexical_block_max = false;
    // Threads that run a hybrid search's text leg while the calling thread runs its vector
    // leg (idle_helpers.h), so that the legs overlap (bench/README.md measures how much). A
    // call finding none idle runs both legs itself, as 0 always does. Whether a search offers
    // its leg at all is decided by what each way has recently cost (leg_governor.h): on a busy
    // machine the hand-off made hybrid slower (the caller waits for a helper the scheduler has
    // preempted; bench/README.md, ragd_hybrid_bench), and then the legs run one after the
    // other again. 0..64. Default: 1.
    int search_leg_threads = 1;
    // Threads one Upsert may insert a shard's new vectors into its HNSW graph with
    // (VectorIndex::SetAddThreads: batch insertion, the writer's thread included, started per
    // batch of at least 32 new points; rebuilds from storage use them too). The graph does
    // not depend on it (replicas of one cluster log build the same graphs with any setting).
    // The shard's exclusive lock is held meanwhile, as for a serial insert. Collections
    // with a lexical index also analyse a batch's texts on this many threads (before the
    // write mutex) and, when it is above 1, update the BM25 postings on a helper thread while
    // the graph takes the batch. 0: the hardware threads, at most 4 (beyond that, a bulk load
    // competes with searches for little gain); 1: serial. 0..64. Default: 0.
    int insert_threads = 0;
    size_t EffectiveInsertThreads() const;
    // Quantized HNSW collections: keep the float32 vectors that re-scoring reads in a
    // read-through file cache beside RocksDB (storage/vector_file.h: one pread per vector from
    // the page cache instead of a RocksDB MultiGet; unnamed, so it lasts as long as the
    // process). Off: every re-scoring read goes to RocksDB. Default: true.
    bool rescore_file = true;
    // fsync the WAL on every write. Turning this off loses acknowledged writes on power loss
    // (not on a process crash). Default: true.
    bool sync_writes = true;
    // Dirty shards save an index snapshot this often, in the background, so that a restart
    // after a crash only reconciles what changed since. 0 disables (snapshots still happen on
    // Close). Default: 300.
    int snapshot_interval_seconds = 300;
    // RocksDB block cache. Default: 256 MiB.
    size_t block_cache_bytes = 256u << 20;
    // Once no write has come for this long after some writes, the memtables are flushed and
    // free heap is handed back to the OS: after a bulk load the memtables (up to 64 MiB of
    // vectors the index also holds) and the request buffers would otherwise stay resident, and
    // a crash would replay the WAL behind them. 0 disables. Default: 5.
    int idle_flush_seconds = 5;
    // While writes keep coming (a bulk load), the background thread also hands free heap back
    // to the OS (malloc_trim) each time this many bytes of points (vectors, text) have been
    // committed since the last trim, at most once a second: glibc keeps the freed request
    // buffers and write batches of a bulk load in its arenas, which made the resident memory
    // right after a 20k x 1536 load 1.8x the index's (bench/README.md). 0 disables.
    // Default: 64 MiB.
    size_t trim_after_written_bytes = 64u << 20;
    // Told when a snapshot, a compaction or a backup ends, with its duration and outcome
    // (engine_events.h), e.g. for metrics. Default: none.
    EngineEventCallback on_event;
    // The RocksDB environment the database is opened with (storage::Store::Options::env); not
    // owned, must outlive the Engine. Only tests set it, to inject faults such as a power cut.
    // Default: nullptr, RocksDB's default environment.
    rocksdb::Env* rocksdb_env = nullptr;
  };

  // Opens (or creates) the database in options.data_dir and recovers every collection.
  static absl::StatusOr<std::unique_ptr<Engine>> Open(const Options& options);
  ~Engine();  // Close()s

  // INVALID_ARGUMENT (bad spec), ALREADY_EXISTS.
  absl::Status CreateCollection(const CollectionSpec& spec);
  // NOT_FOUND.
  absl::StatusOr<CollectionInfo> GetCollection(std::string_view name) const;
  // The spec alone, for the query path: GetCollection also sums the shards and asks RocksDB
  // for the collection's approximate size, which a search does not need. NOT_FOUND.
  absl::StatusOr<CollectionSpec> GetCollectionSpec(std::string_view name) const;
  // The sequence of the last applied write batch, cheaply (the applied_sequence of a read).
  // NOT_FOUND.
  absl::StatusOr<uint64_t> LastSequence(std::string_view name) const;
  std::vector<CollectionInfo> ListCollections() const;
  // Removes the collection and its data from disk. NOT_FOUND.
  absl::Status DeleteCollection(std::string_view name);

  // Validates the whole batch first (dimension, NaN/Inf, ids 1..256 bytes and unique in the
  // batch, text size and UTF-8, metadata keys), then applies it atomically and durably.
  // Upserting an existing id replaces it. NOT_FOUND, INVALID_ARGUMENT naming the point index
  // and field.
  absl::StatusOr<WriteResult> Upsert(std::string_view collection, std::vector<Point> points);
  // Deletes by ids; unknown ids are ignored. NOT_FOUND, INVALID_ARGUMENT.
  absl::StatusOr<WriteResult> Delete(std::string_view collection,
                                     const std::vector<std::string>& ids);
  // Deletes every point matching `filter`. NOT_FOUND, INVALID_ARGUMENT.
  absl::StatusOr<WriteResult> DeleteByFilter(std::string_view collection, const Filter& filter);
  // The ids of the live points matching `filter`, with the last applied sequence they are the
  // answer at (one consistent point: writes are held while the ids are collected). How
  // cluster mode resolves a delete by filter on the pod that receives it. NOT_FOUND,
  // INVALID_ARGUMENT (filter), RESOURCE_EXHAUSTED.
  struct MatchingIds {
    std::vector<std::string> ids;
    uint64_t sequence = 0;
  };
  absl::StatusOr<MatchingIds> FindMatchingIds(std::string_view collection,
                                              const Filter& filter) const;
  // Upserts and deletes in one atomic batch with the next sequence: how a document's chunks
  // are replaced (a search never sees a mix of old and new). An id may not be in both lists.
  // `aux` records (e.g. the embeddings just computed for the cache) ride in the same batch, so
  // one fsync covers both.
  absl::StatusOr<WriteResult> Write(std::string_view collection, std::vector<Point> upserts,
                                    std::vector<std::string> deletes,
                                    const std::vector<AuxWrite>& aux = {});
  // Applies one batch of the log; a replay (sequence <= last applied) is OK and changes nothing.
  // With batch.holds_shard, only the points of held shards are written (see WriteBatch).
  absl::StatusOr<WriteResult> Apply(WriteBatch batch);

  // Auxiliary records of upper layers (embedding cache, ingest job records), kept in their own
  // column family under (namespace, key). Durable on return like every write. Namespaces and
  // keys are arbitrary bytes; a namespace must not be empty.
  absl::StatusOr<std::optional<std::string>> GetAux(std::string_view ns,
                                                    std::string_view key) const;
  absl::Status PutAux(std::string_view ns,
                      const std::vector<std::pair<std::string, std::string>>& entries);
  absl::Status DeleteAux(std::string_view ns, const std::vector<std::string>& keys);
  // Calls fn for every (key, value) of the namespace whose key starts with `prefix`, in key
  // order, until fn returns false.
  absl::Status ScanAux(std::string_view ns, std::string_view prefix,
                       const std::function<bool(std::string_view key,
                                                std::string_view value)>& fn) const;

  // Points by id, in the order asked; ids not found are omitted. NOT_FOUND (collection).
  absl::StatusOr<std::vector<Point>> Get(std::string_view collection,
                                         const std::vector<std::string>& ids,
                                         bool with_vectors) const;
  // Searches in request.mode. The query text is analysed before any shard lock is taken.
  // Text scores use each shard's own statistics (N, avgdl, df), as Elasticsearch's default
  // query_then_fetch does: with hash routing they are close, not identical, across shards.
  // NOT_FOUND, INVALID_ARGUMENT (dimension, NaN, k, filter, text, fusion parameters),
  // FAILED_PRECONDITION (kText or kHybrid on a collection without a lexical index).
  absl::StatusOr<SearchResult> Search(const SearchRequest& request) const;
  // Points matching `filter` (all when unset). NOT_FOUND, INVALID_ARGUMENT.
  absl::StatusOr<uint64_t> Count(std::string_view collection,
                                 const std::optional<Filter>& filter) const;

  // Self-check of one collection, for operators (`ragctl admin verify COLLECTION`): compares
  // each shard's stored points and vectors in RocksDB with the live labels of its in-memory
  // index, as of one instant (a RocksDB snapshot taken with the collection's writes paused for
  // the copy of the index's label list), then searches for up to options.max_searches stored
  // points with their own stored vector (an even sample beyond that) and counts those not
  // returned. A point is not counted when it was deleted or replaced meanwhile, or when 10
  // other points score at least as high (exact duplicates; kDot). Writes and searches go on
  // meanwhile; cost: one scan of the collection's points and vectors, one index search per
  // checked point. Reports, never repairs (a restart rebuilds what disagrees with RocksDB).
  // NOT_FOUND (collection), INVALID_ARGUMENT (ef), UNAVAILABLE (closed), DATA_LOSS (a record
  // that does not decode).
  absl::StatusOr<VerifyReport> Verify(std::string_view collection,
                                      const VerifyOptions& options = {}) const;

  // Writes an index snapshot of every shard that changed since its last snapshot.
  absl::Status SaveSnapshots();
  // Writes a consistent, restorable backup into `dir` (backup.h): fresh index snapshots, then
  // a RocksDB checkpoint taken while every collection's writes are paused (searches go on),
  // so that the manifest's counts and sequences describe exactly the copy; the manifest is
  // written last. The checkpoint goes into DATA_DIR/backup-staging-<unique>, on the
  // database's filesystem, so the pause lasts a memtable flush and some hard links only
  // (event backup_pause); the staged files are then copied (or linked, on the same
  // filesystem) into `dir`/db and fsynced while writes go on, and the staging directory is
  // removed, on failure too. `dir` is absolute, absent or empty; it is created; a failed copy
  // removes `dir`/db again.
  // INVALID_ARGUMENT (relative path), ALREADY_EXISTS (holds a backup), FAILED_PRECONDITION
  // (not empty, cannot be created), UNAVAILABLE (closed, I/O), RESOURCE_EXHAUSTED (no space).
  absl::StatusOr<BackupManifest> CreateBackup(const std::string& dir);
  // Waits for running background compactions; for tests and shutdown.
  void WaitForCompactions();
  // Saves snapshots and closes RocksDB. Further calls return UNAVAILABLE. Idempotent.
  absl::Status Close();

  class Impl;

 private:
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ragd::index
