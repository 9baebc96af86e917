#include "services/server/call_observer.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/message.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "common/status.h"
#include "ragd/v1/ingest.pb.h"
#include "ragd/v1/retrieval.pb.h"
#include "services/server/logging.h"

namespace ragd::services {
namespace {

using grpc::experimental::InterceptionHookPoints;

constexpr std::string_view kIngestDocuments = "/ragd.v1.Ingest/IngestDocuments";

const char* CodeName(grpc::StatusCode code) { return CanonicalCodeName(static_cast<int>(code)); }

std::string NewRequestId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return absl::StrFormat("%016x", rng());
}

// A client's id is logged verbatim, so it must not be able to forge log lines or grow them.
bool UsableRequestId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

class CallObserver final : public grpc::experimental::Interceptor {
 public:
  CallObserver(grpc::experimental::ServerRpcInfo* info, Metrics* metrics,
               const AccessPolicy* policy, std::atomic<int64_t>* in_flight)
      : info_(info),
        metrics_(metrics),
        policy_(policy),
        in_flight_(in_flight),
        method_(MethodLabel(info->method())),
        start_(std::chrono::steady_clock::now()) {
    ragd_method_ = absl::StartsWith(method_, "/ragd.v1.");
    if (in_flight_ != nullptr) in_flight_->fetch_add(1, std::memory_order_relaxed);
  }
  ~CallObserver() override {
    if (in_flight_ != nullptr) in_flight_->fetch_sub(1, std::memory_order_release);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      OnMetadata(*methods->GetRecvInitialMetadata());
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        !saw_request_) {
      saw_request_ = true;
      if (method_ == kIngestDocuments) {
        OnRawStreamRequest(static_cast<const grpc::ByteBuffer*>(methods->GetRecvMessage()));
      } else if (ragd_method_) {
        OnRequest(methods->GetRecvMessage());
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      // The client's own id always comes back. A new one only when an access line will carry
      // it: otherwise it names nothing, and a fresh header value on every response is work for
      // both ends (HPACK cannot index it; the client parses and stores it).
      if (request_id_.empty() && AccessLogEnabled(method_)) request_id_ = NewRequestId();
      if (!request_id_.empty()) {
        methods->GetSendInitialMetadata()->emplace("x-request-id", request_id_);
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE) &&
        ragd_method_) {
      OnResponse(methods->GetSendMessage());
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      OnStatus(methods->GetSendStatus());
    }
    methods->Proceed();
  }

 private:
  void OnMetadata(const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) {
    if (auto it = metadata.find("x-request-id"); it != metadata.end()) {
      absl::string_view id(it->second.data(), it->second.size());
      if (UsableRequestId(id)) request_id_ = std::string(id);
    }
    if (policy_ != nullptr && policy_->enabled()) key_ = policy_->KeyName(metadata);
  }

  // Every ragd.v1 message is a generated protobuf class, whose only base is Message, so the
  // pointer gRPC hands over is a Message.
  void OnRequest(void* message) {
    if (message == nullptr) return;
    const auto* m = static_cast<const google::protobuf::Message*>(message);
    const google::protobuf::Descriptor* d = m->GetDescriptor();
    const google::protobuf::FieldDescriptor* f = d->FindFieldByName("collection");
    if (f == nullptr && absl::StartsWith(method_, "/ragd.v1.Collections/")) {
      f = d->FindFieldByName("name");
    }
    if (f == nullptr || f->type() != google::protobuf::FieldDescriptor::TYPE_STRING ||
        f->is_repeated()) {
      return;
    }
    collection_ = m->GetReflection()->GetString(*m, f);
    if (collection_.size() > 64) collection_.resize(64);  // invalid anyway; keep logs bounded
  }

  // IngestDocuments is a raw method (services/api/ingest_service.h): its messages are bytes.
  // Reads the first message's `collection` (field 1) without parsing its document.
  void OnRawStreamRequest(const grpc::ByteBuffer* message) {
    if (message == nullptr) return;
    grpc::ByteBuffer copy(*message);
    grpc::ProtoBufferReader reader(&copy);
    google::protobuf::io::CodedInputStream in(&reader);
    using google::protobuf::internal::WireFormatLite;
    while (uint32_t tag = in.ReadTag()) {
      if (WireFormatLite::GetTagFieldNumber(tag) == 1 &&
          WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
        uint32_t size = 0;
        if (!in.ReadVarint32(&size)) return;
        std::string name;
        if (!in.ReadString(&name, std::min<uint32_t>(size, 64))) return;
        collection_ = std::move(name);  // the last one wins, as in a parse
        if (size > 64 && !in.Skip(static_cast<int>(size - 64))) return;
      } else if (!WireFormatLite::SkipField(&in, tag)) {
        return;
      }
    }
  }

  void OnResponse(const void* message) {
    if (message == nullptr) return;
    if (method_ == "/ragd.v1.Retrieval/Answer") {
      const auto* event = static_cast<const v1::AnswerEvent*>(message);
      if (!event->has_final()) return;
      const v1::AnswerFinal& f = event->final();
      Metrics::ChatCall call;
      call.model = f.model();
      call.code = CodeName(static_cast<grpc::StatusCode>(f.status_code()));
      call.prompt_tokens = f.usage().prompt_tokens();
      call.completion_tokens = f.usage().completion_tokens();
      call.cost_usd = f.cost_usd();
      call.latency_seconds = static_cast<double>(f.latency_us()) / 1e6;
      metrics_->RecordChat(call);
    } else if (method_ == kIngestDocuments) {
      // A raw method's response is the serialized summary.
      v1::IngestSummary summary;
      grpc::ByteBuffer copy(*static_cast<const grpc::ByteBuffer*>(message));
      if (!grpc::SerializationTraits<v1::IngestSummary>::Deserialize(&copy, &summary).ok()) return;
      const v1::IngestSummary* s = &summary;
      Metrics::Ingestion in;
      in.model = s->embedder_model();
      in.documents_ok = s->documents_ok();
      in.documents_skipped = s->documents_skipped();
      in.documents_failed = s->documents_failed();
      in.chunks = s->chunks();
      in.tokens = s->tokens();
      metrics_->RecordIngestion(in);
    } else if (method_ == "/ragd.v1.Ingest/UpsertDocument") {
      const v1::DocumentResult& r =
          static_cast<const v1::UpsertDocumentResponse*>(message)->result();
      Metrics::Ingestion in;
      in.documents_ok = r.status() == v1::DOCUMENT_STATUS_OK;
      in.documents_skipped = r.status() == v1::DOCUMENT_STATUS_SKIPPED;
      in.documents_failed = r.status() == v1::DOCUMENT_STATUS_FAILED;
      in.chunks = r.chunks();
      in.tokens = r.tokens();
      metrics_->RecordIngestion(in);
    }
  }

  void OnStatus(const grpc::Status& status) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const char* code = CodeName(status.error_code());
    metrics_->RecordRpc(method_, code, seconds);
    if (!status.ok() && (method_ == kIngestDocuments ||
                         method_ == "/ragd.v1.Ingest/UpsertDocument")) {
      metrics_->RecordIngestFailure();
    }
    // The method is "other" for unregistered ones, which are logged at info like any call.
    if (!AccessLogEnabled(method_)) return;
    if (request_id_.empty()) request_id_ = NewRequestId();  // no initial metadata was sent
    AccessRecord r;
    r.request_id = request_id_;
    r.method = method_ == "other" ? std::string(info_->method()).substr(0, 128) : method_;
    r.collection = collection_;
    r.key = key_;
    r.code = code;
    if (info_->server_context() != nullptr) r.peer = info_->server_context()->peer();
    r.latency_ms = seconds * 1000;
    LogAccess(r);
  }

  grpc::experimental::ServerRpcInfo* info_;
  Metrics* metrics_;
  const AccessPolicy* policy_;
  std::atomic<int64_t>* const in_flight_;
  const std::string method_;
  bool ragd_method_ = false;
  const std::chrono::steady_clock::time_point start_;
  bool saw_request_ = false;
  std::string request_id_;
  std::string collection_;
  std::string key_;
};

}  // namespace

grpc::experimental::Interceptor* CallObserverFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new CallObserver(info, metrics_, policy_, in_flight_);
}

}  // namespace ragd::services
