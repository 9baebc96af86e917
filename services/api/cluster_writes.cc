#include "services/api/cluster_writes.h"

#include <algorithm>

#include "cluster/monitor.h"
#include "cluster/writer.h"
#include "index/engine/engine.h"
#include "ragd/v1/types.pb.h"

namespace ragd::services {

std::string RequestIdOf(const grpc::ServerContextBase& context) {
  const auto& md = context.client_metadata();
  auto it = md.find("x-request-id");
  if (it == md.end() || it->second.empty() || it->second.size() > 128) return "";
  return std::string(it->second.data(), it->second.size());
}

absl::Time WriteDeadlineOf(const grpc::ServerContextBase& context, absl::Duration cap) {
  const absl::Time capped = absl::Now() + cap;
  const auto deadline = context.deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return capped;
  return std::min(absl::FromChrono(deadline), capped);
}

absl::Time ReadDeadlineOf(const grpc::ServerContextBase& context, absl::Duration cap) {
  return WriteDeadlineOf(context, cap);
}

namespace {

absl::StatusOr<cluster::ReadLevel> LevelOf(int level) {
  switch (static_cast<v1::ReadConsistency>(level)) {
    case v1::READ_CONSISTENCY_UNSPECIFIED:
    case v1::READ_CONSISTENCY_BOUNDED:
      return cluster::ReadLevel::kBounded;
    case v1::READ_CONSISTENCY_EVENTUAL:
      return cluster::ReadLevel::kEventual;
    case v1::READ_CONSISTENCY_SESSION:
      return cluster::ReadLevel::kSession;
    case v1::READ_CONSISTENCY_STRONG:
      return cluster::ReadLevel::kStrong;
    case v1::ReadConsistency_INT_MIN_SENTINEL_DO_NOT_USE_:
    case v1::ReadConsistency_INT_MAX_SENTINEL_DO_NOT_USE_:
      break;
  }
  return absl::InvalidArgumentError("consistency: unknown level " + std::to_string(level) +
                                    " (EVENTUAL 1, BOUNDED 2, SESSION 3, STRONG 4)");
}

}  // namespace

uint64_t RoutedMinSequence(int level, uint64_t applied) {
  return level == v1::READ_CONSISTENCY_EVENTUAL ? 0 : applied;
}

bool ReadMayWait(const ClusterWrites* cluster, int level) {
  return cluster != nullptr && cluster->monitor() != nullptr &&
         level != v1::READ_CONSISTENCY_EVENTUAL;
}

absl::StatusOr<uint64_t> AwaitReadConsistency(const ClusterWrites* cluster,
                                              const index::Engine& engine,
                                              const std::string& collection, int level,
                                              uint64_t token,
                                              const grpc::ServerContextBase& context) {
  absl::StatusOr<cluster::ReadLevel> read_level = LevelOf(level);
  if (!read_level.ok()) return read_level.status();
  cluster::Monitor* monitor = cluster != nullptr ? cluster->monitor() : nullptr;
  if (monitor == nullptr) {
    absl::StatusOr<uint64_t> last = engine.LastSequence(collection);
    return last.ok() ? *last : 0;
  }
  return monitor->AwaitRead(collection, *read_level, token, WriteDeadlineOf(context));
}

rag::IngestorCacheOptions WithClusterIngestHooks(rag::IngestorCacheOptions options,
                                                 const ClusterWrites* cluster) {
  if (cluster == nullptr) return options;
  // Ingestion runs on the ingest workers, without a call's deadline at hand: 30 s per step.
  constexpr absl::Duration kStep = absl::Seconds(30);
  options.hooks.before_document = [cluster, kStep](std::string_view collection) -> absl::Status {
    cluster::Monitor* monitor = cluster->monitor();
    if (monitor == nullptr) return absl::UnavailableError("recovering");
    return monitor
        ->AwaitRead(collection, cluster::ReadLevel::kStrong, 0, absl::Now() + kStep)
        .status();
  };
  options.hooks.write = [cluster, kStep](std::string_view collection,
                                         std::vector<index::Point> upserts,
                                         std::vector<std::string> deletes)
      -> absl::StatusOr<index::WriteResult> {
    cluster::Writer* writer = cluster->Get();
    if (writer == nullptr) return absl::UnavailableError("recovering");
    return writer->Write(collection, std::move(upserts), std::move(deletes), {}, "",
                         absl::Now() + kStep);
  };
  options.hooks.delete_by_filter = [cluster, kStep](std::string_view collection,
                                                    const index::Filter& filter)
      -> absl::StatusOr<index::WriteResult> {
    cluster::Writer* writer = cluster->Get();
    if (writer == nullptr) return absl::UnavailableError("recovering");
    return writer->DeleteByFilter(collection, filter, "", absl::Now() + kStep);
  };
  return options;
}

absl::Status NotInClusterMode(const char* what) {
  return absl::UnimplementedError(std::string(what) +
                                  " is not supported in cluster mode yet (issue 14)");
}

}  // namespace ragd::services
