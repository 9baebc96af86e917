#pragma once
// Points.Search over gRPC's completion-queue ("async") API instead of the callback API.
//
// Why: through gRPC 1.51's callback API a request is read by one of gRPC's "nexting" threads
// and its handler run after further hand-offs between gRPC's threads; here a thread of ragd's
// own takes the request off its queue, runs the search and writes the answer. Measured on the
// 2-vCPU VM (bench/README.md, "Search on a completion queue"): 3.9 -> 3.2 voluntary context
// switches per Search, server CPU per call unchanged within the noise of the loaded machine.
// A server whose methods were all on completion queues would take one switch per call (an
// empty handler: ~70 us of server CPU against ~100 us through callbacks), but any callback
// method in the process starts the nexting threads, which then do the socket reads for every
// queue: the other methods would have to leave the callback API first. Search is the one hot
// unary method, so it alone moved; SearchBatch and the rest stay callbacks.
//
// Search is registered *raw* (bytes in and out): gRPC's async API answers a request that does
// not parse with INTERNAL "Unable to parse request" before any code of ours runs, which would
// break the status contract of unparsed_request.h; here the bytes are parsed (onto the call's
// arena) by SearchCall, and a failure gets RefuseUnparsed's status.
//
// What the callback path guaranteed and this keeps: the interceptors run on these calls too
// (CallObserver: metrics, access log, request id, calls in flight), the handler's prologue
// (Admit), RESOURCE_EXHAUSTED when the search executor is full, the max message sizes (gRPC's
// core enforces them for raw methods alike), deadlines and cancellation (a queued search whose
// call is over is not run), and cluster routing (PointsService::Search).
//
// Shutdown order (grpc::CompletionQueue: no operation may be started once Shutdown was called
// on it): grpc::Server::Shutdown, then the executors that may still finish calls (they run
// their queued tasks), then SearchPollers::Shutdown, which shuts the queue down and drains it.

#include <google/protobuf/arena.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "ragd/v1/points.grpc.pb.h"

namespace ragd::services {

class PointsService;
class SearchPollers;

// One Points.Search call, from the moment gRPC is asked for it until its last tag comes back.
// Its request and response live on one arena whose first block is inside the call (as
// arena_allocator.h does for the callback methods): one heap allocation per call.
//
// Thread safety: Finish() may be called from any thread, once; over() from any thread.
class SearchCall {
 public:
  grpc::ServerContext* context() { return &context_; }
  const v1::SearchRequest& request() const { return *request_; }
  v1::SearchResponse* response() { return response_; }
  // True once gRPC has reported the call over before it was answered: the client cancelled,
  // its deadline passed or its connection closed. A search still queued then is not run.
  bool over() const { return over_.load(std::memory_order_acquire); }
  // Answers the call: the response when `status` is OK, else `status` (ToGrpcStatus). The call
  // may be deleted before this returns; touch nothing of it afterwards.
  void Finish(const absl::Status& status);

 private:
  friend class SearchPollers;
  // What a tag on the queue points to: the call and which of its operations completed.
  struct Tag {
    enum class Kind { kRequest, kFinish, kDone };
    SearchCall* call;
    Kind kind;
  };
  // The arena's first block (Default: 16 KiB: a 1536-d query and a k = 10 response with no
  // payload fit); larger messages take further blocks, freed with the call.
  static constexpr size_t kInlineBytes = 16 * 1024;

  SearchCall(SearchPollers* pollers, PointsService* points, int queue);
  ~SearchCall();
  static google::protobuf::ArenaOptions ArenaOptionsFor(char* block);
  // On a poller: `tag` came back from the queue with `ok`.
  static void OnTag(Tag* tag, bool ok);
  // The request arrived: parse it and hand it to PointsService::Search.
  void Start();
  // One of the two tags of a started call (finish, done) is back: the second deletes the call.
  void Release();

  SearchPollers* const pollers_;
  PointsService* const points_;
  const int queue_;  // the index of the queue it came from, which asks for the next call
  // Declared before arena_: the arena's first block must exist before the arena.
  alignas(std::max_align_t) char block_[kInlineBytes];
  google::protobuf::Arena arena_;
  v1::SearchRequest* const request_;
  v1::SearchResponse* const response_;
  grpc::ServerContext context_;
  grpc::ByteBuffer request_bytes_;
  grpc::ServerAsyncResponseWriter<grpc::ByteBuffer> writer_;
  Tag request_tag_;
  Tag finish_tag_;
  Tag done_tag_;
  // The tags still to come back once the call started: finish and done. Both may come back
  // on different pollers, the done tag even before the request tag was handled (a client that
  // cancels at once), hence set before the call is requested.
  std::atomic<int> pending_{2};
  std::atomic<bool> over_{false};
};

// The completion queues of Points.Search, one per polling thread.
//
// One thread per queue, and each queue asks gRPC for one call at a time, again only once the
// handler returned (after a search run inline): a new call is matched to a queue whose thread
// is free, and waits inside gRPC while every poller runs a search. Two threads sharing one
// queue woke each other on its lock on every call (strace: 4.6 context switches per call
// instead of ~3), and queues asking ahead took calls that then waited behind a search.
//
// Thread safety: the constructor, Start() and Shutdown() are called from the thread that
// builds and stops the server, in that order; the rest runs on the pollers and on the search
// executor's workers.
class SearchPollers {
 public:
  // Adds `threads` (>= 1) completion queues to `builder`: call before builder.BuildAndStart(),
  // after registering `points`. Each poller may run one search inline
  // (PointsService::Search). `points` outlives this object.
  SearchPollers(PointsService* points, grpc::ServerBuilder* builder, int threads);
  // Shutdown() if not done.
  ~SearchPollers();
  SearchPollers(const SearchPollers&) = delete;
  SearchPollers& operator=(const SearchPollers&) = delete;

  // After builder.BuildAndStart() succeeded: asks gRPC for the first calls and starts the
  // pollers.
  void Start();
  // After grpc::Server::Shutdown() returned and every executor that may finish a search was
  // shut down: shuts the queues down, drains them and joins the pollers. Idempotent. When
  // Start() was never called, only shuts the queues down and drains them.
  void Shutdown();

  // Internal (SearchCall): runs `op` (which starts an operation on a queue) unless the queues
  // are shut down; false when it did not run. An operation on a queue after its Shutdown is a
  // crash in gRPC, hence the lock.
  template <typename Op>
  bool IfOpen(Op&& op) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    op();
    return true;
  }

 private:
  friend class SearchCall;
  // Asks gRPC for the next call on queue `queue` unless the queues are shut down.
  void RequestNext(int queue);
  void Poll(int queue);

  PointsService* const points_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues_;
  std::mutex mu_;
  bool closed_ = false;  // under mu_: the queues were shut down
  std::vector<std::thread> pollers_;
};

}  // namespace ragd::services
