#pragma once
// Small pieces every handler of the callback services uses: request-shape checks that name the
// field, and running blocking work on the bounded executor.

#include <utility>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "services/bounded_executor.h"
#include "services/convert.h"

namespace ragd::services {

// [A-Za-z0-9_-]{1,64}; INVALID_ARGUMENT naming `field` otherwise.
absl::Status ValidateCollectionName(absl::string_view field, absl::string_view name);

// Finishes the call at once with `status`.
inline grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                           const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// Runs `work` (returning absl::Status) on `executor` and finishes the call with its result.
// The request and response stay valid until Finish(), so `work` may use them. A full queue is
// RESOURCE_EXHAUSTED: a client should back off rather than pile up writes in memory.
template <typename Work>
grpc::ServerUnaryReactor* FinishOnExecutor(grpc::CallbackServerContext* context,
                                           BoundedExecutor* executor, Work work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  bool queued = executor->TrySubmit([context, reactor, work = std::move(work)]() mutable {
    // A call the client gave up on while it waited is not started: it was never acknowledged.
    if (context->IsCancelled()) {
      reactor->Finish(ToGrpcStatus(absl::CancelledError("cancelled while queued")));
      return;
    }
    reactor->Finish(ToGrpcStatus(work()));
  });
  if (!queued) {
    reactor->Finish(ToGrpcStatus(absl::ResourceExhaustedError("too many writes queued; retry")));
  }
  return reactor;
}

}  // namespace ragd::services
