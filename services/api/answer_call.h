#pragma once
// One ragd.v1.Retrieval/Answer call at the gRPC edge: the request converted into a
// rag::AnswerPlan, the call run by rag::Answer (rag/answerer.h: retrieval, source selection,
// prompts, the models' streams and the answer deadline), and its events relayed to the client
// as AnswerEvents, one write at a time. The event order and status rules are those of
// retrieval.proto.
//
// There is no coordinator: the reactor's writes are started from whichever thread queued an
// event (a search worker, a model thread in its delta callback) or from gRPC's OnWriteDone.
//
// Backpressure: a model's text waiting to be written is coalesced into one pending delta event
// per model, and a model's thread blocks in its delta callback while that pending text exceeds
// kMaxPendingBytesPerModel, so a slow reader bounds memory at about that much per model (the
// upstream connection is then throttled by TCP). The client's cancellation and a failed write
// cancel the rag::Answer, which closes the upstream connections at once.

#include <grpcpp/grpcpp.h>

#include <cstddef>

#include <functional>

#include "rag/answerer.h"
#include "ragd/v1/retrieval.pb.h"

namespace ragd::services {

// Starts the call and returns its reactor, which deletes itself. Refused at once (the reactor
// only finishes) for a request that fails MakeAnswerPlan or beyond
// retrieval.max_concurrent_answers. `before_retrieval` (may be empty): the read consistency
// wait (rag::AnswerPlan::before_retrieval); its value is the sources event's
// applied_sequence; `may_wait`: it may block (the call is then not prepared inline).
grpc::ServerWriteReactor<v1::AnswerEvent>* StartAnswer(
    const rag::AnswerResources& resources, grpc::CallbackServerContext* server_context,
    const v1::AnswerRequest* request,
    std::function<absl::StatusOr<uint64_t>()> before_retrieval = {}, bool may_wait = false);

// Text of one model waiting to be written before its delta callback blocks.
inline constexpr size_t kMaxPendingBytesPerModel = 64 * 1024;

}  // namespace ragd::services
