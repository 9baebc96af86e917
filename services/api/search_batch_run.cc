#include "services/api/search_batch_run.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/api/handler_util.h"

namespace ragd::services {
namespace {

class BatchRun {
 public:
  BatchRun(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor, int searches,
           int participants, std::function<absl::Status(int)> run_one)
      : context_(context),
        reactor_(reactor),
        run_one_(std::move(run_one)),
        statuses_(searches),
        participants_(participants) {}

  void Participate() {
    const int n = static_cast<int>(statuses_.size());
    for (int i = next_.fetch_add(1); i < n; i = next_.fetch_add(1)) {
      if (i > failed_at_.load(std::memory_order_relaxed)) break;
      statuses_[i] = context_->IsCancelled() ? absl::CancelledError("cancelled") : run_one_(i);
      if (!statuses_[i].ok()) {
        int seen = failed_at_.load(std::memory_order_relaxed);
        while (i < seen && !failed_at_.compare_exchange_weak(seen, i)) {
        }
      }
    }
    Leave();
  }

  // Also called for a participant that never ran (its task was refused by the executor).
  void Leave() {
    if (participants_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    const int failed = failed_at_.load();
    if (failed != INT_MAX) {
      reactor_->Finish(ToGrpcStatus(InBatch(failed, statuses_[failed])));
    } else if (next_.load() == 0) {
      // Every participant was refused: nothing ran.
      reactor_->Finish(
          ToGrpcStatus(absl::ResourceExhaustedError("too many searches queued; retry")));
    } else {
      reactor_->Finish(grpc::Status::OK);
    }
  }

 private:
  grpc::CallbackServerContext* const context_;
  grpc::ServerUnaryReactor* const reactor_;
  const std::function<absl::Status(int)> run_one_;
  // statuses_[i] is written by the one participant that claimed i and read by the last to
  // leave (the acq_rel decrement orders them).
  std::vector<absl::Status> statuses_;
  std::atomic<int> next_{0};
  std::atomic<int> failed_at_{INT_MAX};
  std::atomic<int> participants_;
};

}  // namespace

absl::Status InBatch(int index, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat("searches[", index, "]: ", status.message()));
}

void RunSearchBatch(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
                    concurrency::BoundedExecutor* executor, int searches,
                    std::function<absl::Status(int)> run_one) {
  const int participants = std::min(searches, executor->threads());
  auto run = std::make_shared<BatchRun>(context, reactor, searches, participants,
                                        std::move(run_one));
  for (int p = 0; p < participants; ++p) {
    if (!executor->TrySubmit([run] { run->Participate(); })) run->Leave();
  }
}

}  // namespace ragd::services
