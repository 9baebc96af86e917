#pragma once
// ragd.v1.Admin over the gRPC callback API: operator actions on the server as a whole (not to be
// confused with the admin HTTP port of admin_server.h). CreateBackup writes a backup
// (index/engine/backup.h) into a directory on the server's filesystem; it runs on the bounded
// executor, since a checkpoint flushes memtables and links or copies every file.

#include <grpcpp/grpcpp.h>

#include "common/concurrency/bounded_executor.h"
#include "rag/engine_handle.h"
#include "ragd/v1/admin.grpc.pb.h"
#include "services/api/cluster_writes.h"
#include "services/api/methods.h"

namespace ragd::services {

class AdminService final : public v1::Admin::CallbackService {
 public:
  // No pointer is owned; both must outlive the server.
  // `authorizer` may be null (every call allowed).
  // `cluster` may be null (single-node mode: ClusterStatus is FAILED_PRECONDITION).
  AdminService(const Authorizer* authorizer, const rag::EngineHandle* engine,
               concurrency::BoundedExecutor* executor, const ClusterWrites* cluster = nullptr)
      : authorizer_(authorizer), engine_(engine), executor_(executor), cluster_(cluster) {}

  grpc::ServerUnaryReactor* CreateBackup(grpc::CallbackServerContext* context,
                                         const v1::CreateBackupRequest* request,
                                         v1::CreateBackupResponse* response) override;
  grpc::ServerUnaryReactor* VerifyCollection(grpc::CallbackServerContext* context,
                                             const v1::VerifyCollectionRequest* request,
                                             v1::VerifyCollectionResponse* response) override;
  grpc::ServerUnaryReactor* ClusterStatus(grpc::CallbackServerContext* context,
                                          const v1::ClusterStatusRequest* request,
                                          v1::ClusterStatusResponse* response) override;

 private:
  const Authorizer* authorizer_;
  const rag::EngineHandle* engine_;
  concurrency::BoundedExecutor* executor_;
  const ClusterWrites* cluster_;
};

}  // namespace ragd::services
