#include "services/api/admin_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cluster/monitor.h"
#include "common/status.h"
#include "common/utf8.h"
#include "services/api/handler_util.h"

namespace ragd::services {
namespace {

void ManifestToProto(const index::BackupManifest& m, v1::CreateBackupResponse* response) {
  response->set_format_version(m.format_version);
  response->set_ragd_version(m.ragd_version);
  response->set_created_at_unix_ms(m.created_at_unix_ms);
  response->set_rocksdb_sequence(m.rocksdb_sequence);
  for (const index::BackupManifest::Collection& c : m.collections) {
    v1::BackupCollection* out = response->add_collections();
    out->set_name(c.name);
    out->set_dimension(c.dimension);
    out->set_shards(c.shards);
    out->set_points(c.points);
    out->set_last_sequence(c.last_sequence);
  }
}

// A path the file system can take, checked before anything is touched: a NUL byte would cut
// the path short inside the C calls below (and surfaced as an I/O error).
absl::Status CheckDirectory(const std::string& directory) {
  if (directory.empty()) return absl::InvalidArgumentError("directory: must not be empty");
  if (directory.size() > 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat("directory: ", directory.size(), " bytes; at most 4096 (PATH_MAX)"));
  }
  if (directory.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("directory: contains a NUL byte: \"", EchoPrefix(directory), "\""));
  }
  if (!IsValidUtf8(directory)) {
    return absl::InvalidArgumentError("directory: not valid UTF-8");
  }
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* AdminService::CreateBackup(grpc::CallbackServerContext* context,
                                                     const v1::CreateBackupRequest* request,
                                                     v1::CreateBackupResponse* response) {
  if (absl::Status s = Admit(context, authorizer_, Method::kCreateBackup, ""); !s.ok()) {
    return FinishNow(context, s);
  }
  absl::StatusOr<index::Engine*> engine = engine_->Get();
  if (!engine.ok()) return FinishNow(context, engine.status());
  // A backup copies every collection, so a key limited to some of them may not take one.
  for (const index::CollectionInfo& info : (*engine)->ListCollections()) {
    if (absl::Status s =
            AdmitCollection(context, authorizer_, Method::kCreateBackup, info.spec.name);
        !s.ok()) {
      return FinishNow(context, absl::PermissionDeniedError(absl::StrCat(
                                    std::string(s.message()),
                                    "; a backup holds every collection and needs an unscoped "
                                    "admin key")));
    }
  }
  if (absl::Status s = CheckDirectory(request->directory()); !s.ok()) return FinishNow(context, s);
  return FinishOnExecutor(
      context, executor_, [engine = *engine, request, response]() -> absl::Status {
        const auto start = std::chrono::steady_clock::now();
        ASSIGN_OR_RETURN(index::BackupManifest manifest,
                         engine->CreateBackup(request->directory()));
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        response->set_directory(request->directory());
        ManifestToProto(manifest, response);
        response->set_seconds(seconds);
        spdlog::info("backup of {} collection(s) written to {} in {:.3f} s",
                     manifest.collections.size(), request->directory(), seconds);
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* AdminService::VerifyCollection(grpc::CallbackServerContext* context,
                                                         const v1::VerifyCollectionRequest* request,
                                                         v1::VerifyCollectionResponse* response) {
  if (absl::Status s =
          Admit(context, authorizer_, Method::kVerifyCollection, request->collection());
      !s.ok()) {
    return FinishNow(context, s);
  }
  absl::StatusOr<index::Engine*> engine = engine_->Get();
  if (!engine.ok()) return FinishNow(context, engine.status());
  if (request->ef() > 4096) {
    return FinishNow(
        context, absl::InvalidArgumentError(absl::StrCat("ef: at most 4096, got ", request->ef())));
  }
  return FinishOnExecutor(
      context, executor_,
      [engine = *engine, request, response]() -> absl::Status {
        const auto start = std::chrono::steady_clock::now();
        index::VerifyOptions options;
        if (request->skip_searches()) {
          options.max_searches = 0;
        } else if (request->max_searches() > 0) {
          options.max_searches = static_cast<size_t>(request->max_searches());
        }
        if (request->ef() > 0) options.ef = static_cast<int>(request->ef());
        ASSIGN_OR_RETURN(index::VerifyReport r, engine->Verify(request->collection(), options));
        response->set_ok(r.ok());
        response->set_storage_points(r.storage_points);
        response->set_index_points(r.index_points);
        response->set_missing_from_index(r.missing_from_index);
        response->set_missing_from_storage(r.missing_from_storage);
        response->set_missing_vectors(r.missing_vectors);
        response->set_searched(r.searched);
        response->set_unreachable(r.unreachable);
        for (const std::string& id : r.missing_from_index_ids) {
          response->add_missing_from_index_ids(id);
        }
        for (uint64_t label : r.missing_from_storage_labels) {
          response->add_missing_from_storage_labels(label);
        }
        for (const std::string& id : r.missing_vector_ids) response->add_missing_vector_ids(id);
        for (const std::string& id : r.unreachable_ids) response->add_unreachable_ids(id);
        response->set_missing_from_lexical(r.missing_from_lexical);
        response->set_lexical_orphans(r.lexical_orphans);
        for (const std::string& id : r.missing_from_lexical_ids) {
          response->add_missing_from_lexical_ids(id);
        }
        for (uint64_t label : r.lexical_orphan_labels) response->add_lexical_orphan_labels(label);
        response->set_seconds(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        if (!r.ok()) {
          spdlog::warn(
              "verify {}: {} missing from index, {} missing from storage, {} without "
              "vector, {} of {} searched unreachable, {} missing from the lexical index, {} "
              "lexical orphans",
              request->collection(), r.missing_from_index, r.missing_from_storage,
              r.missing_vectors, r.unreachable, r.searched, r.missing_from_lexical,
              r.lexical_orphans);
        }
        return absl::OkStatus();
      },
      "admin calls");
}

grpc::ServerUnaryReactor* AdminService::ClusterStatus(grpc::CallbackServerContext* context,
                                                      const v1::ClusterStatusRequest* request,
                                                      v1::ClusterStatusResponse* response) {
  (void)request;
  if (absl::Status s = Admit(context, authorizer_, Method::kClusterStatus, ""); !s.ok()) {
    return FinishNow(context, s);
  }
  if (cluster_ == nullptr) {
    return FinishNow(context, absl::FailedPreconditionError(
                                  "ClusterStatus: single-node mode (no `cluster` section)"));
  }
  cluster::Monitor* monitor = cluster_->monitor();
  if (monitor == nullptr) return FinishNow(context, absl::UnavailableError("recovering"));
  // Reads the bucket over NATS: off gRPC's callback threads.
  return FinishOnExecutor(
      context, executor_,
      [monitor, response]() -> absl::Status {
        ASSIGN_OR_RETURN(std::vector<cluster::PodStatus> pods, monitor->ClusterStatus());
        response->set_answered_by(monitor->status().pod_id);
        for (const cluster::PodStatus& p : pods) {
          v1::ClusterPodStatus* out = response->add_pods();
          out->set_pod_id(p.pod_id);
          out->set_address(p.address);
          out->set_shard_group(static_cast<uint32_t>(std::max(0, p.shard_group)));
          out->set_ready(p.ready);
          out->set_not_ready_reason(p.not_ready_reason);
          out->set_catalog_applied_sequence(p.catalog_applied);
          out->set_catalog_lag(p.catalog_lag);
          out->set_applied_total(p.applied_total);
          out->set_updated_unix_ms(p.updated_unix_ms);
          for (const cluster::CollectionLag& l : p.collections) {
            v1::ClusterCollectionStatus* c = out->add_collections();
            c->set_collection(l.collection);
            c->set_applied_sequence(l.applied);
            c->set_head_sequence(l.head);
            c->set_lag(l.lag);
          }
        }
        return absl::OkStatus();
      },
      "admin calls");
}

}  // namespace ragd::services
