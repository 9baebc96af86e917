#pragma once
// Shared pieces of the integration tests: one real ragd per test suite (started on first use,
// on a fresh data directory), stubs, point builders and gRPC status assertions.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "ragd/v1/collections.grpc.pb.h"
#include "ragd/v1/points.grpc.pb.h"
#include "tests/testing/ragd_process.h"
#include "tests/testing/temp_dir.h"

#define EXPECT_GRPC_OK(expr)                                                      \
  do {                                                                            \
    ::grpc::Status ragd_s_ = (expr);                                              \
    EXPECT_TRUE(ragd_s_.ok()) << ragd_s_.error_code() << ": " << ragd_s_.error_message(); \
  } while (false)
#define ASSERT_GRPC_OK(expr)                                                      \
  do {                                                                            \
    ::grpc::Status ragd_s_ = (expr);                                              \
    ASSERT_TRUE(ragd_s_.ok()) << ragd_s_.error_code() << ": " << ragd_s_.error_message(); \
  } while (false)
// Checks the code and that the message mentions `needle` (a field name, usually).
#define EXPECT_GRPC_ERROR(expr, code, needle)                                      \
  do {                                                                             \
    ::grpc::Status ragd_s_ = (expr);                                               \
    EXPECT_EQ(ragd_s_.error_code(), (code)) << ragd_s_.error_message();            \
    EXPECT_NE(ragd_s_.error_message().find(needle), std::string::npos)             \
        << "message \"" << ragd_s_.error_message() << "\" lacks \"" << (needle) << "\""; \
  } while (false)

namespace ragd::testing {

inline std::chrono::system_clock::time_point CallDeadline(int seconds = 30) {
  return std::chrono::system_clock::now() + std::chrono::seconds(seconds);
}

inline void SetVector(google::protobuf::RepeatedField<float>* out, std::vector<float> values) {
  out->Clear();
  out->Add(values.begin(), values.end());
}

// A point with text "text of <id>", document "doc-<id>" unless given.
inline v1::Point MakePoint(const std::string& id, std::vector<float> vector,
                           std::string document_id = "") {
  v1::Point p;
  p.set_id(id);
  p.mutable_vector()->Add(vector.begin(), vector.end());
  p.set_text("text of " + id);
  p.set_document_id(document_id.empty() ? "doc-" + id : std::move(document_id));
  return p;
}

// Thin synchronous wrappers: each sets a deadline and returns the status.
class Client {
 public:
  explicit Client(const std::shared_ptr<grpc::Channel>& channel)
      : collections_(v1::Collections::NewStub(channel)), points_(v1::Points::NewStub(channel)) {}

  v1::Collections::Stub& collections() { return *collections_; }
  v1::Points::Stub& points() { return *points_; }

  grpc::Status Create(const v1::CreateCollectionRequest& request,
                      v1::CreateCollectionResponse* response = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(CallDeadline());
    v1::CreateCollectionResponse ignored;
    return collections_->CreateCollection(&context, request, response ? response : &ignored);
  }
  grpc::Status Create(const std::string& name, uint32_t dimension,
                      v1::Metric metric = v1::METRIC_COSINE) {
    v1::CreateCollectionRequest request;
    request.set_name(name);
    request.set_dimension(dimension);
    request.set_metric(metric);
    return Create(request);
  }
  grpc::Status GetCollection(const std::string& name, v1::CollectionInfo* info = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(CallDeadline());
    v1::GetCollectionRequest request;
    request.set_name(name);
    v1::GetCollectionResponse response;
    grpc::Status s = collections_->GetCollection(&context, request, &response);
    if (info != nullptr) *info = response.collection();
    return s;
  }
  grpc::Status DeleteCollection(const std::string& name) {
    grpc::ClientContext context;
    context.set_deadline(CallDeadline());
    v1::DeleteCollectionRequest request;
    request.set_name(name);
    v1::DeleteCollectionResponse response;
    return collections_->DeleteCollection(&context, request, &response);
  }
  grpc::Status List(v1::ListCollectionsResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(CallDeadline());
    return collections_->ListCollections(&context, {}, response);
  }
  grpc::Status Upsert(const std::string& collection, std::vector<v1::Point> points,
                      v1::UpsertResponse* response = nullptr) {
    v1::UpsertRequest request;
    request.set_collection(collection);
    for (v1::Point& p : points) *request.add_points() = std::move(p);
    grpc::ClientContext context;
    context.set_deadline(CallDeadline());
    v1::UpsertResponse ignored;
    return points_->Upsert(&context, request, response ? response : &ignored);
  }
  grpc::Status Get(const std::string& collection, const std::vector<std::string>& ids,
                   bool with_vectors, v1::GetResponse* response) {
    v1::GetRequest request;
    request.set_collection(collection);
    for (const auto& id : ids) request.add_ids(id);
    request.set_with_vectors(with_vectors);
    grpc::ClientContext context;
    context.set_deadline(CallDeadline());
    return points_->Get(&context, request, response);
  }
  grpc::Status Search(const v1::SearchRequest& request, v1::SearchResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(CallDeadline());
    return points_->Search(&context, request, response);
  }
  grpc::Status Delete(const v1::DeleteRequest& request, v1::DeleteResponse* response = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(CallDeadline());
    v1::DeleteResponse ignored;
    return points_->Delete(&context, request, response ? response : &ignored);
  }
  grpc::Status Count(const std::string& collection, const v1::Filter* filter, uint64_t* count) {
    v1::CountRequest request;
    request.set_collection(collection);
    if (filter != nullptr) *request.mutable_filter() = *filter;
    grpc::ClientContext context;
    context.set_deadline(CallDeadline());
    v1::CountResponse response;
    grpc::Status s = points_->Count(&context, request, &response);
    *count = response.count();
    return s;
  }

 private:
  std::unique_ptr<v1::Collections::Stub> collections_;
  std::unique_ptr<v1::Points::Stub> points_;
};

// Test fixture: a fresh ragd on a fresh data directory for every test, so that tests share
// no state (CTest runs each test in its own process anyway). Start-up takes well under 1 s.
class RagdSuite : public ::testing::Test {
 protected:
  void SetUp() override {
    RagdProcess::Options options;
    options.data_dir = (data_dir_.path() / "data").string();
    auto started = RagdProcess::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    ragd_ = *std::move(started);
    client_ = std::make_unique<Client>(ragd_->channel());
  }

  Client& client() { return *client_; }
  RagdProcess& ragd() { return *ragd_; }
  // SIGKILLs ragd (no shutdown, no snapshots) and starts it again on the same data directory.
  void KillAndRestartRagd() {
    ragd_->Kill();
    ragd_.reset();
    RagdProcess::Options options;
    options.data_dir = (data_dir_.path() / "data").string();
    auto started = RagdProcess::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    ragd_ = *std::move(started);
    client_ = std::make_unique<Client>(ragd_->channel());
  }

 private:
  TempDir data_dir_;
  std::unique_ptr<RagdProcess> ragd_;
  std::unique_ptr<Client> client_;
};

}  // namespace ragd::testing
