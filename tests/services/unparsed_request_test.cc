// Requests that do not parse as their method's message: INVALID_ARGUMENT saying what is wrong
// (never UNIMPLEMENTED, which says the method does not exist), for unary, server-streaming and
// client-streaming methods, behind the API-key check; the server goes on serving. The bytes are
// written by hand here, as a client with a bug or an attacker would send them.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <grpcpp/generic/generic_stub.h>

#include <fstream>
#include <string>
#include <vector>

#include "ragd/v1/ingest.pb.h"
#include "tests/services/service_test_util.h"

namespace ragd::testing {
namespace {

using grpc::StatusCode;
using ::testing::HasSubstr;

std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

// A length-delimited field (string, bytes or message) in protobuf's wire format.
std::string Field(int number, const std::string& bytes) {
  return Varint((static_cast<uint64_t>(number) << 3) | 2) + Varint(bytes.size()) + bytes;
}

const std::string kNotUtf8 = "caf\xc3(\xff";

struct RawResult {
  grpc::Status status;
  std::vector<std::string> responses;
};

// Sends `messages` on one call of `method` (any kind: gRPC's wire is the same), half-closes,
// reads every response and the status.
RawResult RawCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                  const std::vector<std::string>& messages, const std::string& api_key = "") {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(CallDeadline(20));
  if (!api_key.empty()) context.AddMetadata("authorization", "Bearer " + api_key);
  auto call = stub.PrepareCall(&context, method, &cq);
  auto await = [&cq](int* tag) {
    void* got = nullptr;
    bool ok = false;
    if (!cq.Next(&got, &ok)) return false;
    EXPECT_EQ(got, tag);
    return ok;
  };
  RawResult result;
  int tag = 0;
  call->StartCall(&tag);
  bool ok = await(&tag);
  for (size_t i = 0; ok && i < messages.size(); ++i) {
    grpc::Slice slice(messages[i]);
    call->Write(grpc::ByteBuffer(&slice, 1), &tag);
    ok = await(&tag);
  }
  if (ok) {
    call->WritesDone(&tag);
    ok = await(&tag);
  }
  while (ok) {
    grpc::ByteBuffer response;
    call->Read(&response, &tag);
    if (!(ok = await(&tag))) break;
    std::vector<grpc::Slice> slices;
    EXPECT_TRUE(response.Dump(&slices).ok());
    std::string bytes;
    for (const grpc::Slice& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    result.responses.push_back(std::move(bytes));
  }
  call->Finish(&result.status, &tag);
  await(&tag);
  cq.Shutdown();
  void* ignored_tag;
  bool ignored_ok;
  while (cq.Next(&ignored_tag, &ignored_ok)) {
  }
  return result;
}

// A Filter nested `depth` levels deep through `not` (field 4), around a condition (field 1).
std::string NestedFilter(int depth) {
  std::string filter = Field(1, "");
  for (int i = 0; i < depth; ++i) filter = Field(4, filter);
  return filter;
}

class UnparsedRequestTest : public RagdSuite {};

TEST_F(UnparsedRequestTest, InvalidUtf8NamesTheField) {
  ASSERT_GRPC_OK(client().Create("kb", 2));
  struct Case {
    std::string method;
    std::string body;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"/ragd.v1.Points/Upsert", Field(1, kNotUtf8), "ragd.v1.UpsertRequest.collection"},
      // A nested message's string: the field named is the nested one.
      {"/ragd.v1.Points/Upsert", Field(1, "kb") + Field(2, Field(1, kNotUtf8)),
       "ragd.v1.Point.id"},
      {"/ragd.v1.Collections/CreateCollection", Field(1, kNotUtf8),
       "ragd.v1.CreateCollectionRequest.name"},
      {"/ragd.v1.Points/Get", Field(1, "kb") + Field(2, kNotUtf8), "ragd.v1.GetRequest.ids"},
      // Search: the hot path (points_service.cc runs it inline on gRPC's thread).
      {"/ragd.v1.Points/Search", Field(1, "kb") + Field(9, kNotUtf8),
       "ragd.v1.SearchRequest.text"},
      // Server streaming: parsed by gRPC before the handler too.
      {"/ragd.v1.Retrieval/Answer", Field(1, "kb") + Field(2, kNotUtf8),
       "ragd.v1.AnswerRequest.question"},
  };
  for (const Case& c : cases) {
    RawResult r = RawCall(ragd().channel(), c.method, {c.body});
    EXPECT_EQ(r.status.error_code(), StatusCode::INVALID_ARGUMENT)
        << c.method << ": " << r.status.error_message();
    EXPECT_THAT(r.status.error_message(), HasSubstr(c.field)) << c.method;
    EXPECT_THAT(r.status.error_message(), HasSubstr("not valid UTF-8")) << c.method;
    EXPECT_TRUE(r.responses.empty()) << c.method;
  }
  // Nothing was written, and the server goes on.
  uint64_t count = 1;
  EXPECT_GRPC_OK(client().Count("kb", nullptr, &count));
  EXPECT_EQ(count, 0u);
}

TEST_F(UnparsedRequestTest, DeepNestingAndGarbageSayWhatCanCauseIt) {
  ASSERT_GRPC_OK(client().Create("kb", 2));
  // protobuf's default recursion limit is 100; a client built without it sends deeper filters.
  RawResult deep = RawCall(ragd().channel(), "/ragd.v1.Points/Count",
                           {Field(1, "kb") + Field(2, NestedFilter(150))});
  EXPECT_EQ(deep.status.error_code(), StatusCode::INVALID_ARGUMENT) << deep.status.error_message();
  EXPECT_THAT(deep.status.error_message(), HasSubstr("ragd.v1.CountRequest"));
  EXPECT_THAT(deep.status.error_message(), HasSubstr("nested deeper"));
  // 90 levels parse and reach the handler, which judges the filter itself.
  RawResult shallow = RawCall(ragd().channel(), "/ragd.v1.Points/Count",
                              {Field(1, "kb") + Field(2, NestedFilter(90))});
  EXPECT_EQ(shallow.status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(shallow.status.error_message(), HasSubstr("filter"));
  EXPECT_THAT(shallow.status.error_message(), ::testing::Not(HasSubstr("ragd.v1.CountRequest")));

  for (const std::string& garbage : {std::string("\xff\xff\xff\xff\xff\xff"),
                                     std::string("\x0a\x7f" "abc")}) {
    RawResult r = RawCall(ragd().channel(), "/ragd.v1.Points/Search", {garbage});
    EXPECT_EQ(r.status.error_code(), StatusCode::INVALID_ARGUMENT) << r.status.error_message();
    EXPECT_THAT(r.status.error_message(), HasSubstr("ragd.v1.SearchRequest"));
    EXPECT_THAT(r.status.error_message(), HasSubstr("malformed"));
  }
  // A method that does not exist still is UNIMPLEMENTED.
  RawResult missing = RawCall(ragd().channel(), "/ragd.v1.Points/NoSuchMethod", {Field(1, "kb")});
  EXPECT_EQ(missing.status.error_code(), StatusCode::UNIMPLEMENTED);
  EXPECT_GRPC_OK(client().Upsert("kb", {MakePoint("a", {1, 0})}));
}

TEST_F(UnparsedRequestTest, ClientStreamStopsAtTheMessageThatDoesNotParse) {
  // The first message does not parse: nothing starts.
  RawResult first = RawCall(ragd().channel(), "/ragd.v1.Ingest/IngestDocuments",
                            {Field(1, kNotUtf8)});
  EXPECT_EQ(first.status.error_code(), StatusCode::INVALID_ARGUMENT)
      << first.status.error_message();
  EXPECT_THAT(first.status.error_message(), HasSubstr("message 1 of the stream"));
  EXPECT_THAT(first.status.error_message(), HasSubstr("ragd.v1.IngestDocumentsRequest.collection"));

  // A later message does not parse: the call fails naming it, instead of ending the job early
  // with OK as if the stream had ended there.
  v1::CreateCollectionRequest create;
  create.set_name("docs");
  create.mutable_embedder()->set_name("local");
  create.set_dimension(64);
  ASSERT_GRPC_OK(client().Create(create));
  v1::IngestDocumentsRequest valid;
  valid.set_collection("docs");
  valid.mutable_document()->set_id("d1");
  valid.mutable_document()->set_text("A first document about embeddings.");
  RawResult later = RawCall(ragd().channel(), "/ragd.v1.Ingest/IngestDocuments",
                            {valid.SerializeAsString(), "\xff\xff\xff"});
  EXPECT_EQ(later.status.error_code(), StatusCode::INVALID_ARGUMENT)
      << later.status.error_message();
  EXPECT_THAT(later.status.error_message(), HasSubstr("message 2 of the stream"));

  // A well-formed raw stream gets its summary.
  valid.mutable_document()->set_id("d2");
  RawResult good =
      RawCall(ragd().channel(), "/ragd.v1.Ingest/IngestDocuments", {valid.SerializeAsString()});
  ASSERT_GRPC_OK(good.status);
  ASSERT_EQ(good.responses.size(), 1u);
  v1::IngestSummary summary;
  ASSERT_TRUE(summary.ParseFromString(good.responses[0]));
  EXPECT_EQ(summary.collection(), "docs");
  EXPECT_EQ(summary.documents_ok(), 1u);
}

TEST(UnparsedRequestAuthTest, ACallerWithoutAValidKeyLearnsNothingOfTheRequest) {
  TempDir dir;
  const std::string key_file = (dir.path() / "admin.key").string();
  std::ofstream(key_file) << "admin-secret-0a1b2c";
  const std::string config = (dir.path() / "ragd.yaml").string();
  std::ofstream(config) << "auth:\n  api_keys:\n    - {name: ops, role: admin, key_file: "
                        << key_file << "}\n";
  auto ragd = RagdProcess::Start(
      RagdProcess::OptionsFor((dir.path() / "data").string(), {"--config", config}));
  ASSERT_TRUE(ragd.ok()) << ragd.status();
  RawResult anonymous =
      RawCall((*ragd)->channel(), "/ragd.v1.Points/Upsert", {Field(1, kNotUtf8)});
  EXPECT_EQ(anonymous.status.error_code(), StatusCode::UNAUTHENTICATED)
      << anonymous.status.error_message();
  RawResult admin = RawCall((*ragd)->channel(), "/ragd.v1.Points/Upsert", {Field(1, kNotUtf8)},
                            "admin-secret-0a1b2c");
  EXPECT_EQ(admin.status.error_code(), StatusCode::INVALID_ARGUMENT)
      << admin.status.error_message();
  // Search, the hot read path: the same order of checks.
  RawResult search_anonymous =
      RawCall((*ragd)->channel(), "/ragd.v1.Points/Search", {Field(1, kNotUtf8)});
  EXPECT_EQ(search_anonymous.status.error_code(), StatusCode::UNAUTHENTICATED)
      << search_anonymous.status.error_message();
  RawResult search_admin = RawCall((*ragd)->channel(), "/ragd.v1.Points/Search",
                                   {Field(1, kNotUtf8)}, "admin-secret-0a1b2c");
  EXPECT_EQ(search_admin.status.error_code(), StatusCode::INVALID_ARGUMENT)
      << search_admin.status.error_message();
  EXPECT_THAT(search_admin.status.error_message(), HasSubstr("ragd.v1.SearchRequest.collection"));
}

}  // namespace
}  // namespace ragd::testing
