#pragma once
// ragd.v1.Admin over the gRPC callback API: operator actions on the server as a whole (not to be
// confused with the admin HTTP port of admin_server.h). CreateBackup writes a backup
// (index/engine/backup.h) into a directory on the server's filesystem; it runs on the bounded
// executor, since a checkpoint flushes memtables and links or copies every file.

#include <grpcpp/grpcpp.h>

#include "ragd/v1/admin.grpc.pb.h"
#include "services/bounded_executor.h"
#include "services/engine_handle.h"

namespace ragd::services {

class AdminService final : public v1::Admin::CallbackService {
 public:
  // No pointer is owned; both must outlive the server.
  AdminService(const EngineHandle* engine, BoundedExecutor* executor)
      : engine_(engine), executor_(executor) {}

  grpc::ServerUnaryReactor* CreateBackup(grpc::CallbackServerContext* context,
                                         const v1::CreateBackupRequest* request,
                                         v1::CreateBackupResponse* response) override;

 private:
  const EngineHandle* engine_;
  BoundedExecutor* executor_;
};

}  // namespace ragd::services
