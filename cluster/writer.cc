#include "cluster/writer.h"

#include <algorithm>
#include <random>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "cluster/log_codec.h"
#include "common/status.h"
#include "index/engine/validate.h"

namespace ragd::cluster {

Writer::Writer(JetStreamLog* log, Applier* applier, index::Engine* engine, WriterOptions options)
    : log_(log), applier_(applier), engine_(engine), options_(std::move(options)) {}

std::string Writer::MessageId(std::string_view request_id) const {
  if (!request_id.empty()) return std::string(request_id);
  thread_local std::mt19937_64 rng(std::random_device{}());
  return absl::StrCat(options_.pod_id, "-", absl::Hex(rng(), absl::kZeroPad16),
                      absl::Hex(rng(), absl::kZeroPad16));
}

absl::StatusOr<PublishAck> Writer::PublishWithRetry(std::string_view collection,
                                                    const std::string& data,
                                                    const std::string& msg_id,
                                                    absl::Time deadline) {
  for (;;) {
    const absl::Time started = absl::Now();
    absl::StatusOr<PublishAck> ack = collection.empty() ? log_->PublishCatalog(data, msg_id)
                                                        : log_->Publish(collection, data, msg_id);
    if (ack.ok() && options_.on_publish) {
      options_.on_publish(absl::ToDoubleSeconds(absl::Now() - started));
    }
    if (ack.ok() || ack.status().code() != absl::StatusCode::kUnavailable) return ack;
    if (absl::Now() + options_.retry_backoff >= deadline) {
      return absl::UnavailableError(absl::StrCat(
          ack.status().message(), " (retried with message id ", msg_id, " until the deadline)"));
    }
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(options_.retry_backoff));
  }
}

absl::StatusOr<index::WriteResult> Writer::DeleteByFilter(std::string_view collection,
                                                          const index::Filter& filter,
                                                          std::string_view request_id,
                                                          absl::Time deadline) {
  RETURN_IF_ERROR(filter.Validate());
  const std::string msg_id = MessageId(request_id);
  for (int attempt = 1;; ++attempt) {
    ASSIGN_OR_RETURN(uint64_t head, log_->LastSequence(collection));
    RETURN_IF_ERROR(applier_->WaitForSequence(collection, head, deadline));
    ASSIGN_OR_RETURN(index::Engine::MatchingIds matching,
                     engine_->FindMatchingIds(collection, filter));
    // The pod may have applied past H meanwhile; the ids are then the answer at that later
    // sequence, which is what the condition must name.
    const uint64_t at = std::max(head, matching.sequence);
    if (matching.ids.empty()) return index::WriteResult{at, 0};
    const uint64_t count = matching.ids.size();
    PointWrite w{{}, std::move(matching.ids), {}};
    ASSIGN_OR_RETURN(std::string data, EncodeLogEntry(LogEntry{msg_id, std::move(w)}));
    absl::StatusOr<PublishAck> ack = log_->PublishIfLast(collection, data, msg_id, at);
    if (ack.ok()) {
      RETURN_IF_ERROR(applier_->WaitForSequence(collection, ack->sequence, deadline));
      return index::WriteResult{ack->sequence, count};
    }
    const absl::StatusCode code = ack.status().code();
    // FAILED_PRECONDITION: another write landed after H (recompute); UNAVAILABLE: retry the
    // same message id (deduplicated if it was stored after all).
    if (code != absl::StatusCode::kFailedPrecondition && code != absl::StatusCode::kUnavailable) {
      return ack.status();
    }
    if (absl::Now() + options_.retry_backoff >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "delete by filter: the log of \"", std::string(collection), "\" kept moving for ", attempt,
          " attempts (last: ", ack.status().message(), ")"));
    }
    if (code == absl::StatusCode::kUnavailable) {
      std::this_thread::sleep_for(absl::ToChronoMilliseconds(options_.retry_backoff));
    }
  }
}

absl::StatusOr<index::CollectionSpec> Writer::SpecCaughtUp(std::string_view collection,
                                                           absl::Time deadline) {
  absl::StatusOr<index::CollectionSpec> spec = engine_->GetCollectionSpec(collection);
  if (spec.ok() || spec.status().code() != absl::StatusCode::kNotFound) return spec;
  absl::StatusOr<uint64_t> head = log_->CatalogLastSequence();
  // The log unreachable or nothing new in the catalog: the pod's answer stands.
  if (!head.ok() || *head <= applier_->CatalogPosition()) return spec;
  const absl::Status caught_up =
      applier_->WaitForCatalogSequence(*head, std::min(deadline, absl::Now() + kCatalogCatchUp));
  if (!caught_up.ok()) {
    const std::string what = "collection \"" + std::string(collection) +
                             "\" is not on this pod, and this pod has not caught up with the " +
                             "catalog (entry " + std::to_string(*head) + ")";
    if (absl::Now() >= deadline) return absl::DeadlineExceededError(what + " by the deadline");
    return absl::UnavailableError(what + ": " + std::string(caught_up.message()) + "; retry");
  }
  return engine_->GetCollectionSpec(collection);
}

absl::StatusOr<index::WriteResult> Writer::Write(std::string_view collection,
                                                 std::vector<index::Point> upserts,
                                                 std::vector<std::string> deletes,
                                                 std::vector<index::AuxWrite> aux,
                                                 std::string_view request_id, absl::Time deadline) {
  // The checks of Engine::Write, here before publishing: an entry in the log is applied by
  // every pod, and one that every pod refuses would only be skipped, after the client was
  // told it succeeded.
  ASSIGN_OR_RETURN(index::CollectionSpec spec, SpecCaughtUp(collection, deadline));
  if (upserts.empty() && deletes.empty()) {
    return absl::InvalidArgumentError("batch: has neither upserts nor deletes");
  }
  if (!upserts.empty()) {
    RETURN_IF_ERROR(index::ValidateAndNormalizePoints(spec, options_.limits, upserts));
  }
  RETURN_IF_ERROR(index::ValidateIds(deletes, "deletes"));
  absl::flat_hash_set<std::string_view> upserted;
  for (const auto& p : upserts) upserted.insert(p.id);
  for (const auto& id : deletes) {
    if (upserted.contains(id)) {
      return absl::InvalidArgumentError("deletes: \"" + id + "\" is also upserted in the batch");
    }
  }
  for (const auto& a : aux) {
    if (a.ns.empty() || a.ns.size() > 255) {
      return absl::InvalidArgumentError("aux: namespace must be 1..255 bytes");
    }
  }
  const uint64_t count = upserts.size() + deletes.size();
  const std::string msg_id = MessageId(request_id);
  PointWrite w{std::move(upserts), std::move(deletes), std::move(aux)};
  ASSIGN_OR_RETURN(std::string data, EncodeLogEntry(LogEntry{msg_id, std::move(w)}));
  ASSIGN_OR_RETURN(PublishAck ack, PublishWithRetry(collection, data, msg_id, deadline));
  RETURN_IF_ERROR(applier_->WaitForSequence(collection, ack.sequence, deadline));
  return index::WriteResult{ack.sequence, count};
}

absl::StatusOr<uint64_t> Writer::CreateCollection(const index::CollectionSpec& spec,
                                                  std::string_view request_id,
                                                  absl::Time deadline) {
  RETURN_IF_ERROR(spec.Validate());
  if (engine_->GetCollectionSpec(spec.name).ok()) {
    return absl::AlreadyExistsError("collection \"" + spec.name + "\" already exists");
  }
  RETURN_IF_ERROR(log_->EnsureCatalogStream());
  RETURN_IF_ERROR(log_->EnsureCollectionStream(spec.name));
  const std::string msg_id = MessageId(request_id);
  ASSIGN_OR_RETURN(std::string data,
                   EncodeLogEntry(LogEntry{msg_id, cluster::CreateCollection{spec}}));
  ASSIGN_OR_RETURN(PublishAck ack, PublishWithRetry("", data, msg_id, deadline));
  RETURN_IF_ERROR(applier_->WaitForCatalogSequence(ack.sequence, deadline));
  return ack.sequence;
}

absl::StatusOr<uint64_t> Writer::DeleteCollection(std::string_view name,
                                                  std::string_view request_id,
                                                  absl::Time deadline) {
  RETURN_IF_ERROR(SpecCaughtUp(name, deadline).status());
  const std::string msg_id = MessageId(request_id);
  ASSIGN_OR_RETURN(std::string data,
                   EncodeLogEntry(LogEntry{msg_id, cluster::DeleteCollection{std::string(name)}}));
  ASSIGN_OR_RETURN(PublishAck ack, PublishWithRetry("", data, msg_id, deadline));
  RETURN_IF_ERROR(applier_->WaitForCatalogSequence(ack.sequence, deadline));
  absl::Status st = log_->DeleteCollectionStream(name);
  if (!st.ok() && st.code() != absl::StatusCode::kNotFound) return st;
  return ack.sequence;
}

}  // namespace ragd::cluster
