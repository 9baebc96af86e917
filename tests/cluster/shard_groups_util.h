#pragma once
// Helpers of the shard-group tests (shard_groups_test.cc, shard_groups_session_test.cc): real
// ragd pods on loopback, gRPC calls with a deadline, the documents of collection "kb".

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/hash.h"
#include "ragd/v1/collections.grpc.pb.h"
#include "ragd/v1/ingest.grpc.pb.h"
#include "ragd/v1/retrieval.grpc.pb.h"
#include "tests/cluster/collection_wait.h"
#include "tests/testing/ragd_process.h"

namespace ragd::shard_groups_testing {

using testing::RagdProcess;
using testing::WaitForCollection;

constexpr int kShards = 4;

inline std::unique_ptr<grpc::ClientContext> Context() {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  return c;
}

// The shard group (of 2) holding `id`: the engine's routing, Hash64(id) % shards, then
// shard % groups (cluster/placement.h).
inline int GroupOf(const std::string& id) { return static_cast<int>(Hash64(id) % kShards % 2); }

// An Answer call read to its end: the call's status and its first (sources) event.
struct AnswerRun {
  grpc::Status status;
  bool got_sources = false;
  v1::AnswerSources sources;
};

inline AnswerRun RunAnswer(const RagdProcess& pod, const v1::AnswerRequest& request) {
  auto stub = v1::Retrieval::NewStub(pod.channel());
  auto ctx = Context();
  auto reader = stub->Answer(ctx.get(), request);
  AnswerRun run;
  v1::AnswerEvent event;
  // Bounded: the local model's answer to a short prompt is a few events.
  for (int i = 0; i < 100000 && reader->Read(&event); ++i) {
    if (event.has_sources() && !run.got_sources) {
      run.got_sources = true;
      run.sources = event.sources();
    }
  }
  run.status = reader->Finish();
  return run;
}

inline std::vector<std::string> SourceIds(const v1::AnswerSources& s) {
  std::vector<std::string> out;
  for (const auto& src : s.sources()) out.push_back(src.chunk().id());
  return out;
}

// Creates "kb" (the local embedder, 4 shards, small chunks) through `creator`.
inline void CreateKb(const RagdProcess& creator) {
  auto collections = v1::Collections::NewStub(creator.channel());
  v1::CreateCollectionRequest create;
  create.set_name("kb");
  create.set_shards(kShards);
  create.mutable_embedder()->set_name("local");
  create.mutable_chunking()->set_max_tokens(32);
  create.mutable_chunking()->set_overlap_tokens(4);
  v1::CreateCollectionResponse created;
  auto ctx = Context();
  grpc::Status st = collections->CreateCollection(ctx.get(), create, &created);
  ASSERT_TRUE(st.ok()) << st.error_message();
}

// Ingests one document through `pod`; its result (sequence = the consistency token).
inline v1::DocumentResult Ingest(const RagdProcess& pod, const std::string& id,
                                 const std::string& text) {
  auto ingest = v1::Ingest::NewStub(pod.channel());
  v1::UpsertDocumentRequest doc;
  doc.set_collection("kb");
  doc.mutable_document()->set_id(id);
  doc.mutable_document()->set_text(text);
  v1::UpsertDocumentResponse resp;
  auto ctx = Context();
  grpc::Status st = ingest->UpsertDocument(ctx.get(), doc, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return resp.result();
}

}  // namespace ragd::shard_groups_testing
