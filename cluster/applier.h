#pragma once
// Applier: makes an index::Engine a replica of the replicated log (JetStreamLog).
//
// One thread follows the catalog stream and creates or deletes collections; one thread per
// collection follows the collection's stream from the engine's last applied sequence + 1 and
// applies each entry as index::WriteBatch{sequence = stream sequence}. The engine writes the
// batch and its sequence in one atomic RocksDB batch and treats a sequence at or below the
// last applied one as a replay, so a replica killed at any point resumes with no gap and no
// double apply. The catalog position is kept in the engine's aux records (namespace
// kAuxNamespace); create and delete are idempotent, so the one catalog entry that may be
// re-read after a crash changes nothing.
//
// Entries that cannot be applied:
//   - an entry that does not decode (DATA_LOSS), or a catalog operation on a collection stream
//     and the reverse, is logged, counted in stats().malformed and skipped;
//   - an entry the engine refuses for what it is (INVALID_ARGUMENT, FAILED_PRECONDITION,
//     ALREADY_EXISTS, OUT_OF_RANGE: every replica refuses it alike) is logged, counted in
//     stats().rejected and skipped. Writers validate before publishing, so this is rare;
//   - any other engine error (UNAVAILABLE, RESOURCE_EXHAUSTED, INTERNAL, ...) is retried after
//     retry_backoff until it succeeds or Stop(): skipping it would make replicas diverge.
// A skipped entry still advances the position that WaitForSequence() waits for.
//
// Thread safety: all methods may be called concurrently. The log and the engine are not owned
// and must outlive the Applier.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cluster/jetstream_log.h"
#include "cluster/placement.h"
#include "index/engine/engine.h"

namespace ragd::cluster {

struct ApplierOptions {
  // Longest wait for one message before a thread checks for Stop(): bounds how long Stop()
  // takes. Default: 200 ms.
  std::chrono::milliseconds poll_interval = std::chrono::milliseconds(200);
  // Pause before subscribing again after a lost consumer, or retrying a failed apply.
  // Default: 200 ms.
  std::chrono::milliseconds retry_backoff = std::chrono::milliseconds(200);
  // The shards this replica holds: every entry is applied (its sequence recorded) but only
  // the points routed to shards of placement.group are written (index::WriteBatch::
  // holds_shard). Default: one group, every shard.
  Placement placement;
  // Tests only (debug.apply_delay_ms): a pause before each collection entry is applied, so
  // that a test can watch a replica that lags behind. Default: 0.
  std::chrono::milliseconds apply_delay = std::chrono::milliseconds(0);

  // INVALID_ARGUMENT naming the field.
  absl::Status Validate() const;
};

struct ApplierStats {
  uint64_t applied = 0;    // entries applied (point batches and catalog operations)
  uint64_t malformed = 0;  // entries that do not decode, or on the wrong stream: skipped
  uint64_t rejected = 0;   // entries the engine refused for what they are: skipped
  uint64_t retries = 0;    // failed applies and lost consumers that were retried
  std::string last_error;  // the latest of the above, empty if none
};

class Applier {
 public:
  // The aux namespace and key of the catalog position (8 bytes, big-endian).
  static constexpr const char* kAuxNamespace = "ragd.cluster";
  static constexpr const char* kCatalogSequenceKey = "catalog_sequence";

  // Starts following the log: the catalog from the stored position + 1, and every collection
  // the engine holds from its last sequence + 1. NATS need not be reachable yet (the threads
  // retry). INVALID_ARGUMENT (options, null pointers), or the engine's error reading the
  // catalog position.
  static absl::StatusOr<std::unique_ptr<Applier>> Start(JetStreamLog* log, index::Engine* engine,
                                                        const ApplierOptions& options = {});
  // Stop()s.
  ~Applier();
  Applier(const Applier&) = delete;
  Applier& operator=(const Applier&) = delete;

  // Stops and joins every thread; an entry being applied is finished first. Idempotent.
  void Stop();

  // The highest stream sequence of the collection this replica has processed (applied or
  // skipped). NOT_FOUND when the replica does not hold the collection (yet).
  absl::StatusOr<uint64_t> Position(std::string_view collection) const;
  // The highest catalog sequence processed.
  uint64_t CatalogPosition() const;

  // Waits until Position(collection) >= sequence (SESSION: the caller's token; STRONG: the
  // stream's last sequence read at the call's arrival). Waits for the collection to appear
  // too. OK, DEADLINE_EXCEEDED (naming the position reached), CANCELLED (stopped).
  absl::Status WaitForSequence(std::string_view collection, uint64_t sequence,
                               absl::Time deadline) const;
  // Waits until CatalogPosition() >= sequence. OK, DEADLINE_EXCEEDED, CANCELLED.
  absl::Status WaitForCatalogSequence(uint64_t sequence, absl::Time deadline) const;

  ApplierStats stats() const;

  class Impl;

 private:
  explicit Applier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ragd::cluster
