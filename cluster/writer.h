#pragma once
// Writer: the write path of a pod in cluster mode. A write is validated exactly as the engine
// validates it, published to the log (JetStreamLog) with a message id derived from the
// request id, and acknowledged once this pod's Applier has applied it, so that the pod that
// took the write reads it back at once (the other pods apply it as they catch up). The
// stream sequence returned is the write's consistency token.
//
// Retries: a publish that fails with UNAVAILABLE (no NATS server, a stream electing a leader)
// is retried with the same message id until the deadline, so it is stored at most once. A
// publish in flight at the deadline may still take up to the log's request_timeout. A
// client that retries a whole call must send the same request id: within the log's duplicate
// window the second call is acknowledged at the first one's sequence (through any pod).
//
// Status codes: those of the engine's validation (INVALID_ARGUMENT naming the field,
// NOT_FOUND for a collection that is neither on this pod nor in the log's catalog,
// ALREADY_EXISTS), UNAVAILABLE (the log,
// after retrying until the deadline), DEADLINE_EXCEEDED (published and acknowledged, but not
// applied on this pod by the deadline: the write is durable in the log and will be applied),
// CANCELLED (the Applier stopped).
//
// Thread safety: all methods may be called concurrently. The log, applier and engine are not
// owned and must outlive the Writer.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cluster/applier.h"
#include "cluster/jetstream_log.h"
#include "index/engine/engine.h"

namespace ragd::cluster {

struct WriterOptions {
  // This pod's name, the prefix of the message ids of writes that came without a request id
  // (then unique per call). Required; e.g. the StatefulSet pod name.
  std::string pod_id;
  // The validation limits (max_text_bytes, max_batch_points): those the engines of every pod
  // are opened with. Default: the engine's defaults.
  index::Engine::Options limits;
  // Pause between publish retries. Default: 100 ms.
  absl::Duration retry_backoff = absl::Milliseconds(100);
  // Called with the seconds from a publish until JetStream acknowledged it (metrics; may be
  // empty). Must not block.
  std::function<void(double seconds)> on_publish;
};

class Writer {
 public:
  Writer(JetStreamLog* log, Applier* applier, index::Engine* engine, WriterOptions options);

  // Engine::Write through the log: upserts, deletes and aux records of one collection, one
  // atomic batch. `request_id` empty: a unique id is made (a retried call is then a new
  // write). WriteResult::sequence is the stream sequence; WriteResult::applied counts the
  // points upserted plus the ids asked to be deleted (the log does not know which exist).
  absl::StatusOr<index::WriteResult> Write(std::string_view collection,
                                           std::vector<index::Point> upserts,
                                           std::vector<std::string> deletes,
                                           std::vector<index::AuxWrite> aux,
                                           std::string_view request_id, absl::Time deadline);
  // Deletes the points matching `filter` on every pod, exactly those that match at one point
  // of the log (a compare-and-append): reads the stream's head H, waits until this pod has
  // applied H, collects the matching ids from this pod's engine (its state at H), and
  // publishes their deletes on condition that the stream's last sequence is still H
  // (JetStreamLog::PublishIfLast); when another write came in between, it starts over, until
  // the deadline. Every pod then deletes the same ids. Nothing matching: no entry, and
  // WriteResult{H, 0}. WriteResult::applied counts the ids deleted. Status codes of Write(),
  // plus INVALID_ARGUMENT (filter) and DEADLINE_EXCEEDED (the log kept moving or this pod
  // could not catch up).
  absl::StatusOr<index::WriteResult> DeleteByFilter(std::string_view collection,
                                                    const index::Filter& filter,
                                                    std::string_view request_id,
                                                    absl::Time deadline);
  // Creates the collection on every pod: its stream, then the catalog entry; returns the
  // catalog sequence once this pod holds the collection. INVALID_ARGUMENT, ALREADY_EXISTS
  // (this pod holds it already).
  absl::StatusOr<uint64_t> CreateCollection(const index::CollectionSpec& spec,
                                            std::string_view request_id, absl::Time deadline);
  // Deletes the collection on every pod: the catalog entry, then (once this pod dropped it)
  // its stream. NOT_FOUND (this pod does not hold it).
  absl::StatusOr<uint64_t> DeleteCollection(std::string_view name, std::string_view request_id,
                                            absl::Time deadline);

 private:
  std::string MessageId(std::string_view request_id) const;
  // The collection's spec on this pod. A collection that another pod created moments ago is
  // in the log's catalog before it is in this pod's engine (a client behind a load balancer
  // creates through one pod and writes through the next): before answering NOT_FOUND, this
  // pod catches up with the catalog as the log holds it now (bounded by the deadline and
  // kCatalogCatchUp), so that NOT_FOUND means the collection does not exist.
  absl::StatusOr<index::CollectionSpec> SpecCaughtUp(std::string_view collection,
                                                     absl::Time deadline);
  static constexpr absl::Duration kCatalogCatchUp = absl::Seconds(5);
  // Publishes with retries on UNAVAILABLE until the deadline. Empty collection: the catalog.
  absl::StatusOr<PublishAck> PublishWithRetry(std::string_view collection, const std::string& data,
                                              const std::string& msg_id, absl::Time deadline);

  JetStreamLog* const log_;
  Applier* const applier_;
  index::Engine* const engine_;
  const WriterOptions options_;
};

}  // namespace ragd::cluster
