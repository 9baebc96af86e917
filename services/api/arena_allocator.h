#pragma once
// A gRPC callback MessageAllocator that places a unary call's request and response on one
// protobuf Arena whose first block lives inside the holder: a Search then costs one heap
// allocation for its messages instead of one per message, string and repeated field (the
// 1536-float query, ten hits with their points and legs), and one free instead of a walk of
// destructors. Set per method with the generated SetMessageAllocatorFor_<Method>.
//
// Thread safety: AllocateMessages may be called from any gRPC thread (it keeps no state).
// Ownership: gRPC calls Release() on the holder once the call is done; the messages die with
// the arena. A handler must not keep pointers into either message after Finish().

#include <google/protobuf/arena.h>
#include <grpcpp/support/message_allocator.h>

#include <cstddef>

namespace ragd::services {

// `kInlineBytes`: the arena's first block, inside the holder (Default: 16 KiB, a 1536-d query
// and a k = 10 response with no payload fit). Larger messages take further blocks of up to
// 256 KiB (or their own size), freed together when the call ends.
template <typename Request, typename Response, size_t kInlineBytes = 16 * 1024>
class ArenaMessageAllocator final : public grpc::MessageAllocator<Request, Response> {
 public:
  grpc::MessageHolder<Request, Response>* AllocateMessages() override { return new Holder(); }

 private:
  class Holder final : public grpc::MessageHolder<Request, Response> {
   public:
    Holder() : arena_(Options(block_)) {
      this->set_request(google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(google::protobuf::Arena::CreateMessage<Response>(&arena_));
    }
    void Release() override { delete this; }

   private:
    static google::protobuf::ArenaOptions Options(char* block) {
      google::protobuf::ArenaOptions options;
      options.initial_block = block;
      options.initial_block_size = kInlineBytes;
      options.start_block_size = 16 * 1024;
      options.max_block_size = 256 * 1024;
      return options;
    }
    // Declared before arena_: the arena's first block must exist before the arena.
    alignas(std::max_align_t) char block_[kInlineBytes];
    google::protobuf::Arena arena_;
  };
};

}  // namespace ragd::services
