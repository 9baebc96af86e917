#pragma once
// Requests that do not parse as their method's message answer INVALID_ARGUMENT saying what is
// wrong, never UNIMPLEMENTED.
//
// gRPC 1.51's callback server parses a unary or server-streaming request before the handler
// runs; when the bytes are not a valid message (a `string` field that is not UTF-8, messages
// nested deeper than protobuf's recursion limit of 100, corrupt bytes) it never calls the
// handler and finishes the call UNIMPLEMENTED with an empty message
// (grpcpp/impl/codegen/server_callback_handlers.h, CallbackUnaryHandler::RunHandler), which tells
// clients and retry policies that the method does not exist. Two pieces restore the contract:
//  - UnparsedRequestGuardFactory, a server interceptor: it sees the request arrive as nullptr
//    (POST_RECV_MESSAGE) and rewrites that call's UNIMPLEMENTED status (PRE_SEND_STATUS), to
//    the caller's authorization error when the key does not allow the method (a caller without
//    a valid key learns nothing about the request's shape), to INVALID_ARGUMENT otherwise.
//    It must be the first interceptor, so that the call observer records the rewritten status.
//  - For client-streaming methods a message that does not parse looks exactly like the end of
//    the stream to a typed reader (OnReadDone(false)), so that documents would be dropped
//    silently: those methods read raw bytes and parse them with ParseRequest().
// Protobuf names the field of a UTF-8 error only in a log line, printed from inside the parse;
// InstallParseErrorCapture() routes that line to the parsing thread, where the interceptor
// (which gRPC runs on the thread that parsed) and ParseRequest() take it; other protobuf log
// lines go where they went before.

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_interceptor.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "services/api/methods.h"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace ragd::services {

// Routes protobuf's "invalid UTF-8" parse errors to the parsing thread instead of stderr (one
// log line per bad request would let any client flood the log). Idempotent, thread-safe.
void InstallParseErrorCapture();

// The INVALID_ARGUMENT for a request that did not parse as `message_type` (a full protobuf
// name, e.g. "ragd.v1.UpsertRequest"): names the field when protobuf reported one on this
// thread since the last call (consuming it), else lists what can cause it.
absl::Status UnparsedRequestError(std::string_view message_type);

// Parses `buffer` into `message` (the buffer is left intact); on failure INVALID_ARGUMENT as
// UnparsedRequestError, prefixed with `what` (e.g. "message 3 of the stream").
absl::Status ParseRequest(const grpc::ByteBuffer& buffer, google::protobuf::Message* message,
                          std::string_view what);

// Serializes `message` into `buffer`: how a raw method writes its typed response. INTERNAL
// when the message cannot be serialized (larger than 2 GiB).
absl::Status SerializeResponse(const google::protobuf::Message& message,
                               grpc::ByteBuffer* buffer);

class UnparsedRequestGuardFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `authorizer` is not owned and may be null (every call allowed); it outlives the server.
  explicit UnparsedRequestGuardFactory(const Authorizer* authorizer);
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  const Authorizer* authorizer_;
};

}  // namespace ragd::services
