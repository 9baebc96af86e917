#pragma once
// JetStreamLog: the replicated log of cluster mode on NATS JetStream (libnats, a PRIVATE
// dependency: no NATS type appears here).
//
// Layout on the NATS side:
//   catalog      stream RAGD_CATALOG, subject ragd.catalog: collection creates and deletes
//   collection   stream RAGD_LOG_<collection>, subject ragd.log.<collection>: point batches
// Every stream: file storage, `replicas` copies (JetStream's RAFT group), a duplicate window
// in which a message id (Nats-Msg-Id) seen before is not stored again: a publish retried with
// the same id returns the original stream sequence. The stream sequence of a collection's
// message is the sequence of the engine's WriteBatch.
//
// Status codes: UNAVAILABLE for everything a retry may fix (no server, connection lost, no
// responders, e.g. while a stream elects a new leader, timeouts, JetStream temporarily
// unavailable); NOT_FOUND (stream not found); INVALID_ARGUMENT (bad name, message too large);
// FAILED_PRECONDITION (JetStream not enabled, stream config conflicts); RESOURCE_EXHAUSTED
// (JetStream out of resources, no memory); INTERNAL otherwise. Messages carry libnats's text
// and the JetStream error code. No exception is thrown.
//
// Thread safety: all methods of JetStreamLog may be called concurrently (libnats connections
// are thread-safe). A LogReader is used by one thread at a time.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ragd::cluster {

struct JetStreamLogOptions {
  // NATS server URLs, e.g. "nats://10.0.0.1:4222"; the client connects to one and fails over
  // to the others. Required, at least one.
  std::vector<std::string> urls;
  // Copies of each stream (JetStream R). 1..5; must not exceed the NATS cluster's size.
  // Default: 1 (tests); production: 3.
  int replicas = 1;
  // How long JetStream remembers message ids for deduplication. A retry later than this is
  // stored twice (and applied twice). 1 s..1 day. Default: 2 minutes (JetStream's default).
  std::chrono::milliseconds duplicate_window = std::chrono::minutes(2);
  // Wait for a publish acknowledgement or a JetStream API reply. Default: 5 s.
  std::chrono::milliseconds request_timeout = std::chrono::seconds(5);
  // Client pings: a dead or cut-off server is noticed after ping_interval × max_pings_out
  // (libnats's default, 2 minutes × 2, is far too slow for failover). Default: 1 s, 2.
  std::chrono::milliseconds ping_interval = std::chrono::seconds(1);
  int max_pings_out = 2;
  // Pause between reconnection attempts (the client reconnects forever). Default: 250 ms.
  std::chrono::milliseconds reconnect_wait = std::chrono::milliseconds(250);
  // Timeout of one TCP connect. Default: 2 s.
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(2);

  // INVALID_ARGUMENT naming the field to change.
  absl::Status Validate() const;
};

// A publish that JetStream acknowledged.
struct PublishAck {
  uint64_t sequence = 0;   // stream sequence of the message (the original one for a duplicate)
  bool duplicate = false;  // the message id was seen within the duplicate window
};

// One message of a stream.
struct LogMessage {
  uint64_t sequence = 0;  // stream sequence
  std::string data;
};

// Reads one stream in order from a start sequence (a JetStream ordered consumer: ephemeral,
// no acks, re-created by the client from the last delivered sequence after a gap or a missed
// heartbeat).
class LogReader {
 public:
  virtual ~LogReader() = default;
  // The next message, or nullopt when none came within `timeout`. UNAVAILABLE when the
  // consumer is lost (connection closed, stream deleted): the caller subscribes again from its
  // last sequence + 1.
  virtual absl::StatusOr<std::optional<LogMessage>> Next(std::chrono::milliseconds timeout) = 0;
};

class JetStreamLog {
 public:
  // Connects (waiting up to connect_timeout per URL) and checks that JetStream answers.
  // INVALID_ARGUMENT (options), UNAVAILABLE (no server reachable), FAILED_PRECONDITION
  // (JetStream not enabled).
  static absl::StatusOr<std::unique_ptr<JetStreamLog>> Connect(const JetStreamLogOptions& options);
  ~JetStreamLog();
  JetStreamLog(const JetStreamLog&) = delete;
  JetStreamLog& operator=(const JetStreamLog&) = delete;

  // Creates the catalog stream, or checks that it exists. Idempotent.
  absl::Status EnsureCatalogStream();
  // Creates the collection's stream, or checks that it exists. Idempotent. INVALID_ARGUMENT
  // (name not [A-Za-z0-9_-]{1,64}).
  absl::Status EnsureCollectionStream(std::string_view collection);
  // Deletes the collection's stream and its messages. NOT_FOUND.
  absl::Status DeleteCollectionStream(std::string_view collection);

  // Appends `data` with message id `msg_id` (non-empty; derived from a request id, so that a
  // retry is deduplicated) and waits for JetStream's acknowledgement: the message is then
  // stored on a majority of the stream's replicas (in memory or the OS page cache: nats-server
  // 2.9 fsyncs every 60 s). INVALID_ARGUMENT (empty id, too large), UNAVAILABLE (retry with
  // the same msg_id): also when no stream takes the subject (JetStream's "no responders" does
  // not tell a missing stream from one electing a leader: Ensure* first).
  absl::StatusOr<PublishAck> Publish(std::string_view collection, std::string_view data,
                                     std::string_view msg_id);
  absl::StatusOr<PublishAck> PublishCatalog(std::string_view data, std::string_view msg_id);
  // Publish() only if the stream's last sequence is still `expected_last_sequence`
  // (JetStream's Nats-Expected-Last-Sequence): an optimistic compare-and-append, how a write
  // computed from this pod's state at that sequence (delete by filter) is placed right after
  // it. FAILED_PRECONDITION when another entry came in between (read, recompute, retry).
  absl::StatusOr<PublishAck> PublishIfLast(std::string_view collection, std::string_view data,
                                           std::string_view msg_id,
                                           uint64_t expected_last_sequence);

  // The stream's last sequence (0 when empty): what a STRONG read waits for. NOT_FOUND.
  absl::StatusOr<uint64_t> LastSequence(std::string_view collection);
  absl::StatusOr<uint64_t> CatalogLastSequence();

  // The server_name of the NATS server leading the collection's stream ("" when the stream
  // has no leader right now, or runs on a single server without clustering): for operators
  // and failover tests. NOT_FOUND, UNAVAILABLE.
  absl::StatusOr<std::string> StreamLeader(std::string_view collection);

  // Delivers the stream's messages from `start_sequence` (>= 1) on, in order. A start before
  // the stream's first message starts at the first. NOT_FOUND (no stream), UNAVAILABLE.
  absl::StatusOr<std::unique_ptr<LogReader>> Subscribe(std::string_view collection,
                                                       uint64_t start_sequence);
  absl::StatusOr<std::unique_ptr<LogReader>> SubscribeCatalog(uint64_t start_sequence);

  // Pod status (cluster mode's membership): a NATS KV bucket, RAGD_PODS, one key per pod whose
  // value the pod rewrites every status interval; JetStream drops a value older than `ttl`,
  // so a dead pod disappears by itself. Creates the bucket or binds to it. Idempotent.
  // INVALID_ARGUMENT (ttl under 1 s), UNAVAILABLE.
  absl::Status EnsurePodBucket(std::chrono::milliseconds ttl);
  // Writes `value` under `pod_id` ([A-Za-z0-9_=.-]{1,128}). FAILED_PRECONDITION before
  // EnsurePodBucket(). INVALID_ARGUMENT (key), UNAVAILABLE.
  absl::Status PutPodStatus(std::string_view pod_id, std::string_view value);
  // Every pod's latest value, by pod id (none: empty). UNAVAILABLE, NOT_FOUND (no bucket).
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ListPodStatuses();
  static constexpr const char* kPodBucket = "RAGD_PODS";

  // The names used on the NATS side, for operators and tests.
  static std::string CollectionStreamName(std::string_view collection);
  static std::string CollectionSubject(std::string_view collection);
  static constexpr const char* kCatalogStream = "RAGD_CATALOG";
  static constexpr const char* kCatalogSubject = "ragd.catalog";

  class Impl;

 private:
  explicit JetStreamLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ragd::cluster
