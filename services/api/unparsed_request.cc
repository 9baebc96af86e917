#include "services/api/unparsed_request.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/stubs/logging.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/proto_utils.h>

#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "services/api/convert.h"

namespace ragd::services {
namespace {

using grpc::experimental::InterceptionHookPoints;

// The field protobuf last named in a UTF-8 parse error on this thread ("ragd.v1.Point.id").
thread_local std::string last_utf8_field;

google::protobuf::LogHandler* previous_handler = nullptr;

// protobuf 3.21 (wire_format_lite.cc, PrintUTF8ErrorLog): "String field 'FIELD' contains invalid
// UTF-8 data when parsing a protocol buffer. ..." at ERROR level.
void CaptureParseErrors(google::protobuf::LogLevel level, const char* filename, int line,
                        const std::string& message) {
  constexpr std::string_view kPrefix = "String field '";
  constexpr std::string_view kParsing = "invalid UTF-8 data when parsing";
  if (level == google::protobuf::LOGLEVEL_ERROR && message.rfind(kPrefix, 0) == 0 &&
      message.find(kParsing) != std::string::npos) {
    const size_t end = message.find('\'', kPrefix.size());
    if (end != std::string::npos && end - kPrefix.size() <= 256) {
      last_utf8_field = message.substr(kPrefix.size(), end - kPrefix.size());
      return;
    }
  }
  if (previous_handler != nullptr) previous_handler(level, filename, line, message);
}

std::string TakeUtf8Field() {
  std::string field;
  field.swap(last_utf8_field);
  return field;
}

absl::Status UnparsedError(std::string_view message_type, const std::string& utf8_field) {
  if (!utf8_field.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "request is not a valid ", std::string(message_type), ": string field ", utf8_field,
        " is not valid UTF-8 (send text as UTF-8; binary data as bytes)"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "request is not a valid ", std::string(message_type),
      ": malformed protobuf encoding, a string field that is not valid UTF-8, or messages "
      "nested deeper than protobuf's limit of 100 (e.g. filters)"));
}

// "/ragd.v1.Points/Upsert" -> "ragd.v1.Points.Upsert" (the method's full protobuf name).
std::string FullMethodName(std::string_view path) {
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  return absl::StrReplaceAll(std::string(path), {{"/", "."}});
}

class UnparsedRequestGuard final : public grpc::experimental::Interceptor {
 public:
  UnparsedRequestGuard(grpc::experimental::ServerRpcInfo* info, const Authorizer* authorizer)
      : info_(info), authorizer_(authorizer) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    // Only unary and server-streaming requests are parsed by gRPC before the handler; a
    // stream's reads end with nullptr too, at its end.
    const bool one_request = info_->type() == grpc::experimental::ServerRpcInfo::Type::UNARY ||
                             info_->type() ==
                                 grpc::experimental::ServerRpcInfo::Type::SERVER_STREAMING;
    if (one_request &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        !saw_request_) {
      saw_request_ = true;
      if (methods->GetRecvMessage() == nullptr) {
        unparsed_ = true;
        utf8_field_ = TakeUtf8Field();
      } else {
        last_utf8_field.clear();  // a parse that logged and still succeeded: nothing to carry
      }
    }
    if (unparsed_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) &&
        methods->GetSendStatus().error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      methods->ModifySendStatus(ToGrpcStatus(Rewrite()));
    }
    methods->Proceed();
  }

 private:
  absl::Status Rewrite() {
    const std::string method = FullMethodName(info_->method());
    std::string_view short_name = method;
    if (short_name.rfind("ragd.v1.", 0) == 0) short_name.remove_prefix(8);
    const MethodSpec* spec = FindMethod(short_name);
    if (authorizer_ != nullptr && info_->server_context() != nullptr) {
      // Unknown methods are admin-only; the collection is unknown (the request did not parse).
      MethodSpec fallback{short_name, Role::kAdmin, ""};
      absl::Status allowed = authorizer_->Check(info_->server_context()->client_metadata(),
                                                spec != nullptr ? *spec : fallback, "",
                                                /*consume=*/true);
      if (!allowed.ok()) return allowed;
    }
    const google::protobuf::MethodDescriptor* descriptor =
        google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(method);
    const std::string type =
        descriptor != nullptr ? descriptor->input_type()->full_name() : std::string("request");
    return UnparsedError(type, utf8_field_);
  }

  grpc::experimental::ServerRpcInfo* info_;
  const Authorizer* authorizer_;
  bool saw_request_ = false;
  bool unparsed_ = false;
  std::string utf8_field_;
};

}  // namespace

void InstallParseErrorCapture() {
  static std::once_flag once;
  std::call_once(once, [] { previous_handler = google::protobuf::SetLogHandler(&CaptureParseErrors); });
}

absl::Status UnparsedRequestError(std::string_view message_type) {
  return UnparsedError(message_type, TakeUtf8Field());
}

absl::Status ParseRequest(const grpc::ByteBuffer& buffer, google::protobuf::Message* message,
                          std::string_view what) {
  grpc::ByteBuffer copy(buffer);  // shares the slices; Deserialize consumes the copy
  last_utf8_field.clear();
  if (grpc::SerializationTraits<google::protobuf::Message>::Deserialize(&copy, message).ok()) {
    last_utf8_field.clear();
    return absl::OkStatus();
  }
  absl::Status error = UnparsedRequestError(message->GetDescriptor()->full_name());
  return absl::InvalidArgumentError(absl::StrCat(std::string(what), ": ", error.message()));
}

absl::Status SerializeResponse(const google::protobuf::Message& message,
                               grpc::ByteBuffer* buffer) {
  bool own_buffer = false;
  grpc::Status s =
      grpc::SerializationTraits<google::protobuf::Message>::Serialize(message, buffer, &own_buffer);
  if (!s.ok()) {
    return absl::InternalError(absl::StrCat("cannot serialize the response: ", s.error_message()));
  }
  return absl::OkStatus();
}

UnparsedRequestGuardFactory::UnparsedRequestGuardFactory(const Authorizer* authorizer)
    : authorizer_(authorizer) {
  InstallParseErrorCapture();
}

grpc::experimental::Interceptor* UnparsedRequestGuardFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new UnparsedRequestGuard(info, authorizer_);
}

}  // namespace ragd::services
