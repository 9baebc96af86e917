#include "cluster/jetstream_log.h"

#include <nats/nats.h>

#include <string>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "spdlog/spdlog.h"

namespace ragd::cluster {
namespace {

bool IsValidCollectionName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

absl::Status FromJsError(jsErrCode jerr, const std::string& text) {
  switch (jerr) {
    case JSStreamNotFoundErr:
    case JSConsumerNotFoundErr:
      return absl::NotFoundError(text);
    case JSClusterNotAvailErr:
    case JSClusterNoPeersErr:
    case JSStreamOfflineErr:
      return absl::UnavailableError(text);
    case JSInsufficientResourcesErr:
      return absl::ResourceExhaustedError(text);
    case JSStreamMessageExceedsMaximumErr:
      return absl::InvalidArgumentError(text);
    case JSStreamWrongLastSequenceErr:
      return absl::FailedPreconditionError(text);
    case JSNotEnabledErr:
    case JSStreamNameExistErr:
    case JSStreamInvalidConfig:
      return absl::FailedPreconditionError(text);
    case JSStreamStoreFailedErr:
      return absl::UnavailableError(text);
    default:
      return absl::InternalError(text);
  }
}

// One place maps libnats's status (and JetStream's error code when the server sent one) to the
// canonical codes: what a retry may fix is UNAVAILABLE.
absl::Status FromNats(natsStatus s, jsErrCode jerr, std::string_view what) {
  std::string text = std::string(what) + ": " + natsStatus_GetText(s);
  if (jerr != 0) text += " (JetStream error " + std::to_string(static_cast<int>(jerr)) + ")";
  natsStatus last_status = NATS_OK;
  if (const char* last = nats_GetLastError(&last_status);
      last_status == s && last != nullptr && *last != '\0') {
    text += ": ";
    text += last;
  }
  switch (s) {
    case NATS_OK:
      return absl::OkStatus();
    case NATS_NO_RESPONDERS:
    case NATS_TIMEOUT:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NO_SERVER:
    case NATS_STALE_CONNECTION:
    case NATS_IO_ERROR:
    case NATS_NOT_YET_CONNECTED:
    case NATS_DRAINING:
    case NATS_SLOW_CONSUMER:
    case NATS_MISSED_HEARTBEAT:
    case NATS_MISMATCH:
    case NATS_INVALID_SUBSCRIPTION:
      return absl::UnavailableError(text);
    case NATS_NOT_FOUND:
      return absl::NotFoundError(text);
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
    case NATS_INVALID_TIMEOUT:
    case NATS_MAX_PAYLOAD:
      return absl::InvalidArgumentError(text);
    case NATS_NO_MEMORY:
    case NATS_INSUFFICIENT_BUFFER:
      return absl::ResourceExhaustedError(text);
    case NATS_NOT_PERMITTED:
    case NATS_CONNECTION_AUTH_FAILED:
      return absl::PermissionDeniedError(text);
    case NATS_NO_SERVER_SUPPORT:
      return absl::FailedPreconditionError(text);
    case NATS_ERR:
      if (jerr != 0) return FromJsError(jerr, text);
      return absl::InternalError(text);
    default:
      if (jerr != 0) return FromJsError(jerr, text);
      return absl::InternalError(text);
  }
}

constexpr jsErrCode kNoJsError = static_cast<jsErrCode>(0);

int64_t Millis(std::chrono::milliseconds d) { return static_cast<int64_t>(d.count()); }

class NatsLogReader final : public LogReader {
 public:
  NatsLogReader(natsSubscription* sub, std::string stream)
      : sub_(sub), stream_(std::move(stream)) {}
  ~NatsLogReader() override {
    natsSubscription_Unsubscribe(sub_);
    natsSubscription_Destroy(sub_);
  }

  absl::StatusOr<std::optional<LogMessage>> Next(std::chrono::milliseconds timeout) override {
    const int64_t deadline = nats_Now() + Millis(timeout);
    for (;;) {
      const int64_t left = deadline - nats_Now();
      if (left <= 0) return std::optional<LogMessage>();
      natsMsg* msg = nullptr;
      natsStatus s = natsSubscription_NextMsg(&msg, sub_, left);
      if (s == NATS_TIMEOUT) return std::optional<LogMessage>();
      if (s != NATS_OK) return FromNats(s, kNoJsError, "reading stream " + stream_);
      jsMsgMetaData* meta = nullptr;
      s = natsMsg_GetMetaData(&meta, msg);
      if (s != NATS_OK) {
        // Not a stream message (no JetStream reply subject): nothing of the log, skip it.
        natsMsg_Destroy(msg);
        continue;
      }
      LogMessage out;
      out.sequence = meta->Sequence.Stream;
      const int len = natsMsg_GetDataLength(msg);
      if (len > 0) out.data.assign(natsMsg_GetData(msg), static_cast<size_t>(len));
      jsMsgMetaData_Destroy(meta);
      natsMsg_Destroy(msg);
      return std::optional<LogMessage>(std::move(out));
    }
  }

 private:
  natsSubscription* sub_;
  std::string stream_;
};

void OnDisconnected(natsConnection* nc, void*) {
  // libnats also calls this when we close the connection ourselves (shutdown, or a start-up
  // attempt that reached a server but not JetStream): that is no loss worth a warning.
  if (natsConnection_IsClosed(nc)) return;
  spdlog::warn("cluster: NATS connection lost");
}
void OnReconnected(natsConnection* nc, void*) {
  char url[256] = {0};
  natsConnection_GetConnectedUrl(nc, url, sizeof(url));
  spdlog::info("cluster: NATS reconnected to {}", url);
}

}  // namespace

absl::Status JetStreamLogOptions::Validate() const {
  if (urls.empty()) return absl::InvalidArgumentError("urls: at least one NATS URL is required");
  for (const auto& u : urls) {
    if (u.empty()) return absl::InvalidArgumentError("urls: an URL is empty");
  }
  if (replicas < 1 || replicas > 5) {
    return absl::InvalidArgumentError("replicas: must be 1..5 (JetStream's limit), got " +
                                      std::to_string(replicas));
  }
  if (duplicate_window < std::chrono::seconds(1) || duplicate_window > std::chrono::hours(24)) {
    return absl::InvalidArgumentError("duplicate_window: must be 1 s..24 h");
  }
  if (request_timeout < std::chrono::milliseconds(10)) {
    return absl::InvalidArgumentError("request_timeout: must be at least 10 ms");
  }
  if (ping_interval < std::chrono::milliseconds(10)) {
    return absl::InvalidArgumentError("ping_interval: must be at least 10 ms");
  }
  if (max_pings_out < 1) return absl::InvalidArgumentError("max_pings_out: must be at least 1");
  if (reconnect_wait < std::chrono::milliseconds(0)) {
    return absl::InvalidArgumentError("reconnect_wait: must not be negative");
  }
  if (connect_timeout < std::chrono::milliseconds(10)) {
    return absl::InvalidArgumentError("connect_timeout: must be at least 10 ms");
  }
  return absl::OkStatus();
}

class JetStreamLog::Impl {
 public:
  explicit Impl(JetStreamLogOptions options) : options_(std::move(options)) {}
  ~Impl() {
    DestroyKv();
    if (js_ != nullptr) jsCtx_Destroy(js_);
    if (nc_ != nullptr) {
      natsConnection_Close(nc_);
      natsConnection_Destroy(nc_);
    }
    if (opts_ != nullptr) natsOptions_Destroy(opts_);
  }

  absl::Status Connect() {
    natsStatus s = natsOptions_Create(&opts_);
    if (s != NATS_OK) return FromNats(s, kNoJsError, "NATS options");
    std::vector<const char*> urls;
    for (const auto& u : options_.urls) urls.push_back(u.c_str());
    s = natsOptions_SetServers(opts_, urls.data(), static_cast<int>(urls.size()));
    if (s == NATS_OK) s = natsOptions_SetPingInterval(opts_, Millis(options_.ping_interval));
    if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(opts_, options_.max_pings_out);
    if (s == NATS_OK) s = natsOptions_SetAllowReconnect(opts_, true);
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts_, -1);  // forever
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts_, Millis(options_.reconnect_wait));
    if (s == NATS_OK) s = natsOptions_SetTimeout(opts_, Millis(options_.connect_timeout));
    if (s == NATS_OK) s = natsOptions_SetName(opts_, "ragd");
    if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts_, OnDisconnected, nullptr);
    if (s == NATS_OK) s = natsOptions_SetReconnectedCB(opts_, OnReconnected, nullptr);
    if (s != NATS_OK) return FromNats(s, kNoJsError, "NATS options");
    s = natsConnection_Connect(&nc_, opts_);
    if (s != NATS_OK) return FromNats(s, kNoJsError, "connecting to NATS");
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = Millis(options_.request_timeout);
    s = natsConnection_JetStream(&js_, nc_, &jo);
    if (s != NATS_OK) return FromNats(s, kNoJsError, "JetStream context");
    jsAccountInfo* ai = nullptr;
    jsErrCode jerr = kNoJsError;
    s = js_GetAccountInfo(&ai, js_, nullptr, &jerr);
    if (s != NATS_OK) {
      absl::Status st = FromNats(s, jerr, "JetStream account info");
      if (s == NATS_NO_RESPONDERS) {
        return absl::FailedPreconditionError(std::string(st.message()) +
                                             " (is JetStream enabled on the server, -js?)");
      }
      return st;
    }
    jsAccountInfo_Destroy(ai);
    return absl::OkStatus();
  }

  absl::Status EnsureStream(const std::string& name, const std::string& subject) {
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = kNoJsError;
    natsStatus s = js_GetStreamInfo(&si, js_, name.c_str(), nullptr, &jerr);
    if (s == NATS_OK) {
      jsStreamInfo_Destroy(si);
      return absl::OkStatus();
    }
    if (s != NATS_NOT_FOUND) return FromNats(s, jerr, "stream info of " + name);
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = name.c_str();
    const char* subjects[1] = {subject.c_str()};
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = options_.replicas;
    cfg.Duplicates = static_cast<int64_t>(options_.duplicate_window.count()) * 1000000;
    jerr = kNoJsError;
    s = js_AddStream(&si, js_, &cfg, nullptr, &jerr);
    if (s == NATS_OK) {
      jsStreamInfo_Destroy(si);
      spdlog::info("cluster: created stream {} (subject {}, R{})", name, subject,
                   options_.replicas);
      return absl::OkStatus();
    }
    // Created meanwhile by another pod (or by this pod's catalog thread). Which error the
    // loser of that race gets depends on how far the winner got: "name already in use", or
    // "subjects overlap" when the winner's subject is registered first (seen in CI with two
    // appliers and a writer starting together). Either way the stream is ours if it now
    // exists under our name; a different stream owning the subject stays an error.
    if (jerr == JSStreamNameExistErr || jerr == JSStreamSubjectOverlapErr) {
      jsErrCode again = kNoJsError;
      if (js_GetStreamInfo(&si, js_, name.c_str(), nullptr, &again) == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return absl::OkStatus();
      }
    }
    return FromNats(s, jerr, "creating stream " + name);
  }

  absl::Status DeleteStream(const std::string& name) {
    jsErrCode jerr = kNoJsError;
    natsStatus s = js_DeleteStream(js_, name.c_str(), nullptr, &jerr);
    if (s != NATS_OK) return FromNats(s, jerr, "deleting stream " + name);
    return absl::OkStatus();
  }

  absl::StatusOr<PublishAck> Publish(const std::string& subject, std::string_view data,
                                     std::string_view msg_id, uint64_t expect_last = 0) {
    if (msg_id.empty()) return absl::InvalidArgumentError("msg_id: must not be empty");
    if (data.size() > static_cast<size_t>(INT32_MAX)) {
      return absl::InvalidArgumentError("data: larger than 2 GiB");
    }
    const std::string id(msg_id);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = id.c_str();
    po.MaxWait = Millis(options_.request_timeout);
    if (expect_last > 0) po.ExpectLastSeq = expect_last;
    jsPubAck* pa = nullptr;
    jsErrCode jerr = kNoJsError;
    natsStatus s = js_Publish(&pa, js_, subject.c_str(), data.data(), static_cast<int>(data.size()),
                              &po, &jerr);
    if (s != NATS_OK) return FromNats(s, jerr, "publishing to " + subject);
    PublishAck ack{pa->Sequence, pa->Duplicate};
    jsPubAck_Destroy(pa);
    return ack;
  }

  absl::StatusOr<uint64_t> LastSequence(const std::string& name) {
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = kNoJsError;
    natsStatus s = js_GetStreamInfo(&si, js_, name.c_str(), nullptr, &jerr);
    if (s != NATS_OK) return FromNats(s, jerr, "stream info of " + name);
    const uint64_t last = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    return last;
  }

  absl::StatusOr<std::string> StreamLeader(const std::string& name) {
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = kNoJsError;
    natsStatus s = js_GetStreamInfo(&si, js_, name.c_str(), nullptr, &jerr);
    if (s != NATS_OK) return FromNats(s, jerr, "stream info of " + name);
    std::string leader;
    if (si->Cluster != nullptr && si->Cluster->Leader != nullptr) leader = si->Cluster->Leader;
    jsStreamInfo_Destroy(si);
    return leader;
  }

  absl::StatusOr<std::unique_ptr<LogReader>> Subscribe(const std::string& name,
                                                       const std::string& subject, uint64_t start) {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = name.c_str();
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = start < 1 ? 1 : start;
    natsSubscription* sub = nullptr;
    jsErrCode jerr = kNoJsError;
    natsStatus s = js_SubscribeSync(&sub, js_, subject.c_str(), nullptr, &so, &jerr);
    if (s != NATS_OK) return FromNats(s, jerr, "subscribing to " + name);
    return std::unique_ptr<LogReader>(new NatsLogReader(sub, name));
  }

  absl::Status EnsurePodBucket(std::chrono::milliseconds ttl) {
    absl::MutexLock lock(&kv_mu_);
    if (kv_ != nullptr) return absl::OkStatus();
    kvStore* kv = nullptr;
    jsErrCode jerr = kNoJsError;
    natsStatus s = js_KeyValue(&kv, js_, JetStreamLog::kPodBucket);
    if (s == NATS_NOT_FOUND) {
      kvConfig cfg;
      kvConfig_Init(&cfg);
      cfg.Bucket = JetStreamLog::kPodBucket;
      cfg.History = 1;
      // libnats 3.4 passes TTL through as the stream's MaxAge, in nanoseconds (a value in
      // milliseconds is refused: "max age needs to be >= 100ms").
      cfg.TTL = Millis(ttl) * 1000000;
      cfg.StorageType = js_MemoryStorage;  // statuses are rewritten every interval
      cfg.Replicas = options_.replicas;
      s = js_CreateKeyValue(&kv, js_, &cfg);
      // Another pod created the bucket between the lookup and the create (the same race as
      // EnsureStream's): take the one that is there.
      if (s != NATS_OK && js_KeyValue(&kv, js_, JetStreamLog::kPodBucket) == NATS_OK) s = NATS_OK;
    }
    if (s != NATS_OK) return FromNats(s, jerr, std::string("KV bucket ") + JetStreamLog::kPodBucket);
    kv_ = kv;
    return absl::OkStatus();
  }

  absl::Status PutPodStatus(const std::string& key, std::string_view value) {
    kvStore* kv = Kv();
    if (kv == nullptr) return absl::FailedPreconditionError("pod bucket not ensured");
    uint64_t rev = 0;
    natsStatus s = kvStore_Put(&rev, kv, key.c_str(), value.data(), static_cast<int>(value.size()));
    if (s != NATS_OK) return FromNats(s, kNoJsError, "writing pod status " + key);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ListPodStatuses() {
    kvStore* kv = Kv();
    if (kv == nullptr) {
      natsStatus s = js_KeyValue(&kv, js_, JetStreamLog::kPodBucket);
      if (s != NATS_OK) {
        return FromNats(s, kNoJsError, std::string("KV bucket ") + JetStreamLog::kPodBucket);
      }
      absl::MutexLock lock(&kv_mu_);
      if (kv_ == nullptr) {
        kv_ = kv;
      } else {
        kvStore_Destroy(kv);
        kv = kv_;
      }
    }
    std::vector<std::pair<std::string, std::string>> out;
    kvKeysList keys;
    kvWatchOptions wo;
    kvWatchOptions_Init(&wo);
    wo.Timeout = Millis(options_.request_timeout);
    natsStatus s = kvStore_Keys(&keys, kv, &wo);
    if (s == NATS_NOT_FOUND) return out;  // an empty bucket
    if (s != NATS_OK) return FromNats(s, kNoJsError, "listing pod statuses");
    for (int i = 0; i < keys.Count; ++i) {
      kvEntry* e = nullptr;
      if (kvStore_Get(&e, kv, keys.Keys[i]) != NATS_OK) continue;  // expired meanwhile
      const char* data = static_cast<const char*>(kvEntry_Value(e));
      const int len = kvEntry_ValueLen(e);
      out.emplace_back(keys.Keys[i], std::string(data != nullptr ? data : "",
                                                 static_cast<size_t>(len > 0 ? len : 0)));
      kvEntry_Destroy(e);
    }
    kvKeysList_Destroy(&keys);
    return out;
  }

  void DestroyKv() {
    absl::MutexLock lock(&kv_mu_);
    if (kv_ != nullptr) kvStore_Destroy(kv_);
    kv_ = nullptr;
  }

 private:
  kvStore* Kv() {
    absl::MutexLock lock(&kv_mu_);
    return kv_;
  }

  absl::Mutex kv_mu_;
  kvStore* kv_ = nullptr;  // guarded by kv_mu_ for assignment; libnats's kvStore is thread-safe
  JetStreamLogOptions options_;
  natsOptions* opts_ = nullptr;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
};

JetStreamLog::JetStreamLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JetStreamLog::~JetStreamLog() = default;

absl::StatusOr<std::unique_ptr<JetStreamLog>> JetStreamLog::Connect(
    const JetStreamLogOptions& options) {
  if (absl::Status st = options.Validate(); !st.ok()) return st;
  auto impl = std::make_unique<Impl>(options);
  if (absl::Status st = impl->Connect(); !st.ok()) return st;
  return std::unique_ptr<JetStreamLog>(new JetStreamLog(std::move(impl)));
}

std::string JetStreamLog::CollectionStreamName(std::string_view collection) {
  return "RAGD_LOG_" + std::string(collection);
}
std::string JetStreamLog::CollectionSubject(std::string_view collection) {
  return "ragd.log." + std::string(collection);
}

#define RAGD_CHECK_COLLECTION_NAME(c)                                                   \
  if (!IsValidCollectionName(c)) {                                                      \
    return absl::InvalidArgumentError("collection: \"" + std::string(c).substr(0, 80) + \
                                      "\" is not [A-Za-z0-9_-]{1,64}");                 \
  }

absl::Status JetStreamLog::EnsureCatalogStream() {
  return impl_->EnsureStream(kCatalogStream, kCatalogSubject);
}
absl::Status JetStreamLog::EnsureCollectionStream(std::string_view collection) {
  RAGD_CHECK_COLLECTION_NAME(collection);
  return impl_->EnsureStream(CollectionStreamName(collection), CollectionSubject(collection));
}
absl::Status JetStreamLog::DeleteCollectionStream(std::string_view collection) {
  RAGD_CHECK_COLLECTION_NAME(collection);
  return impl_->DeleteStream(CollectionStreamName(collection));
}
absl::StatusOr<PublishAck> JetStreamLog::Publish(std::string_view collection, std::string_view data,
                                                 std::string_view msg_id) {
  RAGD_CHECK_COLLECTION_NAME(collection);
  return impl_->Publish(CollectionSubject(collection), data, msg_id);
}
absl::StatusOr<PublishAck> JetStreamLog::PublishCatalog(std::string_view data,
                                                        std::string_view msg_id) {
  return impl_->Publish(kCatalogSubject, data, msg_id);
}
absl::StatusOr<PublishAck> JetStreamLog::PublishIfLast(std::string_view collection,
                                                       std::string_view data,
                                                       std::string_view msg_id,
                                                       uint64_t expected_last_sequence) {
  RAGD_CHECK_COLLECTION_NAME(collection);
  if (expected_last_sequence == 0) {
    // JetStream reads 0 as "no expectation"; an empty stream has nothing to be raced with
    // that a later entry would not also race, so the caller publishes without CAS.
    return impl_->Publish(CollectionSubject(collection), data, msg_id);
  }
  return impl_->Publish(CollectionSubject(collection), data, msg_id, expected_last_sequence);
}
absl::Status JetStreamLog::EnsurePodBucket(std::chrono::milliseconds ttl) {
  if (ttl < std::chrono::seconds(1)) return absl::InvalidArgumentError("ttl: at least 1 s");
  return impl_->EnsurePodBucket(ttl);
}
absl::Status JetStreamLog::PutPodStatus(std::string_view pod_id, std::string_view value) {
  bool ok = !pod_id.empty() && pod_id.size() <= 128;
  for (char c : pod_id) {
    ok = ok && ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-' || c == '=' || c == '.');
  }
  if (!ok) {
    return absl::InvalidArgumentError("pod_id: \"" + std::string(pod_id).substr(0, 80) +
                                      "\" is not [A-Za-z0-9_=.-]{1,128}");
  }
  return impl_->PutPodStatus(std::string(pod_id), value);
}
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> JetStreamLog::ListPodStatuses() {
  return impl_->ListPodStatuses();
}
absl::StatusOr<uint64_t> JetStreamLog::LastSequence(std::string_view collection) {
  RAGD_CHECK_COLLECTION_NAME(collection);
  return impl_->LastSequence(CollectionStreamName(collection));
}
absl::StatusOr<uint64_t> JetStreamLog::CatalogLastSequence() {
  return impl_->LastSequence(kCatalogStream);
}
absl::StatusOr<std::string> JetStreamLog::StreamLeader(std::string_view collection) {
  RAGD_CHECK_COLLECTION_NAME(collection);
  return impl_->StreamLeader(CollectionStreamName(collection));
}
absl::StatusOr<std::unique_ptr<LogReader>> JetStreamLog::Subscribe(std::string_view collection,
                                                                   uint64_t start_sequence) {
  RAGD_CHECK_COLLECTION_NAME(collection);
  return impl_->Subscribe(CollectionStreamName(collection), CollectionSubject(collection),
                          start_sequence);
}
absl::StatusOr<std::unique_ptr<LogReader>> JetStreamLog::SubscribeCatalog(uint64_t start_sequence) {
  return impl_->Subscribe(kCatalogStream, kCatalogSubject, start_sequence);
}

}  // namespace ragd::cluster
