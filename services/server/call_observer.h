#pragma once
// Observes every gRPC call in one place, as a server interceptor: RPC counters and latency
// (metrics.h), the access log line (logging.h) and the request id. Interceptors cannot reject
// calls in gRPC 1.51, which is why authorization is not here but in every handler's prologue
// (Admit, services/api/methods.h).
//
// The request id is the client's `x-request-id` metadata (printable ASCII, at most 64 bytes;
// anything else is replaced) or a new random one; it is echoed in the response's initial
// metadata when the client sent it, or when the call's access line is written (a new id that
// no log line carries is not sent). Ingest summaries and Answer final events are read on their
// way out, so that the ingest and chat metrics need no hook inside the services.

#include <grpcpp/support/server_interceptor.h>

#include <atomic>
#include <cstdint>
#include <memory>

#include "services/server/auth.h"
#include "services/server/metrics.h"

namespace ragd::services {

class CallObserverFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // No pointer is owned; all outlive the server. `policy` may be null. `in_flight`, when not
  // null, counts the calls that exist: +1 when a call's observer is created, -1 when gRPC
  // destroys the call (after its last operation), so that a shutdown knows when nothing is
  // left to drain (RagdServer::Shutdown).
  CallObserverFactory(Metrics* metrics, const AccessPolicy* policy,
                      std::atomic<int64_t>* in_flight = nullptr)
      : metrics_(metrics), policy_(policy), in_flight_(in_flight) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  Metrics* metrics_;
  const AccessPolicy* policy_;
  std::atomic<int64_t>* in_flight_;
};

}  // namespace ragd::services
