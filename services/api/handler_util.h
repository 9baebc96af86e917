#pragma once
// Small pieces every handler of the callback services uses: request-shape checks that name the
// field, and running blocking work on the bounded executor.

#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/concurrency/bounded_executor.h"
#include "services/api/convert.h"
#include "services/api/methods.h"

namespace ragd::services {

// A server-streaming call refused before it starts: finishes with `status` at once.
template <typename Response>
grpc::ServerWriteReactor<Response>* RefuseWriter(const absl::Status& status) {
  class Refused final : public grpc::ServerWriteReactor<Response> {
   public:
    explicit Refused(grpc::Status s) { this->Finish(std::move(s)); }
    void OnDone() override { delete this; }
  };
  return new Refused(ToGrpcStatus(status));
}

// A client-streaming call refused before it reads anything.
template <typename Request>
grpc::ServerReadReactor<Request>* RefuseReader(const absl::Status& status) {
  class Refused final : public grpc::ServerReadReactor<Request> {
   public:
    explicit Refused(grpc::Status s) { this->Finish(std::move(s)); }
    void OnDone() override { delete this; }
  };
  return new Refused(ToGrpcStatus(status));
}

// Finishes the call at once with `status`.
inline grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                           const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

namespace internal {
// Queues `work` on `executor`; the worker finishes `reactor` with its result. A full queue
// finishes it at once with RESOURCE_EXHAUSTED.
template <typename Work>
void QueueOnExecutor(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
                     concurrency::BoundedExecutor* executor, Work work, absl::string_view what) {
  bool queued = executor->TrySubmit([context, reactor, work = std::move(work)]() mutable {
    // A call the client gave up on while it waited is not started: it was never acknowledged.
    if (context->IsCancelled()) {
      reactor->Finish(ToGrpcStatus(absl::CancelledError("cancelled while queued")));
      return;
    }
    reactor->Finish(ToGrpcStatus(work()));
  });
  if (!queued) {
    reactor->Finish(ToGrpcStatus(
        absl::ResourceExhaustedError(absl::StrCat("too many ", what, " queued; retry"))));
  }
}
}  // namespace internal

// Runs `work` (returning absl::Status) on `executor` and finishes the call with its result.
// The request and response stay valid until Finish(), so `work` may use them. A full queue is
// RESOURCE_EXHAUSTED ("too many <what> queued; retry"): a client should back off rather than
// pile up work in memory.
template <typename Work>
grpc::ServerUnaryReactor* FinishOnExecutor(grpc::CallbackServerContext* context,
                                           concurrency::BoundedExecutor* executor, Work work,
                                           absl::string_view what = "writes") {
  // DefaultReactor() constructs the reactor in place: once per call only.
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  internal::QueueOnExecutor(context, reactor, executor, std::move(work), what);
  return reactor;
}

// FinishOnExecutor for short CPU-bound work (a search): runs it on this gRPC thread when the
// executor has idle capacity (concurrency::BoundedExecutor::TryRunInline), saving the hand-off to a
// worker; queues it like FinishOnExecutor otherwise.
template <typename Work>
grpc::ServerUnaryReactor* FinishInlineOrOnExecutor(grpc::CallbackServerContext* context,
                                                   concurrency::BoundedExecutor* executor,
                                                   Work work, absl::string_view what) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!executor->TryRunInline([&] { reactor->Finish(ToGrpcStatus(work())); })) {
    internal::QueueOnExecutor(context, reactor, executor, std::move(work), what);
  }
  return reactor;
}

}  // namespace ragd::services
