#include "services/admin_service.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "services/handler_util.h"

namespace ragd::services {
namespace {

constexpr const char* kCreateBackup = "Admin.CreateBackup";

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

}  // namespace

grpc::ServerUnaryReactor* AdminService::CreateBackup(grpc::CallbackServerContext* context,
                                                     const v1::CreateBackupRequest* request,
                                                     v1::CreateBackupResponse* response) {
  if (absl::Status s = Authorize(context, kCreateBackup, ""); !s.ok()) {
    return FinishNow(context, s);
  }
  absl::StatusOr<index::Engine*> engine = engine_->Get();
  if (!engine.ok()) return FinishNow(context, engine.status());
  // A backup copies every collection, so a key limited to some of them may not take one.
  for (const index::CollectionInfo& info : (*engine)->ListCollections()) {
    if (absl::Status s = AuthorizeCollection(context, kCreateBackup, info.spec.name); !s.ok()) {
      return FinishNow(context, absl::PermissionDeniedError(absl::StrCat(
                                    std::string(s.message()),
                                    "; a backup holds every collection and needs an unscoped "
                                    "admin key")));
    }
  }
  if (request->directory().empty()) {
    return FinishNow(context, absl::InvalidArgumentError("directory: must not be empty"));
  }
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

}  // namespace ragd::services
