#pragma once
// Monitor: a pod's view of how far behind the log it is, and what cluster mode's reads and
// readiness are built on (README "Cluster mode").
//
// One thread, every `status_interval`, reads the head (last sequence) of the catalog stream
// and of every collection's stream the pod holds, compares them with what the Applier has
// applied, and
//   - keeps the lag of each collection (entries behind the head) for metrics and status;
//   - decides readiness: ready while NATS answers, the catalog is applied up to its head and
//     no collection's lag exceeds `ready_max_lag`; on each change calls `on_readiness` (the server
//     flips grpc.health.v1 and /readyz), so Kubernetes routes around a pod that is catching up or
//     cut off from NATS;
//   - writes this pod's status (PodStatus, JSON) into the NATS KV bucket RAGD_PODS, which
//     ClusterStatus() reads back for every pod.
//
// AwaitRead() is the wait behind each read's consistency level (ReadLevel, as in Milvus):
//   kEventual  serve at once;
//   kBounded   every write acknowledged more than `bounded_staleness` before the call is
//              visible: the head sampled by the thread at most that long ago is waited for
//              (usually already applied: no wait, no NATS round trip); with no sample that
//              recent, the head is read now;
//   kSession   wait for the caller's token (0: at once);
//   kStrong    wait for the head read when the call arrives (one NATS round trip).
// Waits end at the deadline with DEADLINE_EXCEEDED naming the level, the sequence waited for
// and the one reached.
//
// Thread safety: all methods may be called concurrently. The log, applier and engine are not
// owned and must outlive the Monitor.

#include <chrono>
#include <cstdint>
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

enum class ReadLevel { kEventual, kBounded, kSession, kStrong };

// "EVENTUAL", "BOUNDED", "SESSION", "STRONG".
const char* ReadLevelName(ReadLevel level);

struct MonitorOptions {
  // This pod's name (the key of its status) and the address other pods and operators dial.
  // Required.
  std::string pod_id;
  // Default: "" (unknown).
  std::string address;
  // The pod's shard group (issue 14's placement). Default: 0.
  int shard_group = 0;
  // How often the heads are read and the status written (cluster.status_interval_ms).
  // 10 ms..60 s. Default: 500 ms.
  std::chrono::milliseconds status_interval = std::chrono::milliseconds(500);
  // BOUNDED's bound (cluster.bounded_staleness_ms). 0..1 h. Default: 2 s.
  std::chrono::milliseconds bounded_staleness = std::chrono::seconds(2);
  // Entries behind a head above which the pod is not ready (cluster.ready_max_lag).
  // Default: 1000.
  uint64_t ready_max_lag = 1000;

  // INVALID_ARGUMENT naming the field.
  absl::Status Validate() const;
};

struct CollectionLag {
  std::string collection;
  uint64_t applied = 0;  // the Applier's position
  uint64_t head = 0;     // the stream's last sequence at the last poll
  uint64_t lag = 0;      // head - applied (0 when applied >= head)
};

// One pod's status as written to RAGD_PODS.
struct PodStatus {
  std::string pod_id;
  std::string address;
  int shard_group = 0;
  bool ready = false;
  std::string not_ready_reason;  // empty when ready
  uint64_t catalog_applied = 0;
  uint64_t catalog_lag = 0;
  std::vector<CollectionLag> collections;
  uint64_t applied_total = 0;   // entries the Applier applied since the pod started
  int64_t updated_unix_ms = 0;  // when the pod wrote it (the pod's clock)
};

// JSON of a status and back (INVALID_ARGUMENT for what does not parse).
std::string EncodePodStatus(const PodStatus& status);
absl::StatusOr<PodStatus> DecodePodStatus(std::string_view json);

class Monitor {
 public:
  using ReadinessCallback = std::function<void(bool ready)>;

  // Starts the thread. Not ready until its first poll has succeeded. `on_readiness` (may be
  // empty) is called from the monitor's thread on every change, starting with the first poll.
  // INVALID_ARGUMENT (options, null pointers).
  static absl::StatusOr<std::unique_ptr<Monitor>> Start(JetStreamLog* log, Applier* applier,
                                                        index::Engine* engine,
                                                        MonitorOptions options,
                                                        ReadinessCallback on_readiness = {});
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  // Stops and joins the thread. Idempotent.
  void Stop();

  // Waits as `level` asks (see the file comment) and returns the collection's applied
  // sequence after the wait. A collection the pod does not hold (NOT_FOUND from the log or
  // the Applier) is not waited for under EVENTUAL and BOUNDED (the engine answers NOT_FOUND);
  // SESSION waits for it to appear. DEADLINE_EXCEEDED, UNAVAILABLE (STRONG, or BOUNDED
  // without a recent sample, when the head cannot be read), CANCELLED (stopped).
  absl::StatusOr<uint64_t> AwaitRead(std::string_view collection, ReadLevel level, uint64_t token,
                                     absl::Time deadline);

  bool ready() const;
  // Why not ready ("" when ready), for /readyz.
  std::string not_ready_reason() const;
  // This pod's status as of the last poll.
  PodStatus status() const;
  // Every pod's status from RAGD_PODS (this pod's own one as of its last write), by pod id.
  // UNAVAILABLE.
  absl::StatusOr<std::vector<PodStatus>> ClusterStatus() const;

  class Impl;

 private:
  explicit Monitor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ragd::cluster
