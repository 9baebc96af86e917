#include "services/api/async_search.h"

#include <grpcpp/impl/codegen/proto_utils.h>

#include <algorithm>
#include <utility>

#include "services/api/convert.h"
#include "services/api/points_service.h"
#include "services/api/unparsed_request.h"

namespace ragd::services {
SearchCall::SearchCall(SearchPollers* pollers, PointsService* points, int queue)
    : pollers_(pollers),
      points_(points),
      queue_(queue),
      arena_(ArenaOptionsFor(block_)),
      request_(google::protobuf::Arena::CreateMessage<v1::SearchRequest>(&arena_)),
      response_(google::protobuf::Arena::CreateMessage<v1::SearchResponse>(&arena_)),
      writer_(&context_),
      request_tag_{this, Tag::Kind::kRequest},
      finish_tag_{this, Tag::Kind::kFinish},
      done_tag_{this, Tag::Kind::kDone} {
  // Delivered once the call is over: sent its status, was cancelled or hit its deadline. A
  // queued search reads it (over()) instead of IsCancelled(), which the async API allows only
  // after this tag came back.
  context_.AsyncNotifyWhenDone(&done_tag_);
}

SearchCall::~SearchCall() = default;

google::protobuf::ArenaOptions SearchCall::ArenaOptionsFor(char* block) {
  google::protobuf::ArenaOptions options;
  options.initial_block = block;
  options.initial_block_size = kInlineBytes;
  options.start_block_size = 16 * 1024;
  options.max_block_size = 256 * 1024;
  return options;
}

void SearchCall::OnTag(Tag* tag, bool ok) {
  SearchCall* call = tag->call;
  switch (tag->kind) {
    case Tag::Kind::kRequest:
      if (!ok) {
        // The server is shutting down: no call arrived, and no other tag will come.
        delete call;
        return;
      }
      {
        // Start() may delete the call (its finish tag can come back on another poller).
        SearchPollers* pollers = call->pollers_;
        const int queue = call->queue_;
        call->Start();
        // Only now: while this poller ran the search, new calls went to a free one.
        pollers->RequestNext(queue);
      }
      return;
    case Tag::Kind::kFinish:
      call->Release();
      return;
    case Tag::Kind::kDone:
      call->over_.store(true, std::memory_order_release);
      call->Release();
      return;
  }
}

void SearchCall::Start() {
  std::string utf8_field;
  if (!ParseRawRequest(&request_bytes_, request_, &utf8_field)) {
    Finish(RefuseUnparsed(points_->authorizer(), &context_.client_metadata(),
                          "/ragd.v1.Points/Search", utf8_field));
    return;
  }
  points_->Search(this);
}

void SearchCall::Finish(const absl::Status& status) {
  bool issued = false;
  if (status.ok()) {
    grpc::ByteBuffer bytes;
    bool own_buffer = false;
    grpc::Status serialized = grpc::SerializationTraits<google::protobuf::Message>::Serialize(
        *response_, &bytes, &own_buffer);
    if (serialized.ok()) {
      issued = pollers_->IfOpen([&] { writer_.Finish(bytes, grpc::Status::OK, &finish_tag_); });
    } else {
      issued = pollers_->IfOpen([&] {
        writer_.FinishWithError(
            grpc::Status(grpc::StatusCode::INTERNAL, "cannot serialize the response"),
            &finish_tag_);
      });
    }
  } else {
    grpc::Status error = ToGrpcStatus(status);
    issued = pollers_->IfOpen([&] { writer_.FinishWithError(error, &finish_tag_); });
  }
  // From here on `this` may be gone (a poller got the finish tag), unless nothing was issued.
  if (!issued) Release();
}

void SearchCall::Release() {
  if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

SearchPollers::SearchPollers(PointsService* points, grpc::ServerBuilder* builder, int threads)
    : points_(points) {
  for (int i = 0; i < std::max(1, threads); ++i) queues_.push_back(builder->AddCompletionQueue());
}

SearchPollers::~SearchPollers() { Shutdown(); }

void SearchPollers::Start() {
  pollers_.reserve(queues_.size());
  for (int i = 0; i < static_cast<int>(queues_.size()); ++i) {
    RequestNext(i);
    pollers_.emplace_back([this, i] { Poll(i); });
  }
}

void SearchPollers::RequestNext(int queue) {
  auto* call = new SearchCall(this, points_, queue);
  grpc::ServerCompletionQueue* cq = queues_[queue].get();
  if (!IfOpen([&] {
        points_->RequestSearch(&call->context_, &call->request_bytes_, &call->writer_, cq, cq,
                               &call->request_tag_);
      })) {
    delete call;
  }
}

void SearchPollers::Poll(int queue) {
  void* tag = nullptr;
  bool ok = false;
  while (queues_[queue]->Next(&tag, &ok)) SearchCall::OnTag(static_cast<SearchCall::Tag*>(tag), ok);
}

void SearchPollers::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    for (auto& cq : queues_) cq->Shutdown();
  }
  if (pollers_.empty()) {
    // Never started: drain here (nothing was asked for, so nothing comes back).
    for (int i = 0; i < static_cast<int>(queues_.size()); ++i) Poll(i);
    return;
  }
  for (std::thread& t : pollers_) t.join();
  pollers_.clear();
}

}  // namespace ragd::services
